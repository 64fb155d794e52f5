"""Classifying expression text from diagrams: due and follow-up dates as literals or Python.

The engine trusts ``due_literal`` at run time to tell a literal from an expression, so it is
checked here against ``due_reason``, which decided at deploy what the value was.
"""

from __future__ import annotations

import pytest

from engine.expressions import due_literal, due_reason

LITERALS = [
    ("P2D", "P2D"),
    ('"P2D"', "P2D"),
    ("'PT24H'", "PT24H"),
    ("  P5D  ", "P5D"),
    ('"P1Y2M3DT4H"', "P1Y2M3DT4H"),
    ("2026-03-01T09:00:00Z", "2026-03-01T09:00:00Z"),
    ("'2026-03-01T09:00:00+01:00'", "2026-03-01T09:00:00+01:00"),
    ("2026-03-01", "2026-03-01"),
]
EXPRESSIONS = ["due_in", '"P" + str(n) + "D"', "deadline if urgent else 'P14D'", "P"]
REFUSED = ['"P1W2D"', "p2d", '"2026-13-01"', '"soon"', "${now() + 5}", "'P2D\""]


@pytest.mark.parametrize(("text", "literal"), LITERALS)
def test_iso_literals_quoted_or_not_give_the_bare_literal(text, literal):
    assert due_literal(text) == literal
    assert due_reason(text) is None


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_expressions_are_not_literals(text):
    assert due_literal(text) is None
    assert due_reason(text) is None  # accepted, as Python to evaluate


@pytest.mark.parametrize("text", REFUSED)
def test_values_validation_refuses_are_not_literals(text):
    assert due_literal(text) is None
    assert due_reason(text)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('"P1W2D"', "not a duration"),
        ('"2026-13-01"', "not a valid date"),
        ('"soon"', "neither an ISO duration"),
        ("${now() + 5}", "Camunda"),
        ("__import__('os')", "is refused"),
    ],
)
def test_due_reason_explains_a_refusal(text, words):
    assert words in due_reason(text)
