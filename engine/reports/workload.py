"""Snapshots of the work in hand: each coordinator's open caseload and the tasks overdue now.

These ignore the period: they describe the service at the moment the report is read (the
clock's now), narrowed by team, coordinator and referral type like every other measure.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.family_record import worker_names
from engine.models import Case, CaseStatus, HumanTask, TaskState
from engine.record.models import Closure, Referral
from engine.reports.scope import narrowed
from engine.reports.tables import Column, ReportFilter, Table, measure
from engine.roles import ROLE_NAMES


@measure("caseload", order=80)
def caseload(session: Session, where: ReportFilter) -> Table:
    open_cases = (
        select(Referral.coordinator, func.count())
        .join(Case, Case.id == Referral.case_id)
        .where(
            Case.status == CaseStatus.ACTIVE,
            Referral.coordinator.is_not(None),
            ~select(Closure.case_id).where(Closure.case_id == Referral.case_id).exists(),
        )
        .group_by(Referral.coordinator)
    )
    if where.team_id is not None:
        open_cases = open_cases.where(Case.team_id == where.team_id)
    if where.coordinator is not None:
        open_cases = open_cases.where(Referral.coordinator == where.coordinator)
    if where.referral_type is not None:
        open_cases = open_cases.where(Referral.referral_type == where.referral_type)
    counts = session.execute(open_cases).all()
    names = worker_names(session, (username for username, _ in counts))
    rows = sorted(
        ((names.get(username, username), n) for username, n in counts),
        key=lambda row: (-row[1], row[0]),
    )
    return Table(
        key="caseload",
        title="Open caseload per coordinator (now)",
        columns=(Column("coordinator", "Coordinator"), Column("cases", "Open cases", "count")),
        rows=tuple(rows),
        how=(
            "A snapshot now, whatever the period: the cases allocated to each coordinator that "
            "are still running and not yet closed."
        ),
        chart="cases",
    )


@measure("overdue", order=90)
def overdue(session: Session, where: ReportFilter) -> Table:
    now = clock.now()
    late = (
        select(HumanTask.role, func.count())
        .select_from(HumanTask)
        .where(HumanTask.state == TaskState.READY, HumanTask.due_at < now)
        .group_by(HumanTask.role)
    )
    counts = session.execute(narrowed(late, where, HumanTask.case_id)).all()
    rows = sorted(
        ((ROLE_NAMES.get(role or "", role or "No role"), n) for role, n in counts),
        key=lambda row: (-row[1], row[0]),
    )
    return Table(
        key="overdue",
        title="Tasks overdue now, by role",
        columns=(Column("role", "Waiting for"), Column("tasks", "Overdue tasks", "count")),
        rows=tuple(rows),
        how=(
            "A snapshot now, whatever the period: open tasks whose due moment has passed, by "
            "the role that does them."
        ),
    )
