"""The managers' dashboard on a two-year record of 10,000 cases: server time of each measure.

The record is bulk-inserted by ``benchmarks.record_seed.seed_record`` (five teams, cases at
every stage, with their plans, reviews, packages, outcomes, concerns, stage visits and tasks)
on a database with the shipped pathway deployed. Then, for the last twelve months, for all
teams and for the largest team, each registered measure (``one_measure`` for every key of
``measure_keys()``) and the whole ``dashboard()`` are run ``RUNS`` times, each in a fresh
session, after one warm-up run. Reported: median and worst, in ms. Target: every measure
under 300 ms.

Run alone with ``python -m benchmarks.dashboard_cost`` (``--help``); ``--write`` also puts the
figures into ``benchmarks/results.json`` and the README's table, as ``make bench`` does.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.record_seed import seed_record
from benchmarks.setup import database
from benchmarks.timing import timed
from engine.deploy import deploy_paths
from engine.models import Case
from engine.reports.tables import ReportFilter, dashboard, measure_keys, one_measure
from engine.runtime import Runtime
from engine.time_words import LONDON

REPO = Path(__file__).resolve().parent.parent
CASES = 10_000
RUNS = 7
TARGET_MS = 300


def deploy_pathway(sessions: sessionmaker[Session], runtime: Runtime) -> int:
    """Deploy the shipped diagrams and forms; returns the fgc_pathway version's id."""
    with sessions() as session:
        deployed = deploy_paths(
            session, [REPO / "workflows"], "bench", runtime.codec, REPO / "forms"
        )
        return next(d.version.id for d in deployed if d.version.process_id == "fgc_pathway")


def last_year() -> ReportFilter:
    """The twelve months to today (London days)."""
    today = datetime.now(UTC).astimezone(LONDON).date()
    return ReportFilter(today - timedelta(days=364), today)


def _figures(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples) * 1000, 1),
        "worst_ms": round(max(samples) * 1000, 1),
    }


def _cost(sessions: sessionmaker[Session], action: Callable[[Session], object]) -> dict:
    def run() -> None:
        with sessions() as session:
            action(session)

    run()  # warm caches (statement cache, the deployed forms' labels) once, as a server has
    return _figures([timed(run) for _ in range(RUNS)])


def measure_costs(sessions: sessionmaker[Session], where: ReportFilter) -> dict[str, Any]:
    """Median and worst ms of each measure and of the whole dashboard for ``where``."""
    costs = {
        key: _cost(sessions, lambda s, key=key: one_measure(s, where, key))
        for key in measure_keys()
    }
    return {"measures": costs, "dashboard": _cost(sessions, lambda s: dashboard(s, where))}


def measure(kind: str, cases: int = CASES) -> dict[str, Any]:
    with database(kind) as sessions:
        version_id = deploy_pathway(sessions, Runtime())
        rows = seed_record(sessions, version_id, cases)
        engine = sessions.kw["bind"]
        if kind == "postgresql":
            with engine.begin() as conn:  # what autovacuum does shortly after a bulk load
                conn.execute(text("ANALYZE"))
        with sessions() as session:  # the largest team (inbox_cost weighs the first twice)
            team_id = session.scalar(
                select(Case.team_id).group_by(Case.team_id).order_by(func.count().desc()).limit(1)
            )
        where = last_year()
        return {
            "cases": cases,
            "rows": rows,
            "period": f"{where.start} to {where.end}",
            "all_teams": measure_costs(sessions, where),
            "one_team": measure_costs(sessions, where.narrowed(team_id=team_id)),
        }


def run(postgres: bool, cases: int = CASES) -> dict[str, Any]:
    kinds = ["sqlite", "postgresql"] if postgres else ["sqlite"]
    return {kind: measure(kind, cases) for kind in kinds}


def summary_lines(results: dict[str, Any]) -> list[str]:
    """The README table rows for these figures (benchmarks/__main__.py writes the table)."""
    lines = []
    for kind, figures in results.items():
        for scope, label in (("all_teams", "all teams"), ("one_team", "one team")):
            costs = figures[scope]["measures"]
            slowest = max(costs, key=lambda k: costs[k]["median_ms"])
            worst = max(c["worst_ms"] for c in costs.values())
            whole = figures[scope]["dashboard"]
            lines.append(
                f"| managers' dashboard, {figures['cases']:,} cases over two years, {kind}, "
                f"a year for {label}: slowest of {len(costs)} measures (`{slowest}`), median "
                f"/ worst of any; whole dashboard median | **{costs[slowest]['median_ms']}** / "
                f"{worst} ms; {whole['median_ms']} ms | each measure under {TARGET_MS} ms |"
            )
    return lines


def table(results: dict[str, Any]) -> str:
    """Each measure's median and worst ms, per database and scope, as a plain text table."""
    columns = [(kind, scope) for kind in results for scope in ("all_teams", "one_team")]
    groups = "".join(f"{kind + ', ' + scope.replace('_', ' '):>24}" for kind, scope in columns)
    lines = [
        f"{'ms':<18}{groups}",
        f"{'measure':<18}" + f"{'median':>14}{'worst':>10}" * len(columns),
    ]
    keys = [*results[columns[0][0]]["all_teams"]["measures"], "(whole dashboard)"]
    for key in keys:
        cells = ""
        for kind, scope in columns:
            scoped = results[kind][scope]
            c = scoped["dashboard"] if key.startswith("(") else scoped["measures"][key]
            over = "!" if not key.startswith("(") and c["worst_ms"] > TARGET_MS else " "
            cells += f"{c['median_ms']:14.1f}{c['worst_ms']:9.1f}{over}"
        lines.append(f"{key:<18}{cells}")
    return "\n".join(lines + [f"(! = worst over {TARGET_MS} ms)"])


def write(figures: dict[str, Any]) -> None:
    """Put the figures into results.json and the README's table, keeping the others."""
    import json

    from benchmarks.__main__ import README, RESULTS, summary

    results = json.loads(RESULTS.read_text())
    results["dashboard_cost"] = figures
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    readme = README.read_text()
    begin, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if begin in readme and end in readme:
        head, rest = readme.split(begin, 1)
        README.write_text(f"{head}{begin}\n{summary(results)}\n{end}{rest.split(end, 1)[1]}")


if __name__ == "__main__":
    import argparse

    from benchmarks.setup import POSTGRES_URL

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=CASES)
    parser.add_argument("--database", choices=("sqlite", "postgresql"))
    parser.add_argument("--write", action="store_true", help="update results.json and README")
    args = parser.parse_args()
    if args.database:
        figures = {args.database: measure(args.database, args.cases)}
    else:
        figures = run(bool(POSTGRES_URL), args.cases)
    print(table(figures))
    if args.write:
        write(figures)
