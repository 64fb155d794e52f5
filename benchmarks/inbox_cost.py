"""The task inbox with 10,000 open cases: server time of the query and of the whole page.

The database is filled in bulk with SQLAlchemy Core, the way the projections look after years
of use: five teams (one twice the size of the others), a manager, twenty coordinators, five
lead practitioners and ten referrers in each, every case at some stage of the FGC pathway with
its open task (most held by the case's coordinator, manager tasks waiting to be claimed), the
tasks already done behind it, and due dates from ten days late to six weeks ahead. Running
10,000 workflows would measure the engine, not the inbox, which never reads ``cases.state``.

Measured, as medians and 95th percentiles over ``RUNS`` requests each, with a fresh session
per request: ``find_tasks`` + ``count_tasks`` for a coordinator's own tasks and for a
manager's whole team (the largest), and the full ``/tasks`` page for each through the Flask
test client. Target: under 50 ms.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.setup import database, deploy
from benchmarks.timing import median_ms, percentile_ms, timed
from engine.accounts import User
from engine.inbox import TaskFilter, count_tasks, find_tasks
from engine.models import Case, HumanTask, TaskCandidate
from engine.record.models import Referral
from engine.runtime import Runtime
from engine.seed_people import FAMILIES, PASSWORD, TEAM_WEIGHTS, TEAMS
from engine.seed_people import teams_and_users as _teams_and_users

CASES = 10_000
RUNS = 50
COORDINATOR = "coord.t0.3"
MANAGER = "manager.t0"

# stage, weight, open task (element id, title, role, who holds it)
STAGES: tuple[tuple[str | None, int, tuple[str, str, str, str | None]], ...] = (
    (
        "Referral and eligibility",
        5,
        ("acknowledge_referral", "Acknowledge the referral", "fgc_manager", None),
    ),
    (
        "Screening and allocation",
        3,
        ("screen_referral", "Screen the referral", "fgc_manager", None),
    ),
    (
        "Screening and allocation",
        2,
        ("allocate_coordinator", "Allocate a coordinator", "fgc_manager", None),
    ),
    (
        "Baseline meeting and whole-family assessment",
        8,
        ("hold_baseline_meeting", "Hold the baseline meeting", "coordinator", "coordinator"),
    ),
    (
        "Baseline meeting and whole-family assessment",
        7,
        ("whole_family_assessment", "Whole-family assessment", "lead_practitioner", "lead"),
    ),
    (
        "Network preparation",
        15,
        ("prepare_network", "Prepare the family network", "coordinator", "coordinator"),
    ),
    (
        "Network preparation",
        10,
        ("arrange_conference", "Arrange the conference", "coordinator", "coordinator"),
    ),
    (
        "The conference and the family plan",
        10,
        ("record_conference", "Record the conference and the plan", "coordinator", "coordinator"),
    ),
    (
        "Plan acceptance",
        3,
        ("review_family_plan", "Accept or reject the family plan", "referrer", "referrer"),
    ),
    ("Plan acceptance", 2, ("circulate_plan", "Circulate the plan", "coordinator", "coordinator")),
    (
        "Family network support package",
        3,
        ("approve_support", "Approve the support package", "fgc_manager", None),
    ),
    ("Review", 20, ("hold_review", "Hold the review", "coordinator", "coordinator")),
    ("Closure", 4, ("close_case", "Close the case", "coordinator", "coordinator")),
    (
        "Six-month outcome check",
        3,
        ("record_six_month_check", "Record the six-month outcome check", "data_officer", None),
    ),
    (None, 5, ("", "", "", None)),  # waiting on a timer (review date): no open task
)


def build(sessions: sessionmaker[Session], version_id: int, seed: int = 4) -> dict[str, int]:
    """Fill the database; returns how many rows of each kind were written."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    with sessions() as session:
        teams = _teams_and_users(session)
        cases, referrals, tasks, candidates = [], [], [], []
        weights = [w for _, w, _ in STAGES]
        task_id = 0
        for case_id in range(1, CASES + 1):
            team = rng.choices(range(len(TEAMS)), TEAM_WEIGHTS)[0]
            stage, _, (element, title, role, held_by) = rng.choices(STAGES, weights)[0]
            people = {
                "coordinator": f"coord.t{team}.{rng.randrange(20)}",
                "lead": f"lead.t{team}.{rng.randrange(5)}",
                "referrer": f"referrer.t{team}.{rng.randrange(10)}",
            }
            opened = now - timedelta(days=rng.uniform(5, 400))
            cases.append(_case(case_id, version_id, teams[team], stage, people, opened))
            referrals.append(_referral(case_id, rng, people, opened))
            for _ in range(4):  # the tasks already completed on the way here
                task_id += 1
                tasks.append(_task(task_id, case_id, "done", "Earlier task", "coordinator"))
                tasks[-1] |= {
                    "state": "completed",
                    "completed_at": opened,
                    "completed_by": people["coordinator"],
                }
                candidates.append({"task_id": task_id, "role": "coordinator"})
            if stage is None:
                continue
            task_id += 1
            row = _task(task_id, case_id, element, title, role)
            row["assignee"] = people[held_by] if held_by else None
            if rng.random() > 0.1:
                row["due_at"] = now + timedelta(days=rng.uniform(-10, 45))
            if rng.random() < 0.2:
                row["follow_up_at"] = now + timedelta(days=rng.uniform(0, 14))
            tasks.append(row)
            candidates.append({"task_id": task_id, "role": role})
        for table, rows in (
            (Case, cases),
            (Referral, referrals),
            (HumanTask, tasks),
            (TaskCandidate, candidates),
        ):
            session.execute(insert(table.__table__), rows)
        session.commit()
    ready = sum(1 for t in tasks if t["state"] == "ready")
    return {"cases": len(cases), "ready_tasks": ready, "task_rows": len(tasks)}


