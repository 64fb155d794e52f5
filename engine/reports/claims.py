"""The Supporting Families claim report: which families can be claimed for, why not, and the
evidence for each need.

A family is in the report when its six-month outcome check was recorded in the period (the
check is the last fact a claim waits for). The facts are computed from the family's record;
the verdict comes from the council's decision table ``workflows/claim_rules.dmn`` (deployed
with the pathway, so a process owner changes the rules and thresholds without a code change),
which lists every reason a family fails, not only the first.

How each fact is found (domain.md, "Outcome rules"):
- dependent children or an expectant parent: a person marked as a child, under 18 on the day
  of referral (or with no date of birth), or anyone with a due date;
- needs: the referral's Supporting Families headline outcomes;
- lead practitioner: whoever completed the whole-family assessment, else anyone who held or
  completed a lead-practitioner task on the case;
- action plan: a family plan the referrer accepted;
- support delivered: a support package paid, or a plan action a review recorded as done
  (not every family needs a network support package; a plan carried out is support too);
- every need: its latest closure outcome shows significant progress and its latest six-month
  outcome shows it sustained, on a check at least six whole months after closure. Outcomes are
  matched to needs on the code the closure and six-month forms are pre-filled with
  (``engine/record/prefill.py``), or on the need's words, ignoring case and spacing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.decision_table import DecisionTable, DecisionTableError, load_decision
from engine.family_record import worker_names
from engine.models import HumanTask, ProcessVersion, TaskState
from engine.pathway_stages import PATHWAY
from engine.record.models import (
    Closure,
    FamilyPlan,
    Outcome,
    Person,
    Referral,
    Review,
    SupportPackage,
)
from engine.reports.case_records import by_case, one_per_case
from engine.reports.scope import code_labels, narrowed, on_days
from engine.reports.tables import ReportFilter
from engine.roles import LEAD_PRACTITIONER
from engine.time_words import day, london_day

RULES_FILE = "claim_rules.dmn"
DECISION = "claim_rules"
ASSESSMENT_FORM = "family_assessment"
ADULT_AGE = 18


@dataclass(frozen=True)
class Recorded:
    """One outcome as the closure or six-month form recorded it."""

    positive: bool
    note: str | None
    on: date


@dataclass(frozen=True)
class NeedEvidence:
    need: str  # the headline outcome's code
    label: str  # its words on the referral form
    closure: Recorded | None
    six_month: Recorded | None


@dataclass(frozen=True)
class ClaimFacts:
    dependants: bool
    needs: tuple[str, ...]
    lead_practitioner: str | None
    assessment_done: bool
    plan_accepted: bool
    support: str | None  # how support was delivered, in words; None when it was not
    closure_on: date | None
    check_on: date | None
    months_after_closure: int


@dataclass(frozen=True)
class FamilyClaim:
    case_id: int
    family_name: str
    coordinator: str | None
    facts: ClaimFacts
    evidence: tuple[NeedEvidence, ...]
    claimable: bool
    reasons: tuple[str, ...]  # why not claimable; empty when claimable
    lead_practitioner_name: str | None = None  # the worker's display name, for people to read


def claim_rules(session: Session, folder: Path | None = None) -> DecisionTable:
    """The claim rules deployed with the latest pathway, else ``folder``'s ``claim_rules.dmn``
    (a database where nothing is deployed yet)."""
    files = session.scalar(
        select(ProcessVersion.files)
        .where(ProcessVersion.process_id == PATHWAY)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    )
    text = (files or {}).get(RULES_FILE)
    if text is None and folder is not None and (folder / RULES_FILE).is_file():
        text = (folder / RULES_FILE).read_text(encoding="utf-8")
    if text is None:
        raise DecisionTableError(
            f"No claim rules: deploy the pathway with workflows/{RULES_FILE} to use the report."
        )
    return load_decision(RULES_FILE, text, DECISION)


def claim_report(session: Session, where: ReportFilter, rules: DecisionTable) -> list[FamilyClaim]:
    """Every family whose six-month check was recorded in the period, by case number."""
    query = select(Outcome.case_id).where(
        Outcome.stage == "six_month", on_days(Outcome.recorded_on, where)
    )
    ids = sorted(set(session.scalars(narrowed(query, where, Outcome.case_id))))
    labels = code_labels(session, "referral", "headline_outcomes")
    referrals = one_per_case(session, Referral, ids)
    people = by_case(session, Person, ids)
    plans = by_case(session, FamilyPlan, ids)
    packages = by_case(session, SupportPackage, ids)
    reviews = by_case(session, Review, ids)
    closures = one_per_case(session, Closure, ids)
    outcomes = by_case(session, Outcome, ids)
    tasks = _lead_tasks(session, ids)
    leads = {case_id: _lead_practitioner(tasks.get(case_id, [])) for case_id in ids}
    names = worker_names(session, (lead for lead, _ in leads.values()))
    claims = []
    for case_id in ids:
        referral = referrals.get(case_id)
        closure = closures.get(case_id)
        closure_on = london_day(closure.closed_at) if closure else None
        needs = tuple(referral.headline_outcomes or []) if referral else ()
        evidence = tuple(_evidence(need, labels, outcomes.get(case_id, [])) for need in needs)
        checks = [o.recorded_on for o in outcomes.get(case_id, []) if o.stage == "six_month"]
        check_on = max(checks) if checks else None
        lead, assessed = leads[case_id]
        facts = ClaimFacts(
            dependants=_has_dependants(people.get(case_id, []), referral),
            needs=needs,
            lead_practitioner=lead,
            assessment_done=assessed,
            plan_accepted=any(p.status == "accepted" for p in plans.get(case_id, [])),
            support=_support(packages.get(case_id, []), reviews.get(case_id, [])),
            closure_on=closure_on,
            check_on=check_on,
            months_after_closure=whole_months(closure_on, check_on),
        )
        claimable, reasons = decide(rules, facts, evidence)
        claims.append(
            FamilyClaim(
                case_id=case_id,
                family_name=referral.family_name if referral else "",
                coordinator=referral.coordinator if referral else None,
                facts=facts,
                evidence=evidence,
                claimable=claimable,
                reasons=reasons,
                lead_practitioner_name=names.get(lead, lead) if lead else None,
            )
        )
    return claims


def decide(
    rules: DecisionTable, facts: ClaimFacts, evidence: Sequence[NeedEvidence]
) -> tuple[bool, tuple[str, ...]]:
    """The decision table's verdict: claimable when every fitting row says so; the reasons of
    the rows that say not."""
    result = rules.evaluate(decision_inputs(facts, evidence))
    verdicts, reasons = _as_list(result.get("claimable")), _as_list(result.get("claim_reason"))
    failing = tuple(str(r) for v, r in zip(verdicts, reasons, strict=False) if v is not True)
    return bool(verdicts) and not failing and all(v is True for v in verdicts), failing


def decision_inputs(facts: ClaimFacts, evidence: Sequence[NeedEvidence]) -> dict[str, Any]:
    """The names ``claim_rules.dmn`` reads; needs are given in the form's words for reasons."""
    return {
        "has_dependants": facts.dependants,
        "needs": [e.label for e in evidence],
        "lead_practitioner": facts.lead_practitioner,
        "assessment_done": facts.assessment_done,
        "plan_accepted": facts.plan_accepted,
        "support_delivered": facts.support is not None,
        "closure_date": _day(facts.closure_on),
        "check_date": _day(facts.check_on),
        "months_after_closure": facts.months_after_closure,
        "needs_not_achieved": [_short(e, e.closure) for e in evidence if not _positive(e.closure)],
        "needs_not_sustained": [
            _short(e, e.six_month) for e in evidence if not _positive(e.six_month)
        ],
    }


