"""Fictional families for the claims report and the case-level extract, written into the record.

``Family()`` is, by hand, a family that can be claimed for under Supporting Families: a mother
and a child of ten, three headline needs (education, health, housing), the whole-family
assessment completed by Lee Practitioner, an accepted plan, a £350.00 support package paid,
closure on 15 January 2026 with significant progress on every need, and the six-month check on
15 July 2026 (exactly six months on) with every need sustained. Each test changes one thing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.accounts import User, find_user
from engine.deploy import latest_version
from engine.models import Case, HumanTask, ProcessVersion, TaskState
from engine.record.models import (
    Closure,
    FamilyPlan,
    Outcome,
    Person,
    Referral,
    Review,
    SupportPackage,
)
from tests.web import OTHER_TEAM, TEAM, team_id

REPO = Path(__file__).resolve().parents[1]
RULES = (REPO / "workflows" / "claim_rules.dmn").read_text(encoding="utf-8")
REFERRAL_FORM = (REPO / "forms" / "referral.json").read_text(encoding="utf-8")
NEEDS = ["education", "health", "housing"]
MOTHER = {"name": "Jo Ashdown", "is_child": False, "date_of_birth": date(1990, 4, 12)}
CHILD = {"name": "Sam Ashdown", "is_child": True, "date_of_birth": date(2015, 9, 1)}


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@dataclass
class Family:
    """One family's record; ``None`` for a part leaves it out."""

    name: str = "Ashdown"
    team_id: int | None = None
    coordinator: str | None = "casey.coordinator"
    referral_type: str = "standard"
    received: str = "2025-09-01"
    people: list[dict] = field(default_factory=lambda: [MOTHER, CHILD])
    needs: list[str] = field(default_factory=lambda: list(NEEDS))
    assessed_by: str | None = "lee.practitioner"
    lead_task_for: str | None = None  # an open lead-practitioner task held by this person
    plan_status: str | None = "accepted"
    paid: bool = True
    review_progress: list[dict] | None = None
    closed: str | None = "2026-01-15"
    closure_reason: str = "plan_achieved"
    achieved: dict[str, bool] = field(default_factory=dict)  # need -> progress; default True
    checked: str = "2026-07-15"
    sustained: dict[str, bool | None] = field(default_factory=dict)  # None: not checked
    problem_words: dict[str, str] = field(default_factory=dict)  # need -> text the form holds


def pathway_version(session: Session, rules: str = RULES) -> ProcessVersion:
    """A stand-in for a deployed pathway: only what the record and the claims report read."""
    version = ProcessVersion(
        process_id="fgc_pathway",
        name="FGC pathway",
        version=1 + (session.scalar(select(func.count()).select_from(ProcessVersion)) or 0),
        content_hash=uuid.uuid4().hex,
        files={"claim_rules.dmn": rules, "forms/referral.json": REFERRAL_FORM},
        spec_json="{}",
        user_tasks={},
        deployed_by="pat.owner",
    )
    session.add(version)
    session.flush()
    return version


