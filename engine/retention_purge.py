"""Deleting the dated records past retention: audit log entries, in-app notifications, emails
in the outbox and form drafts.

Nothing else ever deletes them, and drafts hold what workers typed about children, so a data
officer deletes them deliberately: one record type at a time, every record started before the
cutoff the retention report uses for today, in one transaction, with an audit entry saying
who, which type, how many and the cutoff. Judged on today only, like erasing a case: a later
day on the report is a preview. Nothing references these rows, so no other row changes; the
audit entry written here is recent, so purging the audit log keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.db import begin_write
from engine.errors import KinflowError
from engine.retention import (
    AUDIT_LOG,
    DATED_COLUMNS,
    DRAFTS,
    NOTIFICATIONS,
    OUTBOX,
    RetentionPolicy,
    dated_cutoff,
)

PURGED_ACTION = "purge_records"
# One record, many records, and what happened on the day a record is counted from.
_WORDS = {
    AUDIT_LOG: ("audit log entry", "audit log entries", "written"),
    NOTIFICATIONS: ("in-app notification", "in-app notifications", "made"),
    OUTBOX: ("email in the outbox", "emails in the outbox", "written"),
    DRAFTS: ("form draft", "form drafts", "last saved"),
}


class CountChanged(KinflowError):
    """The number confirmed is not the number past retention now: nothing was deleted."""


@dataclass(frozen=True)
class Purge:
    record_type: str
    before: date  # records started before this day (UTC) were deleted
    count: int

    def summary(self) -> str:
        """What was done, in words: "2 audit log entries deleted (written before 2025-03-03)"."""
        return f"{describe(self.record_type, self.count)} deleted ({self.when} {self.before})"

    @property
    def when(self) -> str:
        """The cutoff's words for the type: "written before", "last saved before"."""
        return _WORDS[self.record_type][2] + " before"


def noun(record_type: str, count: int = 2) -> str:
    """What ``count`` records of the type are called: "form draft", "form drafts"."""
    one, many, _ = _WORDS[record_type]
    return one if count == 1 else many


def describe(record_type: str, count: int) -> str:
    """``count`` records of the type in words: "1 form draft", "3 form drafts"."""
    return f"{count} {noun(record_type, count)}"


def purge_dated(
    session: Session,
    record_type: str,
    policy: RetentionPolicy,
    username: str,
    via: str = "web",
    expected: int | None = None,
) -> Purge:
    """Delete every record of ``record_type`` past retention today and audit it; commits.

    With ``expected`` (the number a person confirmed), deletes only if exactly that many are
    past retention: otherwise raises ``CountChanged`` and nothing is deleted. Raises
    ``KinflowError`` for a type that is not dated (cases are erased one at a time).
    """
    column = DATED_COLUMNS.get(record_type)
    if column is None:
        raise KinflowError(
            f"{record_type!r} is not a record type deleted by date: give one of "
            f"{', '.join(DATED_COLUMNS)}. Cases are erased one at a time. Nothing was deleted."
        )
    cutoff = dated_cutoff(policy.periods[record_type], clock.now().date())
    begin_write(session)
    try:
        count = session.execute(
            delete(column.class_)
            .where(column < cutoff)
            .execution_options(synchronize_session=False)
        ).rowcount
        if expected is not None and count != expected:
            # Counted by the delete itself, so no record can slip in between count and delete.
            raise CountChanged(
                f"Past retention today: {describe(record_type, count)}, not {expected}. "
                "Nothing was deleted: check the figure and confirm again."
            )
        done = Purge(record_type, cutoff.date(), count)
        target = f"{record_type}: {count} {done.when} {done.before}"
        audit.record(session, username, PURGED_ACTION, None, target, via)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return done
