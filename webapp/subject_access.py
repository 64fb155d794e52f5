"""Subject access: one family's whole record, reviewed, marked for redaction and released.

Who: data officers (any case) and the FGC managers of the case's team
(``engine.subject_access.subject_access_case``): other roles get 403, a manager of another
team 404, as for any case they may not see. Every view is audited ("view_subject_access");
every release, printed or JSON, is audited as "export_subject_access" with a "disclosure"
line saying what was released, to whom and why (the when is the entry's time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine import audit
from engine.errors import FormInvalid, KinflowError
from engine.models import Case
from engine.passage_copies import SameText
from engine.redaction import MAX_REASON_LENGTH, mark, marks_for, pending_copies, present, unmark
from engine.roles import DATA_OFFICER, FGC_MANAGER
from engine.subject_access import SubjectAccessExport, build_export, may_review, subject_access_case
from webapp.extensions import db, runtime
from webapp.permissions import me, requires_roles

bp = Blueprint("subject_access", __name__)

VIEWED = "view_subject_access"
EXPORTED = "export_subject_access"
DISCLOSURE = "disclosure"
DEFAULT_TO = "the family (the data subject)"
DEFAULT_WHY = "subject access request"
MAX_DISCLOSURE_TEXT = 80


@bp.get("/subject-access")
@requires_roles(DATA_OFFICER, FGC_MANAGER)
def index() -> ResponseReturnValue:
    """Find a case by its number (data officers reach cases no case list shows them)."""
    number = (request.args.get("case") or "").strip()
    if number:
        if not number.isdigit():
            flash("Case number: give the number as digits, e.g. 42.", "error")
        else:
            return redirect(url_for(".review", case_id=int(number)))
    return render_template("subject_access/index.html", number=number)


@bp.get("/cases/<int:case_id>/subject-access")
def review(case_id: int) -> ResponseReturnValue:
    """The reviewer's page (``?release=1``: the printable release, redactions applied)."""
    release = request.args.get("release") == "1"
    case, export = _export(case_id)
    session = db.session()
    marks = marks_for(session, case.id)
    document = present(export, marks, release=release)
    disclosure = _disclosure() if release else None
    _audit(case, document, disclosure)
    return render_template(
        "subject_access/review.html",
        case=case,
        doc=document,
        release=release,
        disclosure=disclosure,
        defaults={"to": DEFAULT_TO, "why": DEFAULT_WHY},
        max_reason=MAX_REASON_LENGTH,
        max_disclosure=MAX_DISCLOSURE_TEXT,
    )


@bp.get("/cases/<int:case_id>/subject-access.json")
def export_json(case_id: int) -> ResponseReturnValue:
    """The release JSON, redactions applied; ``?marks=1``: the reviewer's, with the marks."""
    release = request.args.get("marks") != "1"
    case, export = _export(case_id)
    document = present(export, marks_for(db.session(), case.id), release=release)
    disclosure = _disclosure() if release else None
    _audit(case, document, disclosure)
    response = jsonify(document)
    name = f"case-{case.id}-subject-access{'' if release else '-review'}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.post("/cases/<int:case_id>/subject-access/marks")
def add_mark(case_id: int) -> ResponseReturnValue:
    """Mark a passage; ``copies=1`` (the form's checkbox, ticked by default): and the other
    places holding its text."""
    case, export = _export(case_id)
    session = db.session()
    passage = request.form.get("passage", "")
    copies = request.form.get("copies") == "1"
    # Counted before marking, for the message only: mark() decides again in its transaction.
    pending = []
    if copies:
        pending = pending_copies(SameText(export), marks_for(session, case.id), passage.strip())
    try:
        mark(session, export, passage, request.form.get("reason", ""), me().username, copies=copies)
    except FormInvalid as invalid:
        messages = "; ".join(invalid.errors.values())
        flash(f"The passage was not marked. {messages}", "error")
        return redirect(_back(case.id, passage)), 303
    if pending:
        places = "place" if len(pending) == 1 else "places"
        flash(
            f"Marked, with the {len(pending)} other {places} holding the same text: the release "
            "shows the reason in place of the text.",
            "success",
        )
    else:
        flash("Marked: the release shows the reason in place of the text.", "success")
    return redirect(_back(case.id, passage)), 303


@bp.post("/cases/<int:case_id>/subject-access/marks/remove")
def remove_mark(case_id: int) -> ResponseReturnValue:
    case = _case(case_id)
    passage = request.form.get("passage", "")
    removed = unmark(db.session(), case.id, passage, me().username)
    flash(
        "Mark removed: the release shows the text again."
        if removed
        else "That passage was not marked (someone may have removed the mark already).",
        "success" if removed else "info",
    )
    return redirect(_back(case.id, passage)), 303


@bp.app_context_processor
def _links() -> dict[str, Any]:
    """For the case page's link: whether the signed-in user may open the export."""

    def may_open_subject_access(case: Case) -> bool:
        return may_review(me(), case)

    return {"may_open_subject_access": may_open_subject_access}


@bp.context_processor
def _template_helpers() -> dict[str, Any]:
    return {"parsed": datetime.fromisoformat, "passage_anchor": passage_anchor}


def passage_anchor(key: str) -> str:
    """The page id of a passage or entry, so a mark's form returns to where it was."""
    return "p-" + "".join(c if c.isalnum() else "-" for c in key.strip())


def _case(case_id: int) -> Case:
    return subject_access_case(db.session(), me(), case_id)


def _export(case_id: int) -> tuple[Case, SubjectAccessExport]:
    case = _case(case_id)
    session = db.session()
    forms = runtime().store.version(session, case.version_id).forms
    return case, build_export(session, case, forms)


def _disclosure() -> dict[str, str]:
    """To whom and why a release goes, from the release link's form (defaults: the family,
    for their subject access request)."""
    found = {}
    for field, label, default in (("to", "Disclosed to", DEFAULT_TO), ("why", "Why", DEFAULT_WHY)):
        text = " ".join((request.args.get(field) or "").split()) or default
        if len(text) > MAX_DISCLOSURE_TEXT:
            raise KinflowError(f"{label}: at most {MAX_DISCLOSURE_TEXT} characters.")
        found[field] = text
    return found


def _audit(case: Case, document: dict[str, Any], disclosure: dict[str, str] | None) -> None:
    session = db.session()
    username = me().username
    if disclosure is None:
        audit.record(session, username, VIEWED, case.id, request.full_path.rstrip("?"))
    else:
        audit.record(session, username, EXPORTED, case.id, request.path)
        fmt = "JSON" if request.path.endswith(".json") else "printed"
        line = (
            f"subject access export of case {case.id} ({fmt}, "
            f"{document['redactions']} passages redacted) to {disclosure['to']}; "
            f"why: {disclosure['why']}"
        )
        audit.record(session, username, DISCLOSURE, case.id, line)
    session.commit()


def _back(case_id: int, passage: str) -> str:
    return url_for(".review", case_id=case_id, _anchor=passage_anchor(passage))
