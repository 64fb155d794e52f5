"""Personal API tokens: made on the account page, shown once, revoked there."""

from __future__ import annotations

import re

from engine.accounts import find_user
from engine.audit import AuditFilter, entries
from engine.tokens import create_token, user_for_token
from tests.web import csrf_token, login


def owner_of(app, token: str) -> str | None:
    from webapp.extensions import db

    with app.app_context():
        user = user_for_token(db.session(), token)
        return user.username if user else None


def make_token(client, name: str = "case system sync"):
    return client.post(
        "/account/tokens",
        data={"csrf_token": csrf_token(client, "/account/tokens"), "name": name},
    )


def test_a_new_token_is_shown_once_and_works_for_its_owner(app, client):
    login(client, "casey.coordinator")
    made = make_token(client)
    text = made.get_data(as_text=True)
    assert made.status_code == 200
    assert "Copy it now: it will not be shown again." in text
    assert made.headers["Cache-Control"] == "no-store"
    token = re.search(r'value="(kf_[^"]+)"', text).group(1)
    assert owner_of(app, token) == "casey.coordinator"

    later = client.get("/account/tokens").get_data(as_text=True)
    assert token not in later
    assert "case system sync" in later and f"{token[:10]}…" in later and "Works" in later


def test_a_revoked_token_stops_working(app, client):
    login(client, "casey.coordinator")
    token = re.search(r'value="(kf_[^"]+)"', make_token(client).get_data(as_text=True)).group(1)
    page = client.get("/account/tokens").get_data(as_text=True)
    revoke_path = re.search(r'action="(/account/tokens/\d+/revoke)"', page).group(1)
    done = client.post(revoke_path, data={"csrf_token": csrf_token(client, "/account/tokens")})
    assert done.status_code == 302
    assert owner_of(app, token) is None
    listed = client.get("/account/tokens").get_data(as_text=True)
    assert "is revoked: it no longer works" in listed and "Revoked " in listed
    assert "/revoke" not in listed

    from webapp.extensions import db

    with app.app_context():
        actions = [
            e.action for e in entries(db.session(), AuditFilter(username="casey.coordinator"))
        ]
    assert actions.count("create_api_token") == 1 and actions.count("revoke_api_token") == 1


def test_nobody_can_revoke_someone_elses_token(app, client):
    from webapp.extensions import db

    with app.app_context():
        row, token = create_token(db.session(), find_user(db.session(), "lee.practitioner"), "x")
        token_id = row.id
    login(client, "casey.coordinator")
    refused = client.post(
        f"/account/tokens/{token_id}/revoke",
        data={"csrf_token": csrf_token(client, "/account/tokens")},
    )
    assert refused.status_code == 404
    assert owner_of(app, token) == "lee.practitioner"
    assert "lee" not in client.get("/account/tokens").get_data(as_text=True)


def test_a_token_needs_a_name(client):
    login(client, "dana.data")
    unnamed = make_token(client, "  ")
    assert unnamed.status_code == 422
    assert "Give the token a name of at most 80 characters." in unnamed.get_data(as_text=True)
    assert "You have no API tokens." in client.get("/account/tokens").get_data(as_text=True)


def test_making_a_token_without_the_forms_csrf_token_is_refused(client):
    login(client, "dana.data")
    assert client.post("/account/tokens", data={"name": "sync"}).status_code == 400
    assert "You have no API tokens." in client.get("/account/tokens").get_data(as_text=True)


def test_a_deactivated_users_tokens_stop_working(app, client):
    login(client, "cam.coordinator")
    token = re.search(r'value="(kf_[^"]+)"', make_token(client).get_data(as_text=True)).group(1)
    from webapp.extensions import db

    with app.app_context():
        find_user(db.session(), "cam.coordinator").active = False
        db.session.commit()
    assert owner_of(app, token) is None
