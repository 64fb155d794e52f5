"""The family's record gathered for reading: one case in full, or many cases in summary.

``family_record`` is what the case page, the printed plan and the API show: every table of
``engine/record`` for one case, in a fixed number of queries however many people, actions or
reviews the case has. ``list_cases`` is the case list: one query over the cases a user may
see. Neither touches workflow state, and neither checks access: callers do, through
``engine.access``, before asking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from engine import clock
from engine.access import case_visible_to, manages
from engine.accounts import User
from engine.errors import KinflowError
from engine.models import Case, CaseEvent, CaseStatus, HumanTask, TaskState
from engine.record.models import (
    ChildFollowUp,
    Closure,
    ConferenceArrangement,
    FamilyPlan,
    NetworkMember,
    Outcome,
    Person,
    PlanAction,
    Referral,
    Review,
    SafeguardingConcern,
    SupportPackage,
)
from engine.roles import COORDINATOR, LEAD_PRACTITIONER

NOTE_KIND = "case_note"

# Where an action of the plan stands, in the words the page shows.
ACTION_STATES = {"done": "Done", "in_progress": "In progress", "overdue": "Overdue"}
_FROM_REVIEW = {"done": "done", "behind": "overdue", "on_track": "in_progress"}


@dataclass(frozen=True)
class ActionProgress:
    """One action of the current plan and where it stands.

    ``basis`` says how the state was found: ``review`` (the latest review's progress for the
    action, ``review_status`` holding that review's word) or ``date`` (no review has spoken
    about it yet, so it is overdue once its date has passed).
    """

    action: PlanAction
    state: str
    basis: str
    review_status: str | None = None
    note: str | None = None

    @property
    def label(self) -> str:
        return ACTION_STATES[self.state]


@dataclass(frozen=True)
class FamilyRecord:
    """Everything the record holds about one family; lists are newest first unless noted."""

    case_id: int
    referral: Referral | None
    people: tuple[Person, ...]  # in the order the referral named them
    network: tuple[NetworkMember, ...]  # in the order the coordinator listed them
    conference: ConferenceArrangement | None
    plans: tuple[FamilyPlan, ...]  # every version, the current one first
    current_plan: FamilyPlan | None
    reviews: tuple[Review, ...]
    packages: tuple[SupportPackage, ...]
    outcomes: tuple[Outcome, ...]  # closure first, then the six-month check
    closure: Closure | None
    concerns: tuple[SafeguardingConcern, ...]
    notes: tuple[CaseEvent, ...]
    # Each child twelve months after closure, in the order the data officer listed them.
    follow_ups: tuple[ChildFollowUp, ...] = ()

    @property
    def family_name(self) -> str | None:
        return self.referral.family_name if self.referral else None

    @property
    def latest_review(self) -> Review | None:
        return self.reviews[0] if self.reviews else None

    @property
    def open_concerns(self) -> tuple[SafeguardingConcern, ...]:
        return tuple(c for c in self.concerns if c.decision is None)

    def action_progress(self, today: date | None = None) -> list[ActionProgress]:
        """The current plan's actions with their state, in the plan's order.

        The latest review held since the plan was agreed decides for each action it lists
        (matched on the action's wording, as the review form is pre-filled with it); an action
        it does not list, or any action before the first review, goes by its date.
        """
        plan = self.current_plan
        if plan is None:
            return []
        today = today or clock.now().date()
        review = self.latest_review
        if review is not None and plan.agreed_on is not None and review.held_on < plan.agreed_on:
            review = None
        said = {_key(p.get("action")): p for p in (review.progress if review else [])}
        return [_progress(action, said.get(_key(action.what)), today) for action in plan.actions]

    def ending(self) -> str | None:
        """Why the pathway ended, in words, when the record says it has; else ``None``."""
        stepped_up = [c for c in self.concerns if c.decision == "step_up"]
        if stepped_up:
            ref = stepped_up[0].mash_reference
            return "Stepped up to children's social care" + (f" (MASH {ref})" if ref else "")
        if self.referral is not None and self.referral.consent_withdrawn_at is not None:
            return "Consent was withdrawn"
        if self.closure is not None:
            return "Closed"
        if self.referral is not None and self.referral.screening_decision == "decline":
            return "The referral was declined"
        return None


def _key(text: Any) -> str:
    return " ".join(str(text or "").split()).casefold()


def _progress(action: PlanAction, said: dict[str, Any] | None, today: date) -> ActionProgress:
    if said is not None and said.get("status"):
        status = str(said["status"])
        state = _FROM_REVIEW.get(status, "in_progress")
        return ActionProgress(action, state, "review", status, said.get("note"))
    late = action.by_when is not None and action.by_when < today
    return ActionProgress(action, "overdue" if late else "in_progress", "date")


def family_record(session: Session, case_id: int) -> FamilyRecord:
    """The record of one case, read fresh (thirteen queries, whatever its size)."""

    def rows(model: Any, *order: Any) -> tuple[Any, ...]:
        query = select(model).where(model.case_id == case_id).order_by(*order)
        return tuple(session.scalars(query.execution_options(populate_existing=True)))

    # Plans load their actions with one more query for all versions (selectin).
    plans = rows(FamilyPlan, FamilyPlan.version.desc())
    notes = session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, CaseEvent.kind == NOTE_KIND)
        .order_by(CaseEvent.id.desc())
    )
    return FamilyRecord(
        case_id=case_id,
        referral=session.get(Referral, case_id, populate_existing=True),
        people=rows(Person, Person.id),
        network=rows(NetworkMember, NetworkMember.id),
        conference=session.get(ConferenceArrangement, case_id, populate_existing=True),
        plans=plans,
        current_plan=plans[0] if plans else None,
        reviews=rows(Review, Review.held_on.desc(), Review.id.desc()),
        packages=rows(SupportPackage, SupportPackage.id.desc()),
        outcomes=rows(Outcome, Outcome.stage, Outcome.id),
        closure=session.get(Closure, case_id, populate_existing=True),
        concerns=rows(SafeguardingConcern, SafeguardingConcern.id.desc()),
        notes=tuple(notes),
        follow_ups=rows(ChildFollowUp, ChildFollowUp.id),
    )


# -- who a user is to a case ---------------------------------------------------------------

REFERRER_PART = "referrer"
COORDINATOR_PART = "coordinator"
MANAGER_PART = "manager"
LEAD_PRACTITIONER_PART = "lead_practitioner"


def parts_in_case(
    session: Session, user: User, case: Case, referral: Referral | None
) -> frozenset[str]:
    """What ``user`` is to the case, among the people who work with the family directly.

    The referrer (who referred it, or started the case), the coordinator (allocated, or a
    coordinator holding or having done one of its tasks, as after a reassignment), the
    managers of its team, and a lead practitioner who holds or did one of its tasks. Those
    see the family's contact details and may record that consent was withdrawn; anyone else
    who can see the case (a worker who may pick up one of its tasks) cannot.
    """
    if not user.active:
        return frozenset()
    name = user.username
    parts = set()
    if case.created_by == name or (referral is not None and referral.referred_by == name):
        parts.add(REFERRER_PART)
    if referral is not None and referral.coordinator == name:
        parts.add(COORDINATOR_PART)
    if manages(user, case):
        parts.add(MANAGER_PART)
    task_roles = {COORDINATOR: COORDINATOR_PART, LEAD_PRACTITIONER: LEAD_PRACTITIONER_PART}
    wanted = {part for role, part in task_roles.items() if role in user.roles} - parts
    if wanted and session.scalar(
        select(
            exists().where(
                HumanTask.case_id == case.id,
                or_(HumanTask.assignee == name, HumanTask.completed_by == name),
            )
        )
    ):
        parts |= wanted
    return frozenset(parts)


def worker_names(session: Session, usernames: Iterable[str | None]) -> dict[str, str]:
    """Display names of the workers named (one query); unknown names are left out."""
    wanted = sorted({u for u in usernames if u})
    if not wanted:
        return {}
    query = select(User.username, User.display_name).where(User.username.in_(wanted))
    return {username: display for username, display in session.execute(query)}


# -- the case list -------------------------------------------------------------------------

MAX_SEARCH = 120
MAX_PER_PAGE = 100
CASE_STATUSES = (CaseStatus.ACTIVE, CaseStatus.COMPLETED, CaseStatus.CANCELLED, CaseStatus.ERROR)


@dataclass(frozen=True)
class CaseSummary:
    """One row of the case list."""

    id: int
    title: str
    family_name: str | None
    referral_type: str | None
    stage: str | None
    status: str
    coordinator: str | None
    coordinator_name: str | None
    open_tasks: int
    updated_at: datetime


@dataclass(frozen=True)
class CasePage:
    """One page of the case list and how many cases match in all."""

    rows: list[CaseSummary]
    total: int
    page: int
    per_page: int
    search: str | None = None
    status: str | None = None
    statuses: tuple[str, ...] = field(default=CASE_STATUSES)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_cases(
    session: Session,
    user: User,
    search: str | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 25,
) -> CasePage:
    """The cases ``user`` may see, latest activity first, in one query (the total rides along
    as a window count, so paging needs no second query).

    Activity is the case's last change (``Case.updated_at``: a task done, a message, a timer);
    case notes never touch the case row, so they do not move a case up the list."""
    search = (search or "").strip() or None
    if search is not None and len(search) > MAX_SEARCH:
        raise KinflowError(f"Family name: give at most {MAX_SEARCH} characters.")
    if status is not None and status not in CASE_STATUSES:
        raise KinflowError("Status: choose one of " + ", ".join(CASE_STATUSES) + ".")
    page, per_page = max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)
    # Aliases, so the visibility test's own EXISTS over referrals and users is not
    # correlated with the rows joined here for display.
    referral, coordinator = aliased(Referral), aliased(User)
    open_tasks = (
        select(func.count(HumanTask.id))
        .where(HumanTask.case_id == Case.id, HumanTask.state == TaskState.READY)
        .scalar_subquery()
    )
    query = (
        select(
            Case.id,
            Case.title,
            referral.family_name,
            referral.referral_type,
            Case.stage,
            Case.status,
            referral.coordinator,
            coordinator.display_name,
            open_tasks,
            Case.updated_at,
            func.count().over(),
        )
        .select_from(Case)
        .outerjoin(referral, referral.case_id == Case.id)
        .outerjoin(coordinator, coordinator.username == referral.coordinator)
        .where(case_visible_to(user))
    )
    if search is not None:
        pattern = "%" + _escape_like(search.lower()) + "%"
        query = query.where(
            or_(
                func.lower(referral.family_name).like(pattern, escape="\\"),
                func.lower(Case.title).like(pattern, escape="\\"),
            )
        )
    if status is not None:
        query = query.where(Case.status == status)
    query = query.order_by(Case.updated_at.desc(), Case.id.desc())
    found = session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    rows = [CaseSummary(*row[:-1]) for row in found]
    total = found[0][-1] if found else 0
    return CasePage(rows, int(total), page, per_page, search, status)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
