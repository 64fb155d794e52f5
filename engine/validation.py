"""Deploy-time validation of untrusted BPMN, DMN and form documents.

SpiffWorkflow accepts a lot that would fail (or worse, run) later: the XSD check runs only
with a validator, structural errors surface only from ``get_spec()`` without line numbers, a
file with nothing executable yields nothing, a process without an id is accepted, and
expressions are compiled only when they run. So every document passes four stages, and every
reason is reported at once, located by file, element and line:

1. safe XML parsing, once per file, and 2. the XML schema (both in ``engine.xmlsafe``);
3. SpiffWorkflow's ``CamundaParser`` on our parsed trees, never on the raw bytes;
4. Kinflow's rules: executable processes, roles, forms, sandboxed expressions, timers and
   references between files.

Nothing raises out of ``validate_bundle``: each file is checked inside its own ``except``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition as Timer
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser

from engine.camunda_props import BPMN_NS, CAMUNDA_NS, NS, UserTaskProps, read_user_tasks
from engine.errors import KinflowError, Problem
from engine.forms import FORM_KEY_PATTERN, parse_form
from engine.roles import ROLES
from engine.sandbox import check_expression, check_script
from engine.xmlsafe import MAX_BYTES, XmlRejected, parse_xml, schema_problems

SUFFIXES = {".bpmn": "bpmn", ".dmn": "dmn", ".json": "forms"}


@dataclass
class Bundle:
    """The files of one deploy: BPMN and DMN by file name, forms by form key."""

    bpmn: dict[str, bytes] = field(default_factory=dict)
    dmn: dict[str, bytes] = field(default_factory=dict)
    forms: dict[str, bytes] = field(default_factory=dict)


@dataclass
class ValidatedBundle:
    """The outcome of validation; deploy may use ``parser`` only when ``ok``."""

    bundle: Bundle
    problems: list[Problem]
    parser: CamundaParser | None
    executable_process_ids: list[str]
    entry_process_ids: list[str]
    user_tasks: dict[str, dict[str, UserTaskProps]]
    forms: dict[str, dict]

    @property
    def ok(self) -> bool:
        return not self.problems


# --- loading -------------------------------------------------------------------------------


def _read(path: Path) -> bytes:
    """Read a file, but never more than one byte past the cap: the parser refuses it anyway."""
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise KinflowError(f"Cannot read {path}: {exc.strerror or exc}.") from None


def _add_file(bundle: Bundle, path: Path, kind: str) -> None:
    target = getattr(bundle, kind)
    key = path.stem if kind == "forms" else path.name
    if key in target:
        raise KinflowError(f"Two files named {path.name} were given; rename one of them.")
    target[key] = _read(path)


def load_bundle(paths: Iterable[Path], forms_dir: Path | None = None) -> Bundle:
    """Collect files: a folder gives its *.bpmn, *.dmn and *.json; a file counts by suffix.

    Forms normally live in ``forms/`` beside ``workflows/``, so when none were named they are
    taken from ``forms_dir``, else from that sibling folder, else from ``./forms``.
    """
    bundle = Bundle()
    given = [Path(p) for p in paths]
    for path in given:
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.is_file() and child.suffix.lower() in SUFFIXES:
                    _add_file(bundle, child, SUFFIXES[child.suffix.lower()])
        elif path.is_file():
            kind = SUFFIXES.get(path.suffix.lower())
            if kind is None:
                raise KinflowError(f"{path} is not a .bpmn, .dmn or .json file.")
            _add_file(bundle, path, kind)
        else:
            raise KinflowError(f"Cannot read {path}: there is no such file or folder.")
    if not bundle.forms:
        if forms_dir is not None and not Path(forms_dir).is_dir():
            raise KinflowError(f"Cannot read forms from {forms_dir}: there is no such folder.")
        folders = [Path(forms_dir)] if forms_dir is not None else []
        for path in given:
            folder = (path if path.is_dir() else path.parent).resolve()
            folders += [folder.parent / "forms", folder / "forms"]
        folders.append(Path.cwd() / "forms")
        folder = next((f for f in folders if f.is_dir()), None)
        for child in sorted(folder.glob("*.json")) if folder else []:
            _add_file(bundle, child, "forms")
    return bundle


def validate_paths(paths: Iterable[Path], forms_dir: Path | None = None) -> ValidatedBundle:
    """``load_bundle`` then ``validate_bundle``; a file that cannot be read becomes a problem."""
    paths = list(paths)
    try:
        bundle = load_bundle(paths, forms_dir)
    except KinflowError as exc:
        where = ", ".join(Path(p).name for p in paths) or "(no files)"
        problem = Problem(where, None, None, str(exc))
        return ValidatedBundle(Bundle(), [problem], None, [], [], {}, {})
    return validate_bundle(bundle)


# --- documents and the cross-file index ----------------------------------------------------


@dataclass
class _Doc:
    name: str
    tree: etree._ElementTree
    usable: bool = True  # False once refused: SpiffWorkflow never sees it
    _ids: dict[str, etree._Element] | None = None

    @property
    def root(self) -> etree._Element:
        return self.tree.getroot()

    def by_id(self, element_id: str | None) -> etree._Element | None:
        if self._ids is None:
            self._ids = {}
            for element in self.root.iter():
                if isinstance(element.tag, str) and element.get("id"):
                    self._ids.setdefault(element.get("id"), element)
        return self._ids.get(element_id) if element_id else None


def _bpmn(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


def _is_executable(process: etree._Element) -> bool:
    return (process.get("isExecutable") or "").strip() == "true" and bool(process.get("id"))


@dataclass
class _Index:
    """What one file may refer to in another: processes and decisions, by id."""

    docs: dict[str, _Doc]
    processes: dict[str, tuple[_Doc, etree._Element]]
    executable: list[str]
    decisions: dict[str, tuple[_Doc, etree._Element]]

    @classmethod
    def build(cls, bpmn: list[_Doc], dmn: list[_Doc]) -> _Index:
        processes, decisions = {}, {}
        for doc in bpmn:
            for process in doc.root.iter(_bpmn("process")):
                if process.get("id"):
                    processes.setdefault(process.get("id"), (doc, process))
        for doc in dmn:
            # SpiffWorkflow registers only a file's first decision; so do we.
            first = next((d for d in doc.root if etree.QName(d).localname == "decision"), None)
            if first is not None and first.get("id"):
                decisions.setdefault(first.get("id"), (doc, first))
        executable = [pid for pid, (_, p) in processes.items() if _is_executable(p)]
        docs = {doc.name: doc for doc in [*bpmn, *dmn]}
        return cls(docs, processes, executable, decisions)

    def called_processes(self) -> set[str]:
        """Processes some other process calls: they are not entry points of the bundle."""
        called = set()
        for pid, (_, process) in self.processes.items():
            for call in process.iter(_bpmn("callActivity")):
                if call.get("calledElement") not in (None, pid):
                    called.add(call.get("calledElement"))
        return called


# --- locating and phrasing -----------------------------------------------------------------

# Elements that only hold an expression: a problem inside one belongs to the element around it.
_HOLDERS = re.compile(
    r".*(EventDefinition|LoopCharacteristics|Condition|Expression)|condition"
    r"|time(Date|Duration|Cycle)|loopCardinality|script"
)


def _owner(element: etree._Element) -> etree._Element:
    node = element
    while node is not None:
        name = etree.QName(node).localname
        if node.get("id") and not _HOLDERS.fullmatch(name):
            return node
        node = node.getparent()
    return element


def _label(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    owner = _owner(element)
    name = etree.QName(owner).localname
    return f"{name} '{owner.get('id')}'" if owner.get("id") else name


def _at(doc: _Doc, element: etree._Element, message: str) -> Problem:
    return Problem(doc.name, _label(element), element.sourceline, message)


def _snippet(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _roles_hint(roles: tuple[str, ...]) -> str:
    return "known roles: " + ", ".join(roles)


# --- expressions, scripts and times --------------------------------------------------------

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


def _sandboxed(check, source: str) -> str | None:
    """Ask the sandbox whether ``source`` compiles there; its own failure is a refusal too."""
    try:
        return check(source)
    except Exception as exc:
        return f"it could not be checked ({type(exc).__name__})"


def _expression_reason(text: str | None, language: str | None = None) -> str | None:
    """Why an expression from a diagram cannot be used, or None when it compiles."""
    if text is None or not text.strip():
        return "is empty"
    if language and language.strip().lower() not in ("python", "python3"):
        return f"is written in '{language}'; expressions must be Python"
    if "${" in text or "#{" in text:
        return f"`{_snippet(text)}` is a Camunda ${{...}} expression; write Python instead"
    if text.lstrip().startswith("="):
        return f"`{_snippet(text)}` is a FEEL expression (it starts with '='); write Python"
    reason = _sandboxed(check_expression, text)
    return None if reason is None else f"`{_snippet(text)}` is refused: {reason}"


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


def _timer_reason(kind: str, text: str | None) -> str | None:
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
    return _expression_reason(text)


def _due_reason(text: str) -> str | None:
    """A due or follow-up date: an ISO duration or date (quoted or not), or an expression."""
    quoted = _QUOTED.fullmatch(text)
    value = quoted.group(2).strip() if quoted else text.strip()
    if re.match(r"P\d|PT\d", value, re.IGNORECASE):
        return _iso_reason("timeDuration", value)
    if re.match(r"\d{4}-\d\d-\d\d", value):
        try:
            Timer.get_datetime(value)
            return None
        except Exception:
            return f"'{value}' is not a valid date"
    if quoted:
        return f"'{value}' is neither an ISO duration such as P14D nor a date"
    return _expression_reason(text)


def _script_reason(task: etree._Element) -> str | None:
    script_format = (task.get("scriptFormat") or "").strip().lower()
    if script_format and script_format not in ("python", "python3"):
        return f"script format '{task.get('scriptFormat')}' is not supported: scripts are Python"
    script = task.find(_bpmn("script"))
    if script is None or not (script.text or "").strip():
        return "has no script: write the Python script in the diagram"
    reason = _sandboxed(check_script, script.text)
    return None if reason is None else f"script is refused: {reason}"


# Elements whose text SpiffWorkflow evaluates as an expression, and what to call them.
_EXPRESSIONS = {
    "conditionExpression": "condition",
    "condition": "event condition",
    "loopCondition": "loop condition",
    "loopCardinality": "loop cardinality",
    "completionCondition": "completion condition",
}


def _expression_rules(doc: _Doc, process: etree._Element) -> list[Problem]:
    """Every expression, timer and script in one process, compiled in the sandbox."""
    problems = []
    for element in process.iter(f"{{{BPMN_NS}}}*"):
        local = etree.QName(element).localname
        reason = None
        if local in _EXPRESSIONS:
            reason = _expression_reason(element.text, element.get("language"))
            reason = reason and f"{_EXPRESSIONS[local]} {reason}"
        elif local in _EXAMPLES:
            reason = _timer_reason(local, element.text)
            reason = reason and f"timer {reason}"
        elif local == "scriptTask":
            reason = _script_reason(element)
        elif local == "messageEventDefinition" and element.get(f"{{{CAMUNDA_NS}}}expression"):
            reason = _expression_reason(element.get(f"{{{CAMUNDA_NS}}}expression"))
            reason = reason and f"message payload {reason}"
        if reason:
            problems.append(_at(doc, element, reason))
    return problems


# --- Kinflow's rules for BPMN --------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    roles: tuple[str, ...]
    form_keys: frozenset[str]
    valid_forms: frozenset[str]


def _role_problem(props: UserTaskProps, roles: tuple[str, ...]) -> str | None:
    """A user task must reach people: a lane named after a role, or candidate groups."""
    unknown = [group for group in props.candidate_groups if group not in roles]
    if unknown:
        listed = ", ".join(f"'{group}'" for group in unknown)
        return f"candidate groups {listed} are not roles ({_roles_hint(roles)})"
    if props.candidate_groups or props.role in roles:
        return None
    where = f"lane '{props.lane}' is not a role" if props.lane else "it is in no lane"
    return (
        f"nobody could do this task: {where} and no candidate groups are set; name the lane "
        f"after a role or set candidate groups ({_roles_hint(roles)})"
    )


def _form_problem(key: str | None, context: _Context) -> str | None:
    if not key:
        return "has no form: set a form key naming forms/<key>.json"
    if not FORM_KEY_PATTERN.match(key):
        return (
            f"form key '{key}' is not a Kinflow form name: use lowercase letters, digits, "
            "'-' and '_', naming forms/<key>.json"
        )
    if key not in context.form_keys:
        return f"form '{key}' not found in forms/"
    if key not in context.valid_forms:
        return f"form '{key}' is not a valid form (see forms/{key}.json)"
    return None


def _user_task_rules(doc: _Doc, task: etree._Element, props: UserTaskProps, context: _Context):
    reasons = [_role_problem(props, context.roles), _form_problem(props.form_key, context)]
    for what, value in (("due date", props.due_date), ("follow-up date", props.follow_up_date)):
        reason = _due_reason(value) if value else None
        reasons.append(reason and f"{what} {reason}")
    return [_at(doc, task, reason) for reason in reasons if reason]


def _reference_rules(doc: _Doc, process: etree._Element, index: _Index) -> list[Problem]:
    """Call activities and business rule tasks must point at something in the bundle."""
    problems = []
    for call in process.iter(_bpmn("callActivity")):
        called = (call.get("calledElement") or "").strip()
        known = ", ".join(sorted(index.processes)) or "none"
        if not called:
            problems.append(_at(doc, call, "calls no process: set the called element"))
        elif called not in index.processes:
            message = f"calls process '{called}', which is not in this bundle (processes: {known})"
            problems.append(_at(doc, call, message))
        elif called not in index.executable:
            message = f"calls process '{called}', which is not executable: set isExecutable on it"
            problems.append(_at(doc, call, message))
    for task in process.iter(_bpmn("businessRuleTask")):
        ref = (task.get(f"{{{CAMUNDA_NS}}}decisionRef") or "").strip()
        known = ", ".join(sorted(index.decisions)) or "none"
        if not ref:
            problems.append(_at(doc, task, "has no decision: set the decision reference"))
        elif ref not in index.decisions:
            message = f"decision '{ref}' not found in the bundle's DMN files (decisions: {known})"
            problems.append(_at(doc, task, message))
    return problems


def _document_rules(doc: _Doc, index: _Index) -> list[Problem]:
    """Process ids and executability, and ids unique within the file."""
    problems, processes = [], list(doc.root.iter(_bpmn("process")))
    for process in processes:
        pid = process.get("id")
        if not pid:
            message = "has no id: give the process an id (Process ID in the properties panel)"
            problems.append(Problem(doc.name, "process", process.sourceline, message))
        elif index.processes[pid][0] is not doc:  # twice in one file: the id rule says so
            other = index.processes[pid][0].name
            message = f"process id '{pid}' is also used in {other}; process ids must be unique"
            problems.append(_at(doc, process, message))
    if not any(_is_executable(p) for p in processes):
        message = "no executable process: set isExecutable on a process"
        problems.append(Problem(doc.name, None, None, message))
    duplicates = _duplicate_ids(doc)
    doc.usable = doc.usable and not duplicates  # SpiffWorkflow would only add confusion
    return problems + duplicates


_OMG = ("{http://www.omg.org/spec/", "{https://www.omg.org/spec/")


def _duplicate_ids(doc: _Doc) -> list[Problem]:
    """Ids of the standard (OMG) elements must be unique in a file; vendor extensions may not
    follow that rule and are none of our business."""
    problems, first = [], {}
    for element in doc.root.iter():
        standard = isinstance(element.tag, str) and element.tag.startswith(_OMG)
        element_id = element.get("id") if standard else None
        if element_id and first.setdefault(element_id, element) is not element:
            line = first[element_id].sourceline
            message = f"id '{element_id}' is already used on line {line}; ids must be unique"
            problems.append(_at(doc, element, message))
    return problems


_FLOW_TAGS = frozenset(
    [*CamundaParser.PARSER_CLASSES, *CamundaParser.OVERRIDE_PARSER_CLASSES, _bpmn("sequenceFlow")]
)


def _bpmn_rules(doc: _Doc, index: _Index, context: _Context):
    """Stage 4 for one BPMN file; returns its problems and its user tasks' properties."""
    problems = _document_rules(doc, index)
    all_tasks = read_user_tasks(doc.tree)
    tasks: dict[str, UserTaskProps] = {}
    for process in doc.root.iter(_bpmn("process")):
        if not _is_executable(process) or index.processes[process.get("id")][1] is not process:
            continue
        for element in process.iter(*_FLOW_TAGS):
            if not element.get("id"):  # SpiffWorkflow would build a task spec named None
                message = "has no id: every element of a process needs one"
                problems.append(
                    Problem(doc.name, etree.QName(element).localname, element.sourceline, message)
                )
        for task in process.iter(_bpmn("userTask")):
            props = all_tasks.get(task.get("id") or "")
            if props is not None and props.line == task.sourceline:
                tasks[props.element_id] = props
                problems.extend(_user_task_rules(doc, task, props, context))
        problems.extend(_expression_rules(doc, process))
        problems.extend(_reference_rules(doc, process, index))
    return problems, tasks


