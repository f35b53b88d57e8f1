"""Subject access and retention, on PostgreSQL and SQLite: no one else's data leaks, expired data goes.

The PostgreSQL database is shared by the whole test session, so every case and person here has a
fresh id, and assertions look only at this test's own rows.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from asb.cli import main
from casefile.audit import act_as
from casefile.db import Store
from casefile.intake import IncidentDetails, IntakeReport, PersonDetails, record_report
from casefile.models import (
    ActionPlanItemRow,
    AuditRow,
    CaseRow,
    ContactRow,
    EventRow,
    IncidentRow,
    MessageRow,
    PersonRow,
    TaskRow,
)
from casefile.retention import run_retention
from casefile.sar import export_subject, write_export

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

ALICE = {"name": "Alice Example", "address": "12 Acacia Avenue, Reading", "postcode": "RG1 1AA",
         "email": "alice@example.org", "phone": "07700 900111"}
BOB = {"name": "Bob Neighbour", "address": "14 Acacia Avenue, Reading", "postcode": "RG1 1AB",
       "email": "bob.neighbour@example.net", "phone": "07700 900222"}
CAROL = {"name": "Carol Witness", "address": "3 Lime Close, Reading", "postcode": "RG2 2CC",
         "email": "carol@example.com", "phone": "07700 900333"}
DAN = {"name": "Dan Other", "address": "9 Oak Road, Reading", "postcode": "RG4 4DD",
       "email": "dan@example.co.uk", "phone": "07700 900444"}


@pytest.fixture(params=["postgresql", "sqlite"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same tests on the production database and the embedded one."""
    if request.param == "postgresql":
        yield request.getfixturevalue("store")
        return
    store = Store(f"sqlite:///{tmp_path / 'cf.db'}")
    store.upgrade()
    yield store
    store.dispose()


@dataclass
class Seeded:
    old: str  # closed 7 years ago: past reading's 6 years
    recent: str  # closed a year ago: within retention
    alice: str  # reporter in both cases
    bob: str  # reported person, only in the old case
    carol: str  # witness, only in the old case
    dan: str  # reported person, only in the recent case


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def seed(store: Store, now: datetime = NOW, profile: str = "reading") -> Seeded:
    s = Seeded(old=_id("ASB-T"), recent=_id("ASB-T"), alice=_id("P"), bob=_id("P"), carol=_id("P"), dan=_id("P"))
    with store.session() as session, session.begin():
        act_as(session, "officer", "test")
        opened_old = now - timedelta(days=365 * 7 + 60)
        record_report(session, s.old, profile, IntakeReport(
            category="noise", officer="o1",
            reporter=PersonDetails(id=s.alice, consents={"email": True, "action": True}, **ALICE),
            reported_person=PersonDetails(id=s.bob, **BOB),
            witnesses=[PersonDetails(id=s.carol, **CAROL)],
            incident=IncidentDetails(occurred_at=opened_old, location="outside 14 Acacia Avenue",
                                     description="Bob Neighbour played loud music at 3am; Bob shouted at me. "
                                                 "Carol Witness (07700900333) saw it."),
        ), opened_old, "officer:test")
        record_report(session, s.recent, profile, IntakeReport(
            category="noise",
            reporter=PersonDetails(id=s.alice, **ALICE),
            reported_person=PersonDetails(id=s.dan, **DAN),
            incident=IncidentDetails(occurred_at=now - timedelta(days=500), location="Oak Road car park",
                                     description="Dan Other blocked my car again."),
        ), now - timedelta(days=500), "officer:test")
        session.flush()
        # An incident Bob reported on the old case, about Alice: Alice must never see it.
        session.add(IncidentRow(case_ref=s.old, occurred_at=opened_old, location="14 Acacia Avenue",
                                category="noise", description="Alice Example bangs on my wall", reported_by=s.bob,
                                evidence=[{"kind": "diary_sheet", "ref": "diary from Bob Neighbour"}],
                                recorded_at=opened_old))
        for ref, closed in ((s.old, now - timedelta(days=365 * 7)), (s.recent, now - timedelta(days=365))):
            case = session.get(CaseRow, ref)
            assert case is not None
            case.stage, case.outcome, case.closed_at, case.closure_reason, case.risk = (
                "closed", "closed", closed, "resolved", "medium")
            for seq, kind in enumerate(("report_received", "risk_assessed", "closed"), start=1):
                session.add(EventRow(case_ref=ref, seq=seq, at=closed - timedelta(days=10 - seq), kind=kind,
                                     data={"risk": "medium"}))
        session.add_all([
            ContactRow(case_ref=s.old, person_id=s.alice, at=opened_old, outcome="made", method="phone",
                       by="o1", note="Alice upset; says Bob Neighbour at 14 Acacia Avenue is worse"),
            ContactRow(case_ref=s.old, person_id=s.bob, at=opened_old, outcome="made", method="visit",
                       by="o1", note="Bob denies it; blames Alice Example"),
            MessageRow(key=f"{s.old}/1/letter/a", case_ref=s.old, channel="letter", template="acknowledgement",
                       recipient_role="reporter", recipient_id=s.alice, status="sent", created_at=opened_old),
            MessageRow(key=f"{s.old}/1/letter/b", case_ref=s.old, channel="letter", template="warning",
                       recipient_role="reported_person", recipient_id=s.bob, status="sent", created_at=opened_old),
            ActionPlanItemRow(case_ref=s.old, description="Bob Neighbour to keep noise down", owner="officer"),
            TaskRow(key=f"{s.old}/9", case_ref=s.old, kind="approval:closure", role="manager", status="done",
                    created_at=opened_old, data={}, reason="Bob Neighbour moved out"),
        ])
    return s


