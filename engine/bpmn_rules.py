"""Kinflow's own rules on a BPMN document, beyond what the schema and SpiffWorkflow check.

SpiffWorkflow accepts a process without an id and knows nothing of Kinflow's roles and forms,
so a user task nobody may claim, a missing form or a condition that cannot compile would
surface only when a case reaches it. These rules catch such things at deploy, with the element
and line: executable processes and their ids, every user task's role, form and dates,
references to other files, and every expression, timer and script compiled in the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser

from engine.camunda_props import BPMN_NS, CAMUNDA_NS, UserTaskProps, read_user_tasks
from engine.documents import (
    Document,
    DocumentIndex,
    bpmn_tag,
    duplicate_ids,
    is_executable,
    problem_at,
)
from engine.errors import Problem
from engine.expressions import (
    TIMER_KINDS,
    assignee_expression,
    due_reason,
    expression_reason,
    script_reason,
    timer_reason,
)
from engine.forms import FORM_KEY_PATTERN


@dataclass(frozen=True)
class RuleContext:
    """What user tasks are checked against besides the diagrams: roles and this deploy's forms."""

    roles: tuple[str, ...]
    form_keys: frozenset[str]
    valid_forms: frozenset[str]


def _roles_hint(roles: tuple[str, ...]) -> str:
    return "known roles: " + ", ".join(roles)


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


def _form_problem(key: str | None, context: RuleContext) -> str | None:
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


def _user_task_rules(
    doc: Document, task: etree._Element, props: UserTaskProps, context: RuleContext
) -> list[Problem]:
    reasons = [_role_problem(props, context.roles), _form_problem(props.form_key, context)]
    for what, value in (("due date", props.due_date), ("follow-up date", props.follow_up_date)):
        reason = due_reason(value) if value else None
        reasons.append(reason and f"{what} {reason}")
    expression = assignee_expression(props.assignee) if props.assignee else None
    if expression is not None:
        reason = expression_reason(expression)
        reasons.append(reason and f"assignee {reason}")
    return [problem_at(doc, task, reason) for reason in reasons if reason]


def _reference_rules(doc: Document, process: etree._Element, index: DocumentIndex) -> list[Problem]:
    """Call activities and business rule tasks must point at something in the bundle."""
    problems = []
    for call in process.iter(bpmn_tag("callActivity")):
        called = (call.get("calledElement") or "").strip()
        known = ", ".join(sorted(index.processes)) or "none"
        if not called:
            problems.append(problem_at(doc, call, "calls no process: set the called element"))
        elif called not in index.processes:
            message = f"calls process '{called}', which is not in this bundle (processes: {known})"
            problems.append(problem_at(doc, call, message))
        elif called not in index.executable:
            message = f"calls process '{called}', which is not executable: set isExecutable on it"
            problems.append(problem_at(doc, call, message))
    for task in process.iter(bpmn_tag("businessRuleTask")):
        ref = (task.get(f"{{{CAMUNDA_NS}}}decisionRef") or "").strip()
        known = ", ".join(sorted(index.decisions)) or "none"
        if not ref:
            problems.append(problem_at(doc, task, "has no decision: set the decision reference"))
        elif ref not in index.decisions:
            message = f"decision '{ref}' not found in the bundle's DMN files (decisions: {known})"
            problems.append(problem_at(doc, task, message))
    return problems


# Elements whose text SpiffWorkflow evaluates as an expression, and what to call them.
_EXPRESSIONS = {
    "conditionExpression": "condition",
    "condition": "event condition",
    "loopCondition": "loop condition",
    "loopCardinality": "loop cardinality",
    "completionCondition": "completion condition",
}


def _expression_rules(doc: Document, process: etree._Element) -> list[Problem]:
    """Every expression, timer and script in one process, compiled in the sandbox."""
    problems = []
    for element in process.iter(f"{{{BPMN_NS}}}*"):
        local = etree.QName(element).localname
        reason = None
        if local in _EXPRESSIONS:
            reason = expression_reason(element.text, element.get("language"))
            reason = reason and f"{_EXPRESSIONS[local]} {reason}"
        elif local in TIMER_KINDS:
            reason = timer_reason(local, element.text)
            reason = reason and f"timer {reason}"
        elif local == "scriptTask":
            reason = script_reason(element)
        elif local == "messageEventDefinition" and element.get(f"{{{CAMUNDA_NS}}}expression"):
            reason = expression_reason(element.get(f"{{{CAMUNDA_NS}}}expression"))
            reason = reason and f"message payload {reason}"
        if reason:
            problems.append(problem_at(doc, element, reason))
    return problems


def _document_rules(doc: Document, index: DocumentIndex) -> list[Problem]:
    """Process ids and executability, and ids unique within the file."""
    problems, processes = [], list(doc.root.iter(bpmn_tag("process")))
    for process in processes:
        pid = process.get("id")
        if not pid:
            message = "has no id: give the process an id (Process ID in the properties panel)"
            problems.append(Problem(doc.name, "process", process.sourceline, message))
        elif index.processes[pid][0] is not doc:  # twice in one file: the id rule says so
            other = index.processes[pid][0].name
            message = f"process id '{pid}' is also used in {other}; process ids must be unique"
            problems.append(problem_at(doc, process, message))
    if not any(is_executable(p) for p in processes):
        message = "no executable process: set isExecutable on a process"
        problems.append(Problem(doc.name, None, None, message))
    duplicates = duplicate_ids(doc)
    doc.usable = doc.usable and not duplicates  # SpiffWorkflow would only add confusion
    return problems + duplicates


_FLOW_TAGS = frozenset(
    [
        *CamundaParser.PARSER_CLASSES,
        *CamundaParser.OVERRIDE_PARSER_CLASSES,
        bpmn_tag("sequenceFlow"),
    ]
)


def check_bpmn(
    doc: Document, index: DocumentIndex, context: RuleContext
) -> tuple[list[Problem], dict[str, UserTaskProps]]:
    """Stage 4 for one BPMN file; returns its problems and its user tasks' properties."""
    problems = _document_rules(doc, index)
    all_tasks = read_user_tasks(doc.tree)
    tasks: dict[str, UserTaskProps] = {}
    for process in doc.root.iter(bpmn_tag("process")):
        if not is_executable(process) or index.processes[process.get("id")][1] is not process:
            continue
        for element in process.iter(*_FLOW_TAGS):
            if not element.get("id"):  # SpiffWorkflow would build a task spec named None
                message = "has no id: every element of a process needs one"
                problems.append(
                    Problem(doc.name, etree.QName(element).localname, element.sourceline, message)
                )
        for task in process.iter(bpmn_tag("userTask")):
            props = all_tasks.get(task.get("id") or "")
            if props is not None and props.line == task.sourceline:
                tasks[props.element_id] = props
                problems.extend(_user_task_rules(doc, task, props, context))
        problems.extend(_expression_rules(doc, process))
        problems.extend(_reference_rules(doc, process, index))
    return problems, tasks
