"""A service's record after two years, bulk-inserted: for ``kinflow bench-seed`` and benchmarks.

``seed_record`` fills a migrated database (with the shipped pathway deployed) with fictional
families referred over the last ``DAYS`` days, in the five teams of ``inbox_cost``, each walked
along the pathway as far as its dates reach today: referral and screening (some declined, some
sent back for more information), allocation, the conference and its plan (some rejected and
revised), support packages, reviews (on time or late), closure with outcomes per problem, the
six-month check, twelve-month follow-ups of the children, and safeguarding concerns (some
stepped up, which ends the pathway). Each stay in a stage is a ``stage_visits`` row and a task
(completed, or open with its due moment); the cases still running wait in a stage or for a
date. Rows go in with SQLAlchemy Core ``insert`` and lists of dicts: running 10,000 workflows
would measure the engine, not the reports, which never read ``cases.state``
(``engine.bench_seed`` gives the cases real workflow states afterwards).
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from engine.models import Case, CaseEvent, HumanTask, StageVisit, TaskCandidate
from engine.pathway_stages import pathway_stages
from engine.record import models as record
from engine.seed_people import TEAM_WEIGHTS, TEAMS, teams_and_users
from engine.seed_walk import add_family

# The open task of each stage (by its index in the pathway): element, role, days to do it.
TASKS = (
    ("acknowledge_referral", "fgc_manager", 2),
    ("screen_referral", "fgc_manager", 2),
    ("hold_baseline_meeting", "coordinator", 5),
    ("prepare_network", "coordinator", 42),
    ("record_conference", "coordinator", 2),
    ("review_family_plan", "referrer", 2),
    ("approve_support", "fgc_manager", 5),
    ("hold_review", "coordinator", 5),
    ("close_case", "coordinator", 10),
    ("record_six_month_check", "data_officer", 10),
)
# The other tasks done in a stage before the case leaves it (the pathway's smaller steps).
COMPANIONS: dict[int, tuple[tuple[str, str], ...]] = {
    0: (("submit_referral", "referrer"),),
    1: (("allocate_coordinator", "fgc_manager"),),
    2: (("whole_family_assessment", "lead_practitioner"),),
    3: (("arrange_conference", "coordinator"),),
    5: (("circulate_plan", "coordinator"), ("request_support", "coordinator")),
    6: (("record_support_payment", "coordinator"),),
}
FORM_KEYS = {
    "acknowledge_referral": "acknowledgement",
    "screen_referral": "screening",
    "provide_more_information": "more_information",
    "hold_baseline_meeting": "baseline_meeting",
    "prepare_network": "network_preparation",
    "record_conference": "conference_record",
    "review_family_plan": "plan_acceptance",
    "approve_support": "support_approval",
    "hold_review": "review",
    "close_case": "closure",
    "record_six_month_check": "six_month_check",
}
# Tables in the order their rows can go in (foreign keys first).
ORDER = (
    Case,
    CaseEvent,
    record.Referral,
    record.Person,
    record.ConferenceArrangement,
    record.FamilyPlan,
    record.SupportPackage,
    record.Review,
    record.Closure,
    record.Outcome,
    record.ChildFollowUp,
    record.SafeguardingConcern,
    StageVisit,
    HumanTask,
    TaskCandidate,
)


class Rows:
    """The rows being built, by table, and the moment the case being walked stops."""

    def __init__(self, stages: list[tuple[str, str]], now: datetime, task_id: int = 0) -> None:
        self.stages, self.now = stages, now
        self.by_table: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        self.task_id = task_id  # the last id used: rows carry their ids, tasks their own

    def add(self, model: Any, **row: Any) -> dict[str, Any]:
        self.by_table[model].append(row)
        return row

    def stay(self, case: dict, stage: int, entered: datetime, left: datetime) -> bool:
        """A stay in a stage and its task; True when the case moved on before it stopped."""
        stop = case["_stop"]
        if entered > stop:
            return False
        done = left <= stop
        # A stay cut short by a step-up ends with the case; one still running has no end.
        ended = left if done else (stop if stop < self.now else None)
        name, process = self.stages[stage]
        self.add(
            StageVisit,
            case_id=case["id"],
            stage=name,
            process_id=process,
            entered_at=entered,
            left_at=ended,
        )
        element, role, days = TASKS[stage]
        state = "completed" if done else ("cancelled" if stop < self.now else "ready")
        self.task(
            case["id"],
            element,
            role,
            entered,
            entered + timedelta(days=days),
            state,
            left if done else None,
        )
        if not done and state == "ready":
            case["stage"] = name
        for n, (companion, who) in enumerate(COMPANIONS.get(stage, ()) if done else ()):
            at = entered + (left - entered) * (n + 1) / (len(COMPANIONS[stage]) + 1)
            self.task(case["id"], companion, who, entered, None, "completed", at)
        return done

    def task(self, case_id, element, role, created, due, state, completed=None) -> None:
        self.task_id += 1
        self.add(
            HumanTask,
            id=self.task_id,
            case_id=case_id,
            spiff_task_id=str(uuid.UUID(int=self.task_id)),
            process_id="fgc_pathway",
            element_id=element,
            title=element.replace("_", " ").capitalize(),
            role=role,
            candidate_groups=[role],
            assignee=None,
            state=state,
            form_key=FORM_KEYS.get(element),
            due_at=due,
            follow_up_at=None,
            created_at=created,
            completed_at=completed,
            completed_by="bench" if completed else None,
        )
        self.add(TaskCandidate, task_id=self.task_id, role=role)


def seed_record(
    sessions: sessionmaker[Session], version_id: int, cases: int = 10_000, seed: int = 7
) -> dict[str, int]:
    """Fill the database; returns how many rows of each table were written."""
    with sessions() as session:
        team_ids = teams_and_users(session)
        rows = build_rows(session, version_id, team_ids, range(1, cases + 1), 0, seed)
        insert_rows(session, rows)
        session.commit()
    return {model.__tablename__: len(rows.by_table[model]) for model in ORDER}


def build_rows(
    session: Session,
    version_id: int,
    team_ids: list[int],
    case_ids: range,
    task_id: int,
    seed: int,
) -> Rows:
    """The rows of the families ``case_ids`` (their tasks numbered after ``task_id``)."""
    rng = random.Random(f"{seed}:{case_ids.start}")
    stages = [(s.name, s.process_id) for s in pathway_stages(session)][: len(TASKS)]
    rows = Rows(stages, datetime.now(UTC), task_id)
    for case_id in case_ids:
        team = rng.choices(range(len(TEAMS)), TEAM_WEIGHTS)[0]
        add_family(rows, rng, case_id, version_id, team, team_ids[team])
    return rows


def insert_rows(session: Session, rows: Rows) -> None:
    """Every table's rows, foreign keys first, 5,000 to a statement."""
    for model in ORDER:
        chunk = _same_keys(rows.by_table[model])
        for start in range(0, len(chunk), 5_000):
            session.execute(insert(model.__table__), chunk[start : start + 5_000])


def _same_keys(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every row with every key: Core's executemany takes its columns from the first row."""
    keys = {key for row in chunk for key in row}
    return [dict.fromkeys(keys) | row for row in chunk]
