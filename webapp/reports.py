"""The managers' dashboard (``/reports``) and each of its tables as a CSV file.

Every table on the page is an ``engine.reports`` measure, drawn as a server-side SVG chart when
it has one and always written out as an accessible HTML table; ``/reports/<key>.csv`` gives the
same table for the same filter, and ``/reports/all.zip`` every table at once. All three read
the kept figures of ``engine.reports.snapshots`` (refreshed by the scheduler), so for one filter
they show the same snapshot, and the page says when it was counted. The figures are counts over
many families, not a family's record, so reading them is not audited.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

from flask import Blueprint, Response, abort, render_template, request, url_for

from engine import clock
from engine.reports.csv_export import table_csv
from engine.reports.tables import measure_keys
from engine.roles import DATA_OFFICER, FGC_MANAGER
from engine.time_words import clock_time, london_day, time_on_day
from webapp.errors import error_response
from webapp.extensions import db
from webapp.permissions import me, requires_roles
from webapp.report_figures import chart_for, figure_text, is_number
from webapp.report_request import (
    LABELS,
    ReportRequest,
    dashboard_figures,
    read_request,
    refresh_minutes,
)

bp = Blueprint("reports", __name__)


@bp.get("/reports")
@requires_roles(FGC_MANAGER, DATA_OFFICER)
def index() -> tuple[str, int]:
    asked = read_request(db.session(), me(), request.args)
    tables, computed_at = dashboard_figures(db.session(), asked.where)
    page = render_template(
        "reports/index.html",
        asked=asked,
        tables=tables,
        as_of=as_of(computed_at),
        refresh_minutes=refresh_minutes(),
        labels=LABELS,
        chart_for=chart_for,
        figure_text=figure_text,
        is_number=is_number,
        csv_url=lambda table: url_for("reports.table_file", key=table.key, **asked.query()),
        zip_url=url_for("reports.all_tables", **asked.query()),
    )
    return page, 400 if asked.errors else 200


def as_of(computed_at: datetime) -> str:
    """06:10, or 23:55 on 23 Nov when the figures were counted on an earlier day (London)."""
    if london_day(computed_at) == london_day(clock.now()):
        return clock_time(computed_at)
    return time_on_day(computed_at)


def refused_download(asked: ReportRequest) -> tuple[Response | str, int]:
    """A file is not offered for a filter the page would not have made: say what is wrong."""
    problems = "; ".join(f"{LABELS[name]}: {text}" for name, text in asked.errors.items())
    return error_response(400, f"The download's filter could not be used. {problems}")


def download(body: bytes, name: str, mimetype: str) -> Response:
    """A report file to save; never kept by the browser's cache (some hold families' names)."""
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/reports/<key>.csv")
@requires_roles(FGC_MANAGER, DATA_OFFICER)
def table_file(key: str) -> Response | tuple[Response | str, int]:
    if key not in measure_keys():
        abort(404)
    asked = read_request(db.session(), me(), request.args)
    if asked.errors:
        return refused_download(asked)
    tables, _ = dashboard_figures(db.session(), asked.where)
    [table] = [t for t in tables if t.key == key]
    body = table_csv(table).encode("utf-8")
    return download(body, asked.file_name(key, "csv"), "text/csv")


@bp.get("/reports/all.zip")
@requires_roles(FGC_MANAGER, DATA_OFFICER)
def all_tables() -> Response | tuple[Response | str, int]:
    asked = read_request(db.session(), me(), request.args)
    if asked.errors:
        return refused_download(asked)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in dashboard_figures(db.session(), asked.where)[0]:
            archive.writestr(asked.file_name(table.key, "csv"), table_csv(table))
    return download(buffer.getvalue(), asked.file_name("reports", "zip"), "application/zip")
