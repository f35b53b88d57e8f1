"""The case file tables and the connection to them (PostgreSQL in production and tests, SQLite embedded).

Every row a workflow writes carries a key derived from the case reference and the event's sequence
number, enforced by a unique constraint, so a retried or replayed activity never writes twice.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Engine,
    Integer,
    String,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused by the case file")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class CaseRow(Base):
    __tablename__ = "cases"

    reference: Mapped[str] = mapped_column(String(32), primary_key=True)
    profile: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    risk: Mapped[str | None] = mapped_column(String(8), index=True)
    category: Mapped[str] = mapped_column(String(64))
    officer: Mapped[str | None] = mapped_column(String(64), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closure_reason: Mapped[str | None] = mapped_column(String(32))
    next_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    #: The sequence number of the newest event projected: a late write never moves a case backwards.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class EventRow(Base):
    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_ref", "seq", name="uq_case_events_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(String(32), index=True)
    #: Workflow events are numbered; refusals recorded by a client are not (they never reach the workflow).
    seq: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class TaskRow(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    case_ref: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class MessageRow(Base):
    """A letter or a notification, one row per (case, event, recipient, channel)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    case_ref: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    template: Mapped[str] = mapped_column(String(64))
    recipient_role: Mapped[str] = mapped_column(String(32))
    recipient_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    path: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


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
    """One engine and the case file's tables."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    @classmethod
    def from_env(cls) -> Store:
        return cls(default_database_url())

    def create_all(self) -> None:
        Base.metadata.create_all(self.engine)

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
    cursor.close()
