"""The OpenAPI 3.1 document at ``/api/v1/openapi.json``: every endpoint, and no other.

Served without a token (it is documentation). The referral form is embedded as currently
deployed, so the document says what ``POST /cases`` accepts today. ``tests/test_api_openapi.py``
checks the document against the routes and the responses against the document.
"""

from __future__ import annotations

from typing import Any

from engine.forms import FORM_KEY_PATTERN
from engine.models import MAX_ID
from webapp.api import bp
from webapp.api.forms import latest_form
from webapp.api.messages import NAME_PATTERN
from webapp.api.reports import report_paths, report_schemas
from webapp.api.schemas import QUERY_ENUMS, Schema, component_schemas, ref
from webapp.api.tasks import DEFAULT_PAGE, MAX_OFFSET, NEXT_FILTERS
from webapp.api.versions import MAX_UPLOAD_MB

_INTRO = """\
Kinflow's API for other council systems. Every call but this document needs a personal API
token (create one on your account page, or with `kinflow tokens create`), sent as
`Authorization: Bearer <token>`. A token acts as its owner: the same roles, the same cases,
and every call that touches a case is written to the audit log. A case or task you may not
see answers 404, exactly like one that does not exist. Errors are JSON objects with `error`
(a short title) and `message` (what happened, for a person); invalid form data (422) adds
`errors`, one message per field. Dates are ISO 8601."""


@bp.get("/openapi.json")
def openapi_document() -> dict[str, Any]:
    return document(latest_form("referral"))


def document(referral_form: Schema | None) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Kinflow API", "version": "1", "description": _INTRO},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerToken": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token (starts with kf_).",
                }
            },
            "schemas": component_schemas(referral_form) | report_schemas(),
            "responses": _error_responses(),
            "parameters": _parameters(),
        },
    }


def _json(schema: Schema, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error_responses() -> dict[str, Any]:
    error = ref("Error")
    unauthorized = _json(error, "No token, or a token that is wrong, revoked or deactivated.")
    unauthorized["headers"] = {
        "WWW-Authenticate": {
            "required": True,
            "schema": {"type": "string"},
            "description": 'Bearer realm="kinflow", with error="invalid_token" for a bad token.',
        }
    }
    return {
        "BadRequest": _json(error, "The request is not usable as sent (the message says why)."),
        "Unauthorized": unauthorized,
        "Forbidden": _json(error, "Your roles do not allow this, or the task is someone else's."),
        "NotFound": _json(error, "No such thing, or nothing you may see."),
        "Conflict": _json(error, "The task or case has moved on: already done or changed."),
        "Unprocessable": _json(ref("FormError"), "The data does not fit the form."),
        "TooLarge": _json(ref("Error"), f"The upload is larger than {MAX_UPLOAD_MB} MB."),
    }


def _errors(*codes: int) -> dict[str, Any]:
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        409: "Conflict",
        413: "TooLarge",
        422: "Unprocessable",
    }
    return {str(code): {"$ref": f"#/components/responses/{names[code]}"} for code in codes}


def _parameters() -> dict[str, Any]:
    def path(name: str, schema: Schema, example: Any, description: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "path",
            "required": True,
            "schema": schema,
            "example": example,
            "description": description,
        }

    identifier = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    return {
        "TaskId": path("task_id", identifier, 1, "A task's id."),
        "CaseId": path("case_id", identifier, 1, "A case's id."),
        "VersionId": path("version_id", identifier, 1, "A process version's id."),
        "FormKey": path(
            "key",
            {"type": "string", "pattern": FORM_KEY_PATTERN.pattern},
            "referral",
            "A form key.",
        ),
        "MessageName": path(
            "name",
            {"type": "string", "pattern": NAME_PATTERN.pattern},
            "safeguarding_concern",
            "A message the case's diagrams catch: safeguarding_concern or consent_withdrawn "
            "on the pathway.",
        ),
    }


def _query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _inbox_parameters() -> list[dict[str, Any]]:
    text = {"type": "string", "minLength": 1, "pattern": r"^[^\x00]*$"}
    return [
        _query(
            "scope",
            {"enum": QUERY_ENUMS["scope"], "default": "mine"},
            "mine: held by you; available: unclaimed for your roles and team; all: both; "
            "team: every open task of your team (managers only, else 403).",
        ),
        _query("stage", text | {"maxLength": 255}, "The case's stage name, exactly."),
        _query("role", {"enum": QUERY_ENUMS["role"]}, "Tasks a role may pick up."),
        _query(
            "due",
            {"enum": QUERY_ENUMS["due"]},
            "overdue; today or week (overdue included); none: no due date.",
        ),
        _query("family", text | {"maxLength": 120}, "Part of the family name, any case."),
        _query("assignee", {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{1,63}$"}, "Holder."),
        _query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": 200, "default": DEFAULT_PAGE},
            "Page size.",
        ),
        _query(
            "offset",
            {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
            "Rows to skip.",
        ),
    ]


def _param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _body(schema: Schema, description: str, example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"required": True, "description": description, "content": {"application/json": media}}


def _paths() -> dict[str, Any]:
    public = {
        "/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document (no token needed).",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
            }
        },
    }
    reports = report_paths(_errors(400, 401, 403, 422))
    return _task_paths() | _case_paths() | _version_paths() | reports | public


