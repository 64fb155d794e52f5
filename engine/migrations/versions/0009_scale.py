"""scale: indexes for 100,000 cases, and the dashboard's kept figures (issue 8)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 05:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.models import JSONDocument, UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # board (see engine/board.py)
    ready = sa.text("state = 'ready'")
    op.create_index(
        "ix_tasks_ready_case",
        "human_tasks",
        ["case_id", "due_at", "process_id"],
        postgresql_where=ready,
        sqlite_where=ready,
    )
    still_open = sa.text("left_at IS NULL")
    op.create_index(
        "ix_stage_visits_open",
        "stage_visits",
        ["case_id", "entered_at"],
        postgresql_where=still_open,
        sqlite_where=still_open,
    )
    # reports (see engine/reports/)
    op.create_index("ix_tasks_form_created", "human_tasks", ["form_key", "created_at"])
    op.drop_index("ix_stage_visits_process_left", table_name="stage_visits")
    op.create_index(
        "ix_stage_visits_process_left_entered",
        "stage_visits",
        ["process_id", "left_at", "entered_at", "case_id"],
    )
    # report snapshots (see engine/reports/snapshots.py)
    op.create_table(
        "report_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.Column("tables", JSONDocument, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_report_snapshots_key"),
    )


def downgrade() -> None:
    # report snapshots
    op.drop_table("report_snapshots")
    # reports
    op.drop_index("ix_stage_visits_process_left_entered", table_name="stage_visits")
    op.create_index("ix_stage_visits_process_left", "stage_visits", ["process_id", "left_at"])
    op.drop_index("ix_tasks_form_created", table_name="human_tasks")
    # board
    op.drop_index("ix_stage_visits_open", table_name="stage_visits")
    op.drop_index("ix_tasks_ready_case", table_name="human_tasks")
