"""The dashboard's measures (engine/reports/kpis.py) on a small fictional data set.

Rows are written straight into the record, with chosen dates, so every figure below can be
worked out by hand; the comment beside each says how. The period is March 2026, London time:
summer time begins on Sunday 29 March, so the last evening of the period is BST (23:30 on
31 March is 22:30 UTC, in; 00:10 on 1 April is 23:10 UTC on 31 March, out), while its first
minutes are GMT (00:10 on 1 March is 00:10 UTC, in; 23:30 on 28 February, out).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from engine import clock
from engine.accounts import create_user
from engine.models import Case, CaseStatus, HumanTask, StageVisit
from engine.pathway_stages import pathway_stages
from engine.record.models import (
    Closure,
    FamilyPlan,
    Outcome,
    Referral,
    Review,
    SafeguardingConcern,
    SupportPackage,
)
from engine.reports.tables import ReportFilter, dashboard, measure_keys, one_measure
from engine.time_words import LONDON
from tests.test_pathway_walkthrough import deploy_pathway

MARCH = ReportFilter(date(2026, 3, 1), date(2026, 3, 31))
NOW = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)  # the snapshots (caseload, overdue) read now
CASEY, CAM, NELL = "casey.coordinator", "cam.coordinator", "nell.coordinator"


def london(day: str, hour: int = 9, minute: int = 0) -> datetime:
    """A London wall-clock moment (GMT or BST as the day falls)."""
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=LONDON)


def family(
    session,
    version_id: int,
    team_id: int,
    received: datetime,
    *,
    coordinator: str | None = None,
    allocated: datetime | None = None,
    decision: str | None = None,
    screened: datetime | None = None,
    decline_reason: str | None = None,
    referral_type: str = "standard",
    plo_offer: str | None = None,
    plo_accepted: bool | None = None,
    status: str = CaseStatus.ACTIVE,
) -> int:
    """A case and its referral, as the pathway's writers would have left them."""
    case = Case(
        version_id=version_id,
        title="A fictional family",
        status=status,
        state="",
        created_by="riley.referrer",
        created_at=received,
        team_id=team_id,
    )
    session.add(case)
    session.flush()
    session.add(
        Referral(
            case_id=case.id,
            family_name=f"Family {case.id}",
            referrer_name="Riley Shaw",
            referred_by="riley.referrer",
            received_at=received,
            referral_type=referral_type,
            urgency="routine",
            why_now="Fictional test data.",
            problems=["school_attendance", "health"],
            headline_outcomes=[],
            consent_given=True,
            plo_offer_date=date.fromisoformat(plo_offer) if plo_offer else None,
            plo_offer_accepted=plo_accepted,
            screening_decision=decision,
            screened_at=screened,
            decline_reason=decline_reason,
            coordinator=coordinator,
            allocated_at=allocated,
        )
    )
    return case.id


def plan(session, case_id: int, version: int, agreed: str, status: str, decided: str | None):
    session.add(
        FamilyPlan(
            case_id=case_id,
            version=version,
            agreed_on=date.fromisoformat(agreed),
            status=status,
            decided_on=date.fromisoformat(decided) if decided else None,
        )
    )


def review(session, case_id: int, held: str, due: str | None) -> None:
    session.add(
        Review(
            case_id=case_id,
            held_on=date.fromisoformat(held),
            due_on=date.fromisoformat(due) if due else None,
            another_review=True,
            recorded_by=CASEY,
        )
    )


def package(session, case_id, total, requested, approved, decided, paid) -> None:
    session.add(
        SupportPackage(
            case_id=case_id,
            total=Decimal(total),
            requested_by=CASEY,
            requested_on=date.fromisoformat(requested),
            approved=approved,
            decided_on=date.fromisoformat(decided) if decided else None,
            paid_on=date.fromisoformat(paid) if paid else None,
        )
    )


def concern(session, case_id: int, decision: str | None, reviewed: datetime | None) -> None:
    session.add(
        SafeguardingConcern(
            case_id=case_id,
            concern="Fictional concern",
            raised_by=CASEY,
            raised_at=datetime(2026, 2, 1, tzinfo=UTC),
            decision=decision,
            reviewed_at=reviewed,
        )
    )


