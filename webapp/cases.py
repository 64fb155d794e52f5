"""The case list and the case page: the family's record, the plan, the chronology, the
diagram, and the three things anyone on a case may record from it.

Who sees what: a case is shown only to the people working on it (engine/access.py); to anyone
else every URL here answers 404, as if the case did not exist. Every view and every change is
audited. The family's contact and equality details are shown only to the people who work
with the family directly (``engine.family_record.parts_in_case``: its referrer, coordinator,
lead practitioner and the managers of its team); the same people may record that consent was
withdrawn. Anyone who can see the case may raise a safeguarding concern or add a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from engine.access import visible_case
from engine.accounts import Team
from engine.case_notes import MAX_NOTE_LENGTH, add_note
from engine.chronology import case_events
from engine.diagram import case_diagrams
from engine.errors import CaseNotActive, ConcurrentChange, FormInvalid, KinflowError, NotAllowed
from engine.family_record import (
    CASE_STATUSES,
    MAX_SEARCH,
    FamilyRecord,
    family_record,
    list_cases,
    parts_in_case,
    worker_names,
)
from engine.inbox import due_state
from engine.models import Case, CaseStatus
from engine.queries import list_tasks
from engine.record.models import Referral
from webapp.extensions import db, runtime
from webapp.permissions import audit_change, case_for, me, my_actor

bp = Blueprint("cases", __name__)

PER_PAGE = 25
MAX_CONCERN_LENGTH = 4000
MAX_REASON_LENGTH = 2000
MAX_NAME_LENGTH = 120

STATUS_LABELS = {
    CaseStatus.ACTIVE: "Open",
    CaseStatus.COMPLETED: "Finished",
    CaseStatus.CANCELLED: "Cancelled",
    CaseStatus.ERROR: "Stopped by an error",
}
# Chronology entry kinds, as the filter on the case page names them.
EVENT_KINDS = {
    "case_note": "Case notes",
    "task_completed": "Forms completed",
    "message_received": "Concerns and consent",
    "sla_breached": "Missed deadlines",
    "task_ready": "Tasks opened",
    "task_assigned": "Tasks claimed or assigned",
    "task_cancelled": "Tasks cancelled",
    "case_started": "Case started",
    "case_completed": "Case finished",
    "case_cancelled": "Case cancelled",
    "case_migrated": "Moved to a new version",
    "kept_on_version": "Kept on its version",
    "released_from_version": "Released to move versions",
}


# -- the case list -------------------------------------------------------------------------


@bp.get("/cases")
def index() -> str:
    search = (request.args.get("q") or "").strip()
    status = request.args.get("status") or ""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    errors: dict[str, str] = {}
    if len(search) > MAX_SEARCH:
        errors["q"] = f"Family name: give at most {MAX_SEARCH} characters."
    if status and status not in CASE_STATUSES:
        errors["status"] = "Status: choose one of the listed statuses."
    found = list_cases(
        db.session(),
        me(),
        search=None if "q" in errors else search,
        status=None if "status" in errors or not status else status,
        page=page,
        per_page=PER_PAGE,
    )
    audit_change(None, "list_cases", target=request.full_path)
    return render_template(
        "cases/index.html",
        found=found,
        search=search,
        status=status,
        errors=errors,
        status_labels=STATUS_LABELS,
    )


# -- one case ------------------------------------------------------------------------------


@bp.get("/cases/<int:case_id>")
def show(case_id: int) -> ResponseReturnValue:
    case = case_for(case_id, "view_case")
    return _render_case(case)


@bp.get("/cases/<int:case_id>/diagram.json")
def diagram(case_id: int) -> Response:
    """The diagrams of the processes the case has entered, as the case page's viewer reads
    them (webapp/static/js/case-diagram.js)."""
    case = case_for(case_id, "view_diagram")
    views = case_diagrams(db.session(), runtime(), case.id)
    return jsonify([view.to_json() for view in views])


@bp.get("/cases/<int:case_id>/plan/print")
def plan_print(case_id: int) -> ResponseReturnValue:
    """The family's plan as a document for the family (template: cases/plan_print.html, which
    also says so when there is no plan yet)."""
    case = case_for(case_id, "print_plan")
    session = db.session()
    record = family_record(session, case.id)
    team = session.get(Team, case.team_id) if case.team_id is not None else None
    return render_template(
        "cases/plan_print.html",
        case=case,
        record=record,
        plan=record.current_plan,
        progress=record.action_progress(),
        names=worker_names(session, _plan_workers(case, record)),
        service=team.name if team is not None else None,
        label=_labeller(runtime().store.version(session, case.version_id).forms),
    )


def _render_case(
    case: Case,
    *,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The case page; after a refused action, with what was typed and the reasons."""
    session = db.session()
    record = family_record(session, case.id)
    tasks = list_tasks(session, case_id=case.id)
    events = list(reversed(case_events(session, case.id)))
    kinds = {e.kind for e in events}
    kind = request.args.get("kind") or ""
    shown = [e for e in events if e.kind == kind] if kind in kinds else events
    diagrams = case_diagrams(session, runtime(), case.id)
    parts = parts_in_case(session, me(), case, record.referral)
    forms = runtime().store.version(session, case.version_id).forms
    names = worker_names(
        session, [e.actor for e in events] + [t.assignee for t in tasks] + _workers(case, record)
    )
    page = render_template(
        "cases/show.html",
        case=case,
        record=record,
        progress=record.action_progress(),
        tasks=tasks,
        events=shown,
        event_count=len(events),
        kinds=[(k, label) for k, label in EVENT_KINDS.items() if k in kinds],
        kind=kind if kind in kinds else "",
        diagrams=diagrams,
        may_withdraw_consent=bool(parts),
        sees_contacts=bool(parts),
        accepts_messages=_accepts_messages(case, record),
        names=names,
        label=_labeller(forms),
        form=form or {},
        errors=errors or {},
        limits={
            "concern": MAX_CONCERN_LENGTH,
            "reason": MAX_REASON_LENGTH,
            "withdrawn_by": MAX_NAME_LENGTH,
            "note": MAX_NOTE_LENGTH,
        },
    )
    return page, status


