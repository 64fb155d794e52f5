"""``kinflow bench-seed``: a large fictional service in the database, fast, with real workflows.

The record rows come from ``engine.seed_record`` (bulk inserts, a batch of families at a
time). Their workflow state must be real, or the task form, the case page and completing a
task fail on a seeded case; running 100,000 workflows through the engine would take hours. So
one real case per "archetype" (each place the seed leaves a case: a stage's open task, waiting
for a review date or the six-month check, finished) is driven through the engine by the demo's
story walker, and every seeded case in that place gets a copy of its saved state, with its
open ``human_tasks`` rows carrying the ``spiff_task_id`` of the copy's ready tasks (task ids
need only be unique within a case). The archetype cases stay in the data set as real cases.

This lives in the engine, not in ``benchmarks/``, because the shipped command uses it; the
benchmarks import it from here.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from engine import clock
from engine.accounts import User
from engine.demo import _Plan, _Story  # the demo's walker drives the archetypes
from engine.errors import KinflowError
from engine.models import Case, CaseEvent, HumanTask, ProcessVersion, TaskCandidate
from engine.record import models as record
from engine.runtime import Runtime
from engine.seed_people import teams_and_users
from engine.seed_record import ORDER, Rows, build_rows, insert_rows

WAITING_FOR_REVIEW = "(waiting for the review date)"
WAITING_FOR_CHECK = "(waiting for the six-month check)"
FINISHED = "(finished)"
# Where a seeded case stops (its open task's element, or a wait) -> the story that gets there.
ARCHETYPES: dict[str, _Plan] = {
    "acknowledge_referral": _Plan("referred"),
    "screen_referral": _Plan("acknowledged"),
    "provide_more_information": _Plan("asked_more", more_information=True),
    "hold_baseline_meeting": _Plan("allocated"),
    "prepare_network": _Plan("assessment"),
    "record_conference": _Plan("arranged"),
    "review_family_plan": _Plan("conference"),
    "approve_support": _Plan("support_requested", support=350),
    "hold_review": _Plan("review_1_due"),
    "close_case": _Plan("review_1"),
    "record_six_month_check": _Plan("six_month_due"),
    WAITING_FOR_REVIEW: _Plan("support_done"),
    WAITING_FOR_CHECK: _Plan("closed"),
    FINISHED: _Plan("followed_up", reviews=2),
}
# Copied from the archetype's task rows to every seeded row of the same element.
_SHAPE = ("process_id", "title", "role", "candidate_groups", "form_key", "instructions", "lane")


@dataclass
class Archetype:
    """A real case's saved workflow, and the rows of its ready tasks."""

    case_id: int
    state: str
    stage: str | None
    next_wake_at: datetime | None
    ready: list[dict[str, Any]]


def check_may_seed(session: Session, append: bool) -> None:
    """Refuse to mix the seed into a database that holds cases, unless asked to append."""
    held = session.scalar(select(func.count(Case.id)))
    if held and not append:
        raise KinflowError(
            f"The database already holds {held} cases; use --append to add the seed to them."
        )


