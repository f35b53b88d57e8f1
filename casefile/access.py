"""Who may see a case: a locked case (004 §3.7) is visible only to its officer and managers, every
read of it is audited, and to anyone else it does not exist (the same answer as an unknown case,
so its existence leaks nothing)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from casefile import audit
from casefile.models import CaseRow

MANAGERS = frozenset({"manager", "senior_manager"})


class CaseNotFound(LookupError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"no case {reference}")
        self.reference = reference


class NotAllowed(PermissionError):
    pass


def may_see(case: CaseRow, role: str, actor_id: str) -> bool:
    if not case.locked:
        return True
    return role in MANAGERS or (case.officer is not None and actor_id == case.officer)


def open_case(session: Session, reference: str, role: str, actor_id: str, *, purpose: str = "view") -> CaseRow:
    """The case, if this person may see it; a read of a locked case is written to the audit log."""
    case = session.get(CaseRow, reference)
    if case is None or not may_see(case, role, actor_id):
        raise CaseNotFound(reference)
    if case.locked:
        audit.act_as(session, role, actor_id)
        audit.record(session, "read", "cases", reference, reference, after={"purpose": purpose})
    return case


def set_lock(
    session: Session, reference: str, role: str, actor_id: str, *, locked: bool, reason: str | None,
    expected_version: int | None = None,
) -> CaseRow:
    """Managers decide locking (004 §3.7: with the officer); the change is audited like any other."""
    if role not in MANAGERS:
        raise NotAllowed("only a manager may lock or unlock a case")
    if locked and not reason:
        raise NotAllowed("give a reason for locking (e.g. a party is linked to an employee)")
    case = open_case(session, reference, role, actor_id, purpose="lock")
    from casefile.editing import check_version

    check_version("case", reference, case.version, expected_version)
    audit.act_as(session, role, actor_id)
    case.locked = locked
    case.lock_reason = reason if locked else None
    return case