def _task_paths() -> dict[str, Any]:
    return {
        "/tasks": {
            "get": {
                "operationId": "listTasks",
                "summary": "Your task inbox: open tasks, soonest due first, with counts.",
                "parameters": _inbox_parameters(),
                "responses": {"200": _json(ref("TaskList"), "A page of tasks.")}
                | _errors(400, 401, 403),
            }
        },
        "/tasks/{task_id}": {
            "get": {
                "operationId": "getTask",
                "summary": "A task with its form, pre-filled values and your saved draft.",
                "parameters": [_param("TaskId")],
                "responses": {"200": _json(ref("TaskDetail"), "The task.")} | _errors(401, 404),
            }
        },
        "/tasks/{task_id}/claim": {
            "post": {
                "operationId": "claimTask",
                "summary": "Take an unclaimed task for one of your roles.",
                "parameters": [_param("TaskId")],
                "responses": {"200": _json(ref("Claimed"), "The task, now yours.")}
                | _errors(401, 403, 404, 409),
            }
        },
        "/tasks/{task_id}/complete": {
            "post": {
                "operationId": "completeTask",
                "summary": "Complete a task with its form's data; returns the case's next tasks.",
                "parameters": [_param("TaskId")],
                "requestBody": _body(
                    {"type": "object"}, "The form's data (see form_schema of GET /tasks/{id})."
                ),
                "responses": {"200": _json(ref("Completion"), "Done.")}
                | _errors(400, 401, 403, 404, 409, 422),
            }
        },
        "/tasks/next/claim": {
            "post": {
                "operationId": "claimNextTask",
                "summary": "Claim the most urgent task you may pick up (unclaimed, for your roles "
                "and team; soonest due first, then oldest), without racing anyone: two callers "
                "at once get two different tasks. Narrowed by "
                + ", ".join(NEXT_FILTERS)
                + " as in GET /tasks; scope and assignee are refused (400).",
                "parameters": [p for p in _inbox_parameters() if p["name"] in NEXT_FILTERS],
                "responses": {
                    "200": _json(ref("TaskDetail"), "The task, now yours, as GET /tasks/{id}."),
                    "204": {"description": "Nothing is waiting for you (under the filters)."},
                }
                | _errors(400, 401, 409),
            }
        },
    }


def _case_paths() -> dict[str, Any]:
    case_record = _json(ref("CaseRecord"), "The family's record, open tasks and chronology.")
    created = dict(case_record)
    created["description"] = "The case was started; Location is its address in the API."
    created["headers"] = {"Location": {"required": True, "schema": {"type": "string"}}}
    return {
        "/forms/{key}": {
            "get": {
                "operationId": "getForm",
                "summary": "A form's JSON Schema from the latest deployed pathway.",
                "parameters": [_param("FormKey")],
                "responses": {"200": _json(ref("FormSchema"), "The form.")} | _errors(401, 404),
            }
        },
        "/cases": {
            "post": {
                "operationId": "startCase",
                "summary": "Make a referral (referrer or fgc_manager), or start a case of "
                "another deployed process (process_owner or admin).",
                "requestBody": _body(
                    {"anyOf": [ref("ReferralForm"), ref("StartProcess")]},
                    "The referral form's data; or {process, data, title} for another process.",
                ),
                "responses": {"201": created} | _errors(400, 401, 403, 404, 422),
            }
        },
        "/cases/{case_id}": {
            "get": {
                "operationId": "getCase",
                "summary": "The family's record, open tasks and chronology.",
                "parameters": [_param("CaseId")],
                "responses": {"200": case_record} | _errors(401, 404),
            }
        },
        "/cases/{case_id}/messages/{name}": {
            "post": {
                "operationId": "sendMessage",
                "summary": "Deliver a message to the case, such as a safeguarding concern.",
                "parameters": [_param("CaseId"), _param("MessageName")],
                "requestBody": _body(
                    {"type": "object"},
                    "safeguarding_concern: {concern}; consent_withdrawn: {reason}. The sender "
                    "is recorded from your token.",
                    {"concern": "Bruising seen at school on Monday."},
                ),
                "responses": {"200": case_record} | _errors(400, 401, 404, 409, 422),
            }
        },
    }


def _version_paths() -> dict[str, Any]:
    upload = {
        "required": True,
        "description": "Every file the process needs, as multipart parts (see Upload), at "
        f"most {MAX_UPLOAD_MB} MB in all.",
        "content": {"multipart/form-data": {"schema": ref("Upload")}},
    }
    owners = "process_owner only."
    return {
        "/versions/validate": {
            "post": {
                "operationId": "validateVersion",
                "summary": "Check diagrams and forms as `kinflow validate` does; any role. "
                "Answers 200 with the problems for any upload, however malformed.",
                "requestBody": upload,
                "responses": {"200": _json(ref("Validation"), "ok, or every problem.")}
                | _errors(401, 413),
            }
        },
        "/versions": {
            "get": {
                "operationId": "listVersions",
                "summary": "The deployed process versions, with their running cases.",
                "responses": {"200": _json(ref("VersionList"), "Every version.")} | _errors(401),
            },
            "post": {
                "operationId": "deployVersion",
                "summary": f"Validate and deploy a new version of each entry process; {owners}",
                "requestBody": upload,
                "responses": {
                    "201": _json(ref("Deployment"), "New versions were created."),
                    "200": _json(ref("Deployment"), "Identical files were already deployed."),
                    "422": _json(ref("DeployRefused"), "The files have problems."),
                }
                | _errors(401, 403, 409, 413),
            },
        },
        "/versions/{version_id}/migrate": {
            "post": {
                "operationId": "migrateCases",
                "summary": "Move running cases of older versions to this one, each in its own "
                f"transaction; dry_run says what would happen. {owners}",
                "parameters": [_param("VersionId")],
                "requestBody": _body(ref("MigrationRequest"), "Which cases, and whether to try."),
                "responses": {"200": _json(ref("Migration"), "Each case's outcome.")}
                | _errors(400, 401, 403, 404, 422),
            }
        },
    }
