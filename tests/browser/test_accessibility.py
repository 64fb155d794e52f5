"""Accessibility in a real browser: axe-core finds no serious or critical problems on the pages
workers use every day, and the keyboard reaches the skip link, the menu and a visible focus.

Families are put in their stages with the engine (the walkthrough's helpers and data), so each
page has real content to check: tasks in the inbox, cards in several board columns, a case
with its family plan.
"""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import update

from engine import clock
from engine.models import HumanTask
from engine.queries import list_tasks
from tests.browser.conftest import serious_accessibility_problems, sign_in
from tests.web import family_at
from webapp.extensions import db


def with_a_plan(app) -> int:
    """The Ashdown family through its conference: the plan is written, awaiting review."""
    return family_at(app, "Ashdown", "review_family_plan")


def make_overdue(app, case_id: int, days: int = 3) -> None:
    """Move the case's open tasks' due dates into the past (display data only)."""
    with app.app_context():
        session = db.session()
        session.execute(
            update(HumanTask)
            .where(HumanTask.case_id == case_id, HumanTask.state == "ready")
            .values(due_at=clock.now() - timedelta(days=days))
        )
        session.commit()


def open_task_id(app, case_id: int, element_id: str) -> int:
    with app.app_context():
        tasks = {t.element_id: t.id for t in list_tasks(db.session(), case_id=case_id)}
    return tasks[element_id]


def a_busy_team(app) -> dict[str, int]:
    """Families in four stages, one of them overdue, all in the Central FGC team."""
    cases = {
        "Bell": family_at(app, "Bell", "screen_referral"),
        "Chen": family_at(app, "Chen", "hold_baseline_meeting"),
        "Dhillon": family_at(app, "Dhillon", "whole_family_assessment", "cam.coordinator"),
        "Evans": family_at(app, "Evans", "prepare_network"),
    }
    make_overdue(app, cases["Chen"])
    return cases


def assert_accessible(page: Page) -> None:
    problems = serious_accessibility_problems(page)
    assert problems == [], "\n".join(problems)


def test_the_inbox_with_tasks_has_no_serious_accessibility_problems(app, page):
    a_busy_team(app)
    sign_in(page, "morgan.manager")
    page.goto("/tasks?scope=team")
    expect(page.get_by_role("link", name="Hold the baseline meeting")).to_be_visible()
    expect(page.locator(".tag-overdue").first).to_have_text("Overdue")
    assert_accessible(page)


def test_the_screening_form_has_no_serious_accessibility_problems(app, page):
    task_id = open_task_id(app, family_at(app, "Bell", "screen_referral"), "screen_referral")
    sign_in(page, "morgan.manager")
    page.goto(f"/tasks/{task_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Screen the referral")
    assert_accessible(page)
    # Refused for a missing reason: the error summary and the messages beside the fields.
    page.get_by_label("Decline the referral").check()
    page.get_by_role("button", name="Complete task", exact=True).click()
    expect(page.locator(".error-summary")).to_be_focused()
    assert_accessible(page)


def test_the_board_with_cases_in_several_columns_has_no_serious_accessibility_problems(app, page):
    a_busy_team(app)
    sign_in(page, "morgan.manager")
    page.goto("/board")
    filled = page.locator(".board-column").filter(has=page.locator(".card"))
    expect(filled).to_have_count(3)  # screening, baseline and assessment, network
    expect(page.locator(".card-overdue")).to_have_count(1)
    assert_accessible(page)


def test_the_case_page_with_a_plan_and_its_diagram_has_no_serious_accessibility_problems(app, page):
    case_id = with_a_plan(app)
    sign_in(page, "casey.coordinator")
    page.goto(f"/cases/{case_id}")
    expect(page.locator("#plan")).to_contain_text("Nan takes Sam to school")
    expect(page.locator(".case-diagram")).to_have_attribute("data-diagram-ready", "true")
    assert_accessible(page)


def test_the_printed_plan_has_no_serious_accessibility_problems(app, page):
    case_id = with_a_plan(app)
    sign_in(page, "casey.coordinator")
    page.goto(f"/cases/{case_id}/plan/print")
    expect(page.get_by_role("heading", level=1)).to_contain_text("the Ashdown family")
    assert_accessible(page)
    page.emulate_media(media="print")
    assert_accessible(page)


def test_the_referral_form_has_no_serious_accessibility_problems_even_when_refused(page):
    sign_in(page, "riley.referrer")
    page.goto("/referrals/new")
    assert_accessible(page)
    page.get_by_role("button", name="Send the referral", exact=True).click()
    expect(page.locator(".error-summary")).to_be_focused()
    assert_accessible(page)


def focused(page: Page) -> dict:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {text: el.innerText.trim(), href: el.getAttribute('href'),
                    inMainNav: !!el.closest('nav[aria-label="Main"]'),
                    outline: style.outlineStyle, outlineWidth: style.outlineWidth,
                    left: el.getBoundingClientRect().left};
        }"""
    )


def test_the_keyboard_reaches_the_skip_link_then_the_menu_with_a_visible_focus(page):
    sign_in(page, "morgan.manager")
    page.goto("/tasks")
    page.keyboard.press("Tab")
    skip = focused(page)
    assert skip["text"] == "Skip to main content"
    assert skip["left"] >= 0, "the skip link stays off screen when focused"
    assert skip["outline"] != "none"

    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Kinflow"  # the home link, then the menu
    menu = []
    for _ in range(7):
        page.keyboard.press("Tab")
        link = focused(page)
        assert link["inMainNav"], link
        assert link["outline"] != "none" and link["outlineWidth"] != "0px", link
        menu.append(link["text"])
    assert menu == [
        "Tasks",
        "Cases",
        "New referral",
        "Conference board",
        "Audit log",
        "Reports",
        "API tokens",
    ]
    page.keyboard.press("Tab")
    assert focused(page)["text"].startswith("Notifications")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Sign out"

    # The skip link takes keyboard users past the menu, into the page.
    page.reload()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    assert not focused(page)["inMainNav"]
