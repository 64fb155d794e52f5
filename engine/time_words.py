"""How dates and times read to workers, on pages and in reminders: UK style, London time."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def london_day(moment: datetime) -> date:
    """The London calendar day of a stored (UTC) moment: the day a worker would say it was."""
    return moment.astimezone(LONDON).date()


def london(moment: datetime | None, pattern: str = "%d %b %Y %H:%M") -> str:
    """A stored (UTC) moment as London wall-clock time; empty for no moment."""
    if moment is None:
        return ""
    return moment.astimezone(LONDON).strftime(pattern)


def when(moment: datetime | None) -> str:
    """3 Mar 2026, 09:05: when something happened, to the minute, in London time."""
    if moment is None:
        return ""
    local = moment.astimezone(LONDON)
    return f"{local.day} {local:%b %Y, %H:%M}"


def clock_time(moment: datetime) -> str:
    """14:05, in London time."""
    return f"{moment.astimezone(LONDON):%H:%M}"


def time_on_day(moment: datetime | None) -> str:
    """14:05 on 3 Mar: when something happened today or lately."""
    if moment is None:
        return "an unknown time"
    local = moment.astimezone(LONDON)
    return f"{local:%H:%M} on {local.day} {local:%b}"


def day_and_time(moment: datetime | None) -> str:
    """Wednesday 4 March 2026 at 09:00: due moments keep their time (an urgent meeting is due
    24 hours after it opens)."""
    if moment is None:
        return ""
    local = moment.astimezone(LONDON)
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M}"


def day(value: date | datetime | None) -> str:
    """14 Apr 2026: short enough for tables."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return f"{value.day} {value:%b %Y}"


def long_day(value: date | datetime | None) -> str:
    """Tuesday 14 April 2026: for letters and the family's plan."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return f"{value:%A} {value.day} {value:%B %Y}"
