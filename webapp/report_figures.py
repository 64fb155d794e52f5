"""How a report's figures read on the page: each column kind written one way, everywhere.

The table, the chart's value labels and the chart's description all use ``figure_text``, so a
figure cannot read differently in the picture and in the table beside it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from markupsafe import Markup

from engine.reports.tables import Kind, Table
from engine.time_words import day, london
from webapp.charts import Bar, bar_chart

NO_DATA = "no data"


def figure_text(value: Any, kind: Kind) -> str:
    """A cell as a person reads it: 1,234 / 4.5 days / £1,234.00 / 88.0% / no data."""
    if value is None:
        return NO_DATA
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float | Decimal):
        if kind == "count":
            return f"{value:,.0f}"
        if kind == "days":
            return f"{value:,.1f}"
        if kind == "money":
            return f"-£{-value:,.2f}" if value < 0 else f"£{value:,.2f}"
        if kind == "percent":
            return f"{value:.1f}%"
        return str(value)
    if isinstance(value, datetime):
        return london(value)
    if isinstance(value, date):
        return day(value)
    return str(value)


def is_number(kind: Kind) -> bool:
    """Numeric columns are right-aligned so digits line up."""
    return kind != "text"


def chart_for(table: Table) -> Markup | None:
    """The table's bar chart (one bar per row, labelled by the first column), if it has one
    and at least one bar would be drawn."""
    if table.chart is None:
        return None
    kinds = {c.key: (i, c.kind) for i, c in enumerate(table.columns)}
    if table.chart not in kinds:
        return None  # a measure naming a column it does not have: show the table alone
    index, kind = kinds[table.chart]
    bars = []
    for row in table.rows:
        value = row[index]
        number = float(value) if isinstance(value, int | float | Decimal) else None
        label = figure_text(row[0], table.columns[0].kind)
        bars.append(Bar(label, number, figure_text(value, kind)))
    if not any(bar.value for bar in bars):
        return None  # nothing to draw: the table says "no data" or 0 more plainly
    return bar_chart(f"chart-{table.key}", table.title, bars)
