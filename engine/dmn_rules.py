"""Kinflow's rules on a DMN file: one decision table whose every cell compiles in the sandbox.

SpiffWorkflow parses a decision table only when a task first uses it, reads only a file's first
decision, and evaluates each cell as Python glued onto its input expression; a hit policy it
does not know silently acts as FIRST. So the table's shape, its hit policy and every input and
output cell, compiled the way SpiffWorkflow will compile it, are checked at deploy.
"""

from __future__ import annotations

import ast
import re

from lxml import etree

from engine.documents import Document, DocumentIndex, duplicate_ids, problem_at, snippet
from engine.errors import Problem
from engine.expressions import expression_reason, sandboxed
from engine.sandbox import check_expression

# SpiffWorkflow's DMN engine replaces a '?' outside quotes by the input's value.
_QUESTION = re.compile(r"""(\?)(?=(?:[^'"]|['"][^'"]*['"])*$)""")
_WORD_END = re.compile(r"\w$")
_WORD_START = re.compile(r"\w")


def _input_cell_reason(input_expr: str, cell: str) -> str | None:
    """Compile what SpiffWorkflow's DMN engine will evaluate for one input cell.

    A cell that parses as Python on its own is compared with ``==``; otherwise it is glued
    straight onto the input expression, without a space, so ``age`` and ``in [1, 2]`` become
    ``agein [1, 2]`` (which compiles, and fails when the rule runs).
    """
    if _QUESTION.search(cell):
        return expression_reason(_QUESTION.sub("dmninputexpr", cell))
    try:
        ast.parse(cell)
        whole = True
    except SyntaxError:
        whole = False
    except Exception as exc:  # absurd nesting and the like
        return f"`{snippet(cell)}` could not be read ({type(exc).__name__})"
    if not whole and _WORD_END.search(input_expr) and _WORD_START.match(cell):
        return f"`{snippet(cell)}` must start with a space: it is appended to `{input_expr}`"
    compared = f"({input_expr}) == ({cell})" if whole else input_expr + cell
    reason = sandboxed(check_expression, compared)
    return reason and f"`{snippet(cell)}` is refused: {reason}"


def _table_rules(doc: Document, table: etree._Element, dmn: str) -> list[Problem]:
    problems, inputs = [], table.findall(f"{{{dmn}}}input")
    expressions = []
    for column in inputs:
        text = column.findtext(f"{{{dmn}}}inputExpression/{{{dmn}}}text")
        reason = expression_reason(text)
        if reason:
            problems.append(problem_at(doc, column, f"input expression {reason}"))
        expressions.append(text or "")
    for row, rule in enumerate(table.findall(f"{{{dmn}}}rule"), start=1):
        cells = rule.findall(f"{{{dmn}}}inputEntry")
        if len(cells) != len(inputs):
            message = f"row {row} has {len(cells)} input cells for {len(inputs)} inputs"
            problems.append(problem_at(doc, rule, message))
            continue
        for cell, expr in zip(cells, expressions, strict=True):
            text = cell.findtext(f"{{{dmn}}}text") or ""  # raw: SpiffWorkflow glues it as is
            blank = text.strip() in ("", "-")
            reason = _input_cell_reason(expr, text) if not blank and expr.strip() else None
            if reason:
                problems.append(problem_at(doc, rule, f"row {row}: input cell {reason}"))
        for cell in rule.findall(f"{{{dmn}}}outputEntry"):
            text = cell.findtext(f"{{{dmn}}}text") or ""
            reason = expression_reason(text) if text.strip() else None
            if reason:
                problems.append(problem_at(doc, rule, f"row {row}: output cell {reason}"))
    return problems


_DMN_PARTS = ("decisionTable", "input", "output", "rule", "inputEntry", "outputEntry")


def check_dmn(doc: Document, index: DocumentIndex) -> list[Problem]:
    """One decision per file, held in a decision table whose cells compile in the sandbox."""
    dmn = etree.QName(doc.root).namespace
    if dmn not in (doc.root.nsmap.get(None), doc.root.nsmap.get("dmn")):
        message = "must declare the DMN namespace as the default one (xmlns=...), as modellers do"
        return [Problem(doc.name, None, doc.root.sourceline, message)]
    decisions = doc.root.findall(f"{{{dmn}}}decision")
    if len(decisions) != 1:
        message = f"has {len(decisions)} decisions; put exactly one decision in each DMN file"
        return [Problem(doc.name, None, doc.root.sourceline, message), *duplicate_ids(doc)]
    decision = decisions[0]
    owner = index.decisions.get(decision.get("id") or "")
    if owner is None:
        return [problem_at(doc, decision, "has no id: give the decision an id")]
    if owner[1] is not decision:
        message = f"decision id '{decision.get('id')}' is also used in {owner[0].name}"
        return [problem_at(doc, decision, message)]
    unnamed = [e for e in decision.iter(*(f"{{{dmn}}}{t}" for t in _DMN_PARTS)) if not e.get("id")]
    if unnamed:  # SpiffWorkflow reads each of these by id and fails on the first without one
        return [problem_at(doc, e, f"{etree.QName(e).localname} has no id") for e in unnamed]
    tables = decision.findall(f"{{{dmn}}}decisionTable")
    if not tables:
        message = "has no decision table; only decision tables are supported"
        return [problem_at(doc, decision, message)]
    problems = _table_rules(doc, tables[0], dmn) + duplicate_ids(doc)
    # SpiffWorkflow knows UNIQUE and COLLECT; anything else silently acts as FIRST.
    policy = (tables[0].get("hitPolicy") or "UNIQUE").upper()
    if policy not in ("UNIQUE", "FIRST", "COLLECT") or tables[0].get("aggregation"):
        message = f"hit policy {policy} {tables[0].get('aggregation') or ''}".strip()
        message += " is not supported: use UNIQUE, FIRST or COLLECT without aggregation"
        problems.append(problem_at(doc, tables[0], message))
    return problems