# --- Kinflow's rules for DMN ---------------------------------------------------------------

# SpiffWorkflow's DMN engine replaces a '?' outside quotes by the input's value.
_QUESTION = re.compile(r"""(\?)(?=(?:[^'"]|['"][^'"]*['"])*$)""")


def _input_cell_reason(input_expr: str, cell: str) -> str | None:
    """Compile what SpiffWorkflow's DMN engine will evaluate for one input cell.

    A cell that parses as Python on its own is compared with ``==``; otherwise it is glued
    straight onto the input expression, without a space, so ``age`` and ``in [1, 2]`` become
    ``agein [1, 2]`` (which compiles, and fails when the rule runs).
    """
    if _QUESTION.search(cell):
        return _expression_reason(_QUESTION.sub("dmninputexpr", cell))
    try:
        ast.parse(cell)
        whole = True
    except SyntaxError:
        whole = False
    except Exception as exc:  # absurd nesting and the like
        return f"`{_snippet(cell)}` could not be read ({type(exc).__name__})"
    if not whole and _WORD_END.search(input_expr) and _WORD_START.match(cell):
        return f"`{_snippet(cell)}` must start with a space: it is appended to `{input_expr}`"
    compared = f"({input_expr}) == ({cell})" if whole else input_expr + cell
    reason = _sandboxed(check_expression, compared)
    return reason and f"`{_snippet(cell)}` is refused: {reason}"


