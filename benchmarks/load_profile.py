"""Where a load request's CPU goes: the load's list, claim and complete, in one process, profiled.

The load (``benchmarks.load``) measures throughput through gunicorn; this runs the same three
requests a simulated manager makes, through the Flask test client against the same kind of
PostgreSQL schema, one at a time, and reports the mean wall time of each kind and a cProfile of
each (cumulative, top functions). One process and one request at a time, so the figures are
the server's own cost per request without queueing.

With ``--cold`` every completion starts from the serialized state, as a request that lands on
a gunicorn worker which did not serve the case's previous step does (the usual case with
several workers); without it the live workflow comes from the runtime's cache.

Run: ``python -m benchmarks.load_profile --requests 300 [--cold] [--top 30]``. Needs
``BENCH_POSTGRES_URL`` or ``TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import statistics
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks import load, load_data, load_server
from benchmarks.load_client import PAGE
from benchmarks.load_data import ANSWERS
from benchmarks.setup import POSTGRES_URL, database
from engine.runtime import Runtime

KINDS = ("list", "claim", "complete", "floor")


def _where() -> str:
    """The project's innermost frames that led to a statement."""
    import traceback

    ours = [
        f"{Path(f.filename).stem}:{f.lineno}"
        for f in traceback.extract_stack()
        if "site-packages" not in f.filename and "load_profile" not in f.filename
    ]
    return " < ".join(reversed(ours[-3:])) + " | "


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """Mean wall and CPU milliseconds of this process per request kind; prints each kind's
    profile (cProfile roughly doubles the times: compare ``--no-profile`` runs)."""
    runtime = Runtime()
    with database("postgresql") as sessions:
        data = load_data.prepare(sessions, runtime, args.managers)
        load.add_cases(sessions, runtime, data.pathway, args.requests // 3 + 50)
        load.analyze(sessions)
        url = load_data.schema_url(POSTGRES_URL, sessions.kw["bind"])
        os.environ.update(load_server.environment(url))
        from webapp import create_app

        app = create_app()
        client = app.test_client()
        statements: list[str] = []
        if args.sql:
            from sqlalchemy import event

            with app.app_context():
                from webapp.extensions import db

                event.listen(
                    db.engine,
                    "before_cursor_execute",
                    lambda _c, _cur, sql, *_a: statements.append(
                        _where() + " ".join(sql.split())[:90]
                    ),
                )
        tokens = list(data.tokens.values())
        chooser = random.Random(1)
        profilers = {k: cProfile.Profile() for k in KINDS}
        spent: dict[str, list[float]] = {k: [] for k in KINDS}
        cpu_spent: dict[str, list[float]] = {k: [] for k in KINDS}

        def call(
            kind: str, method: str, path: str, headers: dict[str, str], body: Any, status: int = 200
        ) -> Any:
            start, cpu = time.perf_counter(), time.process_time()
            if args.profile:
                profilers[kind].enable()
            response = client.open(path, method=method, headers=headers, json=body)
            if args.profile:
                profilers[kind].disable()
            spent[kind].append(time.perf_counter() - start)
            cpu_spent[kind].append(time.process_time() - cpu)
            if args.sql and len(spent[kind]) == 5:
                print(f"--- {kind}: {len(statements)} statements")
                print("\n".join(statements))
            statements.clear()
            if response.status_code != status:
                raise RuntimeError(f"{kind}: {response.status_code} {response.get_data()[:300]}")
            return response.get_json()

        completions = 0
        while completions < args.requests // 3:
            headers = {"Authorization": f"Bearer {chooser.choice(tokens)}"}
            listed = call(
                "list", "GET", f"/api/v1/tasks?scope=available&limit={PAGE}", headers, None
            )
            open_ = [t for t in listed["tasks"] if t["element_id"] in ANSWERS]
            if not open_:
                break
            task = chooser.choice(open_)
            call("claim", "POST", f"/api/v1/tasks/{task['id']}/claim", headers, None)
            if args.cold:
                app.extensions["kinflow_runtime"].store.workflows.clear()
            answer = ANSWERS[task["element_id"]]
            call("complete", "POST", f"/api/v1/tasks/{task['id']}/complete", headers, answer)
            completions += 1
        with sessions() as session:
            size = session.scalar(text("SELECT avg(octet_length(state))::int FROM cases"))
        print({"mean_state_bytes": size})
        # The floor every request pays: token check, one query, a JSON answer (a 404).
        for _ in range(completions):
            call("floor", "GET", "/api/v1/tasks/999999999", headers, None, 404)
    means = {k: round(statistics.mean(v) * 1000, 2) for k, v in spent.items() if v}
    cpu = {k: round(statistics.mean(v) * 1000, 2) for k, v in cpu_spent.items() if v}
    for kind in KINDS if args.profile else ():
        out = io.StringIO()
        stats = pstats.Stats(profilers[kind], stream=out)
        stats.sort_stats(args.sort).print_stats(args.top)
        print(f"===== {kind}: {len(spent[kind])} requests, mean {means.get(kind)} ms =====")
        print(out.getvalue())
    print({"completions": completions, "mean_ms": means, "cpu_ms": cpu}, flush=True)
    return {"mean_ms": means, "cpu_ms": cpu}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_profile", description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--managers", type=int, default=50)
    parser.add_argument("--cold", action="store_true", help="no live workflow from the cache")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--sql", action="store_true", help="print one request's statements")
    args = parser.parse_args(argv)
    if not POSTGRES_URL:
        print("Set BENCH_POSTGRES_URL or TEST_POSTGRES_URL.")
        return 2
    profile(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
