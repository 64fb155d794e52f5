"""Which reminders a case needs, worked out again after every change to it.

After each engine step (and each reminder fired) ``plan_case`` compares the reminders the case
needs now with those still waiting: it deletes waiting ones that no longer apply (the task was
done, the conference moved, the case was cancelled) and adds new ones. Each reminder's key
names what it is about and its moment, so planning twice adds nothing, and a reminder already
sent is never planned again.

Reminders (the moments use the service's working days; date-only events at 09:00 London):
- ``due_soon``: an open task's due moment is ``due_soon_working_days`` away (default 1).
- ``overdue``: at the due moment, then every working day at the same time until it is done;
  after a stop, one late reminder, not one per day missed.
- ``conference_soon``: two days before the conference (to the coordinator).
- ``review_due``: ``notice_working_days`` before the plan's review date (to the coordinator).
- ``six_month_due``: ``notice_working_days`` before the six-month outcome check.
- ``twelve_month_due``: ``notice_working_days`` before the twelve-month follow-up of the
  children, once the six-month check is recorded.
Escalations of missed deadlines are not planned: they are sent when the diagram raises them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import bindparam, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.calendar import WorkingCalendar
from engine.models import Case, CaseStatus, HumanTask, TaskState
from engine.notifications.models import Reminder
from engine.record.models import (
    ChildFollowUp,
    Closure,
    ConferenceArrangement,
    FamilyPlan,
    Outcome,
)
from engine.time_words import LONDON, london_day

DUE_SOON = "due_soon"
OVERDUE = "overdue"
CONFERENCE_SOON = "conference_soon"
REVIEW_DUE = "review_due"
SIX_MONTH_DUE = "six_month_due"
TWELVE_MONTH_DUE = "twelve_month_due"
ESCALATION = "escalation"


@dataclass(frozen=True)
class ReminderPolicy:
    """The service's reminder settings (README "Configuration")."""

    due_soon_working_days: int = 1
    notice_working_days: int = 5
    conference_notice_days: int = 2
    notice_hour: int = 9
    digest_hour: int = 8
    # Where links in emails point: the address workers open Kinflow at.
    base_url: str = "http://127.0.0.1:5000"


@dataclass(frozen=True)
class Planned:
    key: str
    kind: str
    due_at: datetime
    task_id: int | None = None


def plan_case(
    session: Session, case: Case, calendar: WorkingCalendar, policy: ReminderPolicy, now: datetime
) -> None:
    """Bring the case's waiting reminders in line with what it needs now (no commit)."""
    session.flush()  # what the step's record writers added, for the reads below
    wanted = {p.key: p for p in needed(session, case, calendar, policy, now)}
    waiting = session.connection().execute(_WAITING, {"case_id": case.id}).all()
    stale = [reminder_id for reminder_id, key in waiting if key not in wanted]
    if stale:
        # "still unsent" again here: a scheduler may have fired one since it was read.
        session.execute(delete(Reminder).where(Reminder.id.in_(stale), Reminder.sent_at.is_(None)))
    known = {key for _, key in waiting}
    missing = [p for key, p in wanted.items() if key not in known]
    if missing:
        _insert_new(session, case.id, missing, now)


def needed(
    session: Session, case: Case, calendar: WorkingCalendar, policy: ReminderPolicy, now: datetime
) -> list[Planned]:
    """Every reminder the case needs from now on, sent or not (their keys tell them apart)."""
    if case.status != CaseStatus.ACTIVE:
        return []
    return [
        *_task_reminders(session, case.id, calendar, policy, now),
        *_case_reminders(session, case.id, calendar, policy, now),
    ]


def _task_reminders(
    session: Session, case_id: int, calendar: WorkingCalendar, policy: ReminderPolicy, now: datetime
) -> list[Planned]:
    tasks = session.connection().execute(_OPEN_TASKS, {"case_id": case_id}).all()
    if not tasks:
        return []
    # A sent overdue reminder exists only for a task already past its due moment.
    last_overdue = (
        {}
        if all(due_at > now for _, due_at, _ in tasks)
        else dict(
            session.execute(
                select(Reminder.task_id, func.max(Reminder.due_at))
                .where(
                    Reminder.case_id == case_id,
                    Reminder.kind == OVERDUE,
                    Reminder.sent_at.is_not(None),
                )
                .group_by(Reminder.task_id)
            ).all()
        )
    )
    planned = []
    for task_id, due_at, created_at in tasks:
        due = due_at.astimezone(LONDON)
        soon = calendar.subtract_working_days(due, policy.due_soon_working_days)
        if now < due_at and soon > created_at:
            planned.append(_planned(DUE_SOON, soon, task_id=task_id))
        overdue = _next_overdue(calendar, due, last_overdue.get(task_id), now)
        planned.append(_planned(OVERDUE, overdue, task_id=task_id))
    return planned


def _next_overdue(
    calendar: WorkingCalendar, due: datetime, last_sent: datetime | None, now: datetime
) -> datetime:
    """The due moment, then the same time each working day, always after the last one sent:
    a scheduler that was stopped for days sends one late reminder, not one per day missed."""
    if last_sent is None:
        return due if calendar.is_working_day(due) else calendar.add_working_days(due, 1)
    following = calendar.add_working_days(last_sent.astimezone(LONDON), 1)
    while following <= now:
        following = calendar.add_working_days(following, 1)
    return following


