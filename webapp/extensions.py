"""Flask extensions, created unbound and attached in ``create_app``."""

from flask import current_app
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from engine.models import Base
from engine.runtime import Runtime

# One set of models serves the engine and the app: Flask-SQLAlchemy uses the engine's base.
db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()


def runtime() -> Runtime:
    """The app's engine runtime (one per app: it caches versions and live cases)."""
    return current_app.extensions["kinflow_runtime"]
