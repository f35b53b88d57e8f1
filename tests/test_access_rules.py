"""Who may see and lock a case, rule by rule (casefile/access.py, 004 §3.7), with the audit each read leaves.

tests/test_api_access.py covers the same through the API; these are fast enough for the mutation run.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from casefile.access import CaseNotFound, NotAllowed, may_see, open_case, set_lock
from casefile.audit import act_as
from casefile.db import Store
from casefile.editing import ConflictError
from casefile.models import AuditRow, CaseRow

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _case(store: Store, *, locked: bool = False, officer: str | None = "o1") -> str:
    ref = f"ASB-AC-{uuid.uuid4().hex[:8]}"
    with store.session() as session, session.begin():
        act_as(session, "intake", "i1")
        session.add(CaseRow(reference=ref, profile="reading", stage="enquiry", outcome="enquiry", category="noise",
                            officer=officer, opened_at=NOW, locked=locked, lock_reason="staff" if locked else None))
    return ref


def _reads(store: Store, ref: str) -> list[tuple[str, str, str, str | None, object]]:
    with store.session() as session:
        rows = session.scalars(select(AuditRow).where(AuditRow.case_ref == ref, AuditRow.action == "read")
                               .order_by(AuditRow.id)).all()
        return [(r.entity, r.actor_role, r.actor_id, r.entity_id, r.after) for r in rows]


def test_who_may_see_a_locked_case() -> None:
    case = CaseRow(reference="X", locked=True, officer="o1")
    assert [may_see(case, role, who) for role, who in [
        ("officer", "o1"), ("officer", "o2"), ("manager", "m1"), ("senior_manager", "s1"), ("intake", "i1"),
        ("ops", "ops1"), ("auditor", "a1")]] == [True, False, True, True, False, False, False]
    assert not may_see(CaseRow(reference="Y", locked=True, officer=None), "officer", "")
    assert may_see(CaseRow(reference="Z", locked=False, officer="o1"), "auditor", "a1")


def test_a_locked_case_read_is_audited_with_its_purpose_and_an_open_one_is_not(store: Store) -> None:
    locked, unlocked = _case(store, locked=True), _case(store)
    with store.session() as session, session.begin():
        assert open_case(session, locked, "manager", "m1", purpose="tasks").reference == locked
        assert open_case(session, locked, "officer", "o1").reference == locked
        assert open_case(session, unlocked, "auditor", "a1").reference == unlocked
    assert _reads(store, locked) == [("cases", "manager", "m1", locked, {"purpose": "tasks"}),
                                     ("cases", "officer", "o1", locked, {"purpose": "view"})]
    assert _reads(store, unlocked) == []


def test_a_hidden_case_looks_like_a_missing_one(store: Store) -> None:
    locked = _case(store, locked=True)
    for ref in (locked, "ASB-1999-000000"):
        with store.session() as session, pytest.raises(CaseNotFound) as hidden:
            open_case(session, ref, "officer", "o2")
        assert str(hidden.value) == f"no case {ref}" and hidden.value.reference == ref
    assert _reads(store, locked) == []


def test_only_managers_lock_and_a_lock_needs_a_reason(store: Store) -> None:
    ref = _case(store)
    with store.session() as session, pytest.raises(NotAllowed) as officer:
        set_lock(session, ref, "officer", "o1", locked=True, reason="staff")
    assert str(officer.value) == "only a manager may lock or unlock a case"
    with store.session() as session, pytest.raises(NotAllowed) as bare:
        set_lock(session, ref, "manager", "m1", locked=True, reason="")
    assert str(bare.value) == "give a reason for locking (e.g. a party is linked to an employee)"
    with store.session() as session, session.begin():
        case = set_lock(session, ref, "manager", "m1", locked=True, reason="reporter is an employee",
                        expected_version=1)
        assert (case.locked, case.lock_reason) == (True, "reporter is an employee")
    with store.session() as session, session.begin():
        case = set_lock(session, ref, "senior_manager", "s1", locked=False, reason="kept anyway")
        assert (case.locked, case.lock_reason) == (False, None)
    assert _reads(store, ref) == [("cases", "senior_manager", "s1", ref, {"purpose": "lock"})]
    with store.session() as session:
        changes = session.scalars(select(AuditRow).where(AuditRow.case_ref == ref, AuditRow.action == "update")
                                  .order_by(AuditRow.id)).all()
        assert [(c.actor_role, c.actor_id, (c.after or {}).get("locked")) for c in changes] == [
            ("manager", "m1", True), ("senior_manager", "s1", False)]
    with store.session() as session, pytest.raises(ConflictError) as stale:
        set_lock(session, ref, "manager", "m1", locked=True, reason="again", expected_version=1)
    assert str(stale.value).startswith(f"case {ref} was changed by someone else (it is now at version 3")
    with store.session() as session, pytest.raises(CaseNotFound):
        set_lock(session, "ASB-1999-000000", "manager", "m1", locked=True, reason="x")
