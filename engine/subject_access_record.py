"""The dated entries of a family's record, as items of a subject access chronology.

``engine.subject_access`` merges these with the case's chronology rows. Each entry's key
names the row it comes from (``review:3``, ``concern:2``), and each passage's key the field
(``review:3:family_view``), so a redaction mark keeps pointing at the same text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from engine.family_record import FamilyRecord
from engine.record.models import ChildFollowUp


@dataclass(frozen=True)
class Passage:
    """One piece of text that can be marked for redaction on its own."""

    key: str
    label: str
    text: str


@dataclass(frozen=True)
class Item:
    """A person, a network member or one chronology entry; marking ``key`` withholds all of
    its passages, marking a passage's key withholds that passage only."""

    key: str
    title: str
    passages: tuple[Passage, ...]
    at: datetime | None = None
    by: str | None = None  # the worker, by display name
    source: str = ""  # "event", "note", "referral", "review"...
    event_id: int | None = None


def readable(name: Any) -> str:
    return str(name).replace("_", " ").capitalize()


def as_text(value: Any) -> str:
    """A stored value in words: booleans as Yes/No, lists joined, nested rows flattened."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        parts = (f"{readable(k)}: {as_text(v)}" for k, v in value.items())
        return ", ".join(p for p in parts if not p.endswith(": "))
    if isinstance(value, list | tuple):
        joiner = "; " if any(isinstance(v, Mapping) for v in value) else ", "
        return joiner.join(t for t in (as_text(v) for v in value) if t)
    return str(value)


def passages(prefix: str, fields: Iterable[tuple[str, str, Any]]) -> tuple[Passage, ...]:
    """Passages ``prefix:field`` for the fields that hold something."""
    found = ((f"{prefix}:{name}", label, as_text(value)) for name, label, value in fields)
    return tuple(Passage(key, label, text) for key, label, text in found if text)


def at_start_of(day: date | datetime) -> datetime:
    """A date-only record entry sorts at the start of its day (UTC)."""
    if isinstance(day, datetime):
        return day
    return datetime.combine(day, time.min, tzinfo=UTC)


def record_entries(
    record: FamilyRecord, follow_ups: Iterable[ChildFollowUp], names: Mapping[str, str]
) -> list[Item]:
    """Every dated entry of the record; rows without a date of their own are left to the
    chronology's events that wrote them (their answers are on those events)."""

    def entry(key: str, title: str, when: Any, by: str | None, fields: list) -> None:
        if when is None:
            return
        found = passages(key, fields)
        who = names.get(by, by) if by else None
        items.append(Item(key, title, found, at_start_of(when), who, key.split(":")[0]))

    items: list[Item] = []
    ref = record.referral
    if ref is not None:
        entry("referral", "Referral received", ref.received_at, ref.referred_by, _referral(ref))
        entry(
            "screening",
            "Referral screened",
            ref.screened_at,
            ref.screened_by,
            [
                ("decision", "Decision", ref.screening_decision),
                ("decline_reason", "Why it was declined", ref.decline_reason),
            ],
        )
        entry(
            "allocation",
            "Coordinator allocated",
            ref.allocated_at,
            None,
            [("coordinator", "Coordinator", names.get(ref.coordinator or "", ref.coordinator))],
        )
        entry(
            "consent_withdrawal",
            "Consent withdrawn",
            ref.consent_withdrawn_at,
            None,
            [("reason", "Reason", ref.consent_withdrawn_reason)],
        )
    if (c := record.conference) is not None:
        entry(
            "conference",
            "Conference arranged",
            c.arranged_at,
            c.arranged_by,
            [
                ("date", "Date", c.conference_date),
                ("venue", "Venue", c.venue),
                ("language", "Language", c.language),
                ("food_arranged", "Food arranged", c.food_arranged),
                ("interpreter_booked", "Interpreter booked", c.interpreter_booked),
            ],
        )
    for plan in reversed(record.plans):  # oldest version first
        actions = [
            (f"action:{a.id}", "Action", f"{a.who}: {a.what}" + _by(a.by_when, a.who_checks))
            for a in plan.actions
        ]
        entry(
            f"plan:{plan.id}",
            f"Family plan, version {plan.version}",
            plan.agreed_on or plan.decided_on,
            None,
            [
                ("agreed_on", "Agreed at the conference on", plan.agreed_on),
                *actions,
                ("contingency_plan", "If things go wrong", plan.contingency_plan),
                ("plan_monitor", "Plan monitor", plan.plan_monitor),
                ("next_review_date", "Review date", plan.next_review_date),
                ("circulated_on", "Circulated on", plan.circulated_on),
            ],
        )
        if plan.status in ("accepted", "rejected"):
            entry(
                f"acceptance:{plan.id}",
                f"Plan version {plan.version} {plan.status}",
                plan.decided_on,
                plan.decided_by,
                [("rejection_reason", "Why it was rejected", plan.rejection_reason)],
            )
    for package in reversed(record.packages):
        entry(
            f"package:{package.id}",
            "Family network support package",
            package.requested_on or package.decided_on or package.paid_on,
            package.requested_by,
            [
                ("items", "Items", package.items),
                ("total", "Total (pounds)", package.total),
                ("justification", "Why", package.justification),
                ("approved", "Approved", package.approved),
                ("approved_by", "Decided by", names.get(package.approved_by or "", None)),
                ("decided_on", "Decided on", package.decided_on),
                ("paid_on", "Paid on", package.paid_on),
                ("payment_reference", "Payment reference", package.payment_reference),
            ],
        )
    for review in reversed(record.reviews):
        entry(
            f"review:{review.id}",
            "Review held",
            review.held_on,
            review.recorded_by,
            [
                ("due_on", "Due on", review.due_on),
                ("progress", "Progress", review.progress),
                ("family_view", "The family's view", review.family_view),
                ("another_review", "Another review needed", review.another_review),
            ],
        )
    _closure_and_outcomes(record, entry)
    for f in follow_ups:
        entry(
            f"follow_up:{f.id}",
            f"Follow-up {f.months_after_closure} months after closure",
            f.recorded_on,
            f.recorded_by,
            [
                ("child_name", "Child", f.child_name),
                ("living", "Living with", f.living),
                ("proceedings_issued", "Care proceedings issued", f.proceedings_issued),
                ("note", "Note", f.note),
            ],
        )
    for concern in reversed(record.concerns):
        entry(
            f"concern:{concern.id}",
            "Safeguarding concern raised",
            concern.raised_at,
            concern.raised_by,
            [("concern", "Concern", concern.concern)],
        )
        entry(
            f"concern_review:{concern.id}",
            "Safeguarding concern reviewed",
            concern.reviewed_at,
            concern.reviewed_by,
            [
                ("decision", "Decision", concern.decision),
                ("mash_reference", "MASH reference", concern.mash_reference),
                ("reason", "Reason", concern.reason),
            ],
        )
    return items


