"""The board's statement: every chosen case placed in its column, ranked, and counted.

``engine.board`` decides which cases (who sees what, the filters) and turns the rows into
cards; this module is how one statement does the rest for 100,000 cases. The costs it avoids
were measured on PostgreSQL with 100,000 seeded cases (a manager's team: 17,000 active cases):
reading every task of those cases (only open ones are read, from a partial index), building a
card for each in Python (the database ranks them and returns about 100 a column), reading
each case's referral to sort by family name (only for the cases near the first 100 places),
and sorting column names in a database collation (columns are numbered).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    select,
    type_coerce,
)
from sqlalchemy.orm import aliased

from engine.accounts import User
from engine.inbox import DUE_SOON
from engine.models import Case, HumanTask, StageVisit, TaskState, UTCDateTime
from engine.pathway_stages import Stage
from engine.record.models import Referral

# The board's referral. An alias: ``case_visible_to`` has its own subqueries over Referral,
# which must not correlate with the board's join. Filters on the referral name this one.
REFERRAL = aliased(Referral)
_case = aliased(Case)  # a case's own row again, read for the few rows that need it
_DAY_US = 86_400 * 1_000_000


def ranked_cards(
    chosen: list[ColumnElement[bool]],
    by_referral: bool,
    stages: list[Stage],
    now: datetime,
    dialect: str,
    *,
    max_cards: int,
    waiting: str,
) -> Select:
    """The board's rows: the cards to show, at most ``max_cards`` a column, ties at the last
    place included (``place`` above ``max_cards``: not shown). The database places, counts
    and sorts every case ``chosen`` selects (conditions over ``Case`` and, when
    ``by_referral``, ``REFERRAL``); only those rows travel to Python.

    Each row: ``column_no`` (an index into the stages, ``len(stages)`` for ``waiting``; -1
    with ``column_stage`` for a pathway without stages), ``place`` in the column, ``urgency``
    (0 overdue, 1 due soon, 2 on time), ``in_state_0`` to ``in_state_2`` (how many of the
    column's cases are in each), ``days``, and the card's case, referral and dates.

    Sorting needs each case's family name only to order cases of one column with the same
    SLA state and days: so the first pass ranks every case without it (``reach``, the rank
    of its state and days) and the second reads the referral only for the cases that reach
    the first ``max_cards`` places, ties included, and puts those in their final order."""
    placed = _placed(chosen, by_referral, stages, waiting)
    urgency = case(
        (placed.c.next_due < literal(now, UTCDateTime()), 0),
        (placed.c.next_due < literal(now + DUE_SOON, UTCDateTime()), 1),
        else_=2,
    )  # engine.inbox.due_state's rule; _URGENCY's order
    entered = _entered(placed.c.case_id, placed.c.column_no == len(stages))
    # Each case's urgency and entry, computed once and kept for the shown cards: without the
    # fence (OFFSET 0; SQLite stores the CTE) the databases copy the expression, and with it
    # its probes of the stage visits, to each place that uses it (SQLite: each window's pass).
    scored = (
        select(
            placed,
            urgency.label("urgency"),
            type_coerce(entered, UTCDateTime()).label("entered_at"),
        )
        .offset(0)
        .cte("scored")
        .prefix_with("MATERIALIZED", dialect="sqlite")
    )
    elapsed = literal(_epoch_us(now), BigInteger()) - _stored_epoch_us(scored.c.entered_at, dialect)
    greatest = func.greatest if dialect == "postgresql" else func.max
    days = greatest(elapsed, 0, type_=BigInteger) // _DAY_US  # timedelta.days, at least 0
    column = (scored.c.column_no, scored.c.column_stage)
    # One sort serves both windows; every row carries its column's count in each SLA state,
    # and each column with a case has a card shown, so no row travels only to be counted.
    ranked = select(
        scored,
        days.label("days"),
        func.rank()
        .over(partition_by=column, order_by=(scored.c.urgency, days.desc()))
        .label("reach"),
        *(
            func.sum(case((scored.c.urgency == level, 1), else_=0))
            .over(partition_by=column)
            .label(f"in_state_{level}")
            for level in range(3)
        ),
    ).subquery("ranked")
    shortlist = select(ranked).where(ranked.c.reach <= max_cards).subquery("shortlist")
    return _in_final_order(shortlist, len(stages), dialect, max_cards)


def _in_final_order(shortlist: Any, waiting_no: int, dialect: str, max_cards: int) -> Select:
    """The shortlisted rows with their referral, coordinator and dates, each column's cards
    numbered in the board's order (``place``)."""
    family = func.coalesce(func.nullif(REFERRAL.family_name, ""), shortlist.c.title)
    by_name = family.collate("C") if dialect == "postgresql" else family  # Python's str order
    shown = shortlist.c.reach <= max_cards
    place = func.row_number().over(
        partition_by=(shortlist.c.column_no, shortlist.c.column_stage, shown),
        order_by=(shortlist.c.urgency, shortlist.c.days.desc(), by_name, shortlist.c.case_id),
    )
    waiting = shortlist.c.column_no == waiting_no
    return (
        select(
            shortlist,
            # An empty family name shows the case's title, as a missing referral does.
            family.label("family_name"),
            REFERRAL.referral_type,
            REFERRAL.coordinator,
            User.display_name,
            case((shown, place), else_=max_cards + 1).label("place"),
            case((waiting, _of_case(shortlist.c.case_id, _case.next_wake_at))).label(
                "next_wake_at"
            ),
        )
        .outerjoin(REFERRAL, REFERRAL.case_id == shortlist.c.case_id)
        .outerjoin(User, User.username == REFERRAL.coordinator)
        .order_by(shortlist.c.column_no, shortlist.c.column_stage, "place")
    )


def _placed(
    chosen: list[ColumnElement[bool]], by_referral: bool, stages: list[Stage], waiting: str
) -> Any:
    """Each chosen case with its column and its open tasks' earliest due moment.

    Only open tasks are read: a case's finished work is most of its rows."""
    processes = sorted({s.process_id for s in stages})
    in_stage = HumanTask.process_id.in_(processes) if processes else false()
    open_tasks = (
        select(
            HumanTask.case_id,
            func.min(HumanTask.due_at).label("next_due"),
            func.min(case((in_stage, HumanTask.process_id))).label("open_process"),
        )
        .where(HumanTask.state == TaskState.READY)
        .group_by(HumanTask.case_id)
        .subquery("open_tasks")
    )
    column_no, column_stage = _column(Case.stage, open_tasks.c.open_process, stages, waiting)
    query = (
        select(
            Case.id.label("case_id"),
            Case.title,
            open_tasks.c.next_due,
            column_no.label("column_no"),
            column_stage.label("column_stage"),
        )
        .outerjoin(open_tasks, open_tasks.c.case_id == Case.id)
        .where(*chosen)
    )
    if by_referral:
        query = query.outerjoin(REFERRAL, REFERRAL.case_id == Case.id)
    return query.subquery("placed")


def _column(stage: Any, open_process: Any, stages: list[Stage], waiting: str) -> tuple[Any, Any]:
    """The case's column, numbered in ``stages`` order with ``waiting`` last: integers sort
    far faster than names in a database collation. The column is the case's stage; when
    ``Case.stage`` names no stage of the pathway (a safeguarding review can be the first open
    task), the stage of its open pathway tasks; otherwise waiting.

    A pathway without stages gets a column per ``Case.stage``: number -1, and the stage."""
    number = {s.name: i for i, s in enumerate(stages)} | {waiting: len(stages)}
    if not stages:
        staged = and_(stage.is_not(None), stage != waiting)
        return case((staged, -1), else_=len(stages)), case((staged, stage))
    by_process: dict[str, int] = {}
    for i, s in enumerate(stages):
        by_process.setdefault(s.process_id, i)  # a process two stages call: the first
    column = case(
        (stage.is_(None), len(stages)),
        (stage.in_(list(number)), case(number, value=stage)),
        (open_process.in_(list(by_process)), case(by_process, value=open_process)),
        else_=len(stages),
    )
    return column, null()


def _entered(case_id: Any, waiting: ColumnElement[bool]) -> ColumnElement[datetime]:
    """When the case entered its column: its open stage visit began its stage; a waiting
    case's wait began when it left its last stage (the moment its last stage task finished).
    Each is one probe of an index (``ix_stage_visits_case_left``, ``ix_stage_visits_open``);
    a case with no visit counts from its creation."""
    visits = StageVisit.case_id == case_id
    wait_began = select(func.max(StageVisit.left_at)).where(visits).scalar_subquery()
    stage_began = (
        select(func.max(StageVisit.entered_at))
        .where(visits, StageVisit.left_at.is_(None))
        .scalar_subquery()
    )
    began = case((waiting, wait_began), else_=stage_began)
    # COALESCE stops at the first value, so the case row is read only when there is no visit.
    return func.coalesce(began, _of_case(case_id, _case.created_at))


def _of_case(case_id: Any, value: Any) -> Any:
    """``value`` of the case's row, read only where the expression is evaluated: on SQLite
    the columns after the serialized workflow sit in its overflow pages."""
    return select(value).where(_case.id == case_id).scalar_subquery()


def _epoch_us(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _stored_epoch_us(moment: Any, dialect: str) -> ColumnElement[int]:
    """Microseconds since 1970 of a stored moment, exactly: a day count in floating point (as
    julianday gives) puts a card a day out when it entered a whole number of days ago."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", moment) * 1_000_000, BigInteger)
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" text: whole seconds, then the microseconds.
    seconds = cast(func.strftime("%s", moment), BigInteger)
    return seconds * 1_000_000 + cast(func.substr(moment, 21, 6), BigInteger)
