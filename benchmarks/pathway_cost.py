"""The per-step cost on the real FGC pathway after 1 and 10 reviews.

Drives the same story as the walkthrough tests (their form data and helpers) through the
shipped diagrams, then goes round the review loop. The cache is off so each step deserializes
the case: if history grew with each review, this is where it would show.
"""

from __future__ import annotations

import statistics
from datetime import date, timedelta
from functools import partial

from benchmarks.setup import database
from benchmarks.timing import timed
from engine import clock
from engine.deploy import deploy_paths
from engine.queries import get_case
from engine.runtime import Runtime
from tests.people import COORDINATOR, REFERRER
from tests.test_pathway_walkthrough import (
    CIRCULATED,
    FORMS,
    NO_SUPPORT,
    PLAN_ACCEPTED,
    PROGRESS,
    WORKFLOWS,
    at,
    open_tasks,
    start,
    through_conference,
)

REVIEWS = 10
CASES = 5


def _review_steps(kind: str) -> tuple[dict[int, float], dict[int, int]]:
    runtime = Runtime(cache_size=0)
    samples: dict[int, list[float]] = {n: [] for n in range(1, REVIEWS + 1)}
    sizes: dict[int, int] = {}
    fake = clock.FrozenClock(at("2026-03-02"))
    with clock.using(fake), database(kind) as sessions:
        with sessions() as session:
            deployed = deploy_paths(session, [WORKFLOWS], "bench", runtime.codec, FORMS)
            pathway = next(d.version for d in deployed if d.version.process_id == "fgc_pathway")
        for _ in range(CASES):
            fake.set(at("2026-03-02"))
            with sessions() as session:
                case = start(runtime, session, pathway)
                through_conference(runtime, session, case)
                for element, data, who in (
                    ("review_family_plan", PLAN_ACCEPTED, REFERRER),
                    ("circulate_plan", CIRCULATED, COORDINATOR),
                    ("request_support", NO_SUPPORT, COORDINATOR),
                ):
                    task = open_tasks(session, case)[element]
                    runtime.complete_task(session, task.id, data, who)
                due = date(2026, 7, 13)
                for n in range(1, REVIEWS + 1):
                    fake.set(at(due.isoformat(), 10))
                    runtime.wake_case(session, case.id)
                    task = open_tasks(session, case)["hold_review"]
                    due += timedelta(weeks=12)
                    data = {
                        "held_on": fake.now().date().isoformat(),
                        "progress": PROGRESS,
                        "another_review": True,
                        "next_review_date": due.isoformat(),
                    }
                    complete = partial(runtime.complete_task, session, task.id, data, COORDINATOR)
                    samples[n].append(timed(complete))
                    sizes[n] = len(get_case(session, case.id).state)
    medians = {n: round(statistics.median(s) * 1000, 3) for n, s in samples.items()}
    return medians, sizes


def run(postgres: bool) -> dict:
    steps, sizes = _review_steps("sqlite")
    return {
        "first_review_ms": steps[1],
        "tenth_review_ms": steps[REVIEWS],
        "ratio_10_to_1": round(steps[REVIEWS] / steps[1], 2),
        "first_review_state_bytes": sizes[1],
        "tenth_review_state_bytes": sizes[REVIEWS],
    }
