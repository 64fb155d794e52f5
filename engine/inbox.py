"""The task inbox: a worker's open tasks, filtered, sorted by due date and counted.

Scopes (``TaskFilter.scope``):
- ``mine``: ready tasks assigned to the user, on any team's case (holding a task makes its case
  visible, engine/access.py);
- ``available``: ready, unassigned tasks for one of the user's roles, on the user's team's cases;
- ``all``: both of the above;
- ``team``: every ready task on the user's team's cases; managers (``MANAGING_ROLES``) only.

Due windows (``TaskFilter.due``), against ``clock.now()``: ``overdue`` (the due moment has
passed); ``today`` (due before the end of today, UTC, overdue included: what must be done
today); ``week`` (due within 7 days, overdue included); ``none`` (no due date).

A row's ``due_state`` is ``overdue``, ``due_soon`` (due within ``DUE_SOON`` = 48 hours),
``on_time`` or ``no_date``. Forty-eight clock hours rather than two working days: simple to
explain, and on a Friday it warns about Monday's deadlines before the worker goes home.

Rows come from one SELECT over the projections (``human_tasks``, ``cases``, ``referrals``,
``users``): no workflow is deserialized, nothing is loaded lazily. For speed with 10,000 open
cases (benchmarks/inbox_cost.py) one index drives each scope: ``mine`` (assignee, state),
``available`` (assignee IS NULL, state), ``team`` the team's case ids then (case_id, state)
or (state, due_at). Filters are per-task probes by primary key, never a read of every case or
referral, and the page is chosen on ids and due dates before its 50 rows are fetched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import CallActivity
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    case,
    exists,
    false,
    func,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from engine import clock
from engine.access import same_team
from engine.accounts import USERNAME_PATTERN, User
from engine.assignment import offered_to
from engine.case_store import CaseStore
from engine.errors import KinflowError, NotAllowed
from engine.models import Case, HumanTask, ProcessVersion, TaskState
from engine.record.models import Referral
from engine.roles import MANAGING_ROLES, ROLES

SCOPES: tuple[str, ...] = ("mine", "available", "all", "team")
DUE_WINDOWS: tuple[str, ...] = ("overdue", "today", "week", "none")
DUE_SOON = timedelta(hours=48)
MAX_PAGE = 200
# The inbox's order: soonest due first, undated last, then oldest first.
_ORDER = (HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)


@dataclass(frozen=True)
class TaskFilter:
    """What the inbox shows; every value is checked when the filter is made."""

    scope: str = "mine"
    stage: str | None = None
    role: str | None = None
    due: str | None = None
    family: str | None = None
    assignee: str | None = None

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise KinflowError("scope: choose one of " + ", ".join(SCOPES) + ".")
        if self.role is not None and self.role not in ROLES:
            raise KinflowError("role: choose one of " + ", ".join(ROLES) + ".")
        if self.due is not None and self.due not in DUE_WINDOWS:
            raise KinflowError("due: choose one of " + ", ".join(DUE_WINDOWS) + ".")
        if self.stage is not None and not 0 < len(self.stage) <= 255:
            raise KinflowError("stage: give a stage name of at most 255 characters.")
        if self.family is not None and not 0 < len(self.family) <= 120:
            raise KinflowError("family: give at most 120 characters of the family name.")
        if self.assignee is not None and not USERNAME_PATTERN.match(self.assignee):
            raise KinflowError("assignee: give the username of the person holding the tasks.")

    def to_query(self) -> dict[str, str]:
        """The filter as query-string arguments, leaving out what is not set."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        query = {k: v for k, v in values.items() if v is not None}
        if query.get("scope") == "mine":
            del query["scope"]
        return query

    @classmethod
    def from_query(cls, args: Mapping[str, str]) -> TaskFilter:
        """Read a filter from query-string arguments (or saved criteria); blanks mean "any".

        Other arguments (``page``) are ignored; a bad value raises ``KinflowError`` naming it.
        """
        values: dict[str, str] = {}
        for f in fields(cls):
            raw = args.get(f.name)
            text = raw.strip() if isinstance(raw, str) else ""
            if text:
                keep_case = f.name in ("stage", "family")
                values[f.name] = text if keep_case else text.lower()
        return cls(**values)

    def with_scope(self, scope: str) -> TaskFilter:
        return replace(self, scope=scope)


