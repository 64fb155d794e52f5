"""Signing in and out: sessions, lockout, CSRF and where a signed-out visitor is sent."""

from __future__ import annotations

from datetime import timedelta

from engine import clock
from tests.web import PASSWORD, csrf_token, login


def test_a_signed_out_visitor_is_sent_to_the_login_page(client):
    page = client.get("/tasks")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login?next=%2Ftasks")


def test_signing_in_leads_to_the_page_asked_for(client):
    token = csrf_token(client)
    page = client.post(
        "/login?next=/tasks",
        data={"username": "Casey.Coordinator", "password": PASSWORD, "csrf_token": token},
    )
    assert page.status_code == 302
    assert page.headers["Location"] == "/tasks"
    assert "Casey Coordinator" in client.get("/tasks").get_data(as_text=True)


def test_a_login_form_without_its_csrf_token_is_refused(client):
    page = client.post("/login", data={"username": "casey.coordinator", "password": PASSWORD})
    assert page.status_code == 400
    assert "did not come from Kinflow" in page.get_data(as_text=True)
    assert client.get("/tasks").status_code == 302


def test_the_next_page_must_be_on_this_site(client):
    token = csrf_token(client)
    page = client.post(
        "/login?next=https://phish.example/",
        data={"username": "casey.coordinator", "password": PASSWORD, "csrf_token": token},
    )
    assert page.headers["Location"] == "/"


def test_a_wrong_password_says_so_without_saying_which_part_was_wrong(client):
    wrong = login(client, "casey.coordinator", "not it")
    unknown = login(client, "nobody.here", "not it")
    assert wrong.status_code == unknown.status_code == 401
    message = "That username and password do not match an active account."
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)


def test_five_wrong_passwords_lock_the_account_for_a_while(client, frozen_clock):
    for _ in range(5):
        login(client, "casey.coordinator", "guess")
    locked = login(client, "casey.coordinator")
    assert locked.status_code == 401
    assert "locked for 15 more minutes" in locked.get_data(as_text=True)
    frozen_clock.advance(timedelta(minutes=16))
    assert login(client, "casey.coordinator").status_code == 302


def test_a_deactivated_user_cannot_sign_in_and_is_signed_out(app, client):
    from engine.accounts import find_user
    from webapp.extensions import db

    assert login(client, "cam.coordinator").status_code == 302
    with app.app_context():
        find_user(db.session(), "cam.coordinator").active = False
        db.session.commit()
    assert client.get("/tasks").status_code == 302
    assert login(client, "cam.coordinator").status_code == 401


def test_signing_out_needs_a_post_with_its_token(client):
    login(client, "casey.coordinator")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    token = csrf_token(client, "/tasks")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/tasks").status_code == 302


def test_session_cookies_are_httponly_and_samesite_and_secure_outside_development(db_url):
    from webapp import create_app

    live = create_app(
        {"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": "s", "KINFLOW_ENV": "production"}
    )
    assert live.config["SESSION_COOKIE_SECURE"] is True
    assert live.config["SESSION_COOKIE_HTTPONLY"] is True
    assert live.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    dev = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": "s"})
    assert dev.config["SESSION_COOKIE_SECURE"] is False


def test_signing_in_is_in_the_audit_log(app, client):
    from engine.audit import AuditFilter, entries
    from webapp.extensions import db

    login(client, "casey.coordinator")
    with app.app_context():
        logged = entries(db.session(), AuditFilter(username="casey.coordinator"))
    assert [e.action for e in logged] == ["login"]
    assert clock.now() - logged[0].at < timedelta(minutes=1)


def test_text_that_cannot_be_stored_is_refused_with_the_field_named(client):
    token = csrf_token(client)
    page = client.post(
        "/login", data={"username": "casey\x00", "password": PASSWORD, "csrf_token": token}
    )
    assert page.status_code == 400
    assert "username: contains a character that cannot be stored" in page.get_data(as_text=True)


def test_the_site_icon_is_served_to_anyone_without_touching_the_session(client):
    # A browser asks for it on its own while the sign-in form is being sent; sent through the
    # sign-in page, that answer once wrote a signed-out session over the new one.
    signed_out = client.get("/favicon.ico")
    assert signed_out.status_code == 200
    assert signed_out.mimetype == "image/svg+xml"
    assert "Set-Cookie" not in signed_out.headers
    login(client, "casey.coordinator")
    assert client.get("/favicon.ico").status_code == 200
    assert 'rel="icon"' in client.get("/tasks").get_data(as_text=True)


def signed_out(client) -> bool:
    return client.get("/tasks").status_code == 302


def test_signing_out_ends_the_session_even_for_a_copy_of_its_cookie(client):
    # A response on its way when the worker signs out (a page's diagram, a draft save) brings
    # the signed-in cookie back; it must sign nobody in.
    login(client, "casey.coordinator")
    cookie = client.get_cookie("session").value
    client.post("/logout", data={"csrf_token": csrf_token(client, "/tasks")})
    assert signed_out(client)
    client.set_cookie("session", cookie)
    assert signed_out(client)


def test_signing_out_in_one_browser_leaves_the_others_signed_in(app, workers):
    office, home = app.test_client(), app.test_client()
    login(office, "casey.coordinator")
    login(home, "casey.coordinator")
    office.post("/logout", data={"csrf_token": csrf_token(office, "/tasks")})
    assert signed_out(office)
    assert not signed_out(home)


def test_a_session_from_before_sign_ins_were_kept_must_sign_in_again(app, client):
    # A cookie signed by this app naming the user but no sign-in (as every cookie made before
    # migration 0010 does) is not enough.
    login(client, "casey.coordinator")
    with client.session_transaction() as session:
        del session["sign_in"]
    assert signed_out(client)
