"""A report table as a CSV file that opens safely in Excel and reads back as the same figures.

UTF-8 with a byte order mark (Excel otherwise guesses the encoding and mangles names), a header
row of the column labels, and RFC 4180 quoting (CRLF line ends; commas, quotes and line breaks
quoted). Numbers are written plainly, without pound signs or thousands separators, so a
spreadsheet reads them as numbers; no data is an empty cell.

Text that came from a form (a reason, a name) could start with ``=`` and be run as a formula
when the file is opened (CSV injection): text starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return gets a leading ``'``. Numbers are never changed, so ``-3`` stays a number.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.reports.tables import Kind, Table

BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def safe_text(text: str) -> str:
    """Text a spreadsheet will show as text, never evaluate."""
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def csv_cell(value: Any, kind: Kind) -> str:
    """One cell: numbers by their kind (days and percentages to one decimal, money to pence)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        if kind == "count":
            return str(int(value))
        if kind in ("days", "percent"):
            return f"{value:.1f}"
        if kind == "money":
            return f"{value:.2f}"
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return safe_text(str(value))


def _lines(table: Table) -> Iterable[list[str]]:
    yield [safe_text(column.label) for column in table.columns]
    kinds = [column.kind for column in table.columns]
    for row in table.rows:
        yield [csv_cell(value, kind) for value, kind in zip(row, kinds, strict=True)]


def table_csv(table: Table) -> str:
    """The whole file, byte order mark first; encode it as UTF-8."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows(_lines(table))
    return out.getvalue()