@dataclass(frozen=True)
class InboxRow:
    """One line of the inbox, with everything the page and the API show."""

    task: HumanTask
    case_id: int
    family_name: str | None
    stage: str | None
    referral_type: str | None
    urgency: str | None
    due_state: str
    needs_reassignment: bool
    assignee_name: str | None = None  # the holder's display name, when they have an account


@dataclass(frozen=True)
class InboxCounts:
    """How many tasks the current view holds, how many are late, and the size of each tab.

    ``mine``, ``available`` and ``team`` apply the same filters as the view but their own
    scope; ``team`` is None for someone who does not manage a team.
    """

    total: int
    overdue: int
    due_soon: int
    mine: int
    available: int
    team: int | None = None


def is_manager(user: User) -> bool:
    return bool(user.active) and not set(user.roles).isdisjoint(MANAGING_ROLES)


def find_tasks(
    session: Session, user: User, where: TaskFilter, limit: int = 50, offset: int = 0
) -> list[InboxRow]:
    """Ready tasks in ``where``'s scope and filters, soonest due first (no date last), then id.

    One statement: an inner query picks the page's task ids, sorting only ids and due dates;
    the outer one fetches those rows with their case, referral and holder.
    """
    if not 0 < limit <= MAX_PAGE or offset < 0:
        raise KinflowError(f"page: ask for 1 to {MAX_PAGE} tasks from a position of 0 or more.")
    now = clock.now()
    page = _page(user, where, now, limit, offset)
    query = (
        select(
            HumanTask,
            Case.stage,
            Referral.family_name,
            Referral.referral_type,
            Referral.urgency,
            User.username,
            User.active,
            User.display_name,
        )
        .join(page, page.c.id == HumanTask.id)
        .join(Case, Case.id == HumanTask.case_id)
        .outerjoin(Referral, Referral.case_id == HumanTask.case_id)
        .outerjoin(User, User.username == HumanTask.assignee)
        .order_by(*_ORDER)
    )
    rows = []
    for task, stage, family, kind, urgency, holder, active, name in session.execute(query):
        rows.append(
            InboxRow(
                task=task,
                case_id=task.case_id,
                family_name=family,
                stage=stage,
                referral_type=kind,
                urgency=urgency,
                due_state=due_state(task.due_at, now),
                needs_reassignment=task.assignee is not None and (holder is None or not active),
                assignee_name=name,
            )
        )
    return rows


def first_available(user: User, where: TaskFilter) -> Select[tuple[HumanTask]]:
    """The first task of the ``available`` tab under ``where``'s filters, in the inbox's order:
    the task "claim my next task" takes (``engine.next_task``, which adds the row lock).

    ``where.scope`` and ``where.assignee`` do not apply: an available task is unassigned.
    """
    conditions = _conditions(user, "available", replace(where, assignee=None), clock.now())
    return (
        select(HumanTask)
        .where(*conditions)
        .order_by(*_ORDER)
        .limit(1)
        .execution_options(populate_existing=True)
    )