def bench_seed(
    session: Session,
    runtime: Runtime,
    version: ProcessVersion,
    cases: int,
    rule: str = "stronger_families",
    seed: int = 7,
    batch: int = 5_000,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Add ``cases`` fictional families (plus the archetypes), and the service's workers when
    missing; rows inserted, by table."""
    started = time.perf_counter()
    users_before = session.scalar(select(func.count(User.id))) or 0
    team_ids = teams_and_users(session)
    session.commit()
    counts: dict[str, int] = defaultdict(int)
    counts["users"] = (session.scalar(select(func.count(User.id))) or 0) - users_before
    archetypes, shapes = walk_archetypes(session, runtime, version, team_ids[0], rule, seed)
    first = (session.scalar(select(func.max(Case.id))) or 0) + 1
    task_id = session.scalar(select(func.max(HumanTask.id))) or 0
    for start in range(first, first + cases, batch):
        ids = range(start, min(start + batch, first + cases))
        rows = build_rows(session, version.id, team_ids, ids, task_id, seed)
        give_states(rows, archetypes, shapes)
        task_id = rows.task_id
        insert_rows(session, rows)
        session.commit()
        for model in ORDER:
            counts[model.__tablename__] += len(rows.by_table[model])
        if progress:
            done = ids.stop - first
            progress(f"{done:,} of {cases:,} cases in {time.perf_counter() - started:.0f} s")
    _advance_sequences(session)
    return dict(counts)


def walk_archetypes(
    session: Session, runtime: Runtime, version: ProcessVersion, team_id: int, rule: str, seed: int
) -> tuple[dict[str, Archetype], dict[str, dict[str, Any]]]:
    """Drive one real case to each archetype; also each element's task shape, from their rows."""
    now = clock.now()
    fake = clock.FrozenClock(now)
    found: dict[str, Archetype] = {}
    with clock.using(fake):
        for n, (key, plan) in enumerate(ARCHETYPES.items()):
            story = _Story.planned(n, plan, seed, now, runtime)
            story.run(session, runtime, version, fake, rule)
            case_id = story.engine.case.id
            session.execute(update(Case).where(Case.id == case_id).values(team_id=team_id))
            session.commit()
            case = session.get_one(Case, case_id, populate_existing=True)
            found[key] = Archetype(case.id, case.state, case.stage, case.next_wake_at, [])
    ids = [a.case_id for a in found.values()]
    rows = session.scalars(select(HumanTask).where(HumanTask.case_id.in_(ids))).all()
    shapes = {row.element_id: {k: getattr(row, k) for k in _SHAPE} for row in rows}
    for archetype in found.values():
        archetype.ready = [
            {c.key: getattr(row, c.key) for c in HumanTask.__table__.columns}
            for row in rows
            if row.case_id == archetype.case_id and row.state == "ready"
        ]
    for key in ARCHETYPES:
        if key.startswith("(") and found[key].ready:
            raise KinflowError(f"The archetype {key} should have no open task.")
        if not key.startswith("(") and key not in {t["element_id"] for t in found[key].ready}:
            raise KinflowError(f"The archetype for {key} did not stop at that task.")
    return found, shapes


def give_states(
    rows: Rows, archetypes: dict[str, Archetype], shapes: dict[str, dict[str, Any]]
) -> None:
    """Give each seeded case its archetype's state; open tasks become the copy's ready tasks."""
    by_case: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for task in rows.by_table[HumanTask]:
        by_case[task["case_id"]].append(task)
    closed = {r["case_id"] for r in rows.by_table[record.Closure]}
    coordinator = {r["case_id"]: r["coordinator"] for r in rows.by_table[record.Referral]}
    tasks: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for case in rows.by_table[Case]:
        own = by_case[case["id"]]
        ready = [t for t in own if t["state"] == "ready"]
        elements = {t["element_id"] for t in ready}
        if "provide_more_information" in elements:  # screening waits for the answer
            key = "provide_more_information"
        elif ready:
            key = ready[-1]["element_id"]
        elif case["status"] == "completed":
            key = FINISHED
        else:
            key = WAITING_FOR_CHECK if case["id"] in closed else WAITING_FOR_REVIEW
        archetype = archetypes[key]
        case |= {
            "state": archetype.state,
            "stage": archetype.stage,
            "next_wake_at": archetype.next_wake_at,
        }
        done = [t | shapes.get(t["element_id"], {}) for t in own if t["state"] != "ready"]
        seeded = next((t for t in ready if t["element_id"] == key), None)
        for n, copy in enumerate(archetype.ready):
            row = dict(copy, case_id=case["id"], completed_at=None, completed_by=None)
            if seeded is not None:
                row |= {"created_at": seeded["created_at"], "due_at": seeded["due_at"]}
            if n == 0 and seeded is not None:
                row["id"] = seeded["id"]
            else:
                rows.task_id += 1
                row["id"] = rows.task_id
            row["assignee"] = coordinator.get(case["id"]) if row["role"] == "coordinator" else None
            done.append(row)
        tasks += done
        events.append(_event(case["id"], case["created_at"], case["created_by"], "case_started"))
        for task in done:
            if task["state"] == "completed":
                who = task["completed_by"] or "bench"
                events.append(_event(case["id"], task["completed_at"], who, "task_completed"))
    rows.by_table[HumanTask] = tasks
    rows.by_table[TaskCandidate] = [
        {"task_id": t["id"], "role": role} for t in tasks for role in t["candidate_groups"]
    ]
    rows.by_table[CaseEvent] = events


def _event(case_id: int, at: datetime, actor: str, kind: str) -> dict[str, Any]:
    summary = "Case started (seeded)." if kind == "case_started" else "Task completed (seeded)."
    return {"case_id": case_id, "at": at, "actor": actor, "kind": kind, "summary": summary}


def _advance_sequences(session: Session) -> None:
    """PostgreSQL's id sequences do not see explicit ids: move them past the seeded rows."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in ("cases", "human_tasks"):
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        )
    session.commit()
