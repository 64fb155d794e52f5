"""Case notes: what a worker writes down about a family outside any form.

A note is an entry in the case's chronology (kind ``case_note``) and nothing else: it never
steps the workflow, never changes the case row (so it cannot collide with a worker completing
a task at the same moment) and may be added to a finished case, because families and workers
keep talking after a pathway ends. Like the rest of the chronology it cannot be edited.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.chronology import EventLog
from engine.db import begin_write
from engine.errors import FormInvalid
from engine.family_record import NOTE_KIND
from engine.models import CaseEvent
from engine.queries import get_case

MAX_NOTE_LENGTH = 4000


def check_note(text: str) -> str:
    """The note as it will be kept (trimmed), or ``FormInvalid`` naming the field ``text``.

    Messages never quote the note: it may hold special category data, and errors reach logs.
    """
    kept = (text or "").strip()
    if not kept:
        raise FormInvalid({"text": "Write the note: it is empty."})
    if len(kept) > MAX_NOTE_LENGTH:
        raise FormInvalid(
            {"text": f"The note is {len(kept)} characters long; at most {MAX_NOTE_LENGTH}."}
        )
    return kept


def add_note(session: Session, case_id: int, actor: Actor, text: str) -> CaseEvent:
    """Add a note to the case's chronology, in a transaction of its own, and return it."""
    kept = check_note(text)
    begin_write(session)
    try:
        get_case(session, case_id)
        log = EventLog(case_id)
        log.add(actor.username, NOTE_KIND, f"Note from {actor.username}: {kept}", text=kept)
        written_at = log.entries[0]["at"]
        log.write(session)
        note = session.scalars(
            select(CaseEvent)
            .where(
                CaseEvent.case_id == case_id,
                CaseEvent.kind == NOTE_KIND,
                CaseEvent.actor == actor.username,
                CaseEvent.at == written_at,
            )
            .order_by(CaseEvent.id.desc())
            .limit(1)
        ).one()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return note
