"""Pre-filling forms from the family's record: a fact typed once is never typed again."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.record.models import NetworkMember, Person, Referral
from engine.record.plan import current_plan

Prefill = Callable[[Session, int, Mapping[str, Any]], dict[str, Any]]
PREFILLS: dict[str, Prefill] = {}


def prefills(form_key: str) -> Callable[[Prefill], Prefill]:
    def register(fn: Prefill) -> Prefill:
        PREFILLS[form_key] = fn
        return fn

    return register


def prefill(
    session: Session, case_id: int, form_key: str | None, context: Mapping[str, Any]
) -> dict[str, Any]:
    """Initial values for ``form_key`` on this case (empty when there is nothing to offer).

    ``context`` is what the case already knows (decisions such as ``review_weeks``).
    """
    fn = PREFILLS.get(form_key or "")
    return fn(session, case_id, context) if fn else {}


def _people(session: Session, case_id: int) -> list[Person]:
    return list(
        session.scalars(select(Person).where(Person.case_id == case_id).order_by(Person.id))
    )


def _problems(session: Session, case_id: int) -> list[str]:
    """Each problem and each headline need on the referral: closure and the six-month check
    record an outcome for every one (Supporting Families claims need every need's)."""
    referral = session.get(Referral, case_id)
    if referral is None:
        return []
    return list(dict.fromkeys([*(referral.problems or []), *(referral.headline_outcomes or [])]))


@prefills("family_assessment")
def _assessment(session: Session, case_id: int, context: Mapping[str, Any]) -> dict[str, Any]:
    return {"members": [{"name": p.name} for p in _people(session, case_id)]}


@prefills("network_preparation")
def _network(session: Session, case_id: int, context: Mapping[str, Any]) -> dict[str, Any]:
    members = session.scalars(
        select(NetworkMember).where(NetworkMember.case_id == case_id).order_by(NetworkMember.id)
    )
    network = [
        {"name": m.name, "relationship": m.relationship, "contact_made": m.contact_made}
        for m in members
    ]
    return {"network": network} if network else {}


@prefills("conference_record")
def _conference(session: Session, case_id: int, context: Mapping[str, Any]) -> dict[str, Any]:
    taking_part = session.scalars(
        select(NetworkMember.name).where(
            NetworkMember.case_id == case_id, NetworkMember.attendance != "not_taking_part"
        )
    )
    weeks = int(context.get("review_weeks") or 12)
    return {
        "attendees": [p.name for p in _people(session, case_id)] + list(taking_part),
        "next_review_date": (clock.now().date() + timedelta(weeks=weeks)).isoformat(),
    }


def _plan_actions(session: Session, case_id: int) -> list[dict[str, Any]]:
    plan = current_plan(session, case_id)
    if plan is None:
        return []
    return [
        {
            "what": a.what,
            "who": a.who,
            "by_when": a.by_when.isoformat() if a.by_when else None,
            "who_checks": a.who_checks,
        }
        for a in plan.actions
    ]


@prefills("plan_revision")
def _revision(session: Session, case_id: int, context: Mapping[str, Any]) -> dict[str, Any]:
    plan = current_plan(session, case_id)
    if plan is None:
        return {}
    actions = [
        {k: v for k, v in a.items() if v is not None} for a in _plan_actions(session, case_id)
    ]
    return {"actions": actions, "contingency_plan": plan.contingency_plan}


@prefills("review")
def _review(session: Session, case_id: int, context: Mapping[str, Any]) -> dict[str, Any]:
    return {"progress": [{"action": a["what"]} for a in _plan_actions(session, case_id)]}


@prefills("closure")
def _closure(session: Session, case_id: int, context: Mapping[str, Any]) -> dict[str, Any]:
    return {"outcomes": [{"problem": p} for p in _problems(session, case_id)]}


@prefills("six_month_check")
def _six_month(session: Session, case_id: int, context: Mapping[str, Any]) -> dict[str, Any]:
    return {"outcomes": [{"problem": p} for p in _problems(session, case_id)]}


@prefills("twelve_month_follow_up")
def _follow_up(session: Session, case_id: int, context: Mapping[str, Any]) -> dict[str, Any]:
    children = [{"child_name": p.name} for p in _people(session, case_id) if p.is_child]
    return {"children": children} if children else {}
