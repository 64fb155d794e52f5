"""Measures of the front door: referrals and screening, declines by reason, how long families
wait for a coordinator and a conference, and pre-proceedings (PLO) referrals.

A referral is counted in the period it was received; a screening decision in the period it was
made. The referral row keeps only the latest decision, so a referral sent back for more
information and then accepted counts once as accepted; each request for more information is
counted from the task it opened for the referrer.
"""

from __future__ import annotations

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from engine.models import HumanTask
from engine.record.models import FamilyPlan, Referral
from engine.reports.scope import (
    at_moments,
    code_labels,
    day_figures,
    narrowed,
    on_days,
    readable,
)
from engine.reports.tables import Column, ReportFilter, Table, measure
from engine.time_words import london_day

PRE_PROCEEDINGS = "pre_proceedings"  # forms/referral.json, referral_type
MORE_INFORMATION_FORM = "more_information"  # the referrer's task when screening asks for more
FIRST_PLAN = 1  # the conference writes version 1; revisions after a rejection are 2, 3, ...
WHAT = Column("what", "")
NUMBER = Column("count", "Number", "count")


@measure("referrals", order=10)
def referrals(session: Session, where: ReportFilter) -> Table:
    received = session.scalar(
        narrowed(select(func.count()).select_from(Referral), where).where(
            at_moments(Referral.received_at, where)
        )
    )
    decided = dict(
        session.execute(
            narrowed(
                select(Referral.screening_decision, func.count()).group_by(
                    Referral.screening_decision
                ),
                where,
            ).where(at_moments(Referral.screened_at, where))
        ).all()
    )
    asked = session.scalar(
        narrowed(select(func.count()).select_from(HumanTask), where, HumanTask.case_id).where(
            HumanTask.form_key == MORE_INFORMATION_FORM, at_moments(HumanTask.created_at, where)
        )
    )
    return Table(
        key="referrals",
        title="Referrals",
        columns=(Column("outcome", "Referrals"), NUMBER),
        rows=(
            ("Received", received or 0),
            ("Accepted", decided.get("accept", 0)),
            ("Declined", decided.get("decline", 0)),
            ("More information asked", asked or 0),
        ),
        how=(
            "Referrals received in the period, screening decisions (accepted, declined) made in "
            "the period, and each request to a referrer for more information made in the period."
        ),
        chart="count",
    )


@measure("declines", order=20)
def declines(session: Session, where: ReportFilter) -> Table:
    counts = session.execute(
        narrowed(
            select(Referral.decline_reason, func.count()).group_by(Referral.decline_reason),
            where,
        ).where(Referral.screening_decision == "decline", at_moments(Referral.screened_at, where))
    ).all()
    labels = code_labels(session, "screening", "decline_reason") if counts else {}
    rows = sorted(
        ((readable(reason, labels, "No reason recorded"), n) for reason, n in counts),
        key=lambda row: (-row[1], row[0]),
    )
    return Table(
        key="declines",
        title="Referrals declined, by reason",
        columns=(Column("reason", "Reason"), NUMBER),
        rows=tuple(rows),
        how="Referrals declined at screening in the period, by the reason the manager gave.",
        chart="count",
    )


@measure("timeliness", order=30)
def timeliness(session: Session, where: ReportFilter) -> Table:
    allocated = session.execute(
        narrowed(select(Referral.received_at, Referral.allocated_at), where).where(
            at_moments(Referral.allocated_at, where)
        )
    ).all()
    to_allocation = [(london_day(done) - london_day(received)).days for received, done in allocated]
    conferences = session.execute(
        narrowed(
            select(Referral.received_at, FamilyPlan.agreed_on).select_from(FamilyPlan),
            where,
            FamilyPlan.case_id,
        ).where(FamilyPlan.version == FIRST_PLAN, on_days(FamilyPlan.agreed_on, where))
    ).all()
    to_conference = [(held - london_day(received)).days for received, held in conferences]
    return Table(
        key="timeliness",
        title="Days from referral to allocation and to the conference",
        columns=(
            Column("measure", "From referral to"),
            Column("count", "Families", "count"),
            Column("median", "Median days", "days"),
            Column("p90", "90th percentile, days", "days"),
        ),
        rows=(
            ("Allocation of a coordinator", *day_figures(to_allocation)),
            ("The conference", *day_figures(to_conference)),
        ),
        how=(
            "Calendar days (London dates) from the day a referral was received to the day a "
            "coordinator was allocated, for allocations made in the period, and to the day of "
            "the conference, for conferences held in the period."
        ),
    )


@measure("pre_proceedings", order=120)
def pre_proceedings(session: Session, where: ReportFilter) -> Table:
    received = narrowed(select(Referral.case_id), where).where(
        Referral.referral_type == PRE_PROCEEDINGS, at_moments(Referral.received_at, where)
    )
    cohort = received.subquery()
    row = session.execute(
        select(
            func.count(),
            func.count(Referral.plo_offer_date),
            func.count().filter(Referral.plo_offer_accepted.is_(True)),
        ).where(Referral.case_id.in_(select(cohort.c.case_id)))
    ).one()
    held = session.scalar(
        select(func.count(distinct(FamilyPlan.case_id))).where(
            FamilyPlan.version == FIRST_PLAN, FamilyPlan.case_id.in_(select(cohort.c.case_id))
        )
    )
    return Table(
        key="pre_proceedings",
        title="Family group conferences before care proceedings (PLO)",
        columns=(WHAT, NUMBER),
        rows=(
            ("Pre-proceedings referrals received", row[0]),
            ("Family group conference offered", row[1]),
            ("Offer accepted", row[2]),
            ("Meeting held", held or 0),
        ),
        how=(
            "Pre-proceedings referrals received in the period, and how many of them have so far "
            "had a family group conference offered (an offer date recorded), accepted, and held."
        ),
    )
