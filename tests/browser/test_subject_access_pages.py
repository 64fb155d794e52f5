"""The subject access review, its release and the retention page in a real browser: axe-core
finds no serious or critical problems, and marking a passage works without JavaScript."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import serious_accessibility_problems, sign_in
from tests.web import family_at


def test_the_review_and_the_release_have_no_serious_accessibility_problems(app, page):
    case_id = family_at(app, "Ashdown", "review_family_plan")
    sign_in(page, "morgan.manager")
    page.goto(f"/cases/{case_id}/subject-access")
    expect(page.get_by_role("heading", level=1)).to_contain_text("the Ashdown family")
    assert serious_accessibility_problems(page) == []
    referral = page.locator("#p-referral")
    referral.locator("summary").first.click()
    referral.get_by_label("Reason for withholding this whole entry").fill("Third party")
    referral.get_by_role("button", name="Mark").first.click()
    expect(page.locator("#p-referral")).to_contain_text("Marked to withhold: Third party")
    page.goto(f"/cases/{case_id}/subject-access?release=1")
    expect(page.locator("#p-referral")).to_contain_text("[Redacted: Third party]")
    assert serious_accessibility_problems(page) == []
    page.emulate_media(media="print")
    assert serious_accessibility_problems(page) == []


def test_the_retention_page_has_no_serious_accessibility_problems(app, page):
    sign_in(page, "dana.data")
    page.goto("/retention")
    expect(page.get_by_role("heading", level=1)).to_have_text("Retention")
    assert serious_accessibility_problems(page) == []
