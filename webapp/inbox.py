"""The task inbox: my tasks, tasks I may pick up, my team's tasks; claim, give back, delegate.

Reading goes through ``engine.inbox`` (one query for the rows, one for the counts); every
change goes through ``engine.assignment`` and is written to the audit log here. When someone
else got there first the worker is told in plain words and sent back to the inbox, rather
than shown an error page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlencode

from flask import Blueprint, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from engine import assignment, saved_filters
from engine.accounts import User
from engine.assignment import cases_held_by, colleagues, task_holders
from engine.errors import ConcurrentChange, KinflowError, NotAllowed, TaskNotFound, TaskNotReady
from engine.inbox import (
    DUE_WINDOWS,
    InboxRow,
    TaskFilter,
    count_tasks,
    find_tasks,
    is_manager,
    stage_choices,
)
from engine.models import Case, HumanTask
from engine.queries import get_task_and_case
from engine.roles import MANAGING_ROLES, ROLE_NAMES, ROLES
from webapp.extensions import db, runtime
from webapp.permissions import audit_change, me, my_actor, requires_roles

bp = Blueprint("inbox", __name__)

PAGE_SIZE = 50
DUE_LABELS = {
    "overdue": "Overdue",
    "today": "Due by the end of today",
    "week": "Due in the next 7 days",
    "none": "No due date",
}
SCOPE_LABELS = {
    "mine": "My tasks",
    "available": "Available to me",
    "all": "Mine and available",
    "team": "Team",
}


@bp.get("/tasks")
def index() -> tuple[str, int]:
    session = db.session()
    user = me()
    problem = None
    try:
        where = TaskFilter.from_query(request.args)
        page = _page_number(request.args.get("page"))
    except KinflowError as exc:
        problem, where, page = str(exc), TaskFilter(), 1
    counts = count_tasks(session, user, where)
    rows = find_tasks(session, user, where, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    team = colleagues(session, user.team_id)
    page_html = render_template(
        "inbox/index.html",
        where=where,
        rows=rows,
        counts=counts,
        page=page,
        pages=max(1, -(-counts.total // PAGE_SIZE)),
        problem=problem,
        manager=is_manager(user),
        stages=stage_choices(session, runtime().store),
        roles=ROLES,
        due_windows=DUE_WINDOWS,
        saved=saved_filters.filters_of(session, user.username),
        holders=task_holders(session, user.team_id) if where.scope == "team" else [],
        team=team,
        options=_hand_on_options(rows, team),
        me=user,
        back=request.full_path.rstrip("?"),
        filtered=any((where.stage, where.role, where.due, where.family, where.assignee)),
        clear_url=_inbox_url(TaskFilter(where.scope)),
        everyone_url=_inbox_url(replace(where, assignee=None)),
        labels={"role": ROLE_NAMES, "due": DUE_LABELS, "scope": SCOPE_LABELS},
        inbox_url=_inbox_url,
        long_date=_long_date,
    )
    return page_html, 400 if problem else 200


@bp.post("/tasks/<int:task_id>/claim")
def claim(task_id: int) -> Response:
    task, case = _task_within_reach(task_id)
    return _act(
        lambda: assignment.claim(db.session(), task_id, my_actor()),
        case,
        "claim_task",
        f"You claimed '{task.title}'.",
        f"Someone else claimed '{task.title}' first.",
    )


@bp.post("/tasks/<int:task_id>/give-back")
def give_back(task_id: int) -> Response:
    task, case = _task_within_reach(task_id)
    return _act(
        lambda: assignment.unclaim(db.session(), task_id, my_actor()),
        case,
        "give_back_task",
        f"You gave back '{task.title}'; it is available to everyone with its role again.",
        f"'{task.title}' changed while you were looking at it.",
    )


@bp.post("/tasks/<int:task_id>/assign")
def assign(task_id: int) -> Response:
    """Delegation by the task's holder, or a manager's reassignment within their team."""
    task, case = _task_within_reach(task_id)
    user = me()
    delegating = task.assignee == user.username
    if not delegating and not _manages(user, case):
        raise NotAllowed(f"Task '{task.title}' is not yours to hand on.")
    target = (request.form.get("to") or "").strip().lower()
    allowed = {u.username: u for u in colleagues(db.session(), user.team_id)}
    if target not in allowed or not set(allowed[target].roles) & set(task.candidate_groups):
        raise KinflowError("to: choose a colleague in your team who has this task's role.")
    name = allowed[target].display_name
    return _act(
        lambda: assignment.assign(db.session(), task_id, target, my_actor()),
        case,
        "delegate_task" if delegating else "reassign_task",
        f"'{task.title}' is now with {name}.",
        f"'{task.title}' changed while you were looking at it.",
    )


@bp.post("/tasks/reassign-all")
@requires_roles(*MANAGING_ROLES)
def reassign_all() -> Response:
    session = db.session()
    user = me()
    source = (request.form.get("from") or "").strip().lower()
    target = (request.form.get("to") or "").strip().lower() or None
    affected = cases_held_by(session, source, user.team_id) if source else []
    try:
        moved = assignment.reassign_all(session, source, target, my_actor(), user.team_id)
    except NotAllowed:
        raise
    except KinflowError as exc:  # someone else changed a task, or a choice is missing
        flash(str(exc), "error")
        return redirect(_back())
    for case_id in affected:
        audit_change(case_id, "reassign_task", f"all tasks of {source}")
    who = target or "the available list"
    flash(f"Moved {moved} task{'s' if moved != 1 else ''} from {source} to {who}.", "success")
    return redirect(_back())


@bp.post("/tasks/filters")
def save_filter() -> Response:
    where = TaskFilter.from_query(request.form)
    try:
        saved = saved_filters.save_filter(
            db.session(), me().username, request.form.get("name", ""), where.to_query()
        )
    except KinflowError as exc:
        flash(str(exc), "error")
        return redirect(_inbox_url(where))
    flash(f"Saved the filter '{saved.name}'.", "success")
    return redirect(_inbox_url(where))


@bp.post("/tasks/filters/<int:filter_id>/delete")
def delete_filter(filter_id: int) -> Response:
    saved_filters.delete_filter(db.session(), me().username, filter_id)
    flash("Deleted the saved filter.", "success")
    return redirect(_back())


def _act(change: Callable[[], object], case: Case, action: str, done: str, beaten: str) -> Response:
    """Run an assignment change; if someone else got there first, say so and go back."""
    try:
        change()
    except ConcurrentChange:
        flash(beaten, "error")
        return redirect(_back())
    except TaskNotReady as exc:
        flash(str(exc), "error")
        return redirect(_back())
    audit_change(case.id, action, request.path)
    flash(done, "success")
    return redirect(_back())


def _task_within_reach(task_id: int) -> tuple[HumanTask, Case]:
    """The task, if it is or was in one of the user's inbox views; otherwise it "does not exist".

    Reach is decided as the inbox decides it (engine/inbox.py) but without the assignee and
    state, so a worker who lost a race to claim still hears who won rather than "not found".
    """
    task, case = get_task_and_case(db.session(), task_id)
    user = me()
    own_team = case.team_id == user.team_id
    if task.assignee == user.username or _manages(user, case):
        return task, case
    if own_team and set(user.roles) & set(task.candidate_groups):
        return task, case
    raise TaskNotFound(f"Task {task_id} does not exist.")


def _manages(user: User, case: Case) -> bool:
    return is_manager(user) and case.team_id == user.team_id


def _hand_on_options(rows: list[InboxRow], team: list[User]) -> dict[int, Markup]:
    """Per task, the <option>s of colleagues who could take it over: its role, not its holder.

    Built once per distinct (roles, holder) pair in Python: a team view has fifty rows each
    offering a score of colleagues, which a template loop would render a thousand times. Each
    colleague's <option> is escaped once: a team page has a pair per holder, a score of them.
    """
    if not rows:
        return {}
    each = [
        (
            u.username,
            set(u.roles),
            Markup('<option value="{}">{}</option>').format(u.username, u.display_name),
        )
        for u in team
    ]
    built: dict[tuple[frozenset[str], str | None], Markup] = {}
    options = {}
    for row in rows:
        key = (frozenset(row.task.candidate_groups), row.task.assignee)
        if key not in built:
            built[key] = Markup("").join(
                option for name, roles, option in each if key[0] & roles and name != key[1]
            )
        options[row.task.id] = built[key]
    return options


def _page_number(raw: str | None) -> int:
    if not raw:
        return 1
    if not raw.isdigit() or not 0 < int(raw) <= 100_000:
        raise KinflowError("page: give a page number of 1 or more.")
    return int(raw)


def _back() -> str:
    """Where an action returns to: the inbox view it was posted from (only an inbox path)."""
    target = request.form.get("next", "")
    if target.startswith("/tasks") and not target.startswith("//"):
        return target
    return url_for("inbox.index")


def _inbox_url(where: TaskFilter, page: int = 1, **changes: str) -> str:
    query = where.to_query() | changes
    if page > 1:
        query["page"] = str(page)
    return url_for("inbox.index") + ("?" + urlencode(query) if query else "")


def _long_date(moment: datetime | None) -> str:
    return f"{moment:%d %b %Y}" if moment else ""
