"""The form editor in a real browser: typing updates the worker's preview and the checks, and
the text is saved while typing, so a reload finds it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import screenshot, serious_accessibility_problems, sign_in


def open_referral_form(page, check_list: bool = False) -> None:
    sign_in(page, "pat.owner")
    page.goto("/forms")
    if check_list:
        assert serious_accessibility_problems(page) == []
        screenshot(page, "form-list")
    page.get_by_role("button", name="Edit referral", exact=True).click()
    page.wait_for_url("**/forms/drafts/*/referral")


def test_typing_updates_the_preview_and_is_saved(app, page):
    open_referral_form(page, check_list=True)
    schema = page.get_by_label("JSON Schema and UI hints of forms/referral.json")
    preview = page.locator("#form-preview")
    expect(preview.get_by_label("Your name", exact=False).first).to_be_visible()

    schema.fill(schema.input_value().replace('"Your name"', '"Your full name"'))
    expect(preview.get_by_text("Your full name")).to_be_visible()
    expect(page.locator("#schema-check")).to_contain_text("No problems")
    expect(page.locator("#save-status")).to_contain_text("Saved at")
    assert serious_accessibility_problems(page) == []
    screenshot(page, "form-editor")

    page.reload()
    expect(schema).to_have_value(re.compile('"title": "Your full name"'))


def test_broken_json_is_pointed_out_and_the_last_preview_kept(app, page):
    open_referral_form(page)
    schema = page.get_by_label("JSON Schema and UI hints of forms/referral.json")
    schema.fill('{\n  "type": "object",\n  "properties": {}\n  oops\n}')
    check = page.locator("#schema-check")
    expect(check).to_contain_text("Line 4, column 3: not valid JSON")
    expect(page.locator("#form-preview")).to_have_attribute("data-stale", "true")
    expect(schema).to_have_attribute("aria-invalid", "true")
    check.get_by_role("button", name="Go to line 4").click()
    expect(schema).to_be_focused()


def test_the_drafts_page_validates_and_has_no_serious_accessibility_problems(app, page):
    open_referral_form(page)
    page.get_by_role("link", name="Forms of").click()
    page.get_by_role("button", name="Validate draft").click()
    expect(page.get_by_text("No problems: this draft can be deployed.")).to_be_visible()
    assert serious_accessibility_problems(page) == []
    screenshot(page, "form-draft")
