"""Cases through the API: start a referral (or a case of another process), read the family's
record, and deliver messages such as a safeguarding concern.

A referral is the pathway's first task: the case is started and its ``submit_referral`` task
completed with the body in one request, the same two steps a referrer takes on the web. The
data is checked against the referral form first, so a refused referral leaves no case behind.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for

from engine.deploy import latest_version
from engine.errors import FormInvalid
from engine.intake import PATHWAY, REFERRING_ROLES, submit_referral
from engine.models import Case
from engine.roles import ADMIN, PROCESS_OWNER
from webapp.api import bp
from webapp.api.auth import api_actor, api_user, audit_request, case_for, require_any_role
from webapp.api.body import json_object
from webapp.api.messages import audit_action, check_name, deliver
from webapp.api.serialize import record_json
from webapp.extensions import db, runtime

STARTING_ROLES = (PROCESS_OWNER, ADMIN)
_START_FIELDS = {"process", "data", "title"}


@bp.post("/cases")
def start_case() -> tuple[dict[str, Any], int, dict[str, str]]:
    body = json_object()
    case = _start_process(body) if "process" in body else _start_referral(body)
    session = db.session()
    audit_request("start_case", case.id)
    session.commit()
    location = url_for("api.get_case", case_id=case.id)
    return record_json(session, case), 201, {"Location": location}


@bp.get("/cases/<int:case_id>")
def get_case(case_id: int) -> dict[str, Any]:
    case = case_for(case_id, "view_case")
    return record_json(db.session(), case)


@bp.post("/cases/<int:case_id>/messages/<name>")
def send_message(case_id: int, name: str) -> dict[str, Any]:
    check_name(name)
    case = case_for(case_id, audit_action(name))
    body = json_object()
    return record_json(db.session(), deliver(case, name, body))


def _start_referral(data: dict[str, Any]) -> Case:
    require_any_role(REFERRING_ROLES, "make a referral")
    rule = current_app.config["KINFLOW_ELIGIBILITY_RULE"]
    return submit_referral(db.session(), runtime(), data, api_actor(), api_user().team_id, rule)


def _start_process(body: dict[str, Any]) -> Case:
    """A case of any deployed process, for process owners and admins trying a new diagram."""
    require_any_role(STARTING_ROLES, "start a case of an arbitrary process")
    errors = {key: "This field is not known here." for key in body if key not in _START_FIELDS}
    process, data, title = body.get("process"), body.get("data", {}), body.get("title", "")
    if not isinstance(process, str) or not process.strip():
        errors["process"] = "Give the id of a deployed process."
    if not isinstance(data, dict):
        errors["data"] = "Expected a group of fields (a JSON object)."
    if not isinstance(title, str) or len(title) > 255:
        errors["title"] = "Expected text of at most 255 characters."
    if errors:
        raise FormInvalid(errors)
    session = db.session()
    version = latest_version(session, process.strip()[:255])
    start_data = dict(data)
    if version.process_id == PATHWAY:
        start_data.setdefault("eligibility_rule", current_app.config["KINFLOW_ELIGIBILITY_RULE"])
    title = title.strip() or version.name
    return runtime().start_case(
        session, version, start_data, api_actor(), title, api_user().team_id
    )
