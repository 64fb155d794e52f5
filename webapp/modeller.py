"""The browser modeller for process owners: drafts, validation, deploys and comparisons.

Everything a process owner changes lives in a draft (``engine.authoring``), saved by the page
every few seconds through the JSON endpoints here, each taking the revision the page last saw,
so a second window is told about a conflict rather than overwriting it. Validating and
deploying go through the same functions as ``kinflow validate`` and the API; a refused deploy
leaves the draft as it was. Drafts are not case data, so only deploys are audited.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path, PurePath
from typing import Any
from xml.sax.saxutils import quoteattr

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from engine import authoring
from engine.compare import compare_files
from engine.deploy import list_versions
from engine.errors import ConcurrentChange, KinflowError, NotFound, ValidationFailed
from engine.models import MAX_ID, ProcessVersion
from engine.roles import PROCESS_OWNER
from engine.time_words import clock_time
from engine.xmlsafe import BPMN_NS, MAX_BYTES, XmlRejected, parse_xml
from webapp.errors import status_for
from webapp.extensions import db, runtime
from webapp.permissions import audit_change, blueprint_for_roles, me

bp = Blueprint("modeller", __name__, url_prefix="/modeller")

# A JSON body carries one diagram, escaped: allow for the escaping, refuse anything larger.
MAX_JSON_BYTES = 2 * MAX_BYTES
_QUOTED_ID = re.compile(r"'([^']+)'\s*$")

BLANK_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" \
xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="{pid}_definitions" \
targetNamespace="http://kinflow.org/workflows" exporter="Kinflow" exporterVersion="0.1">
  <bpmn:process id="{pid}" name={name} isExecutable="true">
    <bpmn:startEvent id="{pid}_started" name="Started" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="{pid}_diagram">
    <bpmndi:BPMNPlane id="{pid}_plane" bpmnElement="{pid}">
      <bpmndi:BPMNShape id="{pid}_started_di" bpmnElement="{pid}_started">
        <dc:Bounds x="180" y="160" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


blueprint_for_roles(bp, PROCESS_OWNER)


# -- pages ----------------------------------------------------------------------------------


@bp.get("")
def index() -> str:
    return _index_page()


def _index_page(**extra: Any) -> str:
    session = db.session()
    versions = list_versions(session)
    versions.sort(key=lambda v: (v.process_id, -v.version))
    return render_template(
        "modeller/index.html",
        versions=versions,
        previous=_previous_ids(versions),
        drafts=authoring.drafts_of(session, me().username),
        **extra,
    )


@bp.post("/new")
def new_diagram() -> Response | tuple[str, int]:
    session = db.session()
    title = " ".join(request.form.get("title", "").split()) or "New process"
    if len(title) > 255:
        return _index_page(new_error="title: at most 255 characters, please."), 400
    pid = _unused_process_id(title)
    xml = BLANK_DIAGRAM.format(pid=pid, name=quoteattr(title))
    draft = authoring.start_draft(
        session, me().username, title, {f"{pid}.bpmn": xml}, main_file=f"{pid}.bpmn"
    )
    return redirect(url_for(".draft", draft_id=draft.id))


@bp.post("/import")
def import_file() -> Response | tuple[str, int]:
    upload = request.files.get("file")
    try:
        name, text = _uploaded_diagram(upload)
        draft = authoring.start_draft(
            db.session(), me().username, PurePath(name).stem, {name: text}, main_file=name
        )
    except KinflowError as error:
        db.session.rollback()
        return _index_page(import_error=f"file: {error}"), 400
    return redirect(url_for(".draft", draft_id=draft.id))


@bp.post("/versions/<int:version_id>/open")
def open_version(version_id: int) -> Response:
    session = db.session()
    version = session.get(ProcessVersion, version_id) if 0 < version_id <= MAX_ID else None
    if version is None:
        abort(404)
    draft = authoring.draft_from_version(session, me().username, version)
    return redirect(url_for(".draft", draft_id=draft.id))


@bp.get("/drafts/<int:draft_id>")
def draft(draft_id: int) -> str:
    found = authoring.get_draft(db.session(), me().username, draft_id)
    diagrams = sorted(n for n in found.files if n.lower().endswith(".bpmn"))
    shown = request.args.get("file") or found.main_file
    if shown not in diagrams:
        if "file" in request.args:
            raise NotFound(f"file: this draft has no diagram named '{shown}'.")
        shown = diagrams[0] if diagrams else None
    page = {
        "draftId": found.id,
        "revision": found.revision,
        "file": shown,
        "files": diagrams,
        "xml": found.files.get(shown, "") if shown else "",
        "savedAt": clock_time(found.updated_at),
        "urls": {
            "save": url_for(".save", draft_id=found.id),
            "validate": url_for(".validate", draft_id=found.id),
            "deploy": url_for(".deploy", draft_id=found.id),
            "self": url_for(".draft", draft_id=found.id),
        },
    }
    has_form_editor = any(rule.rule == "/forms" for rule in current_app.url_map.iter_rules())
    return render_template(
        "modeller/draft.html",
        draft=found,
        diagrams=diagrams,
        shown=shown,
        page=page,
        forms_url=f"/forms?draft={found.id}" if has_form_editor else None,
        bundle_ready=_bundle_ready(),
    )


@bp.post("/drafts/<int:draft_id>/delete")
def delete(draft_id: int) -> Response:
    session = db.session()
    title = authoring.get_draft(session, me().username, draft_id).title
    authoring.delete_draft(session, me().username, draft_id)
    flash(f"Draft '{title}' deleted.", "info")
    return redirect(url_for(".index"))


@bp.get("/compare")
def compare() -> tuple[str, int]:
    session = db.session()
    versions = list_versions(session)
    chosen, errors = {}, {}
    for field in ("from", "to"):
        raw = request.args.get(field, "").strip()
        known = raw.isdigit() and 0 < int(raw) <= MAX_ID
        version = session.get(ProcessVersion, int(raw)) if known else None
        if raw and version is None:
            errors[field] = f"{field}: there is no version {raw}; choose one from the list."
        chosen[field] = version
    older, newer = chosen["from"], chosen["to"]
    context: dict[str, Any] = {"versions": versions, "errors": errors, "older": older}
    context |= {"newer": newer, "bundle_ready": _bundle_ready()}
    if older is None or newer is None or errors:
        return render_template("modeller/compare.html", **context), 400 if errors else 200
    result = compare_files(older.files, newer.files)
    diagrams = sorted(n for n in newer.files if n.lower().endswith(".bpmn"))
    shown = request.args.get("file")
    if shown not in diagrams:
        shown = _entry_file(newer, diagrams)
    context |= {
        "result": result,
        "diagrams": diagrams,
        "shown": shown,
        "page": {"xml": newer.files.get(shown, "") if shown else "", **result.marks(shown)},
    }
    return render_template("modeller/compare.html", **context), 200


# -- JSON endpoints for the page's script ---------------------------------------------------


@bp.post("/drafts/<int:draft_id>/save")
def save(draft_id: int) -> tuple[Response, int]:
    try:
        saved = _save_from_request(draft_id)
    except KinflowError as error:
        return _json_error(error)
    return jsonify(revision=saved.revision, saved_at=clock_time(saved.updated_at)), 200


@bp.post("/drafts/<int:draft_id>/validate")
def validate(draft_id: int) -> tuple[Response, int]:
    try:
        _, file, xml = _payload(needs_revision=False)
        files = _files_with(authoring.get_draft(db.session(), me().username, draft_id), file, xml)
    except KinflowError as error:
        return _json_error(error)
    validated = authoring.validate_files(files)
    problems = _with_element_ids(authoring.problems_json(validated))
    return jsonify(ok=validated.ok, problems=problems), 200


@bp.post("/drafts/<int:draft_id>/deploy")
def deploy(draft_id: int) -> tuple[Response, int]:
    """Save what the page shows, then deploy the draft; refused problems keep the draft."""
    session = db.session()
    try:
        saved = _save_from_request(draft_id)
    except KinflowError as error:
        return _json_error(error)
    answer: dict[str, Any] = {
        "revision": saved.revision,
        "saved_at": clock_time(saved.updated_at),
    }
    try:
        deployed = authoring.deploy_files(session, saved.files, me().username, runtime().codec)
    except ValidationFailed as failed:
        # asdict gives the fields of authoring.problems_json
        problems = _with_element_ids([asdict(p) for p in failed.problems])
        return jsonify(answer | {"ok": False, "problems": problems}), 422
    except KinflowError as error:
        return _json_error(error, answer)
    for item in deployed:
        if item.created:
            target = f"{item.version.process_id} version {item.version.version}"
            audit_change(None, "deploy_version", target=target)
    answer |= {"ok": True, "problems": [], "versions": [_version_json(d) for d in deployed]}
    return jsonify(answer), 200


# -- helpers --------------------------------------------------------------------------------


def _json_error(error: KinflowError, extra: dict[str, Any] | None = None) -> tuple[Response, int]:
    """An engine error as this page's script reads it (the app's own handler answers HTML)."""
    db.session.rollback()
    return jsonify({**(extra or {}), "ok": False, "message": str(error)}), status_for(error)


def _payload(needs_revision: bool = True) -> tuple[int, str, str]:
    """The page's JSON: the revision it last saw, the diagram's file name and its XML."""
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise KinflowError(f"xml: a diagram may be at most {MAX_BYTES // 1_000_000} MB.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise KinflowError("The request must be JSON with revision, file and xml.")
    revision, file, xml = body.get("revision"), body.get("file"), body.get("xml")
    if needs_revision and (not isinstance(revision, int) or isinstance(revision, bool)):
        raise KinflowError("revision: must be the draft's revision number.")
    if not isinstance(file, str) or not file:
        raise KinflowError("file: name the diagram being edited.")
    if not isinstance(xml, str) or not xml.strip():
        raise KinflowError("xml: the diagram is empty.")
    if "\x00" in xml:
        raise KinflowError("xml: contains a NUL character, which no diagram can hold.")
    return revision if needs_revision else 0, file, xml


def _files_with(found: authoring.ProcessDraft, file: str, xml: str) -> dict[str, str]:
    """The draft's files with one diagram replaced; new files are not made this way."""
    if file not in found.files or not file.lower().endswith(".bpmn"):
        raise KinflowError(f"file: this draft has no diagram named '{file}'.")
    return {**found.files, file: xml}


