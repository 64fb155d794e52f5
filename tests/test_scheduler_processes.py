"""The scheduler on the real clock: two scheduler processes, restarts, and email that arrives.

The frozen clock does not reach APScheduler's threads (a context variable stays with the thread
that set it), so these tests run on real time. Cases are made with the real clock, or with a
frozen one in the past (their timers then fell due while no scheduler ran), and reminders are
made due by moving their ``due_at`` in the database. Every wait polls against a deadline.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from engine import clock
from engine.chronology import case_events
from engine.db import begin_write
from engine.models import HumanTask, TaskState
from engine.notifications.models import Notification, OutboxMessage, OutboxStatus, Reminder
from engine.notifications.outbox import Postman
from engine.runtime import Runtime
from engine.scheduler import Scheduler
from engine.time_words import LONDON
from tests.conftest import REPO
from tests.test_outbox import Server
from tests.test_pathway_walkthrough import deploy_pathway
from tests.test_reminders import MANAGERS, pending, staff, submitted, told  # noqa: F401

LOOK_EVERY = timedelta(milliseconds=200)
CASES = 20
# Several, so a race between a case's timer and its reminders shows up in one of them.
RESTARTED_CASES = 4
FAMILY = "Ashdown"  # the family name every case here is made with; never in an email


@pytest.fixture
def pathway(session, runtime):
    return deploy_pathway(session, runtime)


@pytest.fixture
def smtp() -> Iterator[Server]:
    """An SMTP server on loopback that keeps what it is sent."""
    server = Server()
    server.start()
    yield server
    server.stop()


class WatchedScheduler(Scheduler):
    """A scheduler that counts its looks at the database, so a test can wait for a few."""

    looks = 0

    def look(self) -> None:
        super().look()
        self.looks += 1


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Not seen within {seconds} s: {what}")
        time.sleep(0.05)


def make_due(sessions, case_ids: list[int]) -> list[int]:
    """Move the cases' waiting reminders a minute into the past; returns their ids."""
    with sessions() as session:
        begin_write(session)
        ids = list(
            session.scalars(
                select(Reminder.id).where(
                    Reminder.case_id.in_(case_ids), Reminder.sent_at.is_(None)
                )
            )
        )
        moment = datetime.now(UTC) - timedelta(minutes=1)
        session.execute(update(Reminder).where(Reminder.id.in_(ids)).values(due_at=moment))
        session.commit()
    return ids


def all_sent(sessions, reminder_ids: list[int]) -> bool:
    with sessions() as session:
        unsent = select(func.count(Reminder.id)).where(
            Reminder.id.in_(reminder_ids), Reminder.sent_at.is_(None)
        )
        return session.scalar(unsent) == 0


def outbox(sessions) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def mail_settled(sessions, smtp: Server) -> bool:
    """Nothing waits in the outbox, and the server has had as many emails as it holds."""
    messages = outbox(sessions)
    waiting = [m for m in messages if m.status == OutboxStatus.PENDING]
    return not waiting and len(smtp.collector.envelopes) == len(messages)


def scheduler_process(url: str, smtp: Server, marker: Path, log: Path) -> subprocess.Popen:
    """A scheduler in a process of its own (tests/scheduler_process.py)."""
    command = [sys.executable, "-m", "tests.scheduler_process", url, str(smtp.port), str(marker)]
    with log.open("w") as output:
        return subprocess.Popen(command, cwd=REPO, stdout=output, stderr=subprocess.STDOUT)


