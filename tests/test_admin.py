"""The admin pages: users, roles, teams, deactivation, lockouts and passwords."""

from __future__ import annotations

import re

import pytest

from engine.accounts import find_user
from engine.actors import Actor
from engine.administration import update_user
from engine.assignment import claim
from engine.audit import AuditFilter, entries
from engine.deploy import latest_version
from engine.queries import list_tasks
from tests.test_pathway_walkthrough import REFERRAL
from tests.web import PASSWORD, WORKERS, csrf_token, login, team_id

NEW_PASSWORD = "purple kettle mountain"


def start_case(app, title: str = "Ashdown family", team: str | None = None) -> int:
    """A referral of our team (or ``team``) waiting for riley.referrer to submit it."""
    from webapp.extensions import db, runtime

    tid = team_id(app, team) if team else team_id(app)
    with app.app_context():
        session = db.session()
        version = latest_version(session, "fgc_pathway")
        referrer = Actor.of("riley.referrer", "referrer")
        case = runtime().start_case(session, version, REFERRAL, referrer, title, tid)
        return case.id


def user_row(app, username: str):
    from webapp.extensions import db

    with app.app_context():
        user = find_user(db.session(), username)
        if user is not None:
            db.session.expunge(user)
        return user


def admin_actions(app) -> list[tuple[str, str]]:
    from webapp.extensions import db

    with app.app_context():
        logged = entries(db.session(), AuditFilter(username="ada.admin"))
        return [(e.action, e.target) for e in logged if e.action.startswith("admin_")]


def form_of(client, path: str) -> dict[str, str]:
    """The hidden fields of the form on ``path`` (CSRF token and version), as a browser sends."""
    page = client.get(path).get_data(as_text=True)
    hidden = re.findall(r'<input type="hidden" name="(csrf_token|version)" value="([^"]+)"', page)
    return dict(hidden)


def post_edit(client, user_id: int, fields: dict, hidden: dict | None = None):
    path = f"/admin/users/{user_id}"
    data = (hidden or form_of(client, path)) | fields
    return client.post(path, data=data)


def test_every_role_but_admin_is_refused_every_admin_page(app, client, workers):
    casey = workers["casey.coordinator"]
    for worker in WORKERS:
        if worker.role == "admin":
            continue
        visitor = app.test_client()
        login(visitor, worker.username)
        token = csrf_token(visitor, "/account/tokens")
        for path in ("/admin/users", "/admin/users/new", "/admin/teams", f"/admin/users/{casey}"):
            assert visitor.get(path).status_code == 403, (worker.username, path)
        refused = visitor.post(f"/admin/users/{casey}/deactivate", data={"csrf_token": token})
        assert refused.status_code == 403, worker.username
    assert user_row(app, "casey.coordinator").active
    login(client, "ada.admin")
    assert client.get("/admin/users").status_code == 200


