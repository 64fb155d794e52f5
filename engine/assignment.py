"""Who holds a task: claim, unclaim, delegate and reassign (one task, or all of a person's).

Each is a compare-and-set on the assignee the caller saw, so two people claiming the same task
at once cannot both win. Assignment never touches the workflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Select, exists, func, literal, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.functions import FunctionElement

from engine import clock
from engine.access import same_team
from engine.accounts import User, find_user
from engine.actors import Actor
from engine.chronology import EventLog
from engine.db import begin_write
from engine.errors import (
    ConcurrentChange,
    KinflowError,
    NotAllowed,
    TaskAlreadyCompleted,
    TaskNotReady,
)
from engine.models import Case, HumanTask, TaskCandidate, TaskState
from engine.queries import get_task
from engine.roles import MANAGING_ROLES


def ready_task(session: Session, task_id: int) -> HumanTask:
    """The task, if it is still waiting for someone; otherwise say why not."""
    return check_ready(get_task(session, task_id))


def check_ready(task: HumanTask) -> HumanTask:
    if task.state == TaskState.COMPLETED:
        raise TaskAlreadyCompleted(
            f"Task '{task.title}' was already completed by {task.completed_by}."
        )
    if task.state != TaskState.READY:
        raise TaskNotReady(f"Task '{task.title}' is {task.state}; it can no longer be done.")
    return task


def check_may_do(task: HumanTask, actor: Actor) -> None:
    """Only the assignee, or (while unassigned) someone with a candidate role, may do a task."""
    if task.assignee is not None and task.assignee != actor.username:
        raise NotAllowed(f"Task '{task.title}' is assigned to {task.assignee}.")
    if task.assignee is None and not actor.has_any_role(task.candidate_groups):
        raise NotAllowed(f"Task '{task.title}' is for {task.waiting_for}; you cannot do it.")


def claim(session: Session, task_id: int, actor: Actor) -> HumanTask:
    """Take an unassigned task for yourself."""
    begin_write(session)
    return claim_read(session, ready_task(session, task_id), actor)


def claim_read(session: Session, task: HumanTask, actor: Actor) -> HumanTask:
    """``claim`` of a task already read in a write transaction (``begin_write``); commits.

    For a caller that chose the task itself (``engine.next_task``, which locks the row first):
    the checks, the compare-and-set and the chronology are those of every claim.
    """
    check_ready(task)
    if not actor.has_any_role(task.candidate_groups):
        raise NotAllowed(f"Task '{task.title}' is for {task.waiting_for}; you cannot claim it.")
    if task.assignee is not None:
        raise ConcurrentChange(f"Task '{task.title}' was already claimed by {task.assignee}.")
    return _set_assignee(session, task, actor.username, actor, f"{actor.username} claimed")


def unclaim(session: Session, task_id: int, actor: Actor) -> HumanTask:
    """Give a task you hold back to everyone with its roles."""
    begin_write(session)
    task = ready_task(session, task_id)
    if task.assignee != actor.username:
        raise NotAllowed(f"Task '{task.title}' is not assigned to you.")
    return _set_assignee(session, task, None, actor, f"{actor.username} gave back")


def assign(session: Session, task_id: int, assignee: str | None, actor: Actor) -> HumanTask:
    """Hand a task to a named person: delegation by its holder, or a manager's reassignment."""
    begin_write(session)
    task = ready_task(session, task_id)
    managing = actor.has_any_role(MANAGING_ROLES)
    if task.assignee not in (None, actor.username) and not managing:
        raise NotAllowed(f"Task '{task.title}' is assigned to {task.assignee}.")
    if task.assignee is None and not (managing or actor.has_any_role(task.candidate_groups)):
        raise NotAllowed(f"Task '{task.title}' is for {task.waiting_for}.")
    verb = f"{actor.username} assigned" if assignee else f"{actor.username} unassigned"
    return _set_assignee(session, task, assignee, actor, verb)


