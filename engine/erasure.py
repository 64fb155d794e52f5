"""Erasing one family's case once it is past retention: explicit, in one transaction, audited.

Deleted: the referral, the people, the network, the conference arrangements, every plan
version and its actions, support packages, reviews, outcomes, the closure, safeguarding
concerns, twelve-month follow-ups, redaction marks, the reminders and in-app notifications
about the case, and workers' drafts of its tasks.
Blanked: the text and payload of every chronology entry (its kind, time and worker stay, so
counts of what happened when stay true), the case's title (now "Erased case") and every piece
of data in its saved workflow state (its shape stays, so the diagram still shows the path).
Kept: the case row as a shell (number, status, stage, team, dates, process version), because
the audit log and the reports refer to it; the task projection (task titles come from the
diagram, and the workers who did them); stage visits; the audit log, which has its own
period. The outbox is untouched: its emails never name a family. A chronology entry and an
audit entry record the erasure: who, which case, when, and whether by web or command line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.chronology import EventLog
from engine.db import begin_write
from engine.drafts import TaskDraft
from engine.errors import KinflowError
from engine.models import Case, CaseEvent, HumanTask
from engine.notifications.models import Notification, Reminder
from engine.queries import get_case
from engine.record.models import (
    ChildFollowUp,
    Closure,
    ConferenceArrangement,
    FamilyPlan,
    NetworkMember,
    Outcome,
    Person,
    PlanAction,
    Redaction,
    Referral,
    Review,
    SafeguardingConcern,
    SupportPackage,
)
from engine.retention import ERASED_KIND, RECORD_TYPES, RetentionPolicy, case_due

ERASED_TITLE = "Erased case"
ERASED_TEXT = "Erased after its retention period."
ERASED_ACTION = "erase_case"
# Children before parents, so foreign keys hold at every step (SQLite checks them too).
_FAMILY_ROWS = (
    ChildFollowUp,
    Person,
    NetworkMember,
    ConferenceArrangement,
    SupportPackage,
    Review,
    Outcome,
    Closure,
    SafeguardingConcern,
    Redaction,
)
_STATE_DATA = {"data", "delta", "internal_data", "correlations"}


class NotPastRetention(KinflowError):
    """The case may not be erased yet: it is open, or inside its retention period."""


@dataclass(frozen=True)
class Erasure:
    case_id: int
    record_type: str
    due_on: date
    rows_deleted: int
    events_blanked: int


def erase_case(
    session: Session, case_id: int, policy: RetentionPolicy, username: str, via: str = "web"
) -> Erasure:
    """Erase the case's personal data if it is past retention today; commits.

    Always judged on today's date: no caller can erase early by naming a later day.
    """
    begin_write(session)
    try:
        result = _erase(session, case_id, policy, username, via)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def _erase(
    session: Session, case_id: int, policy: RetentionPolicy, username: str, via: str
) -> Erasure:
    case = get_case(session, case_id)
    today = clock.now().date()
    if session.scalar(
        select(exists().where(CaseEvent.case_id == case_id, CaseEvent.kind == ERASED_KIND))
    ):
        raise NotPastRetention(f"Case {case_id} has already been erased.")
    due = case_due(session, policy, case_id)
    if due is None:
        raise NotPastRetention(
            f"Case {case_id} has not ended (it is {case.status}): a case is kept while it "
            "runs and for its retention period after it ends. Nothing was erased."
        )
    if due.due_on > today:
        label = next(t.label for t in RECORD_TYPES if t.key == due.record_type)
        period = policy.periods[due.record_type]
        raise NotPastRetention(
            f"Case {case_id} ended on {due.ended_on.isoformat()} and is kept until "
            f"{due.due_on.isoformat()} ({label}: {period} after the case ended). "
            "Nothing was erased."
        )
    deleted = _delete_family_rows(session, case_id)
    blanked = session.execute(
        update(CaseEvent.__table__)  # the table, not the mapper: the chronology's
        # append-only guard is for everyday changes, and erasure is the one exception
        .where(CaseEvent.case_id == case_id)
        .values(summary=ERASED_TEXT, payload={})
    ).rowcount
    session.execute(
        update(Case.__table__)
        .where(Case.id == case_id)
        .values(
            title=ERASED_TITLE,
            state=_scrub_state(case.state),
            error=None,
            next_wake_at=None,
            revision=Case.revision + 1,  # so no cached live workflow is used again
        )
    )
    log = EventLog(case_id)
    log.add(username, ERASED_KIND, f"{ERASED_TEXT} Personal data removed ({via}).")
    log.write(session)
    target = f"{due.record_type} past retention since {due.due_on.isoformat()}"
    audit.record(session, username, ERASED_ACTION, case_id, target, via)
    session.expire_all()
    return Erasure(case_id, due.record_type, due.due_on, deleted, blanked)


def _delete_family_rows(session: Session, case_id: int) -> int:
    count = 0
    plans = select(FamilyPlan.id).where(FamilyPlan.case_id == case_id)
    tasks = select(HumanTask.id).where(HumanTask.case_id == case_id)
    reminders = select(Reminder.id).where(Reminder.case_id == case_id)
    statements = [
        delete(PlanAction).where(PlanAction.plan_id.in_(plans)),
        delete(FamilyPlan).where(FamilyPlan.case_id == case_id),
        *(delete(model).where(model.case_id == case_id) for model in _FAMILY_ROWS),
        delete(Referral).where(Referral.case_id == case_id),
        delete(TaskDraft).where(TaskDraft.task_id.in_(tasks)),
        delete(Notification).where(
            or_(
                Notification.case_id == case_id,
                Notification.task_id.in_(tasks),
                Notification.reminder_id.in_(reminders),
            )
        ),
        delete(Reminder).where(Reminder.case_id == case_id),
    ]
    for statement in statements:
        count += session.execute(statement.execution_options(synchronize_session=False)).rowcount
    return count


def _scrub_state(state: str) -> str:
    """The saved workflow with every task's and process's data emptied, its shape kept."""
    try:
        document = json.loads(state)
    except ValueError:
        return ""

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: ({} if k in _STATE_DATA and isinstance(v, dict) else scrub(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [scrub(v) for v in node]
        return node

    scrubbed = scrub(document)
    if isinstance(scrubbed, dict) and isinstance(scrubbed.get("bpmn_events"), list):
        scrubbed["bpmn_events"] = []
    return json.dumps(scrubbed)
