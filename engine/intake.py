"""Taking a referral: the pathway's first task is the referral form, filled in before the case.

A referral arrives complete (from the web form or another council system), so it is checked
against the deployed referral form first, then the case is started and its referral task
completed with it. A diagram that refuses a valid referral leaves no half-made case behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.assignment import assign
from engine.deploy import latest_version
from engine.errors import FormInvalid, KinflowError, NotAllowed, NotFound
from engine.forms import validate_submission
from engine.models import Case
from engine.queries import list_tasks
from engine.roles import FGC_MANAGER, REFERRER
from engine.runtime import Runtime

PATHWAY = "fgc_pathway"
REFERRAL_FORM = "referral"
# Managers log referrals taken by phone on the referrer's behalf.
REFERRING_ROLES = (REFERRER, FGC_MANAGER)


def referral_form(session: Session, runtime: Runtime) -> dict[str, Any]:
    """The referral form of the latest deployed pathway."""
    version = latest_version(session, PATHWAY)
    form = runtime.store.version(session, version.id).forms.get(REFERRAL_FORM)
    if form is None:
        raise NotFound(f"The deployed pathway has no '{REFERRAL_FORM}' form.")
    return form


def submit_referral(
    session: Session,
    runtime: Runtime,
    data: Mapping[str, Any],
    actor: Actor,
    team_id: int | None,
    eligibility_rule: str,
) -> Case:
    """Start a family's pathway from a complete referral; ``FormInvalid`` names bad fields."""
    if not actor.has_any_role(REFERRING_ROLES):
        raise NotAllowed("Only referrers and FGC managers can make a referral.")
    errors = validate_submission(referral_form(session, runtime), dict(data))
    if errors:
        raise FormInvalid(errors)
    version = latest_version(session, PATHWAY)
    title = str(data.get("family_name", "")).strip()
    start = {"eligibility_rule": eligibility_rule}
    case = runtime.start_case(session, version, start, actor, title, team_id)
    try:
        _complete_referral_task(session, runtime, case, data, actor)
    except KinflowError:
        session.rollback()
        # If even cancelling fails, the case stays with its referral task open: nothing is lost.
        with suppress(KinflowError):
            runtime.cancel_case(session, case.id, "The referral could not be submitted.", actor)
        raise
    return case


def _complete_referral_task(
    session: Session, runtime: Runtime, case: Case, data: Mapping[str, Any], actor: Actor
) -> None:
    waiting = [t for t in list_tasks(session, case_id=case.id) if t.form_key == REFERRAL_FORM]
    if not waiting:
        raise KinflowError("The deployed pathway does not start with a referral form.")
    task = waiting[0]
    if not actor.has_any_role(task.candidate_groups):
        assign(session, task.id, actor.username, actor)
    runtime.complete_task(session, task.id, data, actor)
