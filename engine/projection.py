"""Keeping the relational projections (tasks, stage, wake-up time) in step with a workflow.

Called after every engine step, inside the same transaction, so a list page never has to
deserialize a workflow and never sees a task the workflow no longer has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.defaults import CallActivity, EndEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from engine import clock
from engine.models import HumanTask, TaskCandidate, TaskState


def ready_user_tasks(workflow: BpmnWorkflow) -> list[Task]:
    """READY user tasks anywhere in the workflow, call activities and sub-processes included.

    ``get_tasks(manual=True)`` also returns manual and plain tasks, so filter by class.
    """
    return [
        t for t in workflow.get_tasks(state=SpiffState.READY) if isinstance(t.task_spec, UserTask)
    ]


def find_task(workflow: BpmnWorkflow, task_id: UUID | str) -> Task | None:
    """The task with this id, or None: SpiffWorkflow raises for a task it no longer has,
    and pruned history means that is normal."""
    try:
        return workflow.get_task_from_id(task_id if isinstance(task_id, UUID) else UUID(task_id))
    except TaskNotFoundException:
        return None


def ready_ids(workflow: BpmnWorkflow) -> set[str]:
    return {str(t.id) for t in ready_user_tasks(workflow)}


class TaskResolver(Protocol):
    """Turns a user task's deploy-time settings, which may be expressions, into values."""

    def due(self, task: Task, expression: str | None) -> datetime | None: ...

    def assignee(self, task: Task, value: str | None) -> str | None: ...


@dataclass(frozen=True)
class TaskChanges:
    created: list[dict[str, Any]]
    cancelled_titles: list[str]


_INSERT_TASKS = insert(HumanTask.__table__).returning(
    HumanTask.__table__.c.id, sort_by_parameter_order=True
)


def sync_tasks(
    session: Session,
    case_id: int,
    workflow: BpmnWorkflow,
    ready_before: set[str],
    settings: dict[str, dict[str, Any]],
    resolve: TaskResolver,
) -> TaskChanges:
    """Insert a row for each new READY user task; cancel rows whose task went away.

    The projection always matches the saved workflow, so comparing the workflow's ready tasks
    before and after the step tells what changed without reading the task table back.
    ``settings`` are the version's user-task settings (process id -> element id -> values).
    """
    ready = {str(t.id): t for t in ready_user_tasks(workflow)}
    now = clock.now()
    created = [
        new_task_row(case_id, task, task_settings(settings, task), now, resolve)
        for spiff_id, task in ready.items()
        if spiff_id not in ready_before
    ]
    if created:
        ids = session.connection().scalars(_INSERT_TASKS, created)
        candidates = []
        for row, task_id in zip(created, ids, strict=True):
            row["id"] = task_id
            candidates += [{"task_id": task_id, "role": role} for role in row["candidate_groups"]]
        if candidates:
            session.connection().execute(insert(TaskCandidate.__table__), candidates)
    gone = ready_before - ready.keys()
    cancelled: list[str] = []
    if gone:
        cancelled = list(
            session.scalars(
                update(HumanTask)
                .where(
                    HumanTask.case_id == case_id,
                    HumanTask.spiff_task_id.in_(gone),
                    HumanTask.state == TaskState.READY,
                )
                .values(state=TaskState.CANCELLED, completed_at=now)
                .returning(HumanTask.title)
                .execution_options(synchronize_session=False)
            )
        )
    return TaskChanges(created, cancelled)


def task_settings(settings: dict[str, dict[str, Any]], task: Task) -> dict[str, Any]:
    """A user task's deploy-time settings; tasks of embedded sub-processes sit under their
    enclosing process, so fall back to a search by element id."""
    element = task.task_spec.bpmn_id
    found = settings.get(task.workflow.spec.name, {}).get(element)
    if found is None:
        found = next((p[element] for p in settings.values() if element in p), {})
    return found


