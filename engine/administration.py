"""An admin's changes to accounts and teams: each one transaction, audited in the same commit.

Accounts themselves (users, teams, passwords, signing in) are in ``engine.accounts``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, clock, sign_ins
from engine.accounts import (
    Team,
    User,
    add_user,
    set_password,
    team_named,
    valid_display_name,
    valid_email,
    valid_roles,
    valid_team_name,
)
from engine.db import begin_write
from engine.errors import ConcurrentChange, KinflowError, NotFound
from engine.models import HumanTask, TaskState
from engine.roles import ADMIN

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True)
class TeamSummary:
    id: int
    name: str
    active_members: int


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id, populate_existing=True)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    return user


def list_users(session: Session) -> list[User]:
    """Everyone, active accounts first, then by username."""
    return list(session.scalars(select(User).order_by(User.active.desc(), User.username)))


def list_teams(session: Session) -> list[TeamSummary]:
    members = and_(User.team_id == Team.id, User.active.is_(True))
    rows = session.execute(
        select(Team.id, Team.name, func.count(User.id))
        .outerjoin(User, members)
        .group_by(Team.id, Team.name)
        .order_by(Team.name)
    )
    return [TeamSummary(id, name, count) for id, name, count in rows]


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > clock.now()


def open_task_count(session: Session, username: str) -> int:
    """Tasks the person holds that are still waiting (they need reassigning if they leave)."""
    query = select(func.count(HumanTask.id)).where(
        HumanTask.assignee == username, HumanTask.state == TaskState.READY
    )
    return session.scalar(query) or 0


def open_task_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(HumanTask.assignee, func.count(HumanTask.id))
        .where(HumanTask.assignee.is_not(None), HumanTask.state == TaskState.READY)
        .group_by(HumanTask.assignee)
    )
    return {name: count for name, count in rows}


def account_version(user: User) -> str:
    """A short fingerprint of what an admin edits; a form carries it to detect a stale edit."""
    state = [user.display_name, user.email, sorted(user.roles), user.team_id, bool(user.active)]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:16]


def check_new_password(password: str) -> None:
    """Length is what makes a password strong (NCSC: three random words); no other rules."""
    if not password:
        raise KinflowError("password: give a password.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise KinflowError(f"password: use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise KinflowError(f"password: use at most {MAX_PASSWORD_LENGTH} characters.")


def register_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    email: str | None,
    roles: Iterable[str],
    team: str | None,
    password: str,
    actor: str,
    via: str = "web",
) -> User:
    """An admin (or a set-up script) adds a user who can sign in at once."""
    check_new_password(password)
    team_name = (team or "").strip() or None
    return add_user(
        session, username, display_name, roles, team_name, password, email or None, (actor, via)
    )


def update_user(
    session: Session,
    user_id: int,
    *,
    display_name: str,
    email: str | None,
    roles: Iterable[str],
    team: str | None,
    actor: str,
    expected_version: str,
    via: str = "web",
) -> User:
    """Change name, email, roles and team; refused if anyone changed the user meanwhile."""
    display = valid_display_name(display_name)
    email = valid_email(email or None)
    role_list = valid_roles(roles)
    with _changing(session, user_id) as user:
        if account_version(user) != expected_version:
            raise ConcurrentChange(
                f"Someone else changed {user.username}'s account since you opened the form. "
                "Nothing was saved: check the current details and make your change again."
            )
        if user.username == actor and ADMIN in user.roles and ADMIN not in role_list:
            raise KinflowError(
                "roles: you cannot remove your own admin role; ask another admin, so the "
                "service is never left without one."
            )
        changes = [f"roles {','.join(role_list)}"] if role_list != user.roles else []
        new_team = team_named(session, team) if (team or "").strip() else None
        if new_team is not user.team:
            changes.append(f"team {new_team.name if new_team else 'none'}")
        if (display, email) != (user.display_name, user.email):
            changes.append("name or email")
        user.display_name, user.email, user.roles, user.team = display, email, role_list, new_team
        if changes:
            target = f"user {user.username}: {'; '.join(changes)}"
            audit.record(session, actor, "admin_update_user", target=target, via=via)
    return user


def set_active(
    session: Session, user_id: int, active: bool, *, actor: str, via: str = "web"
) -> User:
    """Deactivate (signed out at once, tasks need reassigning) or reactivate an account."""
    with _changing(session, user_id) as user:
        if not active and user.username == actor:
            raise KinflowError(
                "You cannot deactivate your own account; ask another admin, so the service "
                "is never left without one."
            )
        if user.active != active:
            user.active = active
            action = "admin_reactivate_user" if active else "admin_deactivate_user"
            audit.record(session, actor, action, target=f"user {user.username}", via=via)
    return user


def unlock(session: Session, user_id: int, *, actor: str, via: str = "web") -> User:
    """Lift a lockout after wrong passwords (once the admin knows it was the person)."""
    with _changing(session, user_id) as user:
        user.failed_logins, user.locked_until = 0, None
        audit.record(session, actor, "admin_unlock_user", target=f"user {user.username}", via=via)
    return user


def reset_password(
    session: Session, user_id: int, password: str, *, actor: str, via: str = "web"
) -> User:
    """Set a new password; the account is unlocked too, as the person can now sign in. Every
    browser signed in with the old password is signed out: it may not be theirs."""
    check_new_password(password)
    with _changing(session, user_id) as user:
        set_password(user, password)
        user.failed_logins, user.locked_until = 0, None
        sign_ins.end_all(session, user.id)
        target = f"user {user.username}"
        audit.record(session, actor, "admin_reset_password", target=target, via=via)
    return user


def create_team(session: Session, name: str, *, actor: str, via: str = "web") -> Team:
    clean = valid_team_name(name)
    begin_write(session)
    try:
        if session.scalar(select(Team.id).where(Team.name == clean)) is not None:
            raise KinflowError(f"team: a team called '{clean}' already exists.")
        team = Team(name=clean)
        session.add(team)
        audit.record(session, actor, "admin_create_team", target=f"team {clean}", via=via)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise KinflowError(f"team: a team called '{clean}' already exists.") from exc
    except BaseException:
        session.rollback()
        raise
    return team


@contextmanager
def _changing(session: Session, user_id: int) -> Iterator[User]:
    """The user's row, locked until the commit (PostgreSQL; SQLite writes one at a time)."""
    begin_write(session)
    try:
        user = session.scalar(
            select(User)
            .where(User.id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if user is None:
            raise NotFound(f"User {user_id} does not exist.")
        yield user
        session.commit()
    except BaseException:
        session.rollback()
        raise
