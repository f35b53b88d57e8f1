"""Evidence files on a case (issue 12 item 2), on PostgreSQL: stored by digest on disk or in a real
S3-compatible server on loopback, checked against the deployment's limits and their own bytes, stored once,
disclosed in a subject access bundle, removed by retention, and audited.

The database is shared by the whole test session, so every case and person here has a fresh id, and each
test has an evidence store of its own (a temporary folder, or its own bucket).
"""

from __future__ import annotations

import io
import json
import os
import threading
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from PIL import Image
from sqlalchemy import func, select

from casefile.access import CaseNotFound, set_lock
from casefile.audit import act_as
from casefile.db import Store
from casefile.evidence import (
    OWN_DELETE_WINDOW,
    AddedEvidence,
    EvidenceDeleteRefused,
    EvidenceKeyReused,
    EvidenceNotFound,
    EvidenceRefused,
    EvidenceUnavailable,
    add_evidence,
    delete_evidence,
    list_evidence,
    open_evidence,
    purge_orphans,
    sanitise_name,
    set_shareable,
    sweep_strays,
)
from casefile.evidence_store import (
    EvidenceConfigError,
    EvidenceSettings,
    EvidenceStore,
    LocalEvidenceStore,
    ObjectCorrupt,
    ObjectMissing,
    S3EvidenceStore,
    digest_of,
    open_store,
)
from casefile.intake import IncidentDetails, IntakeReport, PersonDetails, record_report
from casefile.models import AuditRow, CaseRow, EvidenceObjectRow, EvidenceRow, IncidentRow
from casefile.retention import run_retention
from casefile.sar import WITHHELD_FILE, write_export

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def jpeg(seed: int, size: int = 8) -> bytes:
    """A real JPEG photo (Pillow), different for each seed, and never the same bytes as another module's
    photos (its comment): the session's case file is shared, and an object another module stored under
    the same digest would outlive this module's retention and purge checks."""
    out = io.BytesIO()
    Image.new("RGB", (size, size), (seed % 256, (seed * 7) % 256, (seed * 13) % 256)).save(
        out, "JPEG", comment=b"tests/test_evidence.py")
    return out.getvalue()


def noisy_jpeg(size: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (size, size), os.urandom(size * size * 3)).save(out, "JPEG", quality=95)
    return out.getvalue()


def png(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (seed % 256, 0, 0)).save(out, "PNG")
    return out.getvalue()


MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run"


@dataclass
class Case:
    ref: str
    reporter: str
    reported: str
    incident: int  # reported by the reporter


def open_test_case(store: Store, *, closed: datetime | None = None, officer: str = "o1") -> Case:
    case = Case(ref=_id("ASB-EV"), reporter=_id("P"), reported=_id("P"), incident=0)
    opened = (closed - timedelta(days=60)) if closed else NOW - timedelta(days=5)
    with store.session() as session, session.begin():
        act_as(session, "intake", "i1")
        record_report(session, case.ref, "reading", IntakeReport(
            category="noise", officer=officer,
            reporter=PersonDetails(id=case.reporter, name="Alice Example", address="12 Acacia Avenue"),
            reported_person=PersonDetails(id=case.reported, name="Bob Neighbour", address="14 Acacia Avenue"),
            incident=IncidentDetails(occurred_at=opened, description="loud music at 3am"),
        ), opened, "intake:i1")
        session.flush()
        case.incident = session.scalars(select(IncidentRow.id).where(IncidentRow.case_ref == case.ref)).one()
        if closed is not None:
            row = session.get(CaseRow, case.ref)
            assert row is not None
            row.stage, row.outcome, row.closed_at, row.closure_reason = "closed", "closed", closed, "resolved"
    return case


@pytest.fixture
def local(tmp_path: Path) -> LocalEvidenceStore:
    return LocalEvidenceStore(tmp_path / "evidence")


@pytest.fixture
def settings(tmp_path: Path) -> EvidenceSettings:
    return EvidenceSettings(local_dir=tmp_path / "evidence")


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def add(store: Store, evidence_store: EvidenceStore, case_ref: str, content: bytes,
        **kwargs: object) -> AddedEvidence:
    fields: dict[str, object] = {"filename": "photo.jpg", "kind": "photo", "role": "officer", "actor_id": "o1"}
    fields.update(kwargs)
    with store.session() as session, session.begin():
        return add_evidence(session, case_ref, content, store=evidence_store, **fields)  # type: ignore[arg-type]


