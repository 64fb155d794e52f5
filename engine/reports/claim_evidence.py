"""The claims report as a table, one row per need with its evidence: the claims CSV file.

A claim is checked need by need, so the file a data officer keeps as evidence has a row for
each need of each family, repeating the family's verdict and facts on every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.reports.claims import FamilyClaim, Recorded
from engine.reports.tables import Column, Table

CLAIM_COLUMNS = (
    Column("case_id", "Case number"),
    Column("family", "Family"),
    Column("claimable", "Claimable"),
    Column("reasons", "Why not claimable"),
    Column("lead_practitioner", "Lead practitioner"),
    Column("support", "Support delivered"),
    Column("closed_on", "Closed on"),
    Column("checked_on", "Six-month check on"),
    Column("need", "Need"),
    Column("closure_progress", "Significant progress at closure"),
    Column("closure_note", "Closure note"),
    Column("closure_on", "Closure outcome recorded on"),
    Column("sustained", "Sustained at six months"),
    Column("six_month_note", "Six-month note"),
    Column("six_month_on", "Six-month outcome recorded on"),
)


def claims_table(claims: Sequence[FamilyClaim]) -> Table:
    """One row per need of each family, with its evidence (a family with no need: one row)."""
    rows = []
    for claim in claims:
        f = claim.facts
        family = (
            claim.case_id,
            claim.family_name,
            claim.claimable,
            "; ".join(claim.reasons),
            claim.lead_practitioner_name,
            f.support,
            f.closure_on,
            f.check_on,
        )
        for e in claim.evidence or (None,):
            closure, later = (e.closure, e.six_month) if e else (None, None)
            rows.append(family + (e.label if e else None,) + _recorded(closure) + _recorded(later))
    how = "Families whose six-month outcome check was recorded in the period; one row per need."
    return Table("claims", "Supporting Families claims", CLAIM_COLUMNS, tuple(rows), how)


def _recorded(outcome: Recorded | None) -> tuple[Any, ...]:
    return (outcome.positive, outcome.note, outcome.on) if outcome else (None, None, None)
