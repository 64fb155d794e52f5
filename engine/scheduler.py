"""The alarm clock for BPMN timers and reminders: each fires when it is due, once.

The database is the source of truth for time (architecture decision 4): every change writes
the case's ``next_wake_at``. The scheduler arms an APScheduler job for the nearest wake-ups
only (memory stays bounded however many are pending), re-reads the database every few seconds
to arm newer ones and to take over from a scheduler that died, and fires each at its moment.
A fired timer is completed in the case's saved state and the case row is claimed with its
revision (engine/runtime.py), so a second scheduler, or a second firing, finds nothing to do.

Reminders work the same way: the nearest are armed, and ``ReminderDesk`` claims each with a
conditional update before anyone is told. Each look also writes the daily digests that are due
and sends the outbox's email (``Postman``), re-armed for the next retry. Given a
``report_refresh`` interval, it also recounts the managers' dashboard that often
(``engine.reports.snapshots.refresh``) on a thread of its own.

Only one scheduler is active at a time: ``Leadership`` is a PostgreSQL advisory lock held by a
dedicated connection, or on SQLite an exclusive lock on a file beside the database. Both are
released by the operating system or the server when the process dies, so another scheduler
takes over at its next look.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from engine import clock
from engine.errors import ConcurrentChange, KinflowError
from engine.models import Case, CaseStatus
from engine.notifications.delivery import ReminderDesk
from engine.notifications.digest import send_digests
from engine.notifications.outbox import Postman
from engine.reports import snapshots
from engine.runtime import Runtime
from engine.time_words import london_day

log = logging.getLogger(__name__)

# SpiffWorkflow fires a timer only once the clock is strictly past its moment.
PAST_DUE = timedelta(milliseconds=50)
_MAIL = "mail"
_REPORTS = "reports"
# Keyed by the schema too, so Kinflow installations sharing one PostgreSQL database in
# separate schemas (and the test suite's schemas) each have their own scheduler.
_TAKE_LOCK = (
    "SELECT pg_try_advisory_lock(hashtext('kinflow scheduler'), hashtext(current_schema()))"
)
_FREE_LOCK = "SELECT pg_advisory_unlock(hashtext('kinflow scheduler'), hashtext(current_schema()))"


class Leadership:
    """Whether this process is the one active scheduler; ``hold`` tries to become it."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._conn: Connection | None = None
        self._file: IO[str] | None = None
        # APScheduler runs jobs on a thread pool, and a database connection is not thread-safe.
        self._guard = threading.Lock()

    def hold(self) -> bool:
        """True while this process holds the lock (taking it if it is free)."""
        with self._guard:
            return self._hold()

    def release(self) -> None:
        with self._guard:
            self._release()

    def _hold(self) -> bool:
        if self._conn is not None or self._file is not None:
            return self._still_held()
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            got = conn.execute(text(_TAKE_LOCK))
            if got.scalar():
                self._conn = conn
                return True
            conn.close()
            return False
        handle = open(_lock_path(self.engine), "a")  # noqa: SIM115  (held open: it is the lock)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def _still_held(self) -> bool:
        if self._conn is None:
            return True  # a file lock lasts as long as the open file
        try:
            self._conn.execute(text("SELECT 1"))
        except Exception:  # the server dropped us: the lock went with the connection
            self._release()
            return False
        return True

    def _release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text(_FREE_LOCK))
                self._conn.close()
            except Exception:  # noqa: S110  (a dead connection has released it already)
                pass
            self._conn = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _lock_path(engine: Engine) -> Path:
    database = engine.url.database or ""
    if not database or database == ":memory:":
        raise KinflowError("The scheduler needs a database file to lock beside (not :memory:).")
    return Path(f"{database}.scheduler.lock")


class Waker:
    """Fires what is due: the part of the scheduler that needs no alarm clock (tests use it)."""

    def __init__(self, sessions: sessionmaker[Session], runtime: Runtime):
        self.sessions = sessions
        self.runtime = runtime

    def nearest(self, limit: int) -> list[tuple[int, datetime]]:
        """The ``limit`` nearest pending wake-ups, (case id, moment), soonest first."""
        with self.sessions() as session:
            rows = session.execute(
                select(Case.id, Case.next_wake_at)
                .where(Case.status == CaseStatus.ACTIVE, Case.next_wake_at.is_not(None))
                .order_by(Case.next_wake_at)
                .limit(limit)
            )
            return [(case_id, moment) for case_id, moment in rows]

    def wake(self, case_id: int) -> datetime | None:
        """Wake the case if a timer of it is due; returns its next wake-up (None: none)."""
        with self.sessions() as session:
            case = session.get(Case, case_id)
            if case is None or case.status != CaseStatus.ACTIVE or case.next_wake_at is None:
                return None
            if case.next_wake_at >= clock.now():
                return case.next_wake_at  # not yet (or already moved on by someone else)
            try:
                case = self.runtime.wake_case(session, case_id)
            except ConcurrentChange:
                session.rollback()  # someone changed it meanwhile: look again at its new time
                case = session.get(Case, case_id, populate_existing=True)
            except KinflowError:
                session.rollback()
                log.exception("Case %s could not be woken", case_id)
                return None
            return case.next_wake_at if case is not None else None

    def fire_due(self, limit: int = 1000) -> int:
        """Wake every case whose wake-up has passed; returns how many were woken."""
        now = clock.now()
        due = [case_id for case_id, moment in self.nearest(limit) if moment < now]
        for case_id in due:
            self.wake(case_id)
        return len(due)


