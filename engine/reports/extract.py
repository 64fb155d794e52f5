"""The case-level extract: one row per case, the columns a council return asks for.

A case is in the extract when it was open at any time in the period: its referral was received
before the period ended, and it had not ended before the period began. A case ends when it is
closed, its referral declined, consent withdrawn or it is stepped up to children's social care.
Returns count the work a service held in a year, not only the referrals that arrived in it, so
a case referred last year and closed this year is in this year's extract. A case whose referral
form is not yet submitted has no referral date and is left out.

The extract carries no family's name or any person's details: the case number is the
pseudonymous key (whoever needs the family looks the case up in Kinflow, which audits it).
Codes (``child_in_need``, ``plan_achieved``) are written as the forms store them, so a column
keeps its values when a process owner rewords a form's labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from engine.accounts import Team
from engine.family_record import worker_names
from engine.models import Case
from engine.record.models import (
    Closure,
    FamilyPlan,
    Outcome,
    Person,
    Referral,
    Review,
    SafeguardingConcern,
    SupportPackage,
)
from engine.reports.case_records import by_case, chunks, one_per_case
from engine.reports.scope import narrowed
from engine.reports.tables import Column, ReportFilter, Table, money
from engine.time_words import london_day

COLUMNS = (
    Column("case_id", "Case number"),
    Column("team", "Team"),
    Column("referred_on", "Referral date"),
    Column("referral_type", "Referral type"),
    Column("child_status", "Child status"),
    Column("urgency", "Urgency"),
    Column("children", "Number of children", "count"),
    Column("needs", "Headline needs"),
    Column("eligible", "Eligible"),
    Column("eligibility_reason", "Eligibility reason"),
    Column("screening_decision", "Screening decision"),
    Column("decline_reason", "Decline reason"),
    Column("coordinator", "Coordinator"),
    Column("allocated_on", "Allocated on"),
    Column("conference_on", "Conference held on"),
    Column("plan_agreed", "Plan agreed"),
    Column("reviews", "Reviews held", "count"),
    Column("support_paid", "Support paid (pounds)", "money"),
    Column("closed_on", "Closed on"),
    Column("closure_reason", "Closure reason"),
    Column("closure_outcomes", "Outcomes recorded at closure", "count"),
    Column("achieved", "Outcomes with significant progress at closure", "count"),
    Column("checked", "Outcomes checked at six months", "count"),
    Column("sustained", "Outcomes sustained at six months", "count"),
    Column("stepped_up", "Stepped up"),
    Column("plo_offer_on", "Pre-proceedings FGC offered on"),
    Column("plo_accepted", "Pre-proceedings FGC offer accepted"),
    Column("stage", "Current stage"),
    Column("status", "Status"),
)


def extract_table(session: Session, where: ReportFilter) -> Table:
    """Every case open in the period (within ``where``'s team, coordinator and type), by number."""
    query = select(Referral).where(Referral.received_at < where.until)
    candidates = {r.case_id: r for r in session.scalars(narrowed(query, where))}
    ids = sorted(candidates)
    closures = one_per_case(session, Closure, ids)
    concerns = by_case(session, SafeguardingConcern, ids)
    ids = [
        i
        for i in ids
        if (end := _ended_at(candidates[i], closures.get(i), concerns.get(i, []))) is None
        or end >= where.since
    ]
    cases = _cases(session, ids)
    teams = {row.id: row.name for row in session.execute(select(Team.id, Team.name))}
    names = worker_names(session, (r.coordinator for r in candidates.values()))
    people = by_case(session, Person, ids)
    plans = by_case(session, FamilyPlan, ids)
    reviews = by_case(session, Review, ids)
    packages = by_case(session, SupportPackage, ids)
    outcomes = by_case(session, Outcome, ids)
    rows = []
    for i in ids:
        r, case, closure = candidates[i], cases[i], closures.get(i)
        case_plans = plans.get(i, [])
        closed, checked = _outcome_counts(outcomes.get(i, []))
        rows.append(
            (
                i,
                teams.get(case.team_id) if case.team_id else None,
                london_day(r.received_at),
                r.referral_type,
                r.child_status,
                r.urgency,
                sum(1 for p in people.get(i, []) if p.is_child and p.due_date is None),
                "; ".join(r.headline_outcomes or []),
                r.eligible,
                r.eligibility_reason,
                r.screening_decision,
                r.decline_reason,
                names.get(r.coordinator, r.coordinator) if r.coordinator else None,
                london_day(r.allocated_at) if r.allocated_at else None,
                min((p.agreed_on for p in case_plans if p.agreed_on), default=None),
                any(p.status == "accepted" for p in case_plans),
                len(reviews.get(i, [])),
                money(p.total for p in packages.get(i, []) if p.paid_on is not None),
                london_day(closure.closed_at) if closure else None,
                closure.reason if closure else None,
                *closed,
                *checked,
                _stepped_up(closure, concerns.get(i, [])),
                r.plo_offer_date,
                r.plo_offer_accepted,
                case.stage,
                case.status,
            )
        )
    how = (
        "Every case open at any time in the period: referred before it ended and not closed, "
        "declined, withdrawn or stepped up before it began. No names: the case number is the key."
    )
    return Table("cases", "Case-level extract", COLUMNS, tuple(rows), how)


def _ended_at(
    referral: Referral, closure: Closure | None, concerns: Sequence[SafeguardingConcern]
) -> datetime | None:
    """When the case's work ended, the earliest of the ways it can end; None while open."""
    ends = [
        closure.closed_at if closure else None,
        referral.consent_withdrawn_at,
        referral.screened_at if referral.screening_decision == "decline" else None,
        *(c.reviewed_at for c in concerns if c.decision == "step_up"),
    ]
    known = [e for e in ends if e is not None]
    return min(known) if known else None


def _stepped_up(closure: Closure | None, concerns: Sequence[SafeguardingConcern]) -> bool:
    if closure is not None and closure.reason == "stepped_up":
        return True
    return any(c.decision == "step_up" for c in concerns)


def _outcome_counts(outcomes: Sequence[Outcome]) -> tuple[tuple[int, int], tuple[int, int]]:
    """(recorded, positive) at closure and at six months, the latest row per problem counting."""
    latest: dict[tuple[str, str], bool] = {}
    for o in sorted(outcomes, key=lambda o: (o.recorded_on, o.id)):
        latest[(o.stage, " ".join(o.problem.split()).casefold())] = bool(o.achieved)

    def counts(stage: str) -> tuple[int, int]:
        seen = [ok for (s, _), ok in latest.items() if s == stage]
        return len(seen), sum(seen)

    return counts("closure"), counts("six_month")


def _cases(session: Session, ids: list[int]) -> dict[int, Row]:
    """Team, stage and status of each case (never its workflow state: it is large)."""
    found: dict[int, Row] = {}
    columns = (Case.id, Case.team_id, Case.stage, Case.status)
    for part in chunks(ids):
        found |= {row.id: row for row in session.execute(select(*columns).where(Case.id.in_(part)))}
    return found


def case_ids(table: Table) -> list[int]:
    """The case numbers a table of this module lists (for the audit log), each once."""
    return list(dict.fromkeys(int(row[0]) for row in table.rows))
