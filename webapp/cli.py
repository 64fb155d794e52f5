"""The ``kinflow`` command: database set-up, validation and deployment of diagrams, accounts."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import NoReturn

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from engine.accounts import find_user
from engine.administration import is_locked, list_users, register_user
from engine.db import upgrade
from engine.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo
from engine.deploy import deploy_bundle, list_versions
from engine.errors import KinflowError
from engine.tokens import create_token
from engine.validation import ValidatedBundle, validate_paths
from webapp.bench_seed_cli import bench_seed_command
from webapp.extensions import db
from webapp.retention_cli import retention_command


def _create_app() -> Flask:
    from webapp import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Kinflow: family group conferencing casework as BPMN workflows."""


def _report(validated: ValidatedBundle) -> None:
    for problem in validated.problems:
        click.echo(str(problem))


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--forms",
    "forms_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of form schemas (default: forms/ beside the diagrams' folder).",
)
def validate_command(files: tuple[Path, ...], forms_dir: Path | None) -> None:
    """Check BPMN, DMN and form files as a deploy would; exit 1 listing each problem."""
    validated = validate_paths(list(files), forms_dir=forms_dir)
    if not validated.ok:
        _report(validated)
        sys.exit(1)
    click.echo(f"OK: {', '.join(validated.entry_process_ids)} can be deployed.")


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create or upgrade the database schema (SQLite or PostgreSQL)."""
    upgrade(db.engine)
    click.echo("Database is up to date.")


def deploy_default(app: Flask, paths: list[Path] | None = None, actor: str = "kinflow-cli") -> int:
    """Validate and deploy ``paths`` (default: the workflows folder); returns an exit code."""
    targets = paths or [Path(app.config["KINFLOW_WORKFLOWS_DIR"])]
    forms_dir = None if paths else Path(app.config["KINFLOW_FORMS_DIR"])
    validated = validate_paths(targets, forms_dir=forms_dir)
    if not validated.ok:
        _report(validated)
        return 1
    runtime = app.extensions["kinflow_runtime"]
    try:
        results = deploy_bundle(db.session(), validated, actor, runtime.codec)
    except KinflowError as exc:
        click.echo(str(exc), err=True)
        return 1
    for result in results:
        v = result.version
        status = "deployed" if result.created else "unchanged, already deployed"
        click.echo(f"{v.process_id} v{v.version}: {status}")
    return 0


@click.command("deploy")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--by", "actor", default="kinflow-cli", help="Who is deploying (recorded).")
@with_appcontext
def deploy_command(paths: tuple[Path, ...], actor: str) -> None:
    """Validate and deploy diagrams (default: workflows/ with forms/)."""
    sys.exit(deploy_default(current_app, list(paths), actor))


@click.command("versions")
@with_appcontext
def versions_command() -> None:
    """List deployed process versions."""
    versions = list_versions(db.session())
    if not versions:
        click.echo("No process versions are deployed.")
    for v in versions:
        when = v.deployed_at.strftime("%Y-%m-%d %H:%M")
        click.echo(f"{v.process_id}\tv{v.version}\t{v.content_hash[:12]}\t{when}\t{v.deployed_by}")


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load fictional demo users and families (once: does nothing when they are there)."""
    app = current_app
    if app.config["KINFLOW_ENV"] != "development":
        click.echo("Demo data is for development only (its password is known).", err=True)
        sys.exit(1)
    try:
        result = seed_demo(
            db.session(),
            app.extensions["kinflow_runtime"],
            Path(app.config["KINFLOW_WORKFLOWS_DIR"]),
            Path(app.config["KINFLOW_FORMS_DIR"]),
            eligibility_rule=app.config["KINFLOW_ELIGIBILITY_RULE"],
        )
    except KinflowError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    if result.created:
        click.echo(f"Demo data loaded: {result.cases} fictional families, {result.users} users.")
    else:
        click.echo("Demo data is already loaded.")
    click.echo(f"Demo logins (password '{DEMO_PASSWORD}', for a local demo only):")
    for user in DEMO_USERS:
        click.echo(f"  {user.username:<14} {user.role:<18} {user.display_name}, {user.job}")


