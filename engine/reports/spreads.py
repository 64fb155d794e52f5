"""Medians and 90th percentiles of many values, worked out where it is cheapest.

On PostgreSQL the database sorts and interpolates (``percentile_cont``) and one row per figure
comes back: at 100,000 cases a year holds 450,000 stage visits and 45,000 allocations, far too
many rows to read into Python. SQLite has no such function, and its record is ten times smaller:
there the values are read and ``engine.reports.tables.percentile`` interpolates them. Both
interpolate the same way (``low + (high - low) * fraction`` on the same doubles), so a figure
does not depend on the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Date, Float, Select, cast, func, select, true
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session

from engine.reports.tables import percentile
from engine.time_words import LONDON

SHARES = (0.5, 0.9)  # the median and the 90th percentile


@dataclass(frozen=True)
class Spread:
    """How many values, and their percentiles (in the order asked; None when there are none)."""

    count: int
    percentiles: tuple[float | None, ...]


def sorts_in_database(session: Session) -> bool:
    """Whether the database computes percentiles itself (PostgreSQL's ``percentile_cont``)."""
    return session.get_bind().dialect.name == "postgresql"


def spread(
    session: Session, value: ColumnElement[Any], rows: Select, shares: tuple[float, ...]
) -> Spread:
    """Count and ``shares`` percentiles of ``value`` over ``rows`` (a select whose FROM and
    WHERE say which rows; its columns are replaced by the figures)."""
    if sorts_in_database(session):
        count, figures = session.execute(
            rows.with_only_columns(
                func.count(), _percentiles(value, shares), maintain_column_froms=True
            )
        ).one()
        # No rows: one NULL for the whole array, not an array of NULLs.
        return Spread(count, tuple(figures) if count else (None,) * len(shares))
    values = sorted(
        float(v)
        for v in session.connection()
        .execute(rows.with_only_columns(value, maintain_column_froms=True))
        .scalars()
    )
    return Spread(len(values), tuple(percentile(values, share) for share in shares))


def spread_by(
    session: Session,
    key: ColumnElement[Any],
    keys: Sequence[Any],
    value: ColumnElement[Any],
    rows: Select,
    shares: tuple[float, ...],
) -> dict[Any, Spread]:
    """``spread`` for each of ``keys`` (values of the column ``key``); keys with no rows are
    left out.

    On PostgreSQL each key is its own index range (a lateral subquery per key), so the rows
    need no sorting by key before the percentiles sort them by value: at 450,000 stage visits
    that first sort spilled to disk and cost a quarter of the query.
    """
    if sorts_in_database(session):
        wanted = func.unnest(array(list(keys))).table_valued("key").render_derived("wanted")
        per_key = (
            rows.with_only_columns(
                func.count().label("n"),
                _percentiles(value, shares).label("p"),
                maintain_column_froms=True,
            )
            .where(key == wanted.c.key)
            .lateral()
        )
        found = session.execute(
            select(wanted.c.key, per_key.c.n, per_key.c.p).select_from(wanted.join(per_key, true()))
        )
        return {k: Spread(n, tuple(p)) for k, n, p in found if n}
    values: dict[Any, list[float]] = defaultdict(list)
    query = rows.with_only_columns(key, value, maintain_column_froms=True).where(key.in_(keys))
    for k, v in session.connection().execute(query):  # Core: plain tuples, no ORM rows
        values[k].append(float(v))
    for vs in values.values():
        vs.sort()  # once: ``percentile`` then sorts an ordered list in linear time
    return {
        k: Spread(len(vs), tuple(percentile(vs, share) for share in shares))
        for k, vs in values.items()
    }


def _percentiles(value: ColumnElement[Any], shares: tuple[float, ...]) -> ColumnElement[Any]:
    """PostgreSQL's ``percentile_cont`` of ``value`` at each share, as one array (one sort)."""
    wanted = array([cast(share, Float) for share in shares])
    return func.percentile_cont(wanted).within_group(cast(value, Float))


def rounded_days(days: Spread) -> tuple[int, float | None, float | None]:
    """``day_figures`` of a spread of days already worked out (median and 90th percentile)."""
    median, p90 = days.percentiles
    return (
        days.count,
        None if median is None else round(median, 1),
        None if p90 is None else round(p90, 1),
    )


def london_date(column: Any) -> ColumnElement[date]:
    """The London calendar day of a UTC timestamp column, on PostgreSQL (``london_day`` in SQL:
    the same IANA rules, so the same day, summer time or winter)."""
    return cast(func.timezone(LONDON.key, column), Date)
