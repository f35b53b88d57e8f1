"""Case references such as ASB-2026-000123: one counter per year, safe under concurrent intake.

A number is taken in a transaction of its own (its own connection, committed at once), so an intake
that fails afterwards never hands the same number out again: it is simply not used. A reference a
case already holds is skipped: a workflow started outside intake (`temporal workflow start`, as the
README shows) is projected into the case file under its own id, and intake must go round it, not stall
on the cases table's unique key (issue 11 item 1).
"""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from casefile.models import CaseRow, ReferenceCounterRow

#: Go round at most this many taken references in one call; more means something is wrong.
MAX_SKIPPED = 10_000


def next_reference(session: Session, year: int, prefix: str = "ASB") -> str:
    """The next free reference of `year`. `session` only names the database: the number is committed
    in a separate transaction before the caller's own work, whatever becomes of that."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    table = ReferenceCounterRow.__table__
    statement = (
        dialect.insert(table).values(year=year, last=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
    with engine.connect() as connection, connection.begin():
        for _ in range(MAX_SKIPPED):
            number = connection.execute(statement).scalar_one()
            reference = f"{prefix}-{year}-{number:06d}"
            taken = connection.execute(select(CaseRow.reference).where(CaseRow.reference == reference)).first()
            if taken is None:
                return reference
    raise RuntimeError(f"no free case reference for {prefix}-{year} after {MAX_SKIPPED} taken ones")