# --- Accounts for set-up scripts ----------------------------------------------------------
# Passwords come only on standard input (a command line is visible to everyone on the
# machine and kept in shell history); a new token is the only thing printed to stdout, so a
# script can capture it with $(...).

CLI_ACTOR = "kinflow-cli"


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


@click.group("users")
def users_group() -> None:
    """Add and list the people who sign in to Kinflow."""


@users_group.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="A role; repeat for more.")
@click.option("--team", help="The team's name (created if it does not exist).")
@click.option("--display-name", help="The name people see (default: from the username).")
@click.option("--email", help="Work email address.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_create_command(
    username: str,
    roles: tuple[str, ...],
    team: str | None,
    display_name: str | None,
    email: str | None,
    password_stdin: bool,
) -> None:
    """Add a user who can sign in at once, e.g. `kinflow users create sam.jones --role
    coordinator --team "Central FGC" --password-stdin < password.txt`."""
    if not password_stdin:
        raise click.UsageError("Give the password on standard input with --password-stdin.")
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        _fail("password: standard input was empty; give the password on its first line.")
    default_name = " ".join(part.capitalize() for part in re.split(r"[._-]+", username) if part)
    try:
        user = register_user(
            db.session(),
            username=username,
            display_name=display_name or default_name,
            email=email,
            roles=list(roles),
            team=team,
            password=password,
            actor=CLI_ACTOR,
            via="cli",
        )
    except KinflowError as exc:
        _fail(str(exc))
    where = f" in team {user.team.name}" if user.team else ""
    click.echo(f"Created {user.username} ({', '.join(user.roles)}){where}.")


@users_group.command("list")
@with_appcontext
def users_list_command() -> None:
    """List users: username, roles, team, and whether they can sign in."""
    for user in list_users(db.session()):
        status = "active" if user.active else "deactivated"
        if is_locked(user):
            status += ", locked"
        team = user.team.name if user.team else "-"
        click.echo(f"{user.username}\t{','.join(user.roles)}\t{team}\t{status}")


@click.group("tokens")
def tokens_group() -> None:
    """Personal API tokens for other council systems."""


@tokens_group.command("create")
@click.argument("username")
@click.option("--label", default="set-up script", show_default=True, help="What it is for.")
@with_appcontext
def tokens_create_command(username: str, label: str) -> None:
    """Print a new API token for USERNAME; it is shown this once and never again."""
    session = db.session()
    user = find_user(session, username)
    if user is None:
        _fail(f"username: there is no user '{username.strip().lower()}'.")
    if not user.active:
        _fail(f"username: '{user.username}' is deactivated, so a token would not work.")
    try:
        _row, plain = create_token(session, user, label, actor=CLI_ACTOR, via="cli")
    except KinflowError as exc:
        _fail(str(exc).replace("name: ", "label: ", 1))
    click.echo(plain)


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Fire BPMN timers when they fall due; one scheduler is active per database."""
    from engine.scheduler import run_forever
    from webapp.scheduling import scheduler_for

    try:
        scheduler = scheduler_for(current_app)
    except KinflowError as exc:  # a bad KINFLOW_SMTP_* setting, named in the message
        raise click.ClickException(str(exc)) from exc
    click.echo(
        "Scheduler running: it fires timers and reminders as they fall due and sends email. "
        "Ctrl-C stops it."
    )
    run_forever(scheduler)


# The commands are plain click commands (wrapped in an app context where they need one), so
# the same objects serve ``kinflow ...`` and ``flask --app webapp ...``.
COMMANDS = (
    validate_command,
    init_db_command,
    deploy_command,
    versions_command,
    demo_command,
    users_group,
    tokens_group,
    scheduler_command,
    retention_command,
    bench_seed_command,
)
for _command in COMMANDS:
    main.add_command(_command)


def init_app(app: Flask) -> None:
    """Make the same commands available as ``flask --app webapp ...``."""
    for command in COMMANDS:
        app.cli.add_command(command)
