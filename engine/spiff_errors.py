"""Stage 3: SpiffWorkflow's own parser over our trees, its errors put in plain words.

SpiffWorkflow finds the structural mistakes (no start event, a flow that splits outside a
gateway, an unsupported element) but reports them in its own terms, often without a line and
sometimes as a bare ``KeyError``. Here every executable process is built from the trees
``engine.xmlsafe`` parsed, never from the raw bytes, and each exception becomes a ``Problem``
located in our tree and phrased for a process owner.
"""

from __future__ import annotations

import re

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser

from engine.camunda_props import BPMN_NS, CAMUNDA_NS, NS
from engine.documents import Document, DocumentIndex, label, snippet
from engine.errors import Problem

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
    return f"the workflow engine cannot use this: {snippet(message, 200)}"


def _from_spiff(exc: Exception, doc: Document | None, index: DocumentIndex) -> Problem:
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
    return Problem(file_name, label(element), element.sourceline, _plain(message))


def _build_specs(parser: CamundaParser, pid: str, index: DocumentIndex) -> list[Problem]:
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


def spiff_stage(
    bpmn: list[Document], dmn: list[Document], index: DocumentIndex
) -> tuple[CamundaParser, list[Problem]]:
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
