"""The case chronology: plain-language entries gathered during a change, written in one insert."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine import clock
from engine.models import CaseEvent


def jsonable(value: Any) -> Any:
    """Form data and message payloads as plain JSON (dates become ISO strings)."""
    return json.loads(json.dumps(value, default=str))


@dataclass
class EventLog:
    """Entries for one case, collected while a change runs and written with it."""

    case_id: int
    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(self, actor: str, kind: str, summary: str, **payload: Any) -> None:
        self.entries.append(
            {
                "case_id": self.case_id,
                "at": clock.now(),
                "actor": actor,
                "kind": kind,
                "summary": summary,
                "payload": jsonable(payload),
            }
        )

    def write(self, session: Session) -> None:
        if self.entries:
            session.connection().execute(_INSERT, self.entries)
            self.entries = []


_INSERT = insert(CaseEvent.__table__)


def case_events(session: Session, case_id: int) -> list[CaseEvent]:
    """A case's chronology, oldest first."""
    query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
    return list(session.scalars(query))
