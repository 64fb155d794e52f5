"""Serialized workflow state: specs stored once per version, cases stored without them.

SpiffWorkflow's serializer writes the whole spec into every workflow document and parses it
back on every load. Kinflow keeps the spec on the process version, restores it once per
version into ``VersionCache``, and keeps the live workflow of recently touched cases in
``WorkflowCache`` so a case whose revision has not moved is not deserialized at all.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from copy import deepcopy
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG

Specs = tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Writes a workflow without its specs and restores it onto specs supplied by the caller."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], specs: Specs | None = None) -> BpmnWorkflow:
        if specs is None:
            return super().from_dict(dct)
        spec, subprocess_specs = specs
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _registry() -> Any:
    config = deepcopy(CAMUNDA_CONFIG)
    config[BpmnWorkflow] = _SpeclessWorkflowConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # Form data carries dates and money; the stock registry refuses both.
    registry.register(
        date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"])
    )
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    return registry


class StateCodec:
    """Turns specs and workflows into JSON text and back, with the Camunda registry."""

    def __init__(self) -> None:
        self.serializer = BpmnWorkflowSerializer(_registry())
        self.registry = self.serializer.registry

    def dump_specs(self, spec: BpmnProcessSpec, subprocess_specs: dict[str, Any]) -> str:
        return json.dumps(
            {
                "spec": self.registry.convert(spec),
                "subprocess_specs": {
                    k: self.registry.convert(v) for k, v in subprocess_specs.items()
                },
            }
        )

    def load_specs(self, text: str) -> Specs:
        dct = json.loads(text)
        spec = self.registry.restore(dct["spec"])
        subs = {k: self.registry.restore(v) for k, v in dct["subprocess_specs"].items()}
        return spec, subs

    def dump_workflow(self, workflow: BpmnWorkflow) -> str:
        self.registry._encoder_mode = True
        try:
            dct = self.registry.convert(workflow)
            return json.dumps(dct, cls=self.serializer._encoder_cls, separators=(",", ":"))
        finally:
            self.registry._encoder_mode = False

    def load_workflow(self, text: str, specs: Specs) -> BpmnWorkflow:
        dct = json.loads(text)
        return self.registry.restore(dct, specs=specs)


class _LRU:
    """A small thread-safe LRU map."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def pop(self, key: Any) -> Any:
        with self._lock:
            return self._items.pop(key, None)

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True)
class RunnableVersion:
    """What running a case needs from its process version, restored once and shared.

    Process versions are immutable, so a cached entry never goes stale.
    """

    id: int
    process_id: str
    name: str
    specs: Specs
    user_tasks: dict[str, dict[str, Any]]
    forms: dict[str, dict[str, Any]]


class VersionCache(_LRU):
    """Runnable versions by process-version id."""


class WorkflowCache(_LRU):
    """Live workflows by case id, each with the revision it was saved at.

    A caller *takes* a workflow (removing it, so no other thread can step the same object) and
    *returns* it only after its transaction committed; a failed transaction simply drops it.
    """

    def take(self, case_id: int, revision: int) -> BpmnWorkflow | None:
        entry = self.pop(case_id)
        if entry is not None and entry[0] == revision:
            return entry[1]
        return None

    def give_back(self, case_id: int, revision: int, workflow: BpmnWorkflow) -> None:
        self.put(case_id, (revision, workflow))