def _positive(outcome: Recorded | None) -> bool:
    return outcome is not None and outcome.positive


def _short(evidence: NeedEvidence, outcome: Recorded | None) -> str:
    """A need that fails, saying so when no outcome was recorded for it at all."""
    return evidence.label if outcome is not None else f"{evidence.label} (none recorded)"


def whole_months(start: date | None, end: date | None) -> int:
    """Whole calendar months from ``start`` to ``end`` (31 Aug to 28 Feb is six); 0 if unknown
    or negative."""
    if start is None or end is None or end < start:
        return 0
    gap = relativedelta(end, start)
    return gap.years * 12 + gap.months


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _day(value: date | None) -> str | None:
    return value.strftime("%d/%m/%Y") if value else None


def _key(text: str | None) -> str:
    return " ".join(str(text or "").replace("_", " ").split()).casefold()


def _evidence(need: str, labels: Mapping[str, str], outcomes: list[Outcome]) -> NeedEvidence:
    label = labels.get(need, need.replace("_", " ").capitalize())
    names = {_key(need), _key(label)}
    found: dict[str, Recorded] = {}
    for o in sorted(outcomes, key=lambda o: (o.recorded_on, o.id)):  # the latest wins
        if _key(o.problem) in names:
            found[o.stage] = Recorded(bool(o.achieved), o.note, o.recorded_on)
    return NeedEvidence(need, label, found.get("closure"), found.get("six_month"))


def _has_dependants(people: list[Person], referral: Referral | None) -> bool:
    on = london_day(referral.received_at) if referral and referral.received_at else None
    for person in people:
        if person.due_date is not None:
            return True
        if person.is_child:
            born = person.date_of_birth
            if born is None or on is None or whole_months(born, on) < ADULT_AGE * 12:
                return True
    return False


def _lead_tasks(session: Session, ids: list[int]) -> dict[int, list[HumanTask]]:
    grouped: dict[int, list[HumanTask]] = {}
    if not ids:
        return grouped
    query = (
        select(HumanTask)
        .where(
            HumanTask.case_id.in_(ids),
            (HumanTask.form_key == ASSESSMENT_FORM) | (HumanTask.role == LEAD_PRACTITIONER),
        )
        .order_by(HumanTask.id)
    )
    for task in session.scalars(query):
        grouped.setdefault(task.case_id, []).append(task)
    return grouped


def _lead_practitioner(tasks: list[HumanTask]) -> tuple[str | None, bool]:
    """(the lead practitioner's username, whether the whole-family assessment was completed)."""
    done = [t for t in tasks if t.form_key == ASSESSMENT_FORM and t.state == TaskState.COMPLETED]
    if done:
        return done[-1].completed_by, True
    held = [t.completed_by or t.assignee for t in tasks if t.role == LEAD_PRACTITIONER]
    return next((name for name in reversed(held) if name), None), False


def _support(packages: list[SupportPackage], reviews: list[Review]) -> str | None:
    paid = [p for p in packages if p.paid_on is not None]
    if paid:
        first = min(paid, key=lambda p: p.paid_on)
        return f"Support package of £{first.total:,.2f} paid on {day(first.paid_on)}"
    for review in sorted(reviews, key=lambda r: r.held_on):
        if any(isinstance(p, Mapping) and p.get("status") == "done" for p in review.progress):
            return f"Plan action reviewed as done on {day(review.held_on)}"
    return None
