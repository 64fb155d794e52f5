"""The alarm clock under load: how late timers and reminders fire, and what start-up costs.

Lateness. 1,000 cases of a one-timer diagram (``diagrams/one_timer``: start, a timeDate timer
reading ``due_at``, a user task) fall due 60 ms apart over one minute, starting ``LEAD`` after
the real ``Scheduler`` (APScheduler, default horizon and look interval) starts, on the real
clock: real time is the point here. 1,000 reminders fall due in the same minute, 30 ms after
each timer, so the scheduler carries 2,000 firings a minute. The cases are started through the
runtime while the scheduler runs, as workers would; the scheduler has its own ``Runtime`` (a
cold workflow cache, as in its own process). The reminder cases are bulk-inserted rows with one
open task each, since firing a reminder never reads the workflow. A case's lateness is the
moment its wake committed (the timer fired and the case moved on) minus its due moment; a
reminder's is the moment its firing committed minus its due moment. Both include the 50 ms
``PAST_DUE`` after which the scheduler arms a job (SpiffWorkflow fires a timer only when the
clock is strictly past it). Each reminder emails the coordinator at once, through the postman
with the log transport (no SMTP wait). Target: 99th percentile under 1 second; each fires
exactly once (one wake and one new task per case, one notification per reminder).

Start-up. 100,000 cases and 100,000 reminders pending in the future (bulk rows; none fires),
then the time from ``Scheduler.start()`` to the end of its first look (the nearest 500 of each
armed), and the tracemalloc peak of that start-up in a second run; the same for 1,000 pending,
to show memory does not grow with the number pending. Target: under 5 seconds.

Run alone with ``python -m benchmarks.scheduler_cost`` (``--help``: one database, or the
lateness with a smaller pool of scheduler threads).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, String, cast, func, insert, literal, select, text
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.setup import COORDINATOR, database, deploy
from benchmarks.timing import median_ms, percentile_ms
from engine.accounts import Team, User
from engine.models import Base, Case, HumanTask, TaskCandidate
from engine.notifications.delivery import ReminderDesk
from engine.notifications.models import Notification, OutboxMessage, OutboxStatus, Reminder
from engine.notifications.outbox import LogTransport, Postman
from engine.notifications.planning import DUE_SOON
from engine.runtime import Runtime
from engine.scheduler import Leadership, Scheduler, Waker

DUE = 1_000
LEAD = timedelta(seconds=25)
SPREAD = timedelta(seconds=60)
DRAIN = timedelta(seconds=30)  # how long past the last due moment to wait for stragglers
PENDING = (1_000, 100_000)
# Bulk rows take ids far above those PostgreSQL's sequences give the runtime's own inserts.
BULK_IDS = 1_000_000


class _TimedRuntime(Runtime):
    """The scheduler's runtime, noting the moment each wake committed (benchmark only)."""

    def __init__(self) -> None:
        super().__init__()
        self.woken: list[tuple[int, datetime]] = []

    def wake_case(self, session: Session, case_id: int) -> Case:
        case = super().wake_case(session, case_id)
        self.woken.append((case_id, datetime.now(UTC)))  # list.append is atomic: no lock
        return case


class _TimedWaker(Waker):
    """Notes when APScheduler called for each case, to split lateness into wait and work."""

    def __init__(self, sessions: sessionmaker[Session], runtime: Runtime):
        super().__init__(sessions, runtime)
        self.called: list[tuple[int, datetime]] = []

    def wake(self, case_id: int) -> datetime | None:
        self.called.append((case_id, datetime.now(UTC)))
        return super().wake(case_id)


class _TimedDesk(ReminderDesk):
    """Notes the moment each reminder's firing committed."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.fired: list[tuple[int, datetime]] = []

    def fire(self, reminder_id: int) -> bool:
        sent = super().fire(reminder_id)
        if sent:
            self.fired.append((reminder_id, datetime.now(UTC)))
        return sent


class _Watched(Scheduler):
    """A scheduler that says when its first look (arming the nearest jobs) is over."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.looked = threading.Event()

    def look(self) -> None:
        super().look()
        self.looked.set()


def _team_and_coordinator(sessions: sessionmaker[Session]) -> int:
    """A team with one coordinator who wants each reminder emailed at once."""
    with sessions() as session:
        team = Team(name="Bench FGC")
        session.add(team)
        session.flush()
        user = {
            "username": "bench.coordinator",
            "display_name": "Bench Coordinator",
            "email": "bench.coordinator@example.org",
            "roles": ["coordinator"],
            "team_id": team.id,
            "active": True,
            "failed_logins": 0,
            "email_preference": "immediate",
        }
        session.execute(insert(User.__table__), [user])
        session.commit()
        return team.id


