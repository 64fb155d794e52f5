"""Placeholder: this area is being built."""

from flask import Blueprint

bp = Blueprint("cases", __name__)
