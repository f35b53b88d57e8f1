"""The audit trail: every change to the case file and every read of a locked case, with who and when.

Changes are captured at flush time from the ORM's own change tracking, so no service can forget to
audit. Personal columns are recorded by name, never by value: the log is append-only, so anything
written to it could never be erased by retention or corrected after a subject access request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from casefile.models import DERIVED, PERSONAL, AuditRow, Base, EventRow, ReferenceCounterRow

REDACTED = "[personal data]"
#: Tables not audited row by row: the timeline is itself an append-only record of the workflow's
#: decisions, and the counter holds no case data.
NOT_AUDITED = (AuditRow, EventRow, ReferenceCounterRow)


def act_as(session: Session, role: str, actor_id: str) -> Session:
    """Name who is acting in this session; every change it flushes is audited to them."""
    session.info["actor"] = (role, actor_id)
    return session


def _actor(session: Session) -> tuple[str, str]:
    actor: tuple[str, str] = session.info.get("actor", ("system", "system"))
    return actor


def _value(table: str, column: str, value: Any) -> Any:
    if value is not None and column in PERSONAL.get(table, frozenset()):
        return REDACTED
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _identity(obj: Base) -> str:
    mapper = inspect(obj).mapper
    parts = [getattr(obj, mapper.get_property_by_column(column).key) for column in mapper.primary_key]
    return "/".join("new" if part is None else str(part) for part in parts)


def _case_ref(obj: Base) -> str | None:
    return getattr(obj, "case_ref", None) or getattr(obj, "reference", None)


def record(
    session: Session, action: str, entity: str, entity_id: str, case_ref: str | None,
    before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
) -> None:
    """Write one audit row now (reads, exports, anonymisation), in the session's transaction."""
    role, actor_id = _actor(session)
    session.add(AuditRow(at=datetime.now(UTC), actor_role=role, actor_id=actor_id, action=action, entity=entity,
                         entity_id=entity_id, case_ref=case_ref, before=before, after=after))


@event.listens_for(Session, "before_flush")
def _audit_changes(session: Session, _context: Any, _instances: Any) -> None:
    role, actor_id = _actor(session)
    now = datetime.now(UTC)
    rows: list[AuditRow] = []
    for obj in list(session.new):
        if isinstance(obj, NOT_AUDITED) or not isinstance(obj, Base):
            continue
        table = obj.__table__.name  # type: ignore[attr-defined]
        state = inspect(obj)
        derived = DERIVED.get(table, frozenset())
        after = {attr.key: _value(table, attr.key, attr.value) for attr in state.attrs
                 if attr.value is not None and attr.key not in derived}
        rows.append(AuditRow(at=now, actor_role=role, actor_id=actor_id, action="create", entity=table,
                             entity_id=_identity(obj), case_ref=_case_ref(obj), before=None, after=after))
    for obj in list(session.dirty):
        if isinstance(obj, NOT_AUDITED) or not isinstance(obj, Base) or not session.is_modified(obj):
            continue
        table = obj.__table__.name  # type: ignore[attr-defined]
        before: dict[str, Any] = {}
        after = {}
        derived = DERIVED.get(table, frozenset())
        for attr in inspect(obj).attrs:
            history = attr.history
            if history.has_changes() and attr.key not in derived:
                before[attr.key] = _value(table, attr.key, history.deleted[0] if history.deleted else None)
                after[attr.key] = _value(table, attr.key, history.added[0] if history.added else None)
        if after:
            rows.append(AuditRow(at=now, actor_role=role, actor_id=actor_id, action="update", entity=table,
                                 entity_id=_identity(obj), case_ref=_case_ref(obj), before=before, after=after))
    for obj in list(session.deleted):
        if isinstance(obj, NOT_AUDITED) or not isinstance(obj, Base):
            continue
        table = obj.__table__.name  # type: ignore[attr-defined]
        rows.append(AuditRow(at=now, actor_role=role, actor_id=actor_id, action="delete", entity=table,
                             entity_id=_identity(obj), case_ref=_case_ref(obj), before=None, after=None))
    session.add_all(rows)
