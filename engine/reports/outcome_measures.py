"""Measures of what changed for families: outcomes by problem at closure and six months on,
and the share of families "turned around" (every problem met).

An outcome is counted in the period it was recorded: at closure on the day the case closed, at
six months on the day the check was made. A family is turned around at a stage when every
problem recorded for it at that stage was achieved (significant progress at closure, progress
sustained at six months), which is what a Supporting Families claim needs.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session

from engine.record.models import Outcome
from engine.reports.scope import code_labels, narrowed, on_days, readable
from engine.reports.tables import Column, ReportFilter, Table, measure, share_of

STAGES = ("closure", "six_month")  # Outcome.stage
_ACHIEVED = case((Outcome.achieved.is_(True), 1), else_=0)


@measure("outcomes", order=100)
def outcomes(session: Session, where: ReportFilter) -> Table:
    counts = session.execute(
        narrowed(
            select(Outcome.problem, Outcome.stage, func.count(), func.sum(_ACHIEVED))
            .select_from(Outcome)
            .group_by(Outcome.problem, Outcome.stage),
            where,
            Outcome.case_id,
        ).where(Outcome.stage.in_(STAGES), on_days(Outcome.recorded_on, where))
    ).all()
    figures: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for problem, stage, recorded, achieved in counts:
        figures[problem][stage] = (recorded, int(achieved or 0))
    labels = code_labels(session, "referral", "problems", "headline_outcomes") if counts else {}
    rows = []
    for problem, by_stage in figures.items():
        row: list = [readable(problem, labels, "No problem named")]
        for stage in STAGES:
            recorded, achieved = by_stage.get(stage, (0, 0))
            row += [recorded, achieved, share_of(achieved, recorded)]
        rows.append(tuple(row))
    rows.sort(key=lambda row: (-(row[1] + row[4]), row[0]))
    return Table(
        key="outcomes",
        title="Outcomes by problem, at closure and six months on",
        columns=(
            Column("problem", "Problem"),
            Column("closure_recorded", "At closure: recorded", "count"),
            Column("closure_achieved", "At closure: significant progress", "count"),
            Column("closure_share", "At closure: share", "percent"),
            Column("six_month_recorded", "At six months: recorded", "count"),
            Column("six_month_sustained", "At six months: sustained", "count"),
            Column("six_month_share", "At six months: share", "percent"),
        ),
        rows=tuple(rows),
        how=(
            "For each problem, the outcomes recorded at closure and at the six-month check in "
            "the period, and how many showed significant progress (at closure) or progress "
            "sustained (at six months)."
        ),
        chart="closure_share",
    )


@measure("turned_around", order=110)
def turned_around(session: Session, where: ReportFilter) -> Table:
    # Both stages in one pass over the outcomes. A family's problems are all met when the
    # least of its 0/1 "achieved" is 1: one small number per family, where a count and a sum
    # per family outgrew the memory for 75,000 families and spilled to disk.
    per_family = (
        narrowed(
            select(Outcome.stage, func.min(_ACHIEVED).label("all_met"))
            .select_from(Outcome)
            .group_by(Outcome.stage, Outcome.case_id),
            where,
            Outcome.case_id,
        )
        .where(Outcome.stage.in_(STAGES), on_days(Outcome.recorded_on, where))
        .subquery()
    )
    found = {
        stage: (families, met)
        for stage, families, met in session.execute(
            select(
                per_family.c.stage,
                func.count(),
                func.coalesce(func.sum(per_family.c.all_met), 0).cast(Integer),
            ).group_by(per_family.c.stage)
        )
    }
    rows = []
    for stage, label in zip(STAGES, ("At closure", "At six months"), strict=True):
        families, met = found.get(stage, (0, 0))
        rows.append((label, families, met, share_of(met, families)))
    return Table(
        key="turned_around",
        title="Families turned around",
        columns=(
            Column("stage", "When"),
            Column("families", "Families", "count"),
            Column("all_met", "Every problem met", "count"),
            Column("share", "Turned around", "percent"),
        ),
        rows=tuple(rows),
        how=(
            "Families whose outcomes were recorded in the period (at closure, or at the "
            "six-month check), and how many had every problem met: significant progress at "
            "closure, progress sustained at six months."
        ),
    )