def audit_rows(store: Store, case_ref: str, entity: str = "evidence") -> list[tuple[str, str, str]]:
    with store.session() as session:
        rows = session.scalars(select(AuditRow).where(AuditRow.case_ref == case_ref, AuditRow.entity == entity)
                               .order_by(AuditRow.id))
        return [(r.action, r.actor_role, r.actor_id) for r in rows]


# --- adding and reading ----------------------------------------------------------------------------------


def test_an_officer_adds_a_photo_kept_under_its_digest_and_reads_it_back(
        store: Store, local: LocalEvidenceStore) -> None:
    case = open_test_case(store)
    photo = jpeg(1)
    added = add(store, local, case.ref, photo, filename="../../etc/passwd/Bob\u202egpj.exe at the door.jpg",
                media_type="image/jpeg", incident_id=case.incident, description="Damage to the door",
                provided_by=case.reporter)
    info = added.evidence
    assert added.created
    digest = digest_of(photo)
    assert (info.sha256, info.size, info.media_type, info.kind) == (digest, len(photo), "image/jpeg", "photo")
    # The name is for display only: no folders, no right-to-left trick; the bytes live under their digest.
    assert info.filename == "Bobgpj.exe at the door.jpg"
    assert stored_files(local.root) == [local.root / digest[:2] / digest[2:4] / digest]
    assert (local.root / digest[:2] / digest[2:4] / digest).read_bytes() == photo
    assert not info.shareable  # not for partners unless someone says so

    with store.session() as session, session.begin():
        listed = list_evidence(session, case.ref, role="officer", actor_id="o1")
        opened = open_evidence(session, info.id, role="officer", actor_id="o1", store=local)
    assert [e.id for e in listed] == [info.id]
    assert opened.content == photo and opened.evidence == info
    with store.session() as session, session.begin():
        assert set_shareable(session, info.id, True, role="manager", actor_id="m1").shareable
    assert audit_rows(store, case.ref) == [("create", "officer", "o1"), ("read", "officer", "o1"),
                                           ("update", "manager", "m1")]
    with store.session() as session:
        create = session.scalars(select(AuditRow).where(AuditRow.entity == "evidence", AuditRow.case_ref == case.ref,
                                                        AuditRow.action == "create")).one()
    # The append-only audit log names the personal columns, never their values.
    assert create.after is not None
    assert create.after["original_name"] == "[personal data]" and create.after["description"] == "[personal data]"
    assert create.after["digest"] == digest


def test_the_same_file_twice_is_stored_once_and_an_idempotency_key_replays(
        store: Store, local: LocalEvidenceStore) -> None:
    case, other = open_test_case(store), open_test_case(store)
    photo = jpeg(2)
    first = add(store, local, case.ref, photo, idempotency_key="upload-1")
    again = add(store, local, case.ref, photo, filename="copy.jpeg")
    replay = add(store, local, case.ref, photo, idempotency_key="upload-1")
    assert not again.created and not replay.created
    assert again.evidence.id == replay.evidence.id == first.evidence.id
    elsewhere = add(store, local, other.ref, photo)
    assert elsewhere.created and elsewhere.evidence.id != first.evidence.id
    assert len(stored_files(local.root)) == 1
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(EvidenceRow)
                              .where(EvidenceRow.case_ref == case.ref)) == 1
        assert session.scalar(select(func.count()).select_from(EvidenceObjectRow)
                              .where(EvidenceObjectRow.digest == digest_of(photo))) == 1
    # The key names one upload: the same key with another file is refused, and nothing is stored.
    with pytest.raises(EvidenceKeyReused) as refused:
        add(store, local, case.ref, jpeg(3), idempotency_key="upload-1")
    assert refused.value.field == "Idempotency-Key"
    assert len(stored_files(local.root)) == 1
    assert audit_rows(store, case.ref) == [("create", "officer", "o1")]


