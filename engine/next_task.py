"""Claim my next task: the most urgent task the caller may pick up, taken without a race.

Listing then claiming makes everyone who lists at the same moment race for the same first
task, and each loser lists and claims again. Here the choice and the claim share one write
transaction. On PostgreSQL the chosen row is locked with ``FOR UPDATE SKIP LOCKED``, so a
second caller at the same moment passes over it to the next task instead of waiting for it or
losing it. SQLite has one writer at a time (``begin_write`` is ``BEGIN IMMEDIATE``), so a
plain select already sees every earlier claim.

Which tasks qualify is the inbox's ``available`` tab (``engine.inbox.first_available``), and
the claim itself is ``engine.assignment.claim_read``: the same checks, compare-and-set and
chronology as claiming a task by its id.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.accounts import User, actor_for
from engine.assignment import claim_read
from engine.db import begin_write
from engine.errors import ConcurrentChange
from engine.inbox import TaskFilter, first_available
from engine.models import HumanTask

# A task is passed over only when someone took it between our select and our update, which the
# lock rules out on PostgreSQL and the write lock on SQLite; the bound is a guard, not a plan.
MAX_TRIES = 5


def claim_next(session: Session, user: User, where: TaskFilter) -> HumanTask | None:
    """Claim for ``user`` the first ready, unassigned task they may pick up under ``where``'s
    filters (soonest due first, then oldest); None when nothing is waiting. Commits."""
    actor = actor_for(user)
    query = first_available(user, where).with_for_update(skip_locked=True, of=HumanTask)
    for _ in range(MAX_TRIES):
        begin_write(session)
        task = session.scalar(query)
        if task is None:
            session.rollback()
            return None
        try:
            return claim_read(session, task, actor)
        except ConcurrentChange:
            # Taken meanwhile: end this attempt (and its lock) before trying the next one.
            session.rollback()
    raise ConcurrentChange(
        f"The first {MAX_TRIES} tasks waiting for you were each taken by someone else as you "
        "asked; ask again."
    )
