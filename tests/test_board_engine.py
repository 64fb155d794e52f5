"""The conference board's query (engine/board.py): columns, SLA states, days in stage, filters,
and who sees which conference. Cases are walked into their stages on the shipped pathway.

``open_case`` and ``STAGES`` are reused by tests/test_board.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from engine import board as engine_board
from engine.accounts import create_user
from engine.actors import Actor
from engine.assignment import assign
from engine.board import WAITING, BoardFilter, board
from engine.errors import KinflowError, NotAllowed
from engine.models import Case
from engine.pathway_stages import pathway_stages, referral_types
from engine.queries import list_tasks
from tests.people import MANAGER, REFERRER
from tests.test_pathway_walkthrough import (
    ACCEPT,
    ACKNOWLEDGED,
    ALLOCATION,
    ARRANGEMENTS,
    ASSESSMENT,
    BASELINE,
    CIRCULATED,
    CONCERN,
    CONFERENCE,
    CONTINUE,
    DECLINE_NOTICE,
    LEAD,
    NETWORK,
    NO_SUPPORT,
    PLAN_ACCEPTED,
    PLAN_REJECTED,
    PLAN_REVISED,
    REFERRAL,
    REVIEW_AGAIN,
    at,
    deploy_pathway,
    do,
)

STAGES = [
    "Referral and eligibility",
    "Screening and allocation",
    "Baseline meeting and whole-family assessment",
    "Network preparation",
    "The conference and the family plan",
    "Plan acceptance",
    "Family network support package",
    "Review",
    "Closure",
    "Six-month outcome check",
    "Twelve-month follow-up",
]
BASELINE_STAGE, PLAN_ACCEPTANCE = STAGES[2], STAGES[5]
DECLINE = {"screening_decision": "decline", "decline_reason": "not_eligible"}
# How far to walk a case: the stage it should then be in -> the tasks completed to get there.
_WALK = [
    (STAGES[1], ["submit_referral", "acknowledge_referral"]),
    (STAGES[2], ["screen_referral", "allocate_coordinator"]),
    (STAGES[3], ["hold_baseline_meeting", "whole_family_assessment"]),
    (STAGES[4], ["prepare_network", "arrange_conference"]),
    (STAGES[5], ["record_conference"]),
    (STAGES[6], ["review_family_plan", "circulate_plan"]),
    (WAITING, ["request_support"]),
]


def _steps(family: str, coordinator: str, referral_type: str) -> dict[str, tuple[dict, Actor]]:
    coord = Actor.of(coordinator, "coordinator")
    referral = REFERRAL | {"family_name": family, "referral_type": referral_type}
    return {
        "submit_referral": (referral, REFERRER),
        "acknowledge_referral": (ACKNOWLEDGED, MANAGER),
        "screen_referral": (ACCEPT, MANAGER),
        "allocate_coordinator": (ALLOCATION | {"coordinator": coordinator}, MANAGER),
        "hold_baseline_meeting": (BASELINE, coord),
        "whole_family_assessment": (ASSESSMENT, LEAD),
        "prepare_network": (NETWORK, coord),
        "arrange_conference": (ARRANGEMENTS, coord),
        "record_conference": (CONFERENCE, coord),
        "review_family_plan": (PLAN_ACCEPTED, REFERRER),
        "circulate_plan": (CIRCULATED, coord),
        "request_support": (NO_SUPPORT, coord),
    }


def open_case(
    runtime,
    session,
    version,
    family: str,
    stage: str,
    *,
    coordinator: str = "casey.coordinator",
    referral_type: str = "standard",
    team_id: int | None = None,
) -> Case:
    """A case of the ``family`` walked on the shipped pathway until it is in ``stage``."""
    case = runtime.start_case(
        session,
        version,
        {"eligibility_rule": "stronger_families"},
        REFERRER,
        f"{family} family",
        team_id,
    )
    steps = _steps(family, coordinator, referral_type)
    for reached, elements in [(STAGES[0], [])] + _WALK:
        for element in elements:
            data, actor = steps[element]
            do(runtime, session, case, element, data, actor)
        if reached == stage:
            return case
    raise AssertionError(f"open_case cannot walk a case to {stage!r}")


@pytest.fixture
def pathway(session, runtime):
    return deploy_pathway(session, runtime)


@pytest.fixture
def people(session):
    """Workers in two teams, created as the admin pages would."""
    team = "Central FGC"
    made = {
        "morgan": create_user(session, "morgan.manager", "Morgan Manager", ["fgc_manager"], team),
        "mel": create_user(session, "mel.manager", "Mel Manager", ["fgc_manager"], "North FGC"),
        "casey": create_user(
            session, "casey.coordinator", "Casey Coordinator", ["coordinator"], team
        ),
        "cam": create_user(session, "cam.coordinator", "Cam Coordinator", ["coordinator"], team),
        "riley": create_user(session, "riley.referrer", "Riley Referrer", ["referrer"], team),
        "dana": create_user(session, "dana.data", "Dana Data", ["data_officer"], team),
    }
    made["team_id"] = made["morgan"].team_id
    return made


def columns(shown) -> dict[str, list[str]]:
    return {c.name: [card.family_name for card in c.cards] for c in shown.columns}


def card_of(shown, family: str):
    return next(card for c in shown.columns for card in c.cards if card.family_name == family)


def test_the_stages_come_from_the_deployed_diagram_in_running_order(session, pathway):
    assert [s.name for s in pathway_stages(session)] == STAGES
    stage = pathway_stages(session)[2]
    assert stage.process_id == "baseline_assessment"


def test_referral_types_are_the_referral_forms_choices_with_its_labels(session, pathway):
    assert referral_types(session) == [
        ("standard", "Standard referral"),
        ("pre_proceedings", "Pre-proceedings: the local authority is considering care proceedings"),
    ]


def test_each_case_is_in_its_stages_column_and_waiting_ones_in_waiting(
    session, runtime, pathway, people, frozen_clock
):
    team = people["team_id"]
    for family, stage in [
        ("Ashdown", STAGES[0]),
        ("Birch", STAGES[1]),
        ("Cole", BASELINE_STAGE),
        ("Dunmore", PLAN_ACCEPTANCE),
        ("Elwood", WAITING),
    ]:
        open_case(runtime, session, pathway, family, stage, team_id=team)

    shown = board(session, people["morgan"], BoardFilter())

    assert [c.name for c in shown.columns] == STAGES + [WAITING]
    found = {name: fams for name, fams in columns(shown).items() if fams}
    assert found == {
        STAGES[0]: ["Ashdown family"],  # no referral yet: the case's title
        STAGES[1]: ["Birch"],
        BASELINE_STAGE: ["Cole"],
        PLAN_ACCEPTANCE: ["Dunmore"],
        WAITING: ["Elwood"],
    }
    assert {c.name: c.count for c in shown.columns}[PLAN_ACCEPTANCE] == 1
    assert shown.total == 5
    assert card_of(shown, "Cole").coordinator_name == "Casey Coordinator"
    assert card_of(shown, "Birch").coordinator is None


def test_finished_and_cancelled_cases_leave_the_board(
    session, runtime, pathway, people, frozen_clock
):
    team = people["team_id"]
    declined = open_case(runtime, session, pathway, "Fenwick", STAGES[1], team_id=team)
    do(runtime, session, declined, "screen_referral", DECLINE, MANAGER)
    do(runtime, session, declined, "tell_referrer_declined", DECLINE_NOTICE, MANAGER)
    cancelled = open_case(runtime, session, pathway, "Garside", BASELINE_STAGE, team_id=team)
    runtime.cancel_case(session, cancelled.id, "Opened twice by mistake", MANAGER)
    open_case(runtime, session, pathway, "Holt", BASELINE_STAGE, team_id=team)

    shown = board(session, people["morgan"], BoardFilter())

    assert shown.total == 1
    assert columns(shown)[BASELINE_STAGE] == ["Holt"]


def test_the_sla_state_follows_the_open_tasks_due_dates(
    session, runtime, pathway, people, frozen_clock
):
    case = open_case(
        runtime, session, pathway, "Ashdown", BASELINE_STAGE, team_id=people["team_id"]
    )
    # The baseline meeting is due 5 working days after allocation: Monday 9 March, 09:00.
    assert card_of(board(session, people["casey"], BoardFilter()), "Ashdown").sla == "on_time"

    frozen_clock.set(at("2026-03-07", 10))  # within 48 hours of the due moment
    card = card_of(board(session, people["casey"], BoardFilter()), "Ashdown")
    assert (card.sla, card.sla_label) == ("due_soon", "Due soon")

    frozen_clock.set(at("2026-03-09", 10))
    shown = board(session, people["casey"], BoardFilter())
    assert card_of(shown, "Ashdown").sla_label == "Overdue"
    assert shown.sla_counts == {"overdue": 1, "due_soon": 0, "on_time": 0}

    do(runtime, session, case, "hold_baseline_meeting", BASELINE, Actor.of("casey.coordinator"))
    # Only the assessment (due in 20 days) is left open.
    assert card_of(board(session, people["casey"], BoardFilter()), "Ashdown").sla == "on_time"


def test_days_in_stage_count_from_when_the_stage_began_not_from_its_latest_task(
    session, runtime, pathway, people, frozen_clock
):
    team = people["team_id"]
    case = open_case(runtime, session, pathway, "Ashdown", PLAN_ACCEPTANCE, team_id=team)
    coordinator = Actor.of("casey.coordinator", "coordinator")
    frozen_clock.advance(days=2)
    do(runtime, session, case, "review_family_plan", PLAN_REJECTED, REFERRER)
    frozen_clock.advance(days=1)
    do(runtime, session, case, "revise_family_plan", PLAN_REVISED, coordinator)
    frozen_clock.advance(hours=30)

    card = card_of(board(session, people["casey"], BoardFilter()), "Ashdown")

    # Entered plan acceptance 4 days and 6 hours ago; its third task opened 30 hours ago.
    assert card.days_in_stage == 4
    assert card.entered_at == at("2026-03-02")


def test_a_review_counts_from_its_own_review_date_and_a_wait_from_the_last_task(
    session, runtime, pathway, people, frozen_clock
):
    case = open_case(runtime, session, pathway, "Ashdown", WAITING, team_id=people["team_id"])
    frozen_clock.set(at("2026-03-12"))
    card = card_of(board(session, people["casey"], BoardFilter()), "Ashdown")
    assert (card.days_in_stage, card.waiting_until) == (10, at("2026-07-13"))

    frozen_clock.set(at("2026-07-13") + timedelta(minutes=1))  # the first review date
    runtime.wake_case(session, case.id)
    coordinator = Actor.of("casey.coordinator", "coordinator")
    do(runtime, session, case, "hold_review", REVIEW_AGAIN, coordinator)
    frozen_clock.set(at("2026-10-12") + timedelta(minutes=1))  # the next one
    runtime.wake_case(session, case.id)
    frozen_clock.advance(days=3)

    shown = board(session, people["casey"], BoardFilter())

    assert columns(shown)["Review"] == ["Ashdown"]
    assert card_of(shown, "Ashdown").days_in_stage == 3


def test_a_waiting_case_with_a_concern_under_review_stays_waiting_and_shows_it_is_urgent(
    session, runtime, pathway, people, frozen_clock
):
    case = open_case(runtime, session, pathway, "Ashdown", WAITING, team_id=people["team_id"])
    runtime.send_message(session, case.id, "safeguarding_concern", CONCERN, MANAGER)

    shown = board(session, people["morgan"], BoardFilter())

    assert columns(shown)[WAITING] == ["Ashdown"]
    assert [c.name for c in shown.columns] == STAGES + [WAITING]  # no column for the review
    assert card_of(shown, "Ashdown").sla == "due_soon"  # the review is due within 24 hours


def test_each_filter_narrows_the_board(session, runtime, pathway, people, frozen_clock):
    central, north = people["team_id"], people["mel"].team_id
    open_case(runtime, session, pathway, "Ashdown", BASELINE_STAGE, team_id=central)
    open_case(runtime, session, pathway, "Birch", BASELINE_STAGE, coordinator="cam.coordinator")
    open_case(
        runtime,
        session,
        pathway,
        "Cole",
        PLAN_ACCEPTANCE,
        referral_type="pre_proceedings",
        team_id=central,
    )
    open_case(runtime, session, pathway, "Dunmore", BASELINE_STAGE, team_id=north)
    # Morgan manages Central FGC; "Birch" has no team, so only its coordinator sees it.
    manager = people["morgan"]

    def families(**given) -> set[str]:
        shown = board(session, manager, BoardFilter(**given))
        return {card.family_name for c in shown.columns for card in c.cards}

    assert families() == {"Ashdown", "Cole"}
    assert families(referral_type="pre_proceedings") == {"Cole"}
    assert families(coordinator="casey.coordinator", referral_type="standard") == {"Ashdown"}
    assert families(coordinator="cam.coordinator") == set()
    assert families(team_id=north) == set()  # another team's cases stay out of sight
    cam = board(session, people["cam"], BoardFilter())
    assert [card.family_name for c in cam.columns for card in c.cards] == ["Birch"]


def test_a_coordinator_sees_their_own_cases_by_default_and_can_widen_to_what_they_can_see(
    session, runtime, pathway, people, frozen_clock
):
    team = people["team_id"]
    open_case(runtime, session, pathway, "Ashdown", BASELINE_STAGE, team_id=team)
    helped = open_case(
        runtime,
        session,
        pathway,
        "Birch",
        BASELINE_STAGE,
        coordinator="cam.coordinator",
        team_id=team,
    )
    open_case(
        runtime,
        session,
        pathway,
        "Cole",
        BASELINE_STAGE,
        coordinator="cam.coordinator",
        team_id=team,
    )
    # Cam hands Casey one task on Birch: Casey now works on that case, not on Cole.
    task = next(
        t.id
        for t in list_tasks(session, case_id=helped.id)
        if t.element_id == "hold_baseline_meeting"
    )
    assign(session, task, "casey.coordinator", Actor.of("cam.coordinator", "coordinator"))
    casey = people["casey"]

    mine = board(session, casey, BoardFilter())
    team_view = board(session, casey, BoardFilter(scope="team"))

    assert mine.scope == "mine"
    assert {card.family_name for c in mine.columns for card in c.cards} == {"Ashdown"}
    assert {card.family_name for c in team_view.columns for card in c.cards} == {
        "Ashdown",
        "Birch",
    }


def test_a_manager_sees_only_their_own_teams_conferences(
    session, runtime, pathway, people, frozen_clock
):
    open_case(runtime, session, pathway, "Ashdown", BASELINE_STAGE, team_id=people["team_id"])

    assert board(session, people["morgan"], BoardFilter()).total == 1
    other = board(session, people["mel"], BoardFilter())
    assert (other.scope, other.total) == ("team", 0)


def test_only_coordinators_and_managers_may_see_the_board(session, pathway, people):
    for who in ("riley", "dana"):
        with pytest.raises(NotAllowed):
            board(session, people[who], BoardFilter())
    people["casey"].active = False
    with pytest.raises(NotAllowed):
        board(session, people["casey"], BoardFilter())
    with pytest.raises(KinflowError, match="scope"):
        board(session, people["morgan"], BoardFilter(scope="mine"))


def test_bad_filter_values_are_refused_naming_the_field():
    with pytest.raises(KinflowError, match="^team:"):
        BoardFilter.from_query({"team": "central"})
    with pytest.raises(KinflowError, match="^coordinator:"):
        BoardFilter.from_query({"coordinator": "<script>"})
    with pytest.raises(KinflowError, match="^scope:"):
        BoardFilter.from_query({"scope": "everyone"})
    with pytest.raises(KinflowError, match="^referral_type:"):
        BoardFilter.from_query({"referral_type": "x" * 41})
    assert BoardFilter.from_query({"team": " 3 ", "coordinator": "", "scope": "Team"}) == (
        BoardFilter(scope="team", team_id=3)
    )


def test_the_board_takes_two_queries_however_many_cases(
    session, runtime, pathway, people, frozen_clock
):
    team = people["team_id"]
    open_case(runtime, session, pathway, "Ashdown", BASELINE_STAGE, team_id=team)
    board(session, people["morgan"], BoardFilter())  # reads the diagram once per version
    # Then: the pathway's version ids (cached stages), and the board itself.

    def statements() -> int:
        seen: list[str] = []
        manager = people["morgan"]
        assert manager.roles  # loaded before counting, as a signed-in user would be
        bind = session.get_bind()
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(bind, "before_cursor_execute", listener)
        try:
            board(session, manager, BoardFilter())
        finally:
            event.remove(bind, "before_cursor_execute", listener)
        return len([sql for sql in seen if sql.lstrip().startswith(("SELECT", "WITH"))])

    few = statements()
    for family in ("Birch", "Cole", "Dunmore", "Elwood"):
        open_case(runtime, session, pathway, family, PLAN_ACCEPTANCE, team_id=team)
    assert statements() == few <= 2


def test_a_full_column_counts_every_case_and_shows_the_hundred_most_urgent_in_order(
    session, runtime, pathway, people, frozen_clock
):
    team = people["team_id"]

    def refer(title: str) -> Case:  # a new referral: in the first stage, its form not sent
        return runtime.start_case(
            session, pathway, {"eligibility_rule": "stronger_families"}, REFERRER, title, team
        )

    # 50 referrals on Monday 2 March and 54 on Tuesday, each day's made in reverse order of
    # name, so that neither the case number nor the time of day can stand in for the name.
    monday = [f"Family {n:03d}" for n in range(50)]
    tuesday = [f"Family {n:03d}" for n in range(100, 154)]
    made = {}
    for names in (monday, tuesday):
        for title in reversed(names):
            made[title] = refer(title)
        frozen_clock.advance(days=1)
    # Two of Tuesday's last names get a concern: one reviewed late, one just raised.
    frozen_clock.set(at("2026-03-03", 10))
    runtime.send_message(session, made["Family 153"].id, "safeguarding_concern", CONCERN, MANAGER)
    frozen_clock.set(at("2026-03-05", 9))
    runtime.send_message(session, made["Family 152"].id, "safeguarding_concern", CONCERN, MANAGER)
    frozen_clock.set(at("2026-03-05", 10))  # Monday's have waited 3 days, Tuesday's 2

    shown = board(session, people["morgan"], BoardFilter())

    first = next(c for c in shown.columns if c.name == STAGES[0])
    assert (first.count, len(first.cards), first.hidden) == (104, 100, 4)
    # Overdue (due 4 March, 10:00), due soon (6 March, 09:00), then the longest waiting by
    # name: all 50 of Monday's, then the first 48 of Tuesday's other 52.
    expected = ["Family 153", "Family 152", *monday, *tuesday[:48]]
    assert [card.family_name for card in first.cards] == expected
    assert [card.days_in_stage for card in first.cards[1:4]] == [2, 3, 3]
    assert shown.sla_counts == {"overdue": 1, "due_soon": 1, "on_time": 102}
    assert shown.total == 104


def test_a_wait_counts_from_the_end_of_the_last_stage_not_from_a_later_safeguarding_review(
    session, runtime, pathway, people, frozen_clock
):
    case = open_case(runtime, session, pathway, "Ashdown", WAITING, team_id=people["team_id"])
    frozen_clock.set(at("2026-03-04"))
    runtime.send_message(session, case.id, "safeguarding_concern", CONCERN, MANAGER)
    frozen_clock.set(at("2026-03-04", 15))
    do(runtime, session, case, "review_safeguarding_concern", CONTINUE, MANAGER)
    frozen_clock.set(at("2026-03-12", 8))  # 9 days and 23 hours after the wait began

    shown = board(session, people["morgan"], BoardFilter())

    assert columns(shown)[WAITING] == ["Ashdown"]
    card = card_of(shown, "Ashdown")
    assert (card.entered_at, card.days_in_stage, card.sla) == (at("2026-03-02"), 9, "on_time")
    assert card.waiting_until == at("2026-07-13")


def test_a_state_wholly_past_the_shown_cards_still_counts(
    session, runtime, pathway, people, frozen_clock, monkeypatch
):
    monkeypatch.setattr(engine_board, "MAX_CARDS", 2)  # a full column without 100 cases
    team = people["team_id"]
    for family in ("Ashdown", "Birch", "Cole", "Dunmore", "Elwood"):
        case = runtime.start_case(session, pathway, {}, REFERRER, f"{family} family", team)
        if family in ("Cole", "Dunmore", "Elwood"):  # a concern each: due within 24 hours
            runtime.send_message(session, case.id, "safeguarding_concern", CONCERN, MANAGER)

    shown = board(session, people["morgan"], BoardFilter())

    first = next(c for c in shown.columns if c.name == STAGES[0])
    assert [card.family_name for card in first.cards] == ["Cole family", "Dunmore family"]
    assert (first.count, first.hidden) == (5, 3)
    assert shown.sla_counts == {"overdue": 0, "due_soon": 3, "on_time": 2}
