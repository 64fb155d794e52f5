"""stage visits for cases that were already running (data only)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 09:00:00.000000

The engine writes a stage visit whenever ``Case.stage`` changes; cases already in a stage when
that began have none. This opens one for each active case with a stage, entered when the
conference board says the case entered it (``engine/board.py``): the start of the latest
unbroken run of human tasks of the stage's process, a run breaking where a task opened more
than a minute after the one before finished. That is the figure managers already saw as "days
in stage", so the report and the board agree; a case with no such task falls back to its
``updated_at``. The stage's process is the ``calledElement`` of the call activity of that name
in the case's own version; in a process without call activities (each task its own stage) it
is the process of the open task of that name.

Nothing in the schema changes, so ``tests/test_schema.py`` holds. The downgrade leaves the rows:
they cannot be told apart from visits the engine wrote.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

from engine.models import UTCDateTime
from engine.xmlsafe import XmlRejected, parse_xml

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
RUN_GAP = timedelta(seconds=60)  # the rule engine/board.py used before stage visits existed

# The tables as they stand at this revision, not as the models may later say.
cases = sa.table(
    "cases",
    sa.column("id", sa.Integer),
    sa.column("version_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("stage", sa.String),
    sa.column("updated_at", UTCDateTime),
)
versions = sa.table(
    "process_versions",
    sa.column("id", sa.Integer),
    sa.column("process_id", sa.String),
    sa.column("files", sa.JSON),
)
human_tasks = sa.table(
    "human_tasks",
    sa.column("id", sa.Integer),
    sa.column("case_id", sa.Integer),
    sa.column("process_id", sa.String),
    sa.column("title", sa.String),
    sa.column("state", sa.String),
    sa.column("created_at", UTCDateTime),
    sa.column("completed_at", UTCDateTime),
)
stage_visits = sa.table(
    "stage_visits",
    sa.column("case_id", sa.Integer),
    sa.column("stage", sa.String),
    sa.column("process_id", sa.String),
    sa.column("entered_at", UTCDateTime),
    sa.column("left_at", UTCDateTime),
)


def upgrade() -> None:
    connection = op.get_bind()
    already = sa.select(stage_visits.c.case_id).where(stage_visits.c.left_at.is_(None))
    waiting = connection.execute(
        sa.select(cases.c.id, cases.c.version_id, cases.c.stage, cases.c.updated_at).where(
            cases.c.status == "active",
            cases.c.stage.is_not(None),
            cases.c.id.not_in(already),
        )
    ).all()
    called: dict[int, dict[str, str]] = {}
    visits = []
    for case_id, version_id, stage, updated_at in waiting:
        if version_id not in called:
            called[version_id] = _called_by_name(connection, version_id)
        tasks = connection.execute(
            sa.select(
                human_tasks.c.process_id,
                human_tasks.c.title,
                human_tasks.c.state,
                human_tasks.c.created_at,
                human_tasks.c.completed_at,
            )
            .where(human_tasks.c.case_id == case_id)
            .order_by(human_tasks.c.created_at, human_tasks.c.id)
        ).all()
        process = called[version_id].get(stage) or _open_task_process(tasks, stage)
        if process is None:
            continue  # nothing says which process the stage runs: leave it unrecorded
        entered = _run_start([t for t in tasks if t.process_id == process]) or updated_at
        visits.append(
            {
                "case_id": case_id,
                "stage": stage,
                "process_id": process,
                "entered_at": entered,
                "left_at": None,
            }
        )
    if visits:
        connection.execute(sa.insert(stage_visits), visits)


def downgrade() -> None:
    """Nothing to undo in the schema; backfilled visits stay (see the module docstring)."""


def _called_by_name(connection: Any, version_id: int) -> dict[str, str]:
    """Call activity name -> the process it calls, over every diagram of the version."""
    files = connection.scalar(sa.select(versions.c.files).where(versions.c.id == version_id))
    found: dict[str, str] = {}
    for name, text in (files or {}).items():
        if not name.endswith(".bpmn"):
            continue
        try:
            root = parse_xml(text.encode(), name).getroot()
        except XmlRejected:
            continue
        for element in root.iter(f"{_BPMN}callActivity"):
            if element.get("name") and element.get("calledElement"):
                found.setdefault(element.get("name"), element.get("calledElement"))
    return found


def _open_task_process(tasks: Iterable[Any], stage: str) -> str | None:
    return next((t.process_id for t in tasks if t.state == "ready" and t.title == stage), None)


def _run_start(tasks: list[Any]) -> datetime | None:
    """When the latest unbroken run of these tasks (in creation order) began."""
    start = None
    previous_done = None
    for n, task in enumerate(tasks):
        # As the board's SQL: a gap after a task not yet finished is unknown, not a break.
        if n == 0 or (previous_done is not None and task.created_at - previous_done > RUN_GAP):
            start = task.created_at
        previous_done = task.completed_at
    return start
