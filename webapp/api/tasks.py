"""Tasks through the API: the inbox, one task with its form, claiming and completing.

``POST /tasks/next/claim`` claims the caller's most urgent available task in one request, for
workers and intake systems that just want the next piece of work (``engine.next_task``).

The same rules as the web pages: the inbox query decides what a list holds, a task on a case
the caller cannot see does not exist (404), and the engine decides who may claim or complete
(403) and whether the task is still waiting (409); ``webapp.errors`` turns those into JSON.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from flask import request

from engine.assignment import claim
from engine.drafts import discard_draft, load_draft
from engine.errors import KinflowError
from engine.inbox import MAX_PAGE, TaskFilter, count_tasks, find_tasks
from engine.models import Case, HumanTask
from engine.next_task import claim_next
from webapp.api import bp
from webapp.api.auth import api_actor, api_user, audit_request, still_visible_case, task_for
from webapp.api.body import json_object
from webapp.api.serialize import case_json, inbox_row_json, iso, open_tasks_json, task_json
from webapp.extensions import db, runtime

FILTERS = tuple(f.name for f in fields(TaskFilter))
# The inbox filters that narrow "my next task"; scope and assignee are settled by it.
NEXT_FILTERS = ("stage", "role", "due", "family")
DEFAULT_PAGE = 50
MAX_OFFSET = 1_000_000


@bp.get("/tasks")
def list_tasks() -> dict[str, Any]:
    where = TaskFilter.from_query(_clean_args())
    limit = _whole_number("limit", DEFAULT_PAGE, 1, MAX_PAGE)
    offset = _whole_number("offset", 0, 0, MAX_OFFSET)
    session = db.session()
    rows = find_tasks(session, api_user(), where, limit, offset)
    counts = count_tasks(session, api_user(), where)
    # Serialized before the commit expires the rows read: reading them afterwards would cost
    # one query per task.
    tasks = [inbox_row_json(row) for row in rows]
    # A list shows family names across cases: who asked is kept like any other look.
    audit_request("list_tasks")
    session.commit()
    return {
        "tasks": tasks,
        "counts": {
            "total": counts.total,
            "overdue": counts.overdue,
            "due_soon": counts.due_soon,
            "mine": counts.mine,
            "available": counts.available,
            "team": counts.team,
        },
        "filters": where.to_query() | {"scope": where.scope},
        "limit": limit,
        "offset": offset,
    }


@bp.get("/tasks/<int:task_id>")
def get_task(task_id: int) -> dict[str, Any]:
    task, case = task_for(task_id, "view_task")
    return _task_detail(task, case)


def _task_detail(task: HumanTask, case: Case) -> dict[str, Any]:
    """The task with its form, pre-filled values and the caller's draft."""
    session = db.session()
    form = runtime().task_form(session, task.id)
    draft = load_draft(session, task.id, api_user().username)
    return {
        "task": task_json(form.task),
        "case": case_json(session, case),
        "form_schema": form.schema,
        "values": form.values,
        "draft": {"data": draft.data, "saved_at": iso(draft.saved_at)} if draft else None,
    }


@bp.post("/tasks/<int:task_id>/claim")
def claim_task(task_id: int) -> dict[str, Any]:
    task_for(task_id, "claim_task")
    task = claim(db.session(), task_id, api_actor())
    return {"task": task_json(task)}


@bp.post("/tasks/next/claim")
def claim_next_task() -> dict[str, Any] | tuple[str, int]:
    """The first available task (the inbox's order, narrowed by ``NEXT_FILTERS``), now the
    caller's, as ``GET /tasks/<id>`` shows it; 204 when nothing is waiting."""
    where = TaskFilter.from_query(_next_filters())
    claimed = claim_next(db.session(), api_user(), where)
    if claimed is None:
        return "", 204
    # Audited as a claim by id is; the caller now holds the task, so its case is visible.
    task, case = task_for(claimed.id, "claim_task")
    return _task_detail(task, case)


@bp.post("/tasks/<int:task_id>/complete")
def complete_task(task_id: int) -> dict[str, Any]:
    task, case = task_for(task_id, "complete_task")
    data = json_object()
    session = db.session()
    done = runtime().complete_task(session, task.id, data, api_actor())
    # What they typed is now the record; a draft left behind would be restored by mistake.
    discard_draft(session, task.id, api_user().username)
    session.commit()
    # The next tasks are shown only while the caller still sees the case: handing a case on
    # (a manager allocating a coordinator) must not leak what happens to it afterwards.
    after = still_visible_case(case.id)
    return {
        "task": task_json(done),
        "case": case_json(session, after) if after is not None else None,
        "next_tasks": open_tasks_json(session, case.id) if after is not None else [],
    }


def _clean_args() -> dict[str, str]:
    """The filters, refusing text the database cannot compare (a NUL character)."""
    args = {name: request.args.get(name, "") for name in FILTERS}
    for name, value in args.items():
        if "\x00" in value:
            raise KinflowError(f"{name}: this value holds a character that is not allowed.")
    return args


def _next_filters() -> dict[str, str]:
    """The filters for the next task, refusing those it settles itself."""
    args = _clean_args()
    for name, value in args.items():
        if name not in NEXT_FILTERS and value.strip():
            raise KinflowError(
                f"{name}: the next task is always an unassigned one you may pick up; "
                f"leave {name} out (filters here: {', '.join(NEXT_FILTERS)})."
            )
    return args


def _whole_number(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not low <= int(raw) <= high:
        raise KinflowError(f"{name}: give a whole number from {low} to {high}.")
    return int(raw)
