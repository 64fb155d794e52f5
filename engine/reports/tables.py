"""The shape every report shares: a filter in, titled tables out.

A measure is a function from a session and a ``ReportFilter`` to a ``Table``. The dashboard
page, its CSV downloads and ``GET /api/v1/reports/kpis`` all render the same ``Table`` objects,
so a figure cannot differ between the page, the file and the API.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.orm import Session

from engine.time_words import LONDON

# How a column's values are written: on the page, in CSV and in charts.
Kind = Literal["text", "count", "days", "money", "percent"]


@dataclass(frozen=True)
class ReportFilter:
    """Which work a report covers: a period of whole days (London), and optional narrowing.

    ``start`` and ``end`` are both included. ``team_id`` None means every team the reader may
    see; ``coordinator`` is a username; ``referral_type`` a value of the referral form's enum.
    """

    start: date
    end: date
    team_id: int | None = None
    coordinator: str | None = None
    referral_type: str | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("The period ends before it starts.")

    @property
    def since(self) -> datetime:
        """The first moment of the period, as a UTC datetime (for timestamp columns)."""
        return datetime.combine(self.start, time(), LONDON).astimezone(UTC)

    @property
    def until(self) -> datetime:
        """The first moment after the period (exclusive bound for timestamp columns)."""
        return datetime.combine(self.end + timedelta(days=1), time(), LONDON).astimezone(UTC)

    def narrowed(self, **changes: Any) -> ReportFilter:
        return replace(self, **changes)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: Kind = "text"


@dataclass(frozen=True)
class Table:
    """One measure: its rows under named columns, and a sentence saying how it is counted.

    ``chart`` names the numeric column a bar chart draws (one bar per row, labelled by the
    first column); None for tables that are not charted.
    """

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    how: str = ""
    chart: str | None = None

    def records(self) -> list[dict[str, Any]]:
        """The rows as dictionaries keyed by column key (for JSON)."""
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]


Measure = Callable[[Session, ReportFilter], Table]


# (order, key, measure), in page order; filled as the measure modules are imported.
_measures: list[tuple[int, str, Measure]] = []


def measure(key: str, order: int) -> Callable[[Measure], Measure]:
    """Register a dashboard measure; ``order`` places it on the page (lower first)."""

    def register(fn: Measure) -> Measure:
        _measures[:] = [m for m in _measures if m[1] != key]
        _measures.append((order, key, fn))
        _measures.sort(key=lambda m: m[0])
        return fn

    return register


def measure_keys() -> list[str]:
    _load_measures()
    return [key for _, key, _ in _measures]


def dashboard(session: Session, where: ReportFilter) -> list[Table]:
    """Every registered measure for ``where``, in page order."""
    _load_measures()
    return [fn(session, where) for _, _, fn in _measures]


def one_measure(session: Session, where: ReportFilter, key: str) -> Table:
    """The measure called ``key``; ``KeyError`` if there is none."""
    _load_measures()
    for _, name, fn in _measures:
        if name == key:
            return fn(session, where)
    raise KeyError(key)


def _load_measures() -> None:
    """Import the modules that register measures (they register on import)."""
    import engine.reports.follow_ups  # noqa: F401
    import engine.reports.kpis  # noqa: F401
    import engine.reports.waits  # noqa: F401


def percentile(values: Sequence[float], share: float) -> float | None:
    """The ``share`` percentile (0.5 = median) by linear interpolation, as PostgreSQL's
    ``percentile_cont`` computes it; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low, high = math.floor(position), math.ceil(position)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def share_of(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` as a percentage to one decimal place; None when ``whole`` is 0."""
    return None if whole == 0 else round(100 * part / whole, 1)


def money(values: Iterable[Decimal | None]) -> Decimal:
    return sum((v for v in values if v is not None), Decimal("0.00"))