def _save_from_request(draft_id: int) -> authoring.ProcessDraft:
    revision, file, xml = _payload()
    session = db.session()
    found = authoring.get_draft(session, me().username, draft_id)
    files = _files_with(found, file, xml)
    try:
        return authoring.save_draft(
            session, me().username, draft_id, revision, files=files, main_file=file
        )
    except ConcurrentChange:
        # The same content sent twice (a save on leaving the page that landed while the
        # reopened page restored the same work) is no conflict: nothing would be overwritten.
        current = authoring.get_draft(session, me().username, draft_id)
        if current.files == files:
            return current
        raise


def _with_element_ids(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the id the diagram knows an element by (problems name it ``userTask 'review'``)."""
    for problem in problems:
        found = _QUOTED_ID.search(problem["element"] or "")
        problem["element_id"] = found.group(1) if found else None
    return problems


def _version_json(deployed: Any) -> dict[str, Any]:
    version = deployed.version
    before = db.session.scalar(
        select(ProcessVersion.id).where(
            ProcessVersion.process_id == version.process_id,
            ProcessVersion.version == version.version - 1,
        )
    )
    compare_url = url_for(".compare", **{"from": before, "to": version.id}) if before else None
    return {
        "id": version.id,
        "process_id": version.process_id,
        "name": version.name,
        "version": version.version,
        "created": deployed.created,
        "compare_url": compare_url,
    }


def _bundle_ready() -> bool:
    """Whether ``make install`` built the modeller's script (it is never committed)."""
    return (Path(current_app.static_folder or "") / "build" / "modeller.js").is_file()


def _previous_ids(versions: list[ProcessVersion]) -> dict[int, int]:
    """Each version's predecessor of the same process, for a "compare" link."""
    by_number = {(v.process_id, v.version): v.id for v in versions}
    return {
        v.id: by_number[(v.process_id, v.version - 1)]
        for v in versions
        if (v.process_id, v.version - 1) in by_number
    }


def _entry_file(version: ProcessVersion, diagrams: list[str]) -> str | None:
    marker = f'id="{version.process_id}"'
    return next(
        (n for n in diagrams if marker in version.files[n]), diagrams[0] if diagrams else None
    )


def _unused_process_id(title: str) -> str:
    """A process id from the title ("Kinship care review" -> kinship_care_review), not yet used."""
    base = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:50] or "process"
    if not base[0].isalpha():
        base = f"process_{base}"
    taken = set(db.session.scalars(select(ProcessVersion.process_id).distinct()))
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}_{number}"
    return candidate


def _uploaded_diagram(upload: Any) -> tuple[str, str]:
    """An uploaded .bpmn file's name and text, exactly as sent, if it is a BPMN document."""
    if upload is None or not upload.filename:
        raise KinflowError("choose a .bpmn file to import.")
    name = PurePath(upload.filename.replace("\\", "/")).name
    if not name.lower().endswith(".bpmn") or len(name) > 255:
        raise KinflowError(f"'{name}' is not a .bpmn file.")
    data = upload.stream.read(MAX_BYTES + 1)
    try:
        root = parse_xml(data, name).getroot()
    except XmlRejected as error:
        raise KinflowError(str(error)) from None
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise KinflowError(f"{name} is not a BPMN 2.0 diagram.")
    try:
        return name, data.decode("utf-8")
    except UnicodeDecodeError:
        raise KinflowError(
            f"{name} is not UTF-8 text: save it as UTF-8 and import it again."
        ) from None
