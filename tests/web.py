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


def family_at(app: Flask, family: str, next_task: str, coordinator: str = "casey.coordinator"):
    """A Central-team case of the shipped pathway, walked with the walkthrough's answers (the
    family's name changed) until ``next_task`` is open; returns the case id."""
    from engine.actors import Actor
    from engine.deploy import latest_version
    from tests import test_pathway_walkthrough as walk
    from webapp.extensions import db, runtime

    steps = (
        ("submit_referral", walk.REFERRAL | {"family_name": family}, walk.REFERRER),
        ("acknowledge_referral", walk.ACKNOWLEDGED, walk.MANAGER),
        ("screen_referral", walk.ACCEPT, walk.MANAGER),
        ("allocate_coordinator", walk.ALLOCATION | {"coordinator": coordinator}, walk.MANAGER),
        ("hold_baseline_meeting", walk.BASELINE, Actor.of(coordinator, "coordinator")),
        ("whole_family_assessment", walk.ASSESSMENT, walk.LEAD),
        ("prepare_network", walk.NETWORK, Actor.of(coordinator, "coordinator")),
        ("arrange_conference", walk.ARRANGEMENTS, Actor.of(coordinator, "coordinator")),
        ("record_conference", walk.CONFERENCE, Actor.of(coordinator, "coordinator")),
        ("review_family_plan", None, None),
    )
    assert next_task in {element for element, _, _ in steps}, next_task
    team = team_id(app)
    with app.app_context():
        session = db.session()
        version = latest_version(session, "fgc_pathway")
        start = {"eligibility_rule": "stronger_families"}
        case = runtime().start_case(
            session, version, start, walk.REFERRER, title=f"{family} family", team_id=team
        )
        for element, answers, actor in steps:
            if element == next_task:
                break
            walk.do(runtime(), session, case, element, answers, actor)
        return case.id
