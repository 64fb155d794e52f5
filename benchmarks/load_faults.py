"""The load run's faults, on the load's own schema with the same simulated managers.

SIGKILL: mid-load, gunicorn (master and workers) and the ``kinflow scheduler`` process are
killed with SIGKILL and started again while the managers keep working; a timer case falls due
after the restart. Afterwards every acknowledged completion is present exactly once, the
projections agree with the workflows (no half-completed task), and the timer fired exactly once.

PostgreSQL restart: mid-load the real server is restarted (``pg_ctlcluster ... restart``; only
here, never in the test suite). While it is down requests must fail with a 503 naming the
database, never a 500 or a hung request; once it is back the app must serve again by itself.
"""

from __future__ import annotations

import argparse
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks import load_client, load_data, load_server
from benchmarks.invariants import check
from engine.models import HumanTask
from engine.runtime import Runtime

KILL_AFTER = 8.0
RUN_FOR = 25.0
TIMER_DUE = timedelta(seconds=20)  # from the start of the run: after the restart
EXTRA_CASES = 300


def _in_background(port: int, tokens: list[str], seconds: float) -> tuple[threading.Thread, Any]:
    tally = load_client.Tally()
    thread = threading.Thread(target=load_client.run, args=(port, tokens, seconds, tally))
    thread.start()
    return thread, tally


def _timer_tasks(sessions: sessionmaker[Session], case_id: int) -> int:
    with sessions() as session:
        query = select(func.count()).where(
            HumanTask.case_id == case_id, HumanTask.element_id == "after_timer"
        )
        return session.scalar(query) or 0


def sigkill(
    sessions: sessionmaker[Session],
    data: load_data.LoadData,
    url: str,
    workers: int,
    log: Path,
    threads: int = 1,
) -> dict[str, Any]:
    timer_case = load_data.timer_case(sessions, Runtime(), datetime.now(UTC) + TIMER_DUE)
    port = load_server.free_port()
    server = load_server.start_gunicorn(url, port, workers, log, threads)
    scheduler = load_server.start_scheduler(url, log)
    thread, tally = _in_background(port, list(data.tokens.values()), RUN_FOR)
    time.sleep(KILL_AFTER)
    load_server.kill_group(server)
    load_server.kill_group(scheduler)
    killed_at = time.monotonic()
    server = load_server.start_gunicorn(url, port, workers, log, threads)
    scheduler = load_server.start_scheduler(url, log)
    restarted_in = time.monotonic() - killed_at
    thread.join()
    deadline = time.monotonic() + 60
    while _timer_tasks(sessions, timer_case) == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # a second firing, if there were one, would show by now
    load_server.stop(server)
    load_server.stop(scheduler)
    with sessions() as session:
        problems = check(session, Runtime(), tally.acknowledged)
    summary = tally.summary(RUN_FOR)
    return {
        "killed_after_seconds": KILL_AFTER,
        "back_after_seconds": round(restarted_in, 1),
        "completions_acknowledged": summary["completions"],
        "statuses": summary["statuses"],
        "timer_fired_times": _timer_tasks(sessions, timer_case),
        "invariant_problems": problems[:20],
        "holds": not problems and _timer_tasks(sessions, timer_case) == 1,
    }


def restart_postgres() -> None:
    [version] = [p.name for p in Path("/etc/postgresql").iterdir()]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"]
    subprocess.run(command, check=True, capture_output=True)


def postgres_restart(
    sessions: sessionmaker[Session],
    data: load_data.LoadData,
    url: str,
    workers: int,
    log: Path,
    threads: int = 1,
) -> dict[str, Any]:
    port = load_server.free_port()
    server = load_server.start_gunicorn(url, port, workers, log, threads)
    try:
        thread, tally = _in_background(port, list(data.tokens.values()), RUN_FOR)
        time.sleep(KILL_AFTER)
        began = time.monotonic()
        restart_postgres()
        back = time.monotonic()
        thread.join()
    finally:
        load_server.stop(server)
    after = [(t, s) for t, s in tally.timeline if t >= back]
    first_ok = next((t for t, s in after if s.startswith("2")), None)
    failing_after = [s for t, s in after if first_ok is not None and t > first_ok + 1.0]
    with sessions() as session:
        problems = check(session, Runtime(), tally.acknowledged)
    summary = tally.summary(RUN_FOR)
    server_errors = {k: v for k, v in summary["errors"].items() if not k.endswith(" 503")}
    return {
        "restart_took_seconds": round(back - began, 1),
        "first_success_after_restart_seconds": (
            round(first_ok - back, 2) if first_ok is not None else None
        ),
        "errors_once_serving_again": len(
            [s for s in failing_after if not (s.startswith("2") or s == "409")]
        ),
        "statuses": summary["statuses"],
        "errors_other_than_503": server_errors,
        "example_503_body": tally.first_503,
        "slowest_request_ms": summary["slowest_ms"],
        "invariant_problems": problems[:20],
        "holds": not problems and not server_errors and first_ok is not None,
    }


def run(
    sessions: sessionmaker[Session],
    runtime: Runtime,
    data: load_data.LoadData,
    url: str,
    args: argparse.Namespace,
    log: Path,
) -> dict[str, Any]:
    from benchmarks.load import add_cases

    add_cases(sessions, runtime, data.pathway, EXTRA_CASES)
    results = {"sigkill": sigkill(sessions, data, url, args.server_workers, log, args.threads)}
    if args.restart_postgres:
        add_cases(sessions, runtime, data.pathway, EXTRA_CASES)
        results["postgres_restart"] = postgres_restart(
            sessions, data, url, args.server_workers, log, args.threads
        )
    return results
