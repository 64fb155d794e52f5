"""Measures of the front door: referrals and screening, declines by reason, how long families
wait for a coordinator and a conference, and pre-proceedings (PLO) referrals.

A referral is counted in the period it was received; a screening decision in the period it was
made. The referral row keeps only the latest decision, so a referral sent back for more
information and then accepted counts once as accepted; each request for more information is
counted from the task it opened for the referrer.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
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
from engine.reports.spreads import SHARES, london_date, rounded_days, sorts_in_database, spread
from engine.reports.tables import Column, ReportFilter, Table, measure
from engine.time_words import london_day

PRE_PROCEEDINGS = "pre_proceedings"  # forms/referral.json, referral_type
MORE_INFORMATION_FORM = "more_information"  # the referrer's task when screening asks for more
FIRST_PLAN = 1  # the conference writes version 1; revisions after a rejection are 2, 3, ...
WHAT = Column("what", "")
NUMBER = Column("count", "Number", "count")


@measure("referrals", order=10)
def referrals(session: Session, where: ReportFilter) -> Table:
    # One pass over the referrals for both dates: a year is half of them at 100,000 cases.
    received_in = at_moments(Referral.received_at, where)
    screened_in = at_moments(Referral.screened_at, where)
    received, accepted, declined = session.execute(
        narrowed(
            select(
                func.count().filter(received_in),
                func.count().filter(screened_in, Referral.screening_decision == "accept"),
                func.count().filter(screened_in, Referral.screening_decision == "decline"),
            ).select_from(Referral),
            where,
        ).where(or_(received_in, screened_in))
    ).one()
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
            ("Received", received),
            ("Accepted", accepted),
            ("Declined", declined),
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
    if sorts_in_database(session):
        to_allocation, to_conference = _days_waited_in_database(session, where)
    else:
        to_allocation, to_conference = _days_waited(session, where)
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
            ("Allocation of a coordinator", *to_allocation),
            ("The conference", *to_conference),
        ),
        how=(
            "Calendar days (London dates) from the day a referral was received to the day a "
            "coordinator was allocated, for allocations made in the period, and to the day of "
            "the conference, for conferences held in the period."
        ),
    )


DayFigures = tuple[int, float | None, float | None]


def _allocated(where: ReportFilter) -> Select:
    return narrowed(select(Referral.case_id), where).where(at_moments(Referral.allocated_at, where))


def _conferences(where: ReportFilter) -> Select:
    """First plans agreed in the period, with their referral (the days count from it)."""
    plans = select(FamilyPlan.id).join(Referral, Referral.case_id == FamilyPlan.case_id)
    return narrowed(plans, where).where(
        FamilyPlan.version == FIRST_PLAN, on_days(FamilyPlan.agreed_on, where)
    )


def _days_waited(session: Session, where: ReportFilter) -> tuple[DayFigures, DayFigures]:
    """The figures with London dates worked out here (SQLite keeps no time zones): once per
    UTC hour, not per family, since London's offset is whole hours and changes on the hour.
    Reading the hours as text skips making a datetime of each of tens of thousands of rows."""
    days = _LondonDays()
    received = _utc_hour(Referral.received_at)
    allocated = session.execute(
        _allocated(where).with_only_columns(received, _utc_hour(Referral.allocated_at))
    ).all()
    to_allocation = [(days[done] - days[sent]).days for sent, done in allocated]
    conferences = session.execute(
        _conferences(where).with_only_columns(
            received, FamilyPlan.agreed_on, maintain_column_froms=True
        )
    ).all()
    to_conference = [(held - days[sent]).days for sent, held in conferences]
    return day_figures(to_allocation), day_figures(to_conference)


_HOUR = "%Y-%m-%d %H"


def _utc_hour(column: Any) -> ColumnElement[str]:
    """A stored (UTC) moment's hour as SQLite writes it: "2026-03-31 22"."""
    return func.strftime(_HOUR, column)


class _LondonDays(dict[str, date]):
    """London days of UTC hours (``_utc_hour`` text), each worked out once."""

    def __missing__(self, hour: str) -> date:
        day = london_day(datetime.fromisoformat(f"{hour}:00+00:00"))
        self[hour] = day
        return day


def _days_waited_in_database(
    session: Session, where: ReportFilter
) -> tuple[DayFigures, DayFigures]:
    """The same figures with London dates and percentiles worked out by PostgreSQL: at 100,000
    cases a year holds 45,000 allocations and as many conferences, too many rows to read."""
    received = london_date(Referral.received_at)
    allocation = spread(
        session, london_date(Referral.allocated_at) - received, _allocated(where), SHARES
    )
    conference = spread(session, FamilyPlan.agreed_on - received, _conferences(where), SHARES)
    return rounded_days(allocation), rounded_days(conference)


@measure("pre_proceedings", order=120)
def pre_proceedings(session: Session, where: ReportFilter) -> Table:
    # One pass over the period's pre-proceedings referrals; a meeting held is a first plan,
    # looked up by case.
    held = (
        select(FamilyPlan.id)
        .where(FamilyPlan.case_id == Referral.case_id, FamilyPlan.version == FIRST_PLAN)
        .exists()
    )
    row = session.execute(
        narrowed(
            select(
                func.count(),
                func.count(Referral.plo_offer_date),
                func.count().filter(Referral.plo_offer_accepted.is_(True)),
                func.count().filter(held),
            ).select_from(Referral),
            where,
        ).where(Referral.referral_type == PRE_PROCEEDINGS, at_moments(Referral.received_at, where))
    ).one()
    return Table(
        key="pre_proceedings",
        title="Family group conferences before care proceedings (PLO)",
        columns=(WHAT, NUMBER),
        rows=(
            ("Pre-proceedings referrals received", row[0]),
            ("Family group conference offered", row[1]),
            ("Offer accepted", row[2]),
            ("Meeting held", row[3]),
        ),
        how=(
            "Pre-proceedings referrals received in the period, and how many of them have so far "
            "had a family group conference offered (an offer date recorded), accepted, and held."
        ),
    )
