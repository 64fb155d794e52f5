"""Moving running cases to a newer version of their process, each case on its own.

Which cases may move, and moving one workflow, is ``engine.version_diff``; this module is the
cases' side. Each case is moved on a fresh copy of its workflow and saved the way the runtime
saves any change (revision check, task projection, chronology, reminders) in a transaction of
its own, so a case that fails leaves the others moved and itself intact, with its reason.
A process owner can also leave a case on its version for good (``keep_on_version``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import Select, delete, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import clock
from engine.chronology import EventLog
from engine.db import begin_write
from engine.errors import CaseNotActive, ConcurrentChange, KinflowError
from engine.models import Case, CaseEvent, CaseStatus, HumanTask, ProcessVersion, TaskCandidate
from engine.models import TaskState as RowState
from engine.projection import new_task_row, ready_ids, ready_user_tasks, task_settings
from engine.queries import get_case
from engine.runtime import Runtime
from engine.version_diff import VersionDiff, blockers, diff_versions, move_workflow

logger = logging.getLogger(__name__)

MOVED, KEPT, RELEASED = "case_migrated", "kept_on_version", "released_from_version"
# Row fields that come from the diagram and the version's settings, refreshed on a move.
_ROW_FIELDS = (
    "process_id",
    "element_id",
    "title",
    "instructions",
    "lane",
    "role",
    "form_key",
    "priority",
)


@dataclass(frozen=True)
class MigrationCheck:
    """Whether one running case can move to the target version, and if not, why."""

    case_id: int
    title: str
    from_version: int
    can_move: bool
    reason: str | None


@dataclass(frozen=True)
class MigrationResult:
    """What happened to one case (or would have, in a dry run)."""

    case_id: int
    moved: bool
    reason: str | None
    from_version: int | None = None


Diffs = dict[int, VersionDiff]  # older version id -> its diff to the target, per batch


@dataclass(frozen=True)
class _Move:
    """One case's workflow, moved in memory and waiting to be saved."""

    workflow: BpmnWorkflow
    diff: VersionDiff
    from_number: int
    before: set[str]  # the spiff ids of the tasks waiting before the move


def preview(session: Session, runtime: Runtime, target: ProcessVersion) -> list[MigrationCheck]:
    """Every running case of the target's process on an older version: can it move?"""
    rows = session.execute(_older_cases(target)).all()
    kept_by = _kept_by(session, [case.id for case, _ in rows if case.stays_on_version])
    diffs: Diffs = {}
    checks = []
    for case, number in rows:
        if case.stays_on_version:
            reason = f"left on version {number} by {kept_by.get(case.id, 'a process owner')}"
        else:
            reason = _try(session, runtime, case, target, diffs, number)[1]
        checks.append(MigrationCheck(case.id, case.title, number, reason is None, reason))
    session.rollback()  # only read
    return checks


def migrate_cases(
    session: Session,
    runtime: Runtime,
    target: ProcessVersion,
    case_ids: list[int] | None,
    actor: str,
    dry_run: bool = False,
) -> list[MigrationResult]:
    """Move cases (every running case on an older version when ``case_ids`` is None), each in
    its own transaction. A dry run answers the same questions and writes nothing.
    """
    if case_ids is None:
        case_ids = list(session.scalars(_older_cases(target).with_only_columns(Case.id)))
    diffs: Diffs = {}
    return [
        _migrate_one(session, runtime, target, case_id, actor, dry_run, diffs)
        for case_id in case_ids
    ]


def keep_on_version(session: Session, case_id: int, actor: str, keep: bool = True) -> Case:
    """Leave a running case on its version for good (``keep=False`` lets it move again)."""
    begin_write(session)
    case = get_case(session, case_id)
    if case.status != CaseStatus.ACTIVE:
        session.rollback()
        raise CaseNotActive(f"Case {case.id} is {case.status}; only running cases have a choice.")
    if case.stays_on_version == keep:
        session.rollback()
        return case
    version = session.get(ProcessVersion, case.version_id)
    # The revision moves too, so a migration that read the case before this fails cleanly.
    values = {"stays_on_version": keep, "revision": case.revision + 1, "updated_at": clock.now()}
    written = session.execute(
        update(Case).where(Case.id == case.id, Case.revision == case.revision).values(values)
    )
    if written.rowcount != 1:
        session.rollback()
        raise ConcurrentChange(f"Case {case.id} changed at the same moment; try again.")
    log = EventLog(case.id)
    where = f"version {version.version} of {version.name}"
    if keep:
        log.add(actor, KEPT, f"Left on {where} for good by {actor}.", version=version.version)
    else:
        summary = f"May be moved from {where} to newer versions again ({actor})."
        log.add(actor, RELEASED, summary, version=version.version)
    log.write(session)
    session.commit()
    return get_case(session, case_id)


