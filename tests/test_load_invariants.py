"""The load run's invariant check: it passes after a real (small) run of the load client over
HTTP, and it names each inconsistency planted in the tables afterwards.

The figures of the full run are ``python -m benchmarks.load``; here only the logic, in seconds.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update
from werkzeug.serving import make_server

from benchmarks import load_client, load_data
from benchmarks.invariants import check
from engine.db import make_sessionmaker
from engine.models import Case, CaseEvent, HumanTask, TaskState
from engine.runtime import Runtime
from webapp.extensions import db

MANAGERS = 4
CASES = 3


@pytest.fixture
def after_a_run(app):
    """A few managers working three referred cases through the API until all is done."""
    runtime = app.extensions["kinflow_runtime"]
    with app.app_context():
        sessions = make_sessionmaker(db.engine)
    data = load_data.prepare(sessions, runtime, MANAGERS)
    for _ in range(CASES):
        load_data.refer(sessions, runtime, data.pathway)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        tally = load_client.Tally()
        while len(tally.acknowledged) < 3 * CASES and tally.idle_lists < 20:
            load_client.run(server.port, list(data.tokens.values()), 1.0, tally)
    finally:
        server.shutdown()
    return sessions, tally


def test_a_clean_run_completes_every_manager_step_once_and_holds(after_a_run):
    sessions, tally = after_a_run
    assert tally.errors() == {}
    assert len(tally.acknowledged) == 3 * CASES == len(set(tally.acknowledged))
    with sessions() as session:
        assert check(session, Runtime(), tally.acknowledged) == []
        # Every case moved on to its coordinator, whom the load does not play.
        open_steps = session.scalars(
            select(HumanTask.element_id).where(HumanTask.state == TaskState.READY)
        ).all()
        assert sorted(open_steps) == ["hold_baseline_meeting"] * CASES


def test_an_acknowledged_completion_that_is_missing_is_reported(after_a_run):
    sessions, tally = after_a_run
    with sessions() as session:
        still_open = session.scalar(select(HumanTask.id).where(HumanTask.state == "ready"))
        problems = check(session, Runtime(), [*tally.acknowledged, still_open])
    assert problems == [
        f"task {still_open}: completion was acknowledged but the task is ready",
    ]


def test_a_completion_written_twice_is_reported(after_a_run):
    sessions, tally = after_a_run
    task_id = tally.acknowledged[0]
    with sessions() as session:
        event = session.scalars(select(CaseEvent).where(CaseEvent.kind == "task_completed")).all()
        [original] = [e for e in event if e.payload.get("task_id") == task_id]
        session.add(
            CaseEvent(
                case_id=original.case_id,
                actor=original.actor,
                kind=original.kind,
                summary=original.summary,
                payload=dict(original.payload),
            )
        )
        session.commit()
        assert check(session, Runtime(), tally.acknowledged) == [
            f"task {task_id}: completed 2 times in the chronology"
        ]


def test_a_half_completed_task_and_a_wrong_stage_are_reported(after_a_run):
    sessions, tally = after_a_run
    task_id = tally.acknowledged[0]
    with sessions() as session:
        case_id = session.get(HumanTask, task_id).case_id
        # The row says done, the workflow never moved: as if the write stopped half-way.
        session.execute(
            update(HumanTask).where(HumanTask.id == task_id).values(state=TaskState.READY)
        )
        other = session.scalars(select(Case.id).where(Case.id != case_id)).first()
        session.execute(update(Case).where(Case.id == other).values(stage="Closure"))
        session.commit()
        problems = check(session, Runtime(), [])
    stage = "Baseline meeting and whole-family assessment"
    assert f"task {task_id}: in the chronology as completed but the task is not" in problems
    assert any(p.startswith(f"case {case_id}: workflow waits on 1 user tasks") for p in problems)
    assert f"case {other}: stage is 'Closure', workflow is at {stage!r}" in problems
    assert len(problems) == 3


def test_an_open_task_missing_from_the_list_is_reported(after_a_run):
    sessions, _ = after_a_run
    with sessions() as session:
        row = session.scalars(select(HumanTask).where(HumanTask.state == "ready")).first()
        # Cancelled in the list while the workflow still waits on it: lost to every inbox.
        session.execute(
            update(HumanTask).where(HumanTask.id == row.id).values(state=TaskState.CANCELLED)
        )
        session.commit()
        problems = check(session, Runtime(), [])
    assert problems == [
        f"case {row.case_id}: workflow waits on 1 user tasks, the task list shows 0 "
        "(missing 1, extra 0)"
    ]
