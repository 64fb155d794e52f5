"""The engine's tables: process versions, cases, the human-task projection and the chronology.

Lists, inboxes and reports read these indexed tables; only the engine ever deserializes a
case's workflow state, and only to change it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry, relationship

from engine import clock
from engine.roles import roles_in_words


class UTCDateTime(TypeDecorator[datetime]):
    """Store UTC, hand back timezone-aware UTC, on SQLite (which keeps no zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Kinflow stores only timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")

# The largest key an integer primary key holds (PostgreSQL ``integer``): an id from a URL or a
# body above it is answered as "not found" before it reaches the database, which would refuse it.
MAX_ID = 2**31 - 1


class Base(DeclarativeBase):
    """The engine's declarative base; the web app hands it to Flask-SQLAlchemy."""

    registry = registry(type_annotation_map={datetime: UTCDateTime, dict[str, Any]: JSONDocument})


class CaseStatus:
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"


class TaskState:
    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ProcessVersion(Base):
    """One immutable deployment of a process: its files, its parsed spec and its task settings."""

    __tablename__ = "process_versions"
    __table_args__ = (
        UniqueConstraint("process_id", "version", name="uq_process_version"),
        UniqueConstraint("process_id", "content_hash", name="uq_process_content"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    # File name -> text, for BPMN, DMN and form files alike (forms under "forms/<key>.json").
    files: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    # The parsed spec, serialized once here so cases never carry it.
    spec_json: Mapped[str] = mapped_column(Text)
    # Camunda attributes SpiffWorkflow's parser drops: process id -> element id -> settings.
    user_tasks: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    deployed_at: Mapped[datetime] = mapped_column(default=clock.now)
    deployed_by: Mapped[str] = mapped_column(String(255))

    def __repr__(self) -> str:
        return f"<ProcessVersion {self.process_id} v{self.version}>"


@event.listens_for(ProcessVersion, "before_update")
def _versions_are_immutable(mapper: Any, connection: Any, target: ProcessVersion) -> None:
    raise ValueError(f"process version {target.process_id} v{target.version} is immutable")


class Case(Base):
    """A running (or finished) pathway for one family, with its serialized workflow state."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_status_wake", "status", "next_wake_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"), index=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.ACTIVE, index=True)
    stage: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(Text)
    # Optimistic lock: every change claims the row with "revision = seen + 1 where revision =
    # seen"; a writer that saw an older revision gets no row and is told the case changed.
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    created_by: Mapped[str] = mapped_column(String(255))
    # The team whose managers oversee the case (who sees what: engine/access.py).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    next_wake_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    # A process owner chose to leave the case on its version for good: migration skips it.
    stays_on_version: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # Versions are immutable and cached by the runtime; never load one per case row.
    version: Mapped[ProcessVersion] = relationship(lazy="raise")


class HumanTask(Base):
    """Projection of one user task of a case; inboxes and lists read only this table."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        UniqueConstraint("case_id", "spiff_task_id", name="uq_case_spiff_task"),
        Index("ix_tasks_state_due", "state", "due_at"),
        Index("ix_tasks_assignee_state", "assignee", "state"),
        Index("ix_tasks_case_state", "case_id", "state"),
        # Board: each case's open tasks (earliest due moment, stage) from a small index alone.
        Index(
            "ix_tasks_ready_case",
            "case_id",
            "due_at",
            "process_id",
            postgresql_where=text("state = 'ready'"),
            sqlite_where=text("state = 'ready'"),
        ),
        # Reports: requests for more information (one form) made in a period.
        Index("ix_tasks_form_created", "form_key", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    process_id: Mapped[str] = mapped_column(String(255))
    element_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255))
    instructions: Mapped[str | None] = mapped_column(Text)
    lane: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(64), index=True)
    # Kept on the row for permission checks; TaskCandidate holds the same roles for indexed lookup.
    candidate_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    assignee: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default=TaskState.READY)
    form_key: Mapped[str | None] = mapped_column(String(80))
    priority: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime | None] = mapped_column()
    follow_up_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    claimed_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    completed_by: Mapped[str | None] = mapped_column(String(255))

    case: Mapped[Case] = relationship(lazy="raise")
    candidates: Mapped[list[TaskCandidate]] = relationship(
        cascade="all, delete-orphan", lazy="raise"
    )

    @property
    def waiting_for(self) -> str:
        """Who the task is waiting for, in words: its assignee, or the roles that may do it."""
        return self.assignee or roles_in_words(self.candidate_groups)


class TaskCandidate(Base):
    """One role that may pick up a task, so 'tasks for my roles' is an indexed lookup."""

    __tablename__ = "task_candidates"

    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class CaseEvent(Base):
    """Append-only chronology of a case, in plain language, for workers and subject access."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[datetime] = mapped_column(default=clock.now)
    actor: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


@event.listens_for(CaseEvent, "before_update")
def _chronology_is_append_only(mapper: Any, connection: Any, target: CaseEvent) -> None:
    raise ValueError("the case chronology is append-only")


class StageVisit(Base):
    """One stay of a case in a stage of the pathway, from entering it to leaving it.

    Written by the engine in the transaction that moves the case, so "where cases wait" is an
    indexed read: a stage visited twice (a second review) is two rows.
    """

    __tablename__ = "stage_visits"
    __table_args__ = (
        Index("ix_stage_visits_case_left", "case_id", "left_at"),
        # Board: when each case entered its current stage, from a small index alone.
        Index(
            "ix_stage_visits_open",
            "case_id",
            "entered_at",
            postgresql_where=text("left_at IS NULL"),
            sqlite_where=text("left_at IS NULL"),
        ),
        # Reports: every visit to a stage ended in a period, read from the index alone (its
        # duration and case too), so a year of 100,000 cases never touches the table.
        Index(
            "ix_stage_visits_process_left_entered", "process_id", "left_at", "entered_at", "case_id"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    stage: Mapped[str] = mapped_column(String(255))
    # The process the stage's call activity runs: names may change between versions, this not.
    process_id: Mapped[str] = mapped_column(String(255))
    entered_at: Mapped[datetime] = mapped_column(default=clock.now)
    left_at: Mapped[datetime | None] = mapped_column()


class ReportSnapshot(Base):
    """The dashboard's tables for one filter, kept so the page need not count 100,000 families
    on every view (engine/reports/snapshots.py writes and reads them; the scheduler refreshes).
    """

    __tablename__ = "report_snapshots"
    __table_args__ = (UniqueConstraint("key", name="uq_report_snapshots_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The filter as canonical text (engine.reports.snapshots.snapshot_key): one row per filter.
    key: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column()
    tables: Mapped[list[Any]] = mapped_column(JSONDocument)
