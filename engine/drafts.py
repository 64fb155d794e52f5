"""Drafts of task forms, so a worker never loses what they typed.

A draft belongs to one worker and one task, or, for the referral (filled in before there is a
case or a task), to one worker and the form. It is saved while they type and on demand, kept
across logout, session timeout and a crashed browser, and outlives the task: when someone else
completes the task first the worker can still copy what they wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, String, UniqueConstraint, and_, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import clock
from engine.db import begin_write
from engine.errors import KinflowError
from engine.models import Base, JSONDocument

# Far more than any form needs (a page of text per field), small enough that autosaving a
# draft every few seconds costs the database nothing.
MAX_DRAFT_BYTES = 256_000


class DraftTooLarge(KinflowError):
    """A draft over ``MAX_DRAFT_BYTES``: refused whole, so a saved draft is never cut short."""

    def __init__(self) -> None:
        super().__init__(
            f"The draft was not saved: it is larger than {MAX_DRAFT_BYTES // 1000} KB. "
            "Shorten the longest answers, then save again."
        )


class TaskDraft(Base):
    __tablename__ = "task_drafts"
    __table_args__ = (
        UniqueConstraint("task_id", "username", name="uq_draft_task_user"),
        UniqueConstraint("form_key", "username", name="uq_draft_form_user"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Exactly one of the two is set: the task, or the form of a not-yet-started case.
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_tasks.id"), index=True)
    form_key: Mapped[str | None] = mapped_column(String(80))
    username: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    saved_at: Mapped[datetime] = mapped_column(default=clock.now)


def save_draft(session: Session, task_id: int, username: str, data: dict[str, Any]) -> datetime:
    """Keep the worker's latest draft of the task (one per worker and task); commits.

    Raises ``DraftTooLarge`` (saving nothing) when the draft is over ``MAX_DRAFT_BYTES``.
    """
    return _save(session, _Key(task_id, None, username), data)


def load_draft(session: Session, task_id: int, username: str) -> TaskDraft | None:
    return session.scalar(select(TaskDraft).where(_Key(task_id, None, username).matches()))


def discard_draft(session: Session, task_id: int, username: str) -> None:
    """Drop the worker's draft; the caller commits (with the completion it belongs to)."""
    session.execute(delete(TaskDraft).where(_Key(task_id, None, username).matches()))


def save_form_draft(
    session: Session, form_key: str, username: str, data: dict[str, Any]
) -> datetime:
    """Keep the worker's draft of a form that has no task yet (a new referral); commits."""
    return _save(session, _Key(None, form_key, username), data)


def load_form_draft(session: Session, form_key: str, username: str) -> TaskDraft | None:
    return session.scalar(select(TaskDraft).where(_Key(None, form_key, username).matches()))


def discard_form_draft(session: Session, form_key: str, username: str) -> None:
    """Drop the worker's draft of the form; the caller commits."""
    session.execute(delete(TaskDraft).where(_Key(None, form_key, username).matches()))


@dataclass(frozen=True)
class _Key:
    task_id: int | None
    form_key: str | None
    username: str

    def matches(self) -> ColumnElement[bool]:
        by_task = (
            TaskDraft.task_id == self.task_id
            if self.task_id is not None
            else and_(TaskDraft.task_id.is_(None), TaskDraft.form_key == self.form_key)
        )
        return and_(by_task, TaskDraft.username == self.username)


def _save(session: Session, key: _Key, data: dict[str, Any]) -> datetime:
    if draft_size(data) > MAX_DRAFT_BYTES:
        raise DraftTooLarge()
    begin_write(session)
    now = clock.now()
    draft = session.scalar(select(TaskDraft).where(key.matches()))
    if draft is None:
        draft = TaskDraft(task_id=key.task_id, form_key=key.form_key, username=key.username)
        session.add(draft)
    draft.data = data
    draft.saved_at = now
    session.commit()
    return now


def draft_size(data: dict[str, Any]) -> int:
    """The draft's size as stored (UTF-8 JSON), the measure ``MAX_DRAFT_BYTES`` applies to."""
    return len(json.dumps(data, ensure_ascii=False, default=str).encode())