def _page(user: User, where: TaskFilter, now: datetime, limit: int, offset: int) -> Subquery:
    """The ids of the page's tasks, soonest due first, undated last.

    "All" is mine and available fetched apart ("mine or available" would read every open
    task). Those are a few hundred tasks found by index, then sorted. A team's thousands are
    read along the (state, due_at) index, dated and undated apart, stopping at enough for the
    page; unless a narrowing filter could make that walk read every open task to find a few.
    """
    scopes = ("mine", "available") if where.scope == "all" else (where.scope,)
    narrowed = any((where.stage, where.role, where.family, where.assignee))
    enough = offset + limit
    parts = []
    for scope in scopes:
        tasks = select(HumanTask.id, HumanTask.due_at).where(*_conditions(user, scope, where, now))
        if scope != "team" or narrowed:
            parts.append(tasks)
            continue
        if where.due != "none":
            dated = tasks.where(HumanTask.due_at.is_not(None))
            parts.append(dated.order_by(HumanTask.due_at, HumanTask.id).limit(enough))
        if where.due is None or where.due == "none":
            # Ordered by due_at too (all NULL here, so the order is by id as before): ordered by
            # id alone, PostgreSQL walked the primary key of every task ever made, filtering
            # for open undated ones. Its statistics put undated open tasks at thousands (most
            # done tasks have no due date) when there were five, so it expected to stop early;
            # at 100,000 cases that walk read 1.34 million rows, about 300 ms of a team page.
            # With due_at first, the (state, due_at) index finds exactly the undated open ones.
            undated = tasks.where(HumanTask.due_at.is_(None))
            parts.append(undated.order_by(HumanTask.due_at, HumanTask.id).limit(enough))
    wrapped = [select(part.subquery().c) for part in parts]  # a LIMIT needs its own SELECT
    found = (wrapped[0] if len(wrapped) == 1 else union_all(*wrapped)).subquery("in_view")
    return (
        select(found.c.id)
        .order_by(found.c.due_at.is_(None), found.c.due_at, found.c.id)
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )


def count_tasks(session: Session, user: User, where: TaskFilter) -> InboxCounts:
    """The view's total, overdue and due-soon counts and each tab's size, in one statement.

    Every figure applies the view's filters. Mine is counted by its index; a manager's
    available tasks are the team's unclaimed ones for their roles, so they are counted in the
    same pass over the team's tasks; anyone else's by the (assignee IS NULL, state) index.
    "All" is mine plus available, which never overlap.
    """
    if where.scope == "team" and not is_manager(user):
        raise NotAllowed("Only FGC managers and admins can see all of their team's tasks.")
    now = clock.now()
    passes = [_figures(user, "mine", where, now, {"mine": true()})]
    if is_manager(user):
        within_team = {"team": true(), "available": _unclaimed_for(user)}
        passes.append(_figures(user, "team", where, now, within_team))
    else:
        passes.append(_figures(user, "available", where, now, {"available": true()}))
    joined = passes[0]
    for more in passes[1:]:  # one row each: joined on nothing, they just sit side by side
        joined = joined.join(more, true())
    row = session.execute(select(*(c for p in passes for c in p.c)).select_from(joined)).one()
    figures = {key: int(value) for key, value in row._mapping.items()}

    def tab(name: str) -> tuple[int, int, int]:
        return tuple(figures[f"{name}_{kind}"] for kind in ("total", "overdue", "due_soon"))

    if where.scope == "all":
        view = tuple(a + b for a, b in zip(tab("mine"), tab("available"), strict=True))
    else:
        view = tab(where.scope)
    team = figures.get("team_total")
    return InboxCounts(*view, figures["mine_total"], figures["available_total"], team)


def _figures(
    user: User,
    scope: str,
    where: TaskFilter,
    now: datetime,
    tabs: dict[str, ColumnElement[bool]],
) -> Subquery:
    """One pass over ``scope``'s tasks: total, overdue and due soon for each of ``tabs``."""
    soon = and_(HumanTask.due_at >= now, HumanTask.due_at < now + DUE_SOON)
    columns = []
    for name, condition in tabs.items():
        columns += [
            _how_many(condition).label(f"{name}_total"),
            _how_many(and_(condition, HumanTask.due_at < now)).label(f"{name}_overdue"),
            _how_many(and_(condition, soon)).label(f"{name}_due_soon"),
        ]
    return select(*columns).where(*_conditions(user, scope, where, now)).subquery(scope)


def due_state(due_at: datetime | None, now: datetime | None = None) -> str:
    """``overdue``, ``due_soon`` (within 48 hours), ``on_time`` or ``no_date``."""
    if due_at is None:
        return "no_date"
    moment = now or clock.now()
    if due_at < moment:
        return "overdue"
    if due_at < moment + DUE_SOON:
        return "due_soon"
    return "on_time"