@pytest.mark.usefixtures("staff")
def test_two_scheduler_processes_send_every_reminder_once_when_the_active_one_is_killed(
    db_url, sessions, session, runtime, pathway, smtp, tmp_path
):
    processes = {}
    for name in ("one", "two"):  # started first: they load while the cases are made
        marker, log = tmp_path / f"{name}.active", tmp_path / f"{name}.log"
        processes[name] = (scheduler_process(db_url, smtp, marker, log), marker, log)
    try:
        cases = [submitted(runtime, session, pathway).id for _ in range(CASES)]
        before_kill = make_due(sessions, cases[: CASES // 2])  # due soon and overdue, each
        assert len(before_kill) == CASES  # two reminders a case, half the cases
        wait_for(lambda: all_sent(sessions, before_kill), 30, "the first reminders sent")
        wait_for(lambda: mail_settled(sessions, smtp), 15, "their emails delivered")
        leaders = [name for name, (_, marker, _) in processes.items() if marker.exists()]
        assert len(leaders) == 1, f"active schedulers: {leaders}"
        [active] = leaders
        [survivor] = set(processes) - {active}
        processes[active][0].kill()  # SIGKILL: no goodbye, the lock goes with the process
        processes[active][0].wait(timeout=10)

        after_kill = make_due(sessions, cases[CASES // 2 :])
        wait_for(lambda: all_sent(sessions, after_kill), 30, "the rest sent after the kill")
        wait_for(lambda: mail_settled(sessions, smtp), 15, "their emails delivered")
        assert processes[survivor][1].exists()  # it took over
        assert processes[survivor][0].poll() is None
    finally:
        for process, _, log in processes.values():
            process.kill()
            process.wait(timeout=10)
            print(log.name, log.read_text(), sep="\n")  # shown when the test fails

    reminders = before_kill + after_kill
    with sessions() as check:
        told_rows = check.execute(
            select(Notification.reminder_id, Notification.username).where(
                Notification.reminder_id.in_(reminders)
            )
        ).all()
    # Nobody is on a team, so each reminder goes to each FGC manager once.
    assert Counter(told_rows) == Counter({(r, name): 1 for r in reminders for name in MANAGERS})
    messages = outbox(sessions)
    assert {m.status for m in messages} == {OutboxStatus.SENT}
    # Only the manager who chose "immediate" is emailed reminders: one email each.
    assert Counter(m.to_address for m in messages) == {"morgan.manager@example.org": len(reminders)}
    queued = Counter((m.to_address, m.subject) for m in messages)
    received = Counter((tuple(to), subject) for to, subject, _ in smtp.collector.received())
    assert max(queued.values()) == 1
    assert received == Counter({((to,), subject): 1 for to, subject in queued})


@pytest.mark.usefixtures("staff")
def test_deadlines_missed_while_no_scheduler_ran_are_escalated_and_reminded_once_over_restarts(
    db_engine, sessions, session, runtime, pathway
):
    with clock.using(clock.FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))):
        # Each to be acknowledged by 4 March 2026: its SLA timer and its task's due moment
        # (the overdue reminder) both passed long ago, with no scheduler running.
        cases = [submitted(runtime, session, pathway).id for _ in range(RESTARTED_CASES)]

    def escalated(case_id: int) -> list[str]:
        session.rollback()
        return [e.summary for e in case_events(session, case_id) if e.kind == "sla_breached"]

    def caught_up() -> bool:
        titles = told(session, "morgan.manager")
        return all(escalated(c) and overdue(c) in titles for c in cases)

    for start in (1, 2):  # as after a restart: a new scheduler and runtime, nothing cached
        scheduler = WatchedScheduler(db_engine, sessions, Runtime(), look_every=LOOK_EVERY)
        scheduler.start()
        try:
            wait_for(caught_up, 20, f"every escalation and overdue reminder (start {start})")
            # Jobs armed for a passed moment run at once: by the third look a second firing
            # would have happened.
            wait_for(lambda s=scheduler: s.looks >= 3, 10, "three looks at the database")
        finally:
            scheduler.stop()

    next_working_day = runtime.calendar.add_working_days(datetime.now(LONDON), 1)
    for case_id in cases:
        assert escalated(case_id) == [
            "Deadline missed: acknowledgement is overdue; escalated to the FGC manager."
        ]
        for name in MANAGERS:
            titles = told(session, name)
            assert titles.count(f"Deadline missed on case {case_id}: acknowledgement") == 1
            assert titles.count(overdue(case_id)) == 1
        # One late reminder, not one per working day missed, and the next one is planned.
        waiting = pending(session, case_id)
        assert [kind for kind, _ in waiting] == ["overdue"], f"case {case_id}: {waiting}"
        assert datetime.now(UTC) < waiting[0][1] <= next_working_day


def overdue(case_id: int) -> str:
    return f"Overdue: Acknowledge the referral (case {case_id})"


@pytest.mark.usefixtures("staff")
def test_a_reminder_due_now_arrives_by_email_naming_the_case_and_not_the_family(
    db_engine, sessions, session, runtime, pathway, smtp
):
    case = submitted(runtime, session, pathway)
    with sessions() as change:
        begin_write(change)
        change.execute(
            update(Reminder)
            .where(Reminder.case_id == case.id, Reminder.kind == "due_soon")
            .values(due_at=datetime.now(UTC))
        )
        change.commit()
    postman = Postman(sessions, smtp.transport())
    scheduler = Scheduler(db_engine, sessions, runtime, postman, look_every=LOOK_EVERY)
    scheduler.start()
    try:
        wait_for(lambda: smtp.collector.envelopes, 10, "an email at the SMTP server")
    finally:
        scheduler.stop()

    [(to, subject, text)] = smtp.collector.received()
    assert to == ["morgan.manager@example.org"]  # the one manager who wants each by email
    assert subject == f"Kinflow: Due soon: Acknowledge the referral (case {case.id})"
    assert f"/tasks/{open_task_id(session, case.id)}" in text
    assert FAMILY not in subject and FAMILY not in text
    assert [m.status for m in outbox(sessions)] == [OutboxStatus.SENT]


def open_task_id(session, case_id: int) -> int:
    session.rollback()
    query = select(HumanTask.id).where(
        HumanTask.case_id == case_id, HumanTask.state == TaskState.READY
    )
    return session.scalars(query).one()
