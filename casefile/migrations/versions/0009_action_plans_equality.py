"""Action plans as versioned lists of actions, and structured Equality Act assessments (issue 11 items 6, 9).

- action_plan_items.key: the action's id in the workflow ("A1"), which complete_action and change_action
  name; done_at: when it was done.
- action_plan_versions.contact_every_days, contact_method: the contact agreed in that version, which the
  reporter's letter states (004 §3.8), instead of the person record.
- equality_assessments.step, conclusion, considered, adjustments: the assessment as 003 §16 and 004 §6.4
  structure it (the legal step it was made for, the proportionality conclusion, the protected
  characteristics or vulnerabilities considered, the adjustments or support offered).
- case_notes.data: personal arguments given with a command's free text (CommandSpec.kept), kept in the case
  file and never in the workflow.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from casefile.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("action_plan_items") as batch:
        batch.add_column(sa.Column("key", sa.String(16)))
        batch.add_column(sa.Column("done_at", UTCDateTime()))
    with op.batch_alter_table("action_plan_versions") as batch:
        batch.add_column(sa.Column("contact_every_days", sa.Integer()))
        batch.add_column(sa.Column("contact_method", sa.String(16)))
    with op.batch_alter_table("equality_assessments") as batch:
        batch.add_column(sa.Column("step", sa.String(24)))
        batch.add_column(sa.Column("conclusion", sa.String(32)))
        batch.add_column(sa.Column("considered", sa.JSON()))
        batch.add_column(sa.Column("adjustments", sa.Text()))
    with op.batch_alter_table("case_notes") as batch:
        batch.add_column(sa.Column("data", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("case_notes") as batch:
        batch.drop_column("data")
    with op.batch_alter_table("equality_assessments") as batch:
        for column in ("adjustments", "considered", "conclusion", "step"):
            batch.drop_column(column)
    with op.batch_alter_table("action_plan_versions") as batch:
        batch.drop_column("contact_method")
        batch.drop_column("contact_every_days")
    with op.batch_alter_table("action_plan_items") as batch:
        batch.drop_column("done_at")
        batch.drop_column("key")
