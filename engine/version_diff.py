"""What changes between two versions of a process, and moving one workflow across.

SpiffWorkflow 3.2 compares two specs element by element (``SpecDiff``, matching by element id)
and re-points a workflow's tasks at the new spec (``migrate_workflow``); whether a workflow
*may* move is left to the application. Kinflow's rule:

- a case waiting at (or inside) an element the new version removes stays where it is;
- so does a case whose completed part changed: an element it completed whose definition,
  Kinflow settings (roles, assignee, dates, form key) or form differ in the new version;
- a change to what an element connects to never blocks: the waiting tasks are planned again
  from the new diagram, which is how a case takes a step added after the one it is at.

``move_workflow`` closes two gaps in ``migrate_workflow``: it plans again what follows a
running call activity (else the new steps after it are skipped), and it keeps the due moment
of waiting timers that did not change (else every running SLA starts again from the move).
No database here: ``engine.migration`` moves cases.
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from engine.projection import find_task
from engine.state import RunnableVersion, StateCodec

# Attributes that only say what an element connects to, or what it is called: a change to
# them alone never stops a case (the waiting tasks are planned again from the new diagram).
_WIRING = frozenset({"inputs", "outputs", "cond_task_specs", "default_task_spec"})
_LABELS = frozenset({"bpmn_name", "documentation"})
# Kinflow's own user-task settings (``ProcessVersion.user_tasks``), read by the engine.
_SETTINGS = (
    "lane",
    "role",
    "candidate_groups",
    "candidate_users",
    "assignee",
    "due_date",
    "follow_up_date",
    "priority",
    "form_key",
)
_AT = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
_UNSTARTED = TaskState.FUTURE | TaskState.PREDICTED_MASK


@dataclass(frozen=True)
class VersionDiff:
    """What differs between an older version and a newer one, worked out once for its cases."""

    old: RunnableVersion
    new: RunnableVersion
    spec_diffs: dict[str, SpecDiff | None]  # process id -> diff; None: the process is gone
    removed: frozenset[tuple[str, str]]  # (process id, spec name)
    changed: frozenset[tuple[str, str]]
    changed_elements: frozenset[str]  # user tasks whose settings or form changed


def diff_versions(codec: StateCodec, old: RunnableVersion, new: RunnableVersion) -> VersionDiff:
    old_specs = {old.process_id: old.specs[0], **old.specs[1]}
    new_specs = {new.process_id: new.specs[0], **new.specs[1]}
    diffs: dict[str, SpecDiff | None] = {}
    removed: set[tuple[str, str]] = set()
    changed: set[tuple[str, str]] = set()
    for pid, spec in old_specs.items():
        if pid not in new_specs:
            diffs[pid] = None
            continue
        diff = diffs[pid] = SpecDiff(codec.registry, spec, new_specs[pid])
        removed |= {(pid, s.name) for s in diff.removed}
        changed |= {
            (pid, s.name) for s, what in diff.changed.items() if set(what) - _WIRING - _LABELS
        }
    settings = _settings_changed(old, new)
    return VersionDiff(old, new, diffs, frozenset(removed), frozenset(changed), settings)


def _settings_changed(old: RunnableVersion, new: RunnableVersion) -> frozenset[str]:
    """User tasks whose Kinflow settings or form differ (the spec diff sees neither)."""
    found = set()
    for pid, tasks in old.user_tasks.items():
        for element, before in tasks.items():
            after = new.user_tasks.get(pid, {}).get(element)
            if after is None:
                continue
            settings_differ = any(before.get(k) != after.get(k) for k in _SETTINGS)
            form_before = old.forms.get(before.get("form_key") or "")
            if settings_differ or form_before != new.forms.get(after.get("form_key") or ""):
                found.add(element)
    return frozenset(found)


# -- may it move? ---------------------------------------------------------------------------


def blockers(
    workflow: BpmnWorkflow, diff: VersionDiff, completed: Iterable[tuple[str, str, str]]
) -> list[str]:
    """Why the workflow cannot move, naming each element; empty when it can.

    ``completed`` lists user tasks done earlier as (process id, element id, title): finished
    history is pruned from the task tree (``engine.history``), the task projection keeps it.
    """
    reasons = []
    for wf in _all(workflow):
        pid = wf.spec.name
        if diff.spec_diffs.get(pid) is None:
            caller = find_task(workflow, wf.parent_task_id) if wf is not workflow else None
            name = named(caller.task_spec) if caller else f"'{pid}'"
            if wf.completed:
                reasons.append(f"{name} was removed after this case had been through it")
            else:
                reasons.append(f"the case is inside {name}, which the new version removes")
            continue
        for task in wf.get_tasks(skip_subprocesses=True):
            spec = task.task_spec
            if spec.bpmn_id is not None:  # not the engine's own joins and splits
                reasons.append(_blocker(diff, pid, spec.name, named(spec), task.state))
    for pid, element, title in completed:
        name = f"'{title}' ({element})"
        reasons.append(_blocker(diff, pid, element, name, TaskState.COMPLETED))
    return list(dict.fromkeys(r for r in reasons if r))


def _blocker(diff: VersionDiff, pid: str, spec_name: str, name: str, state: int) -> str | None:
    key = (pid, spec_name)
    if key in diff.removed:
        if state & _AT:
            return f"the case is waiting at {name}, which the new version removes"
        if state & TaskState.COMPLETED:
            return f"{name} was removed after this case had completed it"
    elif key in diff.changed or spec_name in diff.changed_elements:
        if state & TaskState.COMPLETED:
            return f"{name} was changed after this case had completed it"
        if state & TaskState.STARTED:
            return f"{name} was changed while the case is inside it"
    return None


def named(spec: Any) -> str:
    """An element as a process owner knows it: its name and id."""
    element = spec.bpmn_id or spec.name.split(".")[0]
    return f"'{spec.bpmn_name}' ({element})" if spec.bpmn_name else f"'{element}'"


def _all(workflow: BpmnWorkflow) -> list[Any]:
    return [workflow, *workflow.subprocesses.values()]


# -- moving ---------------------------------------------------------------------------------


def move_workflow(workflow: BpmnWorkflow, diff: VersionDiff, codec: StateCodec) -> list[str]:
    """Re-point the workflow at the new version's specs, in place; returns why that failed.

    Call only when ``blockers`` found nothing; on failure the workflow is unusable.
    """
    timers = _waiting_internals(workflow, diff)
    spec, dependencies = diff.new.specs
    migrate_workflow(WorkflowDiff(workflow, diff.spec_diffs[spec.name]), workflow, spec)
    for sub in list(workflow.subprocesses.values()):
        name = sub.spec.name
        migrate_workflow(WorkflowDiff(sub, diff.spec_diffs[name]), sub, dependencies[name])
    workflow.subprocess_specs = dependencies
    for wf in _all(workflow):
        _replan_running(wf)
    _restore(workflow, timers)
    # A task that became automatic (a script where a form was) runs now, as after any step.
    workflow.do_engine_steps()
    reasons = _strays(workflow)
    if not reasons:  # the moved document must read back onto the new version
        codec.load_workflow(codec.dump_workflow(workflow), diff.new.specs)
    return reasons


def _waiting_internals(workflow: BpmnWorkflow, diff: VersionDiff) -> dict[Any, dict[str, Any]]:
    """What unchanged waiting events remember (a timer's due moment), to put back after the
    move: ``migrate_workflow`` resets waiting tasks, which would start every running timer (an
    SLA of 14 days, 10 of them gone) again from the moment of the move."""
    kept = {}
    for wf in _all(workflow):
        for task in wf.get_tasks(state=TaskState.WAITING, skip_subprocesses=True):
            key = (wf.spec.name, task.task_spec.name)
            if key not in diff.changed and key not in diff.removed:
                kept[task.id] = deepcopy(task.internal_data)
    return kept


def _restore(workflow: BpmnWorkflow, kept: dict[Any, dict[str, Any]]) -> None:
    for task_id, internal in kept.items():
        task = find_task(workflow, task_id)
        if task is not None and task.state == TaskState.WAITING:
            task.internal_data = internal


def _replan_running(wf: Any) -> None:
    """Plan again what follows a running call activity or sub-process.

    ``migrate_workflow`` resets only ready and waiting tasks; what was predicted after a
    running stage would stay on the old diagram, and a step the new version adds after the
    stage would be skipped.
    """
    for task in wf.get_tasks(state=TaskState.STARTED, skip_subprocesses=True):
        if all(t.has_state(_UNSTARTED) for t in list(task)[1:]):
            task._drop_children(force=True)
            mask = TaskState.STARTED | TaskState.PREDICTED_MASK | TaskState.FUTURE
            task.task_spec._predict(task, mask=mask)


def _strays(workflow: BpmnWorkflow) -> list[str]:
    """Tasks the move left on a spec the new version does not have."""
    reasons = []
    for wf in _all(workflow):
        for task in wf.tasks.values():
            if wf.spec.task_specs.get(task.task_spec.name) is not task.task_spec:
                name = named(task.task_spec)
                if task.has_state(_AT):
                    reasons.append(f"the case is waiting at {name}, which the new version lacks")
                else:
                    reasons.append(f"{name} has no counterpart in the new version")
    return list(dict.fromkeys(reasons))
