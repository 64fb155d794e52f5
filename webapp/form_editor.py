"""The form editor: process owners change a form's JSON Schema with a live preview.

Forms live in process versions (``files["forms/<key>.json"]``), which never change, so a
form is edited in a draft of the process (engine/authoring.py): opening a deployed version's
form first copies that version into a draft, and deploying the draft makes a new version. The
preview is the task page's own rendering (webapp/schema_form.py, templates/macros/form.html)
of the text being typed, checked by ``engine.forms.parse_form`` as a deploy checks it.

The page works without JavaScript ("Preview" and "Save" post the text);
static/js/form-editor.js asks ``/forms/preview`` as the owner types and saves the draft every
few seconds and on leaving. Every save carries the draft revision the page last saw, so a
second window's save is reported (409), never overwritten unasked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
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
from markupsafe import Markup
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from engine import authoring
from engine.deploy import FORMS_PREFIX, list_versions
from engine.errors import ConcurrentChange, KinflowError, NotFound, ValidationFailed
from engine.forms import FORM_KEY_PATTERN, form_file_name, parse_form
from engine.models import ProcessVersion
from engine.roles import PROCESS_OWNER
from engine.time_words import clock_time
from engine.xmlsafe import MAX_BYTES
from webapp.errors import error_response, status_for
from webapp.extensions import db, runtime
from webapp.permissions import audit_change, blueprint_for_roles, me
from webapp.schema_form import build_fields

bp = Blueprint("form_editor", __name__, url_prefix="/forms")

KEY_RULE = "lowercase letters, digits, '-' and '_', starting with a letter (at most 80)"
NEW_FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "",
    "type": "object",
    "additionalProperties": False,
    "required": ["notes"],
    "x-order": ["notes"],
    "properties": {
        "notes": {
            "type": "string",
            "title": "Notes",
            "minLength": 1,
            "x-widget": "textarea",
            "x-help": "Replace this field with the form's questions.",
        }
    },
}


Page = str | tuple[str, int]


blueprint_for_roles(bp, PROCESS_OWNER)


@bp.errorhandler(KinflowError)
def _refused(error: KinflowError) -> tuple[Any, int]:
    """As the app's handler does, but the autosave, which asks for JSON, gets JSON."""
    db.session.rollback()
    status = status_for(error)
    if _wants_json():
        return jsonify(error="Not done", message=str(error)), status
    return error_response(status, str(error))


# -- checking and previewing a form's text ----------------------------------------------------


@dataclass
class Preview:
    """What the worker would see (``html``), or why the text is not a usable form."""

    html: Markup | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _problem(
    message: str, line: int | None = None, column: int | None = None, where: str | None = None
) -> dict[str, Any]:
    return {"message": message, "line": line, "column": column, "field": where}


def _json_location(text: str) -> tuple[int, int, str] | None:
    """Where the JSON breaks, to point the owner at the line (parse_form gave the verdict)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.lineno, exc.colno, exc.msg
    except (ValueError, RecursionError):
        return None
    return None


_SCHEMA_AT = re.compile(r"(?:is not a valid JSON Schema|cannot be shown) at (.+?): ")


def _field_of(reason: str) -> str | None:
    """The form field a schema problem sits in (``properties/people/items/properties/name``
    is ``people.name``), so the owner reads the question's key, not a schema path."""
    found = _SCHEMA_AT.match(reason)
    if not found:
        return None
    parts, names, i = found.group(1).split("/"), [], 0
    while i < len(parts) - 1:
        if parts[i] == "properties":
            names.append(parts[i + 1])
            i += 1
        i += 1
    return ".".join(names) or None


def _located(text: str, reason: str) -> dict[str, Any]:
    if reason.startswith("is not valid JSON"):
        place = _json_location(text)
        if place:
            line, column, why = place
            return _problem(f"Line {line}, column {column}: not valid JSON ({why}).", line, column)
        return _problem(f"The text {reason}.")
    where = _field_of(reason)
    if where:
        return _problem(f"Field '{where}': the form {reason}.", where=where)
    return _problem(f"The form {reason}.")


def preview(text: str) -> Preview:
    """The form as the task page renders it, or the problems a deploy would report."""
    if len(text.encode()) > MAX_BYTES:
        return Preview(problems=[_problem(f"The form is larger than {MAX_BYTES // 10**6} MB.")])
    try:
        schema, reasons = parse_form(text)
    except RecursionError:  # nesting deep enough to exhaust the parser
        schema, reasons = None, ["is nested too deeply to read"]
    if schema is None:
        return Preview(problems=[_located(text, r) for r in reasons])
    try:
        html = render_template("form_editor/_preview.html", fields=build_fields(schema))
    except Exception as exc:  # the schema is valid but a UI hint is not one the page reads
        current_app.logger.info("Form preview failed: %r", exc)
        reason = "passes the schema checks but the task page cannot show it"
        return Preview(problems=[_problem(f"The form {reason}: check the x- hints ({exc}).")])
    return Preview(html=Markup(html))


