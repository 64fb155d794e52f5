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
cases wait" reports on). For a waiting case, the wait began when it left its last stage: that
visit's end, the moment its last stage task finished.

One statement reads the board (``engine.board_sql``): the database places every case the
user may see in its column, counts each column and SLA state, ranks the cards, and returns
only the first ``MAX_CARDS`` of each column, so the page's cost stays near the same at 100
cases or 17,000. The deployed diagram is parsed once per version. Who sees what is
``engine.access.case_visible_to``, every time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, text
from sqlalchemy.orm import Session

from engine import clock
from engine.access import case_visible_to, same_team
from engine.accounts import USERNAME_PATTERN, User
from engine.board_sql import REFERRAL, ranked_cards
from engine.errors import KinflowError, NotAllowed
from engine.models import Case, CaseStatus, ProcessVersion
from engine.pathway_stages import PATHWAY, pathway_stages
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
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # The planner's cost for the statement passes jit_above_cost, and compiling it takes
        # longer than running it (measured); the setting ends with the request's transaction.
        session.execute(text("SET LOCAL jit = off"))
    chosen = [
        Case.status == CaseStatus.ACTIVE,
        Case.version_id.in_(select(ProcessVersion.id).where(ProcessVersion.process_id == PATHWAY)),
        case_visible_to(user),
        *_conditions(user, where, scope),
    ]
    # Filters on the referral need it joined to every case; otherwise only the shown cards'.
    by_referral = (
        scope == "mine" or where.coordinator is not None or where.referral_type is not None
    )
    query = ranked_cards(
        chosen,
        by_referral,
        stages,
        clock.now(),
        dialect,
        max_cards=MAX_CARDS,
        waiting=WAITING,
    )
    names = [s.name for s in stages] + [WAITING]  # ranked_cards numbers columns so
    cards: dict[str, list[Card]] = {s.name: [] for s in stages}
    in_states: dict[str, tuple[int, ...]] = {}  # column -> how many cases in each SLA state
    for row in session.connection().execute(query):
        column = row.column_stage if row.column_no < 0 else names[row.column_no]
        if row.place <= MAX_CARDS:
            cards.setdefault(column, []).append(_card(row))
        in_states[column] = (row.in_state_0, row.in_state_1, row.in_state_2)
    counts = {column: int(sum(states)) for column, states in in_states.items()}
    sla_counts = {
        sla: sum(int(s[level]) for s in in_states.values()) for level, sla in enumerate(_URGENCY)
    }
    # Stages the diagram does not name get a column only when it names none (column_no -1).
    named = {s.name for s in stages} | {WAITING}
    order = [s.name for s in stages] + sorted(set(counts) - named) + [WAITING]
    columns = [Column(name, cards.get(name, []), counts.get(name, 0)) for name in order]
    return Board(scope, columns, sla_counts)


def _card(row: Any) -> Card:
    return Card(
        case_id=row.case_id,
        family_name=row.family_name,
        coordinator=row.coordinator,
        coordinator_name=row.display_name or row.coordinator,
        referral_type=row.referral_type,
        entered_at=row.entered_at,
        days_in_stage=int(row.days),
        sla=_URGENCY[row.urgency],
        next_due_at=row.next_due,
        waiting_until=row.next_wake_at,
    )


def _conditions(user: User, where: BoardFilter, scope: str) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if scope == "mine":
        conditions.append(REFERRAL.coordinator == user.username)
    else:
        conditions.append(same_team(Case.team_id, user.team_id))
    if where.coordinator is not None:
        conditions.append(REFERRAL.coordinator == where.coordinator)
    if where.team_id is not None:
        conditions.append(Case.team_id == where.team_id)
    if where.referral_type is not None:
        conditions.append(REFERRAL.referral_type == where.referral_type)
    return conditions
