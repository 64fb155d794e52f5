"""gunicorn and the scheduler killed with SIGKILL while managers work, then started again:
nothing acknowledged is lost, nothing is half done, and a timer due after the restart fires once.

Real processes (as ``tests/test_scheduler_processes.py``), a few requests; the minute-long
version under full load is ``python -m benchmarks.load``. PostgreSQL only: several gunicorn
workers writing one SQLite file is not the embedded set-up Kinflow supports.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from benchmarks import load_client, load_data, load_server
from benchmarks.invariants import check
from engine.db import make_sessionmaker
from engine.models import HumanTask, TaskState
from engine.runtime import Runtime
from webapp.extensions import db

pytest.importorskip("gunicorn")

CASES = 4


def fired(sessions, case_id: int) -> int:
    with sessions() as session:
        return session.scalar(
            select(func.count()).where(
                HumanTask.case_id == case_id, HumanTask.element_id == "after_timer"
            )
        )


def open_manager_steps(sessions) -> int:
    with sessions() as session:
        return session.scalar(
            select(func.count()).where(
                HumanTask.state == TaskState.READY,
                HumanTask.element_id.in_(list(load_data.ANSWERS)),
            )
        )


def test_nothing_acknowledged_is_lost_and_the_timer_fires_once(app, tmp_path):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        pytest.skip("gunicorn with several workers is run on PostgreSQL")
    runtime = Runtime()
    with app.app_context():
        sessions = make_sessionmaker(db.engine)
    data = load_data.prepare(sessions, runtime, 3)
    for _ in range(CASES):
        load_data.refer(sessions, runtime, data.pathway)
    log = tmp_path / "server.log"
    port = load_server.free_port()
    server = load_server.start_gunicorn(url, port, 2, log)
    scheduler = load_server.start_scheduler(url, log)
    tally = load_client.Tally()
    tokens = list(data.tokens.values())
    try:
        working = threading.Thread(target=load_client.run, args=(port, tokens, 3.0, tally))
        working.start()
        time.sleep(1.0)
        load_server.kill_group(server)
        load_server.kill_group(scheduler)
        timer = load_data.timer_case(sessions, runtime, datetime.now(UTC) + timedelta(seconds=4))
        server = load_server.start_gunicorn(url, port, 2, log)
        scheduler = load_server.start_scheduler(url, log)
        working.join()
        deadline = time.monotonic() + 60
        while open_manager_steps(sessions) and time.monotonic() < deadline:
            load_client.run(port, tokens, 1.0, tally)
        while fired(sessions, timer) == 0 and time.monotonic() < deadline:
            time.sleep(0.3)
        time.sleep(1.5)  # room for a second firing, if there were one
    finally:
        load_server.kill_group(server)
        load_server.kill_group(scheduler)
    assert fired(sessions, timer) == 1, log.read_text()[-3000:]
    assert open_manager_steps(sessions) == 0
    # A completion the kill interrupted may be done without the client hearing so; it is
    # never done twice, and none the client heard of is missing (``check``).
    assert len(tally.acknowledged) == len(set(tally.acknowledged))
    with sessions() as session:
        assert check(session, Runtime(), tally.acknowledged) == []
