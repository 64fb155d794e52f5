"""What the API sends: tasks, cases and the family's record as plain JSON, dates in ISO 8601.

Record rows are written out column by column, and ``webapp.api.schemas`` describes them from
the same columns, so the OpenAPI document cannot drift from what is sent.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column
from sqlalchemy.orm import Session

from engine.chronology import case_events, jsonable
from engine.family_record import family_record
from engine.inbox import InboxRow, due_state
from engine.models import Base, Case, CaseEvent, HumanTask, TaskState
from engine.queries import list_tasks
from engine.record.models import (
    ChildFollowUp,
    Closure,
    ConferenceArrangement,
    FamilyPlan,
    NetworkMember,
    Outcome,
    Person,
    PlanAction,
    Referral,
    Review,
    SafeguardingConcern,
    SupportPackage,
)
from webapp.extensions import runtime

# Columns that only join a row to its case or plan: the JSON nests them instead.
_LINKS = frozenset({"case_id", "plan_id"})

# The family's record, in the order the case page reads it; lists are sorted by id.
RECORD_LISTS: dict[str, type[Base]] = {
    "people": Person,
    "network": NetworkMember,
    "support_packages": SupportPackage,
    "reviews": Review,
    "outcomes": Outcome,
    "child_follow_ups": ChildFollowUp,
    "safeguarding_concerns": SafeguardingConcern,
}


def record_columns(model: type[Base]) -> list[Column]:
    """The columns of a record table the API shows."""
    return [c for c in model.__table__.columns if c.key not in _LINKS]


def iso(value: Any) -> Any:
    """Dates and moments as ISO 8601 strings, amounts as numbers; other values unchanged."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def row_json(row: Base) -> dict[str, Any]:
    return {c.key: iso(getattr(row, c.key)) for c in record_columns(type(row))}


def task_json(task: HumanTask, due: str | None = None) -> dict[str, Any]:
    """A task; ``due`` is its due state when the caller has worked it out already."""
    if due is None and task.state == TaskState.READY:
        due = due_state(task.due_at)
    return {
        "id": task.id,
        "case_id": task.case_id,
        "title": task.title,
        "instructions": task.instructions,
        "process_id": task.process_id,
        "element_id": task.element_id,
        "role": task.role,
        "candidate_groups": list(task.candidate_groups or []),
        "assignee": task.assignee,
        "state": task.state,
        "form_key": task.form_key,
        "priority": task.priority,
        "due_at": iso(task.due_at),
        "due_state": due,
        "follow_up_at": iso(task.follow_up_at),
        "created_at": iso(task.created_at),
        "claimed_at": iso(task.claimed_at),
        "completed_at": iso(task.completed_at),
        "completed_by": task.completed_by,
    }


def inbox_row_json(row: InboxRow) -> dict[str, Any]:
    # The inbox query already judged the due state against one moment for the whole page.
    found = task_json(row.task, row.due_state)
    found.update(
        family_name=row.family_name,
        stage=row.stage,
        referral_type=row.referral_type,
        urgency=row.urgency,
        needs_reassignment=row.needs_reassignment,
    )
    return found


def case_json(session: Session, case: Case) -> dict[str, Any]:
    """The case itself: which process, where it stands, who opened it."""
    version = runtime().store.version(session, case.version_id)
    return {
        "id": case.id,
        "title": case.title,
        "status": case.status,
        "stage": case.stage,
        "process_id": version.process_id,
        "process_name": version.name,
        "team_id": case.team_id,
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "created_by": case.created_by,
    }


def open_tasks_json(session: Session, case_id: int) -> list[dict[str, Any]]:
    return [task_json(t) for t in list_tasks(session, case_id=case_id)]


def event_json(event: CaseEvent) -> dict[str, Any]:
    # The payload repeats form data the record already holds; the sentence is the chronology.
    return {
        "id": event.id,
        "at": iso(event.at),
        "actor": event.actor,
        "kind": event.kind,
        "summary": event.summary,
    }


def record_json(session: Session, case: Case) -> dict[str, Any]:
    """The family's record, open tasks and chronology: everything the case page shows.

    Read through ``engine.family_record`` like the case page; lists come oldest first here, in
    the order they were recorded, which is what a receiving system appends in.
    """
    record = family_record(session, case.id)
    lists = {
        "people": record.people,
        "network": record.network,
        "support_packages": record.packages,
        "reviews": record.reviews,
        "outcomes": record.outcomes,
        "child_follow_ups": record.follow_ups,
        "safeguarding_concerns": record.concerns,
    }
    document: dict[str, Any] = {
        "case": case_json(session, case),
        "referral": row_json(record.referral) if record.referral is not None else None,
        "conference": row_json(record.conference) if record.conference is not None else None,
    }
    for name in RECORD_LISTS:
        document[name] = [row_json(r) for r in sorted(lists[name], key=lambda r: r.id)]
    document["plan"] = plan_json(record.current_plan)
    document["closure"] = row_json(record.closure) if record.closure is not None else None
    document["open_tasks"] = open_tasks_json(session, case.id)
    document["chronology"] = [event_json(e) for e in case_events(session, case.id)]
    return jsonable(document)


def plan_json(plan: FamilyPlan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return row_json(plan) | {"actions": [row_json(a) for a in plan.actions]}


# Every record table the API shows, for the schemas.
RECORD_MODELS: tuple[type[Base], ...] = (
    Referral,
    ConferenceArrangement,
    *RECORD_LISTS.values(),
    FamilyPlan,
    PlanAction,
    Closure,
)
