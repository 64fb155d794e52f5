"""Redaction marks on a subject access export, and the export as released or as reviewed.

A reviewer marks a passage (or a whole item) to be withheld, with a reason. The stored record
is never altered: the release version shows "[Redacted: <reason>]" in place of the text, the
reviewer's version shows the text with the mark beside it. Marks are one per case and passage
(a unique constraint); two reviewers marking the same passage at once end with one mark, the
later reason kept, and neither sees an error. Marking and unmarking are audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.db import begin_write
from engine.errors import FormInvalid
from engine.record.models import Redaction
from engine.subject_access import SubjectAccessExport
from engine.subject_access_record import Item

MAX_REASON_LENGTH = 500
MARKED = "mark_redaction"
UNMARKED = "remove_redaction"


def marks_for(session: Session, case_id: int) -> dict[str, Redaction]:
    """The case's marks by passage key."""
    rows = session.scalars(select(Redaction).where(Redaction.case_id == case_id))
    return {row.passage: row for row in rows}


def check_mark(export: SubjectAccessExport, passage: str, reason: str) -> tuple[str, str]:
    """The passage key and trimmed reason, or ``FormInvalid`` naming the field at fault."""
    passage, reason = (passage or "").strip(), (reason or "").strip()
    errors = {}
    if passage not in export.passage_keys():
        errors["passage"] = "Choose a passage of this family's export to mark."
    if not reason:
        errors["reason"] = "Give the reason the passage is withheld: it is shown in its place."
    elif len(reason) > MAX_REASON_LENGTH:
        errors["reason"] = f"At most {MAX_REASON_LENGTH} characters: this has {len(reason)}."
    if errors:
        raise FormInvalid(errors)
    return passage, reason


def mark(
    session: Session,
    export: SubjectAccessExport,
    passage: str,
    reason: str,
    username: str,
    via: str = "web",
) -> Redaction:
    """Mark a passage to be withheld (or change the reason of its mark); commits."""
    passage, reason = check_mark(export, passage, reason)
    case_id = export.case_id
    for attempt in range(2):
        begin_write(session)
        try:
            row = session.scalar(
                select(Redaction).where(Redaction.case_id == case_id, Redaction.passage == passage)
            )
            if row is None:
                row = Redaction(case_id=case_id, passage=passage)
                session.add(row)
            row.reason, row.marked_by, row.marked_at = reason, username, clock.now()
            audit.record(session, username, MARKED, case_id, passage, via)
            session.commit()
            return row
        except IntegrityError:
            # Another reviewer inserted the same mark between our read and our insert: the
            # second pass finds their row and updates it.
            session.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


def unmark(session: Session, case_id: int, passage: str, username: str, via: str = "web") -> bool:
    """Remove a passage's mark; whether there was one. Audited either way; commits."""
    begin_write(session)
    try:
        removed = session.execute(
            delete(Redaction).where(
                Redaction.case_id == case_id, Redaction.passage == (passage or "").strip()
            )
        ).rowcount
        audit.record(session, username, UNMARKED, case_id, passage or "", via)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return bool(removed)


def present(
    export: SubjectAccessExport, marks: Mapping[str, Redaction], release: bool
) -> dict[str, Any]:
    """The export as plain JSON. ``release``: marked text replaced by "[Redacted: reason]"
    and nothing of it kept; otherwise the text stays, with each mark beside its passage."""

    def item(it: Item) -> dict[str, Any]:
        whole = marks.get(it.key)
        shown = []
        for p in it.passages:
            mark = marks.get(p.key) or whole
            entry: dict[str, Any] = {"key": p.key, "label": p.label, "text": p.text}
            if mark is not None and release:
                entry["text"] = f"[Redacted: {mark.reason}]"
                entry["redacted"] = True
            elif mark is not None:
                entry["redaction"] = _mark(mark, whole=mark is whole and p.key not in marks)
            shown.append(entry)
        out: dict[str, Any] = {"key": it.key, "title": it.title, "passages": shown}
        if it.at is not None:
            out |= {"at": it.at.isoformat(), "by": it.by, "source": it.source}
        if it.event_id is not None:
            out["event_id"] = it.event_id
        if whole is not None and not release:
            out["redaction"] = _mark(whole)
        return out

    used = [m for m in marks.values() if m.passage in export.passage_keys()]
    return {
        "case": {
            "case_number": export.case_id,
            "family_name": export.family_name,
            "team": export.team,
            "status": export.status,
            "ending": export.ending,
            "opened_at": export.opened_at.isoformat(),
            "ended_at": export.ended_at.isoformat() if export.ended_at else None,
        },
        "version": "release" if release else "review",
        "generated_at": export.generated_at.isoformat(),
        "redactions": len(used),
        "people": [item(i) for i in export.people],
        "network": [item(i) for i in export.network],
        "chronology": [item(i) for i in export.chronology],
    }


def _mark(mark: Redaction, whole: bool = False) -> dict[str, Any]:
    return {
        "reason": mark.reason,
        "marked_by": mark.marked_by,
        "marked_at": mark.marked_at.isoformat(),
        "whole_item": whole,
    }
