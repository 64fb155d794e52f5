"""The runtime API: start cases, complete their human tasks, deliver messages, let time pass.

Every change is one transaction: load the case (or take its live workflow from the cache when
its revision is current), check, step the engine, then write the case, the task projection and
the chronology and commit. The case row is written first, on condition that its revision is
still the one loaded, so of two concurrent writers the second fails cleanly and writes nothing.

Reading tasks and cases lives in ``engine.queries``; assignment in ``engine.assignment``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions import EscalationEventDefinition
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy.orm import Session

from engine import clock, sandbox
from engine.actors import SYSTEM, Actor
from engine.assignment import check_may_do, check_ready
from engine.calendar import WorkingCalendar
from engine.case_store import CaseStore, mark_completed
from engine.chronology import EventLog
from engine.db import begin_write
from engine.errors import (
    CaseNotActive,
    ConcurrentChange,
    FormInvalid,
    KinflowError,
    ScriptError,
    TaskAlreadyCompleted,
)
from engine.forms import validate_submission
from engine.models import Case, CaseStatus, HumanTask, ProcessVersion, TaskState
from engine.notifications.delivery import escalate
from engine.notifications.planning import ReminderPolicy, plan_case
from engine.projection import (
    find_task,
    ready_ids,
    ready_user_tasks,
)
from engine.queries import get_case, get_task_and_case
from engine.record import record_message, record_submission
from engine.record.prefill import prefill
from engine.record.submission import Submission
from engine.state import StateCodec

R = TypeVar("R")
_DATA_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")


@dataclass(frozen=True)
class TaskForm:
    """What a worker sees when opening a task: the task, its form, and pre-filled values."""

    task: HumanTask
    schema: dict[str, Any]
    values: dict[str, Any]


class Runtime:
    """Runs cases of deployed versions against one database.

    Holds what is worth keeping between calls: runnable versions (specs and forms restored once)
    and the live workflows of recently touched cases. One instance per database.
    """

    def __init__(
        self,
        calendar: WorkingCalendar | None = None,
        helpers: Mapping[str, Any] | None = None,
        cache_size: int = 2000,
        prune_history: bool = True,
        reminders: ReminderPolicy | None = None,
    ):
        clock.install()
        self.calendar = calendar or WorkingCalendar()
        self.reminders = reminders or ReminderPolicy()
        # Diagram expressions see the working-day helpers plus any the caller adds.
        names = {**self.calendar.helpers(), **(helpers or {})}
        self.script_engine = sandbox.make_script_engine(names)
        self.codec = StateCodec()
        self.store = CaseStore(self.codec, self.script_engine, cache_size, prune_history)

    def start_case(
        self,
        session: Session,
        version: ProcessVersion,
        data: Mapping[str, Any],
        actor: Actor,
        title: str = "",
        team_id: int | None = None,
    ) -> Case:
        """Start a case of ``version`` with initial ``data`` and run it to its first wait.

        ``team_id`` is the team whose managers oversee the case.
        """
        begin_write(session)
        _check_data_keys(data)
        runnable = self.store.version(session, version.id)
        workflow = BpmnWorkflow(*runnable.specs, script_engine=self.script_engine)
        workflow.task_tree.data.update(data)
        now = clock.now()
        case = Case(
            version_id=version.id,
            title=title or version.name,
            status=CaseStatus.ACTIVE,
            state="",
            created_at=now,
            updated_at=now,
            created_by=actor.username,
            team_id=team_id,
        )
        with _one_transaction(session):
            session.add(case)
            session.flush()
            log = EventLog(case.id)
            log.add(actor.username, "case_started", f"Case started ({version.name}).")
            self._run(workflow)
            missed = self.drain_events(workflow, log)
            self.store.save(session, case, runnable, workflow, set(), log, actor.username)
            log.write(session)
            self.remind(session, case, missed)
        self.store.keep(case, workflow)
        return case

    def task_form(self, session: Session, task_id: int) -> TaskForm:
        """A task's form with the values the family's record already holds for it."""
        row, case = get_task_and_case(session, task_id)
        runnable = self.store.version(session, case.version_id)
        schema = runnable.forms.get(row.form_key or "", {})
        workflow = self.store.load(case, runnable)
        task = find_task(workflow, row.spiff_task_id)
        context = dict(task.data) if task is not None else {}
        self.store.keep(case, workflow)
        return TaskForm(row, schema, prefill(session, case.id, row.form_key, context))

    def complete_task(
        self, session: Session, task_id: int, data: Mapping[str, Any], actor: Actor
    ) -> HumanTask:
        """Complete a ready task with form data; exactly one of two racing workers succeeds."""
        begin_write(session)
        row, case = get_task_and_case(session, task_id)
        check_ready(row)
        check_may_do(row, actor)
        _check_data_keys(data)
        if row.form_key:
            form = self.store.version(session, case.version_id).forms[row.form_key]
            errors = validate_submission(form, dict(data))
            if errors:
                raise FormInvalid(errors)
        log = EventLog(case.id)
        form = self.store.version(session, case.version_id).forms.get(row.form_key or "", {})

        seen: dict[str, dict[str, Any]] = {}

        def step(workflow: BpmnWorkflow) -> None:
            task = _spiff_task(workflow, row)
            seen["before"] = dict(task.data)
            # A copy: the engine merges branch data into task data in place (joins deep-merge
            # lists item by item), and what the worker submitted must reach the record intact.
            task.data.update(copy.deepcopy(dict(data)))
            task.run()
            seen["after"] = dict(task.data)
            self._run(workflow)
            seen["after"] |= _decided_next(task)

        def record(workflow: BpmnWorkflow) -> None:
            mark_completed(session, row, actor)
            submission = Submission(
                session,
                case.id,
                actor.username,
                clock.now(),
                form,
                data,
                seen["after"],
                seen["before"],
            )
            summary = record_submission(submission, row.form_key)
            log.add(
                actor.username,
                "task_completed",
                summary or f"{actor.username} completed '{row.title}'.",
                task_id=row.id,
                form_key=row.form_key,
                data=dict(data),
            )

        try:
            self._change(
                session, case, log, actor.username, step, record, settled_task=row.spiff_task_id
            )
        except ConcurrentChange:
            if get_task_and_case(session, task_id)[0].state == TaskState.COMPLETED:
                raise TaskAlreadyCompleted(
                    f"Task '{row.title}' was already completed by someone else."
                ) from None
            raise
        return row

    def send_message(
        self, session: Session, case_id: int, name: str, payload: Any, actor: Actor
    ) -> Case:
        """Deliver a named message to the case; the app routes messages to cases, not Spiff.

        The payload lands in the task data under the message's name.
        """
        begin_write(session)
        case = get_case(session, case_id)
        log = EventLog(case.id)

        def deliver(workflow: BpmnWorkflow) -> None:
            event = BpmnEvent(
                MessageEventDefinition(name), {"payload": payload, "result_var": name}
            )
            try:
                workflow.send_event(event)
            except WorkflowException as exc:
                raise KinflowError(
                    f"Case {case.id} is not waiting for the message '{name}'."
                ) from exc
            self._run(workflow)

        def record(workflow: BpmnWorkflow) -> None:
            summary = record_message(session, case.id, name, actor.username, clock.now(), payload)
            log.add(
                actor.username,
                "message_received",
                summary or f"Message '{name}' received.",
                message=name,
                payload=payload,
            )

        self._change(session, case, log, actor.username, deliver, record)
        return case

    def wake_case(self, session: Session, case_id: int) -> Case:
        """Let time pass for a case: fire its due timers and run what follows."""
        begin_write(session)
        case = get_case(session, case_id)
        self._change(session, case, EventLog(case.id), SYSTEM, self._run)
        return case

    def cancel_case(self, session: Session, case_id: int, reason: str, actor: Actor) -> Case:
        """Stop a case: cancel its workflow and every open task, recording why."""
        if not reason.strip():
            raise KinflowError("Give a reason for cancelling the case.")
        begin_write(session)
        case = get_case(session, case_id)
        log = EventLog(case.id)
        log.add(actor.username, "case_cancelled", f"Case cancelled: {reason}")
        self._change(
            session,
            case,
            log,
            actor.username,
            BpmnWorkflow.cancel,
            final_status=CaseStatus.CANCELLED,
        )
        return case

    # -- one transaction per change -------------------------------------------------------

    def _change(
        self,
        session: Session,
        case: Case,
        log: EventLog,
        actor: str,
        mutate: Callable[[BpmnWorkflow], R],
        record: Callable[[BpmnWorkflow], None] | None = None,
        final_status: str | None = None,
        settled_task: str | None = None,
    ) -> R:
        """Step the case with ``mutate``, save it, then let ``record`` write what it produced.

        ``record`` runs after the case row is written, so a concurrent writer has already been
        turned away by the revision check before anything else is inserted.
        """
        if case.status != CaseStatus.ACTIVE:
            session.rollback()
            raise CaseNotActive(f"Case {case.id} is {case.status}; nothing more can happen on it.")
        runnable = self.store.version(session, case.version_id)
        workflow = self.store.load(case, runnable)
        before = ready_ids(workflow) - {settled_task}  # a settled task is not "gone" below
        with _one_transaction(session):
            result = mutate(workflow)
            missed = self.drain_events(workflow, log)
            # What the step led to (tasks now waiting, the case completed) reads after what
            # the actor did, so it is logged separately and appended last.
            consequences = EventLog(case.id)
            self.store.save(
                session, case, runnable, workflow, before, consequences, actor, final_status
            )
            if record is not None:
                record(workflow)
            log.entries += consequences.entries
            log.write(session)
            self.remind(session, case, missed)
        self.store.keep(case, workflow)
        return result

    def _run(self, workflow: BpmnWorkflow) -> None:
        workflow.refresh_timers()
        workflow.do_engine_steps()

    def remind(self, session: Session, case: Case, missed: list[str]) -> None:
        """Plan the case's reminders and tell its managers of missed deadlines, in the same
        transaction as the change (architecture decision 4)."""
        now = clock.now()
        for what in missed:
            escalate(session, case, what, self.reminders, now)
        plan_case(session, case, self.calendar, self.reminders, now)

    def drain_events(self, workflow: BpmnWorkflow, log: EventLog) -> list[str]:
        """Record events no diagram element caught (SLA escalations), so they neither pile up
        in the saved state nor go unnoticed; returns the deadlines missed."""
        missed = []
        for event in workflow.get_events():
            definition = event.event_definition
            if isinstance(definition, EscalationEventDefinition):
                what = (definition.code or definition.name or "a deadline").replace("_", " ")
                log.add(
                    SYSTEM,
                    "sla_breached",
                    f"Deadline missed: {what} is overdue; escalated to the FGC manager.",
                    escalation=definition.name,
                    code=definition.code,
                )
                missed.append(what)
        return missed


def _decided_next(task: Task) -> dict[str, Any]:
    """What the engine decided right after the task in the same process (an eligibility
    decision after the referral), as the next waiting task there sees it."""
    for waiting in ready_user_tasks(task.workflow.top_workflow):
        if waiting.workflow is task.workflow:
            return dict(waiting.data)
    return {}


def _spiff_task(workflow: BpmnWorkflow, row: HumanTask) -> Task:
    task = find_task(workflow, row.spiff_task_id)
    if task is None or task.state != SpiffState.READY:
        # The projection said READY but the workflow disagrees: someone else moved the case.
        raise ConcurrentChange(f"Task '{row.title}' is no longer waiting; reload the case.")
    return task


def _check_data_keys(data: Mapping[str, Any]) -> None:
    """Field names become variables in diagram expressions: refuse any that could be abused."""
    bad = [str(k) for k in data if not isinstance(k, str) or not _DATA_KEY.match(k)]
    if bad:
        message = "Field names must start with a letter and use only letters, digits and _."
        raise FormInvalid(dict.fromkeys(bad, message))


@contextmanager
def _one_transaction(session: Session) -> Iterator[None]:
    """Commit what the block wrote, or roll all of it back; diagram failures become
    ScriptError with the element named."""
    try:
        yield
        session.commit()
    except SpiffWorkflowException as exc:
        session.rollback()
        raise ScriptError(_describe_engine_error(exc)) from exc
    except BaseException:
        session.rollback()
        raise


def _describe_engine_error(exc: SpiffWorkflowException) -> str:
    task = getattr(exc, "task", None)
    where = f" at '{task.task_spec.bpmn_name or task.task_spec.bpmn_id}'" if task else ""
    return f"The diagram could not continue{where}: {exc}"