def _export_text(store: Store, person_id: str) -> tuple[dict[str, object], str]:
    with store.session() as session, session.begin():
        act_as(session, "auditor", "test")
        data = export_subject(session, person_id, NOW)
    return data, json.dumps(data)


# --- subject access ------------------------------------------------------------------------------------


def test_sar_holds_the_subjects_own_data_and_no_one_elses(db: Store) -> None:
    s = seed(db)
    data, text = _export_text(db, s.alice)
    for value in ALICE.values():
        assert value in text
    for other in (BOB, CAROL, DAN):
        for key, value in other.items():
            assert value.lower() not in text.lower(), f"another person's {key} leaked: {value}"
    assert "Bob" not in text and "Carol" not in text and "07700900333" not in text
    assert data["person"]["id"] == s.alice  # type: ignore[index]
    assert {c["kind"] for c in data["consents"]} == {"email", "action"}  # type: ignore[union-attr,index]
    cases = {c["reference"]: c for c in data["cases"]}  # type: ignore[union-attr,index]
    assert set(cases) == {s.old, s.recent}
    old = cases[s.old]
    assert old["your_roles"] == ["reporter"]
    assert sorted(p["role"] for p in old["other_parties"]) == ["reported_person", "witness"]
    assert all(p["person"] == "[redacted]" for p in old["other_parties"])
    own, bobs = sorted(old["incidents"], key=lambda i: not i["reported_by_you"])
    assert own["description"].startswith("[redacted] played loud music")
    assert bobs["description"] == "[redacted: about or by another person]"
    assert bobs["evidence"] == [{"kind": "diary_sheet", "ref": "[redacted: about or by another person]"}]
    assert [c["note"] for c in old["contacts_with_you"]] == ["Alice upset; says [redacted] at [redacted] is worse"]
    assert [m["template"] for m in old["messages_to_you"]] == ["acknowledgement"]


def test_sar_for_the_reported_person_withholds_the_reporters_account(db: Store) -> None:
    s = seed(db)
    data, text = _export_text(db, s.bob)
    assert "Bob Neighbour" in text  # his own record
    for value in (*ALICE.values(), *CAROL.values(), "Alice", "Carol"):
        assert value not in text
    (case,) = data["cases"]  # type: ignore[misc]
    assert case["reference"] == s.old
    reported_by_alice = [i for i in case["incidents"] if not i["reported_by_you"]]
    assert reported_by_alice and all(i["description"] == "[redacted: about or by another person]"
                                     for i in reported_by_alice)
    assert [c["note"] for c in case["contacts_with_you"]] == ["Bob denies it; blames [redacted]"]
    assert [m["template"] for m in case["messages_to_you"]] == ["warning"]


def test_sar_refuses_an_unknown_person(db: Store) -> None:
    with db.session() as session, pytest.raises(LookupError, match="no person 'P-nobody' in the case file"):
        export_subject(session, "P-nobody", NOW)


