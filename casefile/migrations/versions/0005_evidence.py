"""Evidence: files added to a case, stored by their SHA-256 digest (casefile/evidence.py).

- evidence_objects: one row per stored file (digest, size, sniffed media type, when an object lost its
  last reference), the lock that keeps uploads and purges of the same bytes apart.
- evidence: a file on a case (optionally an incident), who added it and when, its kind, media type,
  size, digest, sanitised original name, description, who gave it and whether it may be shared.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from casefile.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_objects",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("stored_at", UTCDateTime(), nullable=False),
        sa.Column("orphaned_at", UTCDateTime(), index=True),
    )
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_ref", sa.String(32), sa.ForeignKey("cases.reference"), nullable=False, index=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), index=True),
        sa.Column("digest", sa.String(64), sa.ForeignKey("evidence_objects.digest"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("original_name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("provided_by", sa.String(64)),
        sa.Column("shareable", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("idempotency_key_hash", sa.String(64)),
        sa.UniqueConstraint("case_ref", "digest", name="uq_evidence_case_digest"),
        sa.UniqueConstraint("idempotency_key_hash", name="uq_evidence_idempotency_key"),
    )


def downgrade() -> None:
    op.drop_table("evidence")
    op.drop_table("evidence_objects")
