"""People who sign in to Kinflow: users, their roles and teams, and their passwords.

The web app's login (sessions, CSRF, lockout) builds on these. A user's roles are ids from
``engine.roles.ROLES``; ``actor_for`` turns a user into the ``Actor`` the runtime checks tasks
against. Passwords are kept only as argon2 hashes. An admin's changes to accounts and teams
are in ``engine.administration``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from engine import audit, clock
from engine.actors import Actor
from engine.db import begin_write
from engine.errors import KinflowError, NotAllowed
from engine.models import Base
from engine.roles import ROLES

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()  # the library's settings (RFC 9106's second recommendation)
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_dummy_hash = _hasher.hash("not-a-password")


class Team(Base):
    """A team of workers (an FGC service, a social-work team)."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)


class User(Base):
    """Someone who signs in: their roles decide which tasks they may pick up."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Repeated wrong passwords lock the account for a while (see ``authenticate``).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    # What is emailed: engine.notifications.models.Preference (in-app notices are always made).
    email_preference: Mapped[str] = mapped_column(
        String(16), default="immediate", server_default="immediate"
    )

    team: Mapped[Team | None] = relationship(lazy="selectin")

    def __repr__(self) -> str:
        return f"<User {self.username}>"

    # The session protocol web front ends expect (Flask-Login's), kept free of any web import.
    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


def create_user(
    session: Session,
    username: str,
    display_name: str,
    roles: Iterable[str],
    team: Team | str | None = None,
    password: str | None = None,
    email: str | None = None,
) -> User:
    """Add a user in one transaction; ``team`` is a Team or a team name (created if new).

    The username is stored in lower case. Raises ``KinflowError`` naming the field at fault.
    """
    return add_user(session, username, display_name, roles, team, password, email, None)


def add_user(
    session: Session,
    username: str,
    display_name: str,
    roles: Iterable[str],
    team: Team | str | None,
    password: str | None,
    email: str | None,
    audited_as: tuple[str, str] | None,
) -> User:
    """``create_user``, optionally writing the audit entry (actor, via) in the same commit."""
    name = valid_username(username)
    display = valid_display_name(display_name)
    role_list = valid_roles(roles)
    email = valid_email(email)
    begin_write(session)
    try:
        if find_user(session, name) is not None:
            raise KinflowError(f"username: '{name}' is already taken.")
        user = User(
            username=name,
            display_name=display,
            email=email,
            roles=role_list,
            active=True,
            created_at=clock.now(),
        )
        if team is not None:
            user.team = team if isinstance(team, Team) else team_named(session, team)
        if password is not None:
            set_password(user, password)
        session.add(user)
        if audited_as is not None:
            actor, via = audited_as
            audit.record(session, actor, "admin_create_user", target=f"user {name}", via=via)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise KinflowError(f"username: '{name}' is already taken.") from exc
    except BaseException:
        session.rollback()
        raise
    return user


def find_user(session: Session, username: str) -> User | None:
    """The user with this username (case-insensitive), or None."""
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def get_or_create_team(session: Session, name: str) -> Team:
    """The team with this name, created (and committed) if it does not exist yet."""
    begin_write(session)
    team = team_named(session, name)
    session.commit()
    return team


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Change the argon2 settings; the test suite uses cheap ones so that signing in hundreds
    of times stays fast. Hashes made with other settings are upgraded at the next sign-in."""
    global _hasher, _dummy_hash
    _hasher = hasher
    _dummy_hash = hasher.hash("not-a-password")


def set_password(user: User, password: str) -> None:
    """Store an argon2 hash of ``password``; the caller commits."""
    if not password:
        raise KinflowError("password: give a password.")
    user.password_hash = _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    """Whether ``password`` is the user's; upgrades the stored hash if its settings are old."""
    if not user.password_hash or not password:
        return False
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        set_password(user, password)
    return True


MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


class LoginRefused(KinflowError):
    """Wrong name or password, or a locked or deactivated account; one message for all."""


def authenticate(session: Session, username: str, password: str) -> User:
    """The user, if the password is theirs; otherwise ``LoginRefused``. Commits the count.

    After ``MAX_FAILED_LOGINS`` wrong passwords in a row the account is locked for ``LOCKOUT``,
    and even the right password is refused until then, so guessing gains nothing.
    """
    refused = LoginRefused("That username and password do not match an active account.")
    begin_write(session)
    user = find_user(session, username or "")
    if user is None:
        _hasher.verify(_dummy_hash, "not-a-password")
        session.rollback()
        raise refused
    now = clock.now()
    if user.locked_until is not None and user.locked_until > now:
        session.rollback()
        minutes = max(1, math.ceil((user.locked_until - now).total_seconds() / 60))
        raise LoginRefused(
            f"Too many wrong passwords: this account is locked for {minutes} more minutes."
        )
    if not check_password(user, password) or not user.active:
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        session.commit()
        raise refused
    user.failed_logins = 0
    user.locked_until = None
    session.commit()
    return user


def actor_for(user: User) -> Actor:
    """The actor the runtime sees for this user; a deactivated user may not act."""
    if not user.active:
        raise NotAllowed(f"The account '{user.username}' is deactivated.")
    return Actor(user.username, frozenset(user.roles))


def valid_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not USERNAME_PATTERN.match(name):
        raise KinflowError(
            "username: use 2 to 64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def valid_display_name(display_name: str) -> str:
    display = (display_name or "").strip()
    if not display:
        raise KinflowError("display_name: give the name people will see.")
    if len(display) > 120:
        raise KinflowError("display_name: use at most 120 characters.")
    return display


def valid_email(email: str | None) -> str | None:
    if email is None:
        return None
    if len(email) > 254 or not _EMAIL_PATTERN.match(email):
        raise KinflowError("email: this is not an email address.")
    return email


def valid_roles(roles: Iterable[str]) -> list[str]:
    if isinstance(roles, str):
        roles = [roles]
    given = list(dict.fromkeys(roles))
    unknown = [r for r in given if r not in ROLES]
    if unknown:
        listed = ", ".join(repr(r) for r in unknown)
        verb = "is not a role" if len(unknown) == 1 else "are not roles"
        raise KinflowError(f"roles: {listed} {verb}; choose from {', '.join(ROLES)}.")
    if not given:
        raise KinflowError("roles: give the user at least one role.")
    return given


def valid_team_name(name: str) -> str:
    clean = (name or "").strip()
    if not clean:
        raise KinflowError("team: give the team a name.")
    if len(clean) > 120:
        raise KinflowError("team: use at most 120 characters for the team's name.")
    return clean


def team_named(session: Session, name: str) -> Team:
    clean = valid_team_name(name)
    team = session.scalar(select(Team).where(Team.name == clean))
    if team is None:
        team = Team(name=clean)
        session.add(team)
        session.flush()
    return team
