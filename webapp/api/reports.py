"""The dashboard's figures as JSON: ``GET /api/v1/reports/kpis``.

The same ``engine.reports`` tables as the page and its CSV files, for the same filter
(``webapp.report_request``) and from the same kept snapshot, with ``computed_at`` saying when
they were counted: FGC managers get their own team whatever ``team`` they send, data
officers any team or all; other roles 403. Counts, days and percentages are JSON numbers, no
data is null, dates are ISO 8601, and money is a string with two decimal places ("1234.50"),
so pence are never rounded through binary floating point. Figures are aggregates, not a
family's record, so reading them is not audited.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import request
from werkzeug.wrappers import Response

from engine.reports.tables import Kind, Table
from webapp.api import bp
from webapp.api.auth import api_user
from webapp.api.schemas import Schema, nullable, ref
from webapp.errors import error_response
from webapp.extensions import db
from webapp.report_request import FIELDS, dashboard_figures, read_request

KINDS = ["text", "count", "days", "money", "percent"]


@bp.get("/reports/kpis")
def report_kpis() -> dict[str, Any] | tuple[Response | str, int]:
    asked = read_request(db.session(), api_user(), request.args)  # NotAllowed: 403
    if asked.errors:
        errors = {name: f"{name}: {message}" for name, message in asked.errors.items()}
        message = "Some query parameters could not be used. " + " ".join(errors.values())
        return error_response(422, message, errors=errors)
    where = asked.where
    team = {"id": asked.team.id, "name": asked.team.name} if asked.team else None
    tables, computed_at = dashboard_figures(db.session(), where)
    return {
        "period": {"from": where.start.isoformat(), "to": where.end.isoformat()},
        "team": team,
        "coordinator": where.coordinator,
        "referral_type": where.referral_type,
        "computed_at": computed_at.isoformat(),
        "tables": [table_json(t) for t in tables],
    }


def table_json(table: Table) -> dict[str, Any]:
    """One table as the API sends it: columns described, each row keyed by column key."""
    return {
        "key": table.key,
        "title": table.title,
        "how": table.how,
        "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in table.columns],
        "rows": [
            {c.key: value_json(v, c.kind) for c, v in zip(table.columns, row, strict=True)}
            for row in table.rows
        ],
    }


def value_json(value: Any, kind: Kind) -> Any:
    """A cell as JSON: money exact as a string, other figures numbers, dates ISO 8601."""
    if value is None or isinstance(value, bool | str):
        return value
    if kind == "money" and isinstance(value, int | float | Decimal):
        return f"{Decimal(str(value)):.2f}"
    if isinstance(value, Decimal):
        return int(value) if kind == "count" else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float):
        return value
    return str(value)


# --- the OpenAPI description (merged into the document by webapp/api/openapi.py) ------------


def report_schemas() -> dict[str, Schema]:
    """The schemas of the answer, so schemathesis checks every real answer against them."""
    text = {"type": "string"}
    cell = {"type": ["string", "number", "integer", "boolean", "null"]}
    column = {
        "type": "object",
        "required": ["key", "label", "kind"],
        "properties": {"key": text, "label": text, "kind": {"enum": KINDS}},
    }
    table = {
        "type": "object",
        "required": ["key", "title", "how", "columns", "rows"],
        "properties": {
            "key": text,
            "title": text,
            "how": text | {"description": "How the figures are counted, in a sentence."},
            "columns": {"type": "array", "items": column},
            "rows": {
                "type": "array",
                "items": {"type": "object", "additionalProperties": cell},
                "description": "One object per row, keyed by column key. count, days and "
                "percent are numbers, money a string such as '1234.50', no data null.",
            },
        },
    }
    day = {"type": "string", "format": "date"}
    return {
        "ReportTable": table,
        "Kpis": {
            "type": "object",
            "required": [
                "period",
                "team",
                "coordinator",
                "referral_type",
                "computed_at",
                "tables",
            ],
            "properties": {
                "period": {
                    "type": "object",
                    "required": ["from", "to"],
                    "properties": {"from": day, "to": day},
                    "description": "Whole days, London time, both included.",
                },
                "team": nullable(
                    {
                        "type": "object",
                        "required": ["id", "name"],
                        "properties": {"id": {"type": "integer"}, "name": text},
                    }
                )
                | {"description": "The team reported on; null for every team."},
                "coordinator": nullable(text),
                "referral_type": nullable(text),
                "computed_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "When the figures were counted (UTC, ISO 8601). They are "
                    "kept and refreshed every KINFLOW_REPORT_REFRESH_MINUTES (default 15), so "
                    "work recorded since then is not yet counted.",
                },
                "tables": {"type": "array", "items": ref("ReportTable")},
            },
        },
    }


def report_paths(errors: dict[str, Any]) -> dict[str, Any]:
    """``errors`` is the document's shared error responses for 400, 401, 403 and 422."""
    # NUL cannot be stored, so the app refuses it (400) before any view runs.
    text = {"type": "string", "maxLength": 100, "pattern": r"^[^\x00]*$"}
    described = {
        "from": "First day of the period (YYYY-MM-DD); default: twelve months before `to`.",
        "to": "Last day, included (YYYY-MM-DD); default: today, London time.",
        "team": "A team's id (data officers; managers always get their own team).",
        "coordinator": "A coordinator's username.",
        "referral_type": "A type of referral from the referral form, such as standard.",
    }
    parameters = [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": text,
            "description": described[name],
        }
        for name in FIELDS
    ]
    return {
        "/reports/kpis": {
            "get": {
                "operationId": "getReportKpis",
                "summary": "The managers' dashboard as JSON: every table for a period, team, "
                "coordinator and referral type (fgc_manager: own team; data_officer: any).",
                "parameters": parameters,
                "responses": {
                    "200": {
                        "description": "Every dashboard table for the filter.",
                        "content": {"application/json": {"schema": ref("Kpis")}},
                    }
                }
                | errors,
            }
        }
    }
