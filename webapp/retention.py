"""Retention: which records are past their period (a dry run), erasing one case, and deleting
the dated records of one type past retention.

The report names cases by number only, never by family, so admins (who run the system but do
not read families' records) may see it as well as data officers. Erasing and deleting are for
data officers alone: one case at a time with the case number typed again to confirm, one
dated record type at a time with the number past retention today typed to confirm. Viewing
the report, erasing and deleting are audited.
"""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from engine import audit, clock
from engine.erasure import NotPastRetention, erase_case
from engine.retention import DATED_COLUMNS, RetentionPolicy, report
from engine.retention_purge import CountChanged, describe, noun, purge_dated
from engine.roles import ADMIN, DATA_OFFICER
from webapp.extensions import db
from webapp.permissions import me, requires_roles

bp = Blueprint("retention", __name__)

VIEWED = "view_retention_report"


def policy() -> RetentionPolicy:
    return current_app.extensions["kinflow_retention"]


@bp.get("/retention")
@requires_roles(DATA_OFFICER, ADMIN)
def index() -> ResponseReturnValue:
    today = clock.now().date()
    raw = (request.args.get("on") or "").strip()
    error = None
    on = today
    if raw:
        try:
            on = date.fromisoformat(raw)
        except ValueError:
            error = "On: give a date as YYYY-MM-DD, e.g. 2032-01-31."
    session = db.session()
    found = report(session, policy(), on)
    may_erase = DATA_OFFICER in me().roles
    purgeable = []
    if may_erase:
        # What may be deleted is judged on today, whichever day the report previews.
        past_today = found if on == today else report(session, policy(), today)
        purgeable = [
            (row, describe(row.record_type.key, row.count))
            for row in past_today.types
            if row.record_type.key in DATED_COLUMNS and row.count
        ]
    audit.record(session, me().username, VIEWED, None, request.full_path.rstrip("?"))
    session.commit()
    return render_template(
        "retention/index.html",
        found=found,
        on_text=raw or on.isoformat(),
        error=error,
        today=today,
        may_erase=may_erase,
        purgeable=purgeable,
    ), (400 if error else 200)


@bp.post("/retention/cases/<int:case_id>/erase")
@requires_roles(DATA_OFFICER)
def erase(case_id: int) -> ResponseReturnValue:
    typed = (request.form.get("confirm") or "").strip()
    if typed != str(case_id):
        flash(f"Confirm: type the case number {case_id} to erase it. Nothing was erased.", "error")
        return redirect(url_for(".index")), 303
    try:
        done = erase_case(db.session(), case_id, policy(), me().username, via="web")
    except NotPastRetention as refusal:
        flash(str(refusal), "error")
        return redirect(url_for(".index")), 303
    flash(
        f"Case {done.case_id} erased: {done.rows_deleted} records of the family deleted and "
        f"{done.events_blanked} chronology entries blanked. The case number stays, as an "
        "empty shell, for the audit log.",
        "success",
    )
    return redirect(url_for(".index")), 303


@bp.post("/retention/<kind>/purge")
@requires_roles(DATA_OFFICER)
def purge(kind: str) -> ResponseReturnValue:
    if kind not in DATED_COLUMNS:
        abort(404)
    typed = (request.form.get("confirm") or "").strip()
    if not (typed.isascii() and typed.isdigit() and len(typed) <= 9):
        flash(
            f"Confirm: type the number of {noun(kind)} past retention today, as shown, to "
            "delete them. Nothing was deleted.",
            "error",
        )
        return redirect(url_for(".index")), 303
    try:
        done = purge_dated(
            db.session(), kind, policy(), me().username, via="web", expected=int(typed)
        )
    except CountChanged as refusal:
        flash(str(refusal), "error")
        return redirect(url_for(".index")), 303
    flash(done.summary(), "success")
    return redirect(url_for(".index")), 303
