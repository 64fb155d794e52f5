"""One family's whole record as a single chronology, for a subject access request.

A request (UK GDPR art. 15) needs the family's story as one coherent account: the header of
the case, the people and the network as recorded, and one chronology that merges, in time
order, every ``case_events`` row (case notes included) with the dated entries of the record
(referral, screening, allocation, conference, plans and their acceptance, support packages,
reviews, closure and outcomes, the six-month check, twelve-month follow-ups, safeguarding
concerns). The record is read through ``engine.family_record`` and ``engine.chronology``, as
the case page reads it, and nothing is queried twice.

Each item has a stable key (``event:17``, ``note:18``, ``person:4:needs``...), so a reviewer's
redaction marks (``engine.redaction``) survive regenerating the export. Left out on purpose:
internal fields (task ids, form keys, workflow state, escalation codes) and the audit log,
which records which workers looked at the case: it is about workers, not about the family.
The assessment and network preparation appear as the people's and the network's details
(needs, strengths, contact) and as the chronology's "form completed" events with the answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine import clock
from engine.accounts import Team, User
from engine.chronology import case_events
from engine.errors import CaseNotFound, NotAllowed
from engine.family_record import NOTE_KIND, FamilyRecord, family_record, worker_names
from engine.models import Case, CaseEvent, CaseStatus
from engine.record.models import ChildFollowUp
from engine.roles import DATA_OFFICER, FGC_MANAGER
from engine.subject_access_record import (
    Item,
    Passage,
    passages,
    readable,
    record_entries,
)

# What each chronology row is, in words; an unknown kind is shown as it is stored.
EVENT_TITLES = {
    "case_note": "Case note",
    "task_completed": "Form completed",
    "message_received": "Concern or consent recorded",
    "sla_breached": "Deadline missed",
    "task_ready": "Task opened",
    "task_assigned": "Task claimed or assigned",
    "task_cancelled": "Task cancelled",
    "case_started": "Case started",
    "case_completed": "Case finished",
    "case_cancelled": "Case cancelled",
    "case_migrated": "Moved to a new version of the pathway",
    "kept_on_version": "Kept on its version of the pathway",
    "released_from_version": "Released to move versions",
    "case_erased": "Record erased",
}
# Payload fields that are the system's own bookkeeping, never the family's data.
INTERNAL_FIELDS = {"task_id", "form_key", "escalation", "code", "message", "version_id"}
STATUS_WORDS = {
    CaseStatus.ACTIVE: "Open",
    CaseStatus.COMPLETED: "Finished",
    CaseStatus.CANCELLED: "Cancelled",
    CaseStatus.ERROR: "Stopped by an error",
}
_ENDINGS = ("case_completed", "case_cancelled")


@dataclass(frozen=True)
class SubjectAccessExport:
    case_id: int
    family_name: str
    team: str | None
    status: str
    ending: str | None
    opened_at: datetime
    ended_at: datetime | None
    people: tuple[Item, ...]
    network: tuple[Item, ...]
    chronology: tuple[Item, ...]
    generated_at: datetime

    def items(self) -> Iterable[Item]:
        yield from self.people
        yield from self.network
        yield from self.chronology

    def passage_keys(self) -> set[str]:
        """Every key a redaction mark may name: items and their passages."""
        found = set()
        for item in self.items():
            found.add(item.key)
            found.update(p.key for p in item.passages)
        return found


def subject_access_case(session: Session, user: User, case_id: int) -> Case:
    """The case, if ``user`` may review its subject access export.

    Data officers answer requests for any case; FGC managers for their own team's cases.
    Other roles are refused (``NotAllowed``, 403) whatever the case; a manager asking about
    another team's case is told it does not exist (``CaseNotFound``, 404), as everywhere.
    """
    roles = set(user.roles) if user.active else set()
    if not roles & {DATA_OFFICER, FGC_MANAGER}:
        raise NotAllowed("Only data officers and FGC managers answer subject access requests.")
    case = session.get(Case, case_id, populate_existing=True)
    if case is None or (DATA_OFFICER not in roles and case.team_id != user.team_id):
        raise CaseNotFound(f"Case {case_id} does not exist.")
    return case


def may_review(user: User, case: Case) -> bool:
    """Whether ``user`` may open the case's subject access export (for links)."""
    if not user.active:
        return False
    return DATA_OFFICER in user.roles or (
        FGC_MANAGER in user.roles and case.team_id == user.team_id
    )


