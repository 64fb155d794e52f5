"""Process versions through the API: validate and deploy diagrams and forms, list the deployed
versions, and move running cases to a newer version.

Uploads are ``multipart/form-data``: the diagram as ``file`` (more ``file`` parts for called
diagrams and DMN tables, which may also come as ``dmn``) and forms as ``forms``, one
``<key>.json`` each. Validating answers 200 for any input, however malformed: what is wrong
with the upload itself (a missing diagram, a file of the wrong kind, text that is not UTF-8)
is listed with the validator's problems. An upload is capped at ``MAX_UPLOAD_BYTES``.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from flask import g, jsonify, request
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from engine import audit
from engine.authoring import MAX_FILES, deploy_files, problems_json, validate_files
from engine.deploy import FORMS_PREFIX
from engine.errors import FormInvalid, ValidationFailed, VersionNotFound
from engine.forms import FORM_KEY_PATTERN
from engine.migration import migrate_cases
from engine.models import MAX_ID, Case, CaseStatus, ProcessVersion
from engine.roles import PROCESS_OWNER
from webapp.api import bp
from webapp.api.auth import api_user, audit_request, require_any_role
from webapp.api.body import json_object
from webapp.errors import error_response
from webapp.extensions import db, runtime

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_MB = MAX_UPLOAD_BYTES // (1024 * 1024)
MAX_CASES = 1000  # case ids in one migration request
_UPLOADS = frozenset({"api.validate_version", "api.deploy_version"})
_PARTS = ("file", "dmn", "forms")
Problem = dict[str, Any]


@bp.url_value_preprocessor
def _limit_uploads(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Cap uploads before anything reads the body (the app's checks read the form first)."""
    if endpoint not in _UPLOADS:
        return
    request.max_content_length = MAX_UPLOAD_BYTES
    request.max_form_parts = 2 * MAX_FILES
    if request.content_length is not None and request.content_length > MAX_UPLOAD_BYTES:
        raise RequestEntityTooLarge()
    # Only file parts are read here; text parts are named as problems and never stored. They
    # are taken out of the form so that the app's check for text the database cannot store
    # does not answer 400 to an upload that should get its list of problems.
    g.upload_text_parts = list(request.form)
    request.__dict__["form"] = ImmutableMultiDict()


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> tuple[Response | str, int]:
    if request.endpoint not in _UPLOADS:
        return error_response(413, error.description or "The request is too large.")
    message = (
        f"The upload is too large: Kinflow accepts at most {MAX_UPLOAD_MB} MB "
        f"({MAX_UPLOAD_BYTES:,} bytes) and {MAX_FILES} files in one request. "
        "Send fewer or smaller files."
    )
    body = {"error": "Upload too large", "message": message, "limit_bytes": MAX_UPLOAD_BYTES}
    return jsonify(body), 413


@bp.post("/versions/validate")
def validate_version() -> dict[str, Any]:
    files, problems = _upload()
    if files:
        problems += problems_json(validate_files(files))
    return {"ok": not problems, "problems": problems}


@bp.post("/versions")
def deploy_version() -> tuple[Response | dict[str, Any], int]:
    require_any_role((PROCESS_OWNER,), "deploy process versions")
    files, problems = _upload()
    if problems:
        return _refused(problems)
    session = db.session()
    text = {name: data.decode("utf-8") for name, data in files.items()}
    try:
        deployed = deploy_files(session, text, api_user().username, runtime().codec)
    except ValidationFailed as exc:
        return _refused([asdict(problem) for problem in exc.problems])
    audit_request("deploy_version")
    session.commit()
    counts = _running_counts()
    versions = [_version_json(d.version, counts) | {"created": d.created} for d in deployed]
    return {"versions": versions}, 201 if any(d.created for d in deployed) else 200


@bp.get("/versions")
def list_versions() -> dict[str, Any]:
    session = db.session()
    versions = session.scalars(
        select(ProcessVersion).order_by(ProcessVersion.process_id, ProcessVersion.version)
    )
    counts = _running_counts()
    return {"versions": [_version_json(v, counts) for v in versions]}


@bp.post("/versions/<int:version_id>/migrate")
def migrate_version(version_id: int) -> dict[str, Any]:
    require_any_role((PROCESS_OWNER,), "move running cases to another version")
    session = db.session()
    target = session.get(ProcessVersion, version_id) if 0 < version_id <= MAX_ID else None
    if target is None:
        raise VersionNotFound(f"There is no process version {version_id}.")
    case_ids, dry_run = _migration_request(json_object())
    actor = api_user().username
    results = migrate_cases(session, runtime(), target, case_ids, actor, dry_run)
    if not dry_run:
        for result in results:
            if result.moved:
                audit.record(session, actor, "migrate_case", result.case_id, request.path, "api")
        session.commit()
    return {
        "version": _version_json(target, _running_counts()),
        "dry_run": dry_run,
        "results": [
            {
                "case_id": r.case_id,
                "from_version": r.from_version,
                "moved": r.moved,
                "reason": r.reason,
            }
            for r in results
        ],
    }


