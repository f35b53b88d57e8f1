"""Notices to staff: a task's events and the daily digest, one row per key (issue 14 item 1).

Revision ID: 0013
Revises: 0012 (reports and surveys)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from casefile.types import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(160), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("case_ref", sa.String(32)),
        sa.Column("task_id", sa.String(80)),
        sa.Column("recipient", sa.String(80)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("path", sa.String(400)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("provider_id", sa.String(120)),
        sa.UniqueConstraint("key", name="uq_staff_notices_key"),
    )
    op.create_index("ix_staff_notices_case_ref", "staff_notices", ["case_ref"])
    op.create_index("ix_staff_notices_task_id", "staff_notices", ["task_id"])
    op.create_index("ix_staff_notices_recipient", "staff_notices", ["recipient"])


def downgrade() -> None:
    op.drop_index("ix_staff_notices_recipient", "staff_notices")
    op.drop_index("ix_staff_notices_task_id", "staff_notices")
    op.drop_index("ix_staff_notices_case_ref", "staff_notices")
    op.drop_table("staff_notices")
