"""The inbox query (engine/inbox.py) and reassigning all of a person's tasks, without Flask."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from engine.accounts import create_user
from engine.actors import Actor
from engine.assignment import claim, reassign_all
from engine.chronology import case_events
from engine.errors import KinflowError, NotAllowed
from engine.inbox import TaskFilter, count_tasks, find_tasks, stage_choices
from engine.queries import get_task, list_tasks
from tests.people import COORDINATOR, MANAGER, OTHER_MANAGER, REFERRER
from tests.test_pathway_walkthrough import (
    ACCEPT,
    ACKNOWLEDGED,
    ALLOCATION,
    REFERRAL,
    deploy_pathway,
    do,
)

CENTRAL, NORTH = "Central FGC", "North FGC"


@pytest.fixture
def people(session):
    """Workers in two teams; the usernames match tests/people.py's actors."""
    made = {}
    for name, role, team in [
        ("riley.referrer", "referrer", CENTRAL),
        ("morgan.manager", "fgc_manager", CENTRAL),
        ("mel.manager", "fgc_manager", NORTH),
        ("casey.coordinator", "coordinator", CENTRAL),
        ("cam.coordinator", "coordinator", CENTRAL),
        ("nia.coordinator", "coordinator", NORTH),
        ("ada.admin", "admin", CENTRAL),
    ]:
        made[name] = create_user(session, name, name.replace(".", " ").title(), [role], team)
    return made


@pytest.fixture
def pathway(session, runtime):
    return deploy_pathway(session, runtime)


@pytest.fixture
def referred(session, runtime, pathway, people, frozen_clock):
    """Start a Central FGC referral for a family; it waits for the manager's acknowledgement."""

    def make(family: str = "Ashdown", team: str = CENTRAL):
        team_id = people["morgan.manager" if team == CENTRAL else "mel.manager"].team_id
        data = {"eligibility_rule": "stronger_families"}
        case = runtime.start_case(session, pathway, data, REFERRER, f"{family} family", team_id)
        do(runtime, session, case, "submit_referral", REFERRAL | {"family_name": family}, REFERRER)
        return case

    return make


def allocate(runtime, session, case, coordinator="casey.coordinator"):
    """Acknowledge, screen and allocate: the coordinator then holds the baseline meeting."""
    manager = MANAGER
    do(runtime, session, case, "acknowledge_referral", ACKNOWLEDGED, manager)
    do(runtime, session, case, "screen_referral", ACCEPT, manager)
    allocation = ALLOCATION | {"coordinator": coordinator}
    do(runtime, session, case, "allocate_coordinator", allocation, manager)
    return list_tasks(session, case_id=case.id)[0]


def titles(rows):
    return [(row.family_name, row.task.title) for row in rows]


def test_my_tasks_are_those_assigned_to_me(session, runtime, people, referred):
    case = referred("Ashdown")
    referred("Bexley")
    baseline = allocate(runtime, session, case)
    rows = find_tasks(session, people["casey.coordinator"], TaskFilter("mine"))
    assert [row.task.id for row in rows] == [baseline.id]
    assert (rows[0].family_name, rows[0].stage) == (
        "Ashdown",
        "Baseline meeting and whole-family assessment",
    )
    assert rows[0].referral_type == "standard" and rows[0].urgency == "routine"
    assert find_tasks(session, people["cam.coordinator"], TaskFilter("mine")) == []


def test_available_tasks_are_unclaimed_for_my_roles_in_my_team(session, people, referred):
    referred("Ashdown")
    referred("Nolan", team=NORTH)
    morgan = find_tasks(session, people["morgan.manager"], TaskFilter("available"))
    assert titles(morgan) == [("Ashdown", "Acknowledge the referral")]
    mel = find_tasks(session, people["mel.manager"], TaskFilter("available"))
    assert titles(mel) == [("Nolan", "Acknowledge the referral")]
    assert find_tasks(session, people["casey.coordinator"], TaskFilter("available")) == []
    assert find_tasks(session, people["morgan.manager"], TaskFilter("mine")) == []


def test_all_is_mine_and_available_together(session, runtime, people, referred):
    held = referred("Ashdown")
    referred("Bexley")
    ack = list_tasks(session, case_id=held.id)[0]
    claim(session, ack.id, MANAGER)
    rows = find_tasks(session, people["morgan.manager"], TaskFilter("all"))
    assert sorted(titles(rows)) == [
        ("Ashdown", "Acknowledge the referral"),
        ("Bexley", "Acknowledge the referral"),
    ]


