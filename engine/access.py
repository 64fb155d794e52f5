"""Who sees which case: the people working on it and the managers of its team.

A user sees a case when they referred it, are its allocated coordinator, hold or held one of
its tasks, may pick up one of its open tasks (their role, their team), or manage its team.
For anyone else the case does not exist: ``visible_case`` raises ``CaseNotFound``, the same
error as for a case id that was never used, so guessing ids tells nothing.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from engine.accounts import User
from engine.errors import CaseNotFound
from engine.models import Case, HumanTask, TaskCandidate, TaskState
from engine.record.models import Referral
from engine.roles import FGC_MANAGER


def same_team(column: ColumnElement, team_id: int | None) -> ColumnElement[bool]:
    """Team equality where "no team" matches "no team" (a one-team service needs no set-up)."""
    return column.is_(None) if team_id is None else column == team_id


def case_visible_to(user: User) -> ColumnElement[bool]:
    """A condition over ``Case`` that holds for the cases ``user`` may see."""
    if not user.active:
        return false()
    name = user.username
    works_on = or_(
        Case.created_by == name,
        exists().where(
            Referral.case_id == Case.id,
            or_(Referral.referred_by == name, Referral.coordinator == name),
        ),
        exists().where(
            HumanTask.case_id == Case.id,
            or_(HumanTask.assignee == name, HumanTask.completed_by == name),
        ),
    )
    # Cheapest first: SQLite tries the terms in order and stops at the first that holds, so a
    # manager's cases are settled by their team column before any subquery runs.
    conditions = [same_team(Case.team_id, user.team_id)] if FGC_MANAGER in user.roles else []
    conditions.append(works_on)
    if user.roles:
        # A probe of task_candidates' primary key per open task: an IN list of every task ever
        # offered to the roles would be built again for each case.
        offered = exists().where(
            TaskCandidate.task_id == HumanTask.id, TaskCandidate.role.in_(list(user.roles))
        )
        may_pick_up = exists().where(
            HumanTask.case_id == Case.id,
            HumanTask.state == TaskState.READY,
            HumanTask.assignee.is_(None),
            offered,
        )
        conditions.append(and_(same_team(Case.team_id, user.team_id), may_pick_up))
    return or_(*conditions)


def visible_case(session: Session, user: User, case_id: int) -> Case:
    """The case, if ``user`` may see it; otherwise ``CaseNotFound`` as if it did not exist."""
    case = session.scalar(
        select(Case)
        .where(Case.id == case_id, case_visible_to(user))
        .execution_options(populate_existing=True)
    )
    if case is None:
        raise CaseNotFound(f"Case {case_id} does not exist.")
    return case


def manages(user: User, case: Case) -> bool:
    """Whether ``user`` manages the case's team (managers reassign and review its work)."""
    if not user.active or FGC_MANAGER not in user.roles:
        return False
    return case.team_id == user.team_id
