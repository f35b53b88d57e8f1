"""The case file on PostgreSQL and SQLite: migrations, versions, locking, the audit trail, projection."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from activities.case_file import CaseFileActivities
from activities.contracts import EventBatch, Projection, TimelineEvent
from casefile.access import CaseNotFound, NotAllowed, open_case, set_lock
from casefile.audit import REDACTED, act_as
from casefile.db import Store
from casefile.editing import ConflictError, update_person
from casefile.intake import IntakeReport, record_report
from casefile.models import AuditRow, CaseRow, ContactRow, LegalActionRow, PersonRow, RiskAssessmentRow, TaskRow
from casefile.references import next_reference

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
_numbers = itertools.count(1)


@pytest.fixture(params=["postgresql", "sqlite"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'casefile.db'}")
        s.upgrade()
        yield s
        s.dispose()
    else:
        yield request.getfixturevalue("store")


def _fresh_postgres(postgres_url: str, name: str) -> Iterator[str]:
    admin = psycopg.connect(make_url(postgres_url).set(drivername="postgresql", database="postgres")
                            .render_as_string(hide_password=False), autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        yield from _fresh_postgres(request.getfixturevalue("postgres_url"), f"asb_empty_{uuid.uuid4().hex[:12]}")


def _report(**extra: object) -> IntakeReport:
    data: dict[str, object] = {
        "category": "noise", "officer": "o1",
        "reporter": {"name": "Alice Example", "address": "1 High Street, Reading", "postcode": "RG1 1AA",
                     "email": "alice@example.org", "contact_method": "email", "consents": {"email": True}},
        "reported_person": {"name": "Bob Neighbour", "address": "3 High Street, Reading"},
        "incident": {"occurred_at": "2026-03-01T23:10:00+00:00", "location": "stairwell",
                     "description": "Bob Neighbour played loud music until 3am"},
    }
    data.update(extra)
    return IntakeReport.model_validate(data)


def _open(store: Store, **extra: object) -> tuple[str, str, str]:
    with store.session() as session, session.begin():
        act_as(session, "intake", "i1")
        reference = next_reference(session, 2026, prefix="TST")
        args = record_report(session, reference, "reading", _report(**extra), NOW, "i1")
    assert args.reporter.id and args.reported_person and args.reported_person.id
    return reference, args.reporter.id, args.reported_person.id


def test_migrations_bring_an_empty_database_to_head(empty_url: str) -> None:
    store = Store(empty_url)
    assert store.current_revision() is None
    store.upgrade()
    from alembic.script import ScriptDirectory

    assert store.current_revision() == ScriptDirectory.from_config(store.alembic_config()).get_current_head()
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {"cases", "people", "incidents", "audit_log", "case_notes", "tasks", "messages"} <= tables
    store.dispose()


def test_migrations_upgrade_a_database_at_the_previous_revision_keeping_its_data(empty_url: str) -> None:
    store = Store(empty_url)
    store.upgrade("0001")
    with store.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO cases (reference, profile, stage, outcome, category, opened_at, overdue, last_seq) "
            "VALUES ('ASB-2025-000009', 'reading', 'investigation', 'enquiry', 'noise', :at, false, 7)"
        ), {"at": NOW})
    store.upgrade()
    with store.session() as session:
        case = session.get(CaseRow, "ASB-2025-000009")
        assert case is not None
        assert (case.stage, case.last_seq, case.locked, case.version) == ("investigation", 7, False, 1)
    store.dispose()


def test_case_references_count_up_per_year(any_store: Store) -> None:
    with any_store.session() as session, session.begin():
        first = next_reference(session, 2031)
        second = next_reference(session, 2031)
        other_year = next_reference(session, 2032)
    assert second == first[:-6] + f"{int(first[-6:]) + 1:06d}"
    assert other_year.startswith("ASB-2032-")


def test_a_case_started_outside_intake_never_blocks_new_reports(any_store: Store) -> None:
    """Issue 11 item 1: a workflow started with `temporal workflow start` is projected into the case
    file under a reference intake would issue next. Intake skips it, and a failed intake does not
    hand the same number out again, so reports never stall on `UNIQUE constraint failed`."""
    with any_store.session() as session, session.begin():
        taken = next_reference(session, 2033)
    following = taken[:-6] + f"{int(taken[-6:]) + 1:06d}"
    with any_store.session() as session, session.begin():  # what the outside workflow's projection wrote
        session.add(CaseRow(reference=following, profile="reading", stage="enquiry", outcome="enquiry",
                            category="noise", opened_at=NOW, overdue=False, last_seq=1, locked=False))
    references = []
    for _ in range(2):
        with any_store.session() as session, session.begin():
            reference = next_reference(session, 2033)
            record_report(session, reference, "reading", _report(), NOW, "i1")
        references.append(reference)
    assert following not in references
    assert len(set(references)) == 2
    # An intake whose insert fails (here: the reference is already a case) rolls back, and the number
    # it took is not handed out again.
    with pytest.raises(IntegrityError), any_store.session() as session, session.begin():
        failed = next_reference(session, 2033)
        session.add(CaseRow(reference=following, profile="reading", stage="enquiry", outcome="enquiry",
                            category="noise", opened_at=NOW, overdue=False, last_seq=1, locked=False))
        session.flush()
    with any_store.session() as session, session.begin():
        after = next_reference(session, 2033)
    assert after != failed and after not in references


def test_two_officers_editing_a_person_never_lose_an_update(any_store: Store) -> None:
    _, reporter, _ = _open(any_store)
    first, second = any_store.session(), any_store.session()
    try:
        v1 = first.get(PersonRow, reporter)
        v2 = second.get(PersonRow, reporter)
        assert v1 is not None and v2 is not None and v1.version == v2.version == 1
        update_person(first, reporter, {"phone": "0118 000 0001"}, expected_version=1, role="officer",
                      actor_id="o1")
        first.commit()
        with pytest.raises(ConflictError, match="changed by someone else"):
            update_person(second, reporter, {"phone": "0118 000 0002"}, expected_version=1, role="officer",
                          actor_id="o2")
        second.rollback()
    finally:
        first.close()
        second.close()
    with any_store.session() as session:
        saved = session.get(PersonRow, reporter)
        assert saved is not None and (saved.phone, saved.version) == ("0118 000 0001", 2)


def test_an_edit_against_an_old_version_is_refused_before_anything_changes(any_store: Store) -> None:
    _, reporter, _ = _open(any_store)
    with any_store.session() as session, session.begin():
        update_person(session, reporter, {"language": "cy"}, expected_version=1, role="officer", actor_id="o1")
    with any_store.session() as session, pytest.raises(ConflictError, match="now at version 2"):
        update_person(session, reporter, {"language": "pl"}, expected_version=1, role="officer", actor_id="o2")


def test_a_locked_case_is_invisible_to_others_and_every_read_is_audited(any_store: Store) -> None:
    reference, _, _ = _open(any_store)
    with any_store.session() as session, session.begin(), pytest.raises(NotAllowed):
        set_lock(session, reference, "officer", "o1", locked=True, reason="employee")
    with any_store.session() as session, session.begin():
        set_lock(session, reference, "manager", "m1", locked=True, reason="reported person is an employee")
    with any_store.session() as session, session.begin():
        with pytest.raises(CaseNotFound):
            open_case(session, reference, "officer", "o2")
        with pytest.raises(CaseNotFound):
            open_case(session, reference, "intake", "i1")
        assert open_case(session, reference, "officer", "o1").locked
        assert open_case(session, reference, "senior_manager", "s1").locked
    with any_store.session() as session:
        reads = session.scalars(select(AuditRow).where(AuditRow.case_ref == reference, AuditRow.action == "read")
                                .order_by(AuditRow.id)).all()
        # The refused reads left no trace of the case; the allowed ones are each recorded.
        assert [(r.actor_role, r.actor_id) for r in reads] == [("officer", "o1"), ("senior_manager", "s1")]


def test_every_change_is_audited_without_personal_values(any_store: Store) -> None:
    reference, reporter, reported = _open(any_store)
    with any_store.session() as session, session.begin():
        update_person(session, reporter, {"address": "9 New Road", "large_print": True}, expected_version=1,
                      role="officer", actor_id="o1")
    with any_store.session() as session:
        change = session.scalars(select(AuditRow).where(AuditRow.entity == "people", AuditRow.entity_id == reporter,
                                                        AuditRow.action == "update")).one()
        assert (change.actor_role, change.actor_id) == ("officer", "o1")
        assert change.after == {"address": REDACTED, "large_print": True}
        assert change.before == {"address": REDACTED, "large_print": False}
        # Every audit row this case wrote (the report, its people and incident, the edit), before and after:
        # only this test's rows, since the session's database is shared with every other test.
        rows = session.scalars(select(AuditRow).where(
            (AuditRow.case_ref == reference)
            | ((AuditRow.entity == "people") & AuditRow.entity_id.in_([reporter, reported])))).all()
        assert {r.entity for r in rows} >= {"cases", "people", "incidents"}
        text = json.dumps([[r.before, r.after] for r in rows])
        assert "[personal data]" in text
        for value in ("Alice", "Example", "Bob Neighbour", "High Street", "RG1 1AA", "alice@example.org",
                      "stairwell", "loud music", "9 New Road"):
            assert value not in text, f"{value!r} is in the audit log"


def test_the_audit_log_is_append_only(any_store: Store) -> None:
    _open(any_store)
    for statement in ("UPDATE audit_log SET actor_id = 'someone-else'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), any_store.engine.begin() as connection:
            connection.execute(sa.text(statement))


def _batch(reference: str, seq0: int, events: list[dict[str, object]], stage: str = "investigation") -> EventBatch:
    return EventBatch(
        case_ref=reference,
        events=[TimelineEvent(seq=seq0 + i, at=NOW, data=e) for i, e in enumerate(events)],
        projection=Projection(seq=seq0 + len(events) - 1, profile="reading", stage=stage, outcome="enquiry",
                              risk="medium", category="noise", officer="o1", opened_at=NOW, closed_at=None,
                              closure_reason=None, next_deadline=None, overdue=False),
    )


def test_projection_writes_the_rows_events_stand_for_once_however_often_retried(any_store: Store) -> None:
    reference, reporter, _ = _open(any_store)
    activities = CaseFileActivities(any_store)
    batch = _batch(reference, 1, [
        {"event": "command", "command": "record_contact", "role": "officer", "by": "o1"},
        {"event": "contact", "outcome": "made", "method": "phone"},
        {"event": "risk_assessment", "level": "medium"},
        {"event": "legal_action", "kind": "injunction", "status": "proposed", "emergency": False},
        {"event": "task", "kind": "legal_approval", "role": "senior_manager"},
    ])
    for _ in range(3):
        activities.record_events(batch)
    activities.record_events(_batch(reference, 6, [
        {"event": "command", "command": "approve_legal_action", "role": "senior_manager", "by": "s1"},
        {"event": "legal_action", "kind": "injunction", "status": "approved", "emergency": False},
    ]))
    with any_store.session() as session:
        def count(model: type) -> int:
            return int(session.scalar(select(func.count()).select_from(model).where(model.case_ref == reference))
                       or 0)

        assert (count(ContactRow), count(RiskAssessmentRow), count(TaskRow), count(LegalActionRow)) == (1, 1, 1, 1)
        contact = session.scalars(select(ContactRow).where(ContactRow.case_ref == reference)).one()
        assert (contact.person_id, contact.by, contact.outcome) == (reporter, "o1", "made")
        legal = session.scalars(select(LegalActionRow).where(LegalActionRow.case_ref == reference)).one()
        assert legal.status == "approved"
        case = session.get(CaseRow, reference)
        assert case is not None and (case.stage, case.last_seq) == ("investigation", 7)


def test_subject_access_export_includes_case_notes_with_other_people_redacted(any_store: Store) -> None:
    from casefile.models import CaseNoteRow
    from casefile.sar import export_subject

    reference, reporter, _ = _open(any_store)
    with any_store.session() as session, session.begin():
        session.add(CaseNoteRow(ref=f"N-{reference}", case_ref=reference, at=NOW, by="o1",
                                command="record_equality_assessment", field="note",
                                text="Spoke to Bob Neighbour at 3 High Street, Reading about the music"))
    with any_store.session() as session, session.begin():
        export = export_subject(session, reporter, NOW)
    notes = export["cases"][0]["case_notes"]
    assert len(notes) == 1 and "about the music" in notes[0]["text"]
    assert "Bob" not in str(export) and "3 High Street" not in str(export)


@pytest.mark.parametrize("where", ["reporter.name", "incident.description", "witnesses.0.address"])
def test_text_with_a_nul_is_refused_before_it_reaches_the_database(where: str) -> None:
    """PostgreSQL text cannot hold NUL: found by fuzzing the app feed, which answered 500 before."""
    data: dict[str, object] = {"category": "noise", "reporter": {}, "witnesses": [{}],
                               "incident": {"occurred_at": "2026-03-01T23:10:00+00:00"}}
    section, key = where.split(".", 1)
    target: object = data[section]
    if key.startswith("0."):
        target, key = data[section][0], key[2:]  # type: ignore[index]
    target[key] = "loud\x00music"  # type: ignore[index]
    with pytest.raises(ValueError, match="NUL"):
        IntakeReport.model_validate(data)
