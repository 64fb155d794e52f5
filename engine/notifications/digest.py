"""The daily digest: one email a day for workers who chose it, with what they were told.

Every notification to a digest worker is marked ``digest_pending`` when it is made. Each day at
``digest_hour`` (London time) the notices made before that moment go into one email per
worker. Claiming them is one conditional update (``digest_pending`` true -> false) that
returns what it claimed, so two schedulers never send a notice twice, and one that was stopped
at digest time sends the digest when it starts again.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from engine import clock
from engine.accounts import User
from engine.db import begin_write
from engine.notifications.delivery import Notice, email_body
from engine.notifications.models import Notification, OutboxMessage
from engine.notifications.planning import ReminderPolicy
from engine.time_words import LONDON, long_day


def latest_digest_moment(now: datetime, policy: ReminderPolicy) -> datetime:
    """The most recent digest time at or before ``now`` (today's, or else yesterday's)."""
    local = now.astimezone(LONDON)
    today = datetime.combine(local.date(), time(policy.digest_hour), LONDON)
    return (
        today
        if today <= local
        else datetime.combine(local.date() - timedelta(days=1), time(policy.digest_hour), LONDON)
    )


def send_digests(sessions: sessionmaker[Session], policy: ReminderPolicy) -> int:
    """Write each waiting digest to the outbox; returns how many digests were written."""
    now = clock.now()
    cutoff = latest_digest_moment(now, policy)
    with sessions() as session:
        waiting = session.scalars(
            select(Notification.username)
            .where(Notification.digest_pending.is_(True), Notification.created_at <= cutoff)
            .distinct()
        ).all()
    written = 0
    for username in waiting:
        with sessions() as session:
            written += _digest_for(session, username, cutoff, policy, now)
    return written


def _digest_for(
    session: Session, username: str, cutoff: datetime, policy: ReminderPolicy, now: datetime
) -> int:
    begin_write(session)
    claimed = session.execute(
        update(Notification)
        .where(
            Notification.username == username,
            Notification.digest_pending.is_(True),
            Notification.created_at <= cutoff,
        )
        .values(digest_pending=False)
        .returning(
            Notification.kind,
            Notification.title,
            Notification.body,
            Notification.link,
            Notification.case_id,
            Notification.created_at,
        )
    ).all()
    user = session.scalar(select(User).where(User.username == username))
    if not claimed or user is None or not user.email:
        session.commit()  # nothing to send, or nowhere to send it: they stay in the app
        return 0
    claimed.sort(key=lambda row: row.created_at)
    notices = [
        Notice(r.kind, r.title, r.body, r.link or "/notifications", r.case_id) for r in claimed
    ]
    count = len(notices)
    session.add(
        OutboxMessage(
            username=username,
            to_address=user.email,
            subject=f"Kinflow: your daily digest for {long_day(cutoff)} ({count} "
            f"notice{'' if count == 1 else 's'})",
            body=email_body(user, notices, policy),
            created_at=now,
            next_attempt_at=now,
        )
    )
    session.commit()
    return 1