def _case(
    case_id: int, version_id: int, team_id: int, stage: str | None, people: dict, opened: datetime
) -> dict:
    return {
        "id": case_id,
        "version_id": version_id,
        "title": f"Case {case_id}",
        "status": "active",
        "stage": stage,
        "state": "",
        "revision": 1,
        "created_at": opened,
        "updated_at": opened,
        "created_by": people["referrer"],
        "team_id": team_id,
    }


def _referral(case_id: int, rng: random.Random, people: dict, opened: datetime) -> dict:
    return {
        "case_id": case_id,
        "family_name": f"{rng.choice(FAMILIES)} {case_id}",
        "referrer_name": "A Referrer",
        "referred_by": people["referrer"],
        "received_at": opened,
        "referral_type": rng.choice(("standard", "standard", "pre_proceedings", "urgent")),
        "urgency": rng.choice(("routine", "routine", "routine", "urgent")),
        "why_now": "Benchmark data.",
        "problems": ["health", "school_attendance"],
        "headline_outcomes": [],
        "consent_given": True,
        "coordinator": people["coordinator"],
    }


def _task(task_id: int, case_id: int, element: str, title: str, role: str) -> dict[str, Any]:
    return {
        "id": task_id,
        "case_id": case_id,
        "spiff_task_id": str(uuid.UUID(int=task_id)),
        "process_id": "fgc_pathway",
        "element_id": element,
        "title": title,
        "role": role,
        "candidate_groups": [role],
        "assignee": None,
        "state": "ready",
        "form_key": element or None,
        "due_at": None,
        "follow_up_at": None,
        "completed_at": None,
        "completed_by": None,
    }


def _samples(action: Callable[[], object], runs: int = RUNS) -> dict[str, float]:
    action()  # warm caches (statement cache, templates) once, as a running server has them
    samples = [timed(action) for _ in range(runs)]
    return {"median_ms": median_ms(samples), "p95_ms": percentile_ms(samples, 95)}


def query_cost(sessions: sessionmaker[Session], username: str, scope: str) -> dict[str, float]:
    """``find_tasks`` + ``count_tasks`` for one user's view, in a fresh session each time."""

    def inbox() -> None:
        with sessions() as session:
            user = session.scalars(select(User).where(User.username == username)).one()
            rows = find_tasks(session, user, TaskFilter(scope))
            counts = count_tasks(session, user, TaskFilter(scope))
            assert rows and counts.total >= len(rows)

    return _samples(inbox)


def page_cost(engine: Engine, username: str, path: str) -> dict[str, float]:
    """The whole ``/tasks`` page through the Flask test client, signed in as ``username``."""
    from webapp import create_app
    from webapp.extensions import db

    url, options = _url_of(engine)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": options,
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "KINFLOW_DEPLOY_ON_START": False,
        }
    )
    client = app.test_client()
    client.post("/login", data={"username": username, "password": PASSWORD})

    def get() -> None:
        response = client.get(path)
        assert response.status_code == 200 and b"<tbody>" in response.data

    try:
        return _samples(get)
    finally:
        with app.app_context():
            db.engine.dispose()


def _url_of(engine: Engine) -> tuple[str, dict]:
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        return url, {}
    with engine.connect() as conn:
        schema = conn.execute(text("SHOW search_path")).scalar()
    return url, {"connect_args": {"options": f"-csearch_path={schema}"}}


def measure(kind: str) -> dict[str, Any]:
    runtime = Runtime()
    with database(kind) as sessions:
        version = deploy(sessions, runtime, "ten_tasks")
        sizes = build(sessions, version.id)
        engine = sessions.kw["bind"]
        if kind == "postgresql":
            with engine.begin() as conn:  # what autovacuum does shortly after a bulk load
                conn.execute(text("ANALYZE"))
        return sizes | {
            "coordinator_mine_query": query_cost(sessions, COORDINATOR, "mine"),
            "manager_team_query": query_cost(sessions, MANAGER, "team"),
            "coordinator_mine_page": page_cost(engine, COORDINATOR, "/tasks"),
            "manager_team_page": page_cost(engine, MANAGER, "/tasks?scope=team"),
        }


def run(postgres: bool) -> dict[str, Any]:
    kinds = ["sqlite", "postgresql"] if postgres else ["sqlite"]
    return {kind: measure(kind) for kind in kinds}


def summary_lines(results: dict[str, Any]) -> list[str]:
    """The README table rows for these figures (benchmarks/__main__.py writes the table)."""
    lines = []
    views = (
        ("coordinator_mine", "a coordinator's own tasks"),
        ("manager_team", "a manager's team"),
    )
    for kind, figures in results.items():
        for key, label in views:
            query, page = figures[f"{key}_query"], figures[f"{key}_page"]
            lines.append(
                f"| task inbox, {figures['cases']:,} open cases, {kind}: {label} "
                f"(`find_tasks` + `count_tasks` / whole `/tasks` page; median, p95) "
                f"| {query['median_ms']} / **{page['median_ms']} ms** "
                f"(p95 {query['p95_ms']} / {page['p95_ms']} ms) | page under 50 ms |"
            )
    return lines


if __name__ == "__main__":
    import json

    from benchmarks.setup import POSTGRES_URL

    print(json.dumps(run(bool(POSTGRES_URL)), indent=2))
