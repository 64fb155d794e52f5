"""The printed family plan (cases/plan_print.html): what the family gets, and what it never does.

First the template alone, on records built in memory; then the page through the test client.
"""

from __future__ import annotations

from datetime import date

import pytest
from flask import render_template
from sqlalchemy import select

from engine.actors import Actor
from engine.audit import AuditEntry
from engine.case_notes import add_note
from engine.deploy import latest_version
from engine.family_record import FamilyRecord
from engine.models import Case, CaseEvent
from engine.record.models import (
    FamilyPlan,
    Person,
    PlanAction,
    Referral,
    Review,
    SafeguardingConcern,
)
from tests.conftest import REPO
from tests.test_board_engine import PLAN_ACCEPTANCE, STAGES, open_case
from tests.test_pathway_walkthrough import CONCERN, CONFERENCE
from tests.web import login, team_id
from webapp.extensions import db, runtime

CONCERN_TEXT = "Neighbour reports shouting late at night"
NOTE_TEXT = "Internal: mother's new partner not yet checked"
WHY_NOW = "Attendance has fallen below 60% this term"


def in_memory_record(
    plan: FamilyPlan | None, reviews: tuple[Review, ...] = ()
) -> tuple[Case, FamilyRecord]:
    """A case with a plan, a concern and a note, as engine rows that were never saved."""
    case = Case(id=7, title="Ashdown family", status="active", created_by="riley.referrer")
    referral = Referral(
        case_id=7,
        family_name="Ashdown",
        referrer_name="Riley Shaw",
        referrer_organisation="Children's Services",
        referrer_phone="01632 960111",
        referrer_email="riley.shaw@example.org",
        referred_by="riley.referrer",
        referral_type="standard",
        urgency="routine",
        why_now=WHY_NOW,
        consent_given=True,
        coordinator="casey.coordinator",
        eligibility_reason="2 of 6 Stronger Families problems",
    )
    people = (
        Person(name="Jo Ashdown", is_child=False, phone="07700 900123", postcode="LU1 9ZZ"),
        Person(name="Sam Ashdown", is_child=True, email="sam@example.org"),
        Person(name="Alfie Ashdown", is_child=True),
    )
    concern = SafeguardingConcern(case_id=7, concern=CONCERN_TEXT, raised_by="casey.coordinator")
    note = CaseEvent(case_id=7, actor="casey.coordinator", kind="case_note", summary=NOTE_TEXT)
    record = FamilyRecord(
        case_id=7,
        referral=referral,
        people=people,
        network=(),
        conference=None,
        plans=(plan,) if plan else (),
        current_plan=plan,
        reviews=reviews,
        packages=(),
        outcomes=(),
        closure=None,
        concerns=(concern,),
        notes=(note,),
    )
    return case, record


def a_plan() -> FamilyPlan:
    return FamilyPlan(
        case_id=7,
        version=2,
        agreed_on=date(2026, 4, 20),
        contingency_plan="If Nan is ill, Uncle Lee does the school run.",
        plan_monitor="Nan Ashdown",
        next_review_date=date(2026, 7, 14),
        status="accepted",
        actions=[
            PlanAction(
                what="Take Sam to school on Mondays",
                who="Nan Ashdown",
                by_when=date(2026, 5, 1),
                who_checks="Jo Ashdown",
            ),
            PlanAction(what="Cook tea on Fridays", who="Uncle Lee", by_when=None, who_checks=None),
        ],
    )


def render(app, plan: FamilyPlan | None, reviews: tuple[Review, ...] = ()) -> str:
    case, record = in_memory_record(plan, reviews)
    with app.test_request_context("/cases/7/plan/print"):
        return render_template(
            "cases/plan_print.html",
            case=case,
            record=record,
            plan=plan,
            names={"casey.coordinator": "Casey Coordinator"},
        )


def test_the_plan_reads_as_the_familys_own_document(app):
    html = render(app, a_plan())
    assert '<html lang="en-GB">' in html
    assert "Our family plan — the Ashdown family</h1>" in html
    assert "Monday 20 April 2026" in html  # the day it was agreed
    assert "Tuesday 14 July 2026" in html  # when we meet again
    assert "version 2 of the plan" in html
    for heading in (
        "What we will do",
        "If things go wrong",
        "Who keeps an eye on the plan",
        "When we meet again",
        "Who to contact",
    ):
        assert f">{heading}</h2>" in html
    for column in ("Who", "What", "By when", "Who checks"):
        assert f'<th scope="col">{column}</th>' in html
    assert "Take Sam to school on Mondays" in html and "Friday 1 May 2026" in html
    assert "Cook tea on Fridays" in html and "No date set" in html
    assert "If Nan is ill, Uncle Lee does the school run." in html
    assert "<strong>Nan Ashdown</strong> keeps an eye on the plan" in html
    assert "<li>Sam Ashdown</li>" in html and "<li>Alfie Ashdown</li>" in html
    assert "Casey Coordinator" in html
    assert "Riley Shaw" in html and "01632 960111" in html and "riley.shaw@example.org" in html
    assert "Print this plan" in html


