"""Reports (issue 14 item 3): closure survey answers for TP12, and ASB Case Review outcomes for the register.

- survey_answers: one answer per (case, person) to the closure survey (003 §13; 002 §3.3), through the
  survey letter's single-use link or recorded by staff.
- asb_case_review_outcomes: whether a review held led to recommendations (004 §8), for the yearly register.

Revision ID: 0012
Revises: 0011 (incidents and notes)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from casefile.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_ref", sa.String(32), sa.ForeignKey("cases.reference"), nullable=False, index=True),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("satisfaction", sa.String(24), nullable=False),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("recorded_by", sa.String(64)),
        sa.UniqueConstraint("case_ref", "person_id", name="uq_survey_answer"),
    )
    op.create_table(
        "asb_case_review_outcomes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_ref", sa.String(32), sa.ForeignKey("cases.reference"), nullable=False, index=True),
        sa.Column("held_on", sa.Date(), nullable=False, index=True),
        sa.Column("recommendations", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.UniqueConstraint("case_ref", "held_on", name="uq_case_review_outcome"),
    )


def downgrade() -> None:
    op.drop_table("asb_case_review_outcomes")
    op.drop_table("survey_answers")