def test_uploads_of_the_same_file_at_once_make_one_row(store: Store, local: LocalEvidenceStore) -> None:
    case = open_test_case(store)
    photo = jpeg(4)
    barrier = threading.Barrier(4)
    results: list[AddedEvidence] = []
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(add(store, local, case.ref, photo))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert len({r.evidence.id for r in results}) == 1
    assert len(stored_files(local.root)) == 1


# --- refusals ----------------------------------------------------------------------------------------------


REFUSALS: dict[str, tuple[bytes, dict[str, object], dict[str, object], str, str]] = {
    "too big": (noisy_jpeg(64), {"media_type": "image/jpeg"}, {"max_bytes": 1024}, "file",
                "the largest accepted is 1 KiB"),
    "empty": (b"", {}, {}, "file", "the file is empty"),
    "a program called photo.jpg": (EXE, {"media_type": "image/jpeg"}, {}, "file", "a Windows program"),
    "a type not allowed": (EXE, {"media_type": "application/x-msdownload", "filename": "setup.exe"}, {},
                           "media_type", "application/x-msdownload files are not accepted"),
    "sent as JPEG, really PNG": (png(1), {"media_type": "image/jpeg"}, {}, "media_type",
                                 "sent as image/jpeg but it is a PNG image"),
    "a photo called .exe": (jpeg(5), {"filename": "holiday.exe"}, {}, "filename",
                            "the file name ends in .exe but the file is a JPEG image"),
    "a type this deployment refuses": (jpeg(6), {}, {"media_types": frozenset({"application/pdf"})}, "file",
                                       "a JPEG image, which is not accepted"),
    "a web page called diary.txt": (b"<html><script>alert(1)</script></html>",
                                    {"filename": "diary.txt", "kind": "diary_sheet"}, {}, "file", "a web page"),
    "a photo as a recording": (jpeg(7), {"kind": "recording"}, {}, "kind", "a JPEG image cannot be a recording"),
    "an unknown kind": (jpeg(8), {"kind": "selfie"}, {}, "kind", "kind must be one of recording, photo"),
    "a description with NUL": (jpeg(9), {"description": "a\x00b"}, {}, "description", "NUL"),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_a_bad_file_is_refused_with_its_field_and_nothing_is_stored(
        store: Store, local: LocalEvidenceStore, settings: EvidenceSettings, name: str) -> None:
    content, fields, limits, field, message = REFUSALS[name]
    case = open_test_case(store)
    limited = EvidenceSettings(**{**settings.__dict__, **limits})
    with pytest.raises(EvidenceRefused) as refused:
        add(store, local, case.ref, content, settings=limited, **fields)
    assert refused.value.field == field
    assert message in str(refused.value)
    assert stored_files(local.root) == []
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(EvidenceRow)
                              .where(EvidenceRow.case_ref == case.ref)) == 0
        assert session.scalar(select(func.count()).select_from(EvidenceObjectRow)
                              .where(EvidenceObjectRow.digest == digest_of(content))) == 0
    assert audit_rows(store, case.ref) == []


def test_links_must_be_to_this_case(store: Store, local: LocalEvidenceStore) -> None:
    case, other = open_test_case(store), open_test_case(store)
    with pytest.raises(EvidenceRefused) as refused:
        add(store, local, case.ref, jpeg(10), incident_id=other.incident)
    assert refused.value.field == "incident_id"
    with pytest.raises(EvidenceRefused) as refused:
        add(store, local, case.ref, jpeg(10), provided_by=other.reporter)
    assert refused.value.field == "provided_by"
    assert stored_files(local.root) == []


def test_a_locked_case_hides_its_evidence_from_other_officers(store: Store, local: LocalEvidenceStore) -> None:
    case = open_test_case(store, officer="o1")
    info = add(store, local, case.ref, jpeg(11)).evidence
    with store.session() as session, session.begin():
        set_lock(session, case.ref, "manager", "m1", locked=True, reason="reporter is an employee")
    with store.session() as session:
        with pytest.raises(CaseNotFound):
            list_evidence(session, case.ref, role="officer", actor_id="o2")
        with pytest.raises(EvidenceNotFound):
            open_evidence(session, info.id, role="officer", actor_id="o2", store=local)
        with pytest.raises(EvidenceNotFound):
            delete_evidence(session, info.id, role="officer", actor_id="o2", store=local)
    with pytest.raises(CaseNotFound):
        add(store, local, case.ref, jpeg(12), actor_id="o2")


