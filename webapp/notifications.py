"""A worker's notifications: the count in the header, the list, and what is emailed to them.

Reading and marking go through ``engine.notifications.reading``, which only ever touches the
signed-in worker's own rows: another worker's notification is a 404, like one never made.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from engine.errors import KinflowError
from engine.notifications import reading
from engine.notifications.models import Notification, Preference
from webapp.extensions import db
from webapp.permissions import audit_change, me

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

SHOW_LABELS = {"all": "All", "unread": "Unread"}
LIMIT = 100


@bp.app_context_processor
def _header_count() -> dict[str, Any]:
    """The unread count beside the worker's name: one indexed count a request, signed in only."""
    if not current_user.is_authenticated:
        return {}
    if "unread_notifications" not in g:
        g.unread_notifications = reading.unread_count(db.session(), current_user.username)
    return {"unread_notifications": g.unread_notifications}


def internal_link(notification: Notification) -> str | None:
    """The notification's link if it is a path inside Kinflow (never another site)."""
    link = notification.link or ""
    if link.startswith("/") and not link.startswith("//") and "\\" not in link:
        return link
    return None


def link_text(link: str) -> str:
    if link.startswith("/tasks/"):
        return "Open task"
    if link.startswith("/cases/"):
        return "Open case"
    return "Open"


def _list_url(show: str | None) -> str:
    """The list as the worker had it: unread only, or all (any other value)."""
    return url_for("notifications.index", show="unread" if show == "unread" else None)


@bp.get("")
def index() -> tuple[str, int]:
    show = request.args.get("show") or "all"
    problem = None
    if show not in SHOW_LABELS:
        problem, show = "Show: choose all or unread notifications.", "all"
    username = me().username
    rows = reading.notifications_for(db.session(), username, show == "unread", LIMIT)
    g.unread_notifications = reading.unread_count(db.session(), username)  # the header's too
    page = render_template(
        "notifications/index.html",
        rows=rows,
        show=show,
        labels=SHOW_LABELS,
        unread=g.unread_notifications,
        problem=problem,
        limit=LIMIT,
        internal_link=internal_link,
        link_text=link_text,
        list_url=_list_url,
    )
    return page, 400 if problem else 200


@bp.post("/<int:notification_id>/read")
def mark_read(notification_id: int) -> Response:
    row = reading.mark_read(db.session(), me().username, notification_id)
    flash(f"Marked '{row.title}' as read.", "success")
    return redirect(_list_url(request.form.get("show")))


@bp.get("/<int:notification_id>/open")
def open_link(notification_id: int) -> Response:
    """Follow a notification's link, marking it read: opening it is reading it."""
    row = reading.mark_read(db.session(), me().username, notification_id)
    return redirect(internal_link(row) or _list_url(None))


@bp.post("/read-all")
def mark_all_read() -> Response:
    count = reading.mark_all_read(db.session(), me().username)
    if count:
        flash(f"Marked {count} notification{'s' if count != 1 else ''} as read.", "success")
    else:
        flash("You had no unread notifications.")
    return redirect(_list_url(request.form.get("show")))


@bp.route("/settings", methods=["GET", "POST"])
def settings() -> str | Response | tuple[str, int]:
    user = me()
    chosen = user.email_preference
    error = None
    if request.method == "POST":
        chosen = request.form.get("email_preference", "")
        before = user.email_preference
        try:
            reading.set_preference(db.session(), user, chosen)
        except KinflowError as exc:
            message = str(exc)
            error = message[:1].upper() + message[1:]
        else:
            if chosen != before:
                audit_change(None, "set_email_preference", f"email preference {chosen}")
            flash(f"Email preference saved: {Preference.LABELS[chosen]}.", "success")
            return redirect(url_for("notifications.settings"))
    page = render_template(
        "notifications/settings.html",
        labels=Preference.LABELS,
        chosen=chosen,
        email=user.email,
        error=error,
    )
    return (page, 422) if error else page
