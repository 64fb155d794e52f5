"""Placeholder: this area is being built."""

from flask import Blueprint

bp = Blueprint("account", __name__)
