"""Where a case is on its diagrams: what ran, what waits now and what is overdue, per process.

The case page draws each process the case has entered (the pathway, then its stages) with
bpmn-js and marks elements; this module works out the marks from the case's workflow, read
and given back untouched, and from the ``human_tasks`` projection.

The projection matters because the engine prunes finished history (``engine.history``): the
task tree only holds what can still change, so a case a year in no longer remembers its
referral there. Completed user tasks come back from their projected rows. The start event of
every (sub-)process the case entered has run by definition, and a call activity whose called
process has had work done in it has completed unless it is running now or was cancelled.
Automatic steps that were pruned (gateways, scripts, decisions, timers) are not recovered.

SpiffWorkflow 3.2 keeps a sub-workflow per call activity *and* per embedded sub-process, each
with a spec named after the called process or after the sub-process element, and the Camunda
parser makes both ``CallActivity`` specs. Only the deployed XML tells them apart, so elements
of an embedded sub-process are drawn in the diagram of the process that contains it.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.models import HumanTask, ProcessVersion, TaskState
from engine.queries import get_case
from engine.state import Specs
from engine.xmlsafe import parse_xml

if TYPE_CHECKING:
    from engine.runtime import Runtime

_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_EMBEDDED = {f"{_BPMN}{tag}" for tag in ("subProcess", "transaction", "adHocSubProcess")}
_UNDONE = SpiffState.CANCELLED | SpiffState.ERROR


@dataclass(frozen=True)
class DiagramView:
    """One process's diagram with the case's marks, as the case page's viewer draws it.

    ``completed`` holds elements that have run at least once, ``active`` those waiting now
    (an element in a loop can be both); ``overdue`` is the part of ``active`` whose task is
    past its due date. ``labels`` gives the name of each marked element that has one, for
    the text alternative beside the drawing.
    """

    process_id: str
    name: str
    file_name: str
    bpmn_xml: str
    completed: tuple[str, ...]
    active: tuple[str, ...]
    overdue: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The shape ``webapp/static/js/case-diagram.js`` reads, one per diagram."""
        return {
            "process_id": self.process_id,
            "name": self.name,
            "file_name": self.file_name,
            "bpmn_xml": self.bpmn_xml,
            "completed": list(self.completed),
            "active": list(self.active),
            "overdue": list(self.overdue),
            "labels": dict(self.labels),
        }


@dataclass(frozen=True)
class _Drawn:
    """A process as drawn in a deployed file."""

    process_id: str
    name: str
    file_name: str


@dataclass
class _VersionIndex:
    """What a version's files and specs say about drawing its cases; built once per content."""

    drawn: dict[str, _Drawn] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)  # spec name -> drawn process id
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # process -> id -> name
    starts: dict[str, list[str]] = field(default_factory=dict)  # spec name -> none starts
    callers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (spec, element)


@dataclass
class _Marks:
    """Element ids per drawn process, gathered from the tree, the projection and inference."""

    completed: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    active: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    overdue: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    undone: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    entered: set[str] = field(default_factory=set)  # spec names the case has run in


def case_diagrams(session: Session, runtime: Runtime, case_id: int) -> list[DiagramView]:
    """The diagrams of every process the case has entered, main process first, then the
    called processes in the order the case entered them, each with the case's marks.

    Read-only: the workflow is loaded as the runtime would and given back unchanged.
    """
    case = get_case(session, case_id)
    runnable = runtime.store.version(session, case.version_id)
    process_id, content_hash, files = session.execute(
        select(ProcessVersion.process_id, ProcessVersion.content_hash, ProcessVersion.files).where(
            ProcessVersion.id == case.version_id
        )
    ).one()
    index = _index_for(content_hash, files, runnable.specs)
    rows = session.execute(
        select(HumanTask.process_id, HumanTask.element_id, HumanTask.state, HumanTask.due_at)
        .where(HumanTask.case_id == case.id)
        .order_by(HumanTask.id)
    ).all()
    workflow = runtime.store.load(case, runnable)
    try:
        marks = _marks_from_tree(workflow, index)
        live_order = [index.owner.get(w.spec.name) for w in _workflows(workflow)]
    finally:
        runtime.store.keep(case, workflow)
    _marks_from_rows(rows, index, marks)
    _infer_completed(index, marks)
    order = _order_entered(process_id, [index.owner.get(r.process_id) for r in rows], live_order)
    return [_view(index.drawn[pid], files, marks, index) for pid in order if pid in index.drawn]


def _workflows(workflow: BpmnWorkflow) -> Iterator[Any]:
    """The workflow and its sub-workflows, in the order they were created."""
    yield workflow
    yield from workflow.subprocesses.values()


def _is_waiting_here(task: Task) -> bool:
    """Whether the case is waiting at this task's element: a task for a person, a running
    call activity or sub-process, or a timer or message caught on the sequence flow.
    Boundary events and event start events only listen, so they are not where a case is."""
    if task.state in (SpiffState.READY, SpiffState.STARTED):
        return True
    spec = task.task_spec
    return (
        task.state == SpiffState.WAITING
        and isinstance(spec, CatchingEvent)
        and not isinstance(spec, BoundaryEvent | StartEvent)
    )