# -- one case ------------------------------------------------------------------------------


def _migrate_one(
    session: Session,
    runtime: Runtime,
    target: ProcessVersion,
    case_id: int,
    actor: str,
    dry_run: bool,
    diffs: Diffs,
) -> MigrationResult:
    if dry_run:
        session.rollback()
    else:
        begin_write(session)
    case = session.get(Case, case_id, populate_existing=True)
    number = None
    try:
        refused, number = _not_movable(session, case, case_id, target)
        if refused:
            session.rollback()
            return MigrationResult(case_id, False, refused, number)
        move, reason = _try(session, runtime, case, target, diffs, number)
        if move is None or reason is not None or dry_run:
            session.rollback()
            return MigrationResult(case_id, reason is None, reason, number)
        _save(session, runtime, case, move, target, actor)
        session.commit()
    except Exception as exc:
        session.rollback()
        if not isinstance(exc, KinflowError):
            logger.exception("Moving case %s to %s failed", case_id, target)
        return MigrationResult(case_id, False, _failure(exc), number)
    # A live workflow cached before the move is on the old version's specs.
    runtime.store.workflows.pop(case_id)
    return MigrationResult(case_id, True, None, number)


def _older_cases(target: ProcessVersion) -> Select[Any]:
    """Running cases of the target's process on an older version, oldest case first."""
    return (
        select(Case, ProcessVersion.version)
        .join(ProcessVersion, ProcessVersion.id == Case.version_id)
        .where(
            ProcessVersion.process_id == target.process_id,
            ProcessVersion.version < target.version,
            Case.status == CaseStatus.ACTIVE,
        )
        .order_by(Case.id)
    )


def _not_movable(
    session: Session, case: Case | None, case_id: int, target: ProcessVersion
) -> tuple[str | None, int | None]:
    """Why a case is not a candidate at all (gone, another process, finished, kept), and the
    number of the version it is on."""
    if case is None:
        return f"case {case_id} does not exist", None
    version = session.get(ProcessVersion, case.version_id)
    if version.process_id != target.process_id:
        return f"case {case_id} runs {version.name}, not {target.name}", version.version
    if case.status != CaseStatus.ACTIVE:
        return f"case {case_id} is {case.status}; only running cases are moved", version.version
    if version.version == target.version:
        return f"case {case_id} is already on version {version.version}", version.version
    if version.version > target.version:
        return f"case {case_id} is on version {version.version}, newer than this", version.version
    if case.stays_on_version:
        who = _kept_by(session, [case_id]).get(case_id, "a process owner")
        return f"left on version {version.version} by {who}", version.version
    return None, version.version


def _try(
    session: Session,
    runtime: Runtime,
    case: Case,
    target: ProcessVersion,
    diffs: Diffs,
    number: int,
) -> tuple[_Move | None, str | None]:
    """Move a fresh copy of the case's workflow; returns it, and why it cannot move (None
    when it can)."""
    try:
        diff = diffs.get(case.version_id)
        if diff is None:
            old = runtime.store.version(session, case.version_id)
            new = runtime.store.version(session, target.id)
            diff = diffs[case.version_id] = diff_versions(runtime.codec, old, new)
        # A copy of its own: the cached live workflow must not change unless the move commits.
        workflow = runtime.codec.load_workflow(case.state, diff.old.specs)
        workflow.script_engine = runtime.script_engine
        before = ready_ids(workflow)
        reasons = blockers(workflow, diff, _completed(session, case.id))
        reasons = reasons or move_workflow(workflow, diff, runtime.codec)
    except Exception as exc:
        if not isinstance(exc, KinflowError):
            logger.exception("Trying to move case %s to %s failed", case.id, target)
        return None, _failure(exc)
    return _Move(workflow, diff, number, before), "; ".join(reasons) or None


