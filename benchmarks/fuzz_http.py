"""HTTP fuzzing at a size the test suite cannot afford: the properties of
tests/test_fuzz_http.py with up to ``EXAMPLES`` examples per form and per endpoint.

The suite runs each property with 40 examples spread over every form. Here every target gets
its own run: each shipped form posted through the task page as a browser would, each form
answered through the API, and each API endpoint that reads a JSON body. The strategies and the
checks are tests/fuzz_support.py's, imported, so the suite and this run can never drift apart:
never a 5xx, a refusal names the field or the problem, and a refused post leaves the task open
and the case's record and chronology as they were stored.

The whole run is bounded by about ``SECONDS`` per database: each target gets an equal share of
what is left, so time a fast target does not use goes to the slower ones after it (the page
posts, which render the form again, come last). A target stopped by its share says so; every
target runs at least ``FIRST`` examples, whatever the time. Hypothesis runs in batches (at most
``BATCH``, sized by the target's pace) with fixed seeds, so a run repeats exactly and the time
bound is checked between batches without cutting hypothesis short (it would count that as a
failure).

Run alone with ``python -m benchmarks.fuzz_http`` (``--help``); ``--write`` also stores the
figures in ``benchmarks/results.json``. PostgreSQL too when ``BENCH_POSTGRES_URL`` or
``TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from benchmarks.dashboard_cost import deploy_pathway
from benchmarks.inbox_cost import _url_of
from benchmarks.setup import database
from engine.accounts import find_user
from engine.runtime import Runtime
from engine.tokens import create_token
from tests.fuzz_support import (
    CONTENT_TYPES,
    ENDPOINTS,
    FORM_KEYS,
    RAW_BODIES,
    api_submissions,
    deploy_all_forms,
    page_posts,
    post_api,
    post_endpoint,
    post_page,
)
from tests.web import add_workers, csrf_token, login, team_id

EXAMPLES = 1_000
SECONDS = 150.0
BATCH = 100
FIRST = 10
SEED = 20261124
MANAGER = "morgan.manager"  # of tests/web.py's workers: every all-forms task is a manager's


def measure(kind: str, examples: int = EXAMPLES, seconds: float = SECONDS) -> dict[str, Any]:
    """Fuzz every target on a fresh database of ``kind``; per target, examples and failures."""
    from webapp import create_app
    from webapp.extensions import db, runtime

    started = time.perf_counter()
    with database(kind) as sessions, tempfile.TemporaryDirectory() as folder:
        deploy_pathway(sessions, Runtime())
        url, options = _url_of(sessions.kw["bind"])
        # The suite's app configuration (tests/conftest.py): what is fuzzed is what is tested.
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SQLALCHEMY_ENGINE_OPTIONS": options,
                "SECRET_KEY": "bench",
                "KINFLOW_DEPLOY_ON_START": False,
                "TESTING": True,
            }
        )
        try:
            with app.app_context():
                session = db.session()
                add_workers(session)
                deploy_all_forms(session, runtime(), Path(folder))
                names = {user for user, _ in ENDPOINTS} | {MANAGER}
                tokens = {n: create_token(session, find_user(session, n), "fuzz")[1] for n in names}
            targets = _targets(app, team_id(app), tokens)
            figures = _run_targets(targets, examples, seconds)
        finally:
            with app.app_context():
                db.engine.dispose()
    return {
        "examples_per_target": examples,
        "budget_seconds": seconds,
        "seconds": round(time.perf_counter() - started, 1),
        "examples": sum(t["examples"] for t in figures.values()),
        "failures": sum(t["failures"] for t in figures.values()),
        "targets": figures,
    }


Check = Callable[[Any], int]
Target = tuple[st.SearchStrategy[Any], Check]


def _targets(app: Flask, team: int, tokens: dict[str, str]) -> dict[str, Target]:
    """name -> (strategy of one example, check returning the status); slowest last."""
    client = app.test_client()
    login(client, MANAGER)
    csrf = csrf_token(client, "/tasks")
    targets: dict[str, Target] = {}
    for endpoint in ENDPOINTS:
        user, path = endpoint
        targets[f"POST {path} as {user}"] = (
            st.tuples(st.just(endpoint), RAW_BODIES, CONTENT_TYPES),
            lambda e: post_endpoint(app, client, tokens, team, *e),
        )
    for key in FORM_KEYS:
        targets[f"API completion of {key}"] = (
            api_submissions(key),
            lambda e: post_api(app, client, tokens[MANAGER], team, *e),
        )
    for key in FORM_KEYS:
        targets[f"task page post of {key}"] = (
            page_posts(key),
            lambda e: post_page(app, client, csrf, team, *e),
        )
    return targets


def _run_targets(
    targets: dict[str, Target], examples: int, seconds: float
) -> dict[str, dict[str, Any]]:
    deadline = time.perf_counter() + seconds
    figures = {}
    for n, (name, (strategy, check)) in enumerate(targets.items()):
        share = max(0.0, deadline - time.perf_counter()) / (len(targets) - n)
        figures[name] = fuzz(strategy, check, examples, share)
        f = figures[name]
        print(
            f"{name}: {f['examples']} examples, {f['failures']} failures, {f['seconds']} s"
            + (" (stopped by its time share)" if f["stopped_by_time"] else ""),
            flush=True,
        )
    return figures


def fuzz(
    strategy: st.SearchStrategy[Any], check: Check, examples: int, seconds: float
) -> dict[str, Any]:
    """Up to ``examples`` examples of ``strategy`` through ``check``, batch by batch while
    ``seconds`` last; the first failure hypothesis finds (shrunk) ends the target."""
    started = time.perf_counter()
    statuses: Counter[int] = Counter()
    tally: Counter[str] = Counter()  # outside the loop: each batch's function adds to it
    failing: list[str] = []
    failure: str | None = None
    ran = 0
    batch = 0
    while ran < examples and failure is None:
        spent = time.perf_counter() - started
        if ran and spent >= seconds:
            break
        # The first batch always runs, so every target is tried even when the time is spent;
        # then batches are sized by the pace so far, as one that ran over would eat the next
        # targets' shares.
        size = min(examples - ran, FIRST if not ran else BATCH)
        if ran:
            size = min(size, max(1, int((seconds - spent) / (spent / ran))))

        @settings(
            max_examples=size,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @seed(SEED + batch)
        @given(example=strategy)
        def one(example: Any) -> None:
            tally["ran"] += 1  # failing and shrinking examples too
            try:
                statuses[check(example)] += 1
            except Exception:
                # Hypothesis replays the shrunk example last, so this ends as the smallest.
                failing[:] = [repr(example)]
                raise

        try:
            one()
        except Exception as exc:  # noqa: BLE001 - any error is the finding to report
            example = failing[0] if failing else "(not recorded)"
            failure = f"{type(exc).__name__}: {str(exc)[:500]}\nexample: {example[:2000]}"
        ran = tally["ran"]
        batch += 1
    return {
        "examples": ran,
        "failures": int(failure is not None),
        "failure": failure,
        "seconds": round(time.perf_counter() - started, 1),
        "stopped_by_time": failure is None and ran < examples,
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
    }


def run(postgres: bool, examples: int = EXAMPLES, seconds: float = SECONDS) -> dict[str, Any]:
    kinds = ["sqlite", "postgresql"] if postgres else ["sqlite"]
    return {kind: measure(kind, examples, seconds) for kind in kinds}


def summary_lines(results: dict[str, Any]) -> list[str]:
    """The README table rows for these figures (benchmarks/__main__.py writes the table)."""
    lines = []
    for kind, figures in results.items():
        targets = figures["targets"]
        fewest = min(targets, key=lambda name: targets[name]["examples"])
        lines.append(
            f"| HTTP fuzzing on {kind}: {figures['examples']:,} examples over {len(targets)} "
            f"targets (each form by page and by API, each JSON endpoint; up to "
            f"{figures['examples_per_target']:,} each, fewest {targets[fewest]['examples']:,} "
            f"for {fewest}) in {figures['seconds']} s "
            f"| **{figures['failures']} failures** | none |"
        )
    return lines


def table(results: dict[str, Any]) -> str:
    lines = []
    for kind, figures in results.items():
        lines.append(f"{kind}: {figures['examples']:,} examples, {figures['failures']} failures, ")
        lines[-1] += f"{figures['seconds']} s (budget {figures['budget_seconds']} s)"
        lines.append(f"  {'target':<62}{'examples':>9}{'failures':>9}{'s':>7}  statuses")
        for name, t in figures["targets"].items():
            codes = " ".join(f"{c}:{n}" for c, n in t["statuses"].items())
            cut = "*" if t["stopped_by_time"] else " "
            lines.append(
                f"  {name:<62}{t['examples']:>9}{cut}{t['failures']:>8}{t['seconds']:>7}  {codes}"
            )
            if t["failure"]:
                lines.append("    " + t["failure"].replace("\n", "\n    "))
    return "\n".join(lines + ["(* = stopped by its share of the time budget)"])


if __name__ == "__main__":
    import argparse

    from benchmarks.malformed_bpmn import write
    from benchmarks.setup import POSTGRES_URL

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=EXAMPLES, help="per target, at most")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="per database, about")
    parser.add_argument("--database", choices=("sqlite", "postgresql"))
    parser.add_argument("--write", action="store_true", help="update benchmarks/results.json")
    args = parser.parse_args()
    if args.database:
        figures = {args.database: measure(args.database, args.examples, args.seconds)}
    else:
        figures = run(bool(POSTGRES_URL), args.examples, args.seconds)
    print(table(figures))
    if args.write:
        write("fuzz_http", figures)
