"""Issue 6's modeller scenario in Chromium: a process owner opens the pathway, adds a user task
in a lane, validates, sees the problem on the diagram, fixes it in the properties panel,
deploys, and a new case starts on the new version. Also: autosaved work survives a reload, a
closed tab and a second window, and every MIWG reference diagram opens in the modeller.

Shapes are placed through the modeller's own API (dragging from the palette is brittle in a
headless browser); everything else is clicked and typed as a process owner would.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine import authoring
from engine.compare import compare_files
from engine.deploy import latest_version
from engine.models import Case
from tests.browser.conftest import screenshot, serious_accessibility_problems, sign_in
from tests.people import REFERRER
from tests.test_miwg import DIAGRAMS, MIWG
from webapp.extensions import db, runtime

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "webapp" / "static" / "build" / "modeller.js"
WORKFLOWS = REPO / "workflows"
TASK = "check_kinship"


@pytest.fixture(autouse=True)
def built_bundle():
    if not BUNDLE.is_file():
        pytest.fail(f"{BUNDLE} is missing: run `make install` (npm ci, then npm run build)")


def open_pathway(page: Page) -> int:
    """Sign in as the process owner and open the deployed pathway as a draft; its id."""
    sign_in(page, "pat.owner")
    page.goto("/modeller")
    page.get_by_role("button", name="Open as a draft of FGC pathway version 1").click()
    page.wait_for_url(re.compile(r"/modeller/drafts/\d+$"))
    wait_until_open(page)
    return int(page.url.rsplit("/", 1)[1])


def wait_until_open(page: Page) -> None:
    page.evaluate("() => window.kinflowModeller.ready")
    expect(status(page)).to_have_text(re.compile(r"^Saved \d\d:\d\d"))


def status(page: Page):
    return page.locator("#kf-status")


def add_user_task(page: Page, element_id: str = TASK, name: str = "Check kinship") -> None:
    """A user task in the FGC Manager lane, below the pathway's own shapes."""
    page.evaluate(
        """([id, name]) => {
          const modeler = window.kinflowModeller.modeler;
          const lane = modeler.get('elementRegistry').get('fgc_pathway_lane_fgc_manager');
          const shape = modeler.get('elementFactory').createShape({ type: 'bpmn:UserTask' });
          const modeling = modeler.get('modeling');
          const task = modeling.createShape(
            shape, { x: lane.x + 400, y: lane.y + lane.height - 60 }, lane
          );
          modeling.updateProperties(task, { id, name });
        }""",
        [element_id, name],
    )


def has_element(page: Page, element_id: str) -> bool:
    return page.evaluate(
        "id => Boolean(window.kinflowModeller.modeler.get('elementRegistry').get(id))",
        element_id,
    )


def scroll_to(page: Page, element_id: str) -> None:
    page.evaluate(
        """id => {
          const modeler = window.kinflowModeller.modeler;
          modeler.get('canvas').scrollToElement(modeler.get('elementRegistry').get(id), 200);
        }""",
        element_id,
    )


def shape(page: Page, element_id: str = TASK):
    return page.locator(f'g.djs-element[data-element-id="{element_id}"]')


def saved_draft(app, draft_id: int) -> str:
    with app.app_context():
        return authoring.get_draft(db.session(), "pat.owner", draft_id).files["fgc_pathway.bpmn"]


def test_a_process_owner_adds_a_task_validates_fixes_it_and_deploys(app, page):
    draft_id = open_pathway(page)
    expect(page.locator(".bjs-powered-by")).to_be_visible()  # the bpmn.io watermark stays
    add_user_task(page)

    page.get_by_role("button", name="Validate").click()
    problem = page.locator("#kf-problem-list").get_by_role("button", name=re.compile(TASK))
    expect(problem).to_contain_text("has no form")
    expect(shape(page)).to_have_class(re.compile(r"\bkf-problem\b"))
    expect(page.locator(".djs-overlay .kf-problem-badge")).to_have_count(1)
    screenshot(page, "modeller-problem", full_page=False)

    problem.click()
    selected = page.evaluate(
        "() => window.kinflowModeller.modeler.get('selection').get().map(e => e.id)"
    )
    assert selected == [TASK]
    panel = page.locator("#kf-properties")
    expect(panel.locator(".bio-properties-panel-header-label")).to_have_text("Check kinship")
    panel.locator(
        '[data-group-id="group-CamundaPlatform__Form"] .bio-properties-panel-group-header'
    ).click()
    panel.get_by_label("Type").select_option(label="Embedded or External Task Forms")
    panel.get_by_label("Form key").fill("review")

    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#kf-problem-summary")).to_have_text(
        "No problems: this draft can be deployed."
    )
    expect(shape(page)).not_to_have_class(re.compile(r"\bkf-problem\b"))

    page.get_by_role("button", name="Deploy").click()
    expect(page.locator("#kf-deployed-list")).to_contain_text("FGC pathway: version 2 deployed.")
    expect(page.get_by_role("link", name="Compare with version 1")).to_be_visible()
    assert 'camunda:formKey="review"' in saved_draft(app, draft_id)

    with app.app_context():
        session = db.session()
        version = latest_version(session, "fgc_pathway")
        assert version.version == 2
        task = version.user_tasks["fgc_pathway"][TASK]
        assert (task["form_key"], task["role"]) == ("review", "fgc_manager")
        case = runtime().start_case(
            session, version, {"eligibility_rule": "stronger_families"}, REFERRER
        )
        assert session.get(Case, case.id).version_id == version.id

    page.get_by_role("link", name="Compare with version 1").click()
    expect(page.locator("#kf-compare-canvas")).to_have_attribute("data-diagram-ready", "true")
    expect(shape(page)).to_have_class(re.compile(r"\bkf-added\b"))
    expect(
        page.locator('[data-element-id="fgc_pathway_lane_fgc_manager"].kf-changed')
    ).to_have_count(1)
    screenshot(page, "modeller-compare", full_page=False)