def _marks_from_tree(workflow: BpmnWorkflow, index: _VersionIndex) -> _Marks:
    marks = _Marks()
    for sub in _workflows(workflow):
        marks.entered.add(sub.spec.name)
        owner = index.owner.get(sub.spec.name)
        if owner is None:
            continue
        for task in sub.tasks.values():
            element = task.task_spec.bpmn_id
            if element is None:  # Spiff's own joins and splits
                continue
            if task.state == SpiffState.COMPLETED:
                marks.completed[owner].add(element)
            elif task.state & _UNDONE:
                marks.undone[owner].add(element)
            elif _is_waiting_here(task):
                marks.active[owner].add(element)
    return marks


def _marks_from_rows(rows: Iterable[Any], index: _VersionIndex, marks: _Marks) -> None:
    """Completed user tasks survive in the projection after the tree forgot them; overdue
    is the projection's own notion (READY and past ``due_at``)."""
    now = clock.now()
    for row in rows:
        marks.entered.add(row.process_id)
        owner = index.owner.get(row.process_id)
        if owner is None:
            continue
        if row.state == TaskState.COMPLETED:
            marks.completed[owner].add(row.element_id)
        elif row.state == TaskState.READY and row.due_at is not None and row.due_at < now:
            marks.overdue[owner].add(row.element_id)  # kept only where also active


def _infer_completed(index: _VersionIndex, marks: _Marks) -> None:
    """Restore what pruning hid but must have happened: each entered (sub-)process started at
    its none start events, and its only caller finished unless it runs now or was cancelled."""
    for spec_name in marks.entered:
        owner = index.owner.get(spec_name)
        if owner is not None:
            marks.completed[owner].update(index.starts.get(spec_name, ()))
        callers = index.callers.get(spec_name, [])
        if len(callers) != 1:
            continue  # called from several places (or none): which one ran is unknown
        caller_spec, element = callers[0]
        caller = index.owner.get(caller_spec)
        if caller is None or element in marks.active[caller]:
            continue
        if element in marks.undone[caller] and element not in marks.completed[caller]:
            continue
        marks.completed[caller].add(element)


def _order_entered(main: str, by_rows: list[str | None], live: list[str | None]) -> list[str]:
    """Processes in the order entered: first tasks in the projection give the order of
    everything that had a person's task; a running process with none yet sits just before
    the next one the tree created after it, or last."""
    order: list[str] = [main]
    for pid in by_rows:
        if pid is not None and pid not in order:
            order.append(pid)
    anchor: int | None = None
    for pid in reversed(live):
        if pid is None:
            continue
        if pid in order:
            anchor = order.index(pid)
            continue
        position = len(order) if anchor is None else anchor
        order.insert(position, pid)
        anchor = position
    return order


def _view(
    drawn: _Drawn, files: Mapping[str, str], marks: _Marks, index: _VersionIndex
) -> DiagramView:
    pid = drawn.process_id
    completed, active = marks.completed[pid], marks.active[pid]
    names = index.labels.get(pid, {})
    labels = {e: names[e] for e in sorted(completed | active) if e in names}
    return DiagramView(
        process_id=pid,
        name=drawn.name,
        file_name=drawn.file_name,
        bpmn_xml=files[drawn.file_name],
        completed=tuple(sorted(completed)),
        active=tuple(sorted(active)),
        overdue=tuple(sorted(marks.overdue[pid] & active)),
        labels=labels,
    )


# -- what a version's diagrams hold, built once per content --------------------------------

_cache: dict[str, _VersionIndex] = {}
_cache_lock = threading.Lock()
_CACHE_SIZE = 64


def _index_for(content_hash: str, files: Mapping[str, str], specs: Specs) -> _VersionIndex:
    """Versions are content-addressed and immutable, so the hash is a safe key even across
    databases (tests run many, all with version id 1)."""
    with _cache_lock:
        found = _cache.get(content_hash)
    if found is not None:
        return found
    index = _VersionIndex()
    _read_files(files, index)
    _read_specs(specs, index)
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[content_hash] = index
    return index


def _read_files(files: Mapping[str, str], index: _VersionIndex) -> None:
    """Which file draws each process, and which process draws each embedded sub-process."""
    for file_name, text in sorted(files.items()):
        if not file_name.endswith(".bpmn"):
            continue
        root = parse_xml(text.encode(), file_name).getroot()
        for process in root.iter(f"{_BPMN}process"):
            pid = process.get("id")
            if not pid:
                continue
            index.drawn[pid] = _Drawn(pid, process.get("name") or pid, file_name)
            index.owner[pid] = pid
            for element in process.iter(*_EMBEDDED):
                if element.get("id"):
                    index.owner[element.get("id")] = pid


def _read_specs(specs: Specs, index: _VersionIndex) -> None:
    """Element names, none start events and callers, from the parsed specs."""
    top, subs = specs
    for spec in [top, *subs.values()]:
        owner = index.owner.get(spec.name)
        names = index.labels.setdefault(owner, {}) if owner else {}
        for task_spec in spec.task_specs.values():
            element = getattr(task_spec, "bpmn_id", None)
            if element is None:
                continue
            if task_spec.bpmn_name:
                names[element] = task_spec.bpmn_name
            if isinstance(task_spec, StartEvent) and isinstance(
                task_spec.event_definition, NoneEventDefinition
            ):
                index.starts.setdefault(spec.name, []).append(element)
            if isinstance(task_spec, SubWorkflowTask):
                index.callers.setdefault(task_spec.spec, []).append((spec.name, element))
