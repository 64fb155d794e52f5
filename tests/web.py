"""The web app under test: fictional workers with roles and teams, and signing in as them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from engine.accounts import Team, User, get_or_create_team, set_password

PASSWORD = "correct horse battery staple"
TEAM = "Central FGC"
OTHER_TEAM = "North FGC"


@dataclass(frozen=True)
class Worker:
    username: str
    display_name: str
    role: str
    team: str = TEAM


WORKERS = (
    Worker("riley.referrer", "Riley Referrer", "referrer"),
    Worker("morgan.manager", "Morgan Manager", "fgc_manager"),
    Worker("mel.manager", "Mel Manager", "fgc_manager", OTHER_TEAM),
    Worker("casey.coordinator", "Casey Coordinator", "coordinator"),
    Worker("cam.coordinator", "Cam Coordinator", "coordinator"),
    Worker("lee.practitioner", "Lee Practitioner", "lead_practitioner"),
    Worker("dana.data", "Dana Data", "data_officer"),
    Worker("pat.owner", "Pat Owner", "process_owner"),
    Worker("ada.admin", "Ada Admin", "admin"),
)


def add_workers(session: Session) -> dict[str, User]:
    """Create ``WORKERS`` in one transaction, sharing one password hash (argon2 is slow on
    purpose); the account rules themselves are tested in tests/test_accounts.py."""
    holder = User()
    set_password(holder, PASSWORD)
    teams = {name: Team(name=name) for name in {w.team for w in WORKERS}}
    users = {
        w.username: User(
            username=w.username,
            display_name=w.display_name,
            roles=[w.role],
            team=teams[w.team],
            active=True,
            failed_logins=0,
            password_hash=holder.password_hash,
        )
        for w in WORKERS
    }
    session.add_all([*teams.values(), *users.values()])
    session.commit()
    return users


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token a page of ``path`` carries, as a browser would read it."""
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD):
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(client)},
    )


def team_id(app: Flask, name: str = TEAM) -> int:
    from webapp.extensions import db

    with app.app_context():
        return get_or_create_team(db.session(), name).id
