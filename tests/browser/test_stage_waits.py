"""The "where cases wait" heat map in a real browser: the pathway diagram is drawn with each
stage shaded by its median days and a badge saying them, and axe-core finds no serious or
critical problems on the page. The figures are tests/test_stage_waits_page.py's, by hand."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import screenshot, serious_accessibility_problems, sign_in
from tests.test_stage_waits_page import MARCH, stays


def test_the_heat_map_shades_the_stages_on_the_pathway_diagram(app, page):
    stays(app)
    sign_in(page, "morgan.manager")
    page.goto(f"/reports/waits?{MARCH}")
    diagram = page.locator(".waits-diagram")
    expect(diagram).to_have_attribute("data-diagram-ready", "true")
    expect(diagram).to_have_attribute("data-heat", "network_preparation:5 screening:2")

    # Network preparation (6.0 days) is the slowest: the darkest shade, a white label.
    network = page.locator('.djs-element[data-element-id="network_preparation"]')
    expect(network).to_have_class(re.compile(r"\bkf-heat-5\b"))
    fill = network.locator(".djs-visual > :first-child").evaluate(
        "shape => getComputedStyle(shape).fill"
    )
    assert fill == "rgb(127, 39, 4)"
    screening = page.locator('.djs-element[data-element-id="screening"]')
    expect(screening).to_have_class(re.compile(r"\bkf-heat-2\b"))

    # Every stage has a badge with its days (so colour is not the only signal), and the
    # caption under the drawing says the same in words.
    expect(page.locator('.kf-heat-badge[data-element-id="screening"]')).to_have_text("2.0 days")
    expect(page.locator('.kf-heat-badge[data-element-id="baseline_and_assessment"]')).to_have_text(
        "no data"
    )
    stages = page.locator(".kf-diagram-legend li")
    expect(stages.nth(0)).to_have_text("Referral and eligibility: no stay ended in the period")
    expect(stages.nth(1)).to_have_text("Screening and allocation: median 2.0 days")
    expect(stages.nth(2)).to_have_text(
        "Baseline meeting and whole-family assessment: no stay ended in the period; "
        "1 case there now"
    )
    screenshot(page, "where-cases-wait")

    problems = serious_accessibility_problems(page)
    assert problems == [], "\n".join(problems)
