"""A completed form or a message, and the registry of what writes each into the record.

One writer per form key of the shipped pathway. A writer reads only the fields it knows, so a
process owner who adds a question to a form loses nothing (the answer stays in the task data
and the chronology) and breaks nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.errors import KinflowError
from engine.record.models import Referral
from engine.time_words import london_day


class RecordError(KinflowError):
    """A completed form lacks something the family's record needs."""


@dataclass(frozen=True)
class Submission:
    """A completed task's form data, with what a writer needs around it."""

    session: Session
    case_id: int
    actor: str
    at: datetime
    form: Mapping[str, Any]  # the JSON Schema, for the plain-language labels of codes
    data: Mapping[str, Any]  # what the worker submitted
    context: Mapping[str, Any]  # the case's data after the step (decisions, earlier answers)
    previous: Mapping[str, Any] = field(default_factory=dict)  # the task's data before it

    @property
    def day(self) -> date:
        """The London day the form was completed: the day reports count it on."""
        return london_day(self.at)

    def label(self, field: str, value: Any) -> str:
        """The form's words for a code (``x-labels``), or the code made readable."""
        prop = self.form.get("properties", {}).get(field, {})
        labels = prop.get("x-labels") or prop.get("items", {}).get("x-labels") or {}
        return str(labels.get(value, str(value).replace("_", " ")))

    def labels(self, field: str, values: list[Any]) -> str:
        return ", ".join(self.label(field, v) for v in values)

    def referral(self) -> Referral | None:
        return self.session.get(Referral, self.case_id)


Writer = Callable[[Submission], str | None]
WRITERS: dict[str, Writer] = {}


def writes(form_key: str) -> Callable[[Writer], Writer]:
    def register(writer: Writer) -> Writer:
        WRITERS[form_key] = writer
        return writer

    return register


def record_submission(submission: Submission, form_key: str | None) -> str | None:
    """Write what ``form_key``'s writer knows; returns its chronology sentence, if any."""
    writer = WRITERS.get(form_key or "")
    if writer is None:
        return None
    try:
        return writer(submission)
    except KeyError as exc:
        # A process owner made a field optional that the record needs: say which.
        raise RecordError(
            f"The family record could not be updated from form '{form_key}': "
            f"the field {exc} is missing. Make it required in the form."
        ) from exc


def parse_date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def count_words(n: int) -> str:
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    return words[n] if n < len(words) else str(n)


MessageWriter = Callable[[Session, int, str, datetime, Mapping[str, Any]], str]
MESSAGE_WRITERS: dict[str, MessageWriter] = {}


def writes_message(name: str) -> Callable[[MessageWriter], MessageWriter]:
    def register(writer: MessageWriter) -> MessageWriter:
        MESSAGE_WRITERS[name] = writer
        return writer

    return register


def record_message(
    session: Session, case_id: int, name: str, actor: str, at: datetime, payload: Any
) -> str | None:
    """Record what a message tells us (a concern, a withdrawal); returns its sentence."""
    writer = MESSAGE_WRITERS.get(name)
    body = payload if isinstance(payload, Mapping) else {}
    return writer(session, case_id, actor, at, body) if writer else None
