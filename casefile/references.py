"""Case references such as ASB-2026-000123: one counter per year, safe under concurrent intake."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from casefile.models import ReferenceCounterRow


def next_reference(session: Session, year: int, prefix: str = "ASB") -> str:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = ReferenceCounterRow.__table__
    statement = (
        dialect.insert(table).values(year=year, last=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
    number = session.execute(statement).scalar_one()
    return f"{prefix}-{year}-{number:06d}"
