"""The fuzz benchmark's harness (benchmarks/fuzz_http.py): what it counts and what it reports.

The properties it runs are tests/fuzz_support.py's, exercised by tests/test_fuzz_http.py; here
only the harness: examples counted per target, a failure reported with its shrunk example, the
time bound, and the figures' rows in the README table and docs/performance.md.
"""

from __future__ import annotations

from hypothesis import strategies as st

from benchmarks import fuzz_http, performance_doc


def test_every_example_is_counted_across_batches_with_its_status():
    figures = fuzz_http.fuzz(st.integers(0, 10**9), lambda n: 422 if n % 2 else 200, 250, 60)
    # 250 examples (a first batch of 10, then 100, 100 and 40), none stopped by time.
    assert figures["examples"] == 250
    assert sum(figures["statuses"].values()) == 250
    assert set(figures["statuses"]) <= {"200", "422"}
    assert figures["failures"] == 0 and figures["failure"] is None
    assert not figures["stopped_by_time"]


def test_a_failure_is_reported_with_its_shrunk_example_and_ends_the_target():
    def check(n: int) -> int:
        assert n < 11, "a server error"
        return 200

    figures = fuzz_http.fuzz(st.integers(0, 10**9), check, 1_000, 60)
    assert figures["failures"] == 1
    assert "AssertionError: a server error" in figures["failure"]
    assert figures["failure"].endswith(
        "example: 11"
    )  # hypothesis shrinks to the smallest failing value
    assert not figures["stopped_by_time"]


def test_a_target_out_of_time_still_runs_its_first_ten_examples_and_says_it_was_cut_short():
    figures = fuzz_http.fuzz(st.integers(), lambda n: 200, 1_000, 0)
    assert figures["examples"] == 10 and figures["stopped_by_time"]


def test_the_figures_show_in_the_readme_table_and_fail_the_doc_target_when_any_failed():
    target = {"examples": 40, "failures": 0, "failure": None, "seconds": 1.0}
    figures = {
        "examples_per_target": 1_000,
        "budget_seconds": 120,
        "seconds": 3.5,
        "examples": 1_040,
        "failures": 1,
        "targets": {"API completion of review": target | {"examples": 1_000, "failures": 1},
                    "task page post of review": target},
    }  # fmt: skip
    [line] = fuzz_http.summary_lines({"sqlite": figures})
    assert "1,040 examples over 2 targets" in line
    assert "fewest 40 for task page post of review" in line
    assert "**1 failures**" in line
    [check] = [c for c in performance_doc.checks({"fuzz_http": {"sqlite": figures}})]
    assert check[1] == "1 failures" and check[3] is False