def test_a_file_changed_or_lost_in_the_store_is_refused_not_shown(store: Store, local: LocalEvidenceStore) -> None:
    case = open_test_case(store)
    photo = jpeg(13)
    info = add(store, local, case.ref, photo).evidence
    path = local.path(info.sha256)
    path.write_bytes(photo[:-1] + b"\x00")
    with store.session() as session, pytest.raises(EvidenceUnavailable, match="changed or damaged"):
        open_evidence(session, info.id, role="officer", actor_id="o1", store=local)
    path.unlink()
    with store.session() as session, pytest.raises(EvidenceUnavailable, match="missing"):
        open_evidence(session, info.id, role="officer", actor_id="o1", store=local)
    # Adding the file again restores its bytes.
    assert not add(store, local, case.ref, photo).created
    assert local.get(info.sha256) == photo
    for bad in ("../../etc/passwd", "A" * 64, info.sha256 + "/x"):
        with pytest.raises(ValueError, match="not a SHA-256 digest"):
            local.get(bad)


def test_sanitised_names() -> None:
    assert sanitise_name("C:\\Users\\alice\\diary week 1.pdf") == "diary week 1.pdf"
    assert sanitise_name("...") == "file"
    assert sanitise_name(".htaccess") == "htaccess"
    long = sanitise_name("x" * 300 + ".jpeg")
    assert len(long) == 120 and long.endswith(".jpeg")


# --- deleting ----------------------------------------------------------------------------------------------


def test_deleting_removes_the_bytes_after_commit_unless_another_case_has_them(
        store: Store, local: LocalEvidenceStore) -> None:
    first, second = open_test_case(store), open_test_case(store)
    photo = jpeg(14)
    a = add(store, local, first.ref, photo).evidence
    b = add(store, local, second.ref, photo).evidence
    # A deletion that is rolled back deletes nothing.
    with store.session() as session:
        session.begin()
        delete_evidence(session, a.id, role="officer", actor_id="o1", store=local)
        session.rollback()
    assert local.exists(a.sha256)
    with store.session() as session, session.begin():
        delete_evidence(session, a.id, role="officer", actor_id="o1", store=local)
    assert local.exists(a.sha256)  # the second case still has it
    with store.session() as session, session.begin():
        delete_evidence(session, b.id, role="manager", actor_id="m1", store=local)
    assert stored_files(local.root) == []
    with store.session() as session:
        assert session.get(EvidenceObjectRow, a.sha256) is None
        with pytest.raises(EvidenceNotFound):
            open_evidence(session, a.id, role="officer", actor_id="o1", store=local)
        purged = session.scalars(select(AuditRow).where(AuditRow.entity == "evidence_objects",
                                                        AuditRow.entity_id == a.sha256,
                                                        AuditRow.action == "delete")).all()
    assert [(r.actor_role, r.actor_id) for r in purged] == [("manager", "m1")]
    assert audit_rows(store, first.ref) == [("create", "officer", "o1"), ("delete", "officer", "o1")]
    assert audit_rows(store, second.ref) == [("create", "officer", "o1"), ("delete", "manager", "m1")]


def test_only_a_manager_or_the_adder_within_the_hour_may_remove_a_file(
        store: Store, local: LocalEvidenceStore) -> None:
    """A wrong file noticed at once is the adder's to remove; after that it may have been relied on (004 §2.1)
    or disclosed (004 §3.7), so it is a manager's decision. A refusal changes nothing."""
    case = open_test_case(store)
    info = add(store, local, case.ref, jpeg(116)).evidence
    later = info.added_at + OWN_DELETE_WINDOW + timedelta(seconds=1)
    for role, actor, at, says in (("officer", "o2", info.added_at, "added by someone else"),
                                  ("intake", "i1", info.added_at, "added by someone else"),
                                  ("officer", "o1", later, "more than 60 minutes ago")):
        with store.session() as session, session.begin(), pytest.raises(EvidenceDeleteRefused, match=says):
            delete_evidence(session, info.id, role=role, actor_id=actor, store=local, now=at)
    with store.session() as session, pytest.raises(EvidenceNotFound):  # named under another case: not found
        delete_evidence(session, info.id, role="manager", actor_id="m1", store=local, case_ref="ASB-OTHER")
    assert local.exists(info.sha256) and audit_rows(store, case.ref) == [("create", "officer", "o1")]
    with store.session() as session, session.begin():
        delete_evidence(session, info.id, role="senior_manager", actor_id="s1", store=local, now=later)
    assert not local.exists(info.sha256)


