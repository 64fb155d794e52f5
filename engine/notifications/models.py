"""The tables behind reminders: what is planned, what each worker was told, what is emailed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.models import Base


class Preference:
    """How a worker wants email: every notice at once, one digest a day, or escalations only.

    In-app notifications are always made; the preference decides only what is emailed.
    """

    IMMEDIATE = "immediate"
    DIGEST = "digest"
    ESCALATIONS = "escalations"
    LABELS = {
        IMMEDIATE: "Email each reminder as it happens",
        DIGEST: "One email a day with everything since the last",
        ESCALATIONS: "Email only escalations (missed deadlines on my team's cases)",
    }


class Reminder(Base):
    """A reminder planned for a moment: due soon, overdue, conference soon, review due...

    ``key`` names the reminder and its moment, so planning the same one twice finds it, and
    ``sent_at`` is set by a conditional update when it fires, so it fires once.
    """

    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_pending", "sent_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_tasks.id"))
    due_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column()


class Notification(Base):
    """One notice to one worker, shown in the app until read; digests collect the unsent."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_read", "username", "read_at"),
        Index("ix_notifications_digest", "digest_pending", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    escalation: Mapped[bool] = mapped_column(Boolean, default=False)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_tasks.id"))
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminders.id"))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    read_at: Mapped[datetime | None] = mapped_column()
    # Waiting for the worker's daily digest email.
    digest_pending: Mapped[bool] = mapped_column(Boolean, default=False)


class OutboxStatus:
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(Base):
    """An email written in the same transaction as what caused it, sent later with retries."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str | None] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column()
    # "smtp", or "log" when no SMTP server is configured (development).
    sent_via: Mapped[str | None] = mapped_column(String(16))