def test_sar_export_is_audited(db: Store, tmp_path: Path) -> None:
    s = seed(db)
    out = write_export(db, s.carol, tmp_path / "carol.json", "auditor", "dpo1", NOW)
    assert json.loads(out.read_text())["person"]["name"] == "Carol Witness"
    assert not list(tmp_path.glob(".*partial"))
    with db.session() as session:
        rows = session.scalars(select(AuditRow).where(AuditRow.action == "export", AuditRow.entity_id == s.carol))
        assert [(r.entity, r.actor_role, r.actor_id) for r in rows] == [("people", "auditor", "dpo1")]


# --- retention -----------------------------------------------------------------------------------------


def _retain(store: Store, now: datetime = NOW, dry_run: bool = False) -> object:
    with store.session() as session, session.begin():
        act_as(session, "system", "retention")
        return run_retention(session, now, dry_run=dry_run)


def _snapshot(store: Store, s: Seeded) -> dict[str, object]:
    """Everything retention may touch on this test's rows, to compare before and after."""
    refs = (s.old, s.recent)
    with store.session() as session:
        def rows(model: type, where: object) -> list[tuple[object, ...]]:
            table = model.__table__  # type: ignore[attr-defined]
            return [tuple(r) for r in session.execute(select(table).where(where).order_by(*table.primary_key))]

        return {
            "cases": rows(CaseRow, CaseRow.reference.in_(refs)),
            "people": rows(PersonRow, PersonRow.id.in_([s.alice, s.bob, s.carol, s.dan])),
            "incidents": rows(IncidentRow, IncidentRow.case_ref.in_(refs)),
            "contacts": rows(ContactRow, ContactRow.case_ref.in_(refs)),
            "plan": rows(ActionPlanItemRow, ActionPlanItemRow.case_ref.in_(refs)),
            "tasks": rows(TaskRow, TaskRow.case_ref.in_(refs)),
            "audit": session.scalar(select(func.count()).select_from(AuditRow)
                                    .where(AuditRow.case_ref.in_(refs) | AuditRow.entity_id.in_(refs))),
        }


def test_retention_anonymises_exactly_the_expired_case(db: Store) -> None:
    s = seed(db)
    report = _retain(db)
    assert s.old in report.cases_anonymised and s.recent not in report.cases_anonymised  # type: ignore[attr-defined]
    with db.session() as session:
        old_incidents = session.scalars(select(IncidentRow).where(IncidentRow.case_ref == s.old)).all()
        assert len(old_incidents) == 2  # the count is kept for statistics
        assert all(i.description is None and i.location is None for i in old_incidents)
        recent = session.scalars(select(IncidentRow).where(IncidentRow.case_ref == s.recent)).one()
        assert recent.description == "Dan Other blocked my car again."
        plan = session.scalars(select(ActionPlanItemRow).where(ActionPlanItemRow.case_ref == s.old)).one()
        assert plan.description == "[anonymised]"
        assert session.scalars(select(TaskRow.reason).where(TaskRow.case_ref == s.old)).one() is None
        notes = session.scalars(select(ContactRow.note).where(ContactRow.case_ref == s.old)).all()
        assert notes == [None, None]

        old = session.get(CaseRow, s.old)
        assert old is not None and old.anonymised_at is not None
        assert (old.stage, old.category, old.risk, old.closure_reason) == ("closed", "noise", "medium", "resolved")
        assert session.get(CaseRow, s.recent).anonymised_at is None  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(EventRow).where(EventRow.case_ref == s.old)) == 3

        alice, bob, carol, dan = (session.get(PersonRow, p) for p in (s.alice, s.bob, s.carol, s.dan))
        assert alice is not None and alice.name == "Alice Example" and alice.anonymised_at is None
        assert report.people_kept[s.alice] == [s.recent]  # type: ignore[attr-defined]
        for gone in (bob, carol):
            assert gone is not None and gone.anonymised_at is not None
            assert (gone.name, gone.address, gone.postcode, gone.email, gone.phone) == (None,) * 5
        assert {s.bob, s.carol} <= set(report.people_anonymised)  # type: ignore[attr-defined]
        assert dan is not None and dan.name == "Dan Other"

        audited = session.scalars(select(AuditRow).where(AuditRow.action == "anonymise", AuditRow.case_ref == s.old))
        assert [(a.entity, a.entity_id) for a in audited] == [("cases", s.old)]
        # The ORM's own audit rows name the cleared columns but never hold their values.
        updates = session.scalars(select(AuditRow).where(AuditRow.action == "update", AuditRow.entity == "people",
                                                         AuditRow.entity_id == s.bob)).all()
        assert updates and "Bob" not in json.dumps([u.before for u in updates])