def outcome(session, case_id: int, stage: str, on: str, **problems: bool) -> None:
    for problem, achieved in problems.items():
        session.add(
            Outcome(
                case_id=case_id,
                stage=stage,
                problem=problem,
                achieved=achieved,
                recorded_on=date.fromisoformat(on),
                recorded_by="dana.data",
            )
        )


def task(session, case_id, role, due, *, state="ready", form_key=None, created=None) -> None:
    n = session.query(HumanTask).count() + 1
    session.add(
        HumanTask(
            case_id=case_id,
            spiff_task_id=f"00000000-0000-0000-0000-{n:012d}",
            process_id="fgc_pathway",
            element_id=form_key or "some_task",
            title="A task",
            role=role,
            candidate_groups=[role],
            state=state,
            form_key=form_key,
            due_at=due,
            created_at=created or datetime(2026, 2, 1, tzinfo=UTC),
        )
    )


@pytest.fixture
def seeded(session, runtime):
    """Twenty fictional families in two teams (A: Central, B: North), chosen dates."""
    version = deploy_pathway(session, runtime).id
    casey = create_user(session, CASEY, "Casey Coordinator", ["coordinator"], "Central FGC")
    create_user(session, CAM, "Cam Coordinator", ["coordinator"], "Central FGC")
    nell = create_user(session, NELL, "Nell Okoro", ["coordinator"], "North FGC")
    a, b = casey.team_id, nell.team_id
    done = CaseStatus.COMPLETED

    def f(team, received, **kw):
        return family(session, version, team, received, **kw)

    c = {}  # case ids by the numbers the tests' comments use
    c[1] = f(a, london("2026-03-02"), coordinator=CASEY, allocated=london("2026-03-04"),
             decision="accept", screened=london("2026-03-03"))  # fmt: skip
    c[2] = f(a, london("2026-02-20"), coordinator=CAM, allocated=london("2026-03-01", 0, 10),
             decision="accept", screened=london("2026-02-23"))  # fmt: skip
    c[3] = f(b, london("2026-03-31", 23, 30), coordinator=NELL, decision="accept",
             screened=london("2026-03-31", 12), allocated=london("2026-04-01", 0, 10),
             referral_type="pre_proceedings", plo_offer="2026-03-25",
             plo_accepted=True)  # fmt: skip
    c[4] = f(b, london("2026-04-01", 0, 10), decision="decline", decline_reason="not_eligible",
             screened=london("2026-04-01", 0, 10), referral_type="pre_proceedings",
             status=done)  # fmt: skip
    c[5] = f(a, london("2026-02-28", 23, 30), decision="decline", decline_reason="not_eligible",
             screened=london("2026-03-05"), status=done)  # fmt: skip
    c[6] = f(b, london("2026-03-10"), decision="decline", decline_reason="family_declined",
             screened=london("2026-03-11"), status=done)  # fmt: skip
    c[7] = f(a, london("2026-03-12"), decision="more_information", screened=london("2026-03-13"),
             referral_type="pre_proceedings", plo_offer="2026-03-13",
             plo_accepted=False)  # fmt: skip
    c[8] = f(b, london("2026-03-15"), decision="decline", decline_reason="not_eligible",
             screened=london("2026-03-16"), status=done)  # fmt: skip
    c[9] = f(b, london("2026-02-10"), coordinator=NELL, allocated=london("2026-02-25"),
             decision="accept", screened=london("2026-02-12"))  # fmt: skip
    c[10] = f(a, london("2026-02-14"), coordinator=CASEY, allocated=london("2026-03-16"),
              decision="accept", screened=london("2026-02-20"))  # fmt: skip
    c[11] = f(b, london("2026-03-01"), coordinator=NELL, allocated=london("2026-03-16"),
              decision="accept", screened=london("2026-03-02"), status=done)  # fmt: skip
    c[12] = f(a, london("2026-03-03"), coordinator=CAM, allocated=london("2026-03-07"),
              decision="accept", screened=london("2026-03-04"))  # fmt: skip
    c[13] = f(a, london("2026-01-05"), coordinator=CASEY, allocated=london("2026-02-12"),
              decision="accept", screened=london("2026-01-06"))  # fmt: skip
    # Older families, now in review, closed or checked six months on.
    for n, team, who, month, status in [
        (14, a, CASEY, "2025-10", CaseStatus.ACTIVE),
        (15, b, NELL, "2025-09", CaseStatus.ACTIVE),  # closed, waiting for its six-month check
        (16, a, CAM, "2025-06", done),
        (17, a, CAM, "2025-08", done),
        (18, b, NELL, "2025-05", done),
        (19, b, NELL, "2025-04", done),
    ]:
        c[n] = f(team, london(f"{month}-01"), coordinator=who, allocated=london(f"{month}-03"),
                 decision="accept", screened=london(f"{month}-02"), status=status)  # fmt: skip
    c[20] = f(a, london("2026-03-04"), coordinator=CAM, allocated=london("2026-04-01", 0, 10),
              decision="accept", screened=london("2026-03-05"), referral_type="pre_proceedings",
              plo_offer="2026-03-05", plo_accepted=True)  # fmt: skip

    # Conferences (plan version 1) and plans accepted.
    plan(session, c[1], 1, "2026-03-30", "accepted", "2026-03-31")
    plan(session, c[2], 1, "2026-03-10", "rejected", "2026-03-12")
    plan(session, c[2], 2, "2026-03-20", "accepted", None)  # accepted before dates were kept
    plan(session, c[9], 1, "2026-03-22", "accepted", "2026-04-01")
    plan(session, c[12], 1, "2026-03-10", "proposed", None)
    plan(session, c[13], 1, "2026-02-25", "accepted", "2026-03-02")
    plan(session, c[20], 1, "2026-04-10", "proposed", None)

    review(session, c[14], "2026-03-10", "2026-03-12")  # early: on time
    review(session, c[14], "2026-03-31", "2026-03-31")  # on the day: on time
    review(session, c[15], "2026-03-20", "2026-03-13")  # a week late
    review(session, c[13], "2026-03-25", None)  # no due date
    review(session, c[16], "2026-04-01", "2026-03-30")  # after the period
    review(session, c[15], "2026-02-28", "2026-02-27")  # before the period

    package(session, c[14], "350.00", "2026-03-02", True, "2026-03-04", "2026-03-10")
    package(session, c[15], "900.50", "2026-03-20", True, "2026-04-01", None)
    package(session, c[13], "120.25", "2026-02-26", False, "2026-03-01", None)  # refused
    package(session, c[16], "75.00", "2026-01-10", True, "2026-01-12", "2026-03-31")

    concern(session, c[15], "step_up", london("2026-03-18"))
    concern(session, c[15], "step_up", london("2026-03-19"))  # the same case, again
    concern(session, c[14], "continue", london("2026-03-05"))
    concern(session, c[6], "step_up", london("2026-04-01", 0, 10))  # after the period
    concern(session, c[12], None, None)  # not yet reviewed
    concern(session, c[11], "step_up", london("2026-03-31", 23, 30))

    session.add(Closure(case_id=c[15], reason="stepped_up", closed_by=NELL,
                        closed_at=london("2026-03-05")))  # fmt: skip
    session.add(Closure(case_id=c[16], reason="plan_achieved", closed_by=CAM,
                        closed_at=london("2025-09-20")))  # fmt: skip
    outcome(session, c[15], "closure", "2026-03-05", school_attendance=True, health=False)
    outcome(session, c[17], "closure", "2026-03-31", school_attendance=True, domestic_abuse=True)
    outcome(session, c[16], "six_month", "2026-03-20", school_attendance=True, crime_asb=True)
    outcome(session, c[18], "six_month", "2026-04-01", health=True)  # after the period
    outcome(session, c[19], "six_month", "2026-03-02", health=False, school_attendance=True)
    outcome(session, c[19], "closure", "2025-09-02", health=True, school_attendance=True)

    utc = datetime.fromisoformat
    task(session, c[1], "coordinator", utc("2026-04-01T09:00:00+00:00"))  # overdue
    task(session, c[2], "coordinator", utc("2026-04-02T08:00:00+00:00"))  # an hour overdue
    task(session, c[3], "fgc_manager", utc("2026-04-02T10:00:00+00:00"))  # due in an hour
    task(session, c[9], "referrer", utc("2026-03-20T09:00:00+00:00"))  # overdue
    task(session, c[14], "coordinator", utc("2026-03-01T09:00:00+00:00"), state="completed")
    task(session, c[12], "coordinator", None)  # no due date
    # Requests for more information: two in the period (c1's was answered), one after.
    task(session, c[1], "referrer", None, state="completed", form_key="more_information",
         created=london("2026-03-02", 12))  # fmt: skip
    task(session, c[7], "referrer", utc("2026-03-17T09:00:00+00:00"), form_key="more_information",
         created=london("2026-03-13"))  # fmt: skip
    task(session, c[4], "referrer", utc("2026-04-03T09:00:00+00:00"), form_key="more_information",
         created=london("2026-04-01", 0, 10))  # fmt: skip
    session.commit()
    return {"a": a, "b": b}


