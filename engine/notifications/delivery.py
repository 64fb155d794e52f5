"""Firing reminders and escalations: who is told, in what words, in the app and by email.

A reminder fires once: ``ReminderDesk.fire`` claims it with a conditional update (``sent_at``
set where it is still unset) in the same transaction that writes the notifications and the
outbox emails, so of two schedulers (or a second alarm) only one tells anyone anything.

Who is told is worked out when the reminder fires, not when it was planned, so a task
reassigned or a worker who left since is handled: a task's assignee, else the workers of the
case's team who may pick it up; the case's coordinator for conference and review notices; the
team's data officers for six-month checks; and the team's FGC managers when no one else is
left, and for escalations. Texts carry the case number, never the family's name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine import clock
from engine.access import same_team
from engine.accounts import User
from engine.calendar import WorkingCalendar
from engine.db import begin_write
from engine.models import Case, CaseStatus, HumanTask, TaskState
from engine.notifications.models import Notification, OutboxMessage, Preference, Reminder
from engine.notifications.planning import (
    CONFERENCE_SOON,
    DUE_SOON,
    ESCALATION,
    OVERDUE,
    REVIEW_DUE,
    SIX_MONTH_DUE,
    TWELVE_MONTH_DUE,
    ReminderPolicy,
    plan_case,
    six_month_check_day,
    twelve_month_follow_up_day,
)
from engine.record.models import Closure, ConferenceArrangement, Referral
from engine.record.plan import current_plan
from engine.roles import COORDINATOR, DATA_OFFICER, FGC_MANAGER
from engine.time_words import day_and_time, long_day

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """What one reminder or escalation says; the same words in the app and in the email."""

    kind: str
    title: str
    body: str
    link: str
    case_id: int | None
    task_id: int | None = None
    escalation: bool = False


def notify(
    session: Session,
    users: Iterable[User],
    notice: Notice,
    policy: ReminderPolicy,
    now: datetime,
    reminder_id: int | None = None,
) -> int:
    """Tell each user in the app, and by email as their preference says (no commit)."""
    told = 0
    for user in users:
        emails = user.email is not None and user.email != ""
        preference = user.email_preference
        session.add(
            Notification(
                username=user.username,
                kind=notice.kind,
                escalation=notice.escalation,
                case_id=notice.case_id,
                task_id=notice.task_id,
                reminder_id=reminder_id,
                title=notice.title,
                body=notice.body,
                link=notice.link,
                created_at=now,
                digest_pending=emails and preference == Preference.DIGEST,
            )
        )
        wants_now = preference == Preference.IMMEDIATE or (
            preference == Preference.ESCALATIONS and notice.escalation
        )
        if emails and wants_now:
            session.add(
                OutboxMessage(
                    username=user.username,
                    to_address=user.email,
                    subject=f"Kinflow: {notice.title}",
                    body=email_body(user, [notice], policy),
                    created_at=now,
                    next_attempt_at=now,
                )
            )
        told += 1
    return told


def email_body(user: User, notices: list[Notice], policy: ReminderPolicy) -> str:
    """Plain text: each notice with a link, and how to change what is emailed."""
    parts = [f"Hello {user.display_name},", ""]
    for notice in notices:
        parts += [notice.title, notice.body, f"{policy.base_url}{notice.link}", ""]
    parts += [
        "Sign in to Kinflow to see the details; this email holds no personal information.",
        f"Choose what Kinflow emails you: {policy.base_url}/notifications/settings",
    ]
    return "\n".join(parts)


def escalate(session: Session, case: Case, what: str, policy: ReminderPolicy, now: datetime) -> int:
    """Tell the case team's FGC managers that a deadline set in the diagram was missed."""
    notice = Notice(
        kind=ESCALATION,
        title=f"Deadline missed on case {case.id}: {what}",
        body=f"The {what} deadline on case {case.id} has passed. Check who is on it.",
        link=f"/cases/{case.id}",
        case_id=case.id,
        escalation=True,
    )
    return notify(session, _managers(session, case), notice, policy, now)


class ReminderDesk:
    """Fires reminders when they fall due; the scheduler calls it, tests call it directly."""

    def __init__(
        self, sessions: sessionmaker[Session], calendar: WorkingCalendar, policy: ReminderPolicy
    ):
        self.sessions = sessions
        self.calendar = calendar
        self.policy = policy

    def nearest(self, limit: int) -> list[tuple[int, datetime]]:
        """The ``limit`` soonest unsent reminders, (id, moment)."""
        with self.sessions() as session:
            rows = session.execute(
                select(Reminder.id, Reminder.due_at)
                .where(Reminder.sent_at.is_(None))
                .order_by(Reminder.due_at)
                .limit(limit)
            )
            return [(reminder_id, moment) for reminder_id, moment in rows]

    def fire(self, reminder_id: int) -> bool:
        """Send the reminder if it is due and nobody has; True if this call sent it."""
        now = clock.now()
        with self.sessions() as session:
            begin_write(session)
            # The case row first, as every engine step takes it before planning: two planners
            # of one case (a timer and a reminder falling due together) then run one after the
            # other instead of deleting each other's new reminders (SQLite's writers are
            # serial anyway).
            case_id = session.scalar(select(Reminder.case_id).where(Reminder.id == reminder_id))
            if case_id is None:
                session.rollback()
                return False
            session.execute(select(Case.id).where(Case.id == case_id).with_for_update())
            claimed = session.execute(
                update(Reminder)
                .where(
                    Reminder.id == reminder_id,
                    Reminder.sent_at.is_(None),
                    Reminder.due_at <= now,
                )
                .values(sent_at=now)
            )
            if claimed.rowcount != 1:
                session.rollback()
                return False
            reminder = session.get(Reminder, reminder_id)
            case = session.get(Case, reminder.case_id)
            if case is not None and case.status == CaseStatus.ACTIVE:
                notice = _notice_for(session, reminder, self.policy, now)
                if notice is not None:
                    users = _recipients(session, reminder, case)
                    notify(session, users, notice, self.policy, now, reminder_id=reminder.id)
                plan_case(session, case, self.calendar, self.policy, now)
            session.commit()
            return True

    def fire_due(self, limit: int = 1000) -> int:
        """Fire every reminder whose moment has passed; returns how many this call sent."""
        now = clock.now()
        due = [rid for rid, moment in self.nearest(limit) if moment <= now]
        return sum(self.fire(rid) for rid in due)


