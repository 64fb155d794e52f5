"""The main menu: each user sees the areas their roles use, and nothing they cannot open."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, request, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from engine.roles import ADMIN, COORDINATOR, DATA_OFFICER, FGC_MANAGER, PROCESS_OWNER, REFERRER

# (endpoint, label, roles that see it; None means everyone signed in)
_AREAS: tuple[tuple[str, str, frozenset[str] | None], ...] = (
    ("inbox.index", "Tasks", None),
    ("cases.index", "Cases", None),
    ("referrals.new", "New referral", frozenset({REFERRER, FGC_MANAGER})),
    ("board.index", "Conference board", frozenset({COORDINATOR, FGC_MANAGER})),
    ("audit_log.index", "Audit log", frozenset({FGC_MANAGER, ADMIN})),
    ("reports.index", "Reports", frozenset({FGC_MANAGER, DATA_OFFICER})),
    ("subject_access.index", "Subject access", frozenset({DATA_OFFICER})),
    ("retention.index", "Retention", frozenset({DATA_OFFICER, ADMIN})),
    ("admin.users", "Users", frozenset({ADMIN})),
    ("admin.outbox", "Email outbox", frozenset({ADMIN})),
    ("modeller.index", "Modeller", frozenset({PROCESS_OWNER})),
    ("form_editor.index", "Forms", frozenset({PROCESS_OWNER})),
    ("account.tokens", "API tokens", None),
)

# Areas whose pages sit under another area's entry: the report pages share "Reports" (their
# own tabs move between them).
_SECTION_OF = {"stage_waits": "reports", "extracts": "reports"}


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    current: bool


def main_nav() -> list[NavItem]:
    if not current_user.is_authenticated:
        return []
    roles = set(current_user.roles)
    # A page that is itself a menu entry is current alone; any other page belongs to the
    # first entry of its blueprint (the admin's teams page is under "Users", not "Email outbox").
    exact = any(request.endpoint == endpoint for endpoint, _, _ in _AREAS)
    claimed: set[str] = set()
    items = []
    for endpoint, label, needs in _AREAS:
        blueprint = endpoint.split(".", 1)[0]
        first = blueprint not in claimed
        claimed.add(blueprint)
        if needs is not None and not roles & needs:
            continue
        try:
            url = url_for(endpoint)
        except BuildError:  # an area this app does not have yet
            continue
        if exact:
            current = request.endpoint == endpoint
        else:
            section = _SECTION_OF.get(request.blueprint or "", request.blueprint)
            current = first and section == blueprint
        items.append(NavItem(label, url, current))
    return items


def init_app(app: Flask) -> None:
    app.jinja_env.globals["main_nav"] = main_nav
