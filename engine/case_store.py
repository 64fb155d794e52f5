"""Loading and saving a case: its workflow state, its projections and the caches between calls.

The runtime decides what happens to a case; this module decides how that is kept. A case's
workflow is stored without its spec (restored once per version into ``VersionCache``), and a
case whose revision has not moved since this process saved it is taken live from
``WorkflowCache`` instead of being deserialized.
"""

from __future__ import annotations

import json
from datetime import datetime

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.task import Task
from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import clock, history
from engine.actors import Actor
from engine.chronology import EventLog
from engine.errors import ConcurrentChange, ScriptError
from engine.expressions import assignee_expression, due_literal
from engine.models import Case, CaseStatus, HumanTask, ProcessVersion, StageVisit, TaskState
from engine.projection import (
    StageAt,
    due_moment,
    ending,
    has_stages,
    locate_stage,
    next_wake_at,
    sync_tasks,
)
from engine.roles import roles_in_words
from engine.state import RunnableVersion, StateCodec, VersionCache, WorkflowCache


class CaseStore:
    """Keeps cases' workflow state and projections in the database, with caches in front."""

    def __init__(
        self,
        codec: StateCodec,
        script_engine: PythonScriptEngine,
        cache_size: int = 2000,
        prune_history: bool = True,
    ):
        self.script_engine = script_engine
        self.codec = codec
        self.versions = VersionCache(256)
        self.workflows = WorkflowCache(cache_size)
        self.prune_history = prune_history
        self.resolver = SandboxResolver(script_engine)

    def version(self, session: Session, version_id: int) -> RunnableVersion:
        runnable = self.versions.get(version_id)
        if runnable is None:
            row = session.get(ProcessVersion, version_id)
            forms = {
                name.removeprefix("forms/").removesuffix(".json"): json.loads(text)
                for name, text in row.files.items()
                if name.startswith("forms/")
            }
            specs = self.codec.load_specs(row.spec_json)
            runnable = RunnableVersion(
                row.id, row.process_id, row.name, specs, row.user_tasks, forms
            )
            self.versions.put(version_id, runnable)
        return runnable

    def load(self, case: Case, runnable: RunnableVersion) -> BpmnWorkflow:
        """The case's workflow, taken from the cache when nobody has saved it since."""
        workflow = self.workflows.take(case.id, case.revision)
        if workflow is None:
            workflow = self.codec.load_workflow(case.state, runnable.specs)
            # The serializer does not keep the script engine: re-attach it on every load.
            workflow.script_engine = self.script_engine
        return workflow

    def keep(self, case: Case, workflow: BpmnWorkflow) -> None:
        """Remember a workflow whose state is committed at ``case.revision``."""
        self.workflows.give_back(case.id, case.revision, workflow)

    def save(
        self,
        session: Session,
        case: Case,
        runnable: RunnableVersion,
        workflow: BpmnWorkflow,
        ready_before: set[str],
        log: EventLog,
        actor: str,
        final_status: str | None = None,
    ) -> None:
        """Write the case row first (the revision check), then tasks and chronology."""
        if self.prune_history:
            history.prune(workflow)
        status = final_status or (CaseStatus.COMPLETED if workflow.completed else case.status)
        active = status == CaseStatus.ACTIVE
        stage = locate_stage(workflow) if active else None
        now = clock.now()
        values = {
            "state": self.codec.dump_workflow(workflow),
            "stage": stage.name if stage is not None else None,
            "next_wake_at": next_wake_at(workflow) if active else None,
            "updated_at": now,
            "status": status,
            "revision": case.revision + 1,
        }
        written = session.connection().execute(
            _SAVE_CASE, {**values, "case_id": case.id, "seen": case.revision}
        )
        if written.rowcount != 1:
            raise ConcurrentChange(
                f"Case {case.id} was changed by someone else at the same moment; reload it."
            )
        if case.stage != values["stage"] and has_stages(workflow):
            move_stage_visit(session, case.id, case.stage, stage, now)
        for key, value in values.items():
            set_committed_value(case, key, value)
        changes = sync_tasks(
            session, case.id, workflow, ready_before, runnable.user_tasks, self.resolver
        )
        for row in changes.created:
            waiting = row["assignee"] or roles_in_words(row["candidate_groups"])
            log.add(
                actor,
                "task_ready",
                f"'{row['title']}' is waiting for {waiting}.",
                task_id=row["id"],
            )
        for title in changes.cancelled_titles:
            log.add(actor, "task_cancelled", f"'{title}' was cancelled.")
        if status == CaseStatus.COMPLETED and final_status is None:
            end = ending(workflow)
            summary = f"Case completed: {end}." if end else "Case completed."
            log.add(actor, "case_completed", summary)