def test_retention_second_run_and_dry_run_change_nothing(db: Store) -> None:
    s = seed(db)
    before = _snapshot(db, s)
    dry = _retain(db, dry_run=True)
    assert s.old in dry.cases_anonymised and s.bob in dry.people_anonymised  # type: ignore[attr-defined]
    assert _snapshot(db, s) == before

    _retain(db)
    after_first = _snapshot(db, s)
    assert after_first != before
    again = _retain(db)
    assert again.cases_anonymised == [] and again.people_anonymised == []  # type: ignore[attr-defined]
    assert _snapshot(db, s) == after_first


def test_retention_later_erases_someone_once_their_last_case_expires(db: Store) -> None:
    s = seed(db)
    _retain(db)
    report = _retain(db, now=NOW + timedelta(days=365 * 6))
    assert s.recent in report.cases_anonymised and s.alice in report.people_anonymised  # type: ignore[attr-defined]
    with db.session() as session:
        assert session.get(PersonRow, s.alice).name is None  # type: ignore[union-attr]


def test_retention_falls_back_to_the_default_period_for_an_unknown_profile(db: Store) -> None:
    s = seed(db, profile="no-such-landlord")
    report = _retain(db)
    assert s.old in report.cases_anonymised and s.recent not in report.cases_anonymised  # type: ignore[attr-defined]
    assert "default profile's 6 years" in report.profile_fallbacks["no-such-landlord"]  # type: ignore[attr-defined]


def test_retention_refuses_a_naive_now(db: Store) -> None:
    with db.session() as session, pytest.raises(ValueError, match="aware"):
        run_retention(session, datetime(2026, 1, 1))


# --- the command line ----------------------------------------------------------------------------------


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("ASB_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    store = Store(url)
    store.upgrade()
    yield store
    store.dispose()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_sar_writes_the_export(cli_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = seed(cli_store)
    code, out, err = run(capsys, "sar", s.alice)
    assert (code, err) == (0, "")
    path = Path(out.strip())
    assert path == tmp_path / f"sar-{s.alice}.zip"  # a bundle by default: exports carry the person's files
    with zipfile.ZipFile(path) as bundle:
        exported = json.loads(bundle.read("export.json"))
    assert exported["person"]["email"] == "alice@example.org" and exported["files_included"] is True
    code, out, _ = run(capsys, "sar", s.bob, "--out", str(tmp_path / "bob.json"), "--as", "dpo:jo")
    assert code == 0 and Path(out.strip()) == tmp_path / "bob.json"
    with cli_store.session() as session:
        actor = session.scalars(select(AuditRow.actor_id).where(AuditRow.action == "export",
                                                                AuditRow.entity_id == s.bob)).one()
        assert actor == "jo"


def test_cli_sar_refuses_an_unknown_person_in_one_line(cli_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "sar", "P-nobody")
    assert (code, out) == (2, "")
    assert err == "asb: error: no person 'P-nobody' in the case file\n"


def test_cli_retention_refuses_a_naive_now(cli_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "retention", "run", "--now", "2026-01-01T00:00")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "no time zone" in err


def test_cli_retention_run_prints_the_report(cli_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    s = seed(cli_store)
    code, out, _ = run(capsys, "retention", "run", "--now", NOW.isoformat(), "--dry-run")
    assert code == 0
    report = json.loads(out)
    assert report["dry_run"] is True and report["cases_anonymised"] == [s.old]
    code, out, _ = run(capsys, "retention", "run", "--now", NOW.isoformat())
    assert code == 0 and json.loads(out)["cases_anonymised"] == [s.old]
    with cli_store.session() as session:
        assert session.get(PersonRow, s.bob).name is None  # type: ignore[union-attr]


def test_cli_db_upgrade_prints_the_head_revision(cli_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "db", "upgrade")
    head = ScriptDirectory.from_config(cli_store.alembic_config()).get_current_head()
    assert (code, out.strip()) == (0, head)