def test_the_user_list_shows_roles_teams_and_status(client):
    login(client, "ada.admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert '<th scope="col">Roles</th>' in page
    row = re.search(r"<tr>\s*<td>mel.manager</td>.*?</tr>", page, re.S).group(0)
    assert "Mel Manager" in row and "FGC manager" in row and "North FGC" in row
    assert "Active" in row


def test_an_admin_adds_a_user_who_can_then_sign_in(app, client):
    login(client, "ada.admin")
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert '<label for="role-lead_practitioner"><strong>Lead practitioner</strong>' in page
    added = client.post(
        "/admin/users/new",
        data={
            "csrf_token": csrf_token(client, "/admin/users/new"),
            "username": "Sam.Jones",
            "display_name": "Sam Jones",
            "email": "sam.jones@example.org",
            "roles": ["coordinator", "lead_practitioner"],
            "team_id": "",
            "new_team": "East FGC",
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
    )
    assert added.status_code == 302
    assert "Sam Jones (sam.jones) can now sign in." in client.get("/admin/users").get_data(
        as_text=True
    )
    sam = user_row(app, "sam.jones")
    assert sam.roles == ["coordinator", "lead_practitioner"]
    assert sam.team.name == "East FGC"
    newcomer = app.test_client()
    assert login(newcomer, "sam.jones", NEW_PASSWORD).status_code == 302
    assert ("admin_create_user", "user sam.jones") in admin_actions(app)


def test_a_new_user_form_with_problems_names_each_field_and_keeps_what_was_typed(app, client):
    login(client, "ada.admin")
    page = client.post(
        "/admin/users/new",
        data={
            "csrf_token": csrf_token(client, "/admin/users/new"),
            "username": "sam.jones",
            "display_name": "Sam Jones",
            "roles": [],
            "team_id": "",
            "password": NEW_PASSWORD,
            "password_confirm": "something else entirely",
        },
    )
    text = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "The two passwords are not the same" in text
    assert 'value="Sam Jones"' in text and NEW_PASSWORD not in text
    assert user_row(app, "sam.jones") is None

    no_role = client.post(
        "/admin/users/new",
        data={
            "csrf_token": csrf_token(client, "/admin/users/new"),
            "username": "sam.jones",
            "display_name": "Sam Jones",
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
    )
    assert no_role.status_code == 422
    assert "Give the user at least one role." in no_role.get_data(as_text=True)
    assert user_row(app, "sam.jones") is None


def test_a_taken_username_or_a_short_password_is_refused(app, client):
    login(client, "ada.admin")
    base = {"display_name": "Casey Again", "roles": ["referrer"], "team_id": ""}
    taken = client.post(
        "/admin/users/new",
        data=base
        | {
            "csrf_token": csrf_token(client, "/admin/users/new"),
            "username": "casey.coordinator",
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
    )
    assert taken.status_code == 422
    assert "&#39;casey.coordinator&#39; is already taken" in taken.get_data(as_text=True)
    short = client.post(
        "/admin/users/new",
        data=base
        | {
            "csrf_token": csrf_token(client, "/admin/users/new"),
            "username": "sam.jones",
            "password": "short",
            "password_confirm": "short",
        },
    )
    assert "Use at least 12 characters." in short.get_data(as_text=True)
    assert user_row(app, "sam.jones") is None


def test_a_role_change_applies_at_the_next_request(app, client, workers):
    casey = app.test_client()
    login(casey, "casey.coordinator")
    assert casey.get("/audit").status_code == 403

    login(client, "ada.admin")
    saved = post_edit(
        client,
        workers["casey.coordinator"],
        {
            "display_name": "Casey Coordinator",
            "email": "",
            "roles": ["coordinator", "fgc_manager"],
            "team_id": str(team_id(app)),
        },
    )
    assert saved.status_code == 302
    assert casey.get("/audit").status_code == 200
    assert (
        "admin_update_user",
        "user casey.coordinator: roles coordinator,fgc_manager",
    ) in admin_actions(app)


def test_moving_a_user_to_another_team(app, client, workers):
    login(client, "ada.admin")
    north = str(team_id(app, "North FGC"))
    post_edit(
        client,
        workers["cam.coordinator"],
        {"display_name": "Cam Coordinator", "roles": ["coordinator"], "team_id": north},
    )
    assert user_row(app, "cam.coordinator").team.name == "North FGC"
    both = post_edit(
        client,
        workers["cam.coordinator"],
        {"display_name": "Cam", "roles": ["coordinator"], "team_id": north, "new_team": "West"},
    )
    assert both.status_code == 422
    assert "not both" in both.get_data(as_text=True)
    assert user_row(app, "cam.coordinator").display_name == "Cam Coordinator"


def test_a_stale_edit_form_is_refused_and_changes_nothing(app, client, workers):
    from webapp.extensions import db

    login(client, "ada.admin")
    cam = workers["cam.coordinator"]
    opened = form_of(client, f"/admin/users/{cam}")
    with app.app_context():  # another admin saves first
        user = find_user(db.session(), "cam.coordinator")
        update_user(
            db.session(),
            cam,
            display_name="Cam Coordinator",
            email=None,
            roles=["coordinator", "lead_practitioner"],
            team="Central FGC",
            actor="other.admin",
            expected_version=opened["version"],
        )
        assert user.roles == ["coordinator", "lead_practitioner"]
    stale = post_edit(
        client,
        cam,
        {"display_name": "Cam C", "roles": ["referrer"], "team_id": str(team_id(app))},
        hidden=opened,
    )
    text = stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert "Someone else changed cam.coordinator&#39;s account since you opened the form" in text
    assert 'id="role-lead_practitioner" name="roles" value="lead_practitioner" checked' in text
    cam_now = user_row(app, "cam.coordinator")
    assert cam_now.roles == ["coordinator", "lead_practitioner"]
    assert cam_now.display_name == "Cam Coordinator"


def test_deactivating_counts_open_tasks_and_stops_sign_in(app, client, workers):
    from webapp.extensions import db

    for title in ("Ashdown family", "Brook family"):
        case_id = start_case(app, title)
        with app.app_context():
            [task] = list_tasks(db.session(), case_id=case_id)
            claim(db.session(), task.id, Actor.of("riley.referrer", "referrer"))
    login(client, "ada.admin")
    riley = workers["riley.referrer"]
    confirm = client.get(f"/admin/users/{riley}/deactivate").get_data(as_text=True)
    assert "They hold 2 open tasks." in confirm
    assert "Needs reassignment" in confirm
    assert "Reassign all of a person's tasks" in confirm

    token = csrf_token(client, f"/admin/users/{riley}/deactivate")
    done = client.post(f"/admin/users/{riley}/deactivate", data={"csrf_token": token})
    assert done.status_code == 302
    listed = client.get("/admin/users").get_data(as_text=True)
    assert "Their 2 open tasks show as needing reassignment" in listed
    assert login(app.test_client(), "riley.referrer").status_code == 401
    assert ("admin_deactivate_user", "user riley.referrer") in admin_actions(app)

    token = csrf_token(client, f"/admin/users/{riley}")
    client.post(f"/admin/users/{riley}/reactivate", data={"csrf_token": token})
    assert login(app.test_client(), "riley.referrer").status_code == 302


def test_an_admin_cannot_deactivate_themselves_or_drop_their_own_admin_role(app, client, workers):
    login(client, "ada.admin")
    ada = workers["ada.admin"]
    confirm = client.get(f"/admin/users/{ada}/deactivate").get_data(as_text=True)
    assert "You cannot deactivate your own account" in confirm
    assert 'class="danger"' not in confirm
    token = csrf_token(client, "/admin/users")
    refused = client.post(f"/admin/users/{ada}/deactivate", data={"csrf_token": token})
    assert refused.status_code == 400
    assert user_row(app, "ada.admin").active

    demoted = post_edit(
        client, ada, {"display_name": "Ada Admin", "roles": ["fgc_manager"], "team_id": ""}
    )
    assert demoted.status_code == 422
    assert "You cannot remove your own admin role" in demoted.get_data(as_text=True)
    assert user_row(app, "ada.admin").roles == ["admin"]


def test_an_admin_unlocks_a_locked_account(app, client, workers):
    visitor = app.test_client()
    for _ in range(5):
        login(visitor, "casey.coordinator", "a wrong guess")
    assert login(visitor, "casey.coordinator").status_code == 401
    login(client, "ada.admin")
    casey = workers["casey.coordinator"]
    page = client.get(f"/admin/users/{casey}").get_data(as_text=True)
    assert "Locked after too many wrong passwords until" in page
    assert "Locked" in client.get("/admin/users").get_data(as_text=True)
    token = csrf_token(client, f"/admin/users/{casey}")
    client.post(f"/admin/users/{casey}/unlock", data={"csrf_token": token})
    assert login(visitor, "casey.coordinator").status_code == 302


def test_an_admin_sets_a_new_password(app, client, workers):
    lee = app.test_client()
    login(lee, "lee.practitioner")
    login(client, "ada.admin")
    path = f"/admin/users/{workers['lee.practitioner']}/password"
    short = client.post(
        path,
        data={"csrf_token": csrf_token(client, path), "password": "abc", "password_confirm": "abc"},
    )
    assert short.status_code == 422
    assert "Use at least 12 characters." in short.get_data(as_text=True)
    changed = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 302
    assert "signed out everywhere" in client.get(changed.headers["Location"]).get_data(True)
    assert lee.get("/tasks").status_code == 302  # the browser signed in before is signed out
    assert login(app.test_client(), "lee.practitioner", PASSWORD).status_code == 401
    assert login(app.test_client(), "lee.practitioner", NEW_PASSWORD).status_code == 302
    assert ("admin_reset_password", "user lee.practitioner") in admin_actions(app)


def test_teams_are_listed_and_created_once(app, client):
    login(client, "ada.admin")
    page = client.get("/admin/teams").get_data(as_text=True)
    assert re.search(r"<td>Central FGC</td><td>8</td>", page)
    token = csrf_token(client, "/admin/teams")
    assert client.post("/admin/teams", data={"csrf_token": token, "name": "East FGC"}).status_code
    again = client.post("/admin/teams", data={"csrf_token": token, "name": " East FGC "})
    assert again.status_code == 422
    assert "A team called &#39;East FGC&#39; already exists." in again.get_data(as_text=True)
    assert re.search(r"<td>East FGC</td><td>0</td>", client.get("/admin/teams").get_data(True))
    assert ("admin_create_team", "team East FGC") in admin_actions(app)


@pytest.mark.parametrize("path", ["/admin/users/9999", "/admin/users/9999/deactivate"])
def test_an_unknown_user_is_not_found(client, path):
    login(client, "ada.admin")
    assert client.get(path).status_code == 404
