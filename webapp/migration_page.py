"""Moving running cases to a newer version in the browser: the process owner's side of
``engine.migration`` (the API does the same in ``webapp/api/versions.py``).

The preview asks the engine, for every running case on an older version of the target's
process, whether it can move and why not. The forms post back here to move a selection or
every case (the engine moves each in its own transaction), to check only, or to leave a case
on its version for good. Process owners do not see case pages, so a case shows as its number
and title, linked only for a viewer who may open it. Moves are audited as the API audits them.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from engine import audit
from engine.access import case_visible_to
from engine.errors import KinflowError, VersionNotFound
from engine.migration import keep_on_version, migrate_cases, preview
from engine.models import MAX_ID, Case, CaseStatus, ProcessVersion
from engine.roles import PROCESS_OWNER
from webapp.errors import status_for
from webapp.extensions import db, runtime
from webapp.permissions import blueprint_for_roles, me

bp = Blueprint("migration", __name__, url_prefix="/modeller/versions")

MAX_CASES = 1000  # cases ticked in one request, as the API allows


blueprint_for_roles(bp, PROCESS_OWNER)


@bp.get("/<int:version_id>/migrate")
def preview_page(version_id: int) -> str:
    return _preview_page(_target(version_id))


@bp.post("/<int:version_id>/migrate")
def move(version_id: int) -> str | tuple[str, int]:
    """Move the ticked cases, or every case that can; a dry run only says what would happen."""
    target = _target(version_id)
    dry_run = request.form.get("dry_run") == "1"
    choice = request.form.get("move")
    case_ids: list[int] | None = None
    if choice == "selected":
        ticked = [value for value in request.form.getlist("case") if value.strip()]
        if not ticked:
            problem = "case: tick at least one case to move, or press 'Move all that can move'."
            return _preview_page(target, problem), 400
        case_ids, problem = _candidates(target, ticked)
        if problem:
            return _preview_page(target, problem), 400
    elif choice != "all":
        return _preview_page(target, "Press 'Move selected' or 'Move all that can move'."), 400
    session = db.session()
    actor = me().username
    results = migrate_cases(session, runtime(), target, case_ids, actor, dry_run)
    if not dry_run:
        for result in results:
            if result.moved:
                audit.record(session, actor, "migrate_case", result.case_id, request.path, "web")
        session.commit()
    ids = [result.case_id for result in results]
    titles = dict(session.execute(select(Case.id, Case.title).where(Case.id.in_(ids))).all())
    return render_template(
        "migration/result.html",
        target=target,
        results=results,
        titles=titles,
        linked=_visible(ids),
        dry_run=dry_run,
    )


@bp.post("/<int:version_id>/keep")
def keep(version_id: int) -> Response | tuple[str, int]:
    """Leave one case on its version for good ("keep"), or let it move again ("release")."""
    target = _target(version_id)
    kept, released = request.form.get("keep", "").strip(), request.form.get("release", "").strip()
    if bool(kept) == bool(released):
        problem = "case: press 'Leave on version' or 'Release' beside one case."
        return _preview_page(target, problem), 400
    chosen, problem = _candidates(target, [kept or released])
    if problem:
        return _preview_page(target, problem), 400
    case_id = chosen[0]
    if request.form.get("dry_run") == "1":
        flash(f"'Check only' was ticked, so case {case_id} was left as it was.")
        return redirect(url_for(".preview_page", version_id=target.id))
    session = db.session()
    actor = me().username
    try:
        case = keep_on_version(session, case_id, actor, keep=bool(kept))
    except KinflowError as error:
        session.rollback()
        return _preview_page(target, f"case {case_id}: {error}"), status_for(error)
    action = "keep_on_version" if kept else "release_from_version"
    audit.record(session, actor, action, case_id, request.path, "web")
    session.commit()
    number = session.scalar(
        select(ProcessVersion.version).where(ProcessVersion.id == case.version_id)
    )
    if kept:
        flash(f"Case {case_id} stays on version {number} for good; moving all will skip it.")
    else:
        flash(f"Case {case_id} may be moved from version {number} again.")
    return redirect(url_for(".preview_page", version_id=target.id))


# -- helpers --------------------------------------------------------------------------------


def _target(version_id: int) -> ProcessVersion:
    # An id beyond the column's range would be a database error on PostgreSQL, not a 404.
    target = db.session.get(ProcessVersion, version_id) if 0 < version_id <= MAX_ID else None
    if target is None:
        raise VersionNotFound(f"There is no process version {version_id}.")
    return target


def _preview_page(target: ProcessVersion, problem: str | None = None) -> str:
    session = db.session()
    checks = preview(session, runtime(), target)
    ids = [check.case_id for check in checks]
    kept = set(session.scalars(select(Case.id).where(Case.id.in_(ids), Case.stays_on_version)))
    newest = session.scalar(
        select(func.max(ProcessVersion.version)).where(
            ProcessVersion.process_id == target.process_id
        )
    )
    return render_template(
        "migration/preview.html",
        target=target,
        checks=checks,
        kept=kept,
        linked=_visible(ids),
        newest=newest,
        problem=problem,
    )


def _candidates(target: ProcessVersion, values: list[str]) -> tuple[list[int], str | None]:
    """The case numbers sent, if each is a running case on an older version of the target's
    process; otherwise what is wrong (one message for unknown and other cases alike, so the
    answer does not tell which case numbers exist)."""
    ids: list[int] = []
    for value in values:
        value = value.strip()
        if not value.isdigit() or not 0 < int(value) <= MAX_ID:
            return [], f"case: '{value[:20]}' is not a case number."
        ids.append(int(value))
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_CASES:
        return [], f"case: at most {MAX_CASES} cases at a time; use 'Move all that can move'."
    found = set(
        db.session.scalars(
            select(Case.id)
            .join(ProcessVersion, ProcessVersion.id == Case.version_id)
            .where(
                Case.id.in_(ids),
                Case.status == CaseStatus.ACTIVE,
                ProcessVersion.process_id == target.process_id,
                ProcessVersion.version < target.version,
            )
        )
    )
    others = [str(case_id) for case_id in ids if case_id not in found]
    if others:
        which = "case " + ", ".join(others)
        return [], (
            f"{which}: not a running case on an older version of {target.name}, so this page "
            f"cannot move it to version {target.version} or keep it back. Nothing was changed."
        )
    return ids, None


def _visible(case_ids: list[int]) -> set[int]:
    """The cases whose page the viewer may open (a process owner alone usually may not)."""
    if not case_ids:
        return set()
    query = select(Case.id).where(Case.id.in_(case_ids), case_visible_to(me()))
    return set(db.session.scalars(query))