_WORD_END = re.compile(r"\w$")
_WORD_START = re.compile(r"\w")


def _table_rules(doc: _Doc, table: etree._Element, dmn: str) -> list[Problem]:
    problems, inputs = [], table.findall(f"{{{dmn}}}input")
    expressions = []
    for column in inputs:
        text = column.findtext(f"{{{dmn}}}inputExpression/{{{dmn}}}text")
        reason = _expression_reason(text)
        if reason:
            problems.append(_at(doc, column, f"input expression {reason}"))
        expressions.append(text or "")
    for row, rule in enumerate(table.findall(f"{{{dmn}}}rule"), start=1):
        cells = rule.findall(f"{{{dmn}}}inputEntry")
        if len(cells) != len(inputs):
            message = f"row {row} has {len(cells)} input cells for {len(inputs)} inputs"
            problems.append(_at(doc, rule, message))
            continue
        for cell, expr in zip(cells, expressions, strict=True):
            text = cell.findtext(f"{{{dmn}}}text") or ""  # raw: SpiffWorkflow glues it as is
            blank = text.strip() in ("", "-")
            reason = _input_cell_reason(expr, text) if not blank and expr.strip() else None
            if reason:
                problems.append(_at(doc, rule, f"row {row}: input cell {reason}"))
        for cell in rule.findall(f"{{{dmn}}}outputEntry"):
            text = cell.findtext(f"{{{dmn}}}text") or ""
            reason = _expression_reason(text) if text.strip() else None
            if reason:
                problems.append(_at(doc, rule, f"row {row}: output cell {reason}"))
    return problems


