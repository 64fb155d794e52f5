"""The task page: a task's instructions and form, completed here, with drafts kept as it is typed.

Anyone who can see the task's case can open the task (anyone else, and a task id that was never
used, get the same 404). Its holder may complete it, and so may anyone with its role while
nobody holds it (completing claims it, as the engine allows); everyone else reads it with the
form read-only and is told who it is waiting for.

Nothing typed is lost: every post that does not complete the task (an add or remove button,
answers that need changing, someone else got there first) shows the form again with what was
typed and keeps it as the worker's draft, and the draft is written before completing, so even
an error page leaves it behind. Completing discards it in the same request.

Drafts (engine/drafts.py) belong to one worker and one task and nobody else sees them. They
are saved by static/js/drafts.js while typing and by the "Save draft" button without
JavaScript. Saving one is not audited: a draft neither shows nor changes the case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from engine.access import visible_case
from engine.accounts import User
from engine.drafts import (
    MAX_DRAFT_BYTES,
    DraftTooLarge,
    discard_draft,
    load_draft,
    save_draft,
)
from engine.errors import (
    CaseNotFound,
    ConcurrentChange,
    FormInvalid,
    NotAllowed,
    TaskNotFound,
    TaskNotReady,
)
from engine.family_record import worker_names
from engine.forms import validate_submission
from engine.inbox import due_state
from engine.models import Case, HumanTask, TaskState
from engine.queries import get_task, list_tasks
from engine.record.models import Referral
from engine.roles import roles_in_words
from engine.time_words import clock_time, time_on_day
from webapp.extensions import db, runtime
from webapp.form_post import apply_action, parse_draft, parse_submission
from webapp.permissions import audit_change, case_for, me, my_actor
from webapp.schema_form import build_fields, error_summary

bp = Blueprint("tasks", __name__)

# Forms whose worker decides on eligibility: the page shows the decision table's result.
SHOWS_ELIGIBILITY = frozenset({"acknowledgement", "screening"})
KEPT = "Your answers are kept below as a draft so you can copy them."
NOT_KEPT = "Your answers are shown below but were too long to keep as a draft: copy them now."


@dataclass(frozen=True)
class Standing:
    """What the signed-in worker may do with the task; `reason` says why not, in words."""

    may_complete: bool
    may_claim: bool = False
    reason: str = ""


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
def show(task_id: int) -> Any:
    if request.method == "POST":
        return _complete(task_id)
    task, case = _find(task_id, audit_as="view_task")
    return _render(task, case)


@bp.post("/tasks/<int:task_id>/draft")
def draft(task_id: int) -> Any:
    """Keep what is in the form as the worker's draft: nothing is checked but its size."""
    task, case = _find(task_id)
    user = me()
    if task.state == TaskState.COMPLETED and task.completed_by == user.username:
        # A late autosave from the page that completed it must not bring the draft back.
        return _draft_refused(409, f"You have completed '{task.title}'; no draft is kept.")
    if not _works_on(task, user):
        raise NotAllowed(_standing(task, case, user, _names(task)).reason)
    if (request.content_length or 0) > 4 * MAX_DRAFT_BYTES:
        return _draft_refused(413, str(DraftTooLarge()))
    data = parse_draft(_schema(task, case), request.form)
    try:
        saved_at = save_draft(db.session(), task.id, user.username, data)
    except DraftTooLarge as exc:
        db.session.rollback()
        if _wants_json():
            return _draft_refused(413, str(exc))
        title = "Your draft was not saved"
        return _render(task, case, values=data, conflict=str(exc), title=title, status=413)
    standing = _standing(task, case, user, _names(task))
    if _wants_json():
        notice = "" if standing.may_complete else standing.reason
        return jsonify(
            saved_at=saved_at.isoformat(), saved_at_text=clock_time(saved_at), notice=notice
        )
    flash(
        f"Draft saved at {clock_time(saved_at)}. It is kept until you complete the task.",
        "success",
    )
    return redirect(url_for("tasks.show", task_id=task.id))


@bp.post("/tasks/<int:task_id>/draft/discard")
def discard(task_id: int) -> Response:
    task, _ = _find(task_id)
    session = db.session()
    discard_draft(session, task.id, me().username)
    session.commit()
    flash("Your draft is discarded.", "success")
    return redirect(url_for("tasks.show", task_id=task.id))


# -- completing ----------------------------------------------------------------------------