def new_task_row(
    case_id: int,
    task: Task,
    props: dict[str, Any],
    now: datetime,
    resolve: TaskResolver,
) -> dict[str, Any]:
    role = props.get("role")
    groups = {g for g in props.get("candidate_groups", ()) if g}
    if role:
        groups.add(role)
    priority = props.get("priority")
    return {
        "case_id": case_id,
        "spiff_task_id": str(task.id),
        "process_id": task.workflow.spec.name,
        "element_id": task.task_spec.bpmn_id,
        "title": task.task_spec.bpmn_name or task.task_spec.bpmn_id,
        "instructions": props.get("documentation") or task.task_spec.documentation,
        "lane": props.get("lane") or task.task_spec.lane,
        "role": role or (sorted(groups)[0] if groups else None),
        "candidate_groups": sorted(groups),
        "assignee": resolve.assignee(task, props.get("assignee")),
        "state": TaskState.READY,
        "form_key": props.get("form_key"),
        "priority": int(priority) if priority and str(priority).isdigit() else None,
        "due_at": resolve.due(task, props.get("due_date")),
        "follow_up_at": resolve.due(task, props.get("follow_up_date")),
        "created_at": now,
    }


def current_stage(workflow: BpmnWorkflow) -> str | None:
    """The name of the stage a case is at (``locate_stage``), as ``Case.stage`` holds it."""
    stage = locate_stage(workflow)
    return stage.name if stage is not None else None


@dataclass(frozen=True)
class StageAt:
    """Where a case is: the stage's name and, when the stage is a call activity, the process
    it calls (``stage_visits`` key on it, as names may change between versions)."""

    name: str
    process_id: str | None


def locate_stage(workflow: BpmnWorkflow) -> StageAt | None:
    """The stage a case is at: the innermost named call activity holding a waiting user task.

    In a process without call activities each task is its own stage. In one with them, a task
    outside every stage (a safeguarding review beside the pathway) is not a stage: a case whose
    only waiting tasks are such has no stage, like a case waiting for a review date.
    """
    ready = ready_user_tasks(workflow)
    for task in ready:
        sub = task.workflow
        while sub is not workflow and sub.parent_task_id is not None:
            parent = find_task(workflow, sub.parent_task_id)
            if parent is None:
                break
            if isinstance(parent.task_spec, CallActivity) and parent.task_spec.bpmn_name:
                return StageAt(parent.task_spec.bpmn_name, parent.task_spec.spec)
            sub = parent.workflow
    if ready and not has_stages(workflow) and ready[0].task_spec.bpmn_name:
        return StageAt(ready[0].task_spec.bpmn_name, None)
    return None


def has_stages(workflow: BpmnWorkflow) -> bool:
    """Whether the workflow's process has call activities, the stages ``stage_visits`` record."""
    return any(isinstance(s, CallActivity) for s in workflow.spec.task_specs.values())


def ending(workflow: BpmnWorkflow) -> str | None:
    """The name of the end event a finished case reached ("Declined", "Plan in place")."""
    ends = [
        t
        for t in workflow.tasks.values()
        if isinstance(t.task_spec, EndEvent) and t.state == SpiffState.COMPLETED
    ]
    if not ends:
        return None
    last = max(ends, key=lambda t: t.last_state_change)
    return last.task_spec.bpmn_name or last.task_spec.bpmn_id


_TIMER_TYPES = frozenset(
    {"TimeDateEventDefinition", "DurationTimerEventDefinition", "CycleTimerEventDefinition"}
)


def next_wake_at(workflow: BpmnWorkflow) -> datetime | None:
    """The earliest moment a pending timer of the workflow falls due."""
    moments = []
    for pending in workflow.waiting_events():
        value = pending.value
        if isinstance(value, dict):  # cycle timers keep their next firing under "next"
            value = value.get("next")
        if isinstance(value, str) and pending.event_type in _TIMER_TYPES:
            moments.append(TimerEventDefinition.get_datetime(value))
    return min(moments) if moments else None


def due_moment(value: Any, start: datetime) -> datetime | None:
    """Turn a due-date expression's value (ISO duration, ISO date/time, datetime) into a time."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=start.tzinfo)
    if isinstance(value, timedelta):
        return start + value
    text = str(value).strip()
    if text.upper().startswith("P"):
        parsed = TimerEventDefinition.parse_iso_duration(text)
        return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)
    return TimerEventDefinition.get_datetime(text)