_DMN_PARTS = ("decisionTable", "input", "output", "rule", "inputEntry", "outputEntry")


def _dmn_rules(doc: _Doc, index: _Index) -> list[Problem]:
    """One decision per file, held in a decision table whose cells compile in the sandbox."""
    dmn = etree.QName(doc.root).namespace
    if dmn not in (doc.root.nsmap.get(None), doc.root.nsmap.get("dmn")):
        message = "must declare the DMN namespace as the default one (xmlns=...), as modellers do"
        return [Problem(doc.name, None, doc.root.sourceline, message)]
    decisions = doc.root.findall(f"{{{dmn}}}decision")
    if len(decisions) != 1:
        message = f"has {len(decisions)} decisions; put exactly one decision in each DMN file"
        return [Problem(doc.name, None, doc.root.sourceline, message), *_duplicate_ids(doc)]
    decision = decisions[0]
    owner = index.decisions.get(decision.get("id") or "")
    if owner is None:
        return [_at(doc, decision, "has no id: give the decision an id")]
    if owner[1] is not decision:
        message = f"decision id '{decision.get('id')}' is also used in {owner[0].name}"
        return [_at(doc, decision, message)]
    unnamed = [e for e in decision.iter(*(f"{{{dmn}}}{t}" for t in _DMN_PARTS)) if not e.get("id")]
    if unnamed:  # SpiffWorkflow reads each of these by id and fails on the first without one
        return [_at(doc, e, f"{etree.QName(e).localname} has no id") for e in unnamed]
    tables = decision.findall(f"{{{dmn}}}decisionTable")
    if not tables:
        return [_at(doc, decision, "has no decision table; only decision tables are supported")]
    problems = _table_rules(doc, tables[0], dmn) + _duplicate_ids(doc)
    # SpiffWorkflow knows UNIQUE and COLLECT; anything else silently acts as FIRST.
    policy = (tables[0].get("hitPolicy") or "UNIQUE").upper()
    if policy not in ("UNIQUE", "FIRST", "COLLECT") or tables[0].get("aggregation"):
        message = f"hit policy {policy} {tables[0].get('aggregation') or ''}".strip()
        message += " is not supported: use UNIQUE, FIRST or COLLECT without aggregation"
        problems.append(_at(doc, tables[0], message))
    return problems


