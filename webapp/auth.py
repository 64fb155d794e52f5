"""Signing in and out, and the rule that every page needs a signed-in, active user.

The API (``/api/v1``) never reads the session cookie: it has its own token check, so it is
exempt from CSRF without becoming reachable from another site's forms.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from engine import audit, sign_ins
from engine.accounts import LoginRefused, User, authenticate
from webapp.extensions import db, login_manager

bp = Blueprint("auth", __name__)

# The session cookie's key for its sign-in's secret (engine/sign_ins.py).
SIGN_IN = "sign_in"

# Endpoints anyone may reach (the sign-in page and public files); the rest need a signed-in user.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "static", "assets.vendor", "home.favicon"})


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."
    login_manager.session_protection = "basic"
    app.before_request(_require_login)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    # A deactivated account, or a sign-in ended elsewhere, is signed out at its next request.
    if not user_id.isdigit():
        return None
    return sign_ins.signed_in_user(db.session(), int(user_id), session.get(SIGN_IN))


def _require_login() -> Response | None:
    # The API answers for itself (401 JSON), even on addresses it does not have.
    if request.endpoint in PUBLIC_ENDPOINTS or request.path.startswith("/api/"):
        return None
    if request.endpoint is None:  # 404s stay 404s, but only signed-in users learn that
        return None if current_user.is_authenticated else login_manager.unauthorized()
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def _safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would hand a phishing page our login."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/"):
            return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        try:
            user = authenticate(db.session(), username, request.form.get("password", ""))
        except LoginRefused as exc:
            error = str(exc)
        else:
            session.clear()
            session.permanent = True
            lifetime = current_app.permanent_session_lifetime
            session[SIGN_IN] = sign_ins.start(db.session(), user, lifetime)
            login_user(user)
            audit.record(db.session(), user.username, "login")
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("auth/login.html", error=error, username=username), status


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        # Ended on the server: a response still on its way renews only a dead cookie.
        sign_ins.end(db.session(), session.get(SIGN_IN))
        audit.record(db.session(), current_user.username, "logout")
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out. Drafts you were working on are kept.")
    return redirect(url_for("auth.login"))
