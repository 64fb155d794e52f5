"""Who holds a task: claim, unclaim, delegate and reassign.

Each is a compare-and-set on the assignee the caller saw, so two people claiming the same task
at once cannot both win. Assignment never touches the workflow.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import clock
from engine.actors import Actor
from engine.chronology import EventLog
from engine.db import begin_write
from engine.errors import ConcurrentChange, NotAllowed, TaskAlreadyCompleted, TaskNotReady
from engine.models import HumanTask, TaskState
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
    task = ready_task(session, task_id)
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