def _referral(ref: Any) -> list[tuple[str, str, Any]]:
    return [
        ("family_name", "Family", ref.family_name),
        ("referrer", "Referred by", ref.referrer_name),
        ("referrer_organisation", "Organisation", ref.referrer_organisation),
        ("referrer_phone", "Referrer's phone", ref.referrer_phone),
        ("referrer_email", "Referrer's email", ref.referrer_email),
        ("child_status", "The child's status", ref.child_status),
        ("referral_type", "Type of referral", ref.referral_type),
        ("urgency", "Urgency", ref.urgency),
        ("why_now", "Why now", ref.why_now),
        ("what_needs_to_change", "What needs to change", ref.what_needs_to_change),
        ("problems", "Problems", ref.problems),
        ("headline_outcomes", "Headline outcomes", ref.headline_outcomes),
        ("consent_given", "Consent given", ref.consent_given),
        ("consent_given_by", "Consent given by", ref.consent_given_by),
        ("plo_offer_date", "Pre-proceedings offer made on", ref.plo_offer_date),
        ("plo_offer_accepted", "Pre-proceedings offer accepted", ref.plo_offer_accepted),
        ("eligible", "Eligible", ref.eligible),
        ("eligibility_reason", "Eligibility", ref.eligibility_reason),
    ]


def _closure_and_outcomes(record: FamilyRecord, entry: Any) -> None:
    at_closure = [o for o in record.outcomes if o.stage == "closure"]
    six_month = [o for o in record.outcomes if o.stage != "closure"]
    if (closure := record.closure) is not None:
        entry(
            "closure",
            "Case closed",
            closure.closed_at,
            closure.closed_by,
            [
                ("reason", "Reason", closure.reason),
                ("family_feedback", "The family's feedback", closure.family_feedback),
                *(_outcome(o) for o in at_closure),
            ],
        )
    if six_month:
        first = six_month[0]
        entry(
            "six_month_check",
            "Six-month outcome check",
            first.recorded_on,
            first.recorded_by,
            [_outcome(o) for o in six_month],
        )


def _outcome(o: Any) -> tuple[str, str, str]:
    said = "achieved" if o.achieved else "not achieved"
    text = f"{readable(o.problem)}: {said}" + (f" ({o.note})" if o.note else "")
    return (f"outcome:{o.id}", "Outcome", text)


def _by(when: date | None, checks: str | None) -> str:
    text = f", by {when.isoformat()}" if when else ""
    return text + (f" (checked by {checks})" if checks else "")