class Scheduler:
    """APScheduler as the alarm clock over ``Waker`` (timers), ``ReminderDesk`` (reminders),
    the daily digests and the email ``Postman``; active only while it holds leadership."""

    def __init__(
        self,
        engine: Engine,
        sessions: sessionmaker[Session],
        runtime: Runtime,
        postman: Postman | None = None,
        horizon: int = 500,
        look_every: timedelta = timedelta(seconds=5),
        report_refresh: timedelta | None = None,
    ):
        self.sessions = sessions
        self.waker = Waker(sessions, runtime)
        self.desk = ReminderDesk(sessions, runtime.calendar, runtime.reminders)
        self.policy = runtime.reminders
        self.postman = postman
        self.leadership = Leadership(engine)
        self.horizon = horizon
        self.look_every = look_every
        self.report_refresh = report_refresh
        # SQLite has one writer: more threads would only queue in its busy handler, which hands
        # the lock out unfairly (benchmarks/scheduler_cost.py measured p99 1.3 s with 10, 0.1 s
        # with 1). Email has a thread of its own, so a slow SMTP server never delays a timer.
        workers = 1 if engine.dialect.name == "sqlite" else 10
        self.aps = BackgroundScheduler(
            timezone=UTC,
            # Recounting the dashboard takes seconds at 100,000 cases: never in a timer's way.
            executors={
                "default": ThreadPoolExecutor(workers),
                _MAIL: ThreadPoolExecutor(1),
                _REPORTS: ThreadPoolExecutor(1),
            },
        )
        # job id -> the moment it is armed for, so a look re-arms only what changed.
        self._armed: dict[str, datetime] = {}
        self._armed_lock = threading.Lock()
        # A job re-armed while it still ran is skipped by APScheduler; forget it was armed, or
        # the next look would think it still is and never fire it.
        self.aps.add_listener(lambda event: self._disarm(event.job_id), EVENT_JOB_MAX_INSTANCES)

    def start(self) -> None:
        self.aps.start()
        seconds = self.look_every.total_seconds()
        self.aps.add_job(
            self.look, "interval", seconds=seconds, id="look", next_run_time=datetime.now(UTC)
        )
        if self.report_refresh:
            self.aps.add_job(
                self.refresh_reports,
                "interval",
                seconds=self.report_refresh.total_seconds(),
                id="reports",
                next_run_time=datetime.now(UTC),  # kept figures may be old after a stop
                coalesce=True,
                executor=_REPORTS,
            )

    def stop(self) -> None:
        if self.aps.running:
            # Emptied first: a pass of APScheduler's loop still running when shutdown marks it
            # stopped cannot remove the one-off job it just ran (JobLookupError in its thread).
            self.aps.remove_all_jobs()
            self.aps.shutdown(wait=True)
        self.leadership.release()

    def look(self) -> None:
        """Become (or stay) the active scheduler, then arm the nearest wake-ups and reminders,
        write any digests due and send what the outbox holds."""
        if not self.leadership.hold():
            return
        for case_id, moment in self.waker.nearest(self.horizon):
            self._arm(f"wake-{case_id}", moment, self._wake, case_id)
        for reminder_id, moment in self.desk.nearest(self.horizon):
            self._arm(f"remind-{reminder_id}", moment, self._remind, reminder_id)
        send_digests(self.sessions, self.policy)
        self._arm_post(self.postman.next_due() if self.postman else None)

    def refresh_reports(self) -> int:
        """Recount the dashboard's default views if this is the active scheduler; returns how
        many views were counted (0 when another scheduler is active)."""
        if not self.leadership.hold():
            return 0
        with self.sessions() as session:
            return snapshots.refresh(session, london_day(clock.now()))

    def _arm(
        self,
        job_id: str,
        moment: datetime,
        run: Callable[[int], None],
        key: int,
        executor: str = "default",
    ) -> None:
        with self._armed_lock:
            if self._armed.get(job_id) == moment:
                return
            self._armed[job_id] = moment
        self.aps.add_job(
            run,
            "date",
            run_date=_real_time(moment) + PAST_DUE,
            args=[key],
            id=job_id,
            replace_existing=True,
            misfire_grace_time=None,  # late (the process was stopped) still fires, once
            coalesce=True,
            executor=executor,
        )

    def _arm_post(self, moment: datetime | None) -> None:
        if moment is not None and self.postman is not None:
            self._arm("outbox", moment, self._post, 0, executor=_MAIL)

    def _disarm(self, job_id: str) -> None:
        with self._armed_lock:
            self._armed.pop(job_id, None)

    def _wake(self, case_id: int) -> None:
        following = None
        try:
            if self.leadership.hold():
                following = self.waker.wake(case_id)
        finally:
            # Only now: a look while the wake ran must not think this job is still armed.
            self._disarm(f"wake-{case_id}")
        if following is not None:
            self._arm(f"wake-{case_id}", following, self._wake, case_id)

    def _remind(self, reminder_id: int) -> None:
        try:
            sent = self.leadership.hold() and self.desk.fire(reminder_id)
        finally:
            self._disarm(f"remind-{reminder_id}")
        if sent:
            self._arm_post(clock.now())

    def _post(self, _key: int = 0) -> None:
        """Send the outbox's due emails, and arm the next retry."""
        try:
            if self.postman is None or not self.leadership.hold():
                return
            self.postman.send_due()
        finally:
            self._disarm("outbox")
        self._arm_post(self.postman.next_due())


def _real_time(moment: datetime) -> datetime:
    """The wall-clock moment for an engine moment (they differ only under a test clock)."""
    return moment + (datetime.now(UTC) - clock.now())


def run_forever(scheduler: Scheduler) -> None:
    """Run until interrupted (``kinflow scheduler``)."""
    scheduler.start()
    log.info("Scheduler started (pid %s)", os.getpid())
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.stop()
