"""The runtime API as workers use it: start a case, do its tasks, let time pass, cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.assignment import assign, claim, unclaim
from engine.chronology import case_events
from engine.errors import (
    CaseNotActive,
    ConcurrentChange,
    FormInvalid,
    NotAllowed,
    TaskAlreadyCompleted,
    TaskNotReady,
)
from engine.models import Case, CaseEvent, CaseStatus, HumanTask, TaskState
from engine.queries import due_case_ids, get_case, get_task, list_tasks
from engine.runtime import Runtime
from tests.people import COORDINATOR, MANAGER, OTHER_MANAGER, REFERRER

REQUEST = {"family_name": "Ashdown", "problems": ["school", "health"], "urgency": "routine"}


def only_task(runtime, session, case, **filters):
    tasks = list_tasks(session, case_id=case.id, **filters)
    assert len(tasks) == 1, [t.title for t in tasks]
    return tasks[0]


def kinds(session, case):
    query = select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    return list(session.scalars(query))


def test_two_lane_process_runs_from_start_to_end(session, runtime, two_lanes, frozen_clock):
    case = runtime.start_case(session, two_lanes, {}, REFERRER, title="Ashdown family")
    submit = only_task(runtime, session, case)
    assert (submit.title, submit.role, submit.form_key) == (
        "Submit the request",
        "referrer",
        "request",
    )
    assert submit.instructions.startswith("Describe the family")
    assert case.stage == "Submit the request"

    assert list_tasks(session, roles=["fgc_manager"]) == []
    runtime.complete_task(session, submit.id, REQUEST, REFERRER)

    review = only_task(runtime, session, case)
    assert review.candidate_groups == ["fgc_manager"]
    assert review.due_at == frozen_clock.now() + timedelta(days=2)
    assert list_tasks(session, roles=["fgc_manager"]) == [review]
    assert case.next_wake_at == frozen_clock.now() + timedelta(days=5)

    frozen_clock.advance(hours=3)
    runtime.complete_task(session, review.id, {"decision": "accept"}, MANAGER)

    case = get_case(session, case.id)
    assert case.status == CaseStatus.COMPLETED
    assert case.next_wake_at is None
    assert list_tasks(session, case_id=case.id) == []
    done = list_tasks(session, case_id=case.id, state=TaskState.COMPLETED)
    assert sorted((t.title, t.completed_by) for t in done) == [
        ("Review the request", MANAGER.username),
        ("Submit the request", REFERRER.username),
    ]
    assert kinds(session, case) == [
        "case_started",
        "task_ready",
        "task_completed",
        "task_ready",
        "task_completed",
        "case_completed",
    ]


def test_script_results_and_conditions_use_the_form_data(session, runtime, two_lanes):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    submit = only_task(runtime, session, case)
    one_problem = dict(REQUEST, problems=["school"])
    runtime.complete_task(session, submit.id, one_problem, REFERRER)
    review = only_task(runtime, session, case)
    runtime.complete_task(session, review.id, {"decision": "accept"}, MANAGER)
    # Accepted by the manager, but the diagram's condition needs two problems: declined path.
    assert get_case(session, case.id).status == CaseStatus.COMPLETED
    assert case_events(session, case.id)[-1].summary == "Case completed: Declined."


def test_accepted_with_two_problems_ends_accepted(session, runtime, two_lanes):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    runtime.complete_task(session, only_task(runtime, session, case).id, REQUEST, REFERRER)
    review = only_task(runtime, session, case)
    runtime.complete_task(session, review.id, {"decision": "accept"}, MANAGER)
    assert case_events(session, case.id)[-1].summary == "Case completed: Accepted."


def test_overdue_review_escalates_after_five_days(session, runtime, two_lanes, frozen_clock):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    runtime.complete_task(session, only_task(runtime, session, case).id, REQUEST, REFERRER)
    review = only_task(runtime, session, case)

    frozen_clock.advance(days=4, hours=23)
    assert due_case_ids(session) == []
    frozen_clock.advance(hours=1, seconds=1)
    assert due_case_ids(session) == [case.id]

    runtime.wake_case(session, case.id)
    assert get_task(session, review.id).state == TaskState.CANCELLED
    escalate = only_task(runtime, session, case)
    assert escalate.title == "Escalated review"
    assert due_case_ids(session) == []

    runtime.complete_task(session, escalate.id, {"decision": "decline"}, MANAGER)
    assert get_case(session, case.id).status == CaseStatus.COMPLETED


def test_form_errors_are_reported_per_field_and_change_nothing(session, runtime, two_lanes):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    submit = only_task(runtime, session, case)
    revision = case.revision

    with pytest.raises(FormInvalid) as caught:
        runtime.complete_task(session, submit.id, {"problems": ["alien"]}, REFERRER)

    assert caught.value.errors == {
        "family_name": "This field is required.",
        "problems.0": "Choose one of: crime, school, children_need_help, worklessness, "
        "domestic_abuse, health.",
        "urgency": "This field is required.",
    }
    assert get_task(session, submit.id).state == TaskState.READY
    assert get_case(session, case.id).revision == revision


def test_field_names_that_could_reach_the_sandbox_are_refused(session, runtime, two_lanes):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    submit = only_task(runtime, session, case)
    with pytest.raises(FormInvalid) as caught:
        runtime.complete_task(session, submit.id, dict(REQUEST, __builtins__={}), REFERRER)
    assert "__builtins__" in caught.value.errors


def test_a_worker_without_the_role_cannot_complete_or_claim(session, runtime, two_lanes):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    submit = only_task(runtime, session, case)
    with pytest.raises(NotAllowed, match="is for Referrer;"):
        runtime.complete_task(session, submit.id, REQUEST, COORDINATOR)
    with pytest.raises(NotAllowed):
        claim(session, submit.id, COORDINATOR)


def test_a_claimed_task_belongs_to_its_assignee(session, runtime, two_lanes):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    runtime.complete_task(session, only_task(runtime, session, case).id, REQUEST, REFERRER)
    review = only_task(runtime, session, case)

    claim(session, review.id, MANAGER)
    assert list_tasks(session, assignee=MANAGER.username) == [review]
    assert list_tasks(session, roles=["fgc_manager"], unassigned=True) == []
    with pytest.raises(ConcurrentChange):
        claim(session, review.id, OTHER_MANAGER)
    with pytest.raises(NotAllowed, match=MANAGER.username):
        runtime.complete_task(session, review.id, {"decision": "accept"}, OTHER_MANAGER)

    unclaim(session, review.id, MANAGER)
    assign(session, review.id, OTHER_MANAGER.username, MANAGER)
    assert get_task(session, review.id).assignee == OTHER_MANAGER.username
    runtime.complete_task(session, review.id, {"decision": "accept"}, OTHER_MANAGER)
    assert "task_assigned" in kinds(session, case)


def test_second_completion_of_a_task_is_refused(session, runtime, two_lanes):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    submit = only_task(runtime, session, case)
    runtime.complete_task(session, submit.id, REQUEST, REFERRER)
    with pytest.raises(TaskAlreadyCompleted, match="already completed"):
        runtime.complete_task(session, submit.id, REQUEST, REFERRER)


def test_a_case_continues_after_a_restart(session, sessions, runtime, two_lanes):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    runtime.complete_task(session, only_task(runtime, session, case).id, REQUEST, REFERRER)

    fresh_runtime = Runtime()  # nothing cached: state comes from the database alone
    with sessions() as fresh:
        review = only_task(fresh_runtime, fresh, case)
        fresh_runtime.complete_task(fresh, review.id, {"decision": "accept"}, MANAGER)
        assert get_case(fresh, case.id).status == CaseStatus.COMPLETED


def test_a_stale_cached_workflow_is_not_used(session, sessions, runtime, two_lanes):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    other_process = Runtime()
    with sessions() as other:
        submit = only_task(other_process, other, case)
        other_process.complete_task(other, submit.id, REQUEST, REFERRER)
    # This runtime still caches the case at its old revision; it must notice and reload.
    review = only_task(runtime, session, case)
    runtime.complete_task(session, review.id, {"decision": "accept"}, MANAGER)
    assert get_case(session, case.id).status == CaseStatus.COMPLETED


def test_cancelling_a_case_cancels_its_open_tasks(session, runtime, two_lanes):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    submit = only_task(runtime, session, case)

    runtime.cancel_case(session, case.id, "Consent withdrawn by the mother", MANAGER)

    case = get_case(session, case.id)
    assert case.status == CaseStatus.CANCELLED
    assert case.next_wake_at is None
    assert get_task(session, submit.id).state == TaskState.CANCELLED
    reasons = session.scalars(
        select(CaseEvent.summary).where(CaseEvent.kind == "case_cancelled")
    ).all()
    assert reasons == ["Case cancelled: Consent withdrawn by the mother"]
    with pytest.raises(TaskNotReady):
        runtime.complete_task(session, submit.id, REQUEST, REFERRER)
    with pytest.raises(CaseNotActive):
        runtime.wake_case(session, case.id)


def test_tasks_are_listed_soonest_due_first(session, runtime, two_lanes, frozen_clock):
    first = runtime.start_case(session, two_lanes, {}, REFERRER)
    runtime.complete_task(session, only_task(runtime, session, first).id, REQUEST, REFERRER)
    frozen_clock.advance(hours=1)
    second = runtime.start_case(session, two_lanes, {}, REFERRER)
    runtime.complete_task(session, only_task(runtime, session, second).id, REQUEST, REFERRER)

    inbox = list_tasks(session, roles=["fgc_manager"])
    assert [t.case_id for t in inbox] == [first.id, second.id]
    assert session.scalar(select(func.count()).select_from(Case)) == 2
    assert session.scalar(select(func.count()).select_from(HumanTask)) == 4