def _bulk_cases(
    sessions: sessionmaker[Session],
    version_id: int,
    team_id: int | None,
    moments: list[datetime],
    timers: bool,
) -> None:
    """One case row per moment with a reminder due then. ``timers``: the case also waits on
    a timer then (nothing else is needed, as none fires); otherwise it has one open task,
    which the reminder is about."""
    now = datetime.now(UTC)
    cases, tasks, candidates, reminders = [], [], [], []
    for n, moment in enumerate(moments):
        row_id = BULK_IDS + n
        cases.append(
            {
                "id": row_id,
                "version_id": version_id,
                "title": f"Case {row_id}",
                "status": "active",
                "state": "",  # never loaded: reminders do not read it, and no timer fires
                "revision": 1,
                "created_at": now,
                "updated_at": now,
                "created_by": COORDINATOR.username,
                "team_id": team_id,
                "next_wake_at": moment if timers else None,
            }
        )
        if not timers:
            tasks.append(_open_task(row_id, moment + timedelta(days=10), now))
            candidates.append({"task_id": row_id, "role": "coordinator"})
            reminders.append(_reminder(row_id, moment, now) | {"task_id": row_id})
    with sessions() as session:
        for table, rows in (
            (Case, cases),
            (HumanTask, tasks),
            (TaskCandidate, candidates),
            (Reminder, reminders),
        ):
            _insert(session, table.__tablename__, rows)
        if timers:  # a reminder due with each timer, copied in the database: twice as fast
            copied = select(
                Case.id,
                literal("bench:") + cast(Case.id, String),
                literal(DUE_SOON),
                Case.id,
                Case.next_wake_at,
                Case.created_at,
            ).where(Case.id >= BULK_IDS)
            columns = ["id", "key", "kind", "case_id", "due_at", "created_at"]
            session.execute(insert(Reminder.__table__).from_select(columns, copied))
        session.commit()


def _reminder(row_id: int, due_at: datetime, now: datetime) -> dict[str, Any]:
    return {
        "id": row_id,
        "key": f"bench:{row_id}",
        "kind": DUE_SOON,
        "case_id": row_id,
        "due_at": due_at,
        "created_at": now,
    }


def _insert(session: Session, table: str, rows: list[dict[str, Any]]) -> None:
    """Bulk insert; on PostgreSQL with COPY, as psycopg's executemany sends a statement a row."""
    if not rows:
        return
    if session.bind.dialect.name != "postgresql":
        session.execute(insert(Base.metadata.tables[table]), rows)
        return
    from psycopg.types.json import Json

    columns = list(rows[0])
    cursor = session.connection().connection.dbapi_connection.cursor()
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([Json(v) if isinstance(v, list) else v for v in row.values()])


def _open_task(row_id: int, due_at: datetime, now: datetime) -> dict[str, Any]:
    return {
        "id": row_id,
        "case_id": row_id,
        "spiff_task_id": f"00000000-0000-0000-0000-{row_id:012d}",
        "process_id": "one_timer",
        "element_id": "after_timer",
        "title": "After the timer",
        "role": "coordinator",
        "candidate_groups": ["coordinator"],
        "assignee": None,
        "state": "ready",
        "form_key": "step",
        "due_at": due_at,
        "created_at": now,
    }


