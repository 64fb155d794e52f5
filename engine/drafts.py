"""Drafts of task forms, so a worker never loses what they typed.

A draft belongs to one worker and one task. It is saved while they type and on demand, kept
across logout, session timeout and a crashed browser, and outlives the task: when someone else
completes the task first the worker can still copy what they wrote.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import clock
from engine.db import begin_write
from engine.models import Base, JSONDocument

MAX_DRAFT_BYTES = 256_000


class TaskDraft(Base):
    __tablename__ = "task_drafts"
    __table_args__ = (UniqueConstraint("task_id", "username", name="uq_draft_task_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    saved_at: Mapped[datetime] = mapped_column(default=clock.now)


def save_draft(session: Session, task_id: int, username: str, data: dict[str, Any]) -> datetime:
    """Keep the worker's latest draft of the task (one per worker and task); commits."""
    begin_write(session)
    now = clock.now()
    draft = session.scalar(
        select(TaskDraft).where(TaskDraft.task_id == task_id, TaskDraft.username == username)
    )
    if draft is None:
        session.add(TaskDraft(task_id=task_id, username=username, data=data, saved_at=now))
    else:
        draft.data = data
        draft.saved_at = now
    session.commit()
    return now


def load_draft(session: Session, task_id: int, username: str) -> TaskDraft | None:
    return session.scalar(
        select(TaskDraft).where(TaskDraft.task_id == task_id, TaskDraft.username == username)
    )


def discard_draft(session: Session, task_id: int, username: str) -> None:
    """Drop the worker's draft; the caller commits (with the completion it belongs to)."""
    session.execute(
        delete(TaskDraft).where(TaskDraft.task_id == task_id, TaskDraft.username == username)
    )
