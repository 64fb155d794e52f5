"""A worker's own notifications: the unread count, the list, marking read, the email choice.

Every function takes the worker's username and touches only that worker's rows, so one
worker can neither read nor mark another's notices. The count and the unread list use the
(username, read_at) index, because the header shows the count on every page.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine import clock
from engine.accounts import User
from engine.db import begin_write
from engine.errors import KinflowError, NotFound
from engine.notifications.models import Notification, Preference


def unread_count(session: Session, username: str) -> int:
    """How many of the worker's notifications are unread (one indexed count)."""
    query = select(func.count()).where(
        Notification.username == username, Notification.read_at.is_(None)
    )
    return session.scalar(query) or 0


def notifications_for(
    session: Session, username: str, unread_only: bool = False, limit: int = 100
) -> list[Notification]:
    """The worker's notifications, newest first (unread only when asked)."""
    query = select(Notification).where(Notification.username == username)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    return list(session.scalars(query))


def mark_read(session: Session, username: str, notification_id: int) -> Notification:
    """Mark one of the worker's own notifications read; reading it again keeps the first time.

    Another worker's notification is answered exactly like one that never existed.
    """
    begin_write(session)
    row = session.get(Notification, notification_id, populate_existing=True)
    if row is None or row.username != username:
        session.rollback()
        raise NotFound("This notification does not exist, or it is not yours.")
    if row.read_at is None:
        row.read_at = clock.now()
    session.commit()
    return row


def mark_all_read(session: Session, username: str) -> int:
    """Mark every unread notification of the worker read; returns how many there were."""
    begin_write(session)
    result = session.execute(
        update(Notification)
        .where(Notification.username == username, Notification.read_at.is_(None))
        .values(read_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount or 0


def set_preference(session: Session, user: User, preference: str) -> User:
    """Set what is emailed to ``user`` (a ``Preference`` value); returns the stored row. Commits.

    An unknown value raises ``KinflowError`` naming the field and the choices.
    """
    if preference not in Preference.LABELS:
        choices = ", ".join(Preference.LABELS)
        raise KinflowError(f"email preference: choose one of {choices}.")
    begin_write(session)
    row = session.get(User, user.id)
    if row is None:
        session.rollback()
        raise NotFound("This account does not exist.")
    row.email_preference = preference
    session.commit()
    return row