def _problems_html(result: Preview) -> str:
    return render_template("form_editor/_problems.html", result=result)


@bp.post("/preview")
def preview_json() -> Response:
    """The live preview: the rendered form, or the problems, for the text being typed."""
    result = preview(_posted_text())
    return jsonify(
        ok=result.ok,
        html=str(result.html or ""),
        problems=result.problems,
        problems_html=_problems_html(result),
    )


# -- the list of forms --------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployedForm:
    key: str
    title: str
    same_in: list[int]  # versions of the process with this very text
    other_in: list[int]  # versions whose text of this form differs


def form_keys(files: dict[str, Any]) -> list[str]:
    """The form keys among a version's or a draft's files."""
    return sorted(
        name[len(FORMS_PREFIX) : -len(".json")]
        for name in files
        if name.startswith(FORMS_PREFIX) and name.endswith(".json")
    )


def _file(key: str) -> str:
    return FORMS_PREFIX + form_file_name(key)


def _title_of(text: Any) -> str:
    try:
        schema = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return ""
    title = schema.get("title") if isinstance(schema, dict) else None
    return title if isinstance(title, str) else ""


def _deployed() -> list[tuple[ProcessVersion, list[DeployedForm]]]:
    """The latest version of each process, each form with the versions that use it."""
    by_process: dict[str, list[ProcessVersion]] = {}
    for version in list_versions(db.session()):
        by_process.setdefault(version.process_id, []).append(version)
    result = []
    for versions in by_process.values():
        latest = versions[-1]
        forms = []
        for key in form_keys(latest.files):
            text, users = latest.files[_file(key)], [v for v in versions if _file(key) in v.files]
            same = [v.version for v in users if v.files[_file(key)] == text]
            other = [v.version for v in users if v.files[_file(key)] != text]
            forms.append(DeployedForm(key, _title_of(text), same, other))
        result.append((latest, forms))
    return result


@bp.get("")
def index() -> Page:
    session, owner = db.session(), me().username
    raw = request.args.get("draft")
    if raw is not None:
        if not raw.isdigit():
            raise KinflowError("draft: give the number of one of your drafts.")
        return _draft_page(authoring.get_draft(session, owner, int(raw)))
    return render_template(
        "form_editor/index.html",
        processes=_deployed(),
        drafts=authoring.drafts_of(session, owner),
        form_keys=form_keys,
    )


def _draft_page(draft: authoring.ProcessDraft, status: int = 200, **extra: Any) -> Page:
    forms = [(key, _title_of(draft.files[_file(key)])) for key in form_keys(draft.files)]
    page = render_template(
        "form_editor/draft.html",
        draft=draft,
        forms=forms,
        key_rule=KEY_RULE,
        modeller_url=_modeller_url(draft.id),
        **extra,
    )
    return page, status


def _modeller_url(draft_id: int) -> str | None:
    """The draft's diagrams are edited in the modeller, another area of the app."""
    try:
        return url_for("modeller.draft", draft_id=draft_id)
    except BuildError:
        return None


@bp.post("/versions/<int:version_id>/<form_key>")
def edit_deployed(version_id: int, form_key: str) -> Response:
    """Versions never change: editing one's form starts a draft copied from that version."""
    session = db.session()
    version = session.get(ProcessVersion, version_id)
    if version is None or _file(form_key) not in version.files:
        raise NotFound(f"Version {version_id} has no form '{form_key}'.")
    draft = authoring.draft_from_version(session, me().username, version)
    flash(f"Your draft '{draft.title}' holds a copy of version {version.version}.")
    return redirect(url_for(".edit", draft_id=draft.id, form_key=form_key))


# -- the editor -------------------------------------------------------------------------------


def _draft_with(draft_id: int, form_key: str) -> authoring.ProcessDraft:
    draft = authoring.get_draft(db.session(), me().username, draft_id)
    if _file(form_key) not in draft.files:
        raise NotFound(f"Draft {draft_id} has no form '{form_key}'.")
    return draft


def _posted_text() -> str:
    # Browsers post a textarea's line breaks as CRLF; the stored file keeps plain LF.
    return request.form.get("schema", "").replace("\r\n", "\n")


def _posted_revision() -> int:
    raw = request.form.get("revision", "")
    if not raw.isdigit():
        raise KinflowError("revision: the page did not say which revision of the draft it saw.")
    return int(raw)


def _editor(
    draft: authoring.ProcessDraft, form_key: str, text: str, status: int = 200, **extra: Any
) -> Page:
    page = render_template(
        "form_editor/edit.html",
        draft=draft,
        form_key=form_key,
        file_name=_file(form_key),
        text=text,
        result=preview(text),
        revision=extra.pop("revision", draft.revision),
        **extra,
    )
    return page, status


