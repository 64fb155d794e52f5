"""The database goes away under a running app: requests fail cleanly, and the app recovers.

The shared PostgreSQL server is never restarted here (other tests run on it): the outage is
simulated by a relay in front of it that a test switches off and on (``tests.outage_proxy``),
or by terminating the app's own connection. ``python -m benchmarks.load`` restarts the real
server under load.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from engine.accounts import find_user
from engine.db import make_engine
from engine.tokens import create_token
from tests.outage_proxy import Relay
from webapp import create_app
from webapp.extensions import db


def token_for(app, username: str = "morgan.manager") -> dict[str, str]:
    with app.app_context():
        session = db.session()
        plain = create_token(session, find_user(session, username), "outage")[1]
    return {"Authorization": f"Bearer {plain}"}


def app_at(url: str):
    # No CSRF token to fetch first: the login form must reach the database to fail there.
    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False}
    return create_app(config | {"TESTING": True})


def through_relay(app, relay: Relay) -> str:
    """The app's database URL, reached through the relay instead of directly."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    parts = urlsplit(url)
    return url.replace(f"@{parts.netloc.split('@')[1]}", f"@127.0.0.1:{relay.port}", 1)


def assert_database_unavailable(response) -> None:
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "Database unavailable"
    assert "database is unavailable" in body["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "30"


@pytest.fixture
def relayed(app, workers):
    """A second app on the same database, reaching PostgreSQL through a relay; and its relay."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("a SQLite file has no server to lose; see the missing-file test")
    port = urlsplit(app.config["SQLALCHEMY_DATABASE_URI"]).port or 5432
    relay = Relay(port)
    relay.start()
    outage_app = app_at(through_relay(app, relay))
    yield outage_app, relay
    relay.stop()
    with outage_app.app_context():
        db.engine.dispose()


def test_api_says_the_database_is_unavailable_and_recovers_when_it_is_back(app, relayed):
    outage_app, relay = relayed
    headers = token_for(app)
    client = outage_app.test_client()
    assert client.get("/api/v1/tasks", headers=headers).status_code == 200

    relay.stop()
    assert_database_unavailable(client.get("/api/v1/tasks", headers=headers))
    assert_database_unavailable(client.post("/api/v1/tasks/1/claim", headers=headers))
    assert_database_unavailable(client.get("/api/v1/tasks", headers=headers))

    relay.start()  # the same port: the server is back
    answer = client.get("/api/v1/tasks", headers=headers)
    assert answer.status_code == 200
    assert answer.get_json()["counts"]["total"] == 0


def test_pages_say_so_in_plain_words_while_the_database_is_down(app, relayed):
    outage_app, relay = relayed
    client = outage_app.test_client()
    relay.stop()
    page = client.post("/login", data={"username": "morgan.manager", "password": "x"})
    assert page.status_code == 503
    text_ = page.get_data(as_text=True)
    assert "Database unavailable" in text_
    assert "Traceback" not in text_


def test_a_connection_the_server_dropped_is_replaced_without_an_error(app, workers):
    """A restart ends every pooled connection; the next request must not be the one that fails."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite has no server connections to drop")
    headers = token_for(app)
    client = app.test_client()
    assert client.get("/api/v1/tasks", headers=headers).status_code == 200
    with app.app_context():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        db.session.rollback()
        db.session.remove()
    # Terminated from a connection of its own, as the postmaster does on a restart.
    outsider = make_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with outsider.begin() as other:
        assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    outsider.dispose()
    assert client.get("/api/v1/tasks", headers=headers).status_code == 200


def test_a_database_file_that_cannot_be_opened_is_a_503_not_a_traceback(tmp_path, database):
    if database.kind != "sqlite":
        pytest.skip("the PostgreSQL outage is the relay tests above")
    broken = app_at(f"sqlite:///{tmp_path / 'no-such-folder' / 'kinflow.db'}")
    client = broken.test_client()
    assert_database_unavailable(
        client.get("/api/v1/tasks", headers={"Authorization": "Bearer kf_" + "x" * 43})
    )
