"""A new referral: the referral form, checked on the server, starts a family's pathway.

The referral is the one form filled in before a case exists, so its draft is kept per worker
under the form's name rather than under a task. Starting the case is ``engine.intake``'s job,
shared with the API.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from engine.drafts import DraftTooLarge, discard_form_draft, load_form_draft, save_form_draft
from engine.errors import FormInvalid
from engine.intake import REFERRAL_FORM, REFERRING_ROLES, referral_form, submit_referral
from engine.time_words import clock_time
from webapp.extensions import db, runtime
from webapp.form_post import apply_action, parse_draft, parse_submission
from webapp.permissions import audit_change, me, my_actor, requires_roles
from webapp.schema_form import build_fields, error_summary

bp = Blueprint("referrals", __name__)


def _page(values: dict[str, Any], errors: dict[str, str], status: int) -> tuple[str, int]:
    schema = referral_form(db.session(), runtime())
    fields = build_fields(schema, values, errors)
    draft = load_form_draft(db.session(), REFERRAL_FORM, me().username)
    page = render_template(
        "referrals/new.html",
        schema=schema,
        fields=fields,
        summary=error_summary(fields, errors),
        draft=draft,
    )
    return page, status


@bp.get("/referrals/new")
@requires_roles(*REFERRING_ROLES)
def new() -> tuple[str, int]:
    draft = load_form_draft(db.session(), REFERRAL_FORM, me().username)
    return _page(dict(draft.data) if draft else {}, {}, 200)


@bp.post("/referrals/new")
@requires_roles(*REFERRING_ROLES)
def submit() -> Response | tuple[str, int]:
    session = db.session()
    schema = referral_form(session, runtime())
    data, action = parse_submission(schema, request.form)
    if action is not None:
        values = apply_action(parse_draft(schema, request.form), action)
        save_form_draft(session, REFERRAL_FORM, me().username, values)
        return _page(values, {}, 200)
    # Kept first, so nothing typed is lost whatever happens next.
    save_form_draft(session, REFERRAL_FORM, me().username, parse_draft(schema, request.form))
    rule = current_app.config["KINFLOW_ELIGIBILITY_RULE"]
    try:
        case = submit_referral(session, runtime(), data, my_actor(), me().team_id, rule)
    except FormInvalid as exc:
        session.rollback()
        return _page(data, exc.errors, 422)
    discard_form_draft(session, REFERRAL_FORM, me().username)
    session.commit()
    audit_change(case.id, "start_referral", f"case {case.id}")
    flash(f"Referral sent: {case.title} (case {case.id}). The FGC service will acknowledge it.")
    return redirect(url_for("cases.show", case_id=case.id))


@bp.post("/referrals/new/draft")
@requires_roles(*REFERRING_ROLES)
def draft() -> Response | tuple[Response, int]:
    """Keep what is typed in the referral form; the autosave script and the button post here."""
    session = db.session()
    schema = referral_form(session, runtime())
    wants_json = request.accept_mimetypes.best_match(["text/html", "application/json"])
    try:
        saved_at = save_form_draft(
            session, REFERRAL_FORM, me().username, parse_draft(schema, request.form)
        )
    except DraftTooLarge as exc:
        session.rollback()
        if wants_json == "application/json":
            return jsonify(error="Draft not saved", message=str(exc)), 413
        flash(str(exc), "error")
        return redirect(url_for("referrals.new"))
    if wants_json == "application/json":
        return jsonify(saved_at=saved_at.isoformat(), saved_at_text=clock_time(saved_at))
    flash(f"Draft saved at {clock_time(saved_at)}. It is kept until you send the referral.")
    return redirect(url_for("referrals.new"))