# --- stage 3: SpiffWorkflow's own parser ---------------------------------------------------

_TRANSLATIONS = (
    (
        r"Exactly one start event is required in a SubWorkflow Task; found (\d+)",
        r"a sub-process needs exactly one start event (it has \1)",
    ),
    (r"A SubWorkflow Must contain an End event", "a sub-process needs an end event"),
    (r"No start event found", "the process has no start event"),
    (
        r"Multiple outgoing flows are not supported for tasks of type",
        "has more than one outgoing flow; only a gateway may split the path, so add one",
    ),
    (
        r"Non-default exclusive outgoing sequence flow without condition",
        "a flow leaving this gateway has no condition and is not the default flow",
    ),
    (r"Data Store with name (.+) has no implementation", r"data store '\1' is not supported"),
    (
        r"There is no support implemented for this task type",
        "this kind of element is not supported by the engine",
    ),
    (
        r"A multiinstance task must specify a cardinality or a collection",
        "a multi-instance activity needs a loop cardinality or a collection",
    ),
    (
        r"Cannot resolve data(Input|Output)Association.*",
        "a data association refers to a data object that cannot be found",
    ),
    (r"Process (.+) is not executable", r"process '\1' is not executable"),
    (
        r"When looking for a task spec.*\((.*)\)",
        r"a sequence flow leads to '\1', which is not in the same process",
    ),
    (
        r'No DMN Diagram available with id "(.*?)".*',
        r"decision '\1' not found in the bundle's DMN files",
    ),
    (r"decision '.*' cannot be used until .* is fixed", r"\g<0>"),
    (r"Duplicate process ID: (.+)", r"process id '\1' is used twice"),
    (
        r"Time Specification Error\. Unknown Time Specification",
        "the timer has no duration, date or cycle",
    ),
    (r"Time Specification Error\. (.*)", r"the timer could not be read: \1"),
    (r'No "calledElement" attribute for Call Activity', "calls no process: set the called element"),
    (r"Invalid Script Task.*", "has no script: write the Python script in the diagram"),
    (r"NotImplementedError\('Unsupported (\w+) Event.*", r"this kind of \1 event is not supported"),
    (
        r"KeyError\('\{http://camunda.org/schema/1.0/bpmn\}decisionRef'\)",
        "has no decision: set the decision reference",
    ),
)


