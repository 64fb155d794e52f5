"""Retention: which records are past their period (a dry run), and erasing one case.

The report names cases by number only, never by family, so admins (who run the system but do
not read families' records) may see it as well as data officers. Erasing is for data
officers alone, one case at a time, with the case number typed again to confirm. Viewing the
report and erasing are audited.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine import audit, clock
from engine.erasure import NotPastRetention, erase_case
from engine.retention import RetentionPolicy, report
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
    audit.record(session, me().username, VIEWED, None, request.full_path.rstrip("?"))
    session.commit()
    return render_template(
        "retention/index.html",
        found=found,
        on_text=raw or on.isoformat(),
        error=error,
        today=today,
        may_erase=DATA_OFFICER in me().roles,
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
