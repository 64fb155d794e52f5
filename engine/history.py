"""Trimming finished history from a live workflow so a case's per-step cost stays flat.

SpiffWorkflow keeps every task it ever ran, and a loop drawn back through a gateway hangs each
pass one level deeper in the task tree: serializing, loading and stepping a case all grow with
its history, and near 200 passes it stalls. Kinflow's chronology (``case_events``) already
records what happened, so the workflow only needs the part of the tree that can still change.

``prune`` re-roots each task tree at the deepest *completed* task that is an ancestor of every
unfinished task. Everything above it is finished and can no longer be read by the engine:
tasks copy data from their parent, and the new root is kept with its full data. Ad-hoc
sub-processes are left alone because their spec walks the root's children.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs import AdHocSubprocessSpec
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.projection import find_task

_FINISHED = TaskState.FINISHED_MASK


def prune(workflow: BpmnWorkflow) -> int:
    """Drop finished history from the workflow and its sub-processes; returns tasks dropped."""
    removed = _prune_tree(workflow)
    for sub in list(workflow.subprocesses.values()):
        if not isinstance(sub.spec, AdHocSubprocessSpec):
            removed += _prune_tree(sub)
    _drop_orphaned_subprocesses(workflow)
    return removed


def _prune_tree(workflow) -> int:
    unfinished = [t for t in workflow.tasks.values() if not t.has_state(_FINISHED)]
    if not unfinished:
        return 0
    new_root = _completed_ancestor(_common_ancestor(unfinished))
    if new_root is None or new_root is workflow.task_tree:
        return 0
    keep = {t.id for t in _subtree(new_root)}
    dropped = [tid for tid in workflow.tasks if tid not in keep]
    for tid in dropped:
        del workflow.tasks[tid]
    new_root._parent = None
    workflow.task_tree = new_root
    if workflow.last_task is not None and workflow.last_task.id not in keep:
        workflow.last_task = new_root
    return len(dropped)


def _common_ancestor(tasks: list[Task]) -> Task:
    """The deepest task that is an ancestor-or-self of every task given."""
    paths = [_path_from_root(t) for t in tasks]
    common = paths[0][0]
    for depth in range(min(len(p) for p in paths)):
        candidate = paths[0][depth]
        if any(p[depth] is not candidate for p in paths):
            break
        common = candidate
    return common


def _path_from_root(task: Task) -> list[Task]:
    path = []
    current: Task | None = task
    while current is not None:
        path.append(current)
        current = current.parent
    path.reverse()
    return path


def _completed_ancestor(task: Task) -> Task | None:
    """The nearest ancestor-or-self that has completed, so its data is final."""
    current: Task | None = task
    while current is not None and current.state != TaskState.COMPLETED:
        current = current.parent
    return current


def _subtree(root: Task) -> list[Task]:
    found, stack = [], [root]
    while stack:
        task = stack.pop()
        found.append(task)
        stack.extend(task.children)
    return found


def _drop_orphaned_subprocesses(workflow: BpmnWorkflow) -> None:
    """Forget finished sub-processes whose calling task was pruned away."""
    changed = True
    while changed:
        changed = False
        for task_id, sub in list(workflow.subprocesses.items()):
            if find_task(workflow, task_id) is None and sub.completed:
                del workflow.subprocesses[task_id]
                changed = True
