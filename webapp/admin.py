"""Administration of accounts and teams, for the system administrator (role ``admin``) only.

Every change goes through an ``engine.accounts`` function that writes the audit log in the
same transaction. The edit form carries a fingerprint of the account as it was shown, so two
admins editing the same person never silently overwrite each other.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from engine import administration as accounts
from engine.errors import ConcurrentChange, KinflowError
from engine.notifications import outbox as email_outbox
from engine.roles import ADMIN, ROLE_DUTIES, ROLE_NAMES, ROLES
from webapp.extensions import db
from webapp.permissions import audit_change, blueprint_for_roles, me, requires_roles

bp = Blueprint("admin", __name__, url_prefix="/admin")

# What each role is called and does, for an admin deciding who gets it.
ROLE_LABELS = {role: (ROLE_NAMES[role], ROLE_DUTIES[role]) for role in ROLES}
_USER_FIELDS = ("username", "display_name", "email", "roles", "team", "password")


blueprint_for_roles(bp, ADMIN)


def _field_error(error: KinflowError, fields: tuple[str, ...]) -> tuple[str, str]:
    """Split the engine's "field: message" into the form field it names and the message."""
    field, sep, message = str(error).partition(": ")
    if sep and field in fields:
        return field, message[:1].upper() + message[1:]
    return "form", str(error)


def _chosen_team(form: Any, errors: dict[str, str]) -> str | None:
    """The team's name from the select or the "new team" box (not both)."""
    new_team = form.get("new_team", "").strip()
    chosen = form.get("team_id", "")
    if new_team and chosen:
        errors["team"] = "Choose a team from the list or type a new team's name, not both."
        return None
    if new_team:
        return new_team
    if not chosen:
        return None
    names = {str(t.id): t.name for t in accounts.list_teams(db.session())}
    if chosen not in names:
        errors["team"] = "Choose a team from the list."
        return None
    return names[chosen]


def _user_values(form: Any) -> dict[str, Any]:
    """What was typed, to show again after an error (never the passwords)."""
    return {
        "username": form.get("username", "").strip(),
        "display_name": form.get("display_name", "").strip(),
        "email": form.get("email", "").strip(),
        "roles": [r for r in form.getlist("roles") if r in ROLES],
        "team_id": form.get("team_id", ""),
        "new_team": form.get("new_team", "").strip(),
    }


def _render_user_form(user: accounts.User | None, values: dict[str, Any], **extra: Any) -> str:
    return render_template(
        "admin/user_form.html",
        user=user,
        values=values,
        teams=accounts.list_teams(db.session()),
        role_labels=ROLE_LABELS,
        roles=ROLES,
        errors=extra.pop("errors", {}),
        min_password=accounts.MIN_PASSWORD_LENGTH,
        **extra,
    )


@bp.get("/users")
def users() -> str:
    session = db.session()
    return render_template(
        "admin/users.html",
        users=accounts.list_users(session),
        open_tasks=accounts.open_task_counts(session),
        is_locked=accounts.is_locked,
        role_labels=ROLE_LABELS,
    )


@bp.route("/users/new", methods=["GET", "POST"])
def new_user() -> str | Response | tuple[str, int]:
    if request.method == "GET":
        return _render_user_form(None, _user_values(MultiDict()))
    form = request.form
    values = _user_values(form)
    errors: dict[str, str] = {}
    team = _chosen_team(form, errors)
    password = form.get("password", "")
    if password != form.get("password_confirm", ""):
        errors["password"] = "The two passwords are not the same; type them again."
    if not errors:
        try:
            user = accounts.register_user(
                db.session(),
                username=values["username"],
                display_name=values["display_name"],
                email=values["email"] or None,
                roles=values["roles"],
                team=team,
                password=password,
                actor=me().username,
            )
        except KinflowError as exc:
            field, message = _field_error(exc, _USER_FIELDS)
            errors[field] = message
        else:
            flash(f"{user.display_name} ({user.username}) can now sign in.")
            return redirect(url_for("admin.users"))
    return _render_user_form(None, values, errors=errors), 422


def _values_of(user: accounts.User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email or "",
        "roles": list(user.roles),
        "team_id": str(user.team_id or ""),
        "new_team": "",
    }


def _render_edit(user: accounts.User, values: dict[str, Any], **extra: Any) -> str:
    return _render_user_form(
        user,
        values,
        version=extra.pop("version", accounts.account_version(user)),
        locked=accounts.is_locked(user),
        **extra,
    )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int) -> str | Response | tuple[str, int]:
    session = db.session()
    user = accounts.get_user(session, user_id)
    if request.method == "GET":
        return _render_edit(user, _values_of(user))
    form = request.form
    values = _user_values(form) | {"username": user.username}
    errors: dict[str, str] = {}
    team = _chosen_team(form, errors)
    if not errors:
        try:
            accounts.update_user(
                session,
                user_id,
                display_name=values["display_name"],
                email=values["email"] or None,
                roles=values["roles"],
                team=team,
                actor=me().username,
                expected_version=form.get("version", ""),
            )
        except ConcurrentChange as exc:
            # Show the account as it is now, with a fresh fingerprint, so the admin can redo it.
            user = accounts.get_user(session, user_id)
            return _render_edit(user, _values_of(user), errors={"form": str(exc)}), 409
        except KinflowError as exc:
            field, message = _field_error(exc, _USER_FIELDS)
            errors[field] = message
        else:
            flash(f"Saved the changes to {user.username}. They apply from their next page.")
            return redirect(url_for("admin.users"))
    user = accounts.get_user(session, user_id)
    return _render_edit(user, values, errors=errors, version=form.get("version", "")), 422


