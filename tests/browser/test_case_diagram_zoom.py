"""Zoom and move on the case diagram (webapp/static/js/diagram-zoom.js) in a real browser: the
buttons above the drawing make it larger and smaller by a step of 1.5, fit it again as it was
first shown, move the view to the parts of the pathway out of sight, work from the keyboard
with a visible focus, survive switching the process shown, and keep the "where cases wait"
report's badges beside their stages. The case is the walkthrough's Ashdown family, waiting
for its whole-family assessment, so it has entered four processes."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import serious_accessibility_problems, sign_in
from tests.test_stage_waits_page import MARCH, stays
from tests.web import family_at

STEP = 1.5  # the size changes by this factor at each press of Zoom in or Zoom out
MOVES = ("Left", "Right", "Up", "Down")


def case_page(app, page: Page) -> Locator:
    case_id = family_at(app, "Ashdown", "whole_family_assessment")
    sign_in(page, "casey.coordinator")
    page.goto(f"/cases/{case_id}")
    diagram = page.locator(".case-diagram")
    expect(diagram).to_have_attribute("data-diagram-ready", "true")
    return diagram


def drawn(page: Page, element_id: str) -> dict:
    """Where the element's shape is on the screen (its outline, not its hover area)."""
    shape = f'.djs-element[data-element-id="{element_id}"] > .djs-visual > :first-child'
    return page.locator(shape).bounding_box()


def in_view(diagram: Locator, element_id: str) -> bool:
    """Whether the element's shape is wholly inside the drawing's frame (measured together,
    so scrolling the page between two measures cannot mislead)."""
    return diagram.evaluate(
        """(diagram, id) => {
          const frame = diagram.querySelector('.kf-diagram-canvas').getBoundingClientRect();
          const box = diagram.querySelector(
            `.djs-element[data-element-id="${id}"] > .djs-visual > :first-child`
          ).getBoundingClientRect();
          return box.left >= frame.left && box.right <= frame.right
            && box.top >= frame.top && box.bottom <= frame.bottom;
        }""",
        element_id,
    )


def scale(diagram: Locator) -> float:
    """The viewer's zoom: the scale of the group holding the drawing (1 = the diagram's size)."""
    return diagram.locator("svg .viewport").evaluate(
        "group => group.transform.baseVal.consolidate().matrix.a"
    )


def expect_nothing_to_move_to(diagram: Locator) -> None:
    for name in MOVES:
        expect(diagram.get_by_role("button", name=name)).to_have_attribute("aria-disabled", "true")


def test_zoom_in_and_out_change_the_drawing_size_and_fit_restores_it(app, page):
    diagram = case_page(app, page)
    fitted = drawn(page, "screening")["width"]
    expect_nothing_to_move_to(diagram)  # fitted, the whole pathway is in view

    diagram.get_by_role("button", name="Zoom in").click()
    assert drawn(page, "screening")["width"] == pytest.approx(fitted * STEP, rel=0.01)
    diagram.get_by_role("button", name="Zoom in").click()
    assert drawn(page, "screening")["width"] == pytest.approx(fitted * STEP * STEP, rel=0.01)
    # Zoomed in around the middle, the pathway now runs off both sides of the view.
    expect(diagram.get_by_role("button", name="Left")).to_have_attribute("aria-disabled", "false")
    expect(diagram.get_by_role("button", name="Right")).to_have_attribute("aria-disabled", "false")
    problems = serious_accessibility_problems(page)
    assert problems == [], "\n".join(problems)

    diagram.get_by_role("button", name="Zoom out").click()
    assert drawn(page, "screening")["width"] == pytest.approx(fitted * STEP, rel=0.01)
    diagram.get_by_role("button", name="Whole diagram").click()
    assert drawn(page, "screening")["width"] == pytest.approx(fitted, rel=0.01)
    expect_nothing_to_move_to(diagram)


def test_zoom_in_stops_at_four_times_the_diagrams_size(app, page):
    diagram = case_page(app, page)
    zoom_in = diagram.get_by_role("button", name="Zoom in")
    # The pathway is fitted below its own size (scale at most 1), so seven steps of 1.5 (17
    # times larger) pass the limit of 4 times the diagram's size.
    assert scale(diagram) <= 1
    for _ in range(7):
        zoom_in.click()
    assert scale(diagram) == pytest.approx(4)
    expect(zoom_in).to_have_attribute("aria-disabled", "true")
    zoom_in.focus()  # said to be disabled, yet still focusable: pressing it changes nothing
    page.keyboard.press("Enter")
    assert scale(diagram) == pytest.approx(4)
    expect(diagram.get_by_role("button", name="Zoom out")).to_have_attribute(
        "aria-disabled", "false"
    )


def test_moving_right_and_down_brings_the_end_of_the_pathway_into_view(app, page):
    diagram = case_page(app, page)
    # The last step of the pathway (the twelve-month follow-up's end) sits in the bottom right
    # corner: in view when fitted, out of it when zoomed in around the middle.
    assert in_view(diagram, "followed_up")
    diagram.get_by_role("button", name="Zoom in").click()
    diagram.get_by_role("button", name="Zoom in").click()
    assert not in_view(diagram, "followed_up")

    # From the keyboard: each press shows more until the edge of the diagram is reached.
    for name in ("Right", "Down"):
        button = diagram.get_by_role("button", name=name)
        button.focus()
        for _ in range(10):
            if button.get_attribute("aria-disabled") == "true":
                break
            page.keyboard.press("Enter")
        expect(button).to_have_attribute("aria-disabled", "true")
        expect(button).to_be_focused()  # a button with nothing left to do keeps the focus
    assert in_view(diagram, "followed_up")
    assert not in_view(diagram, "fgc_started")  # the start is now out of sight
    expect(diagram.get_by_role("button", name="Left")).to_have_attribute("aria-disabled", "false")


