"""Running one DMN decision outside a workflow, with the same checks and sandbox as a diagram.

Reports decide things too (is this family claimable?), and the council edits those rules the
way it edits the pathway's: as a decision table. A table used here is validated exactly as
deploy validates it (``engine.validation``: safe XML, schema, every cell compiled in the
sandbox) and evaluated by SpiffWorkflow's own DMN engine on the sandboxed script engine, so a
table cannot behave differently in a report than in a business rule task.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine

from engine.errors import KinflowError
from engine.sandbox import make_script_engine
from engine.validation import Bundle, validate_bundle


class DecisionTableError(KinflowError):
    """The decision table cannot be used: it is refused by validation or failed on the facts."""


@dataclass(frozen=True)
class DecisionTable:
    """A validated decision, ready to evaluate against a mapping of facts."""

    file_name: str
    decision_id: str
    engine: DMNEngine

    def evaluate(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        """The table's outputs for ``facts``: one value per output, or (hit policy COLLECT)
        one list per output holding every fitting row's value in row order."""
        # SpiffWorkflow's DMN engine reads only ``task.data`` and ``task.workflow.script_engine``.
        task = SimpleNamespace(data=dict(facts), workflow=SimpleNamespace(script_engine=_SCRIPTS))
        try:
            return dict(self.engine.result(task))
        except Exception as exc:  # a cell that fails on these facts; the table is the cause
            raise DecisionTableError(
                f"{self.file_name}: decision '{self.decision_id}' failed on the record's facts "
                f"({type(exc).__name__}: {exc}). Ask the process owner to correct the table."
            ) from None


_SCRIPTS = make_script_engine()


@functools.lru_cache(maxsize=16)
def load_decision(file_name: str, text: str, decision_id: str) -> DecisionTable:
    """The decision ``decision_id`` of a DMN document, validated as deploy validates it.

    Cached on the document's text: versions are immutable, so the same text is the same table.
    """
    validated = validate_bundle(Bundle(dmn={file_name: text.encode()}))
    if not validated.ok or validated.parser is None:
        reasons = "; ".join(str(p) for p in validated.problems) or "it could not be parsed"
        raise DecisionTableError(f"{file_name} cannot be used: {reasons}")
    if decision_id not in validated.parser.dmn_parsers:
        raise DecisionTableError(f"{file_name} has no decision '{decision_id}'.")
    return DecisionTable(file_name, decision_id, validated.parser.get_engine(decision_id, None))
