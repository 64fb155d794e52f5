"""Dates and times on every page: engine/time_words.py's wording as Jinja filters."""

from __future__ import annotations

from flask import Flask

from engine.time_words import (
    clock_time,
    day,
    day_and_time,
    london,
    long_day,
    time_on_day,
    when,
)


def init_app(app: Flask) -> None:
    """Each is a filter (``{{ x | when }}``) and a function (``{{ when(x) }}``)."""
    for function in (london, when, clock_time, time_on_day, day_and_time, day, long_day):
        app.add_template_filter(function)
        app.jinja_env.globals[function.__name__] = function
