"""The case file: people, parties, consents, incidents, contacts, the action plan, risk and equality
assessments, interventions, legal actions, the append-only audit log, locking and versions.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from casefile.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY_PG = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""
APPEND_ONLY_SQLITE = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
]


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True)


def _case_ref() -> sa.Column[str]:
    return sa.Column("case_ref", sa.String(32), sa.ForeignKey("cases.reference"), nullable=False, index=True)


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("hate", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("locked", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("lock_reason", sa.String(200)))
        batch.add_column(sa.Column("anonymised_at", UTCDateTime()))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.create_index("ix_cases_closed_at", ["closed_at"])
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("assignee", sa.String(64)))
        batch.add_column(sa.Column("due", UTCDateTime()))
        batch.add_column(sa.Column("decision", sa.String(16)))
        batch.add_column(sa.Column("decided_by", sa.String(64)))
        batch.add_column(sa.Column("decided_at", UTCDateTime()))
        batch.add_column(sa.Column("reason", sa.Text()))
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_error", sa.Text()))
        batch.add_column(sa.Column("provider_id", sa.String(120)))
        batch.create_index("ix_messages_recipient_id", ["recipient_id"])

    op.create_table(
        "people",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200)),
        sa.Column("address", sa.Text()),
        sa.Column("postcode", sa.String(16)),
        sa.Column("email", sa.String(200)),
        sa.Column("phone", sa.String(40)),
        sa.Column("contact_method", sa.String(16)),
        sa.Column("contact_every_days", sa.Integer()),
        sa.Column("large_print", sa.Boolean(), nullable=False),
        sa.Column("easy_read", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(8)),
        sa.Column("representative_id", sa.String(64)),
        sa.Column("is_employee", sa.Boolean(), nullable=False),
        sa.Column("anonymised_at", UTCDateTime()),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "case_parties", _id(), _case_ref(),
        sa.Column("person_id", sa.String(64), sa.ForeignKey("people.id"), nullable=False, index=True),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("case_ref", "person_id", "role", name="uq_case_party"),
    )
    op.create_table(
        "consents", _id(),
        sa.Column("person_id", sa.String(64), sa.ForeignKey("people.id"), nullable=False, index=True),
        sa.Column("case_ref", sa.String(32), index=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("given", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "incidents", _id(), _case_ref(),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("location", sa.String(300)),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("hate_strand", sa.String(32)),
        sa.Column("description", sa.Text()),
        sa.Column("reported_by", sa.String(64)),
        sa.Column("police_reference", sa.String(64)),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "contacts", _id(), _case_ref(),
        sa.Column("person_id", sa.String(64)),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("note", sa.Text()),
    )
    op.create_table(
        "action_plan_items", _id(), _case_ref(),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("due", sa.Date()),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "action_plan_versions", _id(), _case_ref(),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("shared_at", UTCDateTime(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.UniqueConstraint("case_ref", "number", name="uq_plan_version"),
    )
    op.create_table(
        "risk_assessments", _id(), _case_ref(),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("score", sa.Integer()),
        sa.Column("assessed_at", UTCDateTime(), nullable=False),
        sa.Column("next_due", sa.Date()),
        sa.Column("by", sa.String(64), nullable=False),
    )
    op.create_table(
        "interventions", _id(), _case_ref(),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("note", sa.Text()),
    )
    op.create_table(
        "legal_actions", _id(), _case_ref(),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("proposed_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime()),
        sa.Column("outcome", sa.Text()),
    )
    op.create_table(
        "equality_assessments", _id(), _case_ref(),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("note", sa.Text()),
    )
    op.create_table(
        "case_notes", _id(),
        sa.Column("ref", sa.String(40), nullable=False, unique=True),
        sa.Column("case_ref", sa.String(32), nullable=False, index=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("command", sa.String(40), nullable=False),
        sa.Column("field", sa.String(24), nullable=False),
        sa.Column("text", sa.Text()),
    )
    op.create_table(
        "audit_log", _id(),
        sa.Column("at", UTCDateTime(), nullable=False, index=True),
        sa.Column("actor_role", sa.String(32), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.String(80), nullable=False),
        sa.Column("case_ref", sa.String(32), index=True),
        sa.Column("before", sa.JSON()),
        sa.Column("after", sa.JSON()),
    )
    op.create_table(
        "reference_counters",
        sa.Column("year", sa.Integer(), primary_key=True),
        sa.Column("last", sa.Integer(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_PG)
    else:
        for statement in APPEND_ONLY_SQLITE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in ("reference_counters", "audit_log", "case_notes", "equality_assessments", "legal_actions",
                  "interventions", "risk_assessments", "action_plan_versions", "action_plan_items", "contacts",
                  "incidents", "consents", "case_parties", "people"):
        op.drop_table(table)
