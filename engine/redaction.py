"""Redaction marks on a subject access export, and the export as released or as reviewed.

A reviewer marks a passage (or a whole item) to be withheld, with a reason. The stored record
is never altered: the release version shows "[Redacted: <reason>]" in place of the text, the
reviewer's version shows the text with the mark beside it. Marks are one per case and passage
(a unique constraint); two reviewers marking the same passage at once end with one mark, the
later reason kept, and neither sees an error. Marking and unmarking are audited.

The same text often stands in more than one passage (``engine.passage_copies``): marking can
withhold its copies in the same transaction, with the same reason, and the reviewer's version
flags any passage still showing the text of a withheld one. Each copy gets its own mark and
its own audit entry, as if marked by hand, so its history reads like any other passage's and
removing one mark never removes another.
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
from engine.passage_copies import Place, SameText, collapsed
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
    copies: bool = False,
) -> Redaction:
    """Mark a passage to be withheld (or change the reason of its mark); commits.

    ``copies``: also mark, with the same reason, the other places holding its text that are
    not withheld yet; a copy already marked keeps its own reason."""
    passage, reason = check_mark(export, passage, reason)
    case_id = export.case_id
    same_text = SameText(export) if copies else None
    for attempt in range(2):
        begin_write(session)
        try:
            keys = [passage]
            if same_text is not None:
                pending = pending_copies(same_text, marks_for(session, case_id), passage)
                keys += [p.key for p in pending]
            rows = [_put(session, case_id, key, reason, username, via) for key in keys]
            session.commit()
            return rows[0]
        except IntegrityError:
            # Another reviewer inserted the same mark between our read and our insert: the
            # second pass finds their row and updates it.
            session.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


def _put(
    session: Session, case_id: int, key: str, reason: str, username: str, via: str
) -> Redaction:
    row = session.scalar(
        select(Redaction).where(Redaction.case_id == case_id, Redaction.passage == key)
    )
    if row is None:
        row = Redaction(case_id=case_id, passage=key)
        session.add(row)
    row.reason, row.marked_by, row.marked_at = reason, username, clock.now()
    audit.record(session, username, MARKED, case_id, key, via)
    return row


def pending_copies(same_text: SameText, marks: Mapping[str, Redaction], key: str) -> list[Place]:
    """The copies of ``key``'s text that no mark withholds yet (neither their own nor their
    entry's)."""
    return [p for p in same_text.copies_of(key) if not _withheld(p, marks)]


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
    and nothing of it kept; otherwise the text stays, with each mark beside its passage, the
    other places holding a passage's text (``copies``) and, on a passage not withheld, the
    withheld ones holding its text (``same_text_withheld``). The release hints at neither."""
    same_text = None if release else SameText(export)

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
            if same_text is not None:
                entry |= _copies(same_text, marks, p.key, withheld=mark is not None)
            shown.append(entry)
        out: dict[str, Any] = {"key": it.key, "title": it.title, "passages": shown}
        if it.at is not None:
            out |= {"at": it.at.isoformat(), "by": it.by, "source": it.source}
        if it.event_id is not None:
            out["event_id"] = it.event_id
        if whole is not None and not release:
            out["redaction"] = _mark(whole)
        if same_text is not None and (places := same_text.copies_of(it.key)):
            out["copies"] = [_place(c, marks) for c in places]
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


def _copies(
    same_text: SameText, marks: Mapping[str, Redaction], key: str, withheld: bool
) -> dict[str, Any]:
    """A passage's copies for the reviewer and, if it is shown, the withheld ones among them."""
    found: dict[str, Any] = {}
    if places := same_text.copies_of(key):
        found["copies"] = [_place(c, marks) for c in places]
    if not withheld:
        held = collapsed([c for c in same_text.same_text(key) if _withheld(c, marks)])
        if held:
            found["same_text_withheld"] = [_place(c, marks) for c in held]
    return found


def _withheld(place: Place, marks: Mapping[str, Redaction]) -> bool:
    return place.key in marks or place.item.key in marks


def _place(place: Place, marks: Mapping[str, Redaction]) -> dict[str, Any]:
    at = place.item.at
    return {
        "key": place.key,
        "entry": place.item.title,
        "at": at.isoformat() if at is not None else None,
        "label": place.passage.label,
        "whole_item": place.whole_item,
        "withheld": _withheld(place, marks),
    }
