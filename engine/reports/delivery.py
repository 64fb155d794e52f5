"""Measures of the work done with families: conferences and plans, reviews and whether they
were on time, support packages and their cost, and cases stepped up to social care.

Each is counted in the period the thing happened: a conference on the day it was held, a plan
on the day the referrer accepted it, a review on the day it was held, a package on the day it
was requested, approved or paid, a step-up on the day the manager decided it.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import and_, case, distinct, func, or_, select
from sqlalchemy.orm import Session

from engine.record.models import FamilyPlan, Review, SafeguardingConcern, SupportPackage
from engine.reports.flow import FIRST_PLAN, NUMBER, WHAT
from engine.reports.scope import at_moments, narrowed, on_days
from engine.reports.tables import Column, ReportFilter, Table, measure, share_of

STEP_UP = "step_up"  # forms/safeguarding_review.json, safeguarding_decision


@measure("conferences", order=40)
def conferences(session: Session, where: ReportFilter) -> Table:
    held_in = and_(FamilyPlan.version == FIRST_PLAN, on_days(FamilyPlan.agreed_on, where))
    # Plans accepted before decision dates were recorded fall back to the conference's day.
    decided = func.coalesce(FamilyPlan.decided_on, FamilyPlan.agreed_on)
    agreed_in = and_(FamilyPlan.status == "accepted", on_days(decided, where))
    held, agreed = session.execute(
        narrowed(
            select(func.count().filter(held_in), func.count().filter(agreed_in)).select_from(
                FamilyPlan
            ),
            where,
            FamilyPlan.case_id,
        ).where(or_(held_in, agreed_in))  # one pass over the plans for both
    ).one()
    return Table(
        key="conferences",
        title="Conferences and family plans",
        columns=(WHAT, NUMBER),
        rows=(("Conferences held", held), ("Plans agreed", agreed)),
        how=(
            "Family group conferences held in the period, and family plans the referrer "
            "accepted in the period."
        ),
    )


@measure("reviews", order=50)
def reviews(session: Session, where: ReportFilter) -> Table:
    on_time = case((Review.held_on <= Review.due_on, 1), else_=0)
    late = case((Review.held_on > Review.due_on, 1), else_=0)
    undated = case((Review.due_on.is_(None), 1), else_=0)
    held, timely, overdue, no_date = session.execute(
        narrowed(
            select(func.count(), func.sum(on_time), func.sum(late), func.sum(undated)).select_from(
                Review
            ),
            where,
            Review.case_id,
        ).where(on_days(Review.held_on, where))
    ).one()
    timely, overdue, no_date = timely or 0, overdue or 0, no_date or 0
    return Table(
        key="reviews",
        title="Review conferences",
        columns=(
            Column("held", "Held", "count"),
            Column("on_time", "On time", "count"),
            Column("late", "Late", "count"),
            Column("no_due_date", "No due date", "count"),
            Column("share_on_time", "On time", "percent"),
        ),
        rows=((held, timely, overdue, no_date, share_of(timely, timely + overdue)),),
        how=(
            "Reviews held in the period; on time means held on or before the date it was due; "
            "the share on time counts only reviews that had a due date."
        ),
    )


@measure("support", order=60)
def support(session: Session, where: ReportFilter) -> Table:
    stages = (
        ("Requested", on_days(SupportPackage.requested_on, where)),
        (
            "Approved",
            and_(SupportPackage.approved.is_(True), on_days(SupportPackage.decided_on, where)),
        ),
        ("Paid", on_days(SupportPackage.paid_on, where)),
    )
    figures = []
    for _, happened in stages:
        figures += [func.count().filter(happened), func.sum(SupportPackage.total).filter(happened)]
    found = session.execute(  # one pass over the packages for the three stages
        narrowed(select(*figures).select_from(SupportPackage), where, SupportPackage.case_id).where(
            or_(*(happened for _, happened in stages))
        )
    ).one()
    rows = tuple(
        (label, found[2 * n], Decimal(found[2 * n + 1] or 0).quantize(Decimal("0.01")))
        for n, (label, _) in enumerate(stages)
    )
    return Table(
        key="support",
        title="Family network support packages",
        columns=(
            Column("stage", "Packages"),
            Column("count", "Number", "count"),
            Column("total", "Total cost", "money"),
        ),
        rows=rows,
        how=(
            "Support packages requested, approved and paid in the period, each on the day it "
            "happened, with the total of their costs."
        ),
    )


@measure("stepped_up", order=70)
def stepped_up(session: Session, where: ReportFilter) -> Table:
    step_up = case((SafeguardingConcern.decision == STEP_UP, SafeguardingConcern.case_id))
    reviewed = narrowed(
        select(func.count(), func.count(distinct(step_up))).select_from(SafeguardingConcern),
        where,
        SafeguardingConcern.case_id,
    )
    concerns, cases = session.execute(
        reviewed.where(at_moments(SafeguardingConcern.reviewed_at, where))
    ).one()
    return Table(
        key="stepped_up",
        title="Safeguarding: cases stepped up",
        columns=(WHAT, NUMBER),
        rows=(
            ("Safeguarding concerns reviewed", concerns),
            ("Cases stepped up to children's social care", cases),
        ),
        how=(
            "Safeguarding concerns a manager reviewed in the period, and the cases a manager "
            "stepped up to children's social care in the period."
        ),
    )
