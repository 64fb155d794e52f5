"""The case list and the case page: who sees which case, what the page shows, the diagram,
and the family record behind them (engine/family_record.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event, select

from engine.accounts import find_user, get_or_create_team
from engine.actors import Actor
from engine.audit import AuditEntry
from engine.family_record import FamilyRecord, family_record, list_cases
from engine.queries import list_tasks
from engine.record.models import Review
from tests.people import COORDINATOR, REFERRER
from tests.test_pathway_walkthrough import (
    PLAN_ACCEPTED,
    PLAN_REJECTED,
    PLAN_REVISED,
    deploy_pathway,
    do,
    through_conference,
)
from tests.web import add_workers, family_at, login
from webapp.extensions import db

START = {"eligibility_rule": "stronger_families"}


# Where each stage name leaves a case: the task then waiting.
NEXT_TASK = {
    "referral": "submit_referral",
    "allocated": "hold_baseline_meeting",
    "assessment": "whole_family_assessment",
    "conference": "review_family_plan",
}


def open_case(app, stage: str = "conference", family: str = "Ashdown") -> int:
    """A Central-team case taken to ``stage``: ``referral`` (waiting for the referral),
    ``allocated`` (baseline meeting next), ``assessment`` (whole-family assessment next) or
    ``conference`` (plan acceptance next)."""
    return family_at(app, family, NEXT_TASK[stage])


def page_of(client, case_id: int) -> str:
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


# -- the case page ---------------------------------------------------------------------------


def test_the_referrer_sees_the_family_its_people_and_the_chronology(app, client):
    case_id = open_case(app)
    login(client, "riley.referrer")
    html = page_of(client, case_id)
    assert "<h1>Ashdown family</h1>" in html
    assert "Child in need" in html  # the child's status in the form's words
    assert "Jo Ashdown" in html and "Sam Ashdown" in html
    assert "Nan Ashdown" in html  # the network
    assert "Referral from Riley Shaw (Children&#39;s Services)" in html  # the chronology
    assert "Stage now: <strong>Plan acceptance</strong>" in html
    for section in ("summary", "people", "network", "plan", "chronology", "diagram"):
        assert f'href="#{section}"' in html and f'id="{section}"' in html


def test_before_the_conference_its_date_and_place_are_on_the_case_page(app, client):
    case_id = family_at(app, "Ashdown", "record_conference")
    login(client, "casey.coordinator")
    html = page_of(client, case_id)
    assert "No plan yet" in html
    arranged = "arranged for Monday 20 April 2026 at Marsh Farm community centre, in English."
    assert f"The conference is {arranged}" in html


def test_the_chronology_is_newest_first_and_can_show_one_kind(app, client):
    case_id = open_case(app)
    login(client, "casey.coordinator")
    html = page_of(client, case_id)
    assert html.index("Conference held on 2026-04-20") < html.index("Case started (FGC")
    only_forms = client.get(f"/cases/{case_id}?kind=task_completed").get_data(as_text=True)
    assert "Conference held on 2026-04-20" in only_forms
    assert "Case started (FGC pathway)." not in only_forms


@pytest.mark.parametrize("outsider", ["cam.coordinator", "mel.manager", "dana.data"])
def test_someone_outside_the_case_is_told_it_does_not_exist(app, client, outsider):
    case_id = open_case(app)
    login(client, outsider)
    assert client.get(f"/cases/{case_id}").status_code == 404
    assert client.get(f"/cases/{case_id}/diagram.json").status_code == 404
    assert client.get(f"/cases/{case_id}/plan/print").status_code == 404
    never_used = client.get(f"/cases/{case_id + 1000}")
    assert never_used.status_code == 404  # the same answer as for a case that does not exist


def test_viewing_a_case_is_audited_with_who_and_which_case(app, client):
    case_id = open_case(app, "allocated")
    login(client, "morgan.manager")
    page_of(client, case_id)
    client.get(f"/cases/{case_id}/diagram.json")
    with app.app_context():
        entries = db.session().scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        seen = [(e.username, e.action, e.case_id) for e in entries]
    assert ("morgan.manager", "view_case", case_id) in seen
    assert ("morgan.manager", "view_diagram", case_id) in seen


def test_the_diagram_marks_the_task_waiting_now(app, client):
    case_id = open_case(app, "allocated")
    login(client, "casey.coordinator")
    diagrams = client.get(f"/cases/{case_id}/diagram.json").get_json()
    assert diagrams[0]["process_id"] == "fgc_pathway"  # the main process first
    stage = next(d for d in diagrams if d["process_id"] == "baseline_assessment")
    assert stage["active"] == ["hold_baseline_meeting"]
    assert stage["bpmn_xml"].lstrip().startswith("<?xml")
    screening = next(d for d in diagrams if d["process_id"] == "screening_allocation")
    assert "allocate_coordinator" in screening["completed"]
    html = page_of(client, case_id)
    assert f'data-diagram-url="/cases/{case_id}/diagram.json"' in html
    assert "Now: Hold the baseline meeting" in html  # the same, in words, without JavaScript
    assert "/vendor/bpmn-navigated-viewer.js" in html and "js/case-diagram.js" in html


def test_after_the_conference_the_plan_shows_each_action_and_its_state(app, client, frozen_clock):
    case_id = open_case(app)
    login(client, "casey.coordinator")
    html = page_of(client, case_id)
    plan = html[html.index('id="plan"') : html.index('id="support"')]
    assert "Nan takes Sam to school on Mondays and Tuesdays" in plan
    assert "Jo Ashdown" in plan  # who checks
    assert "1 May 2026" in plan
    assert "In progress" in plan and "Overdue" not in plan
    assert "Waiting for the referrer to accept it." in plan
    assert f'href="/cases/{case_id}/plan/print"' in plan
    frozen_clock.set(datetime(2026, 5, 4, 9, tzinfo=UTC))
    late = page_of(client, case_id)
    assert "Overdue" in late[late.index('id="plan"') : late.index('id="support"')]


def test_the_printed_plan_is_the_current_plan_and_printing_it_is_audited(app, client):
    case_id = open_case(app)
    login(client, "casey.coordinator")
    printed = client.get(f"/cases/{case_id}/plan/print")
    assert printed.status_code == 200
    assert "Nan takes Sam to school on Mondays and Tuesdays" in printed.get_data(as_text=True)
    with app.app_context():
        audited = db.session().scalars(
            select(AuditEntry.action).where(AuditEntry.case_id == case_id)
        )
        assert "print_plan" in list(audited)


def test_open_tasks_link_to_their_forms(app, client):
    case_id = open_case(app, "allocated")
    login(client, "casey.coordinator")
    with app.app_context():
        [task] = list_tasks(db.session(), case_id=case_id)
    html = page_of(client, case_id)
    tasks = html[html.index('id="open-tasks"') : html.index('id="people"')]
    assert f'<a href="/tasks/{task.id}">Hold the baseline meeting</a>' in tasks
    assert "Casey Coordinator" in tasks  # who it is waiting for


def test_contact_details_are_kept_for_the_people_working_with_the_family(app, client):
    case_id = open_case(app, "assessment")
    login(client, "riley.referrer")
    assert "07700 900123" in page_of(client, case_id)
    # Any lead practitioner of the team may pick up the assessment, so sees the case, but
    # works with the family only once they hold or have done one of its tasks.
    lee = app.test_client()
    login(lee, "lee.practitioner")
    html = page_of(lee, case_id)
    assert "Jo Ashdown" in html
    assert "07700 900123" not in html
    assert "Shown only to the family's referrer" in html
    assert 'id="consent"' not in html  # nor may they record consent withdrawn


# -- the case list ---------------------------------------------------------------------------


def test_the_case_list_shows_only_visible_cases_and_searches_by_family_name(app, client):
    ashdown = open_case(app, "allocated", "Ashdown")
    open_case(app, "allocated", "Brook")
    login(client, "casey.coordinator")
    listed = client.get("/cases").get_data(as_text=True)
    assert "Ashdown family" in listed and "Brook family" in listed
    assert "Casey Coordinator" in listed  # the coordinator's name
    found = client.get("/cases?q=ashd").get_data(as_text=True)
    assert f'href="/cases/{ashdown}"' in found
    assert "Brook family" not in found
    mel = app.test_client()
    login(mel, "mel.manager")
    assert "Ashdown family" not in mel.get("/cases").get_data(as_text=True)
    with app.app_context():
        actions = db.session().scalars(select(AuditEntry.action)).all()
    assert "list_cases" in actions


def test_a_case_list_search_too_long_is_explained_not_refused(app, client):
    open_case(app, "allocated")
    login(client, "casey.coordinator")
    page = client.get("/cases?q=" + "x" * 121)
    assert page.status_code == 200
    assert "Family name: give at most 120 characters." in page.get_data(as_text=True)


def test_the_case_list_pages_latest_activity_first(app, client, frozen_clock):
    ids = []
    for n in range(27):
        frozen_clock.advance(minutes=1)
        ids.append(open_case(app, "referral", f"Family{n:02}"))
    login(client, "riley.referrer")
    first = client.get("/cases").get_data(as_text=True)
    assert "27 cases; page 1 of 2" in first
    assert first.index("Family26 family") < first.index("Family25 family")
    second = client.get("/cases?page=2").get_data(as_text=True)
    assert "Family01 family" in second and "Family00 family" in second
    assert "Family26 family" not in second
    assert 'rel="prev"' in second


# -- the record behind the page --------------------------------------------------------------


@pytest.fixture
def pathway(session, runtime):
    return deploy_pathway(session, runtime)


@pytest.fixture
def users(session):
    return add_workers(session)


def test_the_record_loads_in_the_same_few_queries_however_big_the_case(
    session, runtime, pathway, db_engine
):
    small = runtime.start_case(session, pathway, START, REFERRER)
    big = runtime.start_case(session, pathway, START, REFERRER)
    through_conference(runtime, session, big)
    do(runtime, session, big, "review_family_plan", PLAN_REJECTED, REFERRER)
    do(runtime, session, big, "revise_family_plan", PLAN_REVISED, COORDINATOR)

    def queries_for(case_id: int) -> tuple[int, FamilyRecord]:
        statements: list[str] = []

        def count(*args) -> None:
            statements.append(args[2])

        event.listen(db_engine, "before_cursor_execute", count)
        try:
            record = family_record(session, case_id)
        finally:
            event.remove(db_engine, "before_cursor_execute", count)
        return len(statements), record

    few, empty = queries_for(small.id)
    many, full = queries_for(big.id)
    assert few <= many <= 13  # only the plan actions' query is skipped when there is no plan
    assert empty.referral is None and empty.current_plan is None
    assert [p.version for p in full.plans] == [2, 1]
    assert full.current_plan is full.plans[0]
    assert len(full.people) == 2 and len(full.network) == 1


def test_an_action_takes_its_state_from_the_latest_review_else_from_its_date(
    session, runtime, pathway
):
    case = runtime.start_case(session, pathway, START, REFERRER)
    through_conference(runtime, session, case)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    record = family_record(session, case.id)
    [before] = record.action_progress(today=date(2026, 4, 30))
    [after] = record.action_progress(today=date(2026, 5, 2))
    assert (before.state, before.basis) == ("in_progress", "date")
    assert (after.state, after.label) == ("overdue", "Overdue")

    what = record.current_plan.actions[0].what
    for status, state in [("done", "done"), ("behind", "overdue"), ("on_track", "in_progress")]:
        session.add(
            Review(
                case_id=case.id,
                held_on=date(2026, 7, 13),
                progress=[{"action": f"  {what.upper()} ", "status": status, "note": "Noted"}],
                another_review=True,
                recorded_by=COORDINATOR.username,
            )
        )
        session.commit()
        [item] = family_record(session, case.id).action_progress(today=date(2026, 7, 14))
        assert (item.state, item.basis, item.review_status) == (state, "review", status)


def test_the_case_list_query_runs_once_and_keeps_to_the_users_cases(
    session, runtime, pathway, users, db_engine
):
    central = get_or_create_team(session, "Central FGC").id
    mine = runtime.start_case(session, pathway, START, REFERRER, "Ashdown", team_id=central)
    runtime.start_case(session, pathway, START, Actor.of("someone.else", "referrer"), "Other")
    session.commit()
    riley = find_user(session, "riley.referrer")
    statements: list[str] = []

    def count(*args) -> None:
        statements.append(args[2])

    event.listen(db_engine, "before_cursor_execute", count)
    try:
        found = list_cases(session, riley)
    finally:
        event.remove(db_engine, "before_cursor_execute", count)
    assert [row.id for row in found.rows] == [mine.id]
    assert (found.total, found.rows[0].open_tasks) == (1, 1)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert list_cases(session, find_user(session, "mel.manager")).rows == []
