"""The family's record: ordinary tables that forms fill in, read by lists, pre-fill and reports.

Rows are written in the same transaction as the task that produced them, so the record never
disagrees with the case, and nothing here is ever read back out of workflow state.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine import clock
from engine.models import Base

SHORT = 500


class Referral(Base):
    """Who referred the family, why now, the problems, consent, and the screening decision."""

    __tablename__ = "referrals"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    family_name: Mapped[str] = mapped_column(String(120), index=True)
    referrer_name: Mapped[str] = mapped_column(String(120))
    referrer_organisation: Mapped[str | None] = mapped_column(String(SHORT))
    referrer_phone: Mapped[str | None] = mapped_column(String(40))
    referrer_email: Mapped[str | None] = mapped_column(String(254))
    referred_by: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(default=clock.now)
    child_status: Mapped[str | None] = mapped_column(String(40))
    referral_type: Mapped[str] = mapped_column(String(40), index=True)
    urgency: Mapped[str] = mapped_column(String(20))
    why_now: Mapped[str] = mapped_column(Text)
    what_needs_to_change: Mapped[str | None] = mapped_column(Text)
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    headline_outcomes: Mapped[list[str]] = mapped_column(JSON, default=list)
    consent_given: Mapped[bool] = mapped_column(Boolean)
    consent_given_by: Mapped[str | None] = mapped_column(String(120))
    consent_withdrawn_at: Mapped[datetime | None] = mapped_column()
    consent_withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    plo_offer_date: Mapped[date | None] = mapped_column(Date)
    plo_offer_accepted: Mapped[bool | None] = mapped_column(Boolean)
    eligible: Mapped[bool | None] = mapped_column(Boolean)
    eligibility_reason: Mapped[str | None] = mapped_column(String(SHORT))
    screening_decision: Mapped[str | None] = mapped_column(String(40))
    decline_reason: Mapped[str | None] = mapped_column(String(40))
    screened_by: Mapped[str | None] = mapped_column(String(255))
    screened_at: Mapped[datetime | None] = mapped_column()
    coordinator: Mapped[str | None] = mapped_column(String(255), index=True)
    allocated_at: Mapped[datetime | None] = mapped_column()


class Person(Base):
    """A member of the family named on the referral (children, parents, carers)."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    is_child: Mapped[bool] = mapped_column(Boolean, default=False)
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(20))
    ethnicity: Mapped[str | None] = mapped_column(String(120))
    first_language: Mapped[str | None] = mapped_column(String(60))
    interpreter_needed: Mapped[bool | None] = mapped_column(Boolean)
    religion: Mapped[str | None] = mapped_column(String(120))
    disability: Mapped[str | None] = mapped_column(String(SHORT))
    relationship_to_child: Mapped[str | None] = mapped_column(String(120))
    parental_responsibility: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    postcode: Mapped[str | None] = mapped_column(String(10))
    needs: Mapped[str | None] = mapped_column(Text)
    strengths: Mapped[str | None] = mapped_column(Text)


class NetworkMember(Base):
    """Someone in the family's wider network, and how they will take part in the conference."""

    __tablename__ = "network_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    relationship: Mapped[str] = mapped_column(String(120))
    contact_made: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_method: Mapped[str | None] = mapped_column(String(20))
    attendance: Mapped[str | None] = mapped_column(String(20))
    needs_advocate: Mapped[bool | None] = mapped_column(Boolean)
    needs_interpreter: Mapped[bool | None] = mapped_column(Boolean)
    language: Mapped[str | None] = mapped_column(String(60))


class ConferenceArrangement(Base):
    """When and where the family chose to hold their conference (rearranging overwrites it)."""

    __tablename__ = "conference_arrangements"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    conference_date: Mapped[date] = mapped_column(Date)
    venue: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(120))
    food_arranged: Mapped[bool | None] = mapped_column(Boolean)
    interpreter_booked: Mapped[bool | None] = mapped_column(Boolean)
    arranged_by: Mapped[str] = mapped_column(String(255))
    arranged_at: Mapped[datetime] = mapped_column(default=clock.now)


