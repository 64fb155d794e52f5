"""Run every benchmark; write ``benchmarks/results.json`` and the README's figures.

Run with ``make bench``. PostgreSQL figures need ``BENCH_POSTGRES_URL`` or ``TEST_POSTGRES_URL``.
One benchmark alone prints its figures without writing anything:
``python -m benchmarks.inbox_cost`` (or ``scheduler_cost``, ``dashboard_cost``, ``scale_pages``,
``fuzz_http``).
``docs/performance.md`` is regenerated with the README's table (``benchmarks.performance_doc``).
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import (
    dashboard_cost,
    fuzz_http,
    inbox_cost,
    load,
    loop_cost,
    malformed_bpmn,
    pathway_cost,
    performance_doc,
    scale_pages,
    scheduler_cost,
    sqlite_users,
    task_cost,
    throughput,
)
from benchmarks.setup import POSTGRES_URL

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results.json"
README = ROOT / "README.md"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def summary(results: dict) -> str:
    t, loop, tp = results["task_cost"], results["loop_cost"], results["throughput"]
    lines = [
        f"Measured {results['date']} on {results['machine']}.",
        "",
        "| measure | figure | target |",
        "|---|---|---|",
        f"| engine round trip per task (bare SpiffWorkflow: deserialize, step, serialize) "
        f"| {t['bare_round_trip_ms']} ms | reference |",
    ]
    for kind in ("sqlite", "postgresql"):
        if kind in t:
            k = t[kind]
            lines.append(
                f"| `complete_task` on {kind} (live-workflow cache) | {k['complete_task_ms']} ms, "
                f"**{k['ratio']}x** the round trip | at most 2.0x |"
            )
            lines.append(
                f"| `complete_task` on {kind}, cache off "
                f"| {k['complete_task_without_cache_ms']} ms, "
                f"{k['ratio_without_cache']}x | (for comparison) |"
            )
    steps = ", ".join(f"{n}: {ms} ms" for n, ms in loop["kinflow_sqlite_ms"].items())
    lib = ", ".join(f"{n}: {ms} ms" for n, ms in loop["library_ms"].items())
    lines += [
        f"| step after N review-loop passes, Kinflow on SQLite, no cache ({steps}) "
        f"| **{loop['kinflow_ratio_100_to_1']}x** at 100 vs 1 | at most 1.5x |",
        f"| same loop in bare SpiffWorkflow, history kept ({lib}) "
        f"| {loop['library_ratio_100_to_1']}x at 100 vs 1 | (for comparison) |",
    ]
    pc = results["pathway_cost"]
    lines.append(
        f"| FGC pathway: completing the 1st and the 10th review, SQLite, no cache "
        f"({pc['first_review_ms']} ms and {pc['tenth_review_ms']} ms; saved state "
        f"{pc['first_review_state_bytes']} and {pc['tenth_review_state_bytes']} bytes) "
        f"| **{pc['ratio_10_to_1']}x** at 10 vs 1 | at most 1.5x |"
    )
    for key, value in tp.items():
        kind = key.split("_")[0]
        lines.append(
            f"| cases started and run to completion (10 tasks each), {kind} "
            f"| {value} per second | |"
        )
    if "inbox_cost" in results:
        lines += inbox_cost.summary_lines(results["inbox_cost"])
    if "scheduler_cost" in results:
        lines += scheduler_cost.summary_lines(results["scheduler_cost"])
    if "dashboard_cost" in results:
        lines += dashboard_cost.summary_lines(results["dashboard_cost"])
    if "scale_pages" in results:
        lines += scale_pages.summary_lines(results["scale_pages"])
    if "malformed_bpmn" in results:
        lines += malformed_bpmn.summary_lines(results["malformed_bpmn"])
    if "fuzz_http" in results:
        lines += fuzz_http.summary_lines(results["fuzz_http"])
    if "sqlite_users" in results:
        lines += sqlite_users.summary_lines(results["sqlite_users"])
    if results.get("load"):
        lines += load.summary_lines(results["load"])
    return "\n".join(lines)


def write_outputs(results: dict) -> str:
    """The README's figures table and docs/performance.md from ``results``; the table."""
    text = summary(results)
    readme = README.read_text()
    readme = re.sub(
        r"<!-- bench:start -->.*<!-- bench:end -->",
        lambda _: f"<!-- bench:start -->\n{text}\n<!-- bench:end -->",
        readme,
        flags=re.S,
    )
    README.write_text(readme)
    performance_doc.write(results, text)
    return text


def main() -> int:
    postgres = bool(POSTGRES_URL)
    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "postgres": postgres,
        "task_cost": task_cost.run(postgres),
        "loop_cost": loop_cost.run(postgres),
        "throughput": throughput.run(postgres),
        "pathway_cost": pathway_cost.run(postgres),
        "inbox_cost": inbox_cost.run(postgres),
        "scheduler_cost": scheduler_cost.run(postgres),
        "dashboard_cost": dashboard_cost.run(postgres),
        "scale_pages": scale_pages.run(postgres),
        "malformed_bpmn": malformed_bpmn.run(postgres),
        "fuzz_http": fuzz_http.run(postgres),
        "sqlite_users": sqlite_users.run(postgres),
        "load": load.run(postgres),
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(write_outputs(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