def _set_assignee(
    session: Session, task: HumanTask, assignee: str | None, actor: Actor, verb: str
) -> HumanTask:
    seen = task.assignee
    now = clock.now()
    changed = session.execute(
        update(HumanTask)
        .where(
            HumanTask.id == task.id,
            HumanTask.state == TaskState.READY,
            HumanTask.assignee.is_(None) if seen is None else HumanTask.assignee == seen,
        )
        .values(assignee=assignee, claimed_at=now if assignee else None)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        session.rollback()
        raise ConcurrentChange(f"Task '{task.title}' was just claimed or changed by someone else.")
    to = f" to {assignee}" if assignee and assignee != actor.username else ""
    log = EventLog(task.case_id)
    log.add(
        actor.username,
        "task_assigned",
        f"{verb} '{task.title}'{to}.",
        task_id=task.id,
        assignee=assignee,
    )
    log.write(session)
    session.commit()
    set_committed_value(task, "assignee", assignee)
    set_committed_value(task, "claimed_at", now if assignee else None)
    return task


def reassign_all(
    session: Session,
    from_username: str,
    to_username: str | None,
    actor: Actor,
    team_id: int | None,
) -> int:
    """Move every open task ``from_username`` holds on the team's cases to ``to_username``.

    For a manager covering an absent or departed worker: all or nothing, in one transaction,
    each task recorded in its case's chronology. ``team_id`` is the manager's team; tasks the
    person holds on other teams' cases stay where they are. ``to_username`` None gives the
    tasks back to everyone with their roles. Returns how many tasks moved. Commits.
    """
    if not actor.has_any_role(MANAGING_ROLES):
        raise NotAllowed("Only FGC managers and admins can reassign someone's tasks.")
    source = (from_username or "").strip().lower()
    target = to_username.strip().lower() if to_username else None
    if not source:
        raise KinflowError("from: choose whose tasks to reassign.")
    if target == source:
        raise KinflowError("to: choose someone other than the person who holds the tasks.")
    begin_write(session)
    if target is not None:
        holder = find_user(session, target)
        if holder is None or not holder.active:
            session.rollback()
            raise KinflowError("to: choose an active user to take the tasks.")
    tasks = list(
        session.scalars(
            select(HumanTask)
            .where(
                HumanTask.assignee == source,
                HumanTask.state == TaskState.READY,
                HumanTask.case_id.in_(_team_cases(team_id)),
            )
            .order_by(HumanTask.case_id, HumanTask.id)
            .execution_options(populate_existing=True)
        )
    )
    if not tasks:
        session.rollback()
        return 0
    now = clock.now()
    changed = session.execute(
        update(HumanTask)
        .where(
            HumanTask.id.in_([t.id for t in tasks]),
            HumanTask.state == TaskState.READY,
            HumanTask.assignee == source,
        )
        .values(assignee=target, claimed_at=now if target else None)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != len(tasks):
        session.rollback()
        raise ConcurrentChange(
            f"Some of {source}'s tasks were just completed or changed; nothing was reassigned. "
            "Try again."
        )
    _record_reassignments(session, tasks, source, target, actor)
    session.commit()
    for task in tasks:
        set_committed_value(task, "assignee", target)
        set_committed_value(task, "claimed_at", now if target else None)
    return len(tasks)


def offered_to(roles: list[str]) -> ColumnElement[bool]:
    """A condition over ``HumanTask``: one of ``roles`` is among the task's candidate groups.

    Meant as a per-task check once an index has found the tasks (the inbox's scopes).
    """
    return OfferedTo(HumanTask.candidate_groups, *(literal(role) for role in roles))


class OfferedTo(FunctionElement[bool]):
    """``offered_to``, compiled per database to what each does fastest, task by task.

    SQLite probes ``task_candidates`` by primary key without reading the task. PostgreSQL
    would hash-join all of ``task_candidates`` (every task ever offered to the role, done or
    not) rather than probe it, so there the task's own ``candidate_groups`` list is read.
    """

    type = Boolean()
    name = "offered_to"
    inherit_cache = True


@compiles(OfferedTo)
def _offered_by_candidates(element: OfferedTo, compiler: Any, **kw: Any) -> str:
    _, *roles = element.clauses
    offered = exists().where(TaskCandidate.task_id == HumanTask.id, TaskCandidate.role.in_(roles))
    return compiler.process(offered, **kw)


@compiles(OfferedTo, "postgresql")
def _offered_on_postgresql(element: OfferedTo, compiler: Any, **kw: Any) -> str:
    groups, *roles = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(CAST({groups} AS JSONB) ?| CAST(ARRAY[{', '.join(roles)}] AS TEXT[]))"


@dataclass(frozen=True)
class TaskHolder:
    """A member of a team who holds open tasks (for "reassign all of X's tasks")."""

    username: str
    display_name: str
    active: bool
    open_tasks: int


def task_holders(session: Session, team_id: int | None) -> list[TaskHolder]:
    """The team's members holding ready tasks, deactivated accounts included, with how many.

    Counted per member on the (assignee, state) index alone, without reading the tasks, so
    it includes any tasks they hold on other teams' cases (which ``reassign_all`` leaves).
    """
    held = (
        select(func.count())
        .where(HumanTask.assignee == User.username, HumanTask.state == TaskState.READY)
        .scalar_subquery()
    )
    query = (
        select(User.username, User.display_name, User.active, held)
        .where(same_team(User.team_id, team_id))
        .order_by(User.display_name, User.username)
    )
    return [
        TaskHolder(name, display, bool(active), count)
        for name, display, active, count in session.execute(query)
        if count
    ]


def colleagues(session: Session, team_id: int | None) -> list[User]:
    """The team's active users, by name: whom tasks can be delegated or reassigned to."""
    query = select(User).where(User.active.is_(True), same_team(User.team_id, team_id))
    return list(session.scalars(query.order_by(User.display_name, User.username)))


def cases_held_by(session: Session, username: str, team_id: int | None) -> list[int]:
    """The team's cases on which ``username`` holds a ready task."""
    query = (
        select(HumanTask.case_id)
        .where(
            HumanTask.assignee == username,
            HumanTask.state == TaskState.READY,
            HumanTask.case_id.in_(_team_cases(team_id)),
        )
        .distinct()
        .order_by(HumanTask.case_id)
    )
    return list(session.scalars(query))


def _team_cases(team_id: int | None) -> Select:
    return select(Case.id).where(same_team(Case.team_id, team_id))


def _record_reassignments(
    session: Session, tasks: list[HumanTask], source: str, target: str | None, actor: Actor
) -> None:
    to = f"to {target}" if target else "back to everyone with its roles"
    logs: dict[int, EventLog] = {}
    for task in tasks:
        log = logs.setdefault(task.case_id, EventLog(task.case_id))
        log.add(
            actor.username,
            "task_assigned",
            f"{actor.username} reassigned '{task.title}' from {source} {to}.",
            task_id=task.id,
            assignee=target,
            previous_assignee=source,
        )
    for log in logs.values():
        log.write(session)