def stage_choices(session: Session, store: CaseStore) -> list[str]:
    """The stages of each process's newest version, for the stage filter's choices.

    Read from the deployed diagrams (cached per version): finding the stages in use would
    read every case row. As ``engine.projection.current_stage`` names them: call activities,
    and user tasks outside any call activity.
    """
    newest: dict[str, tuple[int, int]] = {}
    versions = select(ProcessVersion.id, ProcessVersion.process_id, ProcessVersion.version)
    for version_id, process_id, number in session.execute(versions):
        if process_id not in newest or number > newest[process_id][1]:
            newest[process_id] = (version_id, number)
    names: set[str] = set()
    for version_id, _ in newest.values():
        spec, called = store.version(session, version_id).specs
        for process in (spec, *called.values()):
            for task_spec in process.task_specs.values():
                if isinstance(task_spec, CallActivity):  # a stage only if people work in it
                    inner = called.get(getattr(task_spec, "spec", ""))
                    if inner is not None and _has_user_task(inner):
                        names.add(task_spec.bpmn_name or "")
                elif process is spec and isinstance(task_spec, UserTask):
                    names.add(task_spec.bpmn_name or "")
    return sorted(name for name in names if name)


def _has_user_task(process: Any) -> bool:
    return any(isinstance(task_spec, UserTask) for task_spec in process.task_specs.values())


def _how_many(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _conditions(
    user: User, scope: str, where: TaskFilter, now: datetime
) -> list[ColumnElement[bool]]:
    """Ready tasks in ``scope`` (who may see which task) that pass the filters."""
    return [HumanTask.state == TaskState.READY, _scope(user, scope), *_filters(where, now)]


def _scope(user: User, scope: str) -> ColumnElement[bool]:
    if scope == "team" and not is_manager(user):
        raise NotAllowed("Only FGC managers and admins can see all of their team's tasks.")
    if not user.active:
        return false()
    mine = HumanTask.assignee == user.username
    if scope == "mine":
        return mine
    if scope == "team":
        # An IN list of the team's case ids (read from the team index alone) lets the database
        # go straight to those cases' open tasks instead of checking every open task's case.
        return HumanTask.case_id.in_(select(Case.id).where(same_team(Case.team_id, user.team_id)))
    available = _available(user)
    return available if scope == "available" else mine | available


def _available(user: User) -> ColumnElement[bool]:
    return and_(_unclaimed_for(user), _case_where(same_team(Case.team_id, user.team_id)))


def _unclaimed_for(user: User) -> ColumnElement[bool]:
    if not user.roles:
        return false()
    return and_(HumanTask.assignee.is_(None), offered_to(list(user.roles)))


def _case_where(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(Case.id == HumanTask.case_id, condition)


def _filters(where: TaskFilter, now: datetime) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.stage is not None:
        conditions.append(_case_where(Case.stage == where.stage))
    if where.role is not None:
        conditions.append(offered_to([where.role]))
    if where.assignee is not None:
        conditions.append(HumanTask.assignee == where.assignee)
    if where.family is not None:
        pattern = "%" + _escape_like(where.family.lower()) + "%"
        conditions.append(
            exists().where(
                Referral.case_id == HumanTask.case_id,
                func.lower(Referral.family_name).like(pattern, escape="\\"),
            )
        )
    if where.due == "overdue":
        conditions.append(HumanTask.due_at < now)
    elif where.due == "today":
        today = now.astimezone(UTC).date()
        tomorrow = datetime.combine(today + timedelta(days=1), time(), tzinfo=UTC)
        conditions.append(HumanTask.due_at < tomorrow)
    elif where.due == "week":
        conditions.append(HumanTask.due_at < now + timedelta(days=7))
    elif where.due == "none":
        conditions.append(HumanTask.due_at.is_(None))
    return conditions


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
