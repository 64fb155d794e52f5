"""The landing page: until the task inbox arrives, it shows what is deployed."""

from flask import Blueprint, render_template

from engine.deploy import list_versions
from webapp.extensions import db

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    return render_template("home/index.html", versions=list_versions(db.session()))