def rows(session, key: str, where: ReportFilter = MARCH) -> tuple:
    with clock.using(clock.FrozenClock(NOW)):
        return one_measure(session, where, key).rows


def test_referrals_received_and_screened_in_the_period(session, seeded):
    a, b = seeded["a"], seeded["b"]
    # Received: c1, c3 (23:30 BST on the 31st), c6, c7, c8, c11, c12, c20 = 8; not c2, c9,
    # c10 (February), c5 (23:30 on 28 Feb), c4 (00:10 on 1 April).
    # Accepted: c1, c3, c11, c12, c20 = 5. Declined: c5 (5 March), c6, c8 = 3; not c4 (April).
    # More information: c1's and c7's requests = 2; not c4's (00:10 on 1 April).
    assert rows(session, "referrals") == (
        ("Received", 8),
        ("Accepted", 5),
        ("Declined", 3),
        ("More information asked", 2),
    )
    # Team A: received c1, c7, c12, c20; accepted c1, c12, c20; declined c5; asked c1, c7.
    assert [n for _, n in rows(session, "referrals", MARCH.narrowed(team_id=a))] == [4, 3, 1, 2]
    # Team B: received c3, c6, c8, c11; accepted c3, c11; declined c6, c8; asked none.
    assert [n for _, n in rows(session, "referrals", MARCH.narrowed(team_id=b))] == [4, 2, 2, 0]
    # Pre-proceedings: received c3, c7, c20; accepted c3, c20; declined none (c4 is April).
    plo = MARCH.narrowed(referral_type="pre_proceedings")
    assert [n for _, n in rows(session, "referrals", plo)] == [3, 2, 0, 1]
    # Casey's cases: c1 received, accepted and asked for more information.
    assert [n for _, n in rows(session, "referrals", MARCH.narrowed(coordinator=CASEY))] == [
        1,
        1,
        0,
        1,
    ]