def _completed(session: Session, case_id: int) -> list[tuple[str, str, str]]:
    query = select(HumanTask.process_id, HumanTask.element_id, HumanTask.title).where(
        HumanTask.case_id == case_id, HumanTask.state == RowState.COMPLETED
    )
    return [tuple(row) for row in session.execute(query)]


def _failure(exc: Exception) -> str:
    if isinstance(exc, ConcurrentChange):
        return "the case changed while it was being moved; try again"
    if isinstance(exc, KinflowError):
        return str(exc)
    return f"the case could not be moved ({type(exc).__name__}: {exc})"


# -- saving ---------------------------------------------------------------------------------


def _save(
    session: Session,
    runtime: Runtime,
    case: Case,
    move: _Move,
    target: ProcessVersion,
    actor: str,
) -> None:
    """The runtime's save path, with the new version: row, projection, chronology, reminders."""
    log = EventLog(case.id)
    summary = (
        f"Moved from version {move.from_number} to version {target.version} "
        f"of {target.name} by {actor}."
    )
    log.add(actor, MOVED, summary, from_version=move.from_number, to_version=target.version)
    missed = runtime.drain_events(move.workflow, log)
    consequences = EventLog(case.id)
    new = move.diff.new
    runtime.store.save(session, case, new, move.workflow, move.before, consequences, actor)
    session.connection().execute(
        update(Case.__table__).where(Case.id == case.id).values(version_id=target.id)
    )
    set_committed_value(case, "version_id", target.id)
    _refresh_rows(session, runtime, case.id, move)
    log.entries += consequences.entries
    log.write(session)
    runtime.remind(session, case, missed)


def _refresh_rows(session: Session, runtime: Runtime, case_id: int, move: _Move) -> None:
    """Bring the rows of tasks still waiting in line with the new version's settings.

    A claimed task keeps its holder; due dates are worked out again only when their rule
    changed (from now, as for a new task).
    """
    now = clock.now()
    for task in ready_user_tasks(move.workflow):
        if str(task.id) not in move.before:
            continue  # a new row was written by the save
        old = task_settings(move.diff.old.user_tasks, task)
        new = task_settings(move.diff.new.user_tasks, task)
        fresh = new_task_row(case_id, task, new, now, runtime.store.resolver)
        row = session.scalars(
            select(HumanTask).where(
                HumanTask.case_id == case_id,
                HumanTask.spiff_task_id == str(task.id),
                HumanTask.state == RowState.READY,
            )
        ).one_or_none()
        if row is None:
            continue
        values = {key: fresh[key] for key in _ROW_FIELDS}
        if row.claimed_at is None and old.get("assignee") != new.get("assignee"):
            values["assignee"] = fresh["assignee"]
        if old.get("due_date") != new.get("due_date"):
            values["due_at"] = fresh["due_at"]
        if old.get("follow_up_date") != new.get("follow_up_date"):
            values["follow_up_at"] = fresh["follow_up_at"]
        if sorted(row.candidate_groups) != fresh["candidate_groups"]:
            values["candidate_groups"] = fresh["candidate_groups"]
            session.execute(delete(TaskCandidate).where(TaskCandidate.task_id == row.id))
            roles = [{"task_id": row.id, "role": r} for r in fresh["candidate_groups"]]
            if roles:
                session.execute(insert(TaskCandidate), roles)
        session.execute(update(HumanTask).where(HumanTask.id == row.id).values(values))


def _kept_by(session: Session, case_ids: list[int]) -> dict[int, str]:
    """Who last chose to leave each case on its version."""
    if not case_ids:
        return {}
    rows = session.execute(
        select(CaseEvent.case_id, CaseEvent.actor)
        .where(CaseEvent.case_id.in_(case_ids), CaseEvent.kind == KEPT)
        .order_by(CaseEvent.id)
    )
    return {case_id: actor for case_id, actor in rows}