def _case_reminders(
    session: Session, case_id: int, calendar: WorkingCalendar, policy: ReminderPolicy, now: datetime
) -> list[Planned]:
    """Conference soon, review due, six-month check and twelve-month follow-up due, from one
    query of the record."""
    facts = session.connection().execute(_RECORD_FACTS, {"case_id": case_id}).one()
    conference_on, has_plan, review_on, closed_at, checked, followed_up = facts
    today = london_day(now)
    planned = []
    if conference_on is not None and not has_plan and today <= conference_on:
        day = conference_on - timedelta(days=policy.conference_notice_days)
        planned.append(_planned(CONFERENCE_SOON, _at_hour(day, policy), case_id=case_id, on=day))
    if review_on is not None and closed_at is None and today <= review_on:
        before = calendar.subtract_working_days(
            _at_hour(review_on, policy), policy.notice_working_days
        )
        planned.append(_planned(REVIEW_DUE, before, case_id=case_id, on=review_on))
    if closed_at is not None and not checked:
        check_day = six_month_check_day(closed_at)
        if today <= check_day:
            at = _at_hour(check_day, policy)
            before = calendar.subtract_working_days(at, policy.notice_working_days)
            planned.append(_planned(SIX_MONTH_DUE, before, case_id=case_id, on=check_day))
    if closed_at is not None and checked and not followed_up:
        follow_up_day = twelve_month_follow_up_day(closed_at)
        if today <= follow_up_day:
            at = _at_hour(follow_up_day, policy)
            before = calendar.subtract_working_days(at, policy.notice_working_days)
            planned.append(_planned(TWELVE_MONTH_DUE, before, case_id=case_id, on=follow_up_day))
    return planned


def six_month_check_day(closed_at: datetime) -> date:
    """The day the outcomes are checked again: six calendar months after closure."""
    return london_day(closed_at) + relativedelta(months=6)


def twelve_month_follow_up_day(closed_at: datetime) -> date:
    """The day the children are followed up: twelve calendar months after closure."""
    return london_day(closed_at) + relativedelta(months=12)


# The reads run after every engine step: prebuilt Core statements, as in engine/case_store.py,
# because building them through the ORM each time cost more than running them.
_CASE = bindparam("case_id")
_tasks, _reminders = HumanTask.__table__, Reminder.__table__
_OPEN_TASKS = select(_tasks.c.id, _tasks.c.due_at, _tasks.c.created_at).where(
    _tasks.c.case_id == _CASE, _tasks.c.state == TaskState.READY, _tasks.c.due_at.is_not(None)
)
_LAST_OVERDUE = (
    select(_reminders.c.task_id, func.max(_reminders.c.due_at))
    .where(
        _reminders.c.case_id == _CASE,
        _reminders.c.kind == OVERDUE,
        _reminders.c.sent_at.is_not(None),
    )
    .group_by(_reminders.c.task_id)
)
_WAITING = select(_reminders.c.id, _reminders.c.key).where(
    _reminders.c.case_id == _CASE, _reminders.c.sent_at.is_(None)
)
_plans = FamilyPlan.__table__
_RECORD_FACTS = select(
    select(ConferenceArrangement.__table__.c.conference_date)
    .where(ConferenceArrangement.__table__.c.case_id == _CASE)
    .scalar_subquery(),
    exists().where(_plans.c.case_id == _CASE),
    select(_plans.c.next_review_date)
    .where(_plans.c.case_id == _CASE)
    .order_by(_plans.c.version.desc())
    .limit(1)
    .scalar_subquery(),
    select(Closure.__table__.c.closed_at)
    .where(Closure.__table__.c.case_id == _CASE)
    .scalar_subquery(),
    exists().where(Outcome.__table__.c.case_id == _CASE, Outcome.__table__.c.stage == "six_month"),
    exists().where(ChildFollowUp.__table__.c.case_id == _CASE),
)


def _planned(
    kind: str,
    moment: datetime,
    task_id: int | None = None,
    case_id: int | None = None,
    on: date | None = None,
) -> Planned:
    subject = f"t{task_id}" if task_id is not None else f"c{case_id}:{on}"
    moment = moment.astimezone(UTC)
    return Planned(f"{kind}:{subject}:{moment.isoformat()}", kind, moment, task_id)


def _at_hour(day: date, policy: ReminderPolicy) -> datetime:
    return datetime.combine(day, time(policy.notice_hour), LONDON)


def _insert_new(session: Session, case_id: int, planned: list[Planned], now: datetime) -> None:
    """Insert, skipping any key someone else (a scheduler replanning) inserted meanwhile."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    rows = [
        {
            "key": p.key,
            "kind": p.kind,
            "case_id": case_id,
            "task_id": p.task_id,
            "due_at": p.due_at,
            "created_at": now,
        }
        for p in planned
    ]
    session.execute(insert(Reminder).on_conflict_do_nothing(index_elements=["key"]), rows)
