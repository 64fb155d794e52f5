"""Where children live twelve months after closure, and care proceedings: children, not families.

The national trial of FGCs at pre-proceedings measured children looked after 12 months on and
proceedings issued (domain.md); ``child_follow_ups`` holds one row per child from the data
officer's twelve-month follow-up. A follow-up belongs to the period in which it was recorded
(``recorded_on``, the date the form gives), like the six-month outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from engine.models import Case
from engine.record.models import ChildFollowUp, Referral
from engine.reports.tables import Column, ReportFilter, Table, measure, share_of

# The follow-up form's choices and words (forms/twelve_month_follow_up.json), in its order.
LIVING = {
    "parents": "With parents",
    "kin": "With kin (family or friends)",
    "looked_after": "Looked after",
    "other": "Other",
}
AT_HOME = ("parents", "kin")


@dataclass(frozen=True)
class _Where:
    """Children followed up in the period with one answer for where they live."""

    children: int
    proceedings: int


def _followed_up(session: Session, where: ReportFilter) -> dict[str, _Where]:
    """Children followed up in the period by where they live (one query, grouped in SQL)."""
    issued = func.sum(case((ChildFollowUp.proceedings_issued.is_(True), 1), else_=0))
    query: Select = (
        select(ChildFollowUp.living, func.count(ChildFollowUp.id), issued)
        .where(ChildFollowUp.recorded_on.between(where.start, where.end))
        .group_by(ChildFollowUp.living)
    )
    # Cases and referrals are joined only when asked about: every follow-up has its case, and
    # a case at most one referral, so leaving them out changes no count and saves two joins
    # with 100,000 rows each.
    if where.team_id is not None:
        query = query.join(Case, Case.id == ChildFollowUp.case_id).where(
            Case.team_id == where.team_id
        )
    if where.coordinator is not None or where.referral_type is not None:
        query = query.join(Referral, Referral.case_id == ChildFollowUp.case_id)
    if where.coordinator is not None:
        query = query.where(Referral.coordinator == where.coordinator)
    if where.referral_type is not None:
        query = query.where(Referral.referral_type == where.referral_type)
    return {living: _Where(int(n), int(p or 0)) for living, n, p in session.execute(query)}


def _label(living: str) -> str:
    # A choice a process owner added to the form after this was written still gets a row.
    return LIVING.get(living, living.replace("_", " ").capitalize())


@measure("follow_ups", order=150)
def follow_ups(session: Session, where: ReportFilter) -> Table:
    """Children followed up twelve months after closure, by where they live."""
    found = _followed_up(session, where)
    total = sum(w.children for w in found.values())
    order = list(LIVING) + sorted(set(found) - set(LIVING))
    rows = []
    for living in order:
        w = found.get(living, _Where(0, 0))
        rows.append((_label(living), w.children, share_of(w.children, total), w.proceedings))
    issued = sum(w.proceedings for w in found.values())
    rows.append(("All children followed up", total, share_of(total, total), issued))
    return Table(
        key="follow_ups",
        title="Children twelve months after closure",
        columns=(
            Column("living", "Where the child lives"),
            Column("children", "Children", "count"),
            Column("share", "Share of children", "percent"),
            Column("proceedings", "Care proceedings issued", "count"),
        ),
        rows=tuple(rows),
        how=(
            "Counts children, not families: each child in a twelve-month follow-up recorded in "
            "the period (by the date the data officer gives), by where the child lives, with "
            "how many of them had care proceedings issued since closure; a family of three "
            "children counts three times."
        ),
    )


@measure("children_at_home", order=155)
def children_at_home(session: Session, where: ReportFilter) -> Table:
    """The trial's two measures, for comparison: at home 12 months on, and proceedings."""
    found = _followed_up(session, where)
    total = sum(w.children for w in found.values())
    at_home = sum(found[k].children for k in AT_HOME if k in found)
    looked_after = found["looked_after"].children if "looked_after" in found else 0
    issued = sum(w.proceedings for w in found.values())
    rows = tuple(
        (label, n, total, share_of(n, total))
        for label, n in (
            ("At home with parents or kin", at_home),
            ("Looked after", looked_after),
            ("Care proceedings issued", issued),
        )
    )
    return Table(
        key="children_at_home",
        title="Children at home twelve months after closure",
        columns=(
            Column("measure", "Twelve months after closure"),
            Column("children", "Children", "count"),
            Column("followed_up", "Children followed up", "count"),
            Column("share", "Share", "percent"),
        ),
        rows=rows,
        how=(
            "Counts children, not families, among those in a twelve-month follow-up recorded "
            "in the period: living with their parents or with kin, looked after, and with care "
            "proceedings issued since closure (the national FGC trial's measures); a child may "
            "count in more than one row."
        ),
        chart="share",
    )