def add_family(session: Session, version: ProcessVersion, f: Family) -> int:
    """Write ``f`` into the record; returns its case number."""
    case = Case(
        version_id=version.id,
        title=f"{f.name} family",
        state="",
        created_by="riley.referrer",
        team_id=f.team_id,
        stage="Six-month outcome check",
        status="completed",
    )
    session.add(case)
    session.flush()
    session.add(
        Referral(
            case_id=case.id,
            family_name=f.name,
            referrer_name="Riley Referrer",
            referred_by="riley.referrer",
            received_at=at(f.received),
            child_status="child_in_need",
            referral_type=f.referral_type,
            urgency="routine",
            why_now="Sam has missed a third of this term.",
            problems=[],
            headline_outcomes=f.needs,
            consent_given=True,
            eligible=True,
            eligibility_reason="3 of 10 Supporting Families headline outcomes (at least 3 needed)",
            screening_decision="accept",
            screened_at=at("2025-09-03"),
            coordinator=f.coordinator,
            allocated_at=at("2025-09-04"),
        )
    )
    session.add_all(Person(case_id=case.id, **p) for p in f.people)
    if f.assessed_by:
        session.add(_task(case.id, "family_assessment", f.assessed_by, completed=True))
    if f.lead_task_for:
        session.add(_task(case.id, "review", f.lead_task_for, completed=False))
    if f.plan_status:
        plan = FamilyPlan(case_id=case.id, agreed_on=date(2025, 10, 20), status=f.plan_status)
        session.add(plan)
    session.add(
        SupportPackage(
            case_id=case.id,
            items=[{"description": "Sofa bed for Nan", "cost": 350}],
            total=Decimal("350.00"),
            requested_by="casey.coordinator",
            approved=True,
            paid_on=date(2025, 11, 1) if f.paid else None,
        )
    )
    if f.review_progress is not None:
        session.add(
            Review(
                case_id=case.id,
                held_on=date(2025, 12, 1),
                progress=f.review_progress,
                another_review=False,
                recorded_by="casey.coordinator",
            )
        )
    if f.closed:
        session.add(
            Closure(
                case_id=case.id,
                reason=f.closure_reason,
                closed_at=at(f.closed),
                closed_by="casey.coordinator",
            )
        )
    for need in f.needs:
        problem = f.problem_words.get(need, need)
        if f.closed:
            achieved = f.achieved.get(need, True)
            session.add(_outcome(case.id, "closure", problem, achieved, f.closed))
        if f.sustained.get(need, True) is not None:
            sustained = bool(f.sustained.get(need, True))
            session.add(_outcome(case.id, "six_month", problem, sustained, f.checked))
    session.commit()
    return case.id


def _task(case_id: int, form_key: str, who: str, completed: bool) -> HumanTask:
    return HumanTask(
        case_id=case_id,
        spiff_task_id=str(uuid.uuid4()),
        process_id="baseline_assessment",
        element_id=form_key,
        title="Whole-family assessment" if form_key == "family_assessment" else "Review",
        role="lead_practitioner",
        candidate_groups=["lead_practitioner"],
        assignee=who,
        state=TaskState.COMPLETED if completed else TaskState.READY,
        form_key=form_key,
        completed_at=at("2025-09-20") if completed else None,
        completed_by=who if completed else None,
    )


def _outcome(case_id: int, stage: str, problem: str, ok: bool, on: str) -> Outcome:
    return Outcome(
        case_id=case_id,
        stage=stage,
        problem=problem,
        achieved=ok,
        note="School every day since Easter." if ok else "Rent arrears again.",
        recorded_on=date.fromisoformat(on),
        recorded_by="dana.data",
    )


TRICKY_FAMILY = '=Ashdown, "Jo"\nand Sam'
TRICKY_COORDINATOR = '=Zed, "the boss"\nCoordinator'


def seed_families(app: Flask) -> dict[str, int]:
    """Central FGC: the family named to trip up CSV files (coordinated by Zed, whose name does
    the same), claimable, and Birch, whose plan was rejected; North FGC: Northcott, claimable.
    Returns case numbers by family name."""
    from webapp.extensions import db

    central, north = team_id(app, TEAM), team_id(app, OTHER_TEAM)
    with app.app_context():
        session = db.session()
        session.add(
            User(
                username="zed.coordinator",
                display_name=TRICKY_COORDINATOR,
                roles=["coordinator"],
                team_id=central,
                active=True,
                failed_logins=0,
                password_hash=find_user(session, "casey.coordinator").password_hash,
            )
        )
        session.commit()
        version = latest_version(session, "fgc_pathway")
        ashdown = Family(name=TRICKY_FAMILY, team_id=central, coordinator="zed.coordinator")
        birch = Family(name="Birch", team_id=central, plan_status="rejected")
        return {
            "Ashdown": add_family(session, version, ashdown),
            "Birch": add_family(session, version, birch),
            "Northcott": add_family(session, version, Family(name="Northcott", team_id=north)),
        }
