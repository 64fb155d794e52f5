"""Browser tests: Debian's Chromium driven by Playwright against a live Kinflow server.

Each test gets its own database (SQLite and PostgreSQL, like every database test), the
fictional workers of tests/web.py, and a server on a free local port. Screenshots go to
``KINFLOW_SCREENSHOTS`` (``make screenshots`` points it at docs/screenshots for the README),
otherwise to test-artifacts/screenshots.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import REPO

CHROMIUM = Path(os.environ.get("KINFLOW_CHROMIUM", "/usr/bin/chromium"))
SHOTS = Path(os.environ.get("KINFLOW_SCREENSHOTS") or REPO / "test-artifacts" / "screenshots")
if not SHOTS.is_absolute():
    SHOTS = REPO / SHOTS
# Chromium's background services try the network, which this machine and CI refuse.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if os.environ.get("KINFLOW_REQUIRE_BROWSER") and not CHROMIUM.exists():
    raise RuntimeError(f"KINFLOW_REQUIRE_BROWSER is set but {CHROMIUM} is missing")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(app, workers) -> Iterator[str]:
    """The app served on a free port in a background thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # It checks for shutdown between polls: every half second by default, a wait at each test's end.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(
        base_url=live_server,
        viewport={"width": 1280, "height": 900},
        locale="en-GB",
        timezone_id="Europe/London",
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page, username: str, password: str | None = None) -> None:
    """Sign in as one of tests/web.py's workers (or, with its password, any other user)."""
    from tests.web import PASSWORD

    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password or PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/tasks**")


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login**")


def screenshot(page, name: str, full_page: bool = True) -> Path:
    """Save a screenshot as a test artifact (and README picture under ``make screenshots``)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    target = SHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=full_page)
    return target


def serious_accessibility_problems(page) -> list[str]:
    """Run axe-core (from npm, served at /vendor/axe.min.js) and list serious or worse."""
    page.add_script_tag(url="/vendor/axe.min.js")
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
