"""Incidents with their details, typed case notes, and linked reports (issue 12 items 1, 3 and 6).

- incidents.reported_by_kind: who reported it (reporter, witness, partner, police, app_feed); existing
  rows were written by intake from the report's own reporter, so they are "reporter" where a reporter
  is named (`reported_by`, the person's id).
- incidents.partner_reference, impact, injuries, feed, feed_id: the rest of 003 §12.
- incidents.ref, status, command: a further incident is written pending by the door under `ref` before
  `record_incident` goes, and confirmed when the case records it (like a command's note); `command`
  keeps the ids-only command of a report attached to an open case until it is recorded.
- incidents.report_ref: the reference an attached report was given, so it can be found on its case.
- case_notes.kind, people: typed notes (a call, a visit, an interview, a meeting, a request for
  information) with the people involved (004 §3.7).

Revision ID: 0011
Revises: 0010 (referrals and partners)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("reported_by_kind", sa.String(16)))
        batch.add_column(sa.Column("partner_reference", sa.String(64)))
        batch.add_column(sa.Column("impact", sa.Text()))
        batch.add_column(sa.Column("injuries", sa.Text()))
        batch.add_column(sa.Column("feed", sa.String(32)))
        batch.add_column(sa.Column("feed_id", sa.String(128)))
        batch.add_column(sa.Column("ref", sa.String(40)))
        batch.add_column(sa.Column("status", sa.String(12), nullable=False, server_default="confirmed"))
        batch.add_column(sa.Column("report_ref", sa.String(32)))
        batch.add_column(sa.Column("command", sa.JSON()))
        batch.create_unique_constraint("uq_incidents_ref", ["ref"])
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_index("ix_incidents_report_ref", "incidents", ["report_ref"])
    op.execute("UPDATE incidents SET reported_by_kind = 'reporter' WHERE reported_by IS NOT NULL")
    with op.batch_alter_table("case_notes") as batch:
        batch.add_column(sa.Column("kind", sa.String(32)))
        batch.add_column(sa.Column("people", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("case_notes") as batch:
        batch.drop_column("people")
        batch.drop_column("kind")
    op.drop_index("ix_incidents_report_ref", "incidents")
    op.drop_index("ix_incidents_status", "incidents")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_constraint("uq_incidents_ref", type_="unique")
        for column in ("command", "report_ref", "status", "ref", "feed_id", "feed", "injuries", "impact",
                       "partner_reference", "reported_by_kind"):
            batch.drop_column(column)
