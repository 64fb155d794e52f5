"""Where cases wait (``/reports/waits``): each pathway stage's days, as a heat map over the
latest pathway diagram and as a table.

The filter is the dashboard's (``webapp.report_request``: an FGC manager sees their own team,
a data officer any team). The diagram and its figures are embedded in the page as JSON and
drawn by the case page's viewer script (``webapp/static/js/case-diagram.js``); the table
below it holds every figure, so the page says everything without JavaScript. The figures are
counts over many families, not a family's record, so reading them is not audited (as the
dashboard).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from engine.reports.waits import STEPS, HeatMap, stage_heat, stage_waits, waits_table
from engine.roles import DATA_OFFICER, FGC_MANAGER
from webapp.extensions import db
from webapp.permissions import me, requires_roles
from webapp.report_figures import NO_DATA, figure_text, is_number
from webapp.report_request import LABELS, read_request

bp = Blueprint("stage_waits", __name__)


@bp.get("/reports/waits")
@requires_roles(FGC_MANAGER, DATA_OFFICER)
def index() -> tuple[str, int]:
    session = db.session()
    asked = read_request(session, me(), request.args)
    figures = stage_waits(session, asked.where)
    table = waits_table(figures)
    heat = stage_heat(session, asked.where, figures)
    page = render_template(
        "stage_waits/index.html",
        asked=asked,
        table=table,
        diagram=heat_json(heat) if heat is not None else None,
        scale=scale_words(heat) if heat is not None else [],
        labels=LABELS,
        figure_text=figure_text,
        is_number=is_number,
    )
    return page, 400 if asked.errors else 200


def heat_json(heat: HeatMap) -> dict[str, Any]:
    """The diagram as ``case-diagram.js`` reads it, plus for the heat map: ``heat`` (element id
    -> shade 1 to ``STEPS``), ``badges`` (element id -> the median, short enough to sit under
    the element), ``notes`` (the stage's figures in a sentence, listed under the drawing) and
    ``order`` (the stages' elements in running order, for that list)."""
    shades: dict[str, int] = {}
    badges: dict[str, str] = {}
    notes: dict[str, str] = {}
    labels: dict[str, str] = {}
    order: list[str] = []
    for elements, wait, step in heat.stages:
        for element in elements:
            order.append(element)
            labels[element] = wait.stage.name
            badges[element] = badge_text(wait.median_days)
            notes[element] = note_text(wait.median_days, wait.now)
            if step is not None:
                shades[element] = step
    return {
        "process_id": heat.process_id,
        "name": heat.name,
        "bpmn_xml": heat.bpmn_xml,
        "completed": [],
        "active": [],
        "overdue": [],
        "labels": labels,
        "heat": shades,
        "badges": badges,
        "notes": notes,
        "order": order,
    }


def badge_text(median_days: float | None) -> str:
    """The badge under a stage: its median stay, "2.0 days"."""
    return NO_DATA if median_days is None else f"{figure_text(median_days, 'days')} days"


def note_text(median_days: float | None, now: int) -> str:
    """A stage's figures in words: "median 2.0 days; 1 case there now"."""
    if median_days is None:
        median = "no stay ended in the period"
    else:
        median = f"median {figure_text(median_days, 'days')} days"
    cases = "1 case" if now == 1 else f"{now} cases"
    return median + (f"; {cases} there now" if now else "")


def scale_words(heat: HeatMap) -> list[tuple[int, str]]:
    """Each shade with the medians it stands for: "up to 1.0 days", "1.0 to 2.0 days"..."""
    if not any(heat.steps):
        return []  # no stay ended in the period: nothing is shaded
    words = []
    lower = None
    for step, upper in zip(range(1, STEPS + 1), heat.steps, strict=True):
        top = figure_text(upper, "days")
        words.append((step, f"up to {top} days" if lower is None else f"{lower} to {top} days"))
        lower = top
    return words
