"""The Retention page's delete form in a real browser: axe-core finds no serious or critical
problems with it, and a data officer deletes old drafts by typing their number."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from engine import clock
from tests.browser.conftest import serious_accessibility_problems, sign_in
from tests.test_retention_purge import add_rows
from webapp.extensions import db


def test_a_data_officer_deletes_old_drafts_from_the_page(app, page):
    # The server runs on the real clock: two drafts a year old (past 90 days), one from today.
    now = clock.now()
    saved = [(now - timedelta(days=d)).strftime("%Y-%m-%d %H:%M") for d in (365, 200, 0)]
    with app.app_context():
        add_rows(db.session(), "drafts", *saved)
    sign_in(page, "dana.data")
    page.goto("/retention")
    assert serious_accessibility_problems(page) == []
    page.get_by_label("Type 2 to confirm").fill("2")
    page.get_by_role("button", name="Delete 2 form drafts").click()
    expect(page.get_by_role("status")).to_contain_text("2 form drafts deleted (last saved before")
    expect(page.locator("section[aria-labelledby=type-dated]")).to_contain_text(
        "None past retention today."
    )
