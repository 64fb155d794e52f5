"""Time and peak memory of validating each file of the malformed-BPMN corpus.

The corpus (tests/fixtures/malformed/corpus.py: truncated XML, a wrong namespace, a DOCTYPE
with an external entity, a billion laughs, a 2 MB attribute, 10,000 nested elements, a 10 MB
file, and the structural faults) goes through ``validate_files``, the check behind the
validation API, the modeller and ``kinflow validate``. For each file: the median wall time of
``RUNS`` runs, and the peak of memory Python allocated during one run (tracemalloc, which
also sees lxml's allocations only partly, so the process's peak resident size is given too).
What a person is told is tested in tests/test_malformed_bpmn.py; here only cost is measured.
Bound: every file under 1 s and 100 MB.

Run alone with ``python -m benchmarks.malformed_bpmn``; ``--write`` also stores the figures
in ``benchmarks/results.json``.
"""

from __future__ import annotations

import gc
import resource
import statistics
import time
import tracemalloc
from typing import Any

from engine.authoring import validate_files
from tests.fixtures.malformed.corpus import CORPUS

RUNS = 5
BOUND_MS = 1000
BOUND_MB = 100


def measure_one(name: str, data: bytes) -> dict[str, Any]:
    times = []
    for _ in range(RUNS):
        gc.collect()
        start = time.perf_counter()
        validated = validate_files({name: data})
        times.append((time.perf_counter() - start) * 1000)
    gc.collect()
    tracemalloc.start()
    validate_files({name: data})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "bytes": len(data),
        "median_ms": round(statistics.median(times), 1),
        "worst_ms": round(max(times), 1),
        "peak_mb": round(peak / 1e6, 1),
        "problems": len(validated.problems),
    }


def run(postgres: bool = False) -> dict[str, Any]:
    """The figures per file; ``postgres`` is ignored (no database is involved)."""
    files = {entry.name: measure_one(entry.name, entry.build()) for entry in CORPUS}
    # ru_maxrss is in kilobytes on Linux: the whole process's high-water mark, corpus included.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"files": files, "process_peak_rss_mb": round(rss, 1)}


def summary_lines(results: dict[str, Any]) -> list[str]:
    files = results["files"]
    slowest = max(files, key=lambda n: files[n]["worst_ms"])
    hungriest = max(files, key=lambda n: files[n]["peak_mb"])
    return [
        f"| malformed BPMN corpus ({len(files)} files, up to 10 MB), validation: slowest "
        f"(`{slowest}`) / largest Python peak (`{hungriest}`) "
        f"| {files[slowest]['worst_ms']} ms / {files[hungriest]['peak_mb']} MB "
        f"| under {BOUND_MS} ms and {BOUND_MB} MB each |"
    ]


def table(results: dict[str, Any]) -> str:
    lines = [f"{'file':<30}{'bytes':>12}{'median ms':>11}{'worst ms':>10}{'peak MB':>9}"]
    for name, f in results["files"].items():
        over = "!" if f["worst_ms"] > BOUND_MS or f["peak_mb"] > BOUND_MB else " "
        lines.append(
            f"{name:<30}{f['bytes']:>12,}{f['median_ms']:>11}{f['worst_ms']:>10}"
            f"{f['peak_mb']:>9}{over}"
        )
    lines.append(f"process peak resident size: {results['process_peak_rss_mb']} MB")
    return "\n".join(lines + [f"(! = over {BOUND_MS} ms or {BOUND_MB} MB)"])


def write(key: str, figures: dict[str, Any]) -> None:
    """Store ``figures`` under ``key`` in results.json, keeping the other benchmarks' figures."""
    import json

    from benchmarks.__main__ import RESULTS

    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[key] = figures
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update benchmarks/results.json")
    args = parser.parse_args()
    figures = run()
    print(table(figures))
    if args.write:
        write("malformed_bpmn", figures)