class FailingOnce(LocalEvidenceStore):
    """A store whose first deletion fails, as a store that is briefly unreachable does."""

    failed = False

    def delete(self, digest: str) -> None:
        if not self.failed:
            self.failed = True
            raise OSError("store unreachable")
        super().delete(digest)


def test_a_purge_that_failed_is_finished_by_the_next(store: Store, tmp_path: Path) -> None:
    flaky = FailingOnce(tmp_path / "flaky")
    case = open_test_case(store)
    info = add(store, flaky, case.ref, jpeg(15)).evidence
    with store.session() as session, session.begin():
        delete_evidence(session, info.id, role="officer", actor_id="o1", store=flaky)
    # The deletion committed; the bytes are still there, marked for the next purge.
    assert flaky.exists(info.sha256)
    with store.session() as session:
        obj = session.get(EvidenceObjectRow, info.sha256)
        assert obj is not None and obj.orphaned_at is not None
    assert purge_orphans(store.engine, flaky, digests=[info.sha256]) == 1
    assert not flaky.exists(info.sha256)


def test_the_sweep_removes_only_old_objects_no_row_knows(store: Store, local: LocalEvidenceStore) -> None:
    case = open_test_case(store)
    kept = add(store, local, case.ref, jpeg(16)).evidence
    stray = local.put(jpeg(17))  # an upload whose transaction never committed
    assert sweep_strays(store.engine, local, datetime.now(UTC)) == 0  # too young: may still be committing
    assert sweep_strays(store.engine, local, datetime.now(UTC) + timedelta(days=2)) == 1
    assert not local.exists(stray) and local.exists(kept.sha256)
    with store.session() as session:
        assert session.get(EvidenceObjectRow, stray) is None


# --- the S3-compatible store ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto's) on loopback, for this module."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"evidence-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="eu-west-2", aws_access_key_id="test",
                          aws_secret_access_key="test-secret", config=Config(s3={"addressing_style": "path"}))
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    return name


def s3_settings(endpoint: str, bucket: str) -> EvidenceSettings:
    return EvidenceSettings.from_env({
        "ASB_EVIDENCE_STORE": "s3", "ASB_EVIDENCE_S3_BUCKET": bucket, "ASB_EVIDENCE_S3_ENDPOINT_URL": endpoint,
        "ASB_EVIDENCE_S3_REGION": "eu-west-2", "ASB_EVIDENCE_S3_ACCESS_KEY_ID": "test",
        "ASB_EVIDENCE_S3_SECRET_ACCESS_KEY": "test-secret", "ASB_EVIDENCE_S3_PREFIX": "asb/evidence/",
    })


def test_the_s3_store_round_trips_on_a_real_server(store: Store, s3_endpoint: str, bucket: str) -> None:
    s3 = open_store(s3_settings(s3_endpoint, bucket))
    assert isinstance(s3, S3EvidenceStore)
    recording = MP3 + uuid.uuid4().bytes  # bytes no other test's case holds (the database is shared)
    digest = s3.put(recording)
    assert digest == digest_of(recording) and s3.exists(digest)
    assert s3.get(digest) == recording
    keys = [item["Key"] for item in s3.client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"asb/evidence/{digest[:2]}/{digest}"]  # from the digest alone
    assert [item.digest for item in s3.stored()] == [digest]
    s3.put(recording)  # the same bytes again: still one object
    assert len(s3.client.list_objects_v2(Bucket=bucket)["Contents"]) == 1
    # Bytes changed in the bucket are refused.
    s3.client.put_object(Bucket=bucket, Key=s3.key(digest), Body=recording + b"tampered")
    with pytest.raises(ObjectCorrupt):
        s3.get(digest)
    s3.delete(digest)
    s3.delete(digest)  # deleting twice is fine
    assert not s3.exists(digest)
    with pytest.raises(ObjectMissing):
        s3.get(digest)

    # The service on the S3 store: add, read, delete.
    case = open_test_case(store)
    info = add(store, s3, case.ref, recording, filename="night noise.mp3", kind="recording",
               media_type="audio/mpeg").evidence
    with store.session() as session, session.begin():
        assert open_evidence(session, info.id, role="officer", actor_id="o1", store=s3).content == recording
    with store.session() as session, session.begin():
        delete_evidence(session, info.id, role="officer", actor_id="o1", store=s3)
    assert "Contents" not in s3.client.list_objects_v2(Bucket=bucket)


