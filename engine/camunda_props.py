"""Read the Camunda user-task attributes that SpiffWorkflow's CamundaParser drops.

The Camunda properties panel edits assignee, candidate users and groups, due and follow-up
dates, priority and the form key; SpiffWorkflow 3.2 keeps only the form key. Kinflow gives each
of them its Camunda meaning, so deploy reads them here from the safely parsed XML and stores
them with the version.

``process_id`` is the id of the spec that SpiffWorkflow builds around the task: the enclosing
process, or the innermost embedded sub-process (``subProcess``, ``transaction``,
``adHocSubProcess``), because that is ``task.workflow.spec.name`` at run time and the key
``get_subprocess_specs`` uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from lxml import etree

from engine.roles import role_for_lane

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}

# Elements SpiffWorkflow turns into a spec of their own, named by their id.
SPEC_CONTAINERS = frozenset(
    f"{{{BPMN_NS}}}{tag}" for tag in ("process", "subProcess", "transaction", "adHocSubProcess")
)


@dataclass(frozen=True)
class UserTaskProps:
    """What the properties panel set on one user task, as Kinflow will use it."""

    element_id: str
    process_id: str
    name: str
    lane: str | None
    role: str | None
    candidate_groups: tuple[str, ...]
    candidate_users: tuple[str, ...]
    assignee: str | None
    due_date: str | None
    follow_up_date: str | None
    priority: str | None
    form_key: str | None
    documentation: str | None
    line: int | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists) for storing with the version."""
        data = asdict(self)
        data["candidate_groups"] = list(self.candidate_groups)
        data["candidate_users"] = list(self.candidate_users)
        return data

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UserTaskProps:
        """Rebuild from ``to_dict`` output; unknown keys are ignored so old rows still load."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        for key in ("candidate_groups", "candidate_users"):
            values[key] = tuple(values.get(key) or ())
        for f in fields(cls):
            values.setdefault(f.name, None)
        return cls(**values)


def split_list(value: str | None) -> tuple[str, ...]:
    """Split a Camunda comma-separated list ("coordinator, fgc_manager"), dropping blanks."""
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _camunda(element: etree._Element, name: str) -> str | None:
    value = element.get(f"{{{CAMUNDA_NS}}}{name}")
    return value if value is None else value.strip() or None


def _documentation(element: etree._Element) -> str | None:
    docs = element.findall(f"{{{BPMN_NS}}}documentation")
    text = "\n".join(d.text.strip() for d in docs if d.text and d.text.strip())
    return text or None


def _lane_index(process: etree._Element) -> dict[str, str | None]:
    """Map flow node id to the name of the innermost lane listing it.

    Lane sets may nest (``childLaneSet``) and embedded sub-processes may carry their own; the
    deepest lane wins, which is also what SpiffWorkflow's document-order index ends up with.
    """
    ranked: dict[str, tuple[int, str | None]] = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        depth = sum(1 for a in lane.iterancestors() if a.tag == f"{{{BPMN_NS}}}lane")
        for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef"):
            node_id = (ref.text or "").strip()
            if node_id and (node_id not in ranked or ranked[node_id][0] <= depth):
                ranked[node_id] = (depth, lane.get("name"))
    return {node_id: name for node_id, (_, name) in ranked.items()}


def _containers(task: etree._Element) -> list[etree._Element]:
    """Spec-owning ancestors of a task, outermost (the process) first."""
    chain = [a for a in task.iterancestors() if a.tag in SPEC_CONTAINERS]
    return list(reversed(chain))


def _lane_for(task: etree._Element, containers: list[etree._Element], lanes: dict) -> str | None:
    """The lane SpiffWorkflow will give the task.

    SpiffWorkflow hands an embedded sub-process's lane down to everything inside it, so the
    outermost enclosing sub-process that sits in a lane decides; only when none does is the
    task's own flowNodeRef used.
    """
    for container in containers[1:]:
        lane = lanes.get(container.get("id") or "")
        if lane is not None:
            return lane
    return lanes.get(task.get("id") or "")


def _props(task: etree._Element, containers: list, lanes: dict) -> UserTaskProps:
    lane = _lane_for(task, containers, lanes)
    return UserTaskProps(
        element_id=task.get("id") or "",
        process_id=containers[-1].get("id") or "",
        name=(task.get("name") or "").strip() or (task.get("id") or ""),
        lane=lane,
        role=role_for_lane(lane),
        candidate_groups=split_list(_camunda(task, "candidateGroups")),
        candidate_users=split_list(_camunda(task, "candidateUsers")),
        assignee=_camunda(task, "assignee"),
        due_date=_camunda(task, "dueDate"),
        follow_up_date=_camunda(task, "followUpDate"),
        priority=_camunda(task, "priority"),
        form_key=_camunda(task, "formKey"),
        documentation=_documentation(task),
        line=task.sourceline,
    )


def read_user_tasks(tree: etree._ElementTree | etree._Element) -> dict[str, UserTaskProps]:
    """Every user task in the document's processes, keyed by element id.

    Includes user tasks nested in embedded sub-processes; lanes come from the process's lane
    sets, which in a collaboration belong to the process a participant refers to.
    """
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    result: dict[str, UserTaskProps] = {}
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        lanes = _lane_index(process)
        for task in process.iter(f"{{{BPMN_NS}}}userTask"):
            if not task.get("id"):
                continue
            containers = _containers(task)
            result.setdefault(task.get("id"), _props(task, containers, lanes))
    return result