def test_declines_by_reason_in_the_screening_forms_words(session, seeded):
    # not_eligible: c5, c8 (c4 was declined in April); family_declined: c6.
    assert rows(session, "declines") == (
        ("The family does not meet the eligibility criteria", 2),
        ("The family does not want a family group conference", 1),
    )
    assert rows(session, "declines", MARCH.narrowed(team_id=seeded["a"])) == (
        ("The family does not meet the eligibility criteria", 1),
    )
    assert rows(session, "declines", MARCH.narrowed(referral_type="pre_proceedings")) == ()


def test_days_to_allocation_and_to_conference_median_and_90th_percentile(session, seeded):
    # Allocations in March, days from referral: c1 2 (2 -> 4 Mar), c2 9 (20 Feb -> 00:10 on
    # 1 Mar), c10 30 (14 Feb -> 16 Mar: 14 + 16), c11 15 (1 -> 16 Mar), c12 4 (3 -> 7 Mar);
    # not c3, c20 (00:10 on 1 April). Sorted 2, 4, 9, 15, 30 (odd): median 9;
    # 90th: position 4 x 0.9 = 3.6, 15 + 0.6 x (30 - 15) = 24.0.
    # Conferences in March (plan version 1): c1 28 (2 -> 30 Mar), c2 18 (20 Feb -> 10 Mar),
    # c9 40 (10 Feb -> 22 Mar: 18 + 22), c12 7 (3 -> 10 Mar). Sorted 7, 18, 28, 40 (even):
    # median 18 + 0.5 x 10 = 23.0; 90th: position 3 x 0.9 = 2.7, 28 + 0.7 x 12 = 36.4.
    assert rows(session, "timeliness") == (
        ("Allocation of a coordinator", 5, 9.0, 24.0),
        ("The conference", 4, 23.0, 36.4),
    )
    # Team A: allocations 2, 4, 9, 30: median 6.5; 90th position 2.7: 9 + 0.7 x 21 = 23.7.
    # Conferences 7, 18, 28: median 18; 90th position 1.8: 18 + 0.8 x 10 = 26.0.
    assert rows(session, "timeliness", MARCH.narrowed(team_id=seeded["a"])) == (
        ("Allocation of a coordinator", 4, 6.5, 23.7),
        ("The conference", 3, 18.0, 26.0),
    )
    # Casey: allocations c1 2 and c10 30: median 16; 90th 2 + 0.9 x 28 = 27.2; c1 conference 28.
    assert rows(session, "timeliness", MARCH.narrowed(coordinator=CASEY)) == (
        ("Allocation of a coordinator", 2, 16.0, 27.2),
        ("The conference", 1, 28.0, 28.0),
    )