class FamilyPlan(Base):
    """One version of the family's plan; a revision after rejection is the next version."""

    __tablename__ = "family_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    agreed_on: Mapped[date | None] = mapped_column(Date)
    contingency_plan: Mapped[str | None] = mapped_column(Text)
    plan_monitor: Mapped[str | None] = mapped_column(String(120))
    next_review_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_on: Mapped[date | None] = mapped_column(Date)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    circulated_on: Mapped[date | None] = mapped_column(Date)

    actions: Mapped[list[PlanAction]] = relationship(
        cascade="all, delete-orphan", order_by="PlanAction.id", lazy="selectin"
    )


class PlanAction(Base):
    """One action of a plan: who does what by when, and who checks."""

    __tablename__ = "plan_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("family_plans.id"), index=True)
    what: Mapped[str] = mapped_column(Text)
    who: Mapped[str] = mapped_column(String(120))
    by_when: Mapped[date | None] = mapped_column(Date)
    who_checks: Mapped[str | None] = mapped_column(String(120))


class SupportPackage(Base):
    """A family network support package: items for network members, approval, payment."""

    __tablename__ = "support_packages"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    total: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    justification: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(255))
    approval_level: Mapped[str | None] = mapped_column(String(20))
    approved: Mapped[bool | None] = mapped_column(Boolean)
    approved_by: Mapped[str | None] = mapped_column(String(255))
    requested_on: Mapped[date | None] = mapped_column(Date)
    decided_on: Mapped[date | None] = mapped_column(Date)
    paid_on: Mapped[date | None] = mapped_column(Date)
    payment_reference: Mapped[str | None] = mapped_column(String(120))


class Review(Base):
    """A review conference: progress on each action and whether another review is needed."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    progress: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    family_view: Mapped[str | None] = mapped_column(Text)
    another_review: Mapped[bool] = mapped_column(Boolean)
    recorded_by: Mapped[str] = mapped_column(String(255))


class Outcome(Base):
    """The outcome for one problem, at closure or at the six-month check."""

    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))  # "closure" or "six_month"
    problem: Mapped[str] = mapped_column(String(60))
    achieved: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_on: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(255))


class ChildFollowUp(Base):
    """Where a child lives twelve months after closure, and whether care proceedings were
    issued: the measure of the national FGC trial, recorded by the data officer."""

    __tablename__ = "child_follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    child_name: Mapped[str] = mapped_column(String(120))
    months_after_closure: Mapped[int] = mapped_column(Integer, default=12)
    # "parents", "kin", "looked_after" or "other" (forms/twelve_month_follow_up.json).
    living: Mapped[str] = mapped_column(String(20))
    proceedings_issued: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_on: Mapped[date] = mapped_column(Date, index=True)
    recorded_by: Mapped[str] = mapped_column(String(255))


class Redaction(Base):
    """A passage of a subject access export marked to be withheld, and why.

    ``passage`` names one item of the export ("event:17", "person:4:needs"), so the mark
    survives regenerating the export; the stored record itself is never altered.
    """

    __tablename__ = "redactions"
    __table_args__ = (UniqueConstraint("case_id", "passage", name="uq_redaction_passage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    passage: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    marked_by: Mapped[str] = mapped_column(String(255))
    marked_at: Mapped[datetime] = mapped_column(default=clock.now)


class Closure(Base):
    """Why and when the pathway closed, with the family's feedback."""

    __tablename__ = "closures"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(40))
    closed_at: Mapped[datetime] = mapped_column(default=clock.now)
    closed_by: Mapped[str] = mapped_column(String(255))
    family_feedback: Mapped[str | None] = mapped_column(Text)


class SafeguardingConcern(Base):
    """A concern raised on the case and the manager's review of it."""

    __tablename__ = "safeguarding_concerns"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    concern: Mapped[str] = mapped_column(Text)
    raised_by: Mapped[str] = mapped_column(String(255))
    raised_at: Mapped[datetime] = mapped_column(default=clock.now)
    decision: Mapped[str | None] = mapped_column(String(20))
    mash_reference: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(255))
    reviewed_at: Mapped[datetime | None] = mapped_column()
