"""`kinflow users ...` and `kinflow tokens ...`, as a set-up script uses them."""

from __future__ import annotations

import pytest

from engine.accounts import authenticate, find_user
from engine.audit import AuditFilter, entries
from engine.errors import KinflowError
from engine.tokens import user_for_token

SECRET = "granite otter lantern"


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()
    return lambda *args, input=None: runner.invoke(args=list(args), input=input)


def in_app(app, work):
    from webapp.extensions import db

    with app.app_context():
        return work(db.session())


def test_users_create_reads_the_password_from_stdin_and_the_user_can_sign_in(app, run):
    done = run(
        "users",
        "create",
        "sam.jones",
        "--role",
        "coordinator",
        "--role",
        "lead_practitioner",
        "--team",
        "East FGC",
        "--email",
        "sam.jones@example.org",
        "--password-stdin",
        input=f"{SECRET}\n",
    )
    assert done.exit_code == 0, done.output
    assert done.stdout == "Created sam.jones (coordinator, lead_practitioner) in team East FGC.\n"
    signed_in = in_app(app, lambda s: authenticate(s, "sam.jones", SECRET).display_name)
    assert signed_in == "Sam Jones"
    roles = in_app(app, lambda s: find_user(s, "sam.jones").roles)
    assert roles == ["coordinator", "lead_practitioner"]
    logged = in_app(app, lambda s: entries(s, AuditFilter(action="admin_create_user")))
    assert [(e.username, e.target, e.via) for e in logged] == [
        ("kinflow-cli", "user sam.jones", "cli")
    ]


def test_users_create_refuses_an_empty_password(app, run):
    done = run("users", "create", "sam.jones", "--role", "referrer", "--password-stdin", input="\n")
    assert done.exit_code == 1
    assert "password: standard input was empty" in done.stderr
    assert in_app(app, lambda s: find_user(s, "sam.jones")) is None


def test_users_create_needs_password_stdin(run):
    done = run("users", "create", "sam.jones", "--role", "referrer")
    assert done.exit_code == 2
    assert "--password-stdin" in done.stderr


def test_an_unknown_role_exits_1_naming_the_role(app, run):
    done = run(
        "users", "create", "sam.jones", "--role", "social_worker", "--password-stdin", input=SECRET
    )
    assert done.exit_code == 1
    assert "roles: 'social_worker' is not a role; choose from referrer" in done.stderr
    assert done.stdout == ""
    assert in_app(app, lambda s: find_user(s, "sam.jones")) is None


def test_a_taken_username_exits_1(workers, run):
    done = run(
        "users",
        "create",
        "Casey.Coordinator",
        "--role",
        "referrer",
        "--password-stdin",
        input=SECRET,
    )
    assert done.exit_code == 1
    assert "username: 'casey.coordinator' is already taken." in done.stderr


def test_a_short_password_exits_1(app, run):
    done = run("users", "create", "sam.jones", "--role", "referrer", "--password-stdin", input="x")
    assert done.exit_code == 1
    assert "password: use at least 12 characters." in done.stderr
    with pytest.raises(KinflowError):
        in_app(app, lambda s: authenticate(s, "sam.jones", "x"))


def test_tokens_create_prints_only_a_working_token(app, workers, run):
    done = run("tokens", "create", "casey.coordinator", "--label", "nightly sync")
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kf_")
    owner = in_app(app, lambda s: user_for_token(s, lines[0]))
    assert owner.username == "casey.coordinator"


def test_tokens_create_for_an_unknown_or_deactivated_user_exits_1(app, workers, run):
    unknown = run("tokens", "create", "nobody.here")
    assert unknown.exit_code == 1 and unknown.stdout == ""
    assert "there is no user 'nobody.here'" in unknown.stderr

    def deactivate(session):
        find_user(session, "cam.coordinator").active = False
        session.commit()

    in_app(app, deactivate)
    inactive = run("tokens", "create", "cam.coordinator")
    assert inactive.exit_code == 1
    assert "'cam.coordinator' is deactivated" in inactive.stderr


def test_users_list_shows_roles_team_and_status(app, workers, run):
    in_app(app, lambda s: setattr(find_user(s, "cam.coordinator"), "active", False) or s.commit())
    listed = run("users", "list").stdout.splitlines()
    assert "mel.manager\tfgc_manager\tNorth FGC\tactive" in listed
    assert "cam.coordinator\tcoordinator\tCentral FGC\tdeactivated" in listed
