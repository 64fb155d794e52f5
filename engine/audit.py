"""Who looked at or changed what: the audit log of personal data about children.

Special category data (UK GDPR art. 9) must show who viewed and changed it. The chronology says
what happened to a family in words for workers; this log says who touched the record, for
managers and admins, and is never shown to the family or edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, ForeignKey, Index, String, event, false, or_, select, true
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import clock
from engine.models import Base, Case
from engine.roles import ADMIN, FGC_MANAGER

if TYPE_CHECKING:
    from engine.accounts import User


class AuditEntry(Base):
    """One view or change: who, what (action), which case, when."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_case_at", "case_id", "at"),
        Index("ix_audit_user_at", "username", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    target: Mapped[str] = mapped_column(String(200), default="")
    via: Mapped[str] = mapped_column(String(10), default="web")


@event.listens_for(AuditEntry, "before_update")
def _audit_is_append_only(mapper: object, connection: object, target: AuditEntry) -> None:
    raise ValueError("the audit log is append-only")


def record(
    session: Session,
    username: str,
    action: str,
    case_id: int | None = None,
    target: str = "",
    via: str = "web",
) -> None:
    """Add an entry to the caller's transaction; the caller commits with its own change."""
    session.add(
        AuditEntry(
            at=clock.now(),
            username=username,
            action=action,
            case_id=case_id,
            target=target[:200],
            via=via,
        )
    )


@dataclass(frozen=True)
class AuditFilter:
    """What a manager narrows the log to; every field is optional."""

    username: str | None = None
    case_id: int | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def readable_by(reader: User) -> ColumnElement[bool]:
    """The entries ``reader`` may read: admins all; FGC managers their team's; others none.

    A manager reads what happened to their team's cases (whoever did it, including workers of
    other teams who were given a task) and what their own team's workers did anywhere (so
    they can supervise them). Entries by other teams' workers about other teams' cases stay
    hidden: they would reveal which families another team is working with.
    """
    # Imported here: accounts records its changes in this log, so it imports this module.
    from engine.accounts import User

    if not reader.active:
        return false()
    if ADMIN in reader.roles:
        return true()
    if FGC_MANAGER not in reader.roles:
        return false()
    team = reader.team_id
    team_cases = select(Case.id).where(
        Case.team_id.is_(None) if team is None else Case.team_id == team
    )
    team_users = select(User.username).where(
        User.team_id.is_(None) if team is None else User.team_id == team
    )
    return or_(AuditEntry.case_id.in_(team_cases), AuditEntry.username.in_(team_users))


def entries(
    session: Session,
    where: AuditFilter,
    limit: int = 100,
    offset: int = 0,
    reader: User | None = None,
) -> list[AuditEntry]:
    """Newest first; only what ``reader`` may read when one is given (see ``readable_by``)."""
    query = select(AuditEntry)
    if reader is not None:
        query = query.where(readable_by(reader))
    if where.username:
        query = query.where(AuditEntry.username == where.username.strip().lower())
    if where.case_id is not None:
        query = query.where(AuditEntry.case_id == where.case_id)
    if where.action:
        query = query.where(AuditEntry.action == where.action)
    if where.since is not None:
        query = query.where(AuditEntry.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEntry.at < where.until)
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    return list(session.scalars(query.limit(limit).offset(offset)))
