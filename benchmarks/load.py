"""Load: 50 simulated managers claiming and completing tasks through the API for 60 seconds,
against gunicorn with several workers on PostgreSQL; then the invariant check; then the faults.

A fresh PostgreSQL schema gets the shipped pathway, 50 managers with API tokens and enough
referred cases (three manager steps each) for the run. gunicorn serves ``webapp:create_app()``
on loopback with ``--workers`` processes; the client (``load_client``) runs beside it on the
same 2 cores. Targets (issue 8): at least 200 completions per second, 95th percentile under
100 ms, no error other than the expected 409s; afterwards every acknowledged completion is
present exactly once and every case's projections agree with its workflow
(``benchmarks.invariants``).

The faults (``load_faults``) follow on the same schema: gunicorn and the scheduler killed with
SIGKILL mid-load, and PostgreSQL restarted mid-load.

Run alone: ``python -m benchmarks.load`` (``--help``; ``--write`` stores the figures in
``benchmarks/results.json`` under ``load``). Needs ``BENCH_POSTGRES_URL`` or
``TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks import load_client, load_data, load_server
from benchmarks.invariants import check
from benchmarks.setup import POSTGRES_URL, database
from engine.runtime import Runtime

RESULTS = Path(__file__).parent / "results.json"
MANAGERS = 50
SECONDS = 60
SERVER_WORKERS = 4
TARGET_PER_SECOND = 200


def add_cases(sessions: Any, runtime: Runtime, pathway: Any, cases: int) -> None:
    """Referred cases, two at a time (the engine, not the web app: set-up, not measured)."""
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: load_data.refer(sessions, runtime, pathway), range(cases)))


def analyze(sessions: Any) -> None:
    """Planner statistics for the tables just filled, as autovacuum keeps them in service:
    without them PostgreSQL plans the inbox for empty tables (30x slower at 2,000 cases)."""
    with sessions() as session:
        # Named tables resolve in this schema; a bare ANALYZE would visit every schema.
        for table in ("cases", "human_tasks", "task_candidates", "referrals", "users"):
            session.execute(text(f"ANALYZE {table}"))
        session.commit()


def invariants(sessions: Any, acknowledged: list[int]) -> list[str]:
    with sessions() as session:
        # A cold runtime, as a restarted server would be: nothing from a cache.
        return check(session, Runtime(), acknowledged)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    runtime = Runtime()
    results: dict[str, Any] = {
        "server": f"gunicorn, {args.server_workers} sync workers, PostgreSQL, loopback",
        "simulated_workers": args.managers,
    }
    with database("postgresql") as sessions, tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "server.log"
        data = load_data.prepare(sessions, runtime, args.managers)
        start = time.perf_counter()
        add_cases(sessions, runtime, data.pathway, args.cases)
        print(f"{args.cases} referred cases in {time.perf_counter() - start:.0f} s", flush=True)
        analyze(sessions)
        url = load_data.schema_url(POSTGRES_URL, sessions.kw["bind"])
        port = load_server.free_port()
        server = load_server.start_gunicorn(url, port, args.server_workers, log)
        try:
            tally = load_client.run(port, list(data.tokens.values()), args.seconds)
        finally:
            load_server.stop(server)
        load = tally.summary(args.seconds)
        problems = invariants(sessions, tally.acknowledged)
        load["invariant_problems"] = problems[:20]
        load["invariants_hold"] = not problems
        load["cases"] = args.cases
        results["load"] = load
        print(json.dumps(load, indent=2), flush=True)
        if args.faults:
            from benchmarks import load_faults

            results["faults"] = load_faults.run(sessions, runtime, data, url, args, log)
            print(json.dumps(results["faults"], indent=2), flush=True)
        if os.environ.get("LOAD_SHOW_LOG"):
            print(log.read_text()[-5000:])
    return results


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--managers", type=int, default=MANAGERS)
    parser.add_argument("--server-workers", type=int, default=SERVER_WORKERS)
    parser.add_argument(
        "--cases", type=int, default=None, help="referred cases (default: enough for the target)"
    )
    parser.add_argument("--no-faults", dest="faults", action="store_false")
    parser.add_argument(
        "--no-postgres-restart",
        dest="restart_postgres",
        action="store_false",
        help="skip restarting the PostgreSQL server (it is shared with anything else using it)",
    )
    parser.add_argument("--write", action="store_true", help="store figures in results.json")
    args = parser.parse_args(argv)
    if args.cases is None:
        # Three completions a case: enough work for the target rate over the whole run.
        args.cases = int(TARGET_PER_SECOND * args.seconds / 3) + 100
    return args


def summary_lines(results: dict[str, Any]) -> list[str]:
    """Rows for the README's figures table."""
    load = results["load"]
    p95 = max(k["p95_ms"] for k in load["latency"].values())
    errors = sum(load["errors"].values())
    lines = [
        f"| API load: {results['simulated_workers']} simulated workers listing, claiming and "
        f"completing for {load['seconds']} s ({results['server']}); "
        f"{load['conflicts_409']} expected 409s, {errors} other errors, invariants "
        f"{'hold' if load['invariants_hold'] else 'BROKEN'} "
        f"| **{load['completions_per_second']} completions/s**, p95 {p95} ms "
        f"| at least {TARGET_PER_SECOND}/s, p95 under 100 ms |",
    ]
    faults = results.get("faults", {})
    if "sigkill" in faults:
        kill = faults["sigkill"]
        lines.append(
            f"| SIGKILL of gunicorn and the scheduler mid-load, restarted: "
            f"{kill['completions_acknowledged']} acknowledged completions present once, timer "
            f"fired {kill['timer_fired_times']} time(s) | "
            f"{'holds' if kill['holds'] else 'BROKEN'} | nothing lost or doubled |"
        )
    if "postgres_restart" in faults:
        pg = faults["postgres_restart"]
        lines.append(
            f"| PostgreSQL restarted mid-load: 503s while down, serving again "
            f"{pg['first_success_after_restart_seconds']} s after it was back, "
            f"{len(pg['errors_other_than_503'])} other error kinds | "
            f"{'holds' if pg['holds'] else 'BROKEN'} | clean failure, recovers by itself |"
        )
    return lines


def run(postgres: bool) -> dict[str, Any]:
    """For ``python -m benchmarks``: the full run, or nothing without PostgreSQL."""
    return measure(arguments([])) if postgres else {}


def main(argv: list[str] | None = None) -> int:
    if not POSTGRES_URL:
        print("Set BENCH_POSTGRES_URL or TEST_POSTGRES_URL: the load runs on PostgreSQL.")
        return 2
    args = arguments(argv)
    results = measure(args)
    if args.write:
        stored = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        stored["load"] = results
        RESULTS.write_text(json.dumps(stored, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
