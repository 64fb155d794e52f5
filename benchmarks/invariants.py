"""After a load run (or a crash): nothing acknowledged is lost, nothing is done twice, and every
case's projections agree with its saved workflow.

Usable from the benchmarks and from the tests: ``check`` returns the problems it found as
sentences (an empty list when everything holds) rather than raising at the first one, so a
report shows every inconsistency a run left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import Case, CaseEvent, CaseStatus, HumanTask, TaskState
from engine.projection import locate_stage, ready_ids
from engine.runtime import Runtime


def check(session: Session, runtime: Runtime, acknowledged: Iterable[int] = ()) -> list[str]:
    """Every problem found: lost or doubled completions, projections out of step."""
    return [
        *_acknowledged_present(session, set(acknowledged)),
        *_completed_once(session),
        *_projections_agree(session, runtime),
    ]


def _acknowledged_present(session: Session, acknowledged: set[int]) -> list[str]:
    if not acknowledged:
        return []
    query = select(HumanTask.id, HumanTask.state).where(HumanTask.id.in_(acknowledged))
    states = {task_id: state for task_id, state in session.execute(query)}
    return [
        f"task {task_id}: completion was acknowledged but the task is {states.get(task_id)}"
        for task_id in sorted(acknowledged)
        if states.get(task_id) != TaskState.COMPLETED
    ]


def _completed_once(session: Session) -> list[str]:
    """One ``task_completed`` chronology entry per completed task, and none for any other."""
    payloads = session.scalars(select(CaseEvent.payload).where(CaseEvent.kind == "task_completed"))
    entries = Counter(int(p["task_id"]) for p in payloads if p.get("task_id") is not None)
    completed = set(session.scalars(select(HumanTask.id).where(HumanTask.state == "completed")))
    problems = [
        f"task {task_id}: completed {count} times in the chronology"
        for task_id, count in sorted(entries.items())
        if count > 1
    ]
    problems += [
        f"task {task_id}: in the chronology as completed but the task is not"
        for task_id in sorted(entries.keys() - completed)
    ]
    problems += [
        f"task {task_id}: completed without a chronology entry"
        for task_id in sorted(completed - entries.keys())
    ]
    return problems


def _projections_agree(session: Session, runtime: Runtime) -> list[str]:
    """Open task rows and the stage, against the workflow each case would resume from."""
    open_rows: dict[int, list[str]] = {}
    for case_id, spiff_id in session.execute(
        select(HumanTask.case_id, HumanTask.spiff_task_id).where(HumanTask.state == TaskState.READY)
    ):
        open_rows.setdefault(case_id, []).append(spiff_id)
    problems: list[str] = []
    for case in session.scalars(select(Case).order_by(Case.id)):
        rows = open_rows.pop(case.id, [])
        if len(rows) != len(set(rows)):
            problems.append(f"case {case.id}: the same workflow task is open twice")
        if case.status != CaseStatus.ACTIVE:
            if rows:
                problems.append(f"case {case.id}: {case.status} but has open tasks")
            continue
        specs = runtime.store.version(session, case.version_id).specs
        workflow = runtime.codec.load_workflow(case.state, specs)
        ready = ready_ids(workflow)
        if ready != set(rows):
            problems.append(
                f"case {case.id}: workflow waits on {len(ready)} user tasks, "
                f"the task list shows {len(set(rows))} (missing {len(ready - set(rows))}, "
                f"extra {len(set(rows) - ready)})"
            )
        at = locate_stage(workflow)
        stage = at.name if at is not None else None
        if case.stage != stage:
            problems.append(f"case {case.id}: stage is {case.stage!r}, workflow is at {stage!r}")
    problems += [
        f"case {case_id}: open tasks of a case that does not exist" for case_id in open_rows
    ]
    return problems
