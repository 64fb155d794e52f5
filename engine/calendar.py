"""Working days for timescales: weekends and bank holidays skipped (England and Wales by default).

FGC timescales are counted in working days ("acknowledge within 2 working days", "baseline
meeting within 5 working days"), so due dates and timers need a calendar. ``WorkingCalendar``
counts them with the ``holidays`` package; ``helpers()`` gives diagram expressions
``working_days(n)``, ``working_days_from(start_iso, n)`` and ``add_days(n)`` (docs/pathway.md,
"Helpers in expressions"), which read "now" from ``engine.clock`` at call time.

Rules, chosen so a due date never lands on a day the service is closed:
- ``add_working_days(start, n)`` counts the ``n`` working days after ``start``'s own date and
  keeps its time of day and time zone: Friday 10:00 + 1 is Monday 10:00, and Saturday + 1 is
  Monday too. ``n == 0`` returns ``start`` unchanged, even on a weekend or holiday ("now" is
  already due). Negative ``n`` is refused, and so is ``n`` above ``MAX_WORKING_DAYS``: a helper
  call runs to completion outside the sandbox's step budget, so it must be bounded itself.
- A day is a working day by the date of the datetime in its own zone. The helpers work in
  UTC, as the contract says; near midnight in British Summer Time the UTC date is the day
  before the local one.
- ``working_days_between(start, end)`` counts working days after ``start`` up to and including
  ``end``, so ``working_days_between(d, add_working_days(d, n)) == n``; negative when ``end`` is
  before ``start``.

Each year's holidays are looked up once and kept as a frozenset, so a check is one set lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import holidays

from engine import clock

# About ten years of working days; also bounds the calendar-day helper below.
MAX_WORKING_DAYS = 2_600
MAX_CALENDAR_DAYS = 3_660


def _count(n: object, limit: int, what: str) -> int:
    """A non-negative whole number of days, no larger than ``limit``."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{what} must be a whole number, not {type(n).__name__} ({n!r})")
    if n < 0:
        raise ValueError(f"{what} cannot be negative (got {n})")
    if n > limit:
        raise ValueError(f"{what} is {n:,}; the limit is {limit:,}")
    return int(n)


def _weekdays_before(ordinal: int) -> int:
    """How many weekdays have an ordinal below ``ordinal`` (ordinal 1, 1 January 1, a Monday)."""
    weeks, rest = divmod(ordinal - 1, 7)
    return weeks * 5 + min(rest, 5)


def _as_date(day: date) -> date:
    return day.date() if isinstance(day, datetime) else day


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_moment(value: str | date) -> datetime:
    """An ISO 8601 date or date-time as an aware datetime.

    A date alone means midnight UTC of that day; a date-time without an offset is read as UTC
    (never as the server's zone).
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0), UTC)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                moment = datetime.combine(date.fromisoformat(text), time(0), UTC)
            else:
                moment = datetime.fromisoformat(text)
        except ValueError:
            message = f"'{value}' is not an ISO 8601 date or date-time such as 2026-03-02"
            raise ValueError(message) from None
    else:
        raise TypeError(f"expected an ISO 8601 date or date-time, not {type(value).__name__}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class WorkingCalendar:
    """Working days in one region: Monday to Friday, except its public (bank) holidays.

    ``country``/``subdivision`` are ``holidays`` codes: England and Wales share bank holidays
    (``"GB"`` with ``"ENG"`` or ``"WLS"``); Scotland is ``"SCT"``, Northern Ireland ``"NIR"``.
    """

    def __init__(self, country: str = "GB", subdivision: str = "ENG"):
        self.country = country
        self.subdivision = subdivision
        self._years: dict[int, frozenset[date]] = {}
        self._lock = threading.Lock()
        # An unknown country or region fails here, when the engine starts, not mid-case.
        self.bank_holidays(clock.now().year)

    def __repr__(self) -> str:
        return f"WorkingCalendar({self.country!r}, {self.subdivision!r})"

    def bank_holidays(self, year: int) -> frozenset[date]:
        """The public holidays of ``year`` (substitute days included), looked up once."""
        found = self._years.get(year)
        if found is None:
            with self._lock:
                found = self._years.get(year)
                if found is None:
                    table = holidays.country_holidays(
                        self.country, subdiv=self.subdivision, years=year
                    )
                    found = self._years[year] = frozenset(table.keys())
        return found

    def is_working_day(self, day: date) -> bool:
        day = _as_date(day)
        return day.weekday() < 5 and day not in self.bank_holidays(day.year)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The moment ``days`` working days after ``start``: same time of day and zone."""
        days = _count(days, MAX_WORKING_DAYS, "the number of working days")
        moment = start
        while days:
            moment += timedelta(days=1)
            if self.is_working_day(moment):
                days -= 1
        return moment

    def subtract_working_days(self, start: datetime, days: int) -> datetime:
        """The moment ``days`` working days before ``start``: same time of day and zone."""
        days = _count(days, MAX_WORKING_DAYS, "the number of working days")
        moment = start
        while days:
            moment -= timedelta(days=1)
            if self.is_working_day(moment):
                days -= 1
        return moment

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative if end < start)."""
        start, end = _as_date(start), _as_date(end)
        if end < start:
            return -self.working_days_between(end, start)
        weekdays = _weekdays_before(end.toordinal() + 1) - _weekdays_before(start.toordinal() + 1)
        closed = sum(
            1
            for year in range(start.year, end.year + 1)
            for day in self.bank_holidays(year)
            if start < day <= end and day.weekday() < 5
        )
        return weekdays - closed

    # --- helpers for diagram expressions ---------------------------------------------------

    def helpers(self) -> dict[str, Callable[..., str]]:
        """``working_days``, ``working_days_from`` and ``add_days`` for the sandbox.

        Each returns an ISO 8601 date-time in UTC with its offset (``2026-03-03T09:00:00+00:00``),
        to the second, computed from ``engine.clock.now()`` when it is called.
        """

        def working_days(n: int) -> str:
            """The moment ``n`` working days from now."""
            return _utc_iso(self.add_working_days(clock.now().astimezone(UTC), n))

        def working_days_from(start_iso: str, n: int) -> str:
            """The moment ``n`` working days after an ISO date or date-time."""
            return _utc_iso(self.add_working_days(parse_moment(start_iso), n))

        def add_days(n: int) -> str:
            """The moment ``n`` calendar days from now."""
            n = _count(n, MAX_CALENDAR_DAYS, "the number of days")
            return _utc_iso(clock.now() + timedelta(days=n))

        return {
            "working_days": working_days,
            "working_days_from": working_days_from,
            "add_days": add_days,
        }