@bp.route("/users/<int:user_id>/deactivate", methods=["GET", "POST"])
def deactivate(user_id: int) -> str | Response | tuple[str, int]:
    session = db.session()
    user = accounts.get_user(session, user_id)
    error = None
    if request.method == "POST":
        try:
            accounts.set_active(session, user_id, False, actor=me().username)
        except KinflowError as exc:
            error = str(exc)
        else:
            count = accounts.open_task_count(session, user.username)
            flash(
                f"{user.username} is deactivated and signed out. "
                f"{_tasks_phrase(count)} show as needing reassignment to their manager."
            )
            return redirect(url_for("admin.users"))
    page = render_template(
        "admin/deactivate.html",
        user=user,
        is_me=user.id == me().id,
        open_tasks=accounts.open_task_count(session, user.username),
        error=error,
    )
    return (page, 400) if error else page


def _tasks_phrase(count: int) -> str:
    if count == 0:
        return "They held no open tasks, so none"
    return f"Their {count} open task{'s' if count != 1 else ''}"


@bp.post("/users/<int:user_id>/reactivate")
def reactivate(user_id: int) -> Response:
    user = accounts.set_active(db.session(), user_id, True, actor=me().username)
    flash(f"{user.username} is active again and can sign in.")
    return redirect(url_for("admin.edit_user", user_id=user_id))


@bp.post("/users/<int:user_id>/unlock")
def unlock(user_id: int) -> Response:
    user = accounts.unlock(db.session(), user_id, actor=me().username)
    flash(f"{user.username}'s account is unlocked: they can sign in again now.")
    return redirect(url_for("admin.edit_user", user_id=user_id))


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
def reset_password(user_id: int) -> str | Response | tuple[str, int]:
    session = db.session()
    user = accounts.get_user(session, user_id)
    error = None
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("password_confirm", ""):
            error = "The two passwords are not the same; type them again."
        else:
            try:
                accounts.reset_password(session, user_id, password, actor=me().username)
            except KinflowError as exc:
                error = _field_error(exc, ("password",))[1]
            else:
                flash(
                    f"{user.username}'s password is changed and they are signed out everywhere. "
                    "Tell them in person or by phone."
                )
                return redirect(url_for("admin.edit_user", user_id=user_id))
    page = render_template(
        "admin/password.html",
        user=user,
        error=error,
        min_password=accounts.MIN_PASSWORD_LENGTH,
    )
    return (page, 422) if error else page


@bp.route("/teams", methods=["GET", "POST"])
def teams() -> str | Response | tuple[str, int]:
    error = None
    name = ""
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        try:
            team = accounts.create_team(db.session(), name, actor=me().username)
        except KinflowError as exc:
            error = _field_error(exc, ("team",))[1]
        else:
            flash(f"Team '{team.name}' is created. Add people to it from their account page.")
            return redirect(url_for("admin.teams"))
    page = render_template(
        "admin/teams.html", teams=accounts.list_teams(db.session()), error=error, name=name
    )
    return (page, 422) if error else page


OUTBOX_LIMIT = 200


@bp.get("/outbox")
@requires_roles(ADMIN)
def outbox() -> tuple[str, int]:
    """Emails waiting, sent and failed; subjects carry no personal data, so admins may read them."""
    session = db.session()
    status = request.args.get("status") or None
    problem = None
    if status is not None and status not in email_outbox.STATUSES:
        problem, status = "Status: choose pending, sent or failed.", None
    page = render_template(
        "admin/outbox.html",
        counts=email_outbox.counts(session),
        messages=email_outbox.list_messages(session, status, OUTBOX_LIMIT),
        status=status,
        statuses=email_outbox.STATUSES,
        problem=problem,
        limit=OUTBOX_LIMIT,
    )
    return page, 400 if problem else 200


@bp.post("/outbox/<int:message_id>/retry")
@requires_roles(ADMIN)
def retry_email(message_id: int) -> Response:
    try:
        message = email_outbox.retry(db.session(), message_id)
    except KinflowError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        audit_change(None, "admin_retry_email", f"outbox message {message.id}")
        flash(f"The email to {message.to_address} will be sent again shortly.", "success")
    status = request.form.get("status")
    kept = status if status in email_outbox.STATUSES else None
    return redirect(url_for("admin.outbox", status=kept))