# -- reading an upload ----------------------------------------------------------------------


def _upload() -> tuple[dict[str, bytes], list[Problem]]:
    """The uploaded files by the names a version keeps them under, and what is wrong."""
    files: dict[str, bytes] = {}
    problems: list[Problem] = []
    for name in g.get("upload_text_parts", []):
        name = _printable(name)
        if name in _PARTS:
            why = f"'{name}' was sent as text; attach it as a file (curl -F {name}=@<file>)."
            problems.append(_problem("(upload)", why))
        else:
            problems.append(_unused(name))
    for part, storage in request.files.items(multi=True):
        if part not in _PARTS:
            problems.append(_unused(part))
            continue
        name, why = _file_name(part, storage)
        if why:
            problems.append(_problem(name or "(upload)", why))
        elif name in files:
            problems.append(_problem(name, f"Two files named {name} were sent; rename one."))
        else:
            files[name] = storage.read(MAX_UPLOAD_BYTES + 1)
    if not any(name.lower().endswith(".bpmn") for name in files):
        why = "No BPMN diagram was sent: attach it as the part 'file' (curl -F file=@x.bpmn)."
        problems.insert(0, _problem("(upload)", why))
    for name, data in files.items():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(_problem(name, "This file is not UTF-8 text; save it as UTF-8."))
    return files, problems


def _file_name(part: str, storage: FileStorage) -> tuple[str, str | None]:
    """The name a file is kept under, or why it cannot be used."""
    # Only the last path component: a browser or client may send a full local path.
    name = os.path.basename((storage.filename or "").replace("\\", "/")).strip()
    if not name:
        return "", f"A file in the part '{part}' has no file name; give it one."
    if len(name) > 200 or _printable(name) != name:
        return "", f"A file name in the part '{part}' is too long or holds control characters."
    lower = name.lower()
    if part == "forms":
        key = name[: -len(".json")] if lower.endswith(".json") else ""
        if not FORM_KEY_PATTERN.match(key):
            why = (
                f"'{name}' is not a form file: name it <key>.json, the key in lower-case "
                "letters, digits, _ and - (the diagram's camunda:formKey)."
            )
            return name, why
        return FORMS_PREFIX + name, None
    wanted = (".dmn",) if part == "dmn" else (".bpmn", ".dmn")
    if not lower.endswith(wanted):
        return name, f"'{name}' (part '{part}') is not a {' or '.join(wanted)} file."
    return name, None


def _unused(part: str | None) -> Problem:
    why = "send diagrams as 'file' and forms as 'forms'"
    return _problem("(upload)", f"The part '{_printable(part)}' is not used: {why}.")


def _printable(text: str | None) -> str:
    return "".join(c for c in text or "" if c.isprintable())


def _problem(file: str, message: str) -> Problem:
    return {"file": file, "element": None, "line": None, "message": message}


def _refused(problems: list[Problem]) -> tuple[Response, int]:
    message = f"Nothing was deployed: the files have {len(problems)} problem(s)."
    body = {"error": "Not deployed", "message": message, "ok": False, "problems": problems}
    return jsonify(body), 422


# -- versions and migration requests --------------------------------------------------------


def _running_counts() -> dict[int, int]:
    query = (
        select(Case.version_id, func.count())
        .where(Case.status == CaseStatus.ACTIVE)
        .group_by(Case.version_id)
    )
    return {version_id: count for version_id, count in db.session().execute(query)}


def _version_json(version: ProcessVersion, counts: dict[int, int]) -> dict[str, Any]:
    return {
        "id": version.id,
        "process_id": version.process_id,
        "name": version.name,
        "version": version.version,
        "deployed_at": version.deployed_at.isoformat(),
        "deployed_by": version.deployed_by,
        "running_cases": counts.get(version.id, 0),
    }


def _migration_request(body: dict[str, Any]) -> tuple[list[int] | None, bool]:
    errors = {key: "This field is not known here." for key in body if key not in _MIGRATE_FIELDS}
    case_ids, dry_run = body.get("case_ids"), body.get("dry_run", False)
    if case_ids is not None:
        valid = isinstance(case_ids, list) and all(
            isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in case_ids
        )
        if not valid:
            errors["case_ids"] = "Expected a list of case numbers, or leave it out for all."
        elif len(case_ids) > MAX_CASES:
            errors["case_ids"] = f"At most {MAX_CASES} cases in one request."
        else:
            case_ids = list(dict.fromkeys(case_ids))
    if not isinstance(dry_run, bool):
        errors["dry_run"] = "Expected true or false."
    if errors:
        raise FormInvalid(errors)
    return case_ids, dry_run


_MIGRATE_FIELDS = frozenset({"case_ids", "dry_run"})