def test_the_drawing_is_dragged_with_the_mouse_and_the_wheel_scrolls_the_page(app, page):
    diagram = case_page(app, page)
    diagram.get_by_role("button", name="Zoom in").click()
    frame = diagram.locator(".kf-diagram-canvas").bounding_box()
    before = drawn(page, "screening")
    middle = (frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2)
    page.mouse.move(*middle)
    page.mouse.down()
    page.mouse.move(middle[0] + 150, middle[1] + 40, steps=5)
    page.mouse.up()
    after = drawn(page, "screening")
    assert (after["x"] - before["x"], after["y"] - before["y"]) == (
        pytest.approx(150, abs=1),
        pytest.approx(40, abs=1),
    )

    # Over the drawing the wheel scrolls the page, as everywhere else, and leaves the drawing.
    zoom = scale(diagram)
    scrolled = page.evaluate("() => window.scrollY")
    page.mouse.wheel(0, 200)
    page.wait_for_function(f"() => window.scrollY > {scrolled}")
    assert scale(diagram) == zoom


def test_the_buttons_are_reached_and_pressed_with_the_keyboard_with_a_visible_focus(app, page):
    diagram = case_page(app, page)
    fitted = drawn(page, "screening")["width"]
    # The last button choosing the process shown; the zoom buttons come next in tab order.
    diagram.get_by_role("button", name="Baseline meeting and whole-family assessment").focus()
    page.keyboard.press("Tab")
    zoom_in = diagram.get_by_role("button", name="Zoom in")
    expect(zoom_in).to_be_focused()
    outline = zoom_in.evaluate(
        "button => [getComputedStyle(button).outlineStyle, getComputedStyle(button).outlineWidth]"
    )
    assert outline == ["solid", "3px"]
    page.keyboard.press("Enter")
    assert drawn(page, "screening")["width"] == pytest.approx(fitted * STEP, rel=0.01)
    page.keyboard.press("Tab")
    expect(diagram.get_by_role("button", name="Zoom out")).to_be_focused()
    page.keyboard.press("Space")
    assert drawn(page, "screening")["width"] == pytest.approx(fitted, rel=0.01)
    page.keyboard.press("Shift+Tab")
    expect(zoom_in).to_be_focused()


def test_another_process_starts_fitted_and_zooms_and_the_first_comes_back_fitted(app, page):
    diagram = case_page(app, page)
    fitted = drawn(page, "screening")["width"]
    diagram.get_by_role("button", name="Zoom in").click()

    diagram.get_by_role("button", name="Baseline meeting and whole-family assessment").click()
    expect(diagram).to_have_attribute("data-process-id", "baseline_assessment")
    expect(diagram).to_have_attribute("data-diagram-ready", "true")
    expect(diagram).to_have_attribute("data-active", "whole_family_assessment")
    expect_nothing_to_move_to(diagram)
    assessment = drawn(page, "whole_family_assessment")["width"]
    diagram.get_by_role("button", name="Zoom in").click()
    assert drawn(page, "whole_family_assessment")["width"] == pytest.approx(
        assessment * STEP, rel=0.01
    )

    diagram.get_by_role("button", name="FGC pathway", exact=True).click()
    expect(diagram).to_have_attribute("data-process-id", "fgc_pathway")
    expect(diagram).to_have_attribute("data-diagram-ready", "true")
    assert drawn(page, "screening")["width"] == pytest.approx(fitted, rel=0.01)


def test_the_heat_map_badges_stay_beside_their_stages_when_zoomed(app, page):
    stays(app)
    sign_in(page, "morgan.manager")
    page.goto(f"/reports/waits?{MARCH}")
    diagram = page.locator(".waits-diagram")
    expect(diagram).to_have_attribute("data-diagram-ready", "true")
    badge = page.locator('.kf-heat-badge[data-element-id="network_preparation"]')
    before = drawn(page, "network_preparation")
    diagram.get_by_role("button", name="Zoom in").click()
    diagram.get_by_role("button", name="Zoom in").click()
    stage = drawn(page, "network_preparation")
    assert stage["width"] == pytest.approx(before["width"] * STEP * STEP, rel=0.01)

    # The badge hangs from the stage's bottom left corner, zoomed or not (the box measured
    # includes the shape's thick outline, hence a few pixels' play).
    expect(badge).to_have_text("6.0 days")
    box = badge.bounding_box()
    assert box["x"] == pytest.approx(stage["x"], abs=3)
    assert stage["y"] + stage["height"] <= box["y"] <= stage["y"] + stage["height"] + box["height"]
    expect(diagram).to_have_attribute("data-heat", "network_preparation:5 screening:2")
    problems = serious_accessibility_problems(page)
    assert problems == [], "\n".join(problems)