def test_team_view_shows_every_task_of_my_teams_cases_to_managers_only(
    session, runtime, people, referred
):
    allocate(runtime, session, referred("Ashdown"))
    referred("Bexley")
    referred("Nolan", team=NORTH)
    rows = find_tasks(session, people["morgan.manager"], TaskFilter("team"))
    assert sorted(titles(rows)) == [
        ("Ashdown", "Hold the baseline meeting"),
        ("Bexley", "Acknowledge the referral"),
    ]
    # Admins run accounts; they do not read families' work.
    for outsider in ("ada.admin", "casey.coordinator"):
        with pytest.raises(NotAllowed):
            find_tasks(session, people[outsider], TaskFilter("team"))
    with pytest.raises(NotAllowed):
        count_tasks(session, people["casey.coordinator"], TaskFilter("team"))


def test_a_deactivated_user_sees_nothing(session, runtime, people, referred):
    allocate(runtime, session, referred("Ashdown"))
    casey = people["casey.coordinator"]
    casey.active = False
    session.commit()
    assert find_tasks(session, casey, TaskFilter("mine")) == []


def test_due_states_follow_the_clock_and_are_counted(
    session, runtime, people, referred, frozen_clock
):
    referred("Ashdown")  # acknowledgement due in 2 working days: Wednesday 09:00
    morgan = people["morgan.manager"]
    where = TaskFilter("available")
    assert find_tasks(session, morgan, where)[0].due_state == "on_time"
    assert count_tasks(session, morgan, where).due_soon == 0
    frozen_clock.advance(timedelta(hours=1))
    assert find_tasks(session, morgan, where)[0].due_state == "due_soon"
    counts = count_tasks(session, morgan, where)
    assert (counts.total, counts.overdue, counts.due_soon) == (1, 0, 1)
    frozen_clock.advance(timedelta(days=2))
    assert find_tasks(session, morgan, where)[0].due_state == "overdue"
    counts = count_tasks(session, morgan, where)
    assert (counts.total, counts.overdue, counts.due_soon) == (1, 1, 0)


def test_tasks_are_sorted_by_due_date_with_undated_ones_last(
    session, runtime, people, referred, frozen_clock
):
    undated = referred("Undated")
    referred("Later")  # due Wednesday
    frozen_clock.advance(timedelta(hours=-48))  # the Saturday before: due Tuesday
    referred("Sooner")
    frozen_clock.advance(timedelta(hours=48))
    list_tasks(session, case_id=undated.id)[0].due_at = None
    session.commit()
    rows = find_tasks(session, people["morgan.manager"], TaskFilter("available"))
    assert [row.family_name for row in rows] == ["Sooner", "Later", "Undated"]
    assert [row.due_state for row in rows][-1] == "no_date"


def test_the_team_view_pages_through_dated_tasks_then_undated_ones_oldest_first(
    session, runtime, people, referred, frozen_clock
):
    # The team view reads dated and undated tasks apart; a page can hold some of each.
    young, adams = referred("Young"), referred("Adams")  # undated; Young's task made first
    referred("Later")  # due Wednesday
    frozen_clock.advance(timedelta(hours=-48))  # the Saturday before: due Tuesday
    referred("Sooner")
    frozen_clock.advance(timedelta(hours=48))
    for case in (young, adams):
        list_tasks(session, case_id=case.id)[0].due_at = None
    session.commit()
    referred("Nolan", team=NORTH)  # another team's: never in the view
    morgan = people["morgan.manager"]

    def families(where: TaskFilter, limit: int, offset: int = 0) -> list[str | None]:
        return [row.family_name for row in find_tasks(session, morgan, where, limit, offset)]

    team = TaskFilter("team")
    assert families(team, 50) == ["Sooner", "Later", "Young", "Adams"]
    assert families(team, 2) + families(team, 2, 2) == ["Sooner", "Later", "Young", "Adams"]
    assert families(team, 2, 1) == ["Later", "Young"]
    assert families(team, 1, 3) == ["Adams"]
    assert families(TaskFilter("team", due="none"), 50) == ["Young", "Adams"]
    assert families(TaskFilter("team", due="none"), 1) == ["Young"]
    assert families(TaskFilter("team", due="none"), 1, 1) == ["Adams"]
    assert families(TaskFilter("team", due="week"), 50) == ["Sooner", "Later"]
    counts = count_tasks(session, morgan, team)
    assert (counts.total, counts.team) == (4, 4)