def test_autosaved_work_survives_a_reload(app, page):
    draft_id = open_pathway(page)
    add_user_task(page)
    expect(status(page)).to_have_text(re.compile(r"^Saved \d\d:\d\d$"))
    assert f'id="{TASK}"' in saved_draft(app, draft_id)
    page.reload()
    wait_until_open(page)
    assert has_element(page, TASK)


def test_work_done_just_before_the_tab_closes_is_there_when_the_draft_is_reopened(app, page):
    draft_id = open_pathway(page)
    add_user_task(page)
    context = page.context
    page.close(run_before_unload=True)  # before the next autosave is due
    again = context.new_page()
    again.goto(f"/modeller/drafts/{draft_id}")
    again.evaluate("() => window.kinflowModeller.ready")
    assert has_element(again, TASK)
    expect(status(again)).to_have_text(re.compile(r"^Saved \d\d:\d\d$"))
    assert f'id="{TASK}"' in saved_draft(app, draft_id)


def test_work_the_server_never_received_is_restored_from_the_browser_and_saved(
    app, page, monkeypatch
):
    draft_id = open_pathway(page)
    page.route("**/modeller/drafts/*/save", lambda route: route.abort())
    # The page's last save on leaving is a keepalive request, which can outlive the page and
    # so escape its route; the server refuses saves too until the network is "back".
    monkeypatch.setitem(app.view_functions, "modeller.save", lambda **_: ("", 503))
    add_user_task(page)
    expect(status(page)).to_contain_text("Not saved: Kinflow could not be reached")
    context = page.context
    page.close(run_before_unload=True)
    assert f'id="{TASK}"' not in saved_draft(app, draft_id)
    monkeypatch.undo()

    again = context.new_page()
    again.goto(f"/modeller/drafts/{draft_id}")
    again.evaluate("() => window.kinflowModeller.ready")
    assert has_element(again, TASK)
    expect(status(again)).to_have_text(re.compile(r"^Saved \d\d:\d\d$"))
    assert f'id="{TASK}"' in saved_draft(app, draft_id)


def test_a_second_window_is_told_and_overwrites_nothing(app, page):
    draft_id = open_pathway(page)
    other = page.context.new_page()
    other.goto(f"/modeller/drafts/{draft_id}")
    wait_until_open(other)

    add_user_task(page)
    expect(status(page)).to_have_text(re.compile(r"^Saved"))
    add_user_task(other, "other_task", "Other task")
    expect(status(other)).to_contain_text("Not saved: This draft was saved from another window")
    saved = saved_draft(app, draft_id)
    assert f'id="{TASK}"' in saved and 'id="other_task"' not in saved


def test_the_modeller_pages_have_no_serious_accessibility_problems(app, page):
    open_pathway(page)
    add_user_task(page)
    scroll_to(page, TASK)  # as a user would: the palette covers the canvas's left edge
    shape(page).click()
    expect(page.locator(".bio-properties-panel-header-label")).to_have_text("Check kinship")
    assert serious_accessibility_problems(page) == []
    page.goto("/modeller")
    assert serious_accessibility_problems(page) == []
    with app.app_context():
        version_id = latest_version(db.session(), "fgc_pathway").id
    page.goto(f"/modeller/compare?from={version_id}&to={version_id}")
    expect(page.locator("#kf-compare-canvas")).to_have_attribute("data-diagram-ready", "true")
    assert serious_accessibility_problems(page) == []


def test_camunda_dialect_diagrams_round_trip_through_the_modeller_unchanged_in_meaning(page):
    """The shipped workflows are Camunda Modeler files: opened and written out again by the
    modeller, every element keeps its type, name, attributes, connections and settings."""
    open_pathway(page)
    originals = {path.name: path.read_text(encoding="utf-8") for path in WORKFLOWS.glob("*.bpmn")}
    exported = page.evaluate(
        """async (diagrams) => {
          const modeler = window.kinflowModeller.modeler;
          const out = {};
          for (const [name, xml] of Object.entries(diagrams)) {
            await modeler.importXML(xml);
            out[name] = (await modeler.saveXML({ format: true })).xml;
          }
          return out;
        }""",
        originals,
    )
    for name, xml in originals.items():
        result = compare_files({name: xml}, {name: exported[name]})
        assert result.same, (name, result)


@pytest.mark.skipif(not DIAGRAMS, reason=f"MIWG reference diagrams not found in {MIWG}")
def test_every_miwg_diagram_opens_in_the_modeller(page):
    open_pathway(page)
    results = page.evaluate(
        """async (diagrams) => {
          const modeler = window.kinflowModeller.modeler;
          const results = [];
          for (const [name, xml] of diagrams) {
            try {
              const { warnings } = await modeler.importXML(xml);
              results.push({ name, warnings: warnings.length, error: null });
            } catch (error) {
              results.push({ name, warnings: (error.warnings || []).length, error: error.message });
            }
          }
          return results;
        }""",
        [[path.name, path.read_text(encoding="utf-8")] for path in DIAGRAMS],
    )
    for result in results:
        print(f"{result['name']}: {result['warnings']} import warning(s)")
    assert [r["name"] for r in results] == [p.name for p in DIAGRAMS]
    assert [(r["name"], r["error"]) for r in results if r["error"]] == []
