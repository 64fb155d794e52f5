"""A case can go round a review loop for years without slowing down or stalling."""

from __future__ import annotations

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.camunda.parser import CamundaParser

from engine import history
from engine.deploy import deploy_paths
from engine.models import CaseStatus
from engine.projection import ready_user_tasks
from engine.queries import get_case, list_tasks
from tests.conftest import FIXTURES
from tests.people import COORDINATOR, OWNER

LOOP = FIXTURES / "review_loop"


@pytest.fixture
def review_loop(session, runtime):
    return deploy_paths(session, [LOOP], OWNER.username, runtime.codec, LOOP / "forms")[0].version


def test_two_hundred_and_fifty_reviews_keep_the_case_small(session, runtime, review_loop):
    case = runtime.start_case(session, review_loop, {}, COORDINATOR)
    sizes = {}
    for n in range(1, 251):
        task = list_tasks(session, case_id=case.id)[0]
        answer = {"another_review": True, "progress": f"Review {n}"}
        if n == 7:
            answer["first_concern"] = "School attendance"
        runtime.complete_task(session, task.id, answer, COORDINATOR)
        sizes[n] = len(get_case(session, case.id).state)

    assert sizes[250] < sizes[2] * 1.2
    last = list_tasks(session, case_id=case.id)[0]
    runtime.complete_task(session, last.id, {"another_review": False}, COORDINATOR)
    assert get_case(session, case.id).status == CaseStatus.COMPLETED


def test_pruning_keeps_the_data_and_the_waiting_task():
    parser = CamundaParser()
    parser.add_bpmn_file(str(LOOP / "review_loop.bpmn"))
    workflow = BpmnWorkflow(
        parser.get_spec("review_loop"), parser.get_subprocess_specs("review_loop")
    )
    workflow.do_engine_steps()
    for n in range(30):
        task = ready_user_tasks(workflow)[0]
        task.data.update({"another_review": True, f"note_{n % 3}": n})
        task.run()
        workflow.do_engine_steps()
        history.prune(workflow)

    assert len(workflow.tasks) < 12
    [waiting] = ready_user_tasks(workflow)
    assert waiting.data["note_0"] == 27 and waiting.data["note_2"] == 29
    waiting.data["another_review"] = False
    waiting.run()
    workflow.do_engine_steps()
    assert workflow.completed
    assert workflow.data["note_1"] == 28


def test_a_finished_workflow_is_left_alone():
    parser = CamundaParser()
    parser.add_bpmn_file(str(LOOP / "review_loop.bpmn"))
    workflow = BpmnWorkflow(
        parser.get_spec("review_loop"), parser.get_subprocess_specs("review_loop")
    )
    workflow.do_engine_steps()
    task = ready_user_tasks(workflow)[0]
    task.data["another_review"] = False
    task.run()
    workflow.do_engine_steps()
    assert history.prune(workflow) == 0
