"""The ``kinflow`` command: database set-up, validation and deployment of diagrams."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from engine.db import upgrade
from engine.deploy import deploy_bundle, list_versions
from engine.errors import KinflowError
from engine.validation import ValidatedBundle, validate_paths
from webapp.extensions import db


def _create_app() -> Flask:
    from webapp import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Kinflow: family group conferencing casework as BPMN workflows."""


def _report(validated: ValidatedBundle) -> None:
    for problem in validated.problems:
        click.echo(str(problem))


@main.command("validate", with_appcontext=False)
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


@main.command("init-db")
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


@main.command("deploy")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--by", "actor", default="kinflow-cli", help="Who is deploying (recorded).")
@with_appcontext
def deploy_command(paths: tuple[Path, ...], actor: str) -> None:
    """Validate and deploy diagrams (default: workflows/ with forms/)."""
    sys.exit(deploy_default(current_app, list(paths), actor))


@main.command("versions")
@with_appcontext
def versions_command() -> None:
    """List deployed process versions."""
    versions = list_versions(db.session())
    if not versions:
        click.echo("No process versions are deployed.")
    for v in versions:
        when = v.deployed_at.strftime("%Y-%m-%d %H:%M")
        click.echo(f"{v.process_id}\tv{v.version}\t{v.content_hash[:12]}\t{when}\t{v.deployed_by}")


def init_app(app: Flask) -> None:
    """Make the same commands available as ``flask --app webapp ...``."""
    for command in (init_db_command, validate_command, deploy_command, versions_command):
        app.cli.add_command(command)