def test_each_filter_narrows_the_list(session, runtime, people, referred, frozen_clock):
    allocate(runtime, session, referred("Ashdown"))
    referred("Bexley")
    frozen_clock.advance(timedelta(days=3))  # Bexley's acknowledgement is now overdue
    morgan = people["morgan.manager"]

    def families(**criteria):
        where = TaskFilter("team", **criteria)
        found = [row.family_name for row in find_tasks(session, morgan, where)]
        assert count_tasks(session, morgan, where).total == len(found)
        return found

    assert sorted(families()) == ["Ashdown", "Bexley"]
    assert families(stage="Baseline meeting and whole-family assessment") == ["Ashdown"]
    assert families(role="fgc_manager") == ["Bexley"]
    assert families(family="BEX") == ["Bexley"]
    assert families(family="%") == []
    assert families(due="overdue") == ["Bexley"]
    assert sorted(families(due="week")) == ["Ashdown", "Bexley"]
    assert families(due="none") == []
    assert families(assignee="casey.coordinator") == ["Ashdown"]


def test_due_today_includes_overdue_but_not_tomorrow(session, people, referred, frozen_clock):
    referred("Ashdown")  # due Wednesday 09:00
    morgan = people["morgan.manager"]
    today = TaskFilter("available", due="today")
    assert find_tasks(session, morgan, today) == []
    frozen_clock.advance(timedelta(days=2))  # Wednesday 09:00
    assert len(find_tasks(session, morgan, today)) == 1
    frozen_clock.advance(timedelta(days=1))
    assert len(find_tasks(session, morgan, today)) == 1


def test_counts_give_each_tab_its_size(session, runtime, people, referred):
    held = referred("Ashdown")
    referred("Bexley")
    referred("Nolan", team=NORTH)
    claim(session, list_tasks(session, case_id=held.id)[0].id, MANAGER)
    counts = count_tasks(session, people["morgan.manager"], TaskFilter("mine"))
    assert (counts.total, counts.mine, counts.available, counts.team) == (1, 1, 1, 2)
    assert count_tasks(session, people["casey.coordinator"], TaskFilter()).team is None


def test_paging_returns_the_next_tasks(session, people, referred, frozen_clock):
    for family in ("Ashdown", "Bexley", "Carver"):
        referred(family)
        frozen_clock.advance(timedelta(hours=1))
    morgan, where = people["morgan.manager"], TaskFilter("available")
    first = find_tasks(session, morgan, where, limit=2)
    second = find_tasks(session, morgan, where, limit=2, offset=2)
    assert [r.family_name for r in first + second] == ["Ashdown", "Bexley", "Carver"]
    with pytest.raises(KinflowError, match="page"):
        find_tasks(session, morgan, where, limit=0)


def test_a_deactivated_or_deleted_holders_tasks_need_reassignment(
    session, runtime, people, referred
):
    baseline = allocate(runtime, session, referred("Ashdown"))
    other = allocate(runtime, session, referred("Bexley"), "cam.coordinator")
    people["casey.coordinator"].active = False
    session.commit()
    get_task(session, other.id).assignee = "gone.worker"  # an account that no longer exists
    session.commit()
    rows = {
        row.task.id: row
        for row in find_tasks(session, people["morgan.manager"], TaskFilter("team"))
    }
    assert rows[baseline.id].needs_reassignment and rows[other.id].needs_reassignment
    assert rows[baseline.id].assignee_name == "Casey Coordinator"


def test_the_inbox_is_one_query_and_rows_need_no_more(session, runtime, people, referred):
    for family in ("Ashdown", "Bexley", "Carver"):
        allocate(runtime, session, referred(family))
    statements = []
    engine = session.get_bind()

    def count(*args):
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        rows = find_tasks(session, people["casey.coordinator"], TaskFilter("mine"))
        shown = [
            (r.task.title, r.task.due_at, r.task.candidate_groups, r.family_name) for r in rows
        ]
        count_tasks(session, people["casey.coordinator"], TaskFilter("mine"))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(shown) == 3
    assert len(statements) == 2


