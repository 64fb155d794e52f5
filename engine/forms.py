"""Form schemas: one JSON Schema per form key, checked at deploy time and applied to submissions.

A form is a JSON Schema (draft 2020-12) whose top level is an object. Kinflow's UI hints are
extra keywords that validators ignore: ``x-order`` (field order), ``x-widget`` and ``x-help``
on a property.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError

FORM_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_\-]{0,79}$")
# The task page shows ``minItems`` empty entries to fill in; more than this is a mistake.
MAX_ENTRIES = 50
_FORMAT_CHECKER = FormatChecker()


def form_file_name(form_key: str) -> str:
    """The file a form key names: form key ``referral`` is ``forms/referral.json``."""
    return f"{form_key}.json"


def parse_form(text: str | bytes) -> tuple[dict[str, Any] | None, list[str]]:
    """Parse and check a form file; returns the schema and a list of problems in plain words."""
    try:
        schema = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, [f"is not valid JSON ({exc})"]
    except RecursionError:
        return None, ["is nested too deeply to read (a form needs only a few levels)"]
    problems = schema_problems(schema)
    return (schema if not problems else None), problems


def schema_problems(schema: Any) -> list[str]:
    """Why this document is not a usable form schema (empty when it is)."""
    if not isinstance(schema, dict):
        return ["must be a JSON object describing the form"]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the top level"
        return [f"is not a valid JSON Schema at {where}: {exc.message}"]
    if schema.get("type") != "object":
        return ['must have "type": "object" at the top level, so each field has a name']
    return _hint_problems(schema, [])


def _hint_problems(schema: dict[str, Any], path: list[str]) -> list[str]:
    """What a valid JSON Schema may still hold that the task page cannot show: a field given
    as ``true`` instead of an object, malformed UI hints, a list asking for too many entries.
    Deploying such a form would break the task page for every worker who opens it."""

    def problem(why: str) -> list[str]:
        return [f"cannot be shown at {'/'.join(path) or 'the top level'}: {why}"]

    order = schema.get("x-order")
    if order is not None and not (
        isinstance(order, list) and all(isinstance(k, str) for k in order)
    ):
        return problem("x-order must be a list of field names")
    labels = schema.get("x-labels")
    if labels is not None and not (
        isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())
    ):
        return problem("x-labels must map each choice to its label")
    for hint in ("x-widget", "x-help"):
        if hint in schema and not isinstance(schema[hint], str):
            return problem(f"{hint} must be text")
    fewest = schema.get("minItems")
    if isinstance(fewest, int) and fewest > MAX_ENTRIES:
        return problem(
            f"minItems {fewest} shows a worker {fewest} empty entries to fill in; "
            f"at most {MAX_ENTRIES} are allowed"
        )
    for key, child in (schema.get("properties") or {}).items():
        where = [*path, "properties", key]
        if not isinstance(child, dict):
            why = f"the field '{key}' must be described by an object, not {json.dumps(child)}"
            return [f"cannot be shown at {'/'.join(where)}: {why}"]
        found = _hint_problems(child, where)
        if found:
            return found
    items = schema.get("items")
    if isinstance(items, dict):
        return _hint_problems(items, [*path, "items"])
    return []


def _field_path(error: ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        # The error sits on the parent object; name the missing field itself.
        missing = re.match(r"'(.+?)' is a required property", error.message)
        if missing:
            parts.append(missing.group(1))
    return ".".join(parts) or "(form)"


_FORMATS = {"date": "date (YYYY-MM-DD)", "email": "email address", "date-time": "date and time"}


def _message(error: ValidationError) -> str:
    """A message for a worker. Never repeat the submitted value: it may be special category
    data, and it would end up in logs and error pages."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    limit = error.validator_value
    match error.validator:
        case "required":
            return "This field is required."
        case "minLength" if limit == 1:
            return "This field is required."
        case "type":
            return f"Expected {_TYPES.get(limit, limit)}."
        case "enum":
            labels = schema.get("x-labels") or {}
            return "Choose one of: " + ", ".join(str(labels.get(v, v)) for v in limit) + "."
        case "const" if limit is True:
            return "This must be ticked."
        case "const":
            return f"Must be {limit!r}."
        case "format":
            return f"Not a valid {_FORMATS.get(limit, limit)}."
        case "pattern":
            return schema.get("x-help") or "Not in the expected format."
        case "maxLength":
            return f"At most {limit} characters."
        case "minLength":
            return f"At least {limit} characters."
        case "minItems":
            return f"Add at least {limit}."
        case "maxItems":
            return f"At most {limit} entries."
        case "uniqueItems":
            return "Each entry may appear only once."
        case "minimum":
            return f"Must be at least {limit}."
        case "maximum":
            return f"Must be at most {limit}."
        case "additionalProperties":
            return "The form has fields it does not know; reload the form and try again."
        case "multipleOf":
            return f"Must be a multiple of {limit}."
    return "This value is not accepted here."


_TYPES = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "yes or no",
    "array": "a list",
    "object": "a group of fields",
}


def validate_submission(schema: dict[str, Any], data: Any) -> dict[str, str]:
    """Check submitted data against a form; returns {field path: message}, empty when valid."""
    validator = Draft202012Validator(schema, format_checker=_FORMAT_CHECKER)
    errors: dict[str, str] = {}
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        errors.setdefault(_field_path(error), _message(error))
    return errors