def test_settings_from_the_environment() -> None:
    plain = EvidenceSettings.from_env({"ASB_STATE_DIR": "/srv/asb"})
    assert (plain.backend, plain.local_dir, plain.max_bytes) == ("local", Path("/srv/asb/evidence"), 25 * 1024 * 1024)
    assert "image/jpeg" in plain.media_types and "text/html" not in plain.media_types
    narrow = EvidenceSettings.from_env({"ASB_EVIDENCE_MEDIA_TYPES": "application/pdf, image/JPEG",
                                        "ASB_EVIDENCE_MAX_BYTES": "1048576"})
    assert narrow.media_types == {"application/pdf", "image/jpeg"} and narrow.max_bytes == 1048576
    for env, message in (
        ({"ASB_EVIDENCE_STORE": "ftp"}, "ASB_EVIDENCE_STORE must be local or s3"),
        ({"ASB_EVIDENCE_STORE": "s3"}, "ASB_EVIDENCE_S3_BUCKET is not set"),
        ({"ASB_EVIDENCE_MAX_BYTES": "lots"}, "ASB_EVIDENCE_MAX_BYTES must be a whole number"),
        ({"ASB_EVIDENCE_MEDIA_TYPES": "text/html"}, "text/html cannot be checked against a file's bytes"),
        ({"ASB_EVIDENCE_S3_PREFIX": "../up/"}, "ASB_EVIDENCE_S3_PREFIX must be folder names"),
    ):
        with pytest.raises(EvidenceConfigError, match=message):
            EvidenceSettings.from_env(env)


# --- subject access ----------------------------------------------------------------------------------------


def test_a_subject_access_bundle_holds_the_subjects_own_files_and_withholds_others(
        store: Store, local: LocalEvidenceStore, tmp_path: Path) -> None:
    case = open_test_case(store)
    own = add(store, local, case.ref, jpeg(20), filename="Bob Neighbour at my door.jpg",
              incident_id=case.incident).evidence
    bobs = add(store, local, case.ref, MP3, filename="recording.mp3", kind="recording",
               provided_by=case.reported).evidence
    officers = add(store, local, case.ref, PDF, filename="letter.pdf", kind="letter").evidence

    out = write_export(store, case.reporter, tmp_path / "alice.zip", "auditor", "dpo1", NOW, evidence_store=local)
    with zipfile.ZipFile(out) as bundle:
        names = sorted(bundle.namelist())
        data = json.loads(bundle.read("export.json"))
        assert bundle.read(f"files/{case.ref}/{own.id}.jpg") == jpeg(20)
    assert names == ["export.json", f"files/{case.ref}/{own.id}.jpg"]
    assert data["files_included"] is True
    assert data["files"] == [{"file": f"files/{case.ref}/{own.id}.jpg", "case": case.ref, "evidence_id": own.id,
                              "kind": "photo", "media_type": "image/jpeg", "size": own.size, "sha256": own.sha256}]
    (exported,) = data["cases"]
    by_id = {item["id"]: item for item in exported["evidence"]}
    assert by_id[own.id]["filename"] == "[redacted] at my door.jpg"  # another person's name scrubbed
    assert by_id[bobs.id] == {"id": bobs.id, "kind": "recording", "media_type": "audio/mpeg",
                              "added_at": bobs.added_at.isoformat(), "incident_id": None, "withheld": WITHHELD_FILE}
    assert "withheld" in by_id[officers.id] and "file" not in by_id[officers.id]
    with store.session() as session:
        reads = session.scalars(select(AuditRow).where(AuditRow.entity == "evidence", AuditRow.action == "read",
                                                       AuditRow.case_ref == case.ref)).all()
    assert [(r.entity_id, r.actor_id, r.after) for r in reads] == [(str(own.id), "dpo1", {"purpose": "subject access"})]

    # The reported person gets the recording they gave, and not the reporter's photo.
    out = write_export(store, case.reported, tmp_path / "bob.zip", "auditor", "dpo1", NOW, evidence_store=local)
    with zipfile.ZipFile(out) as bundle:
        assert sorted(bundle.namelist()) == ["export.json", f"files/{case.ref}/{bobs.id}.mp3"]
        assert bundle.read(f"files/{case.ref}/{bobs.id}.mp3") == MP3
    # A JSON-only export lists the index and says the files are not in it.
    data = json.loads(write_export(store, case.reporter, tmp_path / "alice.json", "auditor", "dpo1", NOW,
                                   evidence_store=local).read_text(encoding="utf-8"))
    assert data["files_included"] is False and [f["evidence_id"] for f in data["files"]] == [own.id]
    assert not list(tmp_path.glob(".*partial"))


