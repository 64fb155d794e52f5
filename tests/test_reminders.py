"""Reminders on the shipped pathway: planned after each change, fired once, to the right people,
emailed as each worker chose, and gone when the case stops."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import clock
from engine.accounts import User
from engine.models import HumanTask
from engine.notifications.delivery import ReminderDesk
from engine.notifications.digest import send_digests
from engine.notifications.models import Notification, OutboxMessage, Preference, Reminder
from engine.queries import get_case
from tests.people import COORDINATOR, MANAGER, REFERRER
from tests.test_pathway_walkthrough import (
    ACKNOWLEDGED,
    ARRANGEMENTS,
    ASSESSMENT,
    BASELINE,
    CIRCULATED,
    CLOSURE,
    CONFERENCE,
    DATA_OFFICER,
    LEAD,
    NETWORK,
    NO_SUPPORT,
    PLAN_ACCEPTED,
    REFERRAL,
    REVIEW_LAST,
    SIX_MONTHS,
    TWELVE_MONTHS,
    at,
    deploy_pathway,
    do,
    open_tasks,
    start,
    through_conference,
    through_screening,
)

MANAGERS = {
    "morgan.manager": Preference.IMMEDIATE,
    "max.manager": Preference.DIGEST,
    "ezra.manager": Preference.ESCALATIONS,
}


@pytest.fixture
def pathway(session, runtime):
    return deploy_pathway(session, runtime)


@pytest.fixture
def staff(session):
    """The fictional service (no team): three managers with each email choice, and the rest."""
    people = [(name, "fgc_manager", preference) for name, preference in MANAGERS.items()] + [
        ("casey.coordinator", "coordinator", Preference.IMMEDIATE),
        ("dana.data", "data_officer", Preference.IMMEDIATE),
        ("riley.referrer", "referrer", Preference.IMMEDIATE),
    ]
    for username, role, preference in people:
        session.add(
            User(
                username=username,
                display_name=username.split(".")[0].title(),
                email=f"{username}@example.org",
                roles=[role],
                email_preference=preference,
            )
        )
    session.commit()


@pytest.fixture
def desk(sessions, runtime):
    return ReminderDesk(sessions, runtime.calendar, runtime.reminders)


def pending(session, case_id: int) -> list[tuple[str, datetime]]:
    session.rollback()  # a fresh snapshot: the desk wrote in its own session
    rows = session.execute(
        select(Reminder.kind, Reminder.due_at)
        .where(Reminder.case_id == case_id, Reminder.sent_at.is_(None))
        .order_by(Reminder.due_at, Reminder.kind)
    )
    return [(kind, moment) for kind, moment in rows]


def told(session, username: str) -> list[str]:
    session.rollback()
    query = select(Notification.title).where(Notification.username == username)
    return list(session.scalars(query.order_by(Notification.id)))


def emailed(session, username: str) -> list[str]:
    session.rollback()
    query = select(OutboxMessage.subject).where(OutboxMessage.username == username)
    return list(session.scalars(query.order_by(OutboxMessage.id)))


def submitted(runtime, session, pathway):
    case = start(runtime, session, pathway)
    do(runtime, session, case, "submit_referral", REFERRAL, REFERRER)
    return case


def test_a_task_is_reminded_a_working_day_before_then_daily_once_overdue_until_done(
    session, runtime, pathway, staff, desk, frozen_clock
):
    case = submitted(runtime, session, pathway)  # Monday 2 March 09:00
    ack = open_tasks(session, case)["acknowledge_referral"]
    assert ack.due_at == at("2026-03-04")
    assert pending(session, case.id) == [("due_soon", at("2026-03-03")), ("overdue", ack.due_at)]
    assert desk.fire_due() == 0

    frozen_clock.set(at("2026-03-03", 10))
    assert desk.fire_due() == 1
    assert desk.fire_due() == 0  # fired once
    title = f"Due soon: Acknowledge the referral (case {case.id})"
    assert told(session, "morgan.manager") == [title]  # the managers may pick it up
    assert emailed(session, "morgan.manager") == [f"Kinflow: {title}"]
    assert told(session, "casey.coordinator") == []

    frozen_clock.set(at("2026-03-04", 9) + timedelta(minutes=1))
    assert desk.fire_due() == 1
    assert pending(session, case.id)[0] == ("overdue", at("2026-03-05"))
    # Nothing ran over the weekend: on Monday one reminder, not one per day missed.
    frozen_clock.set(at("2026-03-09", 12))
    assert desk.fire_due() == 1
    assert desk.fire_due() == 0
    assert pending(session, case.id)[0] == ("overdue", at("2026-03-10"))
    assert len(told(session, "morgan.manager")) == 3

    do(runtime, session, case, "acknowledge_referral", ACKNOWLEDGED, MANAGER)
    ack_left = select(Reminder).where(Reminder.task_id == ack.id, Reminder.sent_at.is_(None))
    assert session.scalars(ack_left).all() == []


def test_after_a_stop_past_the_deadline_only_overdue_is_sent_not_due_soon(
    session, runtime, pathway, staff, desk, frozen_clock
):
    case = submitted(runtime, session, pathway)
    frozen_clock.set(at("2026-03-05", 10))  # nothing ran on the 3rd or the 4th
    desk.fire_due()
    assert told(session, "morgan.manager") == [
        f"Overdue: Acknowledge the referral (case {case.id})"
    ]


@pytest.mark.parametrize(
    ("submitted_at", "due", "due_soon", "second_overdue"),
    [
        # Christmas Day Friday, the weekend, Boxing Day's substitute Monday 28th.
        ("2026-12-24", "2026-12-30", "2026-12-29", "2026-12-31"),
        # Good Friday to Easter Monday.
        ("2026-04-02", "2026-04-08", "2026-04-07", "2026-04-09"),
        # The spring bank holiday Monday, 25 May; overdue again the next working day.
        ("2026-05-21", "2026-05-26", "2026-05-22", "2026-05-27"),
        # New Year's Day 2027 is a Friday: the reminder after Thursday's comes on Monday.
        ("2026-12-29", "2026-12-31", "2026-12-30", "2027-01-04"),
    ],
)
def test_reminders_follow_working_days_across_bank_holidays(
    session,
    runtime,
    pathway,
    staff,
    desk,
    frozen_clock,
    submitted_at,
    due,
    due_soon,
    second_overdue,
):
    frozen_clock.set(at(submitted_at))
    case = submitted(runtime, session, pathway)
    assert open_tasks(session, case)["acknowledge_referral"].due_at == at(due)
    assert pending(session, case.id) == [("due_soon", at(due_soon)), ("overdue", at(due))]
    frozen_clock.set(at(due) + timedelta(minutes=1))
    desk.fire_due()
    assert pending(session, case.id)[0] == ("overdue", at(second_overdue))


def test_each_worker_is_emailed_as_they_chose_and_the_digest_collects_the_rest(
    session, sessions, runtime, pathway, staff, desk, frozen_clock
):
    case = submitted(runtime, session, pathway)
    do(runtime, session, case, "acknowledge_referral", ACKNOWLEDGED, MANAGER)
    frozen_clock.set(at("2026-03-03", 10))
    desk.fire_due()  # screening is due soon, told to every manager
    frozen_clock.set(at("2026-03-04", 9) + timedelta(minutes=5))
    runtime.wake_case(session, case.id)  # the diagram's screening deadline passes: escalation

    escalation = f"Deadline missed on case {case.id}: screening"
    for name in MANAGERS:
        assert told(session, name)[-1] == escalation
    assert emailed(session, "morgan.manager")[-1] == f"Kinflow: {escalation}"
    assert emailed(session, "ezra.manager") == [f"Kinflow: {escalation}"]  # escalations only
    assert emailed(session, "max.manager") == []  # waiting for the digest

    frozen_clock.set(at("2026-03-05", 8) + timedelta(minutes=1))  # the 08:00 digest
    assert send_digests(sessions, runtime.reminders) == 1
    assert send_digests(sessions, runtime.reminders) == 0
    session.rollback()
    [digest] = session.scalars(
        select(OutboxMessage).where(OutboxMessage.username == "max.manager")
    ).all()
    assert digest.subject == "Kinflow: your daily digest for Thursday 5 March 2026 (2 notices)"
    assert f"Due soon: Screen the referral (case {case.id})" in digest.body
    assert escalation in digest.body
    assert "Ashdown" not in digest.body  # no family names in mailboxes


def test_the_coordinator_hears_of_the_conference_two_days_before(
    session, runtime, pathway, staff, desk, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    do(runtime, session, case, "whole_family_assessment", ASSESSMENT, LEAD)
    do(runtime, session, case, "prepare_network", NETWORK, COORDINATOR)
    do(runtime, session, case, "arrange_conference", ARRANGEMENTS, COORDINATOR)
    saturday = datetime(2026, 4, 18, 8, 0, tzinfo=UTC)  # 09:00 in London (summer time)
    assert ("conference_soon", saturday) in pending(session, case.id)
    frozen_clock.set(saturday + timedelta(minutes=1))
    desk.fire_due()
    assert f"Conference in 2 days (case {case.id})" in told(session, "casey.coordinator")

    do(runtime, session, case, "record_conference", CONFERENCE, COORDINATOR)
    assert [k for k, _ in pending(session, case.id) if k == "conference_soon"] == []


def test_review_six_month_check_and_twelve_month_follow_up_are_announced_a_working_week_ahead(
    session, runtime, pathway, staff, desk, frozen_clock
):
    case = start(runtime, session, pathway)
    through_conference(runtime, session, case)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", NO_SUPPORT, COORDINATOR)
    review_notice = datetime(2026, 7, 6, 8, 0, tzinfo=UTC)  # Mon 6 July 09:00 BST
    assert pending(session, case.id) == [("review_due", review_notice)]
    frozen_clock.set(review_notice + timedelta(minutes=1))
    assert desk.fire_due() == 1
    assert told(session, "casey.coordinator")[-1] == (
        f"Review due on Monday 13 July 2026 (case {case.id})"
    )

    frozen_clock.set(at("2026-07-13") + timedelta(minutes=1))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "hold_review", REVIEW_LAST, COORDINATOR)
    frozen_clock.set(at("2026-10-20", 11))
    do(runtime, session, case, "close_case", CLOSURE, COORDINATOR)
    # Six months on is Tuesday 20 April 2027; a working week before is Tuesday 13 April.
    six_month_notice = datetime(2027, 4, 13, 8, 0, tzinfo=UTC)
    assert pending(session, case.id) == [("six_month_due", six_month_notice)]
    frozen_clock.set(six_month_notice + timedelta(minutes=1))
    desk.fire_due()
    assert told(session, "dana.data") == [
        f"Six-month outcome check due on Tuesday 20 April 2027 (case {case.id})"
    ]

    # Once the check is recorded, the follow-up of the children twelve months after closure
    # (Wednesday 20 October 2027) is announced on Wednesday 13 October, 09:00 BST.
    frozen_clock.set(at("2027-04-20", 11) + timedelta(minutes=1))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "record_six_month_check", SIX_MONTHS, DATA_OFFICER)
    twelve_month_notice = datetime(2027, 10, 13, 8, 0, tzinfo=UTC)
    assert pending(session, case.id) == [("twelve_month_due", twelve_month_notice)]
    frozen_clock.set(twelve_month_notice + timedelta(minutes=1))
    desk.fire_due()
    assert told(session, "dana.data")[-1] == (
        f"Twelve-month follow-up due on Wednesday 20 October 2027 (case {case.id})"
    )
    frozen_clock.set(at("2027-10-20", 11) + timedelta(minutes=1))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "record_twelve_month_follow_up", TWELVE_MONTHS, DATA_OFFICER)
    assert pending(session, case.id) == []


@pytest.mark.parametrize("how", ["consent_withdrawn", "cancelled", "stepped_up"])
def test_a_case_that_stops_leaves_no_reminders(
    session, runtime, pathway, staff, desk, frozen_clock, how
):
    case = submitted(runtime, session, pathway)
    do(runtime, session, case, "acknowledge_referral", ACKNOWLEDGED, MANAGER)
    assert pending(session, case.id) != []
    if how == "consent_withdrawn":
        withdrawn = {"reason": "Jo no longer wants the service", "withdrawn_by": "Jo Ashdown"}
        runtime.send_message(session, case.id, "consent_withdrawn", withdrawn, REFERRER)
    elif how == "cancelled":
        runtime.cancel_case(session, case.id, "Referred in error", MANAGER)
    else:
        concern = {"concern": "Bruising seen at school", "raised_by": "casey.coordinator"}
        runtime.send_message(session, case.id, "safeguarding_concern", concern, COORDINATOR)
        step_up = {
            "safeguarding_decision": "step_up",
            "mash_reference": "MASH-2026-0142",
            "safeguarding_reason": "Disclosure of harm at home.",
        }
        do(runtime, session, case, "review_safeguarding_concern", step_up, MANAGER)
    assert get_case(session, case.id).status != "active"
    assert pending(session, case.id) == []
    frozen_clock.set(at("2026-04-01"))
    assert desk.fire_due() == 0


def test_the_assignee_is_reminded_and_a_leaver_s_task_goes_to_the_managers(
    session, runtime, pathway, staff, desk, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    baseline = open_tasks(session, case)["hold_baseline_meeting"]
    assert baseline.assignee == "casey.coordinator"
    frozen_clock.set(baseline.due_at + timedelta(minutes=1))
    desk.fire_due()
    assert told(session, "casey.coordinator")[-1].startswith("Overdue: ")
    assert not any(t.startswith("Overdue") for t in told(session, "morgan.manager"))

    session.scalar(select(User).where(User.username == "casey.coordinator")).active = False
    session.commit()
    frozen_clock.advance(days=1)
    desk.fire_due()
    assert told(session, "morgan.manager")[-1].startswith("Overdue: Hold the baseline meeting")


def test_a_reminder_fires_once_however_many_desks_race_for_it(
    session, sessions, runtime, pathway, staff, frozen_clock
):
    case = submitted(runtime, session, pathway)
    frozen_clock.set(at("2026-03-03", 10))
    desks = [ReminderDesk(sessions, runtime.calendar, runtime.reminders) for _ in range(4)]
    results: list[int] = []

    def race(desk: ReminderDesk) -> None:
        with clock.using(frozen_clock):
            results.append(desk.fire_due())

    threads = [threading.Thread(target=race, args=(d,)) for d in desks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 1
    assert len(told(session, "morgan.manager")) == 1
    assert len(emailed(session, "morgan.manager")) == 1
    assert session.scalar(select(HumanTask.id).where(HumanTask.case_id == case.id)) is not None
