"""Tasks inside embedded sub-processes and call activities; messages; racing workers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from engine.deploy import deploy_paths
from engine.errors import KinflowError, TaskAlreadyCompleted
from engine.models import CaseEvent, CaseStatus, HumanTask, TaskState
from engine.queries import get_case, get_task, list_tasks
from engine.runtime import Runtime
from tests.conftest import FIXTURES
from tests.people import COORDINATOR, OWNER, REFERRER
from tests.test_runtime import REQUEST, only_task

NETWORK = {"members": [{"name": "Nan Ashdown", "relationship": "grandmother"}]}
PLAN = {"actions": ["Nan does the school run on Mondays"], "review_date": "2026-06-01"}


@pytest.fixture
def nested(session, runtime):
    folder = FIXTURES / "nested"
    return deploy_paths(session, [folder], OWNER.username, runtime.codec, folder / "forms")[
        0
    ].version


def test_only_the_entry_process_becomes_a_version(nested):
    assert nested.process_id == "nested_pathway"
    assert set(nested.files) == {
        "pathway.bpmn",
        "conference.bpmn",
        "forms/network.json",
        "forms/plan.json",
    }


def test_tasks_in_sub_processes_and_call_activities_work_like_any_other(session, runtime, nested):
    case = runtime.start_case(session, nested, {}, COORDINATOR)
    network = only_task(runtime, session, case)
    assert (network.title, network.process_id) == ("Map the family network", "pathway")
    assert list_tasks(session, roles=["coordinator"]) == [network]

    runtime.complete_task(session, network.id, NETWORK, COORDINATOR)
    plan = only_task(runtime, session, case)
    assert (plan.title, plan.process_id) == ("Record the family plan", "hold_conference")
    assert get_case(session, case.id).stage == "Family group conference"

    runtime.complete_task(session, plan.id, PLAN, COORDINATOR)
    assert get_case(session, case.id).status == CaseStatus.ACTIVE  # waits for a message

    runtime.send_message(session, case.id, "plan_signed", {"signed_by": "Nan Ashdown"}, REFERRER)
    assert get_case(session, case.id).status == CaseStatus.COMPLETED


def test_a_message_the_case_is_not_waiting_for_is_refused(session, runtime, nested):
    case = runtime.start_case(session, nested, {}, COORDINATOR)
    revision = case.revision
    with pytest.raises(KinflowError, match="not waiting for the message 'plan_signed'"):
        runtime.send_message(session, case.id, "plan_signed", {}, REFERRER)
    assert get_case(session, case.id).revision == revision


def test_withdrawing_consent_cancels_tasks_inside_call_activities(session, runtime, nested):
    case = runtime.start_case(session, nested, {}, COORDINATOR)
    runtime.complete_task(session, only_task(runtime, session, case).id, NETWORK, COORDINATOR)
    plan = only_task(runtime, session, case)

    runtime.send_message(session, case.id, "consent_withdrawn", {"reason": "Mother"}, REFERRER)

    assert get_task(session, plan.id).state == TaskState.CANCELLED
    assert list_tasks(session, case_id=case.id) == []
    assert get_case(session, case.id).status == CaseStatus.COMPLETED


def _race(sessions, runtimes, task_id, data, actor):
    """Two workers press 'complete' on the same task at the same moment."""
    barrier = threading.Barrier(len(runtimes))
    outcomes: list[object] = []

    def worker(rt: Runtime) -> None:
        with sessions() as own:
            barrier.wait()
            try:
                rt.complete_task(own, task_id, data, actor)
                outcomes.append("done")
            except TaskAlreadyCompleted as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=worker, args=(rt,)) for rt in runtimes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.parametrize("shared_cache", [True, False], ids=["one-process", "two-processes"])
def test_two_workers_completing_one_task_exactly_one_succeeds(
    session, sessions, runtime, two_lanes, shared_cache
):
    for _ in range(5):
        case = runtime.start_case(session, two_lanes, {}, REFERRER)
        submit = only_task(runtime, session, case)
        runtimes = [runtime, runtime] if shared_cache else [runtime, Runtime()]

        outcomes = _race(sessions, runtimes, submit.id, REQUEST, REFERRER)

        assert outcomes.count("done") == 1, outcomes
        [refused] = [o for o in outcomes if o != "done"]
        assert "already completed" in str(refused)
        session.commit()  # end this session's read snapshot so it sees the workers' writes
        completions = select(func.count()).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == "task_completed"
        )
        assert session.scalar(completions) == 1
        reviews = select(func.count()).where(
            HumanTask.case_id == case.id, HumanTask.title == "Review the request"
        )
        assert session.scalar(reviews) == 1
        # The case is consistent: the winner's step is saved and can be continued.
        review = only_task(runtime, session, case)
        assert review.state == TaskState.READY