def test_conferences_held_and_plans_agreed(session, seeded):
    # Held: c1, c2, c9, c12 (c20's is in April). Agreed: c1 (31 Mar), c2's second version
    # (no decision date: its conference day, 20 Mar), c13 (2 Mar); not c9 (1 Apr), c12.
    assert rows(session, "conferences") == (("Conferences held", 4), ("Plans agreed", 3))
    assert rows(session, "conferences", MARCH.narrowed(team_id=seeded["b"])) == (
        ("Conferences held", 1),
        ("Plans agreed", 0),
    )


def test_reviews_held_on_time(session, seeded):
    # Held in March: c14 twice (early, on the day: on time), c15 (late), c13 (no due date).
    # On time 2 of the 3 with a due date = 66.7%.
    assert rows(session, "reviews") == ((4, 2, 1, 1, 66.7),)
    assert rows(session, "reviews", MARCH.narrowed(team_id=seeded["a"])) == ((3, 2, 0, 1, 100.0),)
    assert rows(session, "reviews", MARCH.narrowed(team_id=seeded["b"])) == ((1, 0, 1, 0, 0.0),)


def test_support_packages_requested_approved_and_paid_with_their_cost(session, seeded):
    # Requested: c14 350.00 + c15 900.50 = 1,250.50. Approved: c14 (c15 in April, c13 refused).
    # Paid: c14 350.00 + c16 75.00 = 425.00.
    assert rows(session, "support") == (
        ("Requested", 2, Decimal("1250.50")),
        ("Approved", 1, Decimal("350.00")),
        ("Paid", 2, Decimal("425.00")),
    )
    assert rows(session, "support", MARCH.narrowed(team_id=seeded["b"])) == (
        ("Requested", 1, Decimal("900.50")),
        ("Approved", 0, Decimal("0.00")),
        ("Paid", 0, Decimal("0.00")),
    )


def test_cases_stepped_up(session, seeded):
    # Reviewed: c15 twice, c14, c11 (23:30 BST on the 31st) = 4; not c6 (00:10 on 1 April).
    # Stepped up: c15 (counted once), c11 = 2.
    assert rows(session, "stepped_up") == (
        ("Safeguarding concerns reviewed", 4),
        ("Cases stepped up to children's social care", 2),
    )
    assert [n for _, n in rows(session, "stepped_up", MARCH.narrowed(team_id=seeded["a"]))] == [
        1,
        0,
    ]


def test_caseload_is_a_snapshot_of_running_unclosed_cases(session, seeded):
    # Casey: c1, c10, c13, c14. Cam: c2, c12, c20 (c16, c17 finished). Nell: c3, c9 (c11
    # stepped up and finished, c15 closed, waiting for its six-month check).
    expected = (("Casey Coordinator", 4), ("Cam Coordinator", 3), ("Nell Okoro", 2))
    assert rows(session, "caseload") == expected
    # The period does not matter: a snapshot.
    assert rows(session, "caseload", ReportFilter(date(2020, 1, 1), date(2020, 1, 1))) == expected
    assert rows(session, "caseload", MARCH.narrowed(team_id=seeded["b"])) == (("Nell Okoro", 2),)
    plo = MARCH.narrowed(referral_type="pre_proceedings")
    assert rows(session, "caseload", plo) == (("Cam Coordinator", 1), ("Nell Okoro", 1))


