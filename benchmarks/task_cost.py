"""Completing one task through Kinflow versus the engine's own round trip on the same diagram.

The engine's round trip is what any persistent use of SpiffWorkflow must do per task:
deserialize the workflow (spec included, as the stock serializer writes it), run the task and
the engine steps after it, serialize again. Kinflow adds loading, checks, form validation,
projections, chronology and a database commit, and must cost no more than twice that.
"""

from __future__ import annotations

from functools import partial

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG

from benchmarks.setup import COORDINATOR, DIAGRAMS, database, deploy
from benchmarks.timing import median_ms, timed
from engine.projection import ready_user_tasks
from engine.queries import list_tasks
from engine.runtime import Runtime

DATA = {"note": "Met the family at home; grandmother will attend.", "visited": True}
CASES = 30


def bare_round_trip(cases: int = CASES) -> list[float]:
    parser = CamundaParser()
    parser.add_bpmn_file(str(DIAGRAMS / "ten_tasks" / "ten_tasks.bpmn"))
    spec, subs = parser.get_spec("ten_tasks"), parser.get_subprocess_specs("ten_tasks")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
    samples = []
    for _ in range(cases):
        workflow = BpmnWorkflow(spec, subs)
        workflow.do_engine_steps()
        state = serializer.serialize_json(workflow)
        for _ in range(10):

            def step() -> None:
                nonlocal state
                wf = serializer.deserialize_json(state)
                task = ready_user_tasks(wf)[0]
                task.data.update(DATA)
                task.run()
                wf.do_engine_steps()
                state = serializer.serialize_json(wf)

            samples.append(timed(step))
    return samples


def kinflow_complete(kind: str, cache_size: int, cases: int = CASES) -> list[float]:
    runtime = Runtime(cache_size=cache_size)
    samples = []
    with database(kind) as sessions:
        version = deploy(sessions, runtime, "ten_tasks")
        for _ in range(cases):
            with sessions() as session:
                case = runtime.start_case(session, version, {}, COORDINATOR)
            for _ in range(10):
                with sessions() as session:
                    task_id = list_tasks(session, case_id=case.id)[0].id
                with sessions() as session:
                    samples.append(
                        timed(partial(runtime.complete_task, session, task_id, DATA, COORDINATOR))
                    )
    return samples


def run(postgres: bool, rounds: int = 3) -> dict:
    """Interleave the measurements over several rounds so drift on a shared machine hits
    both sides of the ratio alike; report medians over all samples."""
    kinds = ["sqlite", "postgresql"] if postgres else ["sqlite"]
    bare: list[float] = []
    warm: dict[str, list[float]] = {k: [] for k in kinds}
    cold: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(rounds):
        bare += bare_round_trip()
        for kind in kinds:
            warm[kind] += kinflow_complete(kind, cache_size=2000)
            cold[kind] += kinflow_complete(kind, cache_size=0)
    reference = median_ms(bare)
    results: dict = {"bare_round_trip_ms": reference}
    for kind in kinds:
        w, c = median_ms(warm[kind]), median_ms(cold[kind])
        results[kind] = {
            "complete_task_ms": w,
            "ratio": round(w / reference, 2),
            "complete_task_without_cache_ms": c,
            "ratio_without_cache": round(c / reference, 2),
        }
    return results
