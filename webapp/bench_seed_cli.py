"""``kinflow bench-seed``: fill the configured database with a large fictional service."""

from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from engine.bench_seed import bench_seed, check_may_seed
from engine.deploy import latest_version
from engine.errors import KinflowError, VersionNotFound
from engine.seed_people import LEFT, PASSWORD, TEAMS, seeded_users
from webapp.extensions import db


@click.command("bench-seed")
@click.option("--cases", default=100_000, show_default=True, help="How many families to add.")
@click.option("--append", is_flag=True, help="Add to a database that already holds cases.")
@click.option("--force", is_flag=True, help="Run outside development (the data is fictional).")
@with_appcontext
def bench_seed_command(cases: int, append: bool, force: bool) -> None:
    """Add fictional families at every stage, with their tasks and records, for benchmarks."""
    app = current_app
    if app.config["KINFLOW_ENV"] != "development" and not force:
        click.echo("bench-seed fills the database with fictional cases; use --force.", err=True)
        sys.exit(1)
    if cases < 1:
        raise click.BadParameter("give at least 1", param_hint="--cases")
    session = db.session()
    try:
        check_may_seed(session, append)
        try:
            version = latest_version(session, "fgc_pathway")
        except VersionNotFound:
            from webapp.cli import deploy_default

            if deploy_default(app) != 0:
                sys.exit(1)
            version = latest_version(session, "fgc_pathway")
        started = time.perf_counter()
        counts = bench_seed(
            session,
            app.extensions["kinflow_runtime"],
            version,
            cases,
            rule=app.config["KINFLOW_ELIGIBILITY_RULE"],
            progress=click.echo,
        )
    except KinflowError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    took = time.perf_counter() - started
    click.echo(f"{sum(counts.values()):,} rows inserted in {took:.1f} s:")
    for table, count in counts.items():
        click.echo(f"  {table}: {count}")
    # Who to sign in as is the first thing a benchmark's reader needs next.
    click.echo(
        f"{seeded_users(session)} users ({len(TEAMS)} teams and service-wide roles; "
        f"{', '.join(sorted(LEFT))} has left the service) sign in with the password "
        f"{PASSWORD!r}, for example coord.t0.3, manager.t0, data.officer."
    )
