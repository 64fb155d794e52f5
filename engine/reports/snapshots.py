"""The dashboard's figures kept per filter, refreshed on a schedule (issue 8).

Fifteen measures over a year of 100,000 families take over a second to count, too slow for a
page. As a council's BI dashboard does, Kinflow keeps each filter's tables in
``report_snapshots`` with the moment they were counted, and the page says how old they are.
``figures`` answers from a snapshot younger than ``max_age`` and otherwise counts live and keeps
the result; the scheduler calls ``refresh`` every few minutes for the views people open
without choosing a filter (the last twelve months, for every team and for each team), so those
are always ready. The page, its CSV files and the API all read through ``figures``: for one
filter they show the same snapshot, so they still cannot differ.

Cells are kept as JSON with a tag for each type JSON lacks (Decimal money, floats, dates,
datetimes), so a table read back equals the table counted, value for value and type for type.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from dateutil.relativedelta import relativedelta
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine import clock
from engine.accounts import Team
from engine.models import ReportSnapshot
from engine.reports.tables import Column, ReportFilter, Table, dashboard, measure_keys

# Snapshots nobody asked for again in a day (an odd period, a coordinator) are deleted.
KEPT_FOR = timedelta(days=1)
# A refresh pass takes a few seconds at 100,000 cases; a view stays fresh that much longer than
# the refresh interval, so views the scheduler refreshes are never counted live by a page.
REFRESH_GRACE = timedelta(minutes=2)


def max_age_for(refresh_every: timedelta) -> timedelta:
    """How old kept figures may be when the scheduler refreshes them every ``refresh_every``
    (zero: figures are always counted live and not kept)."""
    return refresh_every + REFRESH_GRACE if refresh_every > timedelta(0) else timedelta(0)


def default_period(end: date) -> tuple[date, date]:
    """Twelve whole months ending on ``end``: 3 Mar 2025 to 2 Mar 2026 inclusive."""
    return end - relativedelta(months=12) + relativedelta(days=1), end


def default_views(session: Session, today: date) -> list[ReportFilter]:
    """The filters of a dashboard opened with no filter chosen: a data officer's (every team)
    and each team's manager's (``webapp/report_request.py`` fixes a manager to their team)."""
    start, end = default_period(today)
    teams = session.scalars(select(Team.id).order_by(Team.id))
    return [ReportFilter(start, end)] + [ReportFilter(start, end, team_id=t) for t in teams]


def snapshot_key(where: ReportFilter) -> str:
    """The filter as canonical text: every field always, in one order, empty for "all"."""
    return urlencode(
        {
            "from": where.start.isoformat(),
            "to": where.end.isoformat(),
            "team": "" if where.team_id is None else str(where.team_id),
            "coordinator": where.coordinator or "",
            "referral_type": where.referral_type or "",
        }
    )


def figures(
    session: Session, where: ReportFilter, *, max_age: timedelta
) -> tuple[list[Table], datetime]:
    """The dashboard's tables for ``where`` and the moment they were counted.

    Kept tables younger than ``max_age`` are returned as they are; otherwise the tables are
    counted now, kept (this commits the session) and returned. ``max_age`` zero counts live
    and keeps nothing.
    """
    key = snapshot_key(where)
    if max_age > timedelta(0):
        found = session.execute(
            select(ReportSnapshot.computed_at, ReportSnapshot.tables).where(
                ReportSnapshot.key == key
            )
        ).first()
        if found is not None and _still_good(found.tables, found.computed_at, max_age):
            return [table_from_json(t) for t in found.tables], found.computed_at
    computed_at = clock.now()  # before counting: nothing recorded after it is missed
    tables = dashboard(session, where)
    if max_age > timedelta(0):
        keep(session, key, tables, computed_at)
    return tables, computed_at


def _still_good(tables: list[dict[str, Any]], computed_at: datetime, max_age: timedelta) -> bool:
    """Young enough, and kept by this version of Kinflow: a measure added or removed since
    (an upgrade within ``max_age``) would leave a CSV link with no table behind it."""
    fresh = clock.now() - computed_at < max_age
    return fresh and [t["key"] for t in tables] == measure_keys()


def keep(session: Session, key: str, tables: list[Table], computed_at: datetime) -> None:
    """Store ``tables`` as the snapshot called ``key``, unless a newer one is already kept.

    One upsert statement, so two requests counting the same filter at once both succeed: the
    second waits for the first's row, then replaces it only if its own figures are newer. Each
    caller returns its own figures either way.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ReportSnapshot).values(
        key=key, computed_at=computed_at, tables=[table_json(t) for t in tables]
    )
    statement = statement.on_conflict_do_update(
        index_elements=[ReportSnapshot.key],
        set_={"computed_at": statement.excluded.computed_at, "tables": statement.excluded.tables},
        where=ReportSnapshot.computed_at < statement.excluded.computed_at,
    )
    session.execute(statement)
    session.commit()


def refresh(session: Session, today: date) -> int:
    """Count and keep the default views for the twelve months ending ``today`` (London), and
    delete snapshots older than a day; returns how many views were counted."""
    views = default_views(session, today)
    for where in views:
        computed_at = clock.now()
        keep(session, snapshot_key(where), dashboard(session, where), computed_at)
    session.execute(
        delete(ReportSnapshot).where(ReportSnapshot.computed_at < clock.now() - KEPT_FOR)
    )
    session.commit()
    return len(views)


# --- tables as JSON ---------------------------------------------------------------------------


def table_json(table: Table) -> dict[str, Any]:
    """A table as JSON that ``table_from_json`` reads back equal, cell types included."""
    return {
        "key": table.key,
        "title": table.title,
        "columns": [[c.key, c.label, c.kind] for c in table.columns],
        "rows": [[cell_json(v) for v in row] for row in table.rows],
        "how": table.how,
        "chart": table.chart,
    }


def table_from_json(data: dict[str, Any]) -> Table:
    return Table(
        key=data["key"],
        title=data["title"],
        columns=tuple(Column(key, label, kind) for key, label, kind in data["columns"]),
        rows=tuple(tuple(cell_from_json(v) for v in row) for row in data["rows"]),
        how=data["how"],
        chart=data["chart"],
    )


def cell_json(value: Any) -> Any:
    """A cell as JSON: text, whole numbers, booleans and None as they are; the rest tagged.

    Floats are tagged too: PostgreSQL's ``jsonb`` keeps numbers as ``numeric``, so 1e300 would
    come back an int; ``repr`` reads back as the same float, infinity and NaN included.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    raise TypeError(f"A report cell of type {type(value).__name__} cannot be kept: {value!r}")


_READERS = {
    "float": float,
    "decimal": Decimal,
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
}


def cell_from_json(value: Any) -> Any:
    if isinstance(value, dict):
        [(tag, text)] = value.items()
        return _READERS[tag](text)
    return value