class _Warnings(logging.Handler):
    """Counts APScheduler's warnings (a firing skipped because the same job was still
    running; a look that started late) instead of printing each one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.logger = logging.getLogger("apscheduler")

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        self.counts["skipped_still_running" if "skipped" in text else "started_late"] += 1

    def __enter__(self) -> _Warnings:
        self.logger.addHandler(self)
        self.logger.propagate = False
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.propagate = True


def _wait_for_leadership(engine: Engine, patience: float = 60) -> None:
    """Wait until no other scheduler holds the lock. On PostgreSQL it is one advisory lock per
    database, so a scheduler test running on the same database (another schema) holds it."""
    probe = Leadership(engine)
    deadline = time.monotonic() + patience
    while not probe.hold():
        if time.monotonic() > deadline:
            raise RuntimeError("Another Kinflow scheduler holds the lock on this database.")
        time.sleep(0.5)
    probe.release()


def _wait_until(done: Any, deadline: datetime) -> None:
    while not done() and datetime.now(UTC) < deadline:
        time.sleep(0.2)


def _spread(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    return {
        "p50_ms": median_ms(samples),
        "p99_ms": percentile_ms(samples, 99),
        "max_ms": round(max(samples) * 1000, 3),
        "min_ms": round(min(samples) * 1000, 3),
    }


def _timed_scheduler(
    engine: Engine, sessions: sessionmaker[Session], workers: int | None
) -> tuple[Scheduler, _TimedRuntime, _TimedWaker, _TimedDesk]:
    """The production scheduler with its own runtime, timed parts and a log postman."""
    runtime = _TimedRuntime()
    # The log transport is what runs without an SMTP server: each email is claimed,
    # "sent" and marked sent, with no network wait.
    scheduler = Scheduler(engine, sessions, runtime, Postman(sessions, LogTransport()))
    if workers is not None:
        pool = ThreadPoolExecutor(workers)
        scheduler.aps = BackgroundScheduler(timezone=UTC, executors={"default": pool})
    scheduler.waker = waker = _TimedWaker(sessions, runtime)
    scheduler.desk = desk = _TimedDesk(sessions, runtime.calendar, runtime.reminders)
    return scheduler, runtime, waker, desk


def lateness(kind: str, workers: int | None = None) -> dict[str, Any]:
    """1,000 timers and 1,000 reminders due in one minute, fired by the real scheduler.

    ``workers`` replaces APScheduler's pool of 10 threads (to try a smaller one)."""
    creator = Runtime()
    with database(kind) as sessions:
        engine = sessions.kw["bind"]
        version = deploy(sessions, creator, "one_timer")
        team_id = _team_and_coordinator(sessions)
        first = datetime.now(UTC) + LEAD
        step = SPREAD / DUE
        timer_moments = [first + step * n for n in range(DUE)]
        reminder_moments = [moment + step / 2 for moment in timer_moments]
        _bulk_cases(sessions, version.id, team_id, reminder_moments, timers=False)
        _wait_for_leadership(engine)
        scheduler, runtime, waker, desk = _timed_scheduler(engine, sessions, workers)
        lead = (first - datetime.now(UTC)).total_seconds()
        load_before = os.getloadavg()[0]
        due_of: dict[int, datetime] = {}
        with _Warnings() as warnings:
            scheduler.start()
            try:
                with sessions() as session:
                    for moment in timer_moments:
                        data = {"due_at": moment.isoformat()}
                        case = creator.start_case(session, version, data, COORDINATOR)
                        due_of[case.id] = moment
                margin = (first - datetime.now(UTC)).total_seconds()
                _wait_until(
                    lambda: len(runtime.woken) >= DUE and len(desk.fired) >= DUE,
                    timer_moments[-1] + DRAIN,
                )
                time.sleep(1)  # long enough for a second firing, were there one
            finally:
                scheduler.stop()
        return {
            "worker_threads": workers or "engine default",
            # Other work on the machine shows here, and in the tail of the lateness.
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "lead_s": round(lead, 1),
            "apscheduler_warnings": dict(warnings.counts),
            "cases_started_s_before_first_due": round(margin, 1),
            "timers": _timer_figures(sessions, runtime, waker, due_of),
            "reminders": _reminder_figures(sessions, desk),
        }


def _timer_figures(
    sessions: sessionmaker[Session],
    runtime: _TimedRuntime,
    waker: _TimedWaker,
    due_of: dict[int, datetime],
) -> dict[str, Any]:
    wakes = Counter(case_id for case_id, _ in runtime.woken)
    committed = {case_id: at for case_id, at in reversed(runtime.woken)}  # the first of each
    called = {case_id: at for case_id, at in reversed(waker.called)}
    with sessions() as session:
        tasks = Counter(
            session.scalars(
                select(HumanTask.case_id).where(
                    HumanTask.element_id == "after_timer", HumanTask.case_id.in_(list(due_of))
                )
            )
        )
    once = all(wakes[c] == 1 and tasks[c] == 1 for c in due_of)
    late = [(at - due_of[c]).total_seconds() for c, at in committed.items()]
    waited = [(at - due_of[c]).total_seconds() for c, at in called.items() if c in committed]
    return {
        "due": len(due_of),
        "fired": len(committed),
        "fired_exactly_once": once and len(committed) == len(due_of),
        "lateness": _spread(late),
        "called_after_due": _spread(waited),
    }


def _reminder_figures(sessions: sessionmaker[Session], desk: _TimedDesk) -> dict[str, Any]:
    with sessions() as session:
        rows = session.execute(
            select(Reminder.id, Reminder.due_at, Reminder.sent_at).where(
                Reminder.key.startswith("bench:")  # not those planned since, as each fired
            )
        ).all()
        emailed = session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.status == OutboxStatus.SENT)
        )
        told = dict(
            session.execute(
                select(Notification.reminder_id, func.count())
                .where(Notification.reminder_id >= BULK_IDS)
                .group_by(Notification.reminder_id)
            ).all()
        )
    due_of = {reminder_id: due for reminder_id, due, _ in rows}
    fired = Counter(reminder_id for reminder_id, _ in desk.fired)
    late = [(at - due_of[r]).total_seconds() for r, at in desk.fired]
    claimed = [(sent - due).total_seconds() for _, due, sent in rows if sent is not None]
    once = all(fired[r] == 1 and told.get(r) == 1 for r in due_of)
    return {
        "due": len(rows),
        "fired": len(fired),
        "fired_exactly_once": once,
        "emails_sent": emailed,
        "lateness": _spread(late),
        "claimed_after_due": _spread(claimed),
    }


