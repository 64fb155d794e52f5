"""What every dashboard measure shares: narrowing to a team, coordinator or referral type,
the period as dates and as moments, London days, and the words forms give to codes.

The period of a ``ReportFilter`` is whole London days. Date columns (``agreed_on``,
``held_on``) are compared with ``start`` and ``end`` directly; timestamp columns (stored in
UTC) with ``since`` and ``until``, so 23:30 London on the last day is in and 00:10 the next day
is out, in summer time as in winter.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import Session

from engine.models import Case, ProcessVersion
from engine.pathway_stages import PATHWAY
from engine.record.models import Referral
from engine.reports.spreads import SHARES, Spread, rounded_days
from engine.reports.tables import ReportFilter, percentile


def narrowed(query: Select, where: ReportFilter, case_id: Any = None) -> Select:
    """``query`` narrowed to ``where``'s team, coordinator and referral type.

    ``case_id`` is a column of a table already in the query; None says the query already
    reads ``referrals``. Joins ``referrals`` only when a coordinator or referral type is asked
    for, and ``cases`` only when a team is. Work with no referral row (a case whose referral
    form is not yet submitted) has no coordinator or type, so it drops out only when those are
    asked; joining referrals regardless dropped it always, and cost a join per row.
    """
    if case_id is not None and (where.coordinator is not None or where.referral_type is not None):
        query = query.join(Referral, Referral.case_id == case_id)
    if where.team_id is not None:
        key = Referral.case_id if case_id is None else case_id
        query = query.join(Case, Case.id == key).where(Case.team_id == where.team_id)
    if where.coordinator is not None:
        query = query.where(Referral.coordinator == where.coordinator)
    if where.referral_type is not None:
        query = query.where(Referral.referral_type == where.referral_type)
    return query


def on_days(column: Any, where: ReportFilter) -> ColumnElement[bool]:
    """A date column within the period (both ends included)."""
    return and_(column >= where.start, column <= where.end)


def at_moments(column: Any, where: ReportFilter) -> ColumnElement[bool]:
    """A UTC timestamp column within the period's London days."""
    return and_(column >= where.since, column < where.until)


def day_figures(days: Iterable[int]) -> tuple[int, float | None, float | None]:
    """(how many, median, 90th percentile) of whole days, the figures rounded to one place."""
    values = sorted(float(d) for d in days)
    return rounded_days(Spread(len(values), tuple(percentile(values, s) for s in SHARES)))


# Forms are read from the latest deployed pathway, once per version (versions are immutable).
_forms: dict[str, dict[str, Any]] = {}


def code_labels(session: Session, form_key: str, *fields: str) -> dict[str, str]:
    """The latest pathway's words (``x-labels``) for the codes of ``fields`` of a form; the
    first field's word wins where two fields share a code. Empty when nothing is deployed."""
    row = session.execute(
        select(ProcessVersion.id, ProcessVersion.content_hash)
        .where(ProcessVersion.process_id == PATHWAY)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return {}
    version_id, content = row
    if content not in _forms:
        files = session.scalar(select(ProcessVersion.files).where(ProcessVersion.id == version_id))
        _forms[content] = dict(files or {})
    try:
        form = json.loads(_forms[content].get(f"forms/{form_key}.json") or "{}")
    except ValueError:
        return {}
    labels: dict[str, str] = {}
    for name in reversed(fields):
        labels |= _labels_of(form.get("properties", {}).get(name, {}))
    return labels


def _labels_of(prop: Mapping[str, Any]) -> dict[str, str]:
    found = prop.get("x-labels") or (prop.get("items") or {}).get("x-labels") or {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}


def readable(code: str | None, labels: Mapping[str, str], missing: str) -> str:
    """A code in the form's words, else the code made readable; ``missing`` for no code."""
    if not code:
        return missing
    return labels.get(code, code.replace("_", " ").capitalize())
