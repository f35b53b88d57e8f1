"""Reports from other systems (the Noise App feed), keyed by the sending system's own report id, so a
report delivered twice opens one case.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from casefile.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "external_reports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("case_ref", sa.String(32), sa.ForeignKey("cases.reference"), nullable=False, index=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("report_args", sa.JSON()),
        sa.UniqueConstraint("source", "external_id", name="uq_external_report"),
    )


def downgrade() -> None:
    op.drop_table("external_reports")
