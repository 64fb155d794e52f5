"""The audit log page: who viewed or changed which case, and when, for managers and admins.

Admins read every entry. An FGC manager reads the entries about their team's cases and the
entries made by their team's workers (``engine.audit.readable_by`` says why). Reading the log
is itself written to the log, so nobody can quietly look at who looked at a family.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, render_template, request, url_for
from werkzeug.routing import BuildError

from engine import audit
from engine.accounts import USERNAME_PATTERN
from engine.models import MAX_ID
from engine.roles import ADMIN, FGC_MANAGER
from engine.time_words import LONDON
from webapp.extensions import db
from webapp.permissions import me, requires_roles

bp = Blueprint("audit_log", __name__)

PAGE_SIZE = 50
_ACTION_PATTERN = re.compile(r"^[a-z_]{1,40}$")
_FILTER_FIELDS = ("username", "case", "action", "from", "to")

# Plain words for the actions the app records; others are shown as recorded.
ACTION_LABELS = {
    "login": "Signed in",
    "logout": "Signed out",
    "view_case": "Viewed a case",
    "view_task": "Opened a task",
    "complete_task": "Completed a task",
    "claim_task": "Claimed a task",
    "raise_concern": "Raised a safeguarding concern",
    "add_note": "Added a case note",
    "print_plan": "Printed the family plan",
    "view_diagram": "Viewed the case diagram",
    "view_audit_log": "Read the audit log",
    "create_api_token": "Created an API token",
    "revoke_api_token": "Revoked an API token",
    "admin_create_user": "Added a user",
    "admin_update_user": "Changed a user",
    "admin_deactivate_user": "Deactivated a user",
    "admin_reactivate_user": "Reactivated a user",
    "admin_unlock_user": "Unlocked a user",
    "admin_reset_password": "Set a user's password",
    "admin_create_team": "Added a team",
    "admin_retry_email": "Sent an email again",
    "set_email_preference": "Changed their email preference",
    "deploy_version": "Deployed a process version",
    "migrate_case": "Moved a case to a new version",
    "keep_on_version": "Left a case on its process version",
    "release_from_version": "Let a kept case move to newer versions",
    "view_claims_report": "Viewed the Supporting Families claims",
    "download_claims_csv": "Downloaded the claims with their evidence",
    "download_case_extract": "Downloaded the case-level extract",
    "view_subject_access": "Viewed a subject access export",
    "export_subject_access": "Released a subject access export",
    "disclosure": "Disclosed a family's record",
    "mark_redaction": "Marked a passage to redact",
    "remove_redaction": "Removed a redaction mark",
    "view_retention_report": "Read the retention report",
    "erase_case": "Erased a case past retention",
    "purge_records": "Deleted records past retention",
}


@dataclass
class AuditQuery:
    """The filter form as typed, the filter it means, and what was wrong with it."""

    values: dict[str, str]
    where: audit.AuditFilter = field(default_factory=audit.AuditFilter)
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)


def _parse_day(text: str) -> date:
    """A day as a date input sends it (2026-03-02) or as people type it (02/03/2026)."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, LONDON)


def parse_query(args: Any) -> AuditQuery:
    values = {name: (args.get(name) or "").strip() for name in _FILTER_FIELDS}
    query = AuditQuery(values)
    errors = query.errors
    username = values["username"].lower()
    if username and not USERNAME_PATTERN.match(username):
        errors["username"] = "Username: type a username such as sam.jones."
    case_id = None
    if values["case"]:
        if values["case"].isdigit() and 0 < int(values["case"]) <= MAX_ID:
            case_id = int(values["case"])
        else:
            errors["case"] = "Case number: type the case's number, such as 42."
    action = values["action"].lower()
    if action and not _ACTION_PATTERN.match(action):
        errors["action"] = "Action: type an action such as view_case."
    days: dict[str, date | None] = {"from": None, "to": None}
    for name, label in (("from", "From"), ("to", "To")):
        if values[name]:
            try:
                days[name] = _parse_day(values[name])
                values[name] = days[name].isoformat()  # what a date input shows again
            except ValueError:
                errors[name] = f"{label}: give a date such as 02/03/2026."
    if days["from"] and days["to"] and days["from"] > days["to"]:
        errors["to"] = "To: give a date on or after the From date."
    page = args.get("page") or "1"
    query.page = int(page) if page.isdigit() and 0 < int(page) <= 10_000 else 1
    if not errors:
        query.where = audit.AuditFilter(
            username=username or None,
            case_id=case_id,
            action=action or None,
            since=_start_of(days["from"]) if days["from"] else None,
            until=_start_of(days["to"] + timedelta(days=1)) if days["to"] else None,
        )
    return query


def _case_url(case_id: int) -> str | None:
    try:
        return url_for("cases.show", case_id=case_id)
    except BuildError:  # the case page is not in this build
        return None


def _page_url(query: AuditQuery, page: int) -> str:
    kept = {k: v for k, v in query.values.items() if v}
    return url_for("audit_log.index", **kept, page=page)


def _describe(query: AuditQuery) -> str:
    """What the reader filtered on, for the audit entry of their reading."""
    kept = [f"{name}={value}" for name, value in query.values.items() if value]
    if query.page > 1:
        kept.append(f"page={query.page}")
    return "audit log " + (", ".join(kept) if kept else "(all)")


@bp.get("/audit")
@requires_roles(FGC_MANAGER, ADMIN)
def index() -> str | tuple[str, int]:
    session = db.session()
    reader = me()
    query = parse_query(request.args)
    rows: list[audit.AuditEntry] = []
    more = False
    if not query.errors:
        audit.record(session, reader.username, "view_audit_log", target=_describe(query))
        session.commit()
        offset = (query.page - 1) * PAGE_SIZE
        rows = audit.entries(session, query.where, PAGE_SIZE + 1, offset, reader=reader)
        more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    page = render_template(
        "audit_log/index.html",
        query=query,
        rows=rows,
        more=more,
        sees_all=ADMIN in reader.roles,
        team=reader.team.name if reader.team else None,
        labels=ACTION_LABELS,
        case_url=_case_url,
        page_url=_page_url,
    )
    return (page, 400) if query.errors else page
