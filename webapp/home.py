"""The landing page: a worker's day starts at their task inbox."""

from flask import Blueprint, current_app, redirect, url_for
from werkzeug.wrappers import Response

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> Response:
    return redirect(url_for("inbox.index"))


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Public, like the sign-in page: browsers ask for it unprompted, before and after signing in.

    Sent to the sign-in page instead, a signed-out browser's icon request raced the sign-in
    itself and wrote the signed-out session back over the new one.
    """
    response = current_app.send_static_file("favicon.svg")
    response.cache_control.max_age = 86400
    return response
