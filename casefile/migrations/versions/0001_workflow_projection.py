"""The workflow's projection: cases, their timeline, tasks and messages.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from casefile.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("reference", sa.String(32), primary_key=True),
        sa.Column("profile", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False, index=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("risk", sa.String(8), index=True),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("officer", sa.String(64), index=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime()),
        sa.Column("closure_reason", sa.String(32)),
        sa.Column("next_deadline", UTCDateTime()),
        sa.Column("overdue", sa.Boolean(), nullable=False, index=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
    )
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_ref", sa.String(32), nullable=False, index=True),
        sa.Column("seq", sa.Integer()),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.UniqueConstraint("case_ref", "seq", name="uq_case_events_seq"),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(80), nullable=False, unique=True),
        sa.Column("case_ref", sa.String(32), nullable=False, index=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("role", sa.String(32), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(120), nullable=False, unique=True),
        sa.Column("case_ref", sa.String(32), nullable=False, index=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("recipient_role", sa.String(32), nullable=False),
        sa.Column("recipient_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("path", sa.String(400)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
    )


def downgrade() -> None:
    for table in ("messages", "tasks", "case_events", "cases"):
        op.drop_table(table)