def start_up(kind: str, pending: int) -> dict[str, Any]:
    """Start-up time and memory with ``pending`` timers and as many reminders in the future."""
    runtime = Runtime()
    with database(kind) as sessions:
        engine = sessions.kw["bind"]
        version = deploy(sessions, runtime, "one_timer")
        soon = datetime.now(UTC) + timedelta(hours=1)
        moments = [soon + timedelta(seconds=30 * n) for n in range(pending)]
        _bulk_cases(sessions, version.id, None, moments, timers=True)
        if kind == "postgresql":
            with engine.begin() as conn:  # what autovacuum does shortly after a bulk load
                conn.execute(text("ANALYZE"))
        untraced = _start_once(engine, sessions, runtime, traced=False)
        traced = _start_once(engine, sessions, runtime, traced=True)
    return {"pending": pending} | untraced | traced


def _start_once(
    engine: Engine, sessions: sessionmaker[Session], runtime: Runtime, traced: bool
) -> dict[str, Any]:
    """Seconds from ``start()`` to the end of the first look and how many jobs it armed; or,
    traced (which slows Python down), the peak and the kept memory allocated meanwhile."""
    _wait_for_leadership(engine)
    scheduler = _Watched(engine, sessions, runtime)
    if traced:
        tracemalloc.start()
    began = time.perf_counter()
    scheduler.start()
    looked = scheduler.looked.wait(60)
    elapsed = time.perf_counter() - began
    kept, peak = tracemalloc.get_traced_memory() if traced else (0, 0)
    tracemalloc.stop()
    armed = len(scheduler.aps.get_jobs()) - 1  # all but the look itself
    scheduler.stop()
    if not looked:
        raise RuntimeError(f"The scheduler's first look did not finish ({engine.dialect.name}).")
    if traced:
        return {
            "tracemalloc_peak_mb": round(peak / 2**20, 2),
            "tracemalloc_kept_mb": round(kept / 2**20, 2),
        }
    return {"start_up_s": round(elapsed, 3), "jobs_armed": armed}


def run(postgres: bool) -> dict[str, Any]:
    kinds = ["sqlite", "postgresql"] if postgres else ["sqlite"]
    return {
        kind: {
            "start_up": [start_up(kind, pending) for pending in PENDING],
            "lateness": lateness(kind),
        }
        for kind in kinds
    }


def summary_lines(results: dict[str, Any]) -> list[str]:
    """The README table rows for these figures (benchmarks/__main__.py writes the table)."""
    lines = []
    for kind, figures in results.items():
        for what in ("timers", "reminders"):
            f = figures["lateness"][what]
            late = f["lateness"]
            lines.append(
                f"| {f['due']:,} {what} due in one minute (with 1,000 "
                f"{'reminders' if what == 'timers' else 'timers'} in the same minute), {kind}: "
                f"lateness after the due moment, p50 / p99 / max "
                f"| {late['p50_ms']} / **{late['p99_ms']} ms** / {late['max_ms']} ms; "
                f"{f['fired']} fired, {'each once' if f['fired_exactly_once'] else 'NOT once'} "
                f"| p99 under 1 s |"
            )
        small, large = figures["start_up"]
        lines.append(
            f"| scheduler start-up with {large['pending']:,} timers and as many reminders "
            f"pending, {kind} (first look armed; tracemalloc peak) "
            f"| **{large['start_up_s']} s**, {large['tracemalloc_peak_mb']} MB "
            f"({small['pending']:,} pending: {small['start_up_s']} s, "
            f"{small['tracemalloc_peak_mb']} MB) | under 5 s, memory flat |"
        )
    return lines


if __name__ == "__main__":
    import argparse
    import json

    from benchmarks.setup import POSTGRES_URL

    parser = argparse.ArgumentParser(description="Scheduler lateness and start-up figures.")
    parser.add_argument(
        "--workers", type=int, help="only the lateness, with this many scheduler threads"
    )
    parser.add_argument("--kind", choices=["sqlite", "postgresql"], help="one database only")
    args = parser.parse_args()
    if args.kind is None and args.workers is None:
        print(json.dumps(run(bool(POSTGRES_URL)), indent=2))
    else:
        kinds = [args.kind] if args.kind else ["sqlite", "postgresql"][: 1 + bool(POSTGRES_URL)]
        figures = {kind: {"lateness": lateness(kind, args.workers)} for kind in kinds}
        print(json.dumps(figures, indent=2))