def _notice_for(
    session: Session, reminder: Reminder, policy: ReminderPolicy, now: datetime
) -> Notice | None:
    """The words for a reminder, or None when what it was about no longer needs it."""
    case_id = reminder.case_id
    if reminder.kind in (DUE_SOON, OVERDUE):
        task = session.get(HumanTask, reminder.task_id)
        if task is None or task.state != TaskState.READY or task.due_at is None:
            return None
        if reminder.kind == DUE_SOON and task.due_at <= now:
            return None  # too late for "soon" (no scheduler ran): "overdue" says it
        due = day_and_time(task.due_at)
        if reminder.kind == DUE_SOON:
            title = f"Due soon: {task.title} (case {case_id})"
            body = f"'{task.title}' on case {case_id} is due by {due}."
        else:
            title = f"Overdue: {task.title} (case {case_id})"
            body = f"'{task.title}' on case {case_id} was due by {due} and is not done yet."
        return Notice(reminder.kind, title, body, f"/tasks/{task.id}", case_id, task.id)
    if reminder.kind == CONFERENCE_SOON:
        arrangement = session.get(ConferenceArrangement, case_id)
        if arrangement is None:
            return None
        on = long_day(arrangement.conference_date)
        title = f"Conference in {policy.conference_notice_days} days (case {case_id})"
        body = f"The family's conference on case {case_id} is on {on}. Check the arrangements."
        return Notice(reminder.kind, title, body, f"/cases/{case_id}", case_id)
    if reminder.kind == REVIEW_DUE:
        plan = current_plan(session, case_id)
        if plan is None or plan.next_review_date is None:
            return None
        on = long_day(plan.next_review_date)
        title = f"Review due on {on} (case {case_id})"
        body = f"The family plan on case {case_id} is due for review on {on}. Arrange it."
        return Notice(reminder.kind, title, body, f"/cases/{case_id}", case_id)
    if reminder.kind == SIX_MONTH_DUE:
        closure = session.get(Closure, case_id)
        if closure is None:
            return None
        on = long_day(six_month_check_day(closure.closed_at))
        title = f"Six-month outcome check due on {on} (case {case_id})"
        body = f"Case {case_id} closed six months ago: its outcomes are checked again on {on}."
        return Notice(reminder.kind, title, body, f"/cases/{case_id}", case_id)
    if reminder.kind == TWELVE_MONTH_DUE:
        closure = session.get(Closure, case_id)
        if closure is None:
            return None
        on = long_day(twelve_month_follow_up_day(closure.closed_at))
        title = f"Twelve-month follow-up due on {on} (case {case_id})"
        body = (
            f"Case {case_id} closed a year ago: on {on} record where each child lives and "
            "whether care proceedings were issued."
        )
        return Notice(reminder.kind, title, body, f"/cases/{case_id}", case_id)
    log.warning("Reminder %s has an unknown kind %r", reminder.id, reminder.kind)
    return None


def _recipients(session: Session, reminder: Reminder, case: Case) -> list[User]:
    if reminder.kind in (DUE_SOON, OVERDUE):
        task = session.get(HumanTask, reminder.task_id)
        if task.assignee:
            people = _active(session, User.username == task.assignee)
        else:
            people = _team_with_roles(session, case, set(task.candidate_groups))
    elif reminder.kind in (CONFERENCE_SOON, REVIEW_DUE):
        coordinator = session.scalar(
            select(Referral.coordinator).where(Referral.case_id == case.id)
        )
        people = _active(session, User.username == coordinator) if coordinator else []
        people = people or _team_with_roles(session, case, {COORDINATOR})
    else:
        people = _team_with_roles(session, case, {DATA_OFFICER})
    # Nobody left to do it (an assignee who left, an empty team): its managers must know.
    return people or _managers(session, case)


def _managers(session: Session, case: Case) -> list[User]:
    return _team_with_roles(session, case, {FGC_MANAGER})


def _team_with_roles(session: Session, case: Case, roles: set[str]) -> list[User]:
    return [
        u for u in _active(session, same_team(User.team_id, case.team_id)) if roles & set(u.roles)
    ]


def _active(session: Session, condition: ColumnElement[bool]) -> list[User]:
    return list(session.scalars(select(User).where(condition, User.active.is_(True))))
