"""Inbox filters a worker names and reuses ("urgent, due this week, Ashdown")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import clock
from engine.db import begin_write
from engine.errors import KinflowError
from engine.models import Base, JSONDocument


class SavedFilter(Base):
    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("username", "name", name="uq_filter_user_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(80))
    criteria: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


def save_filter(
    session: Session, username: str, name: str, criteria: dict[str, Any]
) -> SavedFilter:
    """Keep ``criteria`` under ``name`` for this user, replacing one of the same name. Commits."""
    label = (name or "").strip()
    if not label or len(label) > 80:
        raise KinflowError("name: give the filter a name of at most 80 characters.")
    begin_write(session)
    row = session.scalar(
        select(SavedFilter).where(SavedFilter.username == username, SavedFilter.name == label)
    )
    if row is None:
        row = SavedFilter(username=username, name=label, created_at=clock.now())
        session.add(row)
    row.criteria = dict(criteria)
    session.commit()
    return row


def filters_of(session: Session, username: str) -> list[SavedFilter]:
    query = select(SavedFilter).where(SavedFilter.username == username)
    return list(session.scalars(query.order_by(SavedFilter.name)))


def delete_filter(session: Session, username: str, filter_id: int) -> None:
    """Remove one of the user's own filters; someone else's is "not found". Commits."""
    begin_write(session)
    row = session.get(SavedFilter, filter_id)
    if row is None or row.username != username:
        session.rollback()
        raise KinflowError("This saved filter does not exist.")
    session.delete(row)
    session.commit()
