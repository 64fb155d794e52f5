"""The reports dashboard in a real browser: axe-core finds no serious or critical problems,
with figures, charts and empty tables on the page, and with a refused filter."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import screenshot, serious_accessibility_problems, sign_in
from tests.report_data import seed

# The seeded referrals' year, named so the page does not depend on the day the test runs.
PERIOD = "?from=2025-03-03&to=2026-03-02"


def test_the_dashboard_with_figures_and_charts_has_no_serious_accessibility_problems(app, page):
    seed(app)
    sign_in(page, "morgan.manager")
    page.goto("/reports" + PERIOD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    referrals = page.locator("#table-referrals")
    expect(referrals.get_by_role("img", name="Referrals")).to_be_visible()
    expect(referrals.get_by_role("row", name="Received 3")).to_be_visible()
    expect(page.locator(".report-chart")).not_to_have_count(0)
    problems = serious_accessibility_problems(page)
    assert problems == [], "\n".join(problems)
    screenshot(page, "reports-dashboard")


def test_the_dashboard_refusing_a_filter_has_no_serious_accessibility_problems(app, page):
    seed(app)
    sign_in(page, "dana.data")
    page.goto("/reports?from=2026-02-30&to=2026-01-01")
    expect(page.locator(".error-summary")).to_contain_text("From: Give a date")
    problems = serious_accessibility_problems(page)
    assert problems == [], "\n".join(problems)