def _plain(message: str) -> str:
    """SpiffWorkflow's message in words a process owner understands."""
    message = re.sub(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-f]+>", r"<\1>", message)
    message = " ".join(message.split()).rstrip(". ")
    for pattern, replacement in _TRANSLATIONS:
        if re.fullmatch(pattern, message, re.DOTALL):
            return re.sub(pattern, replacement, message, flags=re.DOTALL)
    message = message.replace(f"{{{CAMUNDA_NS}}}", "camunda:").replace(f"{{{BPMN_NS}}}", "")
    return f"the workflow engine cannot use this: {_snippet(message, 200)}"


def _from_spiff(exc: Exception, doc: _Doc | None, index: _Index) -> Problem:
    """Turn a SpiffWorkflow error into a Problem, finding its element and line in our tree."""
    element_id, file_name = None, doc.name if doc else "(bundle)"
    if isinstance(exc, ValidationException):
        message = str(exc.args[0]) if exc.args else type(exc).__name__
        element_id = exc.id or None
        file_name = exc.file_name or file_name
        store = re.match(r"Data Store with name (.+) has no implementation", message, re.DOTALL)
        if store and doc:  # raised without its node; find the data store by its name
            found = doc.root.xpath("//bpmn:dataStore[@name=$n]", n=store.group(1), namespaces=NS)
            element_id = found[0].get("id") if found else None
    elif isinstance(exc, KeyError) and doc and f"{{{CAMUNDA_NS}}}decisionRef" in str(exc):
        # Raised while indexing dependencies, before SpiffWorkflow knows which task it was.
        message = repr(exc)
        bad = doc.root.xpath("//bpmn:businessRuleTask[not(@camunda:decisionRef)]", namespaces=NS)
        element_id = bad[0].get("id") if bad else None
    else:
        message = f"{type(exc).__name__}: {exc}"
    missing = re.match(r'No DMN Diagram available with id "(.*?)"', message)
    if missing and missing.group(1) in index.decisions:  # there, but its file was refused
        where = index.decisions[missing.group(1)][0].name
        message = f"decision '{missing.group(1)}' cannot be used until {where} is fixed"
    target = index.docs.get(file_name, doc)
    element = target.by_id(element_id) if target else None
    for other in index.docs.values():
        element = element if element is not None else other.by_id(element_id)
    if element is None:
        return Problem(file_name, f"'{element_id}'" if element_id else None, None, _plain(message))
    return Problem(file_name, _label(element), element.sourceline, _plain(message))


