"""Alembic environment: runs on the Store's engine (PostgreSQL or SQLite) given in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from casefile.db import default_database_url
from casefile.models import Base

config = context.config
engine = config.attributes.get("engine") or create_engine(default_database_url())

with engine.begin() as connection:
    context.configure(
        connection=connection, target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
