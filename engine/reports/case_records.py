"""The record tables of many cases at once, grouped by case: one query per table, not per case.

The claims report and the case-level extract read a dozen tables for hundreds or thousands of
cases; loading each table once for all of them keeps the number of queries fixed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

# Well under SQLite's and PostgreSQL's limits on bound parameters in one statement.
CHUNK = 5000


def chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for at in range(0, len(ids), CHUNK):
        yield list(ids[at : at + CHUNK])


def by_case(session: Session, model: Any, case_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Every row of ``model`` (a record table with ``case_id``) for ``case_ids``, oldest first."""
    grouped: dict[int, list[Any]] = defaultdict(list)
    key = model.id if hasattr(model, "id") else model.case_id
    for part in chunks(case_ids):
        query = select(model).where(model.case_id.in_(part)).order_by(key)
        for row in session.scalars(query):
            grouped[row.case_id].append(row)
    return grouped


def one_per_case(session: Session, model: Any, case_ids: Sequence[int]) -> dict[int, Any]:
    """The row of a one-per-case table (referrals, closures) for each case that has one."""
    return {case_id: rows[-1] for case_id, rows in by_case(session, model, case_ids).items()}