def _build_specs(parser: CamundaParser, pid: str, index: _Index) -> list[Problem]:
    """Parse one process and its embedded sub-processes, one error per spec at most.

    Called processes get their own turn (missing ones are the reference rule's business), and
    a spec that failed is never asked for again: SpiffWorkflow caches the half-built spec.
    """
    problems: list[Problem] = []
    pending, seen = [pid], set()
    while pending:
        name = pending.pop()
        process_parser = parser.get_process_parser(name)
        if name in seen or process_parser is None:
            continue
        seen.add(name)
        try:
            spec = parser.get_spec(name)
        except Exception as exc:
            problems.append(_from_spiff(exc, index.docs.get(process_parser.filename), index))
            continue
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, SubWorkflowTask) and task_spec.spec not in index.processes:
                pending.append(task_spec.spec)
    return problems


def _spiff_stage(bpmn: list[_Doc], dmn: list[_Doc], index: _Index):
    """Stage 3: let SpiffWorkflow build every executable process, translating its errors."""
    parser = CamundaParser()  # no validator: stage 2 already ran the same schema, once
    problems: list[Problem] = []
    for doc in bpmn:
        try:
            if doc.usable:
                parser.add_bpmn_xml(doc.tree, filename=doc.name)
        except Exception as exc:
            problems.append(_from_spiff(exc, doc, index))
    for doc in dmn:
        try:
            if doc.usable:
                parser.add_dmn_xml(doc.root, filename=doc.name)
                # Decision tables are otherwise parsed only when a task first uses one.
                for dmn_parser in list(parser.dmn_parsers.values()):
                    if dmn_parser.filename == doc.name and dmn_parser.decision is None:
                        dmn_parser.parse()
        except Exception as exc:
            problems.append(_from_spiff(exc, doc, index))
    for pid in index.executable:
        problems.extend(_build_specs(parser, pid, index))
    return parser, problems


# --- the whole bundle ----------------------------------------------------------------------


