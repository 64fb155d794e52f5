"""The coordinator board: active conferences in columns by pathway stage, counted and timed.

Columns are the stages of the FGC pathway (its call activities) in the order the deployed
diagram runs them, plus ``WAITING`` for active cases with no stage: waiting for a review date
or for the six-month check or the twelve-month follow-up (``Case.stage`` is None while a case
waits on a timer).

Each card's **SLA state** comes from the case's open tasks: ``overdue`` when one is past its due
moment, ``due_soon`` when one is due within 48 hours (``engine.inbox.due_state``, the inbox's
rule), otherwise ``on_time``. Safeguarding reviews count: they are the case's most urgent work.

**Days in stage** is measured from the moment the case entered its current stage: its open
``stage_visits`` row, written by the engine when the stage changed (the same rows "where
cases wait" reports on). For a waiting case, the wait began when its last stage task finished.

One statement reads the board (cases, referral, coordinator's name, the open tasks' earliest
due moment, when the stage was entered), aggregated in SQL, so its cost does not grow with
queries per case; the deployed diagram is parsed once per version. Who sees what is
``engine.access.case_visible_to``, every time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, false, func, select
from sqlalchemy.orm import Session, aliased

from engine import clock
from engine.access import case_visible_to, same_team
from engine.accounts import USERNAME_PATTERN, User
from engine.errors import KinflowError, NotAllowed
from engine.inbox import due_state
from engine.models import Case, CaseStatus, HumanTask, ProcessVersion, StageVisit, TaskState
from engine.pathway_stages import PATHWAY, Stage, pathway_stages
from engine.record.models import Referral
from engine.roles import COORDINATOR, FGC_MANAGER

WAITING = "Waiting"
MAX_CARDS = 100  # per column; the heading still counts them all
SLA_LABELS = {"overdue": "Overdue", "due_soon": "Due soon", "on_time": "On time"}
_URGENCY = list(SLA_LABELS)  # most urgent first: the order cards are shown in
_REFERRAL_TYPE = re.compile(r"^[a-z0-9_]{1,40}$")


# --- what the board shows -------------------------------------------------------------------


@dataclass(frozen=True)
class BoardFilter:
    """Which conferences the board shows; every value is checked when the filter is made.

    ``scope`` is ``mine`` (cases I coordinate) or ``team`` (my team's cases I can see); None
    means the first of ``scopes_for(user)``.
    """

    scope: str | None = None
    coordinator: str | None = None
    team_id: int | None = None
    referral_type: str | None = None

    def __post_init__(self) -> None:
        if self.scope is not None and self.scope not in ("mine", "team"):
            raise KinflowError("scope: choose 'mine' (cases I coordinate) or 'team'.")
        if self.coordinator is not None and not USERNAME_PATTERN.match(self.coordinator):
            raise KinflowError("coordinator: choose a coordinator from the list.")
        if self.referral_type is not None and not _REFERRAL_TYPE.match(self.referral_type):
            raise KinflowError("referral_type: choose a type of referral from the list.")

    @classmethod
    def from_query(cls, args: Mapping[str, str]) -> BoardFilter:
        """Read a filter from query-string arguments; blanks mean "any"."""
        values: dict[str, Any] = {}
        for name in ("scope", "coordinator", "referral_type"):
            text = (args.get(name) or "").strip().lower()
            if text:
                values[name] = text
        team = (args.get("team") or "").strip()
        if team:
            if not team.isdigit() or len(team) > 12:
                raise KinflowError("team: choose a team from the list.")
            values["team_id"] = int(team)
        return cls(**values)


@dataclass(frozen=True)
class Card:
    """One conference on the board."""

    case_id: int
    family_name: str
    coordinator: str | None
    coordinator_name: str | None
    referral_type: str | None
    entered_at: datetime
    days_in_stage: int
    sla: str
    next_due_at: datetime | None
    waiting_until: datetime | None

    @property
    def sla_label(self) -> str:
        return SLA_LABELS[self.sla]


@dataclass(frozen=True)
class Column:
    """A stage's column: ``count`` is every case in it, ``cards`` the first ``MAX_CARDS``."""

    name: str
    cards: list[Card] = field(default_factory=list)
    count: int = 0

    @property
    def waiting(self) -> bool:
        return self.name == WAITING

    @property
    def hidden(self) -> int:
        return self.count - len(self.cards)


@dataclass(frozen=True)
class Board:
    """The columns in pathway order, ``WAITING`` after them; ``sla_counts`` over every card."""

    scope: str
    columns: list[Column]
    sla_counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(c.count for c in self.columns)


def scopes_for(user: User) -> tuple[str, ...]:
    """The scopes the user may choose, the default first; empty for anyone else."""
    if not user.active:
        return ()
    roles = set(user.roles)
    if FGC_MANAGER in roles:
        return ("team", "mine") if COORDINATOR in roles else ("team",)
    return ("mine", "team") if COORDINATOR in roles else ()


def board(session: Session, user: User, where: BoardFilter) -> Board:
    """The board as ``user`` may see it through ``where``.

    Raises ``NotAllowed`` for users who neither coordinate nor manage, ``KinflowError`` for a
    scope the user may not choose.
    """
    allowed = scopes_for(user)
    if not allowed:
        raise NotAllowed("The conference board is for coordinators and FGC managers.")
    scope = where.scope or allowed[0]
    if scope not in allowed:
        raise KinflowError("scope: only coordinators can show the cases they coordinate.")
    stages = pathway_stages(session)
    now = clock.now()
    cards: dict[str, list[Card]] = {s.name: [] for s in stages}
    cards[WAITING] = []
    by_process = {s.process_id: s.name for s in reversed(stages)}
    for row in session.execute(_board_query(user, where, scope, stages)):
        column = _column(row, cards, by_process)
        cards.setdefault(column, []).append(_card(row, column, now))
    columns = []
    sla_counts = dict.fromkeys(SLA_LABELS, 0)
    cards[WAITING] = cards.pop(WAITING)  # last, after any stage only older versions have
    for name, in_column in cards.items():
        in_column.sort(key=lambda c: (_URGENCY.index(c.sla), -c.days_in_stage, c.family_name))
        columns.append(Column(name, in_column[:MAX_CARDS], len(in_column)))
        for card in in_column:
            sla_counts[card.sla] += 1
    return Board(scope, columns, sla_counts)


def _column(row: Any, columns: Mapping[str, Any], by_process: Mapping[str, str]) -> str:
    """The case's column: its stage; when ``Case.stage`` names no stage of the pathway (a
    safeguarding review can be the first open task), the stage of its open pathway tasks."""
    if row.stage is None:
        return WAITING
    if row.stage in columns:
        return row.stage
    if row.open_process in by_process:
        return by_process[row.open_process]
    return WAITING if by_process else row.stage


def _card(row: Any, column: str, now: datetime) -> Card:
    entered = row.entered_at if column != WAITING else row.last_done
    entered = entered or row.created_at
    sla = due_state(row.next_due, now)
    return Card(
        case_id=row.case_id,
        family_name=row.family_name or row.title,
        coordinator=row.coordinator,
        coordinator_name=row.display_name or row.coordinator,
        referral_type=row.referral_type,
        entered_at=entered,
        days_in_stage=max(0, (now - entered).days),
        sla="on_time" if sla == "no_date" else sla,
        next_due_at=row.next_due,
        waiting_until=row.next_wake_at,
    )


# An alias: ``case_visible_to`` has its own subqueries over Referral, which must not
# correlate with the board's join.
_referral = aliased(Referral)


def _board_query(user: User, where: BoardFilter, scope: str, stages: list[Stage]) -> Select:
    chosen = (
        select(
            Case.id.label("case_id"),
            Case.title,
            Case.stage,
            Case.created_at,
            Case.next_wake_at,
            _referral.family_name,
            _referral.referral_type,
            _referral.coordinator,
        )
        .outerjoin(_referral, _referral.case_id == Case.id)
        .where(
            Case.status == CaseStatus.ACTIVE,
            Case.version_id.in_(
                select(ProcessVersion.id).where(ProcessVersion.process_id == PATHWAY)
            ),
            case_visible_to(user),
            *_conditions(user, where, scope),
        )
        .cte("chosen")
    )
    # The cases with their open tasks' aggregates, grouped on the cases' own columns so every
    # later join is against one row per case.
    processes = sorted({s.process_id for s in stages})
    ready = HumanTask.state == TaskState.READY
    in_stage = HumanTask.process_id.in_(processes) if processes else false()
    summary = (
        select(
            *chosen.c,
            func.min(case((ready, HumanTask.due_at))).label("next_due"),
            func.min(case((and_(ready, in_stage), HumanTask.process_id))).label("open_process"),
            func.max(case((and_(~ready, in_stage), HumanTask.completed_at))).label("last_done"),
        )
        .select_from(chosen)
        .outerjoin(HumanTask, HumanTask.case_id == chosen.c.case_id)
        .group_by(*chosen.c)
        .cte("summary")
    )
    entered = _entered(summary)
    return (
        select(summary, entered.c.entered_at, User.display_name)
        .outerjoin(entered, entered.c.case_id == summary.c.case_id)
        .outerjoin(User, User.username == summary.c.coordinator)
    )


def _entered(summary: Any) -> Any:
    """Per case, when it entered its current stage: its open stage visit."""
    return (
        select(StageVisit.case_id, func.max(StageVisit.entered_at).label("entered_at"))
        .where(StageVisit.case_id.in_(select(summary.c.case_id)), StageVisit.left_at.is_(None))
        .group_by(StageVisit.case_id)
        .subquery("entered")
    )


def _conditions(user: User, where: BoardFilter, scope: str) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if scope == "mine":
        conditions.append(_referral.coordinator == user.username)
    else:
        conditions.append(same_team(Case.team_id, user.team_id))
    if where.coordinator is not None:
        conditions.append(_referral.coordinator == where.coordinator)
    if where.team_id is not None:
        conditions.append(Case.team_id == where.team_id)
    if where.referral_type is not None:
        conditions.append(_referral.referral_type == where.referral_type)
    return conditions
