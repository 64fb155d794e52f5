"""The landing page: a worker's day starts at their task inbox."""

from flask import Blueprint, redirect, url_for
from werkzeug.wrappers import Response

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> Response:
    return redirect(url_for("inbox.index"))
