"""Reading cases and tasks from the projections; nothing here touches workflow state."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.errors import CaseNotFound, TaskNotFound
from engine.models import Case, CaseStatus, HumanTask, TaskCandidate, TaskState


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id, populate_existing=True)
    if case is None:
        raise CaseNotFound(f"Case {case_id} does not exist.")
    return case


def get_task(session: Session, task_id: int) -> HumanTask:
    task = session.get(HumanTask, task_id, populate_existing=True)
    if task is None:
        raise TaskNotFound(f"Task {task_id} does not exist.")
    return task


def get_task_and_case(session: Session, task_id: int) -> tuple[HumanTask, Case]:
    """A task with its case, in one query (the first step of every task action)."""
    row = session.execute(
        select(HumanTask, Case)
        .join(Case, Case.id == HumanTask.case_id)
        .where(HumanTask.id == task_id)
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise TaskNotFound(f"Task {task_id} does not exist.")
    return row[0], row[1]


def list_tasks(
    session: Session,
    *,
    assignee: str | None = None,
    roles: Collection[str] | None = None,
    case_id: int | None = None,
    state: str | None = TaskState.READY,
    unassigned: bool = False,
    limit: int = 200,
    offset: int = 0,
) -> list[HumanTask]:
    """Tasks by assignee, candidate role, case and state, soonest due first."""
    query = select(HumanTask)
    if state is not None:
        query = query.where(HumanTask.state == state)
    if assignee is not None:
        query = query.where(HumanTask.assignee == assignee)
    if unassigned:
        query = query.where(HumanTask.assignee.is_(None))
    if case_id is not None:
        query = query.where(HumanTask.case_id == case_id)
    if roles is not None:
        by_role = select(TaskCandidate.task_id).where(TaskCandidate.role.in_(list(roles)))
        query = query.where(HumanTask.id.in_(by_role))
    query = query.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
    return list(session.scalars(query.limit(limit).offset(offset)))


def due_case_ids(session: Session, at: datetime | None = None) -> list[int]:
    """Active cases with a timer due at or before ``at`` (now by default), earliest first."""
    moment = at or clock.now()
    query = (
        select(Case.id)
        .where(Case.status == CaseStatus.ACTIVE, Case.next_wake_at <= moment)
        .order_by(Case.next_wake_at)
    )
    return list(session.scalars(query))