def build_export(
    session: Session, case: Case, forms: Mapping[str, Any] | None = None
) -> SubjectAccessExport:
    """The family's whole record; ``forms`` (form key -> JSON Schema) gives the answers of
    completed forms their questions' wording, else field names are made readable."""
    record = family_record(session, case.id)
    events = case_events(session, case.id)
    follow_ups = record.follow_ups
    names = worker_names(session, _workers(case, record, events, follow_ups))
    team = session.get(Team, case.team_id) if case.team_id is not None else None
    entries = [_event_item(e, names, forms or {}) for e in events]
    entries += record_entries(record, follow_ups, names)
    entries.sort(key=lambda item: (item.at, item.event_id is None, item.key))
    ended = [e.at for e in events if e.kind in _ENDINGS]
    return SubjectAccessExport(
        case_id=case.id,
        family_name=record.family_name or case.title,
        team=team.name if team is not None else None,
        status=STATUS_WORDS.get(case.status, case.status),
        ending=record.ending(),
        opened_at=case.created_at,
        ended_at=max(ended) if ended and case.status != CaseStatus.ACTIVE else None,
        people=tuple(_person(p) for p in record.people),
        network=tuple(_member(m) for m in record.network),
        chronology=tuple(entries),
        generated_at=clock.now(),
    )


def _workers(
    case: Case, record: FamilyRecord, events: list[CaseEvent], follow_ups: Iterable[ChildFollowUp]
) -> list[str | None]:
    ref = record.referral
    names: list[str | None] = [case.created_by, *(e.actor for e in events)]
    if ref is not None:
        names += [ref.referred_by, ref.coordinator, ref.screened_by]
    names += [c.raised_by for c in record.concerns] + [c.reviewed_by for c in record.concerns]
    names += [p.decided_by for p in record.plans] + [r.recorded_by for r in record.reviews]
    names += [p.requested_by for p in record.packages] + [p.approved_by for p in record.packages]
    names += [o.recorded_by for o in record.outcomes] + [f.recorded_by for f in follow_ups]
    if record.conference is not None:
        names.append(record.conference.arranged_by)
    if record.closure is not None:
        names.append(record.closure.closed_by)
    return names


# -- turning stored values into passages ---------------------------------------------------


def _person(p: Any) -> Item:
    fields = [
        ("name", "Name", p.name),
        ("is_child", "Child", p.is_child),
        ("date_of_birth", "Date of birth", p.date_of_birth),
        ("due_date", "Due date", p.due_date),
        ("gender", "Gender", p.gender),
        ("ethnicity", "Ethnicity", p.ethnicity),
        ("first_language", "First language", p.first_language),
        ("interpreter_needed", "Interpreter needed", p.interpreter_needed),
        ("religion", "Religion", p.religion),
        ("disability", "Disability", p.disability),
        ("relationship_to_child", "Relationship to the child", p.relationship_to_child),
        ("parental_responsibility", "Parental responsibility", p.parental_responsibility),
        ("phone", "Phone", p.phone),
        ("email", "Email", p.email),
        ("postcode", "Postcode", p.postcode),
        ("needs", "Needs (whole-family assessment)", p.needs),
        ("strengths", "Strengths (whole-family assessment)", p.strengths),
    ]
    # Titles name no one, so withholding a name passage withholds the name everywhere.
    title = "Child" if p.is_child else "Family member"
    return Item(f"person:{p.id}", title, passages(f"person:{p.id}", fields), source="person")


def _member(m: Any) -> Item:
    fields = [
        ("name", "Name", m.name),
        ("relationship", "Relationship", m.relationship),
        ("contact_made", "Contact made", m.contact_made),
        ("contact_method", "How", m.contact_method),
        ("attendance", "Taking part", m.attendance),
        ("needs_advocate", "Needs an advocate", m.needs_advocate),
        ("needs_interpreter", "Needs an interpreter", m.needs_interpreter),
        ("language", "Language", m.language),
    ]
    key = f"network:{m.id}"
    return Item(key, "Network member", passages(key, fields), source="network")


def _event_item(event: CaseEvent, names: Mapping[str, str], forms: Mapping[str, Any]) -> Item:
    note = event.kind == NOTE_KIND
    key = f"{'note' if note else 'event'}:{event.id}"
    payload = event.payload or {}
    found = [Passage(key, "What happened", event.summary)]
    if not note:  # a note's summary already holds its whole text
        schema = forms.get(payload.get("form_key") or "", {})
        answers = payload.get("data") if "data" in payload else payload.get("payload")
        details = answers if isinstance(answers, Mapping) else {}
        fields = [
            (name, _question(schema, name), value)
            for name, value in details.items()
            if name not in INTERNAL_FIELDS
        ]
        found += passages(key, fields)
    return Item(
        key,
        EVENT_TITLES.get(event.kind, readable(event.kind)),
        tuple(found),
        at=event.at,
        by=names.get(event.actor, event.actor),
        source="note" if note else "event",
        event_id=event.id,
    )


def _question(schema: Mapping[str, Any], name: str) -> str:
    prop = schema.get("properties", {}).get(name, {})
    return str(prop.get("title") or readable(name))
