"""The cost of one step after many passes round a review loop.

SpiffWorkflow keeps all history and hangs each pass one level deeper in the task tree, so its
own step cost grows with the number of passes; Kinflow prunes finished history after each step.
"""

from __future__ import annotations

from functools import partial

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.camunda.parser import CamundaParser

from benchmarks.setup import COORDINATOR, DIAGRAMS, database, deploy
from benchmarks.timing import median_ms, timed
from engine.projection import ready_user_tasks
from engine.queries import list_tasks
from engine.runtime import Runtime
from engine.state import StateCodec

PASSES = (1, 10, 50, 100)
CASES = 5
AGAIN = {"another_review": True, "progress": "Aunt is doing the school run."}


def kinflow_steps(kind: str) -> dict[int, float]:
    runtime = Runtime(cache_size=0)  # deserialize every time: history size shows fully
    samples: dict[int, list[float]] = {n: [] for n in PASSES}
    with database(kind) as sessions:
        version = deploy(sessions, runtime, "review_loop")
        for _ in range(CASES):
            with sessions() as session:
                case = runtime.start_case(session, version, {}, COORDINATOR)
            for n in range(1, max(PASSES) + 1):
                with sessions() as session:
                    task_id = list_tasks(session, case_id=case.id)[0].id
                with sessions() as session:
                    took = timed(
                        partial(runtime.complete_task, session, task_id, AGAIN, COORDINATOR)
                    )
                if n in samples:
                    samples[n].append(took)
    return {n: median_ms(s) for n, s in samples.items()}


def library_steps() -> dict[int, float]:
    """The same loop in bare SpiffWorkflow: deserialize, step, serialize, history kept."""
    parser = CamundaParser()
    parser.add_bpmn_file(str(DIAGRAMS / "review_loop" / "review_loop.bpmn"))
    specs = parser.get_spec("review_loop"), parser.get_subprocess_specs("review_loop")
    codec = StateCodec()
    samples: dict[int, list[float]] = {n: [] for n in PASSES}
    for _ in range(CASES):
        workflow = BpmnWorkflow(*specs)
        workflow.do_engine_steps()
        state = codec.dump_workflow(workflow)
        for n in range(1, max(PASSES) + 1):

            def step() -> None:
                nonlocal state
                wf = codec.load_workflow(state, specs)
                task = ready_user_tasks(wf)[0]
                task.data.update(AGAIN)
                task.run()
                wf.do_engine_steps()
                state = codec.dump_workflow(wf)

            took = timed(step)
            if n in samples:
                samples[n].append(took)
    return {n: median_ms(s) for n, s in samples.items()}


def run(postgres: bool) -> dict:
    kinflow = kinflow_steps("sqlite")
    library = library_steps()
    return {
        "passes": list(PASSES),
        "kinflow_sqlite_ms": kinflow,
        "kinflow_ratio_100_to_1": round(kinflow[100] / kinflow[1], 2),
        "library_ms": library,
        "library_ratio_100_to_1": round(library[100] / library[1], 2),
    }
