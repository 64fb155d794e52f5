"""Stage visits: the engine records each stay of a case in a pathway stage as it happens, the
backfill migration opens one for cases already in a stage, and the "where cases wait" measure
reads them (figures worked out by hand below)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import delete, select

from engine.accounts import Team
from engine.db import alembic_config, upgrade
from engine.models import Case, CaseStatus, StageVisit
from engine.pathway_stages import pathway_stages
from engine.queries import get_case
from engine.record.models import Referral
from engine.reports.tables import ReportFilter, one_measure
from engine.reports.waits import stage_heat, stage_waits, step_of
from tests.people import COORDINATOR, MANAGER, REFERRER
from tests.test_pathway_walkthrough import (
    ACCEPT,
    ACKNOWLEDGED,
    ALLOCATION,
    ARRANGEMENTS,
    ASSESSMENT,
    BASELINE,
    CIRCULATED,
    CLOSURE,
    CONCERN,
    CONFERENCE,
    DATA_OFFICER,
    LEAD,
    NETWORK,
    NO_SUPPORT,
    PLAN_ACCEPTED,
    REFERRAL,
    REVIEW_AGAIN,
    REVIEW_LAST,
    SIX_MONTHS,
    STEP_UP,
    at,
    deploy_pathway,
    do,
    start,
)

REFERRAL_STAGE = "Referral and eligibility"
SCREENING = "Screening and allocation"
BASELINE_STAGE = "Baseline meeting and whole-family assessment"
NETWORK_STAGE = "Network preparation"
CONFERENCE_STAGE = "The conference and the family plan"
ACCEPTANCE = "Plan acceptance"
SUPPORT = "Family network support package"
REVIEW = "Review"
CLOSURE_STAGE = "Closure"
SIX_MONTH = "Six-month outcome check"
# The shipped stages in running order (a later version may add stages among them).
ORDER = [
    REFERRAL_STAGE,
    SCREENING,
    BASELINE_STAGE,
    NETWORK_STAGE,
    CONFERENCE_STAGE,
    ACCEPTANCE,
    SUPPORT,
    REVIEW,
    CLOSURE_STAGE,
    SIX_MONTH,
]


def visits(session, case) -> list[tuple[str, datetime, datetime | None]]:
    session.expire_all()
    rows = session.scalars(
        select(StageVisit).where(StageVisit.case_id == case.id).order_by(StageVisit.id)
    )
    return [(v.stage, v.entered_at, v.left_at) for v in rows]


@pytest.fixture
def pathway(session, runtime):
    return deploy_pathway(session, runtime)


def walk(runtime, session, case, clock, steps):
    """Complete each open task ``element`` at its moment: (when, element, data, actor)."""
    for when, element, data, actor in steps:
        clock.set(when)
        do(runtime, session, case, element, data, actor)


TO_NETWORK_PREPARATION = [
    (at("2026-03-02", 10), "submit_referral", REFERRAL, REFERRER),
    (at("2026-03-03"), "acknowledge_referral", ACKNOWLEDGED, MANAGER),
    (at("2026-03-04"), "screen_referral", ACCEPT, MANAGER),
    (at("2026-03-04", 15), "allocate_coordinator", ALLOCATION, MANAGER),
    (at("2026-03-06"), "hold_baseline_meeting", BASELINE, COORDINATOR),
    (at("2026-03-09", 11), "whole_family_assessment", ASSESSMENT, LEAD),
]
TO_THE_REVIEW_WAIT = [
    (at("2026-04-01"), "prepare_network", NETWORK, COORDINATOR),
    (at("2026-04-02"), "arrange_conference", ARRANGEMENTS, COORDINATOR),
    (at("2026-04-20", 15), "record_conference", CONFERENCE, COORDINATOR),
    (at("2026-04-21"), "review_family_plan", PLAN_ACCEPTED, REFERRER),
    (at("2026-04-22"), "circulate_plan", CIRCULATED, COORDINATOR),
    (at("2026-04-23"), "request_support", NO_SUPPORT, COORDINATOR),
]


def to_network_preparation(runtime, session, case, clock):
    """Referral on 2 March 09:00 through to network preparation on 9 March 11:00."""
    walk(runtime, session, case, clock, TO_NETWORK_PREPARATION)


# --- the engine writes them -----------------------------------------------------------------


def test_each_stage_is_a_visit_and_a_second_review_is_a_second_visit(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    assert visits(session, case) == [(REFERRAL_STAGE, at("2026-03-02"), None)]
    to_network_preparation(runtime, session, case, frozen_clock)
    # Completing a task inside a stage (the referral form, then its acknowledgement) does not
    # start a new visit: the stay in "Referral and eligibility" runs from start to screening.
    assert visits(session, case) == [
        (REFERRAL_STAGE, at("2026-03-02"), at("2026-03-03")),
        (SCREENING, at("2026-03-03"), at("2026-03-04", 15)),
        (BASELINE_STAGE, at("2026-03-04", 15), at("2026-03-09", 11)),
        (NETWORK_STAGE, at("2026-03-09", 11), None),
    ]
    walk(runtime, session, case, frozen_clock, TO_THE_REVIEW_WAIT)
    # Waiting for the review date: no stage, so no open visit.
    case = get_case(session, case.id)
    assert case.stage is None
    assert [v for v in visits(session, case) if v[2] is None] == []

    frozen_clock.set(at("2026-07-13") + timedelta(minutes=1))
    runtime.wake_case(session, case.id)
    walk(
        runtime,
        session,
        case,
        frozen_clock,
        [(at("2026-07-14"), "hold_review", REVIEW_AGAIN, COORDINATOR)],
    )
    frozen_clock.set(at("2026-10-12", 10))
    runtime.wake_case(session, case.id)
    walk(
        runtime,
        session,
        case,
        frozen_clock,
        [
            (at("2026-10-13"), "hold_review", REVIEW_LAST, COORDINATOR),
            (at("2026-10-20", 11), "close_case", CLOSURE, COORDINATOR),
        ],
    )
    frozen_clock.set(at("2027-04-20", 11) + timedelta(minutes=1))
    runtime.wake_case(session, case.id)
    check = (at("2027-04-22"), "record_six_month_check", SIX_MONTHS, DATA_OFFICER)
    walk(runtime, session, case, frozen_clock, [check])

    assert [v for v in visits(session, case) if v[2] is None] == []
    assert visits(session, case)[3:] == [
        (NETWORK_STAGE, at("2026-03-09", 11), at("2026-04-02")),
        (CONFERENCE_STAGE, at("2026-04-02"), at("2026-04-20", 15)),
        (ACCEPTANCE, at("2026-04-20", 15), at("2026-04-22")),
        (SUPPORT, at("2026-04-22"), at("2026-04-23")),
        (REVIEW, at("2026-07-13") + timedelta(minutes=1), at("2026-07-14")),
        (REVIEW, at("2026-10-12", 10), at("2026-10-13")),
        (CLOSURE_STAGE, at("2026-10-13"), at("2026-10-20", 11)),
        (SIX_MONTH, at("2027-04-20", 11) + timedelta(minutes=1), at("2027-04-22")),
    ]
    processes = session.scalars(
        select(StageVisit.process_id).where(StageVisit.case_id == case.id).order_by(StageVisit.id)
    ).all()
    assert processes[:3] == ["referral_eligibility", "screening_allocation", "baseline_assessment"]
    assert processes[7:9] == ["review", "review"]


def test_withdrawing_consent_closes_the_open_visit(session, runtime, pathway, frozen_clock):
    case = start(runtime, session, pathway)
    to_network_preparation(runtime, session, case, frozen_clock)
    frozen_clock.set(at("2026-03-12", 16))
    withdrawn = {"reason": "Jo no longer wants the service", "withdrawn_by": "Jo Ashdown"}
    runtime.send_message(session, case.id, "consent_withdrawn", withdrawn, REFERRER)
    assert get_case(session, case.id).status == CaseStatus.COMPLETED
    assert visits(session, case)[-1] == (NETWORK_STAGE, at("2026-03-09", 11), at("2026-03-12", 16))
    assert [v for v in visits(session, case) if v[2] is None] == []


def test_a_step_up_and_a_cancellation_close_the_open_visit(session, runtime, pathway, frozen_clock):
    stepped = start(runtime, session, pathway)
    cancelled = start(runtime, session, pathway)
    to_network_preparation(runtime, session, stepped, frozen_clock)
    frozen_clock.set(at("2026-03-10", 9))
    runtime.send_message(session, stepped.id, "safeguarding_concern", CONCERN, COORDINATOR)
    # The concern's review sits beside the pathway: the case is still in network preparation.
    assert visits(session, stepped)[-1] == (NETWORK_STAGE, at("2026-03-09", 11), None)
    review = (at("2026-03-10", 12), "review_safeguarding_concern", STEP_UP, MANAGER)
    walk(runtime, session, stepped, frozen_clock, [review])
    assert visits(session, stepped)[-1] == (
        NETWORK_STAGE,
        at("2026-03-09", 11),
        at("2026-03-10", 12),
    )

    frozen_clock.set(at("2026-03-11"))
    runtime.cancel_case(session, cancelled.id, "Referred twice by mistake", MANAGER)
    assert visits(session, cancelled) == [(REFERRAL_STAGE, at("2026-03-02"), at("2026-03-11"))]


# --- the backfill for cases already running -------------------------------------------------


def test_the_backfill_opens_a_visit_for_cases_in_a_stage_from_when_the_board_says(
    db_engine, sessions, runtime, frozen_clock
):
    with sessions() as session:
        pathway = deploy_pathway(session, runtime)
        preparing = start(runtime, session, pathway)
        referred = start(runtime, session, pathway)
        to_network_preparation(runtime, session, preparing, frozen_clock)
        walk(
            runtime,
            session,
            referred,
            frozen_clock,
            [(at("2026-03-10"), "submit_referral", REFERRAL, REFERRER)],
        )
        before = {c.id: visits(session, c) for c in (preparing, referred)}
        # As if the engine had written no visits for the first case before this change.
        session.execute(delete(StageVisit).where(StageVisit.case_id == preparing.id))
        session.commit()

    command.downgrade(alembic_config(db_engine), "0007")
    upgrade(db_engine)

    with sessions() as session:
        assert visits(session, preparing) == [(NETWORK_STAGE, at("2026-03-09", 11), None)]
        # A case that already had its open visit is left alone, not given a second one.
        assert visits(session, referred) == before[referred.id]
        assert before[referred.id] == [(REFERRAL_STAGE, at("2026-03-02", 9), None)]
        visit = session.scalar(select(StageVisit).where(StageVisit.case_id == preparing.id))
        assert visit.process_id == "network_preparation"


def test_the_backfill_leaves_cases_with_no_stage(db_engine, sessions, runtime, frozen_clock):
    with sessions() as session:
        pathway = deploy_pathway(session, runtime)
        case = start(runtime, session, pathway)
        runtime.cancel_case(session, case.id, "Referred twice by mistake", MANAGER)
        session.execute(delete(StageVisit))
        session.commit()
    command.downgrade(alembic_config(db_engine), "0007")
    upgrade(db_engine)
    with sessions() as session:
        assert session.scalars(select(StageVisit)).all() == []


# --- the measure ----------------------------------------------------------------------------

NOW = datetime(2026, 4, 10, 9, 0, tzinfo=UTC)
MARCH = ReportFilter(datetime(2026, 3, 1).date(), datetime(2026, 3, 31).date())


@pytest.fixture
def seeded(session, pathway, frozen_clock):
    """Cases of two teams with stays in screening (1, 2 and 4 days, ended in March), network
    preparation (1, 2, 3 and 10 days), outside March, and two cases in baseline now."""
    frozen_clock.set(NOW)
    central, north = Team(name="Central FGC"), Team(name="North FGC")
    session.add_all([central, north])
    session.flush()
    made = {}

    def case(name, team, coordinator="casey.coordinator", referral_type="standard"):
        row = Case(
            version_id=pathway.id,
            title=name,
            state="",
            created_by="riley.referrer",
            team_id=team.id,
        )
        session.add(row)
        session.flush()
        session.add(
            Referral(
                case_id=row.id,
                family_name=name,
                referrer_name="Riley Shaw",
                referred_by="riley.referrer",
                referral_type=referral_type,
                urgency="routine",
                why_now="Fictional test family.",
                consent_given=True,
                coordinator=coordinator,
            )
        )
        made[name] = row
        return row

    def stay(row, stage, process, entered, days=None):
        left = None if days is None else entered + timedelta(days=days)
        session.add(
            StageVisit(
                case_id=row.id, stage=stage, process_id=process, entered_at=entered, left_at=left
            )
        )

    screening, network = "screening_allocation", "network_preparation"
    stay(case("Ash", central), SCREENING, screening, at("2026-03-02"), 1)
    stay(case("Birch", central, "cam.coordinator"), SCREENING, screening, at("2026-03-02"), 2)
    stay(
        case("Cedar", north, referral_type="pre_proceedings"),
        SCREENING,
        screening,
        at("2026-03-02"),
        4,
    )
    for name, days in (("Dale", 1), ("Elm", 2), ("Fern", 3), ("Gorse", 10)):
        stay(case(name, central), NETWORK_STAGE, network, at("2026-03-10"), days)
    # Ended before and after March: not in the period.
    stay(made["Ash"], NETWORK_STAGE, network, at("2026-02-01"), 3)
    stay(made["Birch"], NETWORK_STAGE, network, at("2026-03-30"), 5)
    # In baseline now: for 3 and 6 days (central and north).
    stay(case("Hazel", central), BASELINE_STAGE, "baseline_assessment", NOW - timedelta(days=3))
    stay(case("Ivy", north), BASELINE_STAGE, "baseline_assessment", NOW - timedelta(days=6))
    session.commit()
    return {"central": central.id, "north": north.id, **made}


def figures(session, where):
    return {row[0]: row[1:] for row in one_measure(session, where, "waits").rows}


def test_one_row_per_pathway_stage_in_running_order(session, seeded):
    table = one_measure(session, MARCH, "waits")
    names = [row[0] for row in table.rows]
    assert names == [stage.name for stage in pathway_stages(session)]
    assert [name for name in names if name in ORDER] == ORDER


def test_medians_and_90th_percentiles_of_stays_ended_in_the_period(session, seeded):
    shown = figures(session, MARCH)
    # Odd count 1, 2, 4: median 2; p90 at position 1.8 = 2 + 0.8 x (4 - 2) = 3.6.
    assert shown[SCREENING] == (3, 2.0, 3.6, 0, None)
    # Even count 1, 2, 3, 10: median (2 + 3) / 2 = 2.5; p90 at 2.7 = 3 + 0.7 x 7 = 7.9.
    assert shown[NETWORK_STAGE] == (4, 2.5, 7.9, 0, None)
    # Now: 3 and 6 days so far, median 4.5, whatever the period.
    assert shown[BASELINE_STAGE] == (0, None, None, 2, 4.5)
    assert shown[REVIEW] == (0, None, None, 0, None)


def test_an_empty_period_has_no_stays_but_still_the_cases_there_now(session, seeded):
    empty = ReportFilter(datetime(2025, 1, 1).date(), datetime(2025, 12, 31).date())
    shown = figures(session, empty)
    assert shown[SCREENING] == (0, None, None, 0, None)
    assert shown[BASELINE_STAGE] == (0, None, None, 2, 4.5)


def test_the_filter_narrows_by_team_coordinator_and_referral_type(session, seeded):
    central = figures(session, MARCH.narrowed(team_id=seeded["central"]))
    assert central[SCREENING] == (2, 1.5, 1.9, 0, None)  # 1 and 2: p90 = 1 + 0.9 x 1
    assert central[BASELINE_STAGE] == (0, None, None, 1, 3.0)
    cam = figures(session, MARCH.narrowed(coordinator="cam.coordinator"))
    assert cam[SCREENING] == (1, 2.0, 2.0, 0, None)
    assert cam[NETWORK_STAGE] == (0, None, None, 0, None)
    plo = figures(session, MARCH.narrowed(referral_type="pre_proceedings"))
    assert plo[SCREENING] == (1, 4.0, 4.0, 0, None)
    assert plo[BASELINE_STAGE] == (0, None, None, 0, None)


def test_a_stay_counts_in_the_london_day_it_ended(session, seeded):
    # 31 March 2026 is in summer time: 23:30 London is 22:30 UTC, 00:10 on 1 April is 23:10.
    ash = seeded["Ash"]
    for left in (
        datetime(2026, 3, 31, 22, 30, tzinfo=UTC),
        datetime(2026, 3, 31, 23, 10, tzinfo=UTC),
    ):
        session.add(
            StageVisit(
                case_id=ash.id,
                stage=REVIEW,
                process_id="review",
                entered_at=left - timedelta(days=2),
                left_at=left,
            )
        )
    session.commit()
    assert figures(session, MARCH)[REVIEW] == (1, 2.0, 2.0, 0, None)


def test_the_heat_map_keys_figures_by_the_call_activity_and_shades_the_slowest_darkest(
    session, seeded
):
    heat = stage_heat(session, MARCH)
    assert heat.process_id == "fgc_pathway"
    assert 'id="screening"' in heat.bpmn_xml
    by_element = heat.by_element()
    assert by_element["screening"][0].median_days == 2.0
    # The slowest median (network preparation, 2.5 days) is the darkest of five steps;
    # 2.0 days is 4/5 of it.
    assert (by_element["network_preparation"][1], by_element["screening"][1]) == (5, 4)
    assert heat.steps == (0.5, 1.0, 1.5, 2.0, 2.5)
    assert by_element["baseline_and_assessment"][1] is None  # nobody left it in March
    assert by_element["baseline_and_assessment"][0].now == 2
    assert set(by_element) >= {"referral", "review", "closure", "six_month_check"}


def test_steps_of_the_scale():
    assert [step_of(d, 10.0) for d in (0.0, 0.1, 2.0, 2.1, 9.9, 10.0)] == [1, 1, 1, 2, 5, 5]
    assert step_of(None, 10.0) is None
    assert step_of(0.0, 0.0) == 1


def test_no_pathway_deployed_means_no_heat_map_and_no_rows(session):
    assert stage_heat(session, MARCH) is None
    assert stage_waits(session, MARCH) == []
