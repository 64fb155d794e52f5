"""The dates the dashboard counts by, written by the pathway's own forms, and counted.

A case is walked on the shipped pathway (tests/test_pathway_walkthrough.py's helpers) through
the plan's acceptance and its support package; the days written are London days, so a
decision at 00:10 BST belongs to the new day although it is still the day before in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from engine.record.models import FamilyPlan, SupportPackage
from engine.reports.tables import ReportFilter, one_measure
from tests.people import COORDINATOR, MANAGER, REFERRER
from tests.test_pathway_walkthrough import (
    APPROVED,
    CIRCULATED,
    PAID,
    PLAN_ACCEPTED,
    REFUSED,
    deploy_pathway,
    do,
    start,
    support_request,
    through_conference,
    to_senior_approval,
)

MARCH = ReportFilter(date(2026, 3, 1), date(2026, 3, 31))
APRIL = ReportFilter(date(2026, 4, 1), date(2026, 4, 30))


def figures(session, key: str, where: ReportFilter) -> tuple:
    return one_measure(session, where, key).rows


def test_an_accepted_plan_and_a_paid_package_land_on_the_dashboard(session, runtime, frozen_clock):
    pathway = deploy_pathway(session, runtime)
    case = start(runtime, session, pathway)
    # Referred, screened and allocated on Monday 2 March at 09:00; the conference on 20 April.
    through_conference(runtime, session, case)
    frozen_clock.set(datetime(2026, 4, 21, 22, 30, tzinfo=UTC))  # 23:30 BST on 21 April
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    frozen_clock.set(datetime(2026, 4, 21, 23, 10, tzinfo=UTC))  # 00:10 BST on 22 April
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", support_request(350), COORDINATOR)
    do(runtime, session, case, "approve_support", APPROVED, MANAGER)
    do(runtime, session, case, "record_support_payment", PAID, COORDINATOR)  # paid 30 April

    plan = session.scalars(select(FamilyPlan).where(FamilyPlan.case_id == case.id)).one()
    assert (plan.agreed_on, plan.status, plan.decided_on) == (
        date(2026, 4, 20),
        "accepted",
        date(2026, 4, 21),
    )
    package = session.scalars(select(SupportPackage).where(SupportPackage.case_id == case.id)).one()
    assert (package.requested_on, package.decided_on, package.paid_on) == (
        date(2026, 4, 22),
        date(2026, 4, 22),
        date(2026, 4, 30),
    )

    assert figures(session, "referrals", MARCH)[:2] == (("Received", 1), ("Accepted", 1))
    # Allocated the day it was referred: 0 days.
    assert figures(session, "timeliness", MARCH)[0] == ("Allocation of a coordinator", 1, 0.0, 0.0)
    # 2 March to 20 April: 29 + 20 = 49 days.
    assert figures(session, "timeliness", APRIL)[1] == ("The conference", 1, 49.0, 49.0)
    assert figures(session, "conferences", APRIL) == (("Conferences held", 1), ("Plans agreed", 1))
    assert figures(session, "support", APRIL) == (
        ("Requested", 1, Decimal("350.00")),
        ("Approved", 1, Decimal("350.00")),
        ("Paid", 1, Decimal("350.00")),
    )
    assert figures(session, "conferences", MARCH) == (("Conferences held", 0), ("Plans agreed", 0))


def test_a_refused_package_is_requested_but_never_approved(session, runtime, frozen_clock):
    pathway = deploy_pathway(session, runtime)
    case = start(runtime, session, pathway)
    to_senior_approval(runtime, session, case, amount=900)  # all on 2 March
    do(runtime, session, case, "senior_approve_support", REFUSED, MANAGER)

    package = session.scalars(select(SupportPackage).where(SupportPackage.case_id == case.id)).one()
    assert (package.approved, package.requested_on, package.decided_on) == (
        False,
        date(2026, 3, 2),
        date(2026, 3, 2),
    )
    assert figures(session, "support", MARCH) == (
        ("Requested", 1, Decimal("900.00")),
        ("Approved", 0, Decimal("0.00")),
        ("Paid", 0, Decimal("0.00")),
    )
