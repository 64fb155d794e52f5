"""Safeguarding concerns on the shipped FGC pathway: any number, at any stage, each reviewed.

Beside the pathway the main process runs a concern watch: the embedded sub-process
`await_concern` waits for one `safeguarding_concern` message, then a parallel gateway sends one
token to `review_safeguarding_concern` and one straight back to watching. So every concern gets
its own review at once, overlapping or not. A step up terminates the whole process. The watch
ends on its interrupting boundary events: the `pathway_over` signal (thrown inside the pathway
before "Case closed" and "Referral declined") or the `consent_withdrawn` message; a review
already open stays open until the manager completes it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import select

from engine.chronology import case_events
from engine.errors import CaseNotActive, KinflowError
from engine.models import CaseStatus, TaskState
from engine.queries import get_case, get_task, list_tasks
from engine.record.models import SafeguardingConcern
from tests.people import COORDINATOR, MANAGER, REFERRER
from tests.test_pathway_walkthrough import (
    ARRANGEMENTS,
    ASSESSMENT,
    BASELINE,
    CIRCULATED,
    CLOSURE,
    CONFERENCE,
    CONTINUE,
    DATA_OFFICER,
    LEAD,
    NETWORK,
    NO_SUPPORT,
    PLAN_ACCEPTED,
    REVIEW_LAST,
    SIX_MONTHS,
    STEP_UP,
    TWELVE_MONTHS,
    at,
    deploy_pathway,
    do,
    open_tasks,
    start,
    through_screening,
    workflow_of,
)

REVIEW = "review_safeguarding_concern"
DECLINE = {
    "screening_decision": "decline",
    "decline_reason": "other_service_better",
    "screening_note": "Already open to the Family Hub, which fits better.",
}
DECLINE_NOTICE = {
    "referrer_told_on": "2026-03-03",
    "family_hub_signposted": True,
    "family_hub_name": "Marsh Farm Family Hub",
}
WITHDRAWN = {"reason": "Jo no longer wants the service", "withdrawn_by": "Jo Ashdown"}
CONTINUE_AGAIN = {
    "safeguarding_decision": "continue",
    "safeguarding_reason": "School and health visitor have seen Sam since: no concerns.",
}


@pytest.fixture
def pathway(session, runtime):
    return deploy_pathway(session, runtime)


def raise_concern(runtime, session, case, concern):
    payload = {"concern": concern, "raised_by": COORDINATOR.username}
    runtime.send_message(session, case.id, "safeguarding_concern", payload, COORDINATOR)


def reviews(session, case):
    """The open reviews of the case, the one due first (the concern raised first) first."""
    return [t for t in list_tasks(session, case_id=case.id) if t.element_id == REVIEW]


def review(runtime, session, task, decision):
    runtime.complete_task(session, task.id, decision, MANAGER)


def concerns(session, case):
    query = (
        select(SafeguardingConcern)
        .where(SafeguardingConcern.case_id == case.id)
        .order_by(SafeguardingConcern.id)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def assert_everything_finished(runtime, session, case):
    case = get_case(session, case.id)
    assert (case.status, case.next_wake_at) == (CaseStatus.COMPLETED, None)
    assert open_tasks(session, case) == {}
    workflow = workflow_of(runtime, session, case)
    assert workflow.waiting_events() == []
    assert workflow.get_tasks(state=SpiffState.NOT_FINISHED_MASK) == []
    for sub in workflow.subprocesses.values():
        assert sub.get_tasks(state=SpiffState.NOT_FINISHED_MASK) == [], sub.spec.name
    return workflow


def to_the_review_wait(runtime, session, case):
    """From an accepted referral to the wait for the first review date (a timer inside the
    `review` call activity)."""
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    do(runtime, session, case, "whole_family_assessment", ASSESSMENT, LEAD)
    do(runtime, session, case, "prepare_network", NETWORK, COORDINATOR)
    do(runtime, session, case, "arrange_conference", ARRANGEMENTS, COORDINATOR)
    do(runtime, session, case, "record_conference", CONFERENCE, COORDINATOR)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", NO_SUPPORT, COORDINATOR)
    assert open_tasks(session, case) == {}
    assert get_case(session, case.id).next_wake_at is not None


def test_two_concerns_one_after_the_other_are_both_reviewed(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    waiting = {e.name for e in workflow_of(runtime, session, case).waiting_events()}
    assert {"safeguarding_concern", "pathway_over", "consent_withdrawn"} <= waiting

    raise_concern(runtime, session, case, "Bruising seen at school")
    [first] = reviews(session, case)
    assert (first.role, first.form_key, first.lane) == (
        "fgc_manager",
        "safeguarding_review",
        "FGC Manager",
    )
    assert first.due_at == frozen_clock.now() + timedelta(hours=24)
    review(runtime, session, first, CONTINUE)
    assert set(open_tasks(session, case)) == {"hold_baseline_meeting"}
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)

    frozen_clock.advance(days=3)
    raise_concern(runtime, session, case, "Sam says he was left alone overnight")
    [second] = reviews(session, case)
    assert second.id != first.id
    assert second.due_at == frozen_clock.now() + timedelta(hours=24)
    assert set(open_tasks(session, case)) == {REVIEW, "whole_family_assessment"}
    review(runtime, session, second, CONTINUE_AGAIN)

    # The pathway carries on where it was.
    assert set(open_tasks(session, case)) == {"whole_family_assessment"}
    do(runtime, session, case, "whole_family_assessment", ASSESSMENT, LEAD)
    assert set(open_tasks(session, case)) == {"prepare_network"}
    assert get_case(session, case.id).status == CaseStatus.ACTIVE

    rows = concerns(session, case)
    assert [(r.concern, r.decision, r.reason, r.reviewed_by) for r in rows] == [
        ("Bruising seen at school", "continue", CONTINUE["safeguarding_reason"], "morgan.manager"),
        (
            "Sam says he was left alone overnight",
            "continue",
            CONTINUE_AGAIN["safeguarding_reason"],
            "morgan.manager",
        ),
    ]


def test_a_concern_raised_while_another_is_under_review_gets_a_review_of_its_own(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    first_raised = frozen_clock.now()
    raise_concern(runtime, session, case, "Bruising seen at school")
    frozen_clock.advance(hours=2)
    raise_concern(runtime, session, case, "Neighbour reports shouting at night")

    # Two reviews open side by side, each due 24 hours after its own concern.
    first, second = reviews(session, case)
    assert first.due_at == first_raised + timedelta(hours=24)
    assert second.due_at == frozen_clock.now() + timedelta(hours=24)
    assert set(open_tasks(session, case)) == {REVIEW, "hold_baseline_meeting"}
    workflow = workflow_of(runtime, session, case)
    data = workflow.get_tasks(spec_name=REVIEW, state=SpiffState.READY)
    assert sorted(t.data["safeguarding_concern"]["concern"] for t in data) == [
        "Bruising seen at school",
        "Neighbour reports shouting at night",
    ]

    # Reviewed in the order raised: the `safeguarding_review` writer records each decision on
    # the oldest concern not yet reviewed, whichever review task it came from.
    review(runtime, session, first, CONTINUE)
    assert get_task(session, second.id).state == TaskState.READY
    review(runtime, session, second, CONTINUE_AGAIN)
    assert set(open_tasks(session, case)) == {"hold_baseline_meeting"}
    assert [r.decision for r in concerns(session, case)] == ["continue", "continue"]

    # And the watch still accepts a third.
    raise_concern(runtime, session, case, "Missed school all week")
    assert len(reviews(session, case)) == 1


def test_a_step_up_after_an_earlier_continue_ends_everything(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    raise_concern(runtime, session, case, "Bruising seen at school")
    do(runtime, session, case, REVIEW, CONTINUE, MANAGER)
    frozen_clock.advance(days=1)
    to_the_review_wait(runtime, session, case)

    # A timer is waiting (the review date) when two more concerns come in.
    frozen_clock.advance(days=1)
    raise_concern(runtime, session, case, "Disclosure to a teacher")
    frozen_clock.advance(hours=1)
    raise_concern(runtime, session, case, "Neighbour reports shouting at night")
    stepping_up, other = reviews(session, case)
    review(runtime, session, stepping_up, STEP_UP)

    assert get_task(session, other.id).state == TaskState.CANCELLED
    workflow = assert_everything_finished(runtime, session, case)
    assert workflow.data["pathway_result"] == "stepped_up"
    rows = concerns(session, case)
    assert [(r.decision, r.mash_reference) for r in rows] == [
        ("continue", None),
        ("step_up", "MASH-2026-0142"),
        (None, None),  # cancelled with the case: children's social care has it now
    ]
    summaries = [e.summary for e in case_events(session, case.id)]
    assert summaries[-1] == "Case completed: Stepped up: pathway ends."
    with pytest.raises(CaseNotActive):
        raise_concern(runtime, session, case, "Too late: the case is with social care")


@pytest.mark.parametrize(
    ("decision", "result"), [(CONTINUE, "consent_withdrawn"), (STEP_UP, "stepped_up")]
)
def test_withdrawing_consent_leaves_an_open_review_to_the_manager(
    session, runtime, pathway, frozen_clock, decision, result
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    stage_task = open_tasks(session, case)["whole_family_assessment"]
    raise_concern(runtime, session, case, "Bruising seen at school")
    [open_review] = reviews(session, case)

    runtime.send_message(session, case.id, "consent_withdrawn", WITHDRAWN, REFERRER)

    # Safeguarding trumps consent: the review stays; the stage and its tasks are gone.
    assert get_task(session, open_review.id).state == TaskState.READY
    assert get_task(session, stage_task.id).state == TaskState.CANCELLED
    assert set(open_tasks(session, case)) == {REVIEW}
    assert get_case(session, case.id).status == CaseStatus.ACTIVE

    review(runtime, session, open_review, decision)
    workflow = assert_everything_finished(runtime, session, case)
    assert workflow.data["pathway_result"] == result
    assert [r.decision for r in concerns(session, case)] == [decision["safeguarding_decision"]]


def test_after_consent_is_withdrawn_no_new_concern_is_accepted(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    raise_concern(runtime, session, case, "Bruising seen at school")
    [open_review] = reviews(session, case)
    runtime.send_message(session, case.id, "consent_withdrawn", WITHDRAWN, REFERRER)

    # The case is still open for the review, but the watch for concerns has ended.
    with pytest.raises(KinflowError, match="not waiting for the message 'safeguarding_concern'"):
        raise_concern(runtime, session, case, "Neighbour reports shouting at night")
    assert [t.id for t in reviews(session, case)] == [open_review.id]
    assert len(concerns(session, case)) == 1  # the refused concern left no row behind

    review(runtime, session, open_review, CONTINUE)
    assert get_case(session, case.id).status == CaseStatus.COMPLETED
    with pytest.raises(CaseNotActive):
        raise_concern(runtime, session, case, "Neighbour reports shouting at night")


@pytest.mark.parametrize(
    ("how", "result", "ending"),
    [
        ("declined", "declined", "Case completed: Pathway ended."),
        (
            "consent_withdrawn",
            "consent_withdrawn",
            "Case completed: Pathway stopped: consent withdrawn.",
        ),
    ],
)
def test_when_the_pathway_ends_with_no_review_open_the_watch_ends_and_the_case_completes(
    session, runtime, pathway, frozen_clock, how, result, ending
):
    case = start(runtime, session, pathway)
    if how == "declined":
        through_screening(runtime, session, case, DECLINE)
        do(runtime, session, case, "tell_referrer_declined", DECLINE_NOTICE, MANAGER)
    else:
        through_screening(runtime, session, case)
        runtime.send_message(session, case.id, "consent_withdrawn", WITHDRAWN, REFERRER)
    workflow = assert_everything_finished(runtime, session, case)
    assert workflow.data["pathway_result"] == result
    # The watch closes before the pathway's own end event is reached, so the chronology
    # names that end, not the watch's.
    assert [e.summary for e in case_events(session, case.id)][-1] == ending


def test_a_closed_case_waiting_for_its_six_month_check_refuses_a_concern(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    to_the_review_wait(runtime, session, case)
    raise_concern(runtime, session, case, "Bruising seen at school")
    do(runtime, session, case, REVIEW, CONTINUE, MANAGER)
    frozen_clock.set(at("2026-07-13", 10))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "hold_review", REVIEW_LAST, COORDINATOR)
    do(runtime, session, case, "close_case", CLOSURE, COORDINATOR)
    assert open_tasks(session, case) == {}
    assert get_case(session, case.id).status == CaseStatus.ACTIVE
    assert [e.name for e in workflow_of(runtime, session, case).waiting_events()] == [
        "Six months after closure"
    ]

    with pytest.raises(KinflowError, match="not waiting for the message 'safeguarding_concern'"):
        raise_concern(runtime, session, case, "Reported after closure")
    assert len(concerns(session, case)) == 1

    frozen_clock.advance(days=190)
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "record_six_month_check", SIX_MONTHS, DATA_OFFICER)
    # Still closed to concerns while it waits for the twelve-month follow-up.
    with pytest.raises(KinflowError, match="not waiting for the message 'safeguarding_concern'"):
        raise_concern(runtime, session, case, "Reported after the six-month check")
    frozen_clock.advance(days=190)
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "record_twelve_month_follow_up", TWELVE_MONTHS, DATA_OFFICER)
    case = get_case(session, case.id)
    assert case.status == CaseStatus.COMPLETED
    assert workflow_of(runtime, session, case).data["pathway_result"] == "closed"


def test_a_concern_under_review_does_not_pose_as_the_cases_stage(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    raise_concern(runtime, session, case, "Sam came to school with a bruise on his arm.")
    assert get_case(session, case.id).stage == "Baseline meeting and whole-family assessment"
    do(runtime, session, case, REVIEW, CONTINUE, MANAGER)
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    do(runtime, session, case, "whole_family_assessment", ASSESSMENT, LEAD)
    do(runtime, session, case, "prepare_network", NETWORK, COORDINATOR)
    do(runtime, session, case, "arrange_conference", ARRANGEMENTS, COORDINATOR)
    do(runtime, session, case, "record_conference", CONFERENCE, COORDINATOR)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", NO_SUPPORT, COORDINATOR)
    assert open_tasks(session, case) == {}  # waiting for the review date
    raise_concern(runtime, session, case, "Jo says the family is struggling again.")
    assert set(open_tasks(session, case)) == {REVIEW}
    assert get_case(session, case.id).stage is None  # the board shows it as waiting
