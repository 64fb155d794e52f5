"""Every route checks who is asking: pages send a signed-out visitor to sign in, the API
answers 401, and a role that may not use an area is refused."""

from __future__ import annotations

import re

import pytest

from tests.web import login

# Reachable signed out: the sign-in page, static files, the site icon and vendor libraries,
# the API's document.
PUBLIC = {"auth.login", "static", "home.favicon", "assets.vendor", "api.openapi_document"}


def concrete(rule) -> str:
    """The rule's path with every variable filled in (ids that exist or not: refused first)."""
    return re.sub(
        r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: "1" if "id" in m.group(1) else "x", rule.rule
    )


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_page_sends_a_signed_out_visitor_to_sign_in_and_the_api_answers_401(app, client):
    checked = 0
    for rule, method in routes(app):
        answer = client.open(concrete(rule), method=method)
        if rule.rule.startswith("/api/"):
            assert answer.status_code == 401, (method, rule.rule)
            assert answer.get_json()["message"]
        elif method == "POST":
            # CSRF is checked first on forms: a forged post from a signed-out visitor is refused.
            assert answer.status_code in (302, 400), (method, rule.rule)
            if answer.status_code == 302:
                assert answer.headers["Location"].startswith("/login"), (method, rule.rule)
        else:
            assert answer.status_code == 302, (method, rule.rule)
            assert answer.headers["Location"].startswith("/login"), (method, rule.rule)
        checked += 1
    assert checked > 40  # the app has its areas, not a stub


@pytest.mark.parametrize(
    ("username", "path", "status"),
    [
        ("casey.coordinator", "/admin/users", 403),
        ("morgan.manager", "/admin/users", 403),
        ("riley.referrer", "/audit", 403),
        ("casey.coordinator", "/audit", 403),
        ("riley.referrer", "/board", 403),
        ("dana.data", "/board", 403),
        ("casey.coordinator", "/referrals/new", 403),
        ("ada.admin", "/tasks?scope=team", 403),
        ("casey.coordinator", "/tasks?scope=team", 403),
        ("casey.coordinator", "/cases/1", 404),
        ("ada.admin", "/admin/users", 200),
        ("morgan.manager", "/audit", 200),
        ("casey.coordinator", "/board", 200),
    ],
)
def test_each_role_is_refused_the_areas_it_may_not_use(client, username, path, status):
    login(client, username)
    assert client.get(path).status_code == status