def _parse_documents(files: dict[str, bytes], kind: str, problems: list[Problem]) -> list[_Doc]:
    """Stages 1 and 2 for every file of one kind; the documents that parsed are returned."""
    docs = []
    for name, data in files.items():
        try:
            doc = _Doc(name, parse_xml(data, name))
            found = schema_problems(doc.tree, name, kind)
        except XmlRejected as exc:
            problems.append(exc.problem)
            continue
        except Exception as exc:  # a crash in one file must not hide the others' problems
            problems.append(Problem(name, None, None, f"could not be read ({exc!r})"))
            continue
        doc.usable = not found
        problems.extend(found)
        docs.append(doc)
    return docs


def _check_forms(files: dict[str, bytes], problems: list[Problem]) -> dict[str, dict]:
    valid = {}
    for key, data in files.items():
        try:
            schema, reasons = parse_form(data)
        except Exception as exc:  # e.g. RecursionError from absurdly nested JSON
            schema, reasons = None, [f"could not be read ({type(exc).__name__})"]
        if schema is not None:
            valid[key] = schema
        problems.extend(Problem(f"forms/{key}.json", None, None, r) for r in reasons)
    return valid


def _crashed(doc: _Doc, exc: Exception) -> Problem:
    return Problem(doc.name, None, None, f"could not be checked ({exc!r})")


def _kinflow_stage(bpmn: list[_Doc], dmn: list[_Doc], index: _Index, context: _Context):
    """Stage 4 for every file, each on its own so one crash cannot hide the rest."""
    problems: list[Problem] = []
    user_tasks: dict[str, dict[str, UserTaskProps]] = {}
    for doc in bpmn:
        try:
            found, tasks = _bpmn_rules(doc, index, context)
        except Exception as exc:
            found, tasks = [_crashed(doc, exc)], {}
        problems.extend(found)
        for props in tasks.values():
            user_tasks.setdefault(props.process_id, {})[props.element_id] = props
    for doc in dmn:
        try:
            problems.extend(_dmn_rules(doc, index))
        except Exception as exc:
            problems.append(_crashed(doc, exc))
    return problems, user_tasks


# SpiffWorkflow errors that Kinflow's reference rules also find, in clearer words.
_COVERED = re.compile(
    r"decision '.*' not found|has no decision|process '.*' is not executable|calls no process"
    r"|has no script"
)


def _merge(early: list[Problem], structural: list[Problem], kinflow: list[Problem]):
    """Drop SpiffWorkflow's version of a problem Kinflow's rules explain on the same element."""
    explained = {(p.file, p.element) for p in kinflow if p.element}
    kept = [
        p
        for p in structural
        if (p.file, p.element) not in explained or not _COVERED.match(p.message)
    ]
    unique = list(dict.fromkeys([*early, *kept, *kinflow]))
    order = {name: i for i, name in enumerate(dict.fromkeys(p.file for p in unique))}
    return sorted(unique, key=lambda p: (order[p.file], p.line or 0))


def validate_bundle(bundle: Bundle, roles: Iterable[str] = ROLES) -> ValidatedBundle:
    """Check every file of a bundle; never raises: every reason lands in ``problems``."""
    early: list[Problem] = []
    bpmn = _parse_documents(bundle.bpmn, "bpmn", early)
    dmn = _parse_documents(bundle.dmn, "dmn", early)
    forms = _check_forms(bundle.forms, early)
    index = _Index.build(bpmn, dmn)
    context = _Context(tuple(roles), frozenset(bundle.forms), frozenset(forms))
    kinflow, user_tasks = _kinflow_stage(bpmn, dmn, index, context)
    for doc in dmn:  # SpiffWorkflow's errors on a refused DMN file would only repeat ours
        doc.usable = doc.usable and not any(p.file == doc.name for p in kinflow)
    try:
        parser, structural = _spiff_stage(bpmn, dmn, index)
    except Exception as exc:  # belt and braces: the stage already catches per file
        reason = f"could not be parsed: {exc!r}"
        parser, structural = None, [Problem("(bundle)", None, None, reason)]
    called = index.called_processes()
    return ValidatedBundle(
        bundle=bundle,
        problems=_merge(early, structural, kinflow),
        parser=parser,
        executable_process_ids=list(index.executable),
        entry_process_ids=[pid for pid in index.executable if pid not in called],
        user_tasks=user_tasks,
        forms=forms,
    )