def test_nothing_internal_or_private_reaches_the_printed_plan(app):
    html = render(app, a_plan())
    for private in (
        CONCERN_TEXT,
        NOTE_TEXT,
        WHY_NOW,
        "Stronger Families",  # screening and eligibility
        "07700 900123",  # the family's own contact details
        "LU1 9ZZ",
        "sam@example.org",
        "Jo Ashdown</li>",  # an adult is not listed among the children
    ):
        assert private not in html, private


def test_without_a_plan_the_page_says_so(app):
    html = render(app, None)
    assert "There is no plan yet" in html
    assert "What we will do" not in html


def test_after_the_planned_review_the_family_is_told_who_sets_the_next_date(app):
    held = Review(held_on=date(2026, 7, 14), another_review=True, progress=[])
    words = " ".join(render(app, a_plan(), reviews=(held,)).split())
    assert "We met to review the plan on Tuesday 14 July 2026" in words
    assert "Your coordinator will tell you the date of the next meeting" in words
    assert "Tuesday 14 July 2026</strong>" not in words  # the plan's date, now past
    last = Review(held_on=date(2026, 7, 14), another_review=False, progress=[])
    words = " ".join(render(app, a_plan(), reviews=(last,)).split())
    assert "agreed that no more review meetings are needed" in words


def test_a_plan_waiting_for_a_decision_or_being_changed_says_so(app):
    proposed, rejected = a_plan(), a_plan()
    proposed.status, rejected.status = "proposed", "rejected"
    assert "still has to confirm this plan" in render(app, proposed)
    assert "This plan is being changed." in render(app, rejected)
    assert "being changed" not in render(app, a_plan())


def test_the_plan_prints_on_a4_without_the_menu(app, client):
    html = render(app, a_plan())
    assert "/static/css/plan_print.css" in html
    css = (REPO / "webapp/static/css/plan_print.css").read_text()
    assert "@page { size: A4; margin: 15mm; }" in css
    assert "@media print" in css
    assert "break-inside: avoid" in css
    assert "11.5pt" in css
    assert 'class="plan-tools no-print"' in html  # the print button and back link
    assert client.get("/static/css/plan_print.css").status_code == 200


# --- through the app ----------------------------------------------------------------------


@pytest.fixture
def planned_case(app, workers, frozen_clock):
    """A Central FGC case just past its conference, with a concern and a case note."""
    with app.app_context():
        session = db.session()
        version = latest_version(session, "fgc_pathway")
        case = open_case(
            runtime(), session, version, "Ashdown", PLAN_ACCEPTANCE, team_id=team_id(app)
        )
        runtime().send_message(
            session,
            case.id,
            "safeguarding_concern",
            CONCERN | {"concern": CONCERN_TEXT},
            Actor.of("casey.coordinator", "coordinator"),
        )
        add_note(session, case.id, Actor.of("casey.coordinator", "coordinator"), NOTE_TEXT)
        return case.id


@pytest.mark.parametrize("username", ["riley.referrer", "casey.coordinator", "morgan.manager"])
def test_the_people_working_with_the_family_can_print_its_plan(client, planned_case, username):
    login(client, username)
    page = client.get(f"/cases/{planned_case}/plan/print")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Our family plan — the Ashdown family" in html
    assert CONFERENCE["actions"][0]["what"] in html
    assert CONFERENCE["contingency_plan"] in html
    assert "Monday 13 July 2026" in html  # the review date the conference set
    assert CONCERN_TEXT not in html and NOTE_TEXT not in html
    assert "07700 900123" not in html  # the mother's phone, from the referral


@pytest.mark.parametrize("username", ["cam.coordinator", "mel.manager", "dana.data"])
def test_someone_outside_the_case_cannot_print_its_plan(client, planned_case, username):
    login(client, username)
    assert client.get(f"/cases/{planned_case}/plan/print").status_code == 404


def test_printing_a_plan_is_audited(client, app, planned_case):
    login(client, "riley.referrer")
    client.get(f"/cases/{planned_case}/plan/print")
    with app.app_context():
        actions = db.session().scalars(
            select(AuditEntry.action).where(
                AuditEntry.case_id == planned_case, AuditEntry.username == "riley.referrer"
            )
        )
        assert "print_plan" in list(actions)


def test_a_case_before_its_conference_has_no_plan_to_print(client, app, workers, frozen_clock):
    with app.app_context():
        session = db.session()
        version = latest_version(session, "fgc_pathway")
        case_id = open_case(
            runtime(), session, version, "Birch", STAGES[2], team_id=team_id(app)
        ).id
    login(client, "casey.coordinator")
    page = client.get(f"/cases/{case_id}/plan/print")
    assert "no plan yet" in page.get_data(as_text=True)
    assert "What we will do" not in page.get_data(as_text=True)
