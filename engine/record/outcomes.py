"""Writers for reviews, closure, the six-month check and safeguarding; message writers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.record.models import Closure, Outcome, Referral, Review, SafeguardingConcern
from engine.record.plan import current_plan
from engine.record.submission import Submission, parse_date, writes, writes_message


@writes("review")
def _review(s: Submission) -> str:
    s.session.add(
        Review(
            case_id=s.case_id,
            held_on=parse_date(s.data["held_on"]),
            # The date this review was due is the one set before it (the plan or last review).
            due_on=parse_date(s.previous.get("next_review_date")),
            progress=list(s.data.get("progress", [])),
            family_view=s.data.get("family_view"),
            another_review=bool(s.data["another_review"]),
            recorded_by=s.actor,
        )
    )
    plan = current_plan(s.session, s.case_id)
    if plan is not None:
        # The plan the family holds says when they next meet; a last review leaves no date.
        another = s.data["another_review"]
        plan.next_review_date = parse_date(s.data.get("next_review_date")) if another else None
    done = sum(1 for p in s.data.get("progress", []) if p.get("status") == "done")
    more = "another review planned" if s.data["another_review"] else "no further review"
    total = len(s.data["progress"])
    return f"Review held on {s.data['held_on']}: {done} of {total} actions done; {more}."


def _outcomes(s: Submission, stage: str, flag: str, on: date) -> list[Outcome]:
    outcomes = [
        Outcome(
            case_id=s.case_id,
            stage=stage,
            problem=o["problem"],
            achieved=bool(o[flag]),
            note=o.get("note"),
            recorded_on=on,
            recorded_by=s.actor,
        )
        for o in s.data.get("outcomes", [])
    ]
    s.session.add_all(outcomes)
    return outcomes


@writes("closure")
def _closure(s: Submission) -> str:
    s.session.add(
        Closure(
            case_id=s.case_id,
            reason=s.data["closure_reason"],
            closed_at=s.at,
            closed_by=s.actor,
            family_feedback=s.data.get("family_feedback"),
        )
    )
    outcomes = _outcomes(s, "closure", "significant_progress", s.day)
    progress = sum(1 for o in outcomes if o.achieved)
    return (
        f"Case closed by {s.actor}: {s.label('closure_reason', s.data['closure_reason'])}; "
        f"significant progress on {progress} of {len(outcomes)} problems."
    )


@writes("six_month_check")
def _six_month(s: Submission) -> str:
    outcomes = _outcomes(s, "six_month", "sustained", parse_date(s.data["checked_on"]))
    sustained = sum(1 for o in outcomes if o.achieved)
    return f"Six-month check: progress sustained on {sustained} of {len(outcomes)} problems."


@writes("safeguarding_review")
def _safeguarding(s: Submission) -> str:
    # Each review task carries the concern it was raised for; reviews may finish in any order.
    raised = s.previous.get("safeguarding_concern") or {}
    query = (
        select(SafeguardingConcern)
        .where(SafeguardingConcern.case_id == s.case_id, SafeguardingConcern.decision.is_(None))
        .order_by(SafeguardingConcern.id)
    )
    open_concerns = list(s.session.scalars(query))
    text = raised.get("concern") if isinstance(raised, Mapping) else None
    matching = [c for c in open_concerns if c.concern == text]
    concern = (matching or open_concerns or [None])[0]
    decision = s.data["safeguarding_decision"]
    if concern is not None:
        concern.decision = decision
        concern.mash_reference = s.data.get("mash_reference")
        concern.reason = s.data.get("safeguarding_reason")
        concern.reviewed_by = s.actor
        concern.reviewed_at = s.at
    if decision == "step_up":
        return (
            f"Stepped up to children's social care by {s.actor} (MASH reference "
            f"{s.data.get('mash_reference')}): {s.data.get('safeguarding_reason')}"
        )
    reason = s.data.get("safeguarding_reason")
    return f"Safeguarding concern reviewed by {s.actor}; the FGC continues: {reason}"


@writes_message("safeguarding_concern")
def _concern_raised(
    session: Session, case_id: int, actor: str, at: datetime, body: Mapping[str, Any]
) -> str:
    raised_by = body.get("raised_by") or actor
    session.add(
        SafeguardingConcern(
            case_id=case_id, concern=str(body.get("concern", "")), raised_by=raised_by, raised_at=at
        )
    )
    return f"Safeguarding concern raised by {raised_by}: {body.get('concern', '')}"


@writes_message("consent_withdrawn")
def _consent_withdrawn(
    session: Session, case_id: int, actor: str, at: datetime, body: Mapping[str, Any]
) -> str:
    referral = session.get(Referral, case_id)
    reason = str(body.get("reason", ""))
    if referral is not None:
        referral.consent_withdrawn_at = at
        referral.consent_withdrawn_reason = reason
    who = body.get("withdrawn_by") or actor
    return (
        f"Consent withdrawn ({who}): {reason.rstrip('.')}. "
        "The pathway has ended and open tasks are cancelled."
    )