def test_overdue_tasks_now_by_role(session, seeded):
    # Now is 2 April 09:00 UTC. Overdue: c1 and c2 (coordinator), c9 and c7 (referrer);
    # not c3's (due 10:00), c14's (done), c12's (no due date), c4's (due 3 April).
    assert rows(session, "overdue") == (("Coordinator", 2), ("Referrer", 2))
    assert rows(session, "overdue", MARCH.narrowed(team_id=seeded["a"])) == (
        ("Coordinator", 2),
        ("Referrer", 1),
    )
    assert rows(session, "overdue", MARCH.narrowed(coordinator=CASEY)) == (("Coordinator", 1),)


def test_outcomes_by_problem_at_closure_and_six_months(session, seeded):
    # Closure in March: c15 (school yes, health no), c17 (school yes, domestic abuse yes).
    # Six months in March: c16 (school yes, crime yes), c19 (health no, school yes); not c18.
    assert rows(session, "outcomes") == (
        ("Children not attending school regularly", 2, 2, 100.0, 2, 2, 100.0),
        ("Health problems", 1, 0, 0.0, 1, 0, 0.0),
        ("Crime or anti-social behaviour", 0, 0, None, 1, 1, 100.0),
        ("Domestic violence and abuse", 1, 1, 100.0, 0, 0, None),
    )
    assert rows(session, "outcomes", MARCH.narrowed(team_id=seeded["b"])) == (
        ("Children not attending school regularly", 1, 1, 100.0, 1, 1, 100.0),
        ("Health problems", 1, 0, 0.0, 1, 0, 0.0),
    )


def test_families_turned_around(session, seeded):
    # Closure: c15 (health not met), c17 (all met): 1 of 2 = 50%. Six months: c16 (all met),
    # c19 (health not sustained): 1 of 2 = 50%.
    assert rows(session, "turned_around") == (
        ("At closure", 2, 1, 50.0),
        ("At six months", 2, 1, 50.0),
    )
    assert rows(session, "turned_around", MARCH.narrowed(team_id=seeded["a"])) == (
        ("At closure", 1, 1, 100.0),
        ("At six months", 1, 1, 100.0),
    )


def test_pre_proceedings_offered_accepted_and_held(session, seeded):
    # Received in March: c3, c7, c20 (not c4, 00:10 on 1 April); all three offered; accepted
    # c3, c20; a meeting held so far: c20 (10 April).
    assert rows(session, "pre_proceedings") == (
        ("Pre-proceedings referrals received", 3),
        ("Family group conference offered", 3),
        ("Offer accepted", 2),
        ("Meeting held", 1),
    )
    assert [
        n for _, n in rows(session, "pre_proceedings", MARCH.narrowed(team_id=seeded["b"]))
    ] == [
        1,
        1,
        1,
        0,
    ]
    standard = MARCH.narrowed(referral_type="standard")
    assert [n for _, n in rows(session, "pre_proceedings", standard)] == [0, 0, 0, 0]


def test_an_empty_period_gives_zeros_and_no_medians(session, seeded):
    empty = ReportFilter(date(2024, 1, 1), date(2024, 1, 31))
    with clock.using(clock.FrozenClock(NOW)):
        tables = {t.key: t for t in dashboard(session, empty)}
    assert tables["referrals"].rows == (
        ("Received", 0),
        ("Accepted", 0),
        ("Declined", 0),
        ("More information asked", 0),
    )
    assert tables["declines"].rows == ()
    assert tables["timeliness"].rows == (
        ("Allocation of a coordinator", 0, None, None),
        ("The conference", 0, None, None),
    )
    assert tables["reviews"].rows == ((0, 0, 0, 0, None),)
    assert tables["support"].rows[0] == ("Requested", 0, Decimal("0.00"))
    assert tables["outcomes"].rows == ()
    assert tables["turned_around"].rows == (
        ("At closure", 0, 0, None),
        ("At six months", 0, 0, None),
    )
    assert [n for _, n in tables["pre_proceedings"].rows] == [0, 0, 0, 0]


