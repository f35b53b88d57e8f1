"""Referrals and partners (issue 12 item 8).

- referrals: a report routed by triage (003 §4) or a person referred to a partner agency (003 §9;
  004 §3.3, §4.4), with its basis, the consent it was made with, its follow-up date and outcome.
- case_shares: a case shared with a partner agency, whose staff then read its shareable items.
- incidents.shareable, case_notes.shareable: what an officer marked as shareable with those agencies.
  Existing rows are not shareable: nothing is shown to a partner that nobody chose to share.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from casefile.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_ref", sa.String(32), sa.ForeignKey("cases.reference"), nullable=False, index=True),
        sa.Column("referral_id", sa.String(32), nullable=False),
        sa.Column("agency", sa.String(32), nullable=False, index=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("person_id", sa.String(64), index=True),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("consent_id", sa.Integer(), sa.ForeignKey("consents.id")),
        sa.Column("made_at", UTCDateTime(), nullable=False),
        sa.Column("made_by", sa.String(64), nullable=False),
        sa.Column("follow_up", sa.Date()),
        sa.Column("outcome", sa.String(16)),
        sa.Column("outcome_at", UTCDateTime()),
        sa.Column("outcome_by", sa.String(64)),
        sa.Column("note_ref", sa.String(40)),
        sa.Column("outcome_note_ref", sa.String(40)),
        sa.UniqueConstraint("case_ref", "referral_id", name="uq_referral"),
    )
    op.create_table(
        "case_shares",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_ref", sa.String(32), sa.ForeignKey("cases.reference"), nullable=False, index=True),
        sa.Column("agency", sa.String(32), nullable=False, index=True),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.UniqueConstraint("case_ref", "agency", name="uq_case_share"),
    )
    for table in ("incidents", "case_notes"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("shareable", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    for table in ("case_notes", "incidents"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("shareable")
    op.drop_table("case_shares")
    op.drop_table("referrals")
