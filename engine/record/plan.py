"""Writers for the family plan, its acceptance and revisions, and the support package."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.record.models import ConferenceArrangement, FamilyPlan, PlanAction, SupportPackage
from engine.record.submission import Submission, parse_date, writes


def _plan(s: Submission, version: int) -> FamilyPlan:
    d = s.data
    plan = FamilyPlan(
        case_id=s.case_id,
        version=version,
        agreed_on=parse_date(d.get("held_on")) or s.day,
        contingency_plan=d.get("contingency_plan"),
        plan_monitor=d.get("plan_monitor") or s.context.get("plan_monitor"),
        next_review_date=parse_date(d.get("next_review_date") or s.context.get("next_review_date")),
        actions=[
            PlanAction(
                what=a["what"],
                who=a["who"],
                by_when=parse_date(a.get("by_when")),
                who_checks=a.get("who_checks"),
            )
            for a in d.get("actions", [])
        ],
    )
    s.session.add(plan)
    return plan


def current_plan(session: Session, case_id: int) -> FamilyPlan | None:
    query = (
        select(FamilyPlan)
        .where(FamilyPlan.case_id == case_id)
        .order_by(FamilyPlan.version.desc())
        .limit(1)
    )
    return session.scalars(query).first()


@writes("conference_arrangements")
def _arrangements(s: Submission) -> str:
    d = s.data
    arrangement = s.session.get(ConferenceArrangement, s.case_id) or ConferenceArrangement(
        case_id=s.case_id
    )
    arrangement.conference_date = parse_date(d["conference_date"])
    arrangement.venue = d["venue"]
    arrangement.language = d["language"]
    arrangement.food_arranged = d.get("food_arranged")
    arrangement.interpreter_booked = d.get("interpreter_booked")
    arrangement.arranged_by = s.actor
    arrangement.arranged_at = s.at
    s.session.add(arrangement)
    return f"Conference arranged for {d['conference_date']} at {d['venue']}, in {d['language']}."


@writes("conference_record")
def _conference(s: Submission) -> str:
    plan = _plan(s, version=1)
    return (
        f"Conference held on {s.data['held_on']}: the family agreed a plan with "
        f"{len(plan.actions)} action{'' if len(plan.actions) == 1 else 's'}; "
        f"{s.data['plan_monitor']} will monitor it."
    )


@writes("plan_acceptance")
def _plan_acceptance(s: Submission) -> str:
    plan = current_plan(s.session, s.case_id)
    accepted = s.data["plan_decision"] == "accept"
    if plan is not None:
        plan.status = "accepted" if accepted else "rejected"
        plan.decided_by = s.actor
        plan.decided_on = s.day
        plan.rejection_reason = s.data.get("rejection_reason")
    if accepted:
        return f"Family plan accepted by {s.actor}."
    return f"Family plan rejected by {s.actor}: {s.data.get('rejection_reason')}"


@writes("plan_revision")
def _plan_revision(s: Submission) -> str:
    previous = current_plan(s.session, s.case_id)
    plan = _plan(s, version=(previous.version + 1) if previous else 1)
    return f"The family revised its plan (version {plan.version}): {s.data['revision_note']}"


@writes("plan_circulation")
def _plan_circulation(s: Submission) -> str:
    plan = current_plan(s.session, s.case_id)
    if plan is not None:
        plan.circulated_on = parse_date(s.data["circulated_on"])
    return f"Plan circulated to {', '.join(s.data['circulated_to'])}."


@writes("support_request")
def _support_request(s: Submission) -> str:
    if not s.data.get("support_needed"):
        return f"{s.actor} recorded that no family network support package is needed."
    total = Decimal(str(s.data.get("support_total", 0)))
    s.session.add(
        SupportPackage(
            case_id=s.case_id,
            items=list(s.data.get("items", [])),
            total=total,
            justification=s.data.get("justification"),
            requested_by=s.actor,
            requested_on=s.day,
        )
    )
    return f"Support package of £{total:,.2f} requested by {s.actor}."


def _latest_package(session: Session, case_id: int) -> SupportPackage | None:
    query = (
        select(SupportPackage)
        .where(SupportPackage.case_id == case_id)
        .order_by(SupportPackage.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


@writes("support_approval")
def _support_approval(s: Submission) -> str:
    package = _latest_package(s.session, s.case_id)
    approved = bool(s.data["support_approved"])
    level = s.context.get("approval_level")
    if package is not None:
        package.approved = approved
        package.approved_by = s.actor
        package.approval_level = level
        package.decided_on = s.day
    who = "senior manager" if level == "senior_manager" else "manager"
    return f"Support package {'approved' if approved else 'refused'} by {s.actor} ({who})."


@writes("support_payment")
def _support_payment(s: Submission) -> str:
    package = _latest_package(s.session, s.case_id)
    if package is not None:
        package.paid_on = parse_date(s.data["paid_on"])
        package.payment_reference = s.data["payment_reference"]
    return f"Support package paid on {s.data['paid_on']} (reference {s.data['payment_reference']})."
