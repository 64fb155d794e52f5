"""A task form in a real browser: drafts saved while typing survive a reload; no serious
accessibility problems; the screenshot the README shows."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import screenshot, serious_accessibility_problems, sign_in
from tests.test_task_page import at_assessment, referred, task_of


def test_a_draft_typed_in_the_browser_survives_a_reload(app, page):
    task_id = task_of(app, referred(app), "screen_referral")
    sign_in(page, "morgan.manager")
    page.goto(f"/tasks/{task_id}")
    notes = page.get_by_role("textbox", name="Screening notes")
    notes.fill("The school confirms the absences; the family agrees to a conference.")
    expect(page.get_by_role("status").filter(has_text="Draft saved at")).to_be_visible()

    page.reload()
    expect(page.get_by_role("textbox", name="Screening notes")).to_have_value(
        "The school confirms the absences; the family agrees to a conference."
    )
    expect(
        page.get_by_text(re.compile(r"Restored your draft saved at \d\d:\d\d on"))
    ).to_be_visible()


def test_a_refused_form_moves_focus_to_the_list_of_problems(app, page):
    task_id = task_of(app, referred(app), "screen_referral")
    sign_in(page, "morgan.manager")
    page.goto(f"/tasks/{task_id}")
    page.get_by_label("Decline the referral").check()
    page.get_by_role("button", name="Complete task", exact=True).last.click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("The family does not meet the eligibility criteria")).to_be_visible()


def test_the_task_form_has_no_serious_accessibility_problems(app, page):
    task_id = task_of(app, at_assessment(app), "whole_family_assessment")
    sign_in(page, "lee.practitioner")
    page.goto(f"/tasks/{task_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Whole-family assessment")
    page.get_by_role("textbox", name="What does this person need?").first.fill(
        "Support at home while she recovers from an operation."
    )
    expect(page.get_by_role("status").filter(has_text="Draft saved at")).to_be_visible()
    assert serious_accessibility_problems(page) == []
    screenshot(page, "task-form")


def test_a_draft_that_could_not_be_sent_is_kept_in_the_browser_and_offered_back(app, page):
    task_id = task_of(app, referred(app), "screen_referral")
    sign_in(page, "morgan.manager")
    page.goto(f"/tasks/{task_id}")
    notes = page.get_by_role("textbox", name="Screening notes")
    key = f"kinflow-draft:morgan.manager:{task_id}"

    page.context.set_offline(True)
    notes.fill("Typed on the train")
    status = page.get_by_role("status").filter(has_text="Draft not saved")
    expect(status).to_have_text(re.compile("Draft not saved — check your connection"))
    kept = page.evaluate("key => JSON.parse(localStorage.getItem(key)).fields", key)
    assert ["screening_note", "Typed on the train"] in kept

    page.context.set_offline(False)
    notes.fill("Typed on the train, then back online")
    expect(page.get_by_role("status").filter(has_text="Draft saved at")).to_be_visible()
    assert page.evaluate("key => localStorage.getItem(key)", key) is None

    # A copy newer than the server's draft (the browser closed while offline) is offered.
    copy = {"saved": 32503680000000, "fields": [["screening_note", "Only in this browser"]]}
    page.evaluate("([key, copy]) => localStorage.setItem(key, JSON.stringify(copy))", [key, copy])
    page.reload()
    page.get_by_role("button", name="Restore that copy").click()
    expect(page.get_by_role("textbox", name="Screening notes")).to_have_value(
        "Only in this browser"
    )
    assert page.evaluate("key => localStorage.getItem(key)", key) is None


def test_typing_after_the_session_ended_is_kept_and_offered_after_signing_in(app, page):
    task_id = task_of(app, referred(app), "screen_referral")
    sign_in(page, "morgan.manager")
    page.goto(f"/tasks/{task_id}")
    # A response still arriving (the site icon, fetched after "load") would set the
    # session cookie again: every answer to a signed-in browser renews it.
    page.wait_for_load_state("networkidle")
    page.context.clear_cookies()  # as when the session times out
    page.get_by_role("textbox", name="Screening notes").fill("Typed after the timeout")
    expect(page.get_by_role("status")).to_have_text(
        re.compile("Draft not saved — you may have been signed out")
    )

    sign_in(page, "morgan.manager")
    page.goto(f"/tasks/{task_id}")
    page.get_by_role("button", name="Restore that copy").click()
    expect(page.get_by_role("textbox", name="Screening notes")).to_have_value(
        "Typed after the timeout"
    )
    expect(page.get_by_text(re.compile(r"Restored your draft saved at"))).to_be_visible()
