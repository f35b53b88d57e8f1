"""People, places and parties (issue 12 items 5 and 6): unknown people, dates of birth, UPRNs, the
normalised keys matching compares, and officers' merges of two records into one.

- people.description: who an unknown person is ("unknown male, flat 3"); their name stays NULL.
- people.date_of_birth, people.uprn (1 to 12 digits; PostgreSQL also checks it).
- people.*_key: the normal forms of name, address, postcode, email and phone (casefile/normalise.py),
  indexed so matching a report is a lookup; existing people are keyed here.
- people.merged_into: set on a record an officer merged into another; it keeps only its id.
- person_merges: one row per merge, with its reason and the merged record's own details.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from casefile.normalise import address_key, email_key, name_key, phone_key, postcode_key
from casefile.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

KEYED = {"name": name_key, "address": address_key, "postcode": postcode_key, "email": email_key, "phone": phone_key}
INDEXED = ("uprn", "name_key", "email_key", "phone_key", "merged_into")


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("description", sa.String(300)))
        batch.add_column(sa.Column("date_of_birth", sa.Date()))
        batch.add_column(sa.Column("uprn", sa.String(12)))
        batch.add_column(sa.Column("name_key", sa.String(200)))
        batch.add_column(sa.Column("address_key", sa.Text()))
        batch.add_column(sa.Column("postcode_key", sa.String(16)))
        batch.add_column(sa.Column("email_key", sa.String(200)))
        batch.add_column(sa.Column("phone_key", sa.String(40)))
        batch.add_column(sa.Column("merged_into", sa.String(64)))
    for column in INDEXED:
        op.create_index(f"ix_people_{column}", "people", [column])
    # A hash index: an address may be 1000 characters, past what a PostgreSQL b-tree entry may hold.
    op.create_index("ix_people_address_key", "people", ["address_key"], postgresql_using="hash")
    if op.get_bind().dialect.name == "postgresql":
        op.create_check_constraint("ck_people_uprn", "people", "uprn ~ '^[1-9][0-9]{0,11}$'")

    people = sa.table("people", sa.column("id", sa.String()), *(sa.column(name, sa.String()) for name in KEYED),
                      *(sa.column(f"{name}_key", sa.String()) for name in KEYED))
    bind = op.get_bind()
    rows = bind.execute(sa.select(people.c.id, *(people.c[name] for name in KEYED))).mappings().all()
    for row in rows:
        keys = {f"{name}_key": normal(row[name]) for name, normal in KEYED.items()}
        if any(keys.values()):
            bind.execute(sa.update(people).where(people.c.id == row["id"]).values(**keys))

    op.create_table(
        "person_merges",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("keep_id", sa.String(64), sa.ForeignKey("people.id"), nullable=False, index=True),
        sa.Column("merged_id", sa.String(64), sa.ForeignKey("people.id"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("by_role", sa.String(32), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("merged_values", sa.JSON()),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.UniqueConstraint("merged_id", name="uq_person_merge"),
    )


def downgrade() -> None:
    op.drop_table("person_merges")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("ck_people_uprn", "people", type_="check")
    for column in (*INDEXED, "address_key"):
        op.drop_index(f"ix_people_{column}", "people")
    with op.batch_alter_table("people") as batch:
        for column in ("merged_into", "phone_key", "email_key", "postcode_key", "address_key", "name_key", "uprn",
                       "date_of_birth", "description"):
            batch.drop_column(column)
