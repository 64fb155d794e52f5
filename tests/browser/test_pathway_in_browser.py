"""Issue 4's scenario in a real browser: a referrer refers a family, the FGC manager
acknowledges, screens and allocates, the coordinator holds the baseline meeting, and the case
page then tells the story and marks where the case waits.

Every step is clicked and typed as a worker would, with the answers of the pathway
walkthrough (tests/test_pathway_walkthrough.py), so the browser run and the engine run describe
the same family.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from engine.record.models import Person, Referral
from tests.browser.conftest import sign_in, sign_out
from tests.test_pathway_walkthrough import (
    ACCEPT,
    ACKNOWLEDGED,
    ALLOCATION,
    BASELINE,
    REFERRAL,
)

YES_NO = {True: "Yes", False: "No"}
GENDERS = {"female": "Female", "male": "Male"}


def choose(scope: Locator | Page, question: str, answer: str) -> None:
    """Tick the answer of a radio or checkbox group, found by its legend."""
    scope.get_by_role("group", name=question).get_by_label(answer, exact=True).check()


def fill_person(person: Locator, answers: dict) -> None:
    person.get_by_label("Full name").fill(answers["name"])
    person.get_by_label("Date of birth").fill(answers["date_of_birth"])
    choose(person, "Is this person a child?", YES_NO[answers["is_child"]])
    choose(person, "Gender", GENDERS[answers["gender"]])
    if "first_language" in answers:
        person.get_by_label("First language").fill(answers["first_language"])
    person.get_by_label("Relationship to the child").fill(answers["relationship_to_child"])
    choose(
        person,
        "Does this person have parental responsibility?",
        YES_NO[answers["parental_responsibility"]],
    )
    if "phone" in answers:
        person.get_by_label("Phone number").fill(answers["phone"])
    if "postcode" in answers:
        person.get_by_label("Postcode").fill(answers["postcode"])


def fill_referral(page: Page) -> None:
    page.get_by_label("Your name").fill(REFERRAL["referrer_name"])
    page.get_by_label("Your organisation or team").fill(REFERRAL["referrer_organisation"])
    page.get_by_label("Your phone number").fill(REFERRAL["referrer_phone"])
    page.get_by_label("Your email address").fill(REFERRAL["referrer_email"])
    page.get_by_label("Family name").fill(REFERRAL["family_name"])
    mother, child = REFERRAL["people"]
    fill_person(page.get_by_role("group", name="Person 1"), mother)
    # Adding a person goes to the server and back: what is typed must come back with it.
    page.get_by_role("button", name="Add another person").click()
    expect(page.get_by_role("group", name="Person 1").get_by_label("Full name")).to_have_value(
        mother["name"]
    )
    fill_person(page.get_by_role("group", name="Person 2"), child)

    choose(page, "What is the child's current status?", "Child in need")
    choose(page, "Type of referral", "Standard referral")
    choose(page, "How urgent is this referral?", "Routine")
    page.get_by_label("Why refer now?").fill(REFERRAL["why_now"])
    page.get_by_label("What needs to change?").fill(REFERRAL["what_needs_to_change"])
    problems = "Which of these problems does the family face?"
    choose(page, problems, "Children not attending school regularly")
    choose(page, problems, "Health problems")
    needs = "Which of these needs does the family have?"
    for need in (
        "Getting a good education",
        "Improved mental and physical health",
        "Improved family relationships",
    ):
        choose(page, needs, need)
    page.get_by_label("Does a person with parental responsibility agree").check()
    page.get_by_label("Who agreed to the referral?").fill(REFERRAL["consent_given_by"])


def complete(page: Page, title: str) -> None:
    page.get_by_role("button", name="Complete task", exact=True).click()
    expect(page.get_by_role("status").filter(has_text=f"Done: {title}.")).to_be_visible()


def open_from_inbox(page: Page, view: str, title: str, family: str) -> None:
    """Open a task from an inbox view, by the family its row names."""
    page.get_by_role("navigation", name="Task views").get_by_role("link", name=view).click()
    row = (
        page.get_by_role("row")
        .filter(has_text=family)
        .filter(has=page.get_by_role("link", name=title, exact=True))
    )
    row.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def refer(page: Page) -> int:
    sign_in(page, "riley.referrer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New referral").click()
    fill_referral(page)
    page.get_by_role("button", name="Send the referral", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Referral sent: ")).to_be_visible()
    case_id = int(re.search(r"/cases/(\d+)", page.url).group(1))
    sign_out(page)
    return case_id


def screen_and_allocate(page: Page) -> None:
    sign_in(page, "morgan.manager")
    open_from_inbox(page, "Available to me", "Acknowledge the referral", "Ashdown")
    page.get_by_label("When did you acknowledge the referral?").fill(
        ACKNOWLEDGED["acknowledged_on"]
    )
    page.get_by_label("Note").fill(ACKNOWLEDGED["note"])
    complete(page, "Acknowledge the referral")

    # The flash after completing links the manager's next task on the same case.
    page.get_by_role("status").get_by_role("link", name="Screen the referral").click()
    assert ACCEPT["screening_decision"] == "accept"
    choose(page, "What is your decision?", "Accept the referral")
    page.get_by_role("textbox", name="Screening notes").fill(ACCEPT["screening_note"])
    complete(page, "Screen the referral")

    page.get_by_role("status").get_by_role("link", name="Allocate a coordinator").click()
    page.get_by_label("Which coordinator will work with the family?").fill(
        ALLOCATION["coordinator"]
    )
    choose(page, "Has the family asked for a coordinator matched", "Language")
    page.get_by_label("The coordinator should contact the referrer by").fill(
        ALLOCATION["referrer_contact_by"]
    )
    complete(page, "Allocate a coordinator")
    sign_out(page)


def hold_baseline_meeting(page: Page) -> None:
    sign_in(page, "casey.coordinator")
    open_from_inbox(page, "My tasks", "Hold the baseline meeting", "Ashdown")
    page.get_by_label("When was the baseline meeting held?").fill(BASELINE["meeting_date"])
    page.get_by_label("Question for family 1").fill(BASELINE["questions_for_family"][0])
    page.get_by_label("Bottom line 1").fill(BASELINE["bottom_lines"][0])
    page.get_by_role("button", name="Add a resource offered").click()
    group = page.get_by_role("group", name="Support and resources on offer")
    group.get_by_role("textbox").first.fill(BASELINE["resources_offered"][0])
    complete(page, "Hold the baseline meeting")


def test_a_referral_is_sent_accepted_allocated_and_met_on_all_in_the_browser(app, page):
    case_id = refer(page)
    screen_and_allocate(page)
    hold_baseline_meeting(page)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases").click()
    page.get_by_role("link", name=re.compile("Ashdown")).first.click()
    assert page.url.endswith(f"/cases/{case_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ashdown family")

    chronology = page.locator("#chronology")
    for line in (
        "Referral from Riley Shaw (Children's Services) for the Ashdown family",
        "completed 'Acknowledge the referral'",
        "Referral accepted by",
        "allocated as coordinator by",
        "completed 'Hold the baseline meeting'",
        "'Whole-family assessment' is waiting",
    ):
        expect(chronology.get_by_text(line)).to_be_visible()

    diagram = page.locator(".case-diagram")
    expect(diagram).to_have_attribute("data-diagram-ready", "true")
    # The main process waits in its baseline-and-assessment stage...
    assert "baseline_and_assessment" in diagram.get_attribute("data-active").split()
    # ...and inside that stage, on the whole-family assessment.
    diagram.get_by_role("button", name="Baseline meeting and whole-family assessment").click()
    expect(diagram).to_have_attribute("data-process-id", "baseline_assessment")
    expect(diagram).to_have_attribute("data-diagram-ready", "true")
    expect(diagram).to_have_attribute("data-active", "whole_family_assessment")
    expect(diagram.locator(".kf-diagram-legend")).to_contain_text("Now: Whole-family assessment")
    marked = diagram.locator(
        'svg .djs-element.kf-active[data-element-id="whole_family_assessment"]'
    )
    expect(marked).to_have_count(1)
    done = diagram.locator('svg .djs-element.kf-completed[data-element-id="hold_baseline_meeting"]')
    expect(done).to_have_count(1)

    with app.app_context():
        from webapp.extensions import db

        session = db.session()
        referral = session.get(Referral, case_id)
        assert (referral.family_name, referral.referral_type, referral.urgency) == (
            "Ashdown",
            "standard",
            "routine",
        )
        assert referral.problems == ["school_attendance", "health"]
        assert (referral.screening_decision, referral.screened_by) == ("accept", "morgan.manager")
        assert referral.coordinator == "casey.coordinator"
        people = session.scalars(select(Person).where(Person.case_id == case_id)).all()
        assert sorted((p.name, p.is_child) for p in people) == [
            ("Jo Ashdown", False),
            ("Sam Ashdown", True),
        ]