@bp.get("/drafts/<int:draft_id>/<form_key>")
def edit(draft_id: int, form_key: str) -> Page:
    draft = _draft_with(draft_id, form_key)
    return _editor(draft, form_key, draft.files[_file(form_key)])


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@bp.post("/drafts/<int:draft_id>/<form_key>")
def save(draft_id: int, form_key: str) -> Page | Response | tuple[Response, int]:
    """The "Preview" button shows the posted text; "Save" (and the autosave, as JSON) stores it."""
    draft, text = _draft_with(draft_id, form_key), _posted_text()
    seen = _posted_revision()
    if request.form.get("action") == "preview":
        return _editor(draft, form_key, text, revision=seen)
    overwrite = request.form.get("overwrite", "")
    if overwrite.isdigit():  # the owner chose to put this form over another window's save
        seen = int(overwrite)
    files = {**draft.files, _file(form_key): text}
    try:
        saved = authoring.save_draft(db.session(), me().username, draft_id, seen, files=files)
    except ConcurrentChange as exc:
        current = authoring.get_draft(db.session(), me().username, draft_id)
        if _wants_json():
            return jsonify(error="Not saved", message=str(exc), revision=current.revision), 409
        return _editor(
            current, form_key, text, 409, revision=seen, conflict=str(exc), latest=current
        )
    if _wants_json():
        return jsonify(
            revision=saved.revision, saved_at_text=f"Saved at {clock_time(saved.updated_at)}"
        )
    flash(f"Saved forms/{form_key}.json at {clock_time(saved.updated_at)}.")
    return redirect(url_for(".edit", draft_id=draft_id, form_key=form_key))


# -- a draft's forms: adding one, validating and deploying ------------------------------------


@bp.post("/drafts/<int:draft_id>/new")
def new_form(draft_id: int) -> Page | Response:
    """A new form in the draft, started from a one-question example to edit."""
    session, owner = db.session(), me().username
    draft = authoring.get_draft(session, owner, draft_id)
    key = request.form.get("form_key", "").strip()
    error = None
    if not FORM_KEY_PATTERN.match(key):
        error = f"Form key: use {KEY_RULE}, for example 'home_visit'."
    elif _file(key) in draft.files:
        error = f"Form key: this draft already has a form '{key}'; open it from the list."
    if error:
        return _draft_page(draft, 422, key_error=error, new_key=key)
    text = json.dumps(NEW_FORM | {"title": key.replace("_", " ").capitalize()}, indent=2)
    files = {**draft.files, _file(key): text + "\n"}
    authoring.save_draft(session, owner, draft_id, _posted_revision(), files=files)
    flash(f"Added forms/{key}.json. A user task uses it once its form key is '{key}'.")
    return redirect(url_for(".edit", draft_id=draft_id, form_key=key))


@bp.post("/drafts/<int:draft_id>/validate")
def validate(draft_id: int) -> Page:
    """The checks ``kinflow validate`` and a deploy make, on every file of the draft."""
    draft = authoring.get_draft(db.session(), me().username, draft_id)
    problems = authoring.problems_json(authoring.validate_files(draft.files))
    return _draft_page(draft, problems=problems, validated=True)


@bp.post("/drafts/<int:draft_id>/deploy")
def deploy(draft_id: int) -> Page | Response:
    """Deploy the draft as new process versions; on a refusal the draft stays as it was."""
    session, owner = db.session(), me().username
    draft = authoring.get_draft(session, owner, draft_id)
    files = dict(draft.files)
    try:
        deployed = authoring.deploy_files(session, files, owner, runtime().codec)
    except ValidationFailed as exc:
        problems = [
            {"file": p.file, "element": p.element, "line": p.line, "message": p.message}
            for p in exc.problems
        ]
        message = "Not deployed: fix these problems first. Your draft is unchanged."
        return _draft_page(
            authoring.get_draft(session, owner, draft_id), 422, problems=problems, refused=message
        )
    for result in deployed:
        v = result.version
        if result.created:
            audit_change(None, "deploy_version", target=f"{v.process_id} version {v.version}")
            flash(f"Deployed {v.name} as version {v.version}. New cases start on it.")
        else:
            flash(f"{v.name}: no change from version {v.version}, so no new version was made.")
    # A form no user task names is in no version: say so, as the draft is all that holds it.
    used = {name for result in deployed for name in result.version.files}
    left_out = sorted(name for name in files if name not in used)
    if left_out:
        flash("Not deployed, because no user task uses them: " + ", ".join(left_out) + ".")
    return redirect(url_for(".index", draft=draft_id))


@bp.post("/drafts/<int:draft_id>/delete")
def delete(draft_id: int) -> Response:
    session, owner = db.session(), me().username
    title = authoring.get_draft(session, owner, draft_id).title
    authoring.delete_draft(session, owner, draft_id)
    flash(f"Deleted the draft '{title}'.")
    return redirect(url_for(".index"))
