"""The connection to the case file: PostgreSQL (psycopg 3) in production and tests, SQLite embedded.

`ASB_DATABASE_URL` selects. The schema is brought to head by the Alembic migrations in
casefile/migrations (`asb db upgrade`), never by create_all, so every database shares one history.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from casefile.models import EventRow

MIGRATIONS = Path(__file__).with_name("migrations")
#: The advisory lock key migrations hold on PostgreSQL (an arbitrary constant: "ASB" "MIG").
MIGRATION_LOCK = 0x415342_4D4947


def default_state_dir() -> Path:
    return Path(os.environ.get("ASB_STATE_DIR", ".asb")).resolve()


def default_database_url() -> str:
    url = os.environ.get("ASB_DATABASE_URL")
    if url:
        return url
    state = default_state_dir()
    state.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{state / 'asb.db'}"


class Store:
    """One engine on the case file."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    @classmethod
    def from_env(cls) -> Store:
        return cls(default_database_url())

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to `revision` (head by default) with the Alembic migrations.

        Every worker and API process upgrades as it starts, and a deployment starts several at once
        (deploy/compose.yaml, a Kubernetes rollout). On PostgreSQL one at a time holds an advisory lock
        while it migrates; the others then find the schema at head. Without it, simultaneous first
        starts on an empty database wait on each other's CREATE TABLE for ever."""
        from alembic import command

        if self.engine.dialect.name != "postgresql":
            command.upgrade(self.alembic_config(), revision)
            return
        with self.engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                command.upgrade(self.alembic_config(), revision)
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                lock.commit()

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def alembic_config(self) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["engine"] = self.engine
        return config

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def insert_ignoring_duplicates(self, table: Any) -> Any:
        """An INSERT that skips rows whose unique key already exists (the idempotency guarantee)."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing()

    def timeline(self, case_ref: str) -> list[dict[str, Any]]:
        """The case's event record in order, as the timeline prints it."""
        with self.session() as session:
            rows = session.scalars(
                select(EventRow).where(EventRow.case_ref == case_ref).order_by(EventRow.at, EventRow.id)
            ).all()
            return [{"at": row.at.isoformat(), "event": row.kind, **row.data} for row in rows]

    def record_rejection(self, case_ref: str, at: datetime, command: str, reason: str, role: str) -> None:
        """A refused command never reaches the workflow's history; the case file still remembers it."""
        with self.session() as session, session.begin():
            session.add(EventRow(case_ref=case_ref, seq=None, at=at, kind="rejected",
                                 data={"command": command, "reason": reason, "role": role}))

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
