"""What the text of an expression in a diagram means, and whether it may run.

Diagrams hold Python in many places: conditions, scripts, timers, due dates and DMN cells.
SpiffWorkflow compiles it only when it runs, so a mistake, or a hostile script, would surface
mid-case. Each function here says, in words for the modeller, why a text cannot be used, or
returns None when it can; the sandbox has the last word on what compiles. Timers and due dates
may also be ISO 8601 literals, which SpiffWorkflow reads leniently, so their shape is checked
here before its parser is asked.

``due_literal`` is the one run-time use: the engine evaluates a due or follow-up date as an
expression unless it is a literal that validation accepted, and both decide that here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition as Timer

from engine.camunda_props import BPMN_NS
from engine.documents import snippet
from engine.sandbox import check_expression, check_script

_QUOTED = re.compile(r"""\s*(["'])([^"'\\]*)\1\s*""")
_LOOKS_ISO = re.compile(r"\s*(R\d*/|P\d|PT\d|\d{4}-\d\d-\d\d)", re.IGNORECASE)
_DURATION = re.compile(
    r"P(?=\d|T\d)(\d+([.,]\d+)?Y)?(\d+([.,]\d+)?M)?(\d+([.,]\d+)?W)?(\d+([.,]\d+)?D)?"
    r"(T(?=\d)(\d+([.,]\d+)?H)?(\d+([.,]\d+)?M)?(\d+([.,]\d+)?S)?)?"
)
_CYCLE = re.compile(r"R\d*/.+")
_EXAMPLES = {
    "timeDuration": 'a duration such as "P14D" or "PT2H"',
    "timeDate": 'a date and time such as "2026-01-01T09:00:00Z"',
    "timeCycle": 'a cycle such as "R3/PT1H"',
}
# The BPMN elements that hold a timer's value; each is read as a different ISO 8601 form.
TIMER_KINDS = frozenset(_EXAMPLES)

# What makes a due or follow-up date a literal rather than an expression.
_DUE_DURATION = re.compile(r"P\d|PT\d", re.IGNORECASE)
_DUE_DATE = re.compile(r"\d{4}-\d\d-\d\d")


def sandboxed(check: Callable[[str], str | None], source: str) -> str | None:
    """Ask the sandbox whether ``source`` compiles there; its own failure is a refusal too."""
    try:
        return check(source)
    except Exception as exc:
        return f"it could not be checked ({type(exc).__name__})"


def expression_reason(text: str | None, language: str | None = None) -> str | None:
    """Why an expression from a diagram cannot be used, or None when it compiles."""
    if text is None or not text.strip():
        return "is empty"
    if language and language.strip().lower() not in ("python", "python3"):
        return f"is written in '{language}'; expressions must be Python"
    if "${" in text or "#{" in text:
        return f"`{snippet(text)}` is a Camunda ${{...}} expression; write Python instead"
    if text.lstrip().startswith("="):
        return f"`{snippet(text)}` is a FEEL expression (it starts with '='); write Python"
    reason = sandboxed(check_expression, text)
    return None if reason is None else f"`{snippet(text)}` is refused: {reason}"


def _iso_reason(kind: str, value: str) -> str | None:
    """Check an ISO 8601 value exactly as SpiffWorkflow will read it when the timer starts.

    SpiffWorkflow's own parsers are lenient ("P" and "14D" pass as durations, "3/PT1H" as a
    cycle), so the shape is checked first and its parser second.
    """
    try:
        if kind == "timeDuration":
            ok = _DURATION.fullmatch(value) is not None
            ok = ok and isinstance(Timer.parse_iso_duration(value), dict)
        elif kind == "timeCycle":
            ok = _CYCLE.fullmatch(value.upper()) is not None
            ok = ok and bool(Timer.parse_iso_recurring_interval(value))
        else:
            ok = isinstance(Timer.parse_time_or_duration(value), datetime)
            if ok and "W" not in value.upper() and datetime.fromisoformat(value).tzinfo is None:
                return f"'{value}' has no time zone: add Z or an offset such as +01:00"
    except Exception:
        ok = False
    return None if ok else f"'{value}' is not {_EXAMPLES[kind]}"


def timer_reason(kind: str, text: str | None) -> str | None:
    """Timer expressions are Python whose value must be an ISO 8601 string."""
    if text is None or not text.strip():
        return "has no time set"
    quoted = _QUOTED.fullmatch(text)
    if quoted:
        return _iso_reason(kind, quoted.group(2).strip())
    if _LOOKS_ISO.match(text):
        value = text.strip()
        return (
            f'{value} must be quoted: write "{value}" with the quotes, because a timer is a '
            "Python expression and unquoted it is not the text of a date or duration"
        )
    return expression_reason(text)


# --- due and follow-up dates ---------------------------------------------------------------


def _unquoted(text: str) -> tuple[str, bool]:
    """The value inside one pair of quotes, if the whole text is that; and whether it was."""
    quoted = _QUOTED.fullmatch(text)
    return (quoted.group(2).strip(), True) if quoted else (text.strip(), False)


def _looks_literal(value: str) -> bool:
    return bool(_DUE_DURATION.match(value) or _DUE_DATE.match(value))


def _literal_reason(value: str) -> str | None:
    """Why a value that looks like an ISO duration or date is not one, or None when it is."""
    if _DUE_DURATION.match(value):
        return _iso_reason("timeDuration", value)
    try:
        Timer.get_datetime(value)
        return None
    except Exception:
        return f"'{value}' is not a valid date"


def due_reason(text: str) -> str | None:
    """A due or follow-up date: an ISO duration or date (quoted or not), or an expression."""
    value, quoted = _unquoted(text)
    if _looks_literal(value):
        return _literal_reason(value)
    if quoted:
        return f"'{value}' is neither an ISO duration such as P14D nor a date"
    return expression_reason(text)


def due_literal(text: str) -> str | None:
    """The bare ISO 8601 duration or date/time a due or follow-up date states, else None.

    ``P2D``, ``"P2D"`` and ``'PT24H'`` give ``P2D`` or ``PT24H``; ``2026-03-01T09:00:00Z`` gives
    itself. An expression (``due_in``, ``"P" + str(n) + "D"``) gives None. So does a literal
    that ``due_reason`` refuses (``"P1W2D"``, ``p2d``), which never gets past deploy; sharing the
    test keeps the engine from evaluating as Python what validation accepted as a literal.
    """
    value, _ = _unquoted(text)
    return value if _looks_literal(value) and _literal_reason(value) is None else None


# --- scripts -------------------------------------------------------------------------------


def script_reason(task: etree._Element) -> str | None:
    """Why a script task's script cannot run, or None when it compiles in the sandbox."""
    script_format = (task.get("scriptFormat") or "").strip().lower()
    if script_format and script_format not in ("python", "python3"):
        return f"script format '{task.get('scriptFormat')}' is not supported: scripts are Python"
    script = task.find(f"{{{BPMN_NS}}}script")
    if script is None or not (script.text or "").strip():
        return "has no script: write the Python script in the diagram"
    reason = sandboxed(check_script, script.text)
    return None if reason is None else f"script is refused: {reason}"


_ASSIGNEE_EXPRESSION = re.compile(r"^\$\{(.+)\}$", re.S)


def assignee_expression(value: str) -> str | None:
    """The expression inside a Camunda ``${...}`` assignee, or None for a literal username."""
    match = _ASSIGNEE_EXPRESSION.match(value.strip())
    return match.group(1).strip() if match else None
