"""The load benchmark's command line: the gunicorn settings it runs, as the lead types them.

The run itself is ``python -m benchmarks.load``; here only the options, in milliseconds.
"""

from __future__ import annotations

import pytest

from benchmarks.load import arguments, server_kind


def test_a_sweep_names_workers_threads_and_preload_in_the_order_given():
    args = arguments(["--sweep", "4,2x4,3p,2x8p", "--seconds", "15"])
    assert args.sweep == [(4, 1, False), (2, 4, False), (3, 1, True), (2, 8, True)]
    # Enough cases for the target rate over the run: 200/s x 15 s / 3 steps a case, plus 100.
    assert args.cases == 1100


def test_a_malformed_sweep_is_refused_naming_the_option(capsys):
    with pytest.raises(SystemExit) as stopped:
        arguments(["--sweep", "4,two"])
    assert stopped.value.code == 2
    assert "sweep: 'two' is not WORKERS, WORKERSxTHREADS" in capsys.readouterr().err


def test_the_report_says_which_gunicorn_ran():
    assert server_kind(4, 1, False) == "gunicorn, 4 sync workers, PostgreSQL, loopback"
    assert server_kind(2, 4, True) == (
        "gunicorn, 2 gthread workers x 4 threads, --preload, PostgreSQL, loopback"
    )


def test_workers_list_then_claim_unless_told_to_claim_their_next_task(capsys):
    assert arguments([]).claim == "list"
    assert arguments(["--claim", "next"]).claim == "next"
    with pytest.raises(SystemExit) as stopped:
        arguments(["--claim", "first"])
    assert stopped.value.code == 2
    assert "--claim: invalid choice: 'first'" in capsys.readouterr().err
