"""Sign-ins kept on the server, so signing out ends a browser's session wherever its cookie is.

A signed session cookie alone cannot be taken back: a response still on its way when a worker
signs out (a page's diagram, a draft save) renews the old cookie, and the worker is signed in
again. Each sign-in is a row; the cookie carries its secret; signing out deletes the row, and a
cookie whose row is gone is nobody's. Only a hash of the secret is stored, as with API tokens.

Times here are the wall clock's, like the cookie's own expiry, not the engine's clock.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Date, ForeignKey, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.accounts import User
from engine.db import begin_write
from engine.models import Base


class SignIn(Base):
    __tablename__ = "sign_ins"

    secret_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Updated at most once a day: enough to forget sign-ins whose cookies have expired.
    seen_on: Mapped[date] = mapped_column(Date, index=True)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _today() -> date:
    return datetime.now(UTC).date()


def start(session: Session, user: User, lifetime: timedelta) -> str:
    """Record a sign-in for ``user`` and return its secret for the session cookie.

    Sign-ins unused for longer than ``lifetime`` (the cookie's) are forgotten here: their
    cookies can no longer be read, and this keeps the table to the sessions still alive.
    Does not commit: the caller's sign-in (and its audit entry) is one transaction.
    """
    begin_write(session)
    today = _today()
    stale = today - timedelta(days=lifetime.days + 1)
    session.execute(delete(SignIn).where(SignIn.seen_on < stale))
    secret = secrets.token_urlsafe(32)
    session.add(SignIn(secret_hash=_digest(secret), user_id=user.id, seen_on=today))
    return secret


def signed_in_user(session: Session, user_id: int, secret: str | None) -> User | None:
    """The active user of this live sign-in, or None (signed out, never signed in, or
    deactivated since)."""
    if not secret:
        return None
    found = session.execute(
        select(User, SignIn.seen_on)
        .join(SignIn, SignIn.user_id == User.id)
        .where(SignIn.secret_hash == _digest(secret), User.id == user_id)
    ).first()
    if found is None or not found.User.active:
        return None
    if found.seen_on < _today():
        session.execute(
            update(SignIn).where(SignIn.secret_hash == _digest(secret)).values(seen_on=_today())
        )
        session.commit()
    return found.User


def end(session: Session, secret: str | None) -> None:
    """Forget this sign-in: its cookie, wherever it is, signs nobody in. Does not commit."""
    if secret:
        begin_write(session)
        session.execute(delete(SignIn).where(SignIn.secret_hash == _digest(secret)))


def end_all(session: Session, user_id: int) -> None:
    """Forget every sign-in of this user (their password was reset). Does not commit."""
    session.execute(delete(SignIn).where(SignIn.user_id == user_id))