def _accepts_messages(case: Case, record: FamilyRecord) -> bool:
    """Whether concerns and consent can still be recorded, as far as the record tells.

    The engine has the last word (a declined referral stops taking them once the referrer
    has been told); this only spares workers a form that would certainly be refused."""
    withdrawn = record.referral is not None and record.referral.consent_withdrawn_at is not None
    return case.status == CaseStatus.ACTIVE and record.closure is None and not withdrawn


def _workers(case: Case, record: FamilyRecord) -> list[str | None]:
    """Every worker the record names, for their display names."""
    ref = record.referral
    names: list[str | None] = [case.created_by]
    if ref is not None:
        names += [ref.referred_by, ref.coordinator, ref.screened_by]
    names += [c.raised_by for c in record.concerns] + [c.reviewed_by for c in record.concerns]
    names += [p.decided_by for p in record.plans] + [r.recorded_by for r in record.reviews]
    names += [p.requested_by for p in record.packages] + [p.approved_by for p in record.packages]
    names += [o.recorded_by for o in record.outcomes]
    if record.closure is not None:
        names.append(record.closure.closed_by)
    return names


def _plan_workers(case: Case, record: FamilyRecord) -> list[str | None]:
    ref = record.referral
    return [ref.coordinator, ref.referred_by] if ref is not None else [case.created_by]


@bp.context_processor
def _helpers() -> dict[str, Any]:
    """What the case templates share (dates come from webapp.formatting): status words."""
    return {
        "due_state": due_state,
        "status_label": lambda s: STATUS_LABELS.get(s, s),
    }


def _labeller(forms: Mapping[str, Any]) -> Any:
    """``label(form_key, path, value)``: a stored code in the words of the case's deployed
    form (``x-labels``); ``path`` is the field, dotted through arrays (``network.attendance``)."""

    def label(form_key: str, path: str, value: Any) -> str:
        if value is None or value == "":
            return ""
        schema: Mapping[str, Any] = forms.get(form_key, {})
        for part in path.split("."):
            if schema.get("type") == "array":
                schema = schema.get("items", {})
            schema = schema.get("properties", {}).get(part, {})
        labels = schema.get("x-labels") or schema.get("items", {}).get("x-labels") or {}
        return str(labels.get(value, str(value).replace("_", " ").capitalize()))

    return label


# -- actions -------------------------------------------------------------------------------


