"""The JSON Schemas of what the API sends and accepts (OpenAPI 3.1 components).

Record tables are described from their columns, the same columns ``serialize`` writes out, so
a column added to the family's record appears in the document without anyone remembering to.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Column, Date, Integer, Numeric, String

from engine.inbox import DUE_WINDOWS, MAX_PAGE, SCOPES
from engine.models import UTCDateTime
from engine.roles import ROLES
from webapp.api.serialize import RECORD_LISTS, RECORD_MODELS, record_columns

Schema = dict[str, Any]

DUE_STATES = ["overdue", "due_soon", "on_time", "no_date"]
TASK_STATES = ["ready", "completed", "cancelled"]
CASE_STATUSES = ["active", "completed", "cancelled", "error"]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return schema | {"type": [schema["type"], "null"]}


def _obj(properties: dict[str, Schema], description: str = "") -> Schema:
    """An object whose every property is always present (null when there is no value)."""
    schema: Schema = {"type": "object", "required": list(properties), "properties": properties}
    return schema | ({"description": description} if description else {})


_TEXT: Schema = {"type": "string"}
_INT: Schema = {"type": "integer"}
_BOOL: Schema = {"type": "boolean"}
_MOMENT: Schema = {"type": "string", "format": "date-time"}
_DAY: Schema = {"type": "string", "format": "date"}


def column_schema(column: Column) -> Schema:
    kind = column.type
    if isinstance(kind, UTCDateTime):
        schema = dict(_MOMENT)
    elif isinstance(kind, Date):
        schema = dict(_DAY)
    elif isinstance(kind, Boolean):
        schema = dict(_BOOL)
    elif isinstance(kind, Integer):
        schema = dict(_INT)
    elif isinstance(kind, Numeric):
        schema = {"type": "number"}
    elif isinstance(kind, JSON):
        schema = {"type": "array"}  # every JSON column of the record holds a list
    elif isinstance(kind, String):
        schema = dict(_TEXT)
    else:
        raise TypeError(f"no JSON Schema for column {column} of type {kind!r}")
    return nullable(schema) if column.nullable else schema


def record_schema(model: type) -> Schema:
    doc = (model.__doc__ or "").strip().splitlines()[0]
    properties = {c.key: column_schema(c) for c in record_columns(model)}
    return _obj(properties, doc)


def _error_schemas() -> dict[str, Schema]:
    error = _obj(
        {
            "error": _TEXT | {"description": "A short title, e.g. 'Not found'."},
            "message": _TEXT | {"description": "What went wrong, in words for a person."},
        },
        "Every error: a title and a sentence saying what happened and what to do.",
    )
    field_errors = {
        "type": "object",
        "description": "Field path (dot-separated, list items by index) -> message.",
        "additionalProperties": _TEXT,
    }
    form_error = {
        "allOf": [ref("Error"), _obj({"errors": field_errors})],
        "description": "Data that does not fit the form: one message per field.",
    }
    return {"Error": error, "FormError": form_error}


def _task() -> Schema:
    return _obj(
        {
            "id": _INT,
            "case_id": _INT,
            "title": _TEXT,
            "instructions": nullable(_TEXT),
            "process_id": _TEXT,
            "element_id": _TEXT,
            "role": nullable(_TEXT),
            "candidate_groups": {"type": "array", "items": _TEXT},
            "assignee": nullable(_TEXT),
            "state": {"enum": TASK_STATES},
            "form_key": nullable(_TEXT),
            "priority": nullable(_INT),
            "due_at": nullable(_MOMENT),
            "due_state": {"enum": [*DUE_STATES, None]},
            "follow_up_at": nullable(_MOMENT),
            "created_at": _MOMENT,
            "claimed_at": nullable(_MOMENT),
            "completed_at": nullable(_MOMENT),
            "completed_by": nullable(_TEXT),
        },
        "A human task. due_state is null once the task is no longer open.",
    )


def _inbox_schemas() -> dict[str, Schema]:
    row_extra = _obj(
        {
            "family_name": nullable(_TEXT),
            "stage": nullable(_TEXT),
            "referral_type": nullable(_TEXT),
            "urgency": nullable(_TEXT),
            "needs_reassignment": _BOOL | {"description": "Held by a deactivated account."},
        }
    )
    counts = _obj(
        {
            "total": _INT,
            "overdue": _INT,
            "due_soon": _INT,
            "mine": _INT,
            "available": _INT,
            "team": nullable(_INT) | {"description": "Null unless you manage a team."},
        },
        "Counts of the whole view (not just this page) and the size of each scope.",
    )
    task_list = _obj(
        {
            "tasks": {"type": "array", "items": ref("InboxTask")},
            "counts": ref("InboxCounts"),
            "filters": {"type": "object", "additionalProperties": _TEXT},
            "limit": _INT | {"minimum": 1, "maximum": MAX_PAGE},
            "offset": _INT | {"minimum": 0},
        }
    )
    return {
        "InboxTask": {"allOf": [ref("Task"), row_extra]},
        "InboxCounts": counts,
        "TaskList": task_list,
    }


def _task_schemas() -> dict[str, Schema]:
    detail = _obj(
        {
            "task": ref("Task"),
            "case": ref("CaseSummary"),
            "form_schema": {"type": "object", "description": "The task's form (JSON Schema)."},
            "values": {"type": "object", "description": "Values pre-filled from the record."},
            "draft": nullable(ref("Draft")),
        }
    )
    draft = _obj(
        {"data": {"type": "object"}, "saved_at": _MOMENT},
        "Your saved draft of this task's form, if you have one.",
    )
    completion = _obj(
        {
            "task": ref("Task"),
            "case": nullable(ref("CaseSummary")),
            "next_tasks": {"type": "array", "items": ref("Task")},
        },
        "The completed task and the case's open tasks (empty, and case null, when the case "
        "is no longer yours to see).",
    )
    return {
        "Task": _task(),
        **_inbox_schemas(),
        "TaskDetail": detail,
        "Draft": draft,
        "Claimed": _obj({"task": ref("Task")}),
        "Completion": completion,
    }


def _case_schemas() -> dict[str, Schema]:
    summary = _obj(
        {
            "id": _INT,
            "title": _TEXT,
            "status": {"enum": CASE_STATUSES},
            "stage": nullable(_TEXT) | {"description": "Null while waiting on a timer or done."},
            "process_id": _TEXT,
            "process_name": _TEXT,
            "team_id": nullable(_INT),
            "created_at": _MOMENT,
            "updated_at": _MOMENT,
            "created_by": _TEXT,
        }
    )
    event = _obj(
        {"id": _INT, "at": _MOMENT, "actor": _TEXT, "kind": _TEXT, "summary": _TEXT},
        "One line of the case's chronology, in plain language.",
    )
    lists = {
        name: {"type": "array", "items": ref(model.__name__)}
        for name, model in RECORD_LISTS.items()
    }
    record = _obj(
        {
            "case": ref("CaseSummary"),
            "referral": nullable(ref("Referral")),
            "conference": nullable(ref("ConferenceArrangement")),
            **lists,
            "plan": nullable(ref("CurrentPlan")),
            "closure": nullable(ref("Closure")),
            "open_tasks": {"type": "array", "items": ref("Task")},
            "chronology": {"type": "array", "items": ref("CaseEvent")},
        },
        "The family's record, the case's open tasks and its chronology (oldest first).",
    )
    plan = {
        "allOf": [
            ref("FamilyPlan"),
            _obj({"actions": {"type": "array", "items": ref("PlanAction")}}),
        ]
    }
    start = {
        "type": "object",
        "required": ["process"],
        "additionalProperties": False,
        "properties": {
            "process": _TEXT | {"minLength": 1, "description": "A deployed process id."},
            "data": {"type": "object", "description": "Start data: variable name -> value."},
            "title": _TEXT | {"maxLength": 255},
        },
        "description": "Start a case of any deployed process (process_owner or admin).",
    }
    records = {model.__name__: record_schema(model) for model in RECORD_MODELS}
    return records | {
        "CaseSummary": summary,
        "CaseEvent": event,
        "CaseRecord": record,
        "CurrentPlan": plan,
        "StartProcess": start,
    }


def _version_schemas() -> dict[str, Schema]:
    problem = _obj(
        {
            "file": _TEXT | {"description": "The file, or (upload) for the request itself."},
            "element": nullable(_TEXT) | {"description": "The element id, when known."},
            "line": nullable(_INT),
            "message": _TEXT,
        },
        "One reason the files cannot be deployed.",
    )
    version = _obj(
        {
            "id": _INT,
            "process_id": _TEXT,
            "name": _TEXT,
            "version": _INT,
            "deployed_at": _MOMENT,
            "deployed_by": _TEXT,
            "running_cases": _INT | {"description": "Cases running on this version."},
        },
        "One deployed, immutable version of a process.",
    )
    deployed = {
        "allOf": [ref("ProcessVersion"), _obj({"created": _BOOL})],
        "description": "created is false when identical files were already deployed.",
    }
    refused = {
        "allOf": [
            ref("Error"),
            _obj({"ok": {"const": False}, "problems": {"type": "array", "items": ref("Problem")}}),
        ],
        "description": "The files are not valid: nothing was deployed.",
    }
    upload = {
        "type": "object",
        "properties": {
            part: {"type": "array", "items": {"type": "string", "format": "binary"}}
            for part in ("file", "dmn", "forms")
        },
        "description": "file: the BPMN diagram (and called diagrams, DMN tables); dmn: DMN "
        "tables; forms: one <key>.json per form key.",
    }
    migrate = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "case_ids": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "description": "Cases to move; leave out for every running case on an older "
                "version.",
            },
            "dry_run": _BOOL | {"default": False, "description": "Say what would happen only."},
        },
    }
    result = _obj(
        {
            "case_id": _INT,
            "from_version": nullable(_INT),
            "moved": _BOOL | {"description": "Moved (in a dry run: would move)."},
            "reason": nullable(_TEXT) | {"description": "Why not, naming the elements."},
        }
    )
    return {
        "Problem": problem,
        "Validation": _obj({"ok": _BOOL, "problems": {"type": "array", "items": ref("Problem")}}),
        "ProcessVersion": version,
        "VersionList": _obj({"versions": {"type": "array", "items": ref("ProcessVersion")}}),
        "Deployment": _obj({"versions": {"type": "array", "items": deployed}}),
        "DeployRefused": refused,
        "Upload": upload,
        "MigrationRequest": migrate,
        "MigrationResult": result,
        "Migration": _obj(
            {
                "version": ref("ProcessVersion"),
                "dry_run": _BOOL,
                "results": {"type": "array", "items": ref("MigrationResult")},
            },
            "What happened to each case, each moved (or not) in its own transaction.",
        ),
    }


def component_schemas(referral_form: Schema | None) -> dict[str, Schema]:
    """Every schema the document refers to; the referral form as currently deployed."""
    referral = dict(referral_form or {"type": "object"})
    for key in ("$schema", "$id"):  # a form is a document of its own; here it is embedded
        referral.pop(key, None)
    return {
        **_error_schemas(),
        **_task_schemas(),
        **_case_schemas(),
        **_version_schemas(),
        "ReferralForm": referral,
        "FormSchema": {"type": "object", "description": "A form, as a JSON Schema (2020-12)."},
    }


QUERY_ENUMS = {"scope": list(SCOPES), "due": list(DUE_WINDOWS), "role": list(ROLES)}
