"""Retention: how long each kind of record is kept, and which records are past it.

Periods come from configuration (``KINFLOW_RETENTION_<TYPE>``, read once by the web app and
handed here as a plain mapping). The report is a dry run: it reads and never deletes. Erasing
one case (``engine.erasure``) and deleting the dated records of one type past retention
(``engine.retention_purge``) are separate, explicit and audited actions.

A record falls due on its start date plus its period (``6y``: the same day six years later, or
28 February for a 29 February start); on and after that day it is past retention. Dates are
UTC calendar days.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.audit import AuditEntry
from engine.drafts import TaskDraft
from engine.errors import KinflowError
from engine.models import Case, CaseEvent, CaseStatus
from engine.notifications.models import Notification, OutboxMessage
from engine.record.models import Referral

CASE = "case"
DECLINED_REFERRAL = "declined_referral"
AUDIT_LOG = "audit_log"
NOTIFICATIONS = "notifications"
OUTBOX = "outbox"
DRAFTS = "drafts"
ERASED_KIND = "case_erased"
ENDING_KINDS = ("case_completed", "case_cancelled")


@dataclass(frozen=True)
class RecordType:
    key: str
    label: str
    default: str
    counted_from: str


# The defaults (README "Configuration"): six years after a case ends for FGC case records
# (the limitation period and common council practice for early-help records); two years
# for a referral declined at screening (long enough to see a re-referral); six years for the
# audit log, so it outlives the records it accounts for; one year for in-app notifications
# and the email outbox; 90 days for unfinished form drafts.
RECORD_TYPES: tuple[RecordType, ...] = (
    RecordType(CASE, "FGC case records", "6y", "the case ended"),
    RecordType(DECLINED_REFERRAL, "Declined referrals", "2y", "the case ended"),
    RecordType(AUDIT_LOG, "Audit log entries", "6y", "the entry was written"),
    RecordType(NOTIFICATIONS, "In-app notifications", "1y", "the notification was made"),
    RecordType(OUTBOX, "Email outbox", "1y", "the email was written"),
    RecordType(DRAFTS, "Form drafts", "90d", "the draft was last saved"),
)
CASE_TYPES = (CASE, DECLINED_REFERRAL)
_PERIOD = re.compile(r"(\d{1,4})\s*([ymd]?)")
_UNITS = {"y": "years", "m": "months", "d": "days", "": "days"}


@dataclass(frozen=True)
class Period:
    """A retention period: a number of years, months or days."""

    amount: int
    unit: str  # "years", "months" or "days"

    @classmethod
    def parse(cls, text: str, setting: str) -> Period:
        found = _PERIOD.fullmatch((text or "").strip().lower())
        if found is None:
            raise KinflowError(
                f"{setting}: give a period such as 6y (years), 18m (months) or 90d (days), "
                f"not {text!r}."
            )
        return cls(int(found.group(1)), _UNITS[found.group(2)])

    def due(self, start: date) -> date:
        """The day a record that started on ``start`` falls due."""
        if self.unit == "days":
            return start + timedelta(days=self.amount)
        months = self.amount * (12 if self.unit == "years" else 1)
        return _add_months(start, months)

    def before(self, day: date) -> date:
        """The latest start date that is due on ``day``: the inverse of ``due``."""
        if self.unit == "days":
            return day - timedelta(days=self.amount)
        months = self.amount * (12 if self.unit == "years" else 1)
        start = _add_months(day, -months)
        # Month ends: a start on the 31st falls due on the 30th of a shorter month.
        while self.due(start + timedelta(days=1)) <= day:
            start += timedelta(days=1)
        return start

    def __str__(self) -> str:
        unit = self.unit if self.amount != 1 else self.unit[:-1]
        return f"{self.amount} {unit}"


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


@dataclass(frozen=True)
class RetentionPolicy:
    periods: Mapping[str, Period]

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RetentionPolicy:
        """From ``{"case": "6y", ...}``; a type left out keeps its default."""
        unknown = set(settings) - {t.key for t in RECORD_TYPES}
        if unknown:
            raise KinflowError(f"Unknown retention record types: {', '.join(sorted(unknown))}.")
        periods = {
            t.key: Period.parse(
                str(settings.get(t.key) or t.default), f"KINFLOW_RETENTION_{t.key.upper()}"
            )
            for t in RECORD_TYPES
        }
        return cls(periods)


@dataclass(frozen=True)
class DueCase:
    case_id: int
    record_type: str
    status: str
    ended_on: date
    due_on: date


@dataclass(frozen=True)
class TypeReport:
    record_type: RecordType
    period: Period
    count: int
    oldest: date | None  # the earliest start date among the records past retention
    cases: tuple[DueCase, ...] = ()


@dataclass(frozen=True)
class RetentionReport:
    on: date
    types: tuple[TypeReport, ...]

    @property
    def total(self) -> int:
        return sum(t.count for t in self.types)

    def due_case(self, case_id: int) -> DueCase | None:
        return next((c for t in self.types for c in t.cases if c.case_id == case_id), None)


def ended_cases(session: Session, case_id: int | None = None) -> list[tuple[int, str, str, date]]:
    """Finished cases not yet erased (or just ``case_id``): (id, record type, status, day it
    ended). A case ends with its last "finished" or "cancelled" chronology entry."""
    ended = func.max(CaseEvent.at)
    erased = select(CaseEvent.case_id).where(CaseEvent.kind == ERASED_KIND)
    query = (
        select(Case.id, Case.status, Referral.screening_decision, ended)
        .join(CaseEvent, CaseEvent.case_id == Case.id)
        .outerjoin(Referral, Referral.case_id == Case.id)
        .where(
            Case.status.in_([CaseStatus.COMPLETED, CaseStatus.CANCELLED]),
            CaseEvent.kind.in_(ENDING_KINDS),
            Case.id.not_in(erased),
        )
        .group_by(Case.id, Case.status, Referral.screening_decision)
        .order_by(Case.id)
    )
    if case_id is not None:
        query = query.where(Case.id == case_id)
    return [
        (case_id, DECLINED_REFERRAL if decision == "decline" else CASE, status, at.date())
        for case_id, status, decision, at in session.execute(query)
    ]


def case_due(session: Session, policy: RetentionPolicy, case_id: int) -> DueCase | None:
    """When one ended case falls due (``None``: it has not ended, or was erased)."""
    for found_id, record_type, status, ended in ended_cases(session, case_id):
        due = policy.periods[record_type].due(ended)
        return DueCase(found_id, record_type, status, ended, due)
    return None


# The record types kept by their own date rather than by their case's end: each by the
# column its period is counted from.
DATED_COLUMNS = {
    AUDIT_LOG: AuditEntry.at,
    NOTIFICATIONS: Notification.created_at,
    OUTBOX: OutboxMessage.created_at,
    DRAFTS: TaskDraft.saved_at,
}


def dated_cutoff(period: Period, on: date) -> datetime:
    """A dated record started before this moment is past retention on ``on``: started on or
    before the last start date due that day, so before the next day begins (UTC)."""
    return datetime.combine(period.before(on) + timedelta(days=1), time.min, tzinfo=UTC)


def report(session: Session, policy: RetentionPolicy, on: date) -> RetentionReport:
    """What is past retention on ``on``, by record type. Reads only."""
    found = []
    cases = ended_cases(session)
    for kind in RECORD_TYPES:
        period = policy.periods[kind.key]
        if kind.key in CASE_TYPES:
            due = tuple(
                DueCase(case_id, kind.key, status, ended, period.due(ended))
                for case_id, record_type, status, ended in cases
                if record_type == kind.key and period.due(ended) <= on
            )
            oldest = min((c.ended_on for c in due), default=None)
            found.append(TypeReport(kind, period, len(due), oldest, due))
            continue
        column = DATED_COLUMNS[kind.key]
        cutoff = dated_cutoff(period, on)
        count, oldest_at = session.execute(
            select(func.count(), func.min(column)).where(column < cutoff)
        ).one()
        found.append(TypeReport(kind, period, count, oldest_at.date() if oldest_at else None))
    return RetentionReport(on, tuple(found))