def _complete(task_id: int) -> Any:
    task, case = _find(task_id)
    user = me()
    if not _standing(task, case, user, _names(task)).may_complete:
        return _refused(task, case)
    schema = _schema(task, case)
    data, action = parse_submission(schema, request.form)
    if action is not None:
        values = apply_action(data, action)
        saved = _keep_draft(task, values)
        _audit(case, task, "view_task")
        return _render(task, case, values=values, saved_at=saved)
    errors = validate_submission(schema, data)
    saved = _keep_draft(task, data)  # first, so no failure below can lose what was typed
    if errors:
        _audit(case, task, "view_task")
        return _render(task, case, values=data, errors=errors, status=422, saved_at=saved)
    session = db.session()
    try:
        runtime().complete_task(session, task.id, data, my_actor())
    except FormInvalid as exc:
        session.rollback()
        return _render(task, case, values=data, errors=exc.errors, status=422, saved_at=saved)
    except (TaskNotReady, ConcurrentChange, NotAllowed):  # someone else got there first
        session.rollback()
        return _refused(get_task(session, task.id), case)
    discard_draft(session, task.id, user.username)
    session.commit()
    _audit(case, task, "complete_task")
    flash(_done_message(task, case.id), "success")
    return redirect(url_for("inbox.index"))


def _refused(task: HumanTask, case: Case) -> Any:
    """A post that cannot complete the task: keep it as a draft and say why (409)."""
    user = me()
    if task.state == TaskState.COMPLETED and task.completed_by == user.username:
        flash(f"You had already completed '{task.title}' at {time_on_day(task.completed_at)}.")
        return redirect(url_for("inbox.index"))
    if not _works_on(task, user):
        raise NotAllowed(_standing(task, case, user, _names(task)).reason)
    data = parse_draft(_schema(task, case), request.form)
    saved = _keep_draft(task, data)
    names = _names(task)
    if _standing(task, case, user, names).may_complete:
        # Only the case changed underneath (another of its tasks moved on): send it again.
        message = "The case changed while you were sending this form. Check it and send it again."
    else:
        message = _conflict(task, names, user) + " " + (KEPT if saved else NOT_KEPT)
    _audit(case, task, "view_task")
    return _render(task, case, values=data, conflict=message, status=409, saved_at=saved)


def _conflict(task: HumanTask, names: Mapping[str, str], user: User) -> str:
    if task.state == TaskState.COMPLETED:
        who = names.get(task.completed_by or "", task.completed_by or "Someone")
        return (
            f"{who} completed this task at {time_on_day(task.completed_at)} before you sent yours."
        )
    if task.state != TaskState.READY:
        return "This task was cancelled (the case moved on or was closed) before you sent it."
    if task.assignee and task.assignee != user.username:
        who = names.get(task.assignee, task.assignee)
        return f"This task is now with {who}, so your answers were not sent."
    return "You cannot complete this task now."


def _keep_draft(task: HumanTask, data: dict[str, Any]) -> datetime | None:
    try:
        return save_draft(db.session(), task.id, me().username, data)
    except DraftTooLarge:
        db.session.rollback()
        return None


def _done_message(task: HumanTask, case_id: int) -> Markup:
    """The flash after completing: "Done: <task>." and, linked, what this worker can do next
    on the same case."""
    message = Markup("Done: {}.").format(task.title)
    following = _next_for_me(case_id)
    if following:
        links = Markup(", ").join(
            Markup('<a href="{}">{}</a>').format(url_for("tasks.show", task_id=t.id), t.title)
            for t in following
        )
        message += Markup(" Next: ") + links + Markup(".")
    return message


def _next_for_me(case_id: int) -> list[HumanTask]:
    """Open tasks of the case this worker holds or may pick up, while they still see it
    (a manager who allocated a coordinator must not follow the case afterwards)."""
    session, user = db.session(), me()
    try:
        visible_case(session, user, case_id)
    except CaseNotFound:
        return []
    return [t for t in list_tasks(session, case_id=case_id) if _may_do_now(t, user)]


# -- who may do what -----------------------------------------------------------------------


def _find(task_id: int, audit_as: str | None = None) -> tuple[HumanTask, Case]:
    """The task and its case if the worker may see the case; otherwise, as for a task that
    does not exist, 404 with the same words (naming the case would tell it exists)."""
    session = db.session()
    task = get_task(session, task_id)
    try:
        if audit_as:
            case = case_for(task.case_id, audit_as, target=f"task {task.id}")
        else:
            case = visible_case(session, me(), task.case_id)
    except CaseNotFound:
        raise TaskNotFound(f"Task {task_id} does not exist.") from None
    return task, case