def test_filters_are_checked_and_name_the_field():
    assert TaskFilter.from_query({"scope": "team", "due": "week", "page": "3"}) == TaskFilter(
        "team", due="week"
    )
    assert TaskFilter.from_query({"family": "  ", "role": ""}) == TaskFilter()
    for field, value in [
        ("scope", "everyone"),
        ("due", "yesterday"),
        ("role", "wizard"),
        ("assignee", "not a name!"),
        ("family", "x" * 121),
    ]:
        with pytest.raises(KinflowError, match=f"^{field}: "):
            TaskFilter.from_query({field: value})


def test_a_filter_survives_the_round_trip_through_a_query_string():
    where = TaskFilter("available", stage="Review", role="coordinator", due="today", family="Ash")
    assert TaskFilter.from_query(where.to_query()) == where
    assert TaskFilter().to_query() == {}


def test_the_stage_choices_are_where_cases_can_wait_for_someone(session, runtime, people, referred):
    case = referred("Ashdown")
    stages = stage_choices(session, runtime.store)
    assert find_tasks(session, people["morgan.manager"], TaskFilter("team"))[0].stage in stages
    allocate(runtime, session, case)
    assert find_tasks(session, people["morgan.manager"], TaskFilter("team"))[0].stage in stages
    assert {"Review", "Closure", "Review the safeguarding concern"} <= set(stages)
    assert "FGC pathway" not in stages  # the wrapper around the stages: nobody works in it


# reassign_all


def test_reassign_all_moves_every_open_task_on_my_teams_cases(session, runtime, people, referred):
    first = allocate(runtime, session, referred("Ashdown"))
    second = allocate(runtime, session, referred("Bexley"))
    north = referred("Nolan", team=NORTH)
    away = list_tasks(session, case_id=north.id)[0]
    away.assignee = "casey.coordinator"  # held on another team's case: not Morgan's to move
    session.commit()

    moved = reassign_all(
        session, "casey.coordinator", "cam.coordinator", MANAGER, people["morgan.manager"].team_id
    )

    assert moved == 2
    assert {get_task(session, t.id).assignee for t in (first, second)} == {"cam.coordinator"}
    assert get_task(session, away.id).assignee == "casey.coordinator"
    summaries = [e.summary for e in case_events(session, first.case_id)]
    assert (
        "morgan.manager reassigned 'Hold the baseline meeting' from casey.coordinator "
        "to cam.coordinator." in summaries
    )


def test_reassign_all_can_return_tasks_to_the_available_list(session, runtime, people, referred):
    task = allocate(runtime, session, referred("Ashdown"))
    team = people["morgan.manager"].team_id
    assert reassign_all(session, "casey.coordinator", None, MANAGER, team) == 1
    assert get_task(session, task.id).assignee is None
    rows = find_tasks(session, people["cam.coordinator"], TaskFilter("available"))
    assert [row.task.id for row in rows] == [task.id]


def test_only_managers_reassign_all_and_only_to_an_active_user(session, runtime, people, referred):
    task = allocate(runtime, session, referred("Ashdown"))
    team = people["morgan.manager"].team_id
    with pytest.raises(NotAllowed):
        reassign_all(session, "casey.coordinator", "cam.coordinator", COORDINATOR, team)
    people["cam.coordinator"].active = False
    session.commit()
    with pytest.raises(KinflowError, match="^to: "):
        reassign_all(session, "casey.coordinator", "cam.coordinator", MANAGER, team)
    with pytest.raises(KinflowError, match="^to: "):
        reassign_all(session, "casey.coordinator", "casey.coordinator", MANAGER, team)
    assert get_task(session, task.id).assignee == "casey.coordinator"


def test_another_teams_manager_moves_nothing(session, runtime, people, referred):
    task = allocate(runtime, session, referred("Ashdown"))
    north = people["mel.manager"].team_id
    assert reassign_all(session, "casey.coordinator", "nia.coordinator", OTHER_MANAGER, north) == 0
    assert get_task(session, task.id).assignee == "casey.coordinator"


def test_admins_may_not_reassign_work(session, runtime, people, referred):
    allocate(runtime, session, referred("Ashdown"))
    admin = Actor.of("ada.admin", "admin")
    team = people["ada.admin"].team_id
    with pytest.raises(NotAllowed):
        reassign_all(session, "casey.coordinator", "cam.coordinator", admin, team)
