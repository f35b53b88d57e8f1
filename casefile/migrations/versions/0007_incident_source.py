"""Where an incident was reported (issue 11 item 10): to this service, or by the applicant to the police,
the council or another landlord. 003 §10 counts reports to any of them toward the ASB Case Review
thresholds, so the case file keeps each incident's source beside it.

- incidents.source: "case" (reported to this service; every existing row), "police", "council" or
  "landlord" (statemachine.commands.IncidentSource).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="case"))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("source")
