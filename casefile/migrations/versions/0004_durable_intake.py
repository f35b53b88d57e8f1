"""Durable intake and idempotency: what starts a case is kept with its row until the workflow runs, a
command's free text is written (pending) before the command is sent, and report idempotency keys.

- cases.start_args: the ids-only start of the case workflow (ReportArgs, the profile snapshot, when
  it was received), so the reconciler can start a case whose first start failed, for every door.
- cases.started_at: when the workflow was known to be running (NULL: not yet; the reconciler's work).
  Existing cases were started by whoever logged them, so they are marked started at their opening.
- case_notes.status: pending (written before the Update), confirmed (the event was recorded) or
  discarded (never accepted within the grace period). Existing notes were written after acceptance.
- idempotency_keys: a report's Idempotency-Key, hashed with its caller's scope, and the case it opened.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from casefile.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("start_args", sa.JSON()))
        batch.add_column(sa.Column("started_at", UTCDateTime()))
    op.execute("UPDATE cases SET started_at = opened_at")
    op.create_index("ix_cases_started_at", "cases", ["started_at"])
    with op.batch_alter_table("case_notes") as batch:
        batch.add_column(sa.Column("status", sa.String(12), nullable=False, server_default="confirmed"))
    op.create_index("ix_case_notes_status", "case_notes", ["status"])
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("door", sa.String(16), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("case_ref", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
        sa.UniqueConstraint("key_hash", name="uq_idempotency_key"),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_index("ix_case_notes_status", "case_notes")
    with op.batch_alter_table("case_notes") as batch:
        batch.drop_column("status")
    op.drop_index("ix_cases_started_at", "cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("started_at")
        batch.drop_column("start_args")