def _may_do_now(task: HumanTask, user: User) -> bool:
    """As the engine decides (engine.assignment.check_may_do), for a ready task."""
    if task.state != TaskState.READY:
        return False
    if task.assignee is not None:
        return task.assignee == user.username
    return bool(set(user.roles) & set(task.candidate_groups))


def _works_on(task: HumanTask, user: User) -> bool:
    """Holds the task, or has its role: such a worker may keep a draft even after the task
    moved on without them, so what they typed is not lost."""
    return task.assignee == user.username or bool(set(user.roles) & set(task.candidate_groups))


def _standing(task: HumanTask, case: Case, user: User, names: Mapping[str, str]) -> Standing:
    if task.state == TaskState.COMPLETED:
        who = names.get(task.completed_by or "", task.completed_by or "Someone")
        who = "You" if task.completed_by == user.username else who
        return Standing(
            False, reason=f"{who} completed this task at {time_on_day(task.completed_at)}."
        )
    if task.state != TaskState.READY:
        return Standing(False, reason="This task was cancelled: the case moved on or was closed.")
    if _may_do_now(task, user):
        claimable = task.assignee is None and case.team_id == user.team_id
        return Standing(True, may_claim=claimable)
    if task.assignee is not None:
        who = names.get(task.assignee, task.assignee)
        return Standing(False, reason=f"This task is with {who}: only they can complete it.")
    return Standing(
        False,
        reason=(
            f"This task is for {roles_in_words(task.candidate_groups)}: only someone with that "
            "role can complete it."
        ),
    )


# -- the page ------------------------------------------------------------------------------


def _render(
    task: HumanTask,
    case: Case,
    *,
    values: dict[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    conflict: str = "",
    title: str = "Your answers were not sent",
    saved_at: datetime | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The task page; after a post, with what was typed (`values`) and why it was not done."""
    session, user = db.session(), me()
    names = _names(task)
    standing = _standing(task, case, user, names)
    draft = load_draft(session, task.id, user.username)
    restored = values is None and draft is not None
    if values is None:
        values = dict(draft.data) if draft is not None else None
    fields = summary = None
    if task.state == TaskState.READY or values is not None:
        form = runtime().task_form(session, task.id)
        shown = values if values is not None else form.values
        fields = build_fields(form.schema, shown, errors, readonly=not standing.may_complete)
        summary = error_summary(fields, errors or {})
    referral = session.get(Referral, case.id)
    page = render_template(
        "tasks/show.html",
        task=task,
        case=case,
        referral=referral,
        show_eligibility=referral is not None and task.form_key in SHOWS_ELIGIBILITY,
        standing=standing,
        fields=fields,
        summary=summary,
        conflict=conflict,
        conflict_title=title,
        draft=draft,
        restored_text=time_on_day(draft.saved_at) if restored and draft is not None else "",
        saved_text=clock_time(saved_at) if saved_at else "",
        waiting_for=_waiting_for(task, names, user),
        due=due_state(task.due_at),
        instructions=_paragraphs(task.instructions),
        draft_key=f"kinflow-draft:{user.username}:{task.id}",
        holds_it=task.assignee == user.username,
    )
    return page, status


def _schema(task: HumanTask, case: Case) -> dict[str, Any]:
    forms = runtime().store.version(db.session(), case.version_id).forms
    return forms.get(task.form_key or "", {})


def _names(task: HumanTask) -> dict[str, str]:
    return worker_names(db.session(), [task.assignee, task.completed_by])


def _waiting_for(task: HumanTask, names: Mapping[str, str], user: User) -> str:
    if task.state != TaskState.READY:
        return "Nobody: the task is closed."
    if task.assignee == user.username:
        return "You"
    if task.assignee:
        return names.get(task.assignee, task.assignee)
    return f"Anyone with the role {roles_in_words(task.candidate_groups)} (not claimed yet)"


def _paragraphs(text: str | None) -> list[str]:
    """Instructions from the diagram as paragraphs; single line breaks stay (CSS pre-line)."""
    lines = (text or "").replace("\r\n", "\n").strip()
    return [p.strip("\n") for p in lines.split("\n\n") if p.strip()]


def _audit(case: Case, task: HumanTask, action: str) -> None:
    audit_change(case.id, action, f"task {task.id}")


def _wants_json() -> bool:
    """The autosave script asks for JSON; the "Save draft" button (no script) for a page."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _draft_refused(status: int, message: str) -> Any:
    if _wants_json():
        return jsonify(error="Draft not saved", message=message), status
    flash(message, "error")
    return redirect(url_for("tasks.show", task_id=request.view_args["task_id"]))
