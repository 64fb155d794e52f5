"""``kinflow retention``: the retention dry run, erasing one case past retention, and deleting
the dated records of one type past retention."""

from __future__ import annotations

import sys
from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext

from engine import audit, clock
from engine.erasure import erase_case
from engine.errors import KinflowError
from engine.retention import DATED_COLUMNS, RetentionReport, report
from engine.retention_purge import noun, purge_dated
from webapp.extensions import db

CLI_ACTOR = "kinflow-cli"


def print_report(found: RetentionReport) -> None:
    """The same figures as the /retention page, one line per record type, then each case."""
    click.echo(f"Records past retention on {found.on.isoformat()} (dry run: nothing deleted)")
    for row in found.types:
        oldest = f", oldest started {row.oldest.isoformat()}" if row.oldest else ""
        click.echo(
            f"{row.record_type.label}: {row.count} past retention "
            f"(kept {row.period} after {row.record_type.counted_from}){oldest}"
        )
        for due in row.cases:
            click.echo(
                f"  case {due.case_id}\t{due.status}\tended {due.ended_on.isoformat()}"
                f"\tfell due {due.due_on.isoformat()}"
            )


@click.command("retention")
@click.option("--dry-run", is_flag=True, help="List the records past retention; delete nothing.")
@click.option(
    "--on", "on", metavar="YYYY-MM-DD", help="With --dry-run: the day to judge (default today)."
)
@click.option("--erase", "case_id", type=int, metavar="CASE_ID", help="Erase one case's data.")
@click.option(
    "--purge",
    "kind",
    type=click.Choice(list(DATED_COLUMNS)),
    help="Delete every record of this type past retention today.",
)
@click.option("--confirm", is_flag=True, help="Required with --erase and --purge.")
@click.option("--by", "actor", default=CLI_ACTOR, help="Who is acting (recorded in the audit).")
@with_appcontext
def retention_command(
    dry_run: bool,
    on: str | None,
    case_id: int | None,
    kind: str | None,
    confirm: bool,
    actor: str,
) -> None:
    """Report records past retention (--dry-run), erase one case past it
    (--erase CASE_ID --confirm), or delete the audit log entries, notifications, emails or
    drafts past it (--purge KIND --confirm)."""
    session = db.session()
    policy = current_app.extensions["kinflow_retention"]
    if [dry_run, case_id is not None, kind is not None].count(True) != 1:
        raise click.UsageError(
            "Give one of --dry-run, --erase CASE_ID --confirm or --purge KIND --confirm."
        )
    if dry_run:
        try:
            day = date.fromisoformat(on) if on else clock.now().date()
        except ValueError:
            raise click.UsageError(f"--on: give a date as YYYY-MM-DD, not {on!r}.") from None
        found = report(session, policy, day)
        audit.record(session, actor, "view_retention_report", None, f"on {day}", via="cli")
        session.commit()
        print_report(found)
        return
    if on:
        raise click.UsageError(
            "--on is for --dry-run: records are erased or deleted only once due today."
        )
    if not confirm:
        what = f"Erasing case {case_id}" if kind is None else f"Deleting the {noun(kind)}"
        raise click.UsageError(f"{what} cannot be undone: add --confirm.")
    try:
        if kind is not None:
            click.echo(purge_dated(session, kind, policy, actor, via="cli").summary())
            return
        done = erase_case(session, case_id, policy, actor, via="cli")
    except KinflowError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(
        f"Case {done.case_id} erased ({done.record_type}, due {done.due_on.isoformat()}): "
        f"{done.rows_deleted} rows deleted, {done.events_blanked} chronology entries blanked."
    )
