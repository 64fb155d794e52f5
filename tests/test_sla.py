"""Service-level deadlines on the stage tasks (docs/pathway.md, "Stage processes").

Each deadline is a non-interrupting boundary timer on its task that throws the `sla_breach`
escalation with a code naming the deadline; nothing in the diagrams catches it, so the runtime
records it in the chronology ("Deadline missed: ...", kind `sla_breached`). The task stays open
and can still be done. Cases start on the frozen clock (Monday 2 March 2026, 09:00 UTC) and are
driven with the helpers of ``tests.test_pathway_walkthrough``. Timers fire only once the clock
is strictly past their moment.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM
from engine.chronology import case_events
from engine.models import CaseStatus, TaskState
from engine.queries import due_case_ids, get_case, get_task
from engine.record.models import Outcome
from tests.people import COORDINATOR, MANAGER, REFERRER
from tests.test_pathway_walkthrough import (
    ACCEPT,
    ACKNOWLEDGED,
    ALLOCATION,
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
    PLAN_REJECTED,
    PLAN_REVISED,
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
    workflow_of,
)

SLA_TIMERS = {
    "Acknowledgement overdue",
    "Baseline meeting overdue",
    "Assessment overdue",
    "Plan decision overdue",
    "Circulation overdue",
    "Outcome check overdue",
    "Follow-up overdue",
}


@pytest.fixture
def pathway(session, runtime):
    return deploy_pathway(session, runtime)


def breaches(session, case):
    return [e for e in case_events(session, case.id) if e.kind == "sla_breached"]


def missed(what: str) -> str:
    return f"Deadline missed: {what} is overdue; escalated to the FGC manager."


# Each driver leaves its task open; the clock still reads Monday 2 March, 09:00, except where
# the pathway has to wait for a date.


def to_acknowledgement(runtime, session, case, clock):
    do(runtime, session, case, "submit_referral", REFERRAL, REFERRER)


def to_baseline(runtime, session, case, clock):
    through_screening(runtime, session, case)


def to_urgent_baseline(runtime, session, case, clock):
    do(runtime, session, case, "submit_referral", REFERRAL | {"urgency": "urgent"}, REFERRER)
    do(runtime, session, case, "acknowledge_referral", ACKNOWLEDGED, MANAGER)
    do(runtime, session, case, "screen_referral", ACCEPT, MANAGER)
    do(runtime, session, case, "allocate_coordinator", ALLOCATION, MANAGER)


def to_assessment(runtime, session, case, clock):
    through_screening(runtime, session, case)
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)


def to_plan_acceptance(runtime, session, case, clock):
    through_conference(runtime, session, case)


def to_circulation(runtime, session, case, clock):
    through_conference(runtime, session, case)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)


def to_six_month_check(runtime, session, case, clock, closure=CLOSURE):
    """Closed on Monday 13 July 2026 at 10:00; the check opens six months later, at 10:01."""
    through_conference(runtime, session, case)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", NO_SUPPORT, COORDINATOR)
    clock.set(at("2026-07-13", 10))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "hold_review", REVIEW_LAST, COORDINATOR)
    do(runtime, session, case, "close_case", closure, COORDINATOR)
    clock.set(at("2027-01-13", 10) + timedelta(minutes=1))
    runtime.wake_case(session, case.id)


def to_twelve_month_follow_up(runtime, session, case, clock):
    """Checked at six months on Wednesday 13 January 2027; the follow-up opens twelve months
    after closure, on Tuesday 13 July 2027 at 10:01."""
    to_six_month_check(runtime, session, case, clock)
    do(runtime, session, case, "record_six_month_check", SIX_MONTHS, DATA_OFFICER)
    clock.set(at("2027-07-13", 10) + timedelta(minutes=1))
    runtime.wake_case(session, case.id)


# The task is done and nothing is open: the case waits for its next date.
WAITS = "waits"

SLAS = [
    pytest.param(
        to_acknowledgement,
        "acknowledge_referral",
        "acknowledgement",
        at("2026-03-04"),  # acknowledge_days = 2 working days
        (ACKNOWLEDGED, MANAGER),
        "screen_referral",
        id="acknowledgement",
    ),
    pytest.param(
        to_baseline,
        "hold_baseline_meeting",
        "baseline_meeting",
        at("2026-03-09"),  # baseline_days = 5 working days
        (BASELINE, COORDINATOR),
        "whole_family_assessment",
        id="baseline_meeting",
    ),
    pytest.param(
        to_urgent_baseline,
        "hold_baseline_meeting",
        "baseline_meeting",
        at("2026-03-03"),  # urgent: 24 hours
        (BASELINE, COORDINATOR),
        "whole_family_assessment",
        id="baseline_meeting_urgent",
    ),
    pytest.param(
        to_assessment,
        "whole_family_assessment",
        "whole_family_assessment",
        at("2026-03-22"),  # 20 calendar days, a Sunday included
        (ASSESSMENT, LEAD),
        "prepare_network",
        id="whole_family_assessment",
    ),
    pytest.param(
        to_plan_acceptance,
        "review_family_plan",
        "plan_acceptance",
        at("2026-03-04"),  # 2 working days
        (PLAN_ACCEPTED, REFERRER),
        "circulate_plan",
        id="plan_acceptance",
    ),
    pytest.param(
        to_circulation,
        "circulate_plan",
        "plan_circulation",
        at("2026-03-04"),  # 2 working days
        (CIRCULATED, COORDINATOR),
        "request_support",
        id="plan_circulation",
    ),
    pytest.param(
        to_six_month_check,
        "record_six_month_check",
        "six_month_check",
        datetime(2027, 1, 27, 10, 1, tzinfo=UTC),  # 10 working days from Wednesday 13 Jan
        (SIX_MONTHS, DATA_OFFICER),
        WAITS,  # for the twelve-month follow-up
        id="six_month_check",
    ),
    pytest.param(
        to_twelve_month_follow_up,
        "record_twelve_month_follow_up",
        "twelve_month_follow_up",
        datetime(2027, 7, 27, 10, 1, tzinfo=UTC),  # 10 working days from Tuesday 13 July
        (TWELVE_MONTHS, DATA_OFFICER),
        None,  # the case is done
        id="twelve_month_follow_up",
    ),
]


@pytest.mark.parametrize(("drive", "element_id", "code", "deadline", "done", "then"), SLAS)
def test_a_task_still_open_after_its_deadline_is_escalated_once_and_stays_open(
    session, runtime, pathway, frozen_clock, drive, element_id, code, deadline, done, then
):
    case = start(runtime, session, pathway)
    drive(runtime, session, case, frozen_clock)
    task = open_tasks(session, case)[element_id]
    assert get_case(session, case.id).next_wake_at == deadline

    frozen_clock.set(deadline)  # due, not yet past
    runtime.wake_case(session, case.id)
    assert breaches(session, case) == []

    frozen_clock.set(deadline + timedelta(minutes=1))
    assert case.id in due_case_ids(session)
    runtime.wake_case(session, case.id)

    assert get_task(session, task.id).state == TaskState.READY  # non-interrupting
    [breach] = breaches(session, case)
    assert breach.summary == missed(code.replace("_", " "))
    assert (breach.actor, breach.payload["code"]) == (SYSTEM, code)
    assert breach.payload["escalation"] == "sla_breach"
    # The timer has fired once and nothing else at this stage waits on the clock: the case
    # is not left due in the past, so the scheduler does not wake it over and over.
    assert get_case(session, case.id).next_wake_at is None
    assert case.id not in due_case_ids(session)
    assert workflow_of(runtime, session, case).bpmn_events == []
    frozen_clock.advance(days=30)
    runtime.wake_case(session, case.id)
    assert len(breaches(session, case)) == 1

    data, actor = done
    do(runtime, session, case, element_id, copy.deepcopy(data), actor)
    assert get_task(session, task.id).state == TaskState.COMPLETED
    if then is None:
        assert get_case(session, case.id).status == CaseStatus.COMPLETED
    elif then == WAITS:
        assert get_case(session, case.id).status == CaseStatus.ACTIVE
        assert open_tasks(session, case) == {}
    else:
        assert then in open_tasks(session, case)
    assert len(breaches(session, case)) == 1


def test_tasks_done_on_time_raise_no_breach_when_their_deadlines_pass(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    do(runtime, session, case, "whole_family_assessment", ASSESSMENT, LEAD)
    # Past the acknowledgement, baseline and assessment deadlines (4, 9 and 22 March).
    waiting = {e.name for e in workflow_of(runtime, session, case).waiting_events()}
    assert not waiting & SLA_TIMERS
    assert get_case(session, case.id).next_wake_at is None
    frozen_clock.set(at("2026-03-23", 10))
    runtime.wake_case(session, case.id)
    assert breaches(session, case) == []

    do(runtime, session, case, "prepare_network", NETWORK, COORDINATOR)
    do(runtime, session, case, "arrange_conference", ARRANGEMENTS, COORDINATOR)
    do(runtime, session, case, "record_conference", CONFERENCE, COORDINATOR)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", NO_SUPPORT, COORDINATOR)
    # Past both plan deadlines (25 March) on the way to the review date.
    assert get_case(session, case.id).next_wake_at == at("2026-07-13")
    frozen_clock.set(at("2026-07-13", 10))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "hold_review", REVIEW_LAST, COORDINATOR)
    do(runtime, session, case, "close_case", CLOSURE, COORDINATOR)
    frozen_clock.set(at("2027-01-13", 10) + timedelta(minutes=1))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "record_six_month_check", SIX_MONTHS, DATA_OFFICER)
    frozen_clock.set(at("2027-07-13", 10) + timedelta(minutes=1))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "record_twelve_month_follow_up", TWELVE_MONTHS, DATA_OFFICER)

    case = get_case(session, case.id)
    assert (case.status, case.next_wake_at) == (CaseStatus.COMPLETED, None)
    assert breaches(session, case) == []


def test_a_late_six_month_check_records_the_outcomes_as_submitted(
    session, runtime, pathway, frozen_clock
):
    closure = {
        "closure_reason": "plan_achieved",
        "outcomes": [
            {"problem": "school_attendance", "significant_progress": True},
            {"problem": "health", "significant_progress": False, "note": "Jo awaits treatment."},
        ],
    }
    case = start(runtime, session, pathway)
    to_six_month_check(runtime, session, case, frozen_clock, closure=closure)
    frozen_clock.set(datetime(2027, 1, 27, 10, 2, tzinfo=UTC))
    runtime.wake_case(session, case.id)
    assert len(breaches(session, case)) == 1
    check = {
        "checked_on": "2027-01-28",
        "outcomes": [  # listed in another order than at closure
            {"problem": "health", "sustained": False},
            {"problem": "school_attendance", "sustained": True},
        ],
    }
    do(runtime, session, case, "record_six_month_check", check, DATA_OFFICER)
    rows = session.scalars(
        select(Outcome)
        .where(Outcome.case_id == case.id, Outcome.stage == "six_month")
        .order_by(Outcome.id)
    )
    assert [(o.problem, o.achieved, o.note) for o in rows] == [
        ("health", False, None),
        ("school_attendance", True, None),
    ]


def test_a_plan_reviewed_again_after_a_revision_has_a_deadline_of_its_own(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_conference(runtime, session, case)
    do(runtime, session, case, "review_family_plan", PLAN_REJECTED, REFERRER)
    frozen_clock.set(at("2026-03-10"))  # past the first round's deadline (4 March)
    do(runtime, session, case, "revise_family_plan", PLAN_REVISED, COORDINATOR)
    assert get_case(session, case.id).next_wake_at == at("2026-03-12")
    frozen_clock.set(at("2026-03-12") + timedelta(minutes=1))
    runtime.wake_case(session, case.id)
    assert [b.summary for b in breaches(session, case)] == [missed("plan acceptance")]
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    assert set(open_tasks(session, case)) == {"circulate_plan"}
