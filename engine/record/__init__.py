"""The family's record: tables filled from forms, pre-fill for later forms, chronology lines.

Importing the package registers every writer, so ``record_submission`` knows them all.
"""

from engine.record import follow_up, outcomes, plan, referral  # noqa: F401  (registers the writers)
from engine.record.submission import RecordError, record_message, record_submission

__all__ = ["RecordError", "record_message", "record_submission"]