class SandboxResolver:
    """Evaluates due dates and assignees from the diagram in the sandbox, as a task appears."""

    def __init__(self, script_engine: PythonScriptEngine):
        self.script_engine = script_engine

    def due(self, task: Task, expression: str | None) -> datetime | None:
        if not expression:
            return None
        try:
            # The properties panel writes plain ISO values (P2D); anything else is Python.
            value = due_literal(expression) or self.script_engine.evaluate(task, expression)
            return due_moment(value, clock.now())
        except Exception as exc:
            raise ScriptError(
                f"The due date of '{task.task_spec.bpmn_name}' ({expression}) failed: {exc}"
            ) from exc

    def assignee(self, task: Task, value: str | None) -> str | None:
        """A username, or ``${expression}`` as in Camunda (``${coordinator}``: the person the
        allocation form named). An expression that is empty leaves the task to its roles."""
        if not value:
            return None
        expression = assignee_expression(value)
        if expression is None:
            return value
        try:
            found = self.script_engine.evaluate(task, expression)
        except Exception:
            return None  # not known yet (e.g. before allocation): the roles pick it up
        return str(found) if found else None


# The hot path's writes, built once: Core statements on the tables skip the ORM's per-call
# statement building, which costs more than SQLite takes to run them.
_cases, _tasks = Case.__table__, HumanTask.__table__
_SAVE_CASE = (
    update(_cases)
    .where(_cases.c.id == bindparam("case_id"), _cases.c.revision == bindparam("seen"))
    .values(
        {
            c: bindparam(c)
            for c in ("state", "stage", "next_wake_at", "updated_at", "status", "revision")
        }
    )
)
_visits = StageVisit.__table__
_CLOSE_VISIT = (
    update(_visits)
    .where(_visits.c.case_id == bindparam("visit_case"), _visits.c.left_at.is_(None))
    .values(left_at=bindparam("left"))
)
_OPEN_VISIT = insert(_visits)
_COMPLETE_TASK = (
    update(_tasks)
    .where(_tasks.c.id == bindparam("task_id"), _tasks.c.state == TaskState.READY)
    .values({c: bindparam(c) for c in ("state", "completed_at", "completed_by")})
)


def move_stage_visit(
    session: Session, case_id: int, was: str | None, stage: StageAt | None, now: datetime
) -> None:
    """Close the case's open stage visit and open one for its new stage, if it has one.

    Called only when ``Case.stage`` changes (a case ending or waiting on a timer changes it to
    None) in a process with call activities, so a step inside one stage costs nothing here.
    """
    connection = session.connection()
    if was is not None:
        connection.execute(_CLOSE_VISIT, {"visit_case": case_id, "left": now})
    if stage is not None and stage.process_id is not None:
        visit = {"case_id": case_id, "stage": stage.name, "process_id": stage.process_id}
        connection.execute(_OPEN_VISIT, {**visit, "entered_at": now, "left_at": None})


def mark_completed(session: Session, row: HumanTask, actor: Actor) -> None:
    now = clock.now()
    values = {"state": TaskState.COMPLETED, "completed_at": now, "completed_by": actor.username}
    done = session.connection().execute(_COMPLETE_TASK, {**values, "task_id": row.id})
    if done.rowcount != 1:
        raise ConcurrentChange(f"Task '{row.title}' changed while it was being completed.")
    for key, value in values.items():
        set_committed_value(row, key, value)
