"""The timer alarm clock: due timers fire once, after a restart too, with one active scheduler."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.models import HumanTask
from engine.queries import get_case
from engine.scheduler import Leadership, Scheduler, Waker
from tests.people import COORDINATOR, REFERRER
from tests.test_pathway_walkthrough import (
    CIRCULATED,
    NO_SUPPORT,
    PLAN_ACCEPTED,
    at,
    deploy_pathway,
    do,
    open_tasks,
    start,
    through_conference,
)

REVIEW_DATE = at("2026-07-13")  # CONFERENCE's next review date, 09:00


@pytest.fixture
def pathway(session, runtime):
    return deploy_pathway(session, runtime)


def waiting_for_review(session, runtime, pathway):
    """A case whose plan is in place: nothing to do until its review date's timer fires."""
    case = start(runtime, session, pathway)
    through_conference(runtime, session, case)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", NO_SUPPORT, COORDINATOR)
    assert open_tasks(session, case) == {}
    return get_case(session, case.id)


def review_tasks(session, case_id: int) -> int:
    session.rollback()  # end this session's read snapshot: the scheduler wrote in its own
    query = select(func.count(HumanTask.id)).where(
        HumanTask.case_id == case_id, HumanTask.element_id == "hold_review"
    )
    return session.scalar(query)


def test_a_due_timer_fires_once_however_often_the_scheduler_looks(
    session, sessions, runtime, pathway, frozen_clock
):
    case = waiting_for_review(session, runtime, pathway)
    waker = Waker(sessions, runtime)
    assert waker.fire_due() == 0  # not due yet
    frozen_clock.set(REVIEW_DATE + timedelta(minutes=1))
    assert waker.fire_due() >= 1
    for _ in range(3):
        waker.fire_due()
        waker.wake(case.id)  # a stray second alarm for the same case
    assert review_tasks(session, case.id) == 1
    assert waker.fire_due() == 0


def test_leadership_is_held_by_one_scheduler_at_a_time_and_passes_on(db_engine):
    first, second = Leadership(db_engine), Leadership(db_engine)
    try:
        assert first.hold() is True
        assert second.hold() is False
        assert first.hold() is True  # still ours
        first.release()
        assert second.hold() is True
    finally:
        first.release()
        second.release()


def test_a_timer_due_while_no_scheduler_ran_fires_once_when_two_start(
    db_engine, session, sessions, runtime, pathway, frozen_clock
):
    case = waiting_for_review(session, runtime, pathway)
    frozen_clock.set(REVIEW_DATE + timedelta(days=3))  # it fell due while none ran
    schedulers = [
        Scheduler(db_engine, sessions, runtime, look_every=timedelta(milliseconds=200))
        for _ in range(2)
    ]
    for scheduler in schedulers:
        scheduler.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and review_tasks(session, case.id) == 0:
            time.sleep(0.1)
        time.sleep(1)  # long enough for a second firing, were there one
    finally:
        for scheduler in schedulers:
            scheduler.stop()
    assert review_tasks(session, case.id) == 1


def test_the_app_started_with_its_scheduler_fires_timers_that_fell_due(app, frozen_clock):
    from webapp import create_app
    from webapp.extensions import db, runtime

    with app.app_context():
        case = waiting_for_review(db.session(), runtime(), latest(db.session()))
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    served = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "t", "KINFLOW_SCHEDULER_IN_APP": True}
    )
    scheduler = served.extensions["kinflow_scheduler"]
    try:
        with app.app_context():
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and review_tasks(db.session(), case.id) == 0:
                time.sleep(0.1)
            assert review_tasks(db.session(), case.id) == 1
    finally:
        scheduler.stop()


def latest(session):
    from engine.deploy import latest_version

    return latest_version(session, "fgc_pathway")


def test_the_scheduler_command_names_a_bad_smtp_setting(app, monkeypatch):
    monkeypatch.setenv("KINFLOW_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("KINFLOW_SMTP_PORT", "twenty-five")
    done = app.test_cli_runner().invoke(args=["scheduler"])
    assert done.exit_code == 1
    assert "KINFLOW_SMTP_PORT must be a port number (1 to 65535), not 'twenty-five'." in done.output
    assert "Traceback" not in done.output
