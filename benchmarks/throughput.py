"""Cases started and run to completion per second (ten user tasks each)."""

from __future__ import annotations

import time

from benchmarks.setup import COORDINATOR, database, deploy
from benchmarks.task_cost import DATA
from engine.queries import list_tasks
from engine.runtime import Runtime

CASES = 40


def cases_per_second(kind: str, cases: int = CASES) -> float:
    runtime = Runtime()
    with database(kind) as sessions:
        version = deploy(sessions, runtime, "ten_tasks")
        start = time.perf_counter()
        for _ in range(cases):
            with sessions() as session:
                case = runtime.start_case(session, version, {}, COORDINATOR)
                for _ in range(10):
                    task = list_tasks(session, case_id=case.id)[0]
                    runtime.complete_task(session, task.id, DATA, COORDINATOR)
        return round(cases / (time.perf_counter() - start), 1)


def run(postgres: bool) -> dict:
    kinds = ["sqlite", "postgresql"] if postgres else ["sqlite"]
    return {f"{kind}_cases_per_second": cases_per_second(kind) for kind in kinds}
