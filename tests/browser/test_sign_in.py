"""Signing in with a keyboard in a real browser."""

from __future__ import annotations

from tests.browser.conftest import serious_accessibility_problems, sign_in, sign_out


def test_a_worker_signs_in_and_out_with_the_keyboard(page):
    page.goto("/tasks")
    assert "/login" in page.url
    assert serious_accessibility_problems(page) == []
    page.keyboard.press("Tab")  # the skip link comes first
    page.get_by_label("Username").fill("casey.coordinator")
    page.get_by_label("Username").press("Tab")
    page.keyboard.type("wrong password")
    page.keyboard.press("Enter")
    assert page.get_by_role("alert").inner_text().startswith("That username and password")
    sign_in(page, "casey.coordinator")
    assert page.get_by_text("Casey Coordinator").is_visible()
    sign_out(page)
    assert page.get_by_text("You are signed out").is_visible()