def test_a_file_lost_from_the_store_fails_the_export_instead_of_vanishing_from_it(
        store: Store, local: LocalEvidenceStore, tmp_path: Path) -> None:
    case = open_test_case(store)
    own = add(store, local, case.ref, jpeg(21), incident_id=case.incident).evidence
    local.path(own.sha256).unlink()
    with pytest.raises(EvidenceUnavailable, match="missing"):
        write_export(store, case.reporter, tmp_path / "alice.zip", "auditor", "dpo1", NOW, evidence_store=local)
    assert list(tmp_path.glob("*.zip")) == [] and not list(tmp_path.glob(".*partial"))


# --- retention ---------------------------------------------------------------------------------------------


def test_retention_removes_an_expired_cases_files_and_keeps_one_another_case_still_has(
        store: Store, local: LocalEvidenceStore) -> None:
    expired = open_test_case(store, closed=NOW - timedelta(days=365 * 7))
    current = open_test_case(store)
    only_expired, shared = jpeg(30), jpeg(31)
    gone = add(store, local, expired.ref, only_expired, incident_id=expired.incident).evidence
    add(store, local, expired.ref, shared, filename="cctv.jpg", kind="cctv_still")
    kept = add(store, local, current.ref, shared, kind="cctv_still").evidence

    with store.session() as session, session.begin():
        act_as(session, "system", "retention")
        plan = run_retention(session, NOW, dry_run=True, evidence_store=local)
    assert expired.ref in plan.cases_anonymised and plan.evidence_removed >= 2
    assert len(stored_files(local.root)) == 2  # a dry run removes nothing

    with store.session() as session, session.begin():
        act_as(session, "system", "retention")
        report = run_retention(session, NOW, evidence_store=local)
    assert expired.ref in report.cases_anonymised and report.evidence_removed >= 2
    assert stored_files(local.root) == [local.path(digest_of(shared))]
    assert not local.exists(gone.sha256)
    with store.session() as session:
        assert session.scalars(select(EvidenceRow).where(EvidenceRow.case_ref == expired.ref)).all() == []
        assert [r.id for r in session.scalars(select(EvidenceRow).where(EvidenceRow.case_ref == current.ref))] \
            == [kept.id]
        assert session.get(EvidenceObjectRow, gone.sha256) is None
    assert audit_rows(store, expired.ref).count(("delete", "system", "retention")) == 2
    with store.session() as session, session.begin():
        opened = open_evidence(session, kept.id, role="officer", actor_id="o1", store=local)
    assert opened.content == shared
    # An anonymised case takes no new evidence.
    with pytest.raises(EvidenceRefused) as refused:
        add(store, local, expired.ref, jpeg(32))
    assert refused.value.field == "case_ref"

    # Once the other case expires too, the shared file goes.
    with store.session() as session, session.begin():
        row = session.get(CaseRow, current.ref)
        assert row is not None
        row.stage, row.outcome, row.closed_at, row.closure_reason = "closed", "closed", NOW - timedelta(days=365 * 7), \
            "resolved"
    with store.session() as session, session.begin():
        act_as(session, "system", "retention")
        run_retention(session, NOW, evidence_store=local)
    assert stored_files(local.root) == []