@bp.post("/cases/<int:case_id>/concerns")
def raise_concern(case_id: int) -> ResponseReturnValue:
    case = visible_case(db.session(), me(), case_id)
    form = {"concern": request.form.get("concern", "")}
    concern = form["concern"].strip()
    error = _text_error(concern, MAX_CONCERN_LENGTH, "Describe the concern")
    if error:
        return _refused(case, form, {"concern": error})
    payload = {"concern": concern, "raised_by": me().username}
    refused = _send(case, "safeguarding_concern", payload, form, "concern")
    if refused is not None:
        return refused
    audit_change(case.id, "raise_concern")
    flash(
        "Safeguarding concern raised. An FGC manager has a task to review it within 24 hours. "
        "If a child is in immediate danger, call the police on 999.",
        "success",
    )
    return redirect(url_for(".show", case_id=case.id, _anchor="safeguarding"))


@bp.post("/cases/<int:case_id>/consent-withdrawn")
def withdraw_consent(case_id: int) -> ResponseReturnValue:
    session = db.session()
    case = visible_case(session, me(), case_id)
    if not parts_in_case(session, me(), case, session.get(Referral, case.id)):
        raise NotAllowed(
            "Only the family's referrer, coordinator, lead practitioner or an FGC manager of "
            "the team can record that consent was withdrawn."
        )
    form = {
        "reason": request.form.get("reason", ""),
        "withdrawn_by": request.form.get("withdrawn_by", ""),
        "confirm": request.form.get("confirm", ""),
    }
    reason, withdrawn_by = form["reason"].strip(), form["withdrawn_by"].strip()
    errors = {}
    error = _text_error(reason, MAX_REASON_LENGTH, "Give the reason consent was withdrawn")
    if error:
        errors["reason"] = error
    if len(withdrawn_by) > MAX_NAME_LENGTH:
        errors["withdrawn_by"] = f"Give a name of at most {MAX_NAME_LENGTH} characters."
    if form["confirm"] != "yes":
        errors["confirm"] = "Tick the box to confirm that the pathway ends for this family."
    if errors:
        return _refused(case, form, errors)
    payload = {"reason": reason, "withdrawn_by": withdrawn_by}
    refused = _send(case, "consent_withdrawn", payload, form, "reason")
    if refused is not None:
        return refused
    audit_change(case.id, "withdraw_consent")
    flash(
        "Consent withdrawal recorded. The pathway has ended and its open tasks were cancelled.",
        "success",
    )
    return redirect(url_for(".show", case_id=case.id))


@bp.post("/cases/<int:case_id>/notes")
def add_case_note(case_id: int) -> ResponseReturnValue:
    case = visible_case(db.session(), me(), case_id)
    form = {"note": request.form.get("note", "")}
    try:
        add_note(db.session(), case.id, my_actor(), form["note"])
    except FormInvalid as invalid:
        return _refused(case, form, {"note": invalid.errors.get("text", str(invalid))})
    audit_change(case.id, "add_note")
    flash("Note added to the chronology.", "success")
    return redirect(url_for(".show", case_id=case.id, _anchor="chronology"))


def _text_error(text: str, limit: int, missing: str) -> str | None:
    """A message for free text that is empty or too long; it never quotes the text."""
    if not text:
        return f"{missing}: this field is required."
    if len(text) > limit:
        return f"At most {limit} characters: this has {len(text)}."
    return None


_NOT_WAITING = {
    "safeguarding_concern": (
        "This case no longer takes safeguarding concerns: its pathway has ended. If a child "
        "may be at risk, contact the MASH (children's social care) directly."
    ),
    "consent_withdrawn": "This case's pathway has already ended, so there is nothing to stop.",
}


def _send(
    case: Case, name: str, payload: dict[str, str], form: Mapping[str, str], field: str
) -> Any:
    """Deliver the message; ``None`` when it was taken, else the page explaining why not."""
    try:
        runtime().send_message(db.session(), case.id, name, payload, my_actor())
    except ConcurrentChange as clash:
        return _refused(case, form, {field: str(clash)}, status=409)
    except KinflowError as refusal:
        # A plain KinflowError is the engine's "not waiting for the message".
        if type(refusal) is not KinflowError and not isinstance(refusal, CaseNotActive):
            raise
        return _refused(case, form, {field: _NOT_WAITING[name]}, status=409)
    return None


def _refused(
    case: Case, form: Mapping[str, str], errors: Mapping[str, str], status: int = 422
) -> Any:
    """The case page again, with the reasons next to the fields and what was typed kept.
    Showing the record again is a view of it, so it is audited as one."""
    audit_change(case.id, "view_case")
    return _render_case(case, form=form, errors=errors, status=status)
