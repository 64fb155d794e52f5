"""The Supporting Families claims page in a real browser: axe-core finds no serious or
critical problems, with claimable families' evidence and the reasons others fail."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import serious_accessibility_problems, sign_in
from tests.claims_data import seed_families


def test_the_claims_page_has_no_serious_accessibility_problems(app, page):
    families = seed_families(app)
    sign_in(page, "dana.data")
    page.goto("/reports/claims?from=2026-07-01&to=2026-07-31")
    expect(page.get_by_role("heading", level=1)).to_have_text("Supporting Families claims")
    northcott = page.get_by_role(
        "table", name=f"Evidence for each need, case {families['Northcott']}"
    )
    expect(northcott.get_by_role("row", name="Secure housing")).to_be_visible()
    expect(page.get_by_role("heading", name="Not claimable (1)")).to_be_visible()
    problems = serious_accessibility_problems(page)
    assert problems == [], "\n".join(problems)
