"""How dates and times read on every page: UK style, in London time, never ambiguous."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask

LONDON = ZoneInfo("Europe/London")


def london(moment: datetime | None, pattern: str = "%d %b %Y %H:%M") -> str:
    """A stored (UTC) moment as London wall-clock time; empty for no moment."""
    if moment is None:
        return ""
    return moment.astimezone(LONDON).strftime(pattern)


def day(value: date | datetime | None) -> str:
    """14 Apr 2026: short enough for tables."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return value.strftime("%d %b %Y").lstrip("0")


def long_day(value: date | datetime | None) -> str:
    """Tuesday 14 April 2026: for letters and the family's plan."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return f"{value:%A} {value.day} {value:%B %Y}"


def init_app(app: Flask) -> None:
    app.add_template_filter(london)
    app.add_template_filter(day)
    app.add_template_filter(long_day)
