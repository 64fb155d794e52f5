"""The README's pictures: the inbox, the board, a case page and a printed family plan, taken
in a real browser over the demo service that ``make run`` shows (engine/demo.py: fictional
families driven through the engine on a clock set in the past, so due dates, overdue tasks and
chronologies are real).

``make screenshots`` writes them to docs/screenshots; otherwise they are test artifacts. The
task form's picture comes from tests/browser/test_task_form.py.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import exists, select

from engine.demo import DEMO_PASSWORD, seed_demo
from engine.models import Case, CaseStatus, HumanTask
from engine.record.models import FamilyPlan, SupportPackage
from tests.browser.conftest import screenshot, sign_in
from webapp.extensions import db, runtime

MANAGER = "mira.hale"  # the demo team's FGC manager
SUPPORT_STAGE = "Family network support package"
A4 = {"width": 794, "height": 1123}  # CSS pixels at 96 dpi


def demo_service(app) -> int | None:
    """Seed the demo families; returns a case well along the pathway, to show its page."""
    with app.app_context():
        session = db.session()
        seed_demo(
            session,
            runtime(),
            Path(app.config["KINFLOW_WORKFLOWS_DIR"]),
            Path(app.config["KINFLOW_FORMS_DIR"]),
        )

        def has(model) -> object:
            return exists().where(model.case_id == Case.id)

        # A family in the support stage with a package asked for: its page then has people,
        # a network, a plan, support and an open task.
        return session.scalar(
            select(Case.id)
            .where(Case.status == CaseStatus.ACTIVE, Case.stage == SUPPORT_STAGE)
            .where(has(FamilyPlan), has(SupportPackage))
            .where(exists().where(HumanTask.case_id == Case.id, HumanTask.state == "ready"))
            .order_by(Case.id)
            .limit(1)
        )


def opened(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.ok, f"{path}: {response and response.status}"


def test_the_readme_screenshots_show_the_demo_service(app, page):
    case_id = demo_service(app)
    assert case_id is not None, "no demo family has a plan and support waiting to be paid"
    sign_in(page, MANAGER, DEMO_PASSWORD)

    # The top of the team's list: overdue, due-soon and urgent tasks first.
    page.set_viewport_size({"width": 1280, "height": 1100})
    opened(page, "/tasks?scope=team")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tasks")
    expect(page.locator("tbody .tag-overdue").first).to_be_visible()
    screenshot(page, "inbox", full_page=False)

    # As wide as the page's content gets (main is at most 1400px); the board scrolls sideways.
    page.set_viewport_size({"width": 1440, "height": 1000})
    opened(page, "/board")
    expect(page.get_by_role("heading", level=1)).to_have_text("Conference board")
    expect(page.locator(".card-overdue").first).to_be_visible()
    screenshot(page, "board")

    # The case page is long: the picture shows its summary, people, network, plan and support.
    page.set_viewport_size({"width": 1280, "height": 3300})
    opened(page, f"/cases/{case_id}")
    expect(page.locator("#plan")).to_contain_text("Who checks")
    expect(page.locator(".case-diagram")).to_have_attribute("data-diagram-ready", "true")
    screenshot(page, "case-page", full_page=False)

    # Page one of the plan as it prints on A4. A screenshot has no paper, so the stylesheet's
    # @page margin (15 mm) is drawn as padding.
    page.set_viewport_size(A4)
    page.emulate_media(media="print")
    opened(page, f"/cases/{case_id}/plan/print")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Our family plan")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.get_by_role("link", name="Back to the case")).to_be_hidden()
    page.add_style_tag(content="@media print { body { padding: 15mm; margin: 0; } }")
    screenshot(page, "printed-plan", full_page=False)
