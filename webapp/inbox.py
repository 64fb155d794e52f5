"""The task inbox (placeholder until the inbox lands)."""

from flask import Blueprint, render_template

bp = Blueprint("inbox", __name__)


@bp.get("/tasks")
def index() -> str:
    return render_template("inbox/index.html")