def test_a_database_with_nothing_in_it_gives_every_table(session):
    tables = dashboard(session, MARCH)
    mine = [
        "referrals", "declines", "timeliness", "conferences", "reviews", "support",
        "stepped_up", "caseload", "overdue", "outcomes", "turned_around", "pre_proceedings",
    ]  # fmt: skip
    assert [t.key for t in tables if t.key in mine] == mine
    assert [k for k in measure_keys() if k in mine] == mine
    for table in tables:
        assert table.how, table.key  # the page shows how each figure is counted
        for row in table.rows:
            assert len(row) == len(table.columns)


# --- figures the database works out (PostgreSQL sorts and interpolates; SQLite reads rows) ---


def test_days_to_allocation_count_london_dates_across_the_summer_time_evening(session, seeded):
    # April adds c3 and c20, both allocated at 00:10 London on 1 April (23:10 UTC on 31 March):
    # c3 was received at 23:30 London on 31 March (22:30 UTC), so 1 day, though both moments
    # fall on 31 March in UTC; c20 was received on 4 March, so 28 days. Sorted 1, 28:
    # median 14.5; 90th at position 0.9: 1 + 0.9 x 27 = 25.3.
    spring = ReportFilter(date(2026, 3, 1), date(2026, 4, 1))
    both = rows(session, "timeliness", spring)[0]
    assert both[:2] == ("Allocation of a coordinator", 7)  # March's five and these two
    april = ReportFilter(date(2026, 4, 1), date(2026, 4, 1))
    assert rows(session, "timeliness", april)[0] == ("Allocation of a coordinator", 2, 14.5, 25.3)
    # Team B has only c3: one family, 1 day.
    assert rows(session, "timeliness", april.narrowed(team_id=seeded["b"]))[0] == (
        "Allocation of a coordinator",
        1,
        1.0,
        1.0,
    )


def _visit(session, case_id: int, process: str, entered: datetime, hours: float) -> None:
    session.add(
        StageVisit(
            case_id=case_id,
            stage=process,
            process_id=process,
            entered_at=entered,
            left_at=entered + timedelta(hours=hours),
        )
    )


def test_stage_waits_count_only_pathway_cases_and_never_below_zero(session, seeded, two_lanes):
    [screening] = [s for s in pathway_stages(session) if s.process_id == "screening_allocation"]
    day = london("2026-03-10", 12)
    c1, c2, c3, c4 = session.scalars(select(Case.id).order_by(Case.id).limit(4)).all()
    # Stays of 40, 64 and 120 hours, and one whose clock ran backwards (it left 50 hours
    # before it entered): that one counts as 0.
    for case_id, hours in ((c1, 40), (c2, 64), (c3, 120), (c4, -50)):
        _visit(session, case_id, "screening_allocation", day, hours)
    # A case of another process that calls the same stage process is not on the pathway.
    other = Case(version_id=two_lanes.id, title="Not FGC", state="", created_by="x",
                 team_id=seeded["a"])  # fmt: skip
    session.add(other)
    session.flush()
    _visit(session, other.id, "screening_allocation", day - timedelta(days=40), 24 * 40)
    session.commit()

    def screening_figures(where: ReportFilter) -> tuple:
        return {row[0]: row[1:4] for row in rows(session, "waits", where)}[screening.name]

    # Hours 0, 40, 64, 120: median (40 + 64) / 2 = 52 h = 2.17 days; the 90th percentile at
    # position 3 x 0.9 = 2.7: 64 + 0.7 x 56 = 103.2 h = 4.3 days.
    assert screening_figures(MARCH) == (4, 2.2, 4.3)
    # Team A (c1, c2 and the other process's case): 40 and 64 hours: median 52 h, 2.2 days;
    # 90th 40 + 0.9 x 24 = 61.6 h, 2.57 days.
    assert screening_figures(MARCH.narrowed(team_id=seeded["a"])) == (2, 2.2, 2.6)
    # Team B (c3, c4): 0 and 120 hours: median 60 h, 2.5 days; 90th 108 h, 4.5 days (the
    # stay below zero, counted as it was, would give 35 h and 103 h).
    assert screening_figures(MARCH.narrowed(team_id=seeded["b"])) == (2, 2.5, 4.5)
