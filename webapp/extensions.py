"""Flask extensions, created unbound and attached in ``create_app``."""

from flask_sqlalchemy import SQLAlchemy

from engine.models import Base

# One set of models serves the engine and the app: Flask-SQLAlchemy uses the engine's base.
db = SQLAlchemy(model_class=Base)
