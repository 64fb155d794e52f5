"""The OMG MIWG reference diagrams: written by other tools, each validates without crashing.

Every diagram either passes or is refused with readable reasons naming the file; none may raise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.validation import validate_paths

MIWG = Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "miwg"
DIAGRAMS = sorted(MIWG.glob("*.bpmn")) if MIWG.is_dir() else []


@pytest.mark.skipif(not DIAGRAMS, reason=f"MIWG reference diagrams not found in {MIWG}")
@pytest.mark.parametrize("diagram", DIAGRAMS, ids=lambda path: path.name)
def test_miwg_diagram_validates_without_crashing(diagram: Path, tmp_path: Path):
    result = validate_paths([diagram], forms_dir=tmp_path)  # no forms: only the diagram speaks
    assert result.ok or result.problems
    for problem in result.problems:
        assert problem.file == diagram.name
        assert problem.message.strip()
        assert str(problem).startswith(diagram.name)
        assert "Traceback" not in problem.message
        assert "could not be" not in problem.message, str(problem)  # our own checks crashed
