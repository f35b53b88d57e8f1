"""Evidence through the API (issue 12 item 2, the doors), on the real stack: PostgreSQL, the time-skipping
Temporal server with the worker, and the evidence store in the app's own state folder.

Files go up as multipart/form-data and come back as attachments that no browser would render as a page
of ours; every refusal is the documented JSON with its field and status; the upload route alone takes a
body larger than 64 KiB, counted as it streams; a locked case's files are as hidden as the case.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from casefile.db import Store
from casefile.evidence_store import EvidenceSettings, LocalEvidenceStore
from casefile.models import AuditRow, EvidenceRow
from tests.api_support import Tokens, client_for, jpeg, make_app, photo_of, report

KiB = 1024
MiB = 1024 * KiB
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run"


@pytest.fixture
def as_(app: FastAPI, state_dir: Path) -> Tokens:
    return Tokens(state_dir)


@pytest.fixture
def files(state_dir: Path) -> LocalEvidenceStore:
    """The store the app keeps its files in: `evidence` in its state folder (ASB_EVIDENCE_DIR unset)."""
    return LocalEvidenceStore(state_dir / "evidence")


@pytest.fixture(autouse=True)
def _no_evidence_settings_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("ASB_EVIDENCE_")]:
        monkeypatch.delenv(name)


async def new_case(api: httpx.AsyncClient, as_: Tokens, officer: str = "o1") -> tuple[str, int]:
    """A case logged by intake for `officer`, and its incident's id."""
    logged = await api.post("/reports", json=report(officer=officer), headers=as_("intake", "i1"))
    assert logged.status_code == 201, logged.text
    ref = logged.json()["reference"]
    view = await api.get(f"/cases/{ref}", headers=as_("officer", officer))
    return ref, view.json()["incidents"][0]["id"]


async def upload(api: httpx.AsyncClient, who: dict[str, str], ref: str, content: bytes, *, name: str = "photo.jpg",
                 media_type: str = "image/jpeg", key: str | None = None, **form: Any) -> httpx.Response:
    data = {"kind": "photo", **{k: str(v) for k, v in form.items()}}
    headers = {**who, **({"Idempotency-Key": key} if key else {})}
    return await api.post(f"/cases/{ref}/evidence", headers=headers, data=data,
                          files={"file": (name, content, media_type)})


def problem(response: httpx.Response, status: int, field: str | None) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail", "field"} and body["field"] == field, body
    return str(body["detail"])


# --- up, listed, down ---------------------------------------------------------------------------------------


async def test_a_photo_goes_up_is_listed_and_comes_back_as_an_attachment(
        api: httpx.AsyncClient, as_: Tokens, store: Store, files: LocalEvidenceStore) -> None:
    ref, incident = await new_case(api, as_)
    officer = as_("officer", "o1")
    photo = photo_of(MiB)  # a real phone photo's size: far over the 64 KiB every other body is held to
    name = "front door; after \u00e9t\u00e9\u202egpj.exe.jpg"
    sent = await upload(api, officer, ref, photo, name=name, incident_id=incident, description="Damage to the door",
                        shareable="true", key=f"up-{uuid.uuid4()}")
    assert sent.status_code == 201, sent.text
    info = sent.json()
    digest = hashlib.sha256(photo).hexdigest()
    assert info["created"] is True and info["case_ref"] == ref and info["incident_id"] == incident
    assert (info["kind"], info["media_type"], info["size"], info["sha256"]) == ("photo", "image/jpeg", len(photo),
                                                                                digest)
    assert info["filename"] == "front door; after \u00e9t\u00e9gpj.exe.jpg"  # the direction trick is gone
    assert info["shareable"] is True and info["added_by"] == "o1" and info["description"] == "Damage to the door"
    assert files.get(digest) == photo  # kept under its digest, in the app's state folder

    # A resend with the same key, or the same bytes again without one, is the first upload: 200, nothing new.
    for key in (None, "another-key"):
        again = await upload(api, officer, ref, photo, name="copy.jpg", key=key)
        assert again.status_code == 200 and again.json()["created"] is False and again.json()["id"] == info["id"]

    listed = await api.get(f"/cases/{ref}/evidence", headers=as_("auditor", "a1"))
    assert listed.status_code == 200 and [e["id"] for e in listed.json()["evidence"]] == [info["id"]]

    got = await api.get(f"/cases/{ref}/evidence/{info['id']}", headers=as_("ops", "ops1"))
    assert got.status_code == 200 and got.content == photo
    assert got.headers["content-type"] == "image/jpeg"
    assert got.headers["content-disposition"] == (
        'attachment; filename="front door_ after _t_gpj.exe.jpg"; '
        "filename*=UTF-8''front%20door%3B%20after%20%C3%A9t%C3%A9gpj.exe.jpg")
    assert got.headers["x-content-type-options"] == "nosniff"
    policy = got.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy and "frame-ancestors 'none'" in policy
    assert got.headers["cache-control"] == "no-store"
    assert got.headers["etag"] == f'"{digest}"'
    assert got.headers["repr-digest"] == f"sha-256=:{base64.b64encode(bytes.fromhex(digest)).decode()}:"

    details = await api.get(f"/evidence/{info['id']}", headers=officer)
    assert details.status_code == 200 and details.json()["case_ref"] == ref

    with store.session() as session:  # the download was audited, as the ops user
        reads = session.scalars(select(AuditRow).where(AuditRow.entity == "evidence",
                                                       AuditRow.entity_id == str(info["id"]),
                                                       AuditRow.action == "read")).all()
    assert [(r.actor_role, r.actor_id) for r in reads] == [("ops", "ops1")]


async def test_a_stored_web_page_is_never_served_as_a_page(api: httpx.AsyncClient, as_: Tokens) -> None:
    """Text that holds markup further in is plain text to us, and served so that no browser runs it."""
    ref, _ = await new_case(api, as_)
    diary = b"Monday: shouting again.\n<script>alert(document.cookie)</script>\n"
    sent = await upload(api, as_("officer", "o1"), ref, diary, name="diary.txt", media_type="text/plain",
                        kind="diary_sheet")
    assert sent.status_code == 201, sent.text
    got = await api.get(f"/cases/{ref}/evidence/{sent.json()['id']}", headers=as_("officer", "o1"))
    assert got.content == diary and got.headers["content-type"].startswith("text/plain")
    assert got.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in got.headers["content-security-policy"]
    # And an HTML page is not evidence at all.
    page = await upload(api, as_("officer", "o1"), ref, b"<!DOCTYPE html><script>alert(1)</script>",
                        name="diary.txt", media_type="text/plain", kind="diary_sheet")
    assert "a web page or markup" in problem(page, 422, "file")


# --- refusals ---------------------------------------------------------------------------------------------


async def test_refusals_are_json_naming_the_field_and_store_nothing(
        api: httpx.AsyncClient, as_: Tokens, store: Store, files: LocalEvidenceStore) -> None:
    ref, incident = await new_case(api, as_)
    other, other_incident = await new_case(api, as_)
    officer = as_("officer", "o1")

    assert "a Windows program" in problem(await upload(api, officer, ref, EXE, name="photo.jpg",
                                                       media_type="application/octet-stream"), 422, "file")
    assert "image/png" in problem(await upload(api, officer, ref, jpeg(1), media_type="image/png"), 422, "media_type")
    assert "rename it" in problem(await upload(api, officer, ref, jpeg(2), name="photo.mp3"), 422, "filename")
    assert "cannot be a recording" in problem(await upload(api, officer, ref, jpeg(3), kind="recording"), 422,
                                              "kind")
    problem(await upload(api, officer, ref, jpeg(4), kind="selfie"), 422, "kind")
    assert f"no incident {other_incident}" in problem(
        await upload(api, officer, ref, jpeg(5), incident_id=other_incident), 422, "incident_id")
    assert "not a party" in problem(await upload(api, officer, ref, jpeg(6), provided_by="P-nobody"), 422,
                                    "provided_by")
    problem(await upload(api, officer, ref, jpeg(7), description="x" * 2001), 422, "description")
    problem(await upload(api, officer, ref, b""), 422, "file")
    no_file = await api.post(f"/cases/{ref}/evidence", headers=officer, data={"kind": "photo"},
                             files={"other": ("x.txt", b"x", "text/plain")})
    problem(no_file, 422, "file")
    as_json = await api.post(f"/cases/{ref}/evidence", headers=officer, json={"kind": "photo"})
    assert as_json.status_code == 422 and as_json.json()["field"] in ("file", "kind")

    # An Idempotency-Key given before with another file is refused, as on every other door.
    key = f"k-{uuid.uuid4()}"
    assert (await upload(api, officer, ref, jpeg(8), key=key)).status_code == 201
    assert "used before" in problem(await upload(api, officer, ref, jpeg(9), key=key), 422, "Idempotency-Key")

    # Who may: ops and auditors read only (403 before anything is looked up); unknown cases are 404.
    assert (await upload(api, as_("ops", "ops1"), ref, jpeg(10))).status_code == 403
    assert (await upload(api, as_("auditor", "a1"), "ASB-1999-999999", jpeg(10))).status_code == 403
    problem(await upload(api, officer, "ASB-1999-999999", jpeg(10)), 404, None)
    problem(await api.get("/cases/ASB-1999-999999/evidence", headers=officer), 404, None)
    problem(await api.get(f"/cases/{ref}/evidence/2147483647", headers=officer), 404, "evidence_id")
    problem(await api.get("/evidence/2147483647", headers=officer), 404, "evidence_id")
    problem(await api.get(f"/cases/{ref}/evidence/0", headers=officer), 422, "evidence_id")

    # Only the one good upload is on the case and in the store; its id does not open under another case.
    listed = (await api.get(f"/cases/{ref}/evidence", headers=officer)).json()["evidence"]
    assert [e["sha256"] for e in listed] == [hashlib.sha256(jpeg(8)).hexdigest()]
    assert [item.digest for item in files.stored()] == [listed[0]["sha256"]]
    problem(await api.get(f"/cases/{other}/evidence/{listed[0]['id']}", headers=officer), 404, "evidence_id")
    problem(await api.delete(f"/cases/{other}/evidence/{listed[0]['id']}", headers=officer), 404, "evidence_id")


async def test_a_file_missing_from_the_store_is_a_503_with_retry_after(
        api: httpx.AsyncClient, as_: Tokens, files: LocalEvidenceStore) -> None:
    ref, _ = await new_case(api, as_)
    photo = jpeg(20)
    info = (await upload(api, as_("officer", "o1"), ref, photo)).json()
    files.path(info["sha256"]).write_bytes(photo[:-1] + b"\x00")
    got = await api.get(f"/cases/{ref}/evidence/{info['id']}", headers=as_("officer", "o1"))
    assert "changed or damaged" in problem(got, 503, "evidence_id")
    assert got.headers["retry-after"].isdigit()
    files.path(info["sha256"]).unlink()
    assert "missing" in problem(await api.get(f"/cases/{ref}/evidence/{info['id']}", headers=as_("officer", "o1")),
                                503, "evidence_id")


# --- sizes ------------------------------------------------------------------------------------------------


@pytest.fixture
def small_app(env: WorkflowEnvironment, store: Store, task_queue: str, state_dir: Path) -> FastAPI:
    """The API where the largest evidence file is 200 KiB (ASB_EVIDENCE_MAX_BYTES)."""
    return make_app(env, store, task_queue, state_dir,
                    evidence=EvidenceSettings(local_dir=state_dir / "evidence", max_bytes=200 * KiB))


@pytest.fixture
async def small(small_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(small_app) as client:
        yield client


async def test_only_the_upload_route_takes_a_large_body_and_only_up_to_the_evidence_limit(
        small: httpx.AsyncClient, small_app: FastAPI, state_dir: Path, files: LocalEvidenceStore) -> None:
    as_ = Tokens(state_dir)
    officer = as_("officer", "o1")
    ref, _ = await new_case(small, as_)

    # Every other route keeps its 64 KiB, whatever the body's type.
    big_json = report(incident={"description": "x" * (100 * KiB)})
    assert "larger than 65536" in problem(await small.post("/reports", json=big_json, headers=as_("intake", "i1")),
                                          413, "(body)")
    multipart_elsewhere = await small.post("/reports", headers=as_("intake", "i1"),
                                           files={"file": ("a.jpg", photo_of(100 * KiB), "image/jpeg")})
    problem(multipart_elsewhere, 413, "(body)")
    json_upload = await small.post(f"/cases/{ref}/evidence", content=b"[" * (100 * KiB),
                                   headers={**officer, "content-type": "application/json"})
    problem(json_upload, 413, "(body)")  # the upload route's own limit is for files (multipart) only

    # A file up to the limit goes up; one byte more is a 413 naming the file, and nothing is kept.
    fits = photo_of(150 * KiB)
    assert (await upload(small, officer, ref, fits)).status_code == 201
    over = photo_of(200 * KiB + 1)
    assert "the largest accepted is 204800 bytes" in problem(await upload(small, officer, ref, over), 413, "file")
    # Far over: refused by its Content-Length before it is read ...
    far_over = photo_of(400 * KiB)
    assert "a file may be at most 204800 bytes" in problem(await upload(small, officer, ref, far_over), 413, "file")

    # ... and without one (chunked), counted as it streams and cut off at the limit.
    body, content_type = _multipart(far_over)

    async def chunks() -> AsyncIterator[bytes]:
        for at in range(0, len(body), 16 * KiB):
            yield body[at:at + 16 * KiB]

    streamed = await small.post(f"/cases/{ref}/evidence", headers={**officer, "content-type": content_type},
                                content=chunks())
    problem(streamed, 413, "file")
    assert sorted(item.digest for item in files.stored()) == [hashlib.sha256(fits).hexdigest()]

    # A file is not JSON: brackets in a diary sheet are not "nesting" (the depth check is for JSON bodies).
    brackets = b"[" * 5000 + b"\n"
    sent = await upload(small, officer, ref, brackets, name="diary.txt", media_type="text/plain", kind="diary_sheet")
    assert sent.status_code == 201, sent.text


def _multipart(content: bytes) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://x/", data={"kind": "photo"},
                            files={"file": ("big.jpg", content, "image/jpeg")})
    return request.read(), request.headers["content-type"]


# --- who sees and removes ------------------------------------------------------------------------------------


async def test_a_locked_cases_files_are_not_found_for_others(api: httpx.AsyncClient, as_: Tokens) -> None:
    ref, _ = await new_case(api, as_)
    info = (await upload(api, as_("officer", "o1"), ref, jpeg(30))).json()
    locked = await api.post(f"/cases/{ref}/lock", json={"locked": True, "reason": "reporter is an employee"},
                            headers=as_("manager", "m1"))
    assert locked.status_code == 200, locked.text
    other = as_("officer", "o2")
    paths = [f"/cases/{ref}/evidence", f"/cases/{ref}/evidence/{info['id']}", f"/evidence/{info['id']}"]
    for path in paths:
        assert (await api.get(path, headers=other)).status_code == 404, path
        assert (await api.get(path, headers=as_("auditor", "a1"))).status_code == 404, path
    problem(await api.delete(f"/cases/{ref}/evidence/{info['id']}", headers=other), 404, "evidence_id")
    problem(await upload(api, other, ref, jpeg(31)), 404, None)
    for path in paths:  # the case's officer and managers still see them
        assert (await api.get(path, headers=as_("officer", "o1"))).status_code == 200, path
        assert (await api.get(path, headers=as_("manager", "m2"))).status_code == 200, path


async def test_who_may_remove_a_file_and_mark_it_shareable(
        api: httpx.AsyncClient, as_: Tokens, store: Store, files: LocalEvidenceStore) -> None:
    ref, _ = await new_case(api, as_)
    mine = (await upload(api, as_("officer", "o1"), ref, jpeg(40))).json()
    theirs = (await upload(api, as_("intake", "i1"), ref, jpeg(41))).json()
    old = (await upload(api, as_("officer", "o1"), ref, jpeg(42))).json()
    with store.session() as session, session.begin():  # added two hours ago
        row = session.get(EvidenceRow, old["id"])
        assert row is not None
        row.added_at -= timedelta(hours=2)

    def path(item: dict[str, Any]) -> str:
        return f"/cases/{ref}/evidence/{item['id']}"

    # Someone else's file, or your own after an hour: ask a manager (409, nothing removed).
    assert "added by someone else" in problem(await api.delete(path(theirs), headers=as_("officer", "o1")), 409,
                                              "evidence_id")
    assert "more than 60 minutes ago" in problem(await api.delete(path(old), headers=as_("officer", "o1")), 409,
                                                 "evidence_id")
    assert (await api.delete(path(mine), headers=as_("ops", "ops1"))).status_code == 403
    # Your own, at once: removed, and its bytes leave the store once that has committed.
    removed = await api.delete(path(mine), headers=as_("officer", "o1"))
    assert removed.status_code == 200 and removed.json()["id"] == mine["id"]
    assert not files.exists(mine["sha256"])
    problem(await api.delete(path(mine), headers=as_("officer", "o1")), 404, "evidence_id")
    # A manager may remove any file.
    for item in (theirs, old):
        assert (await api.delete(path(item), headers=as_("manager", "m1"))).status_code == 200
    assert (await api.get(f"/cases/{ref}/evidence", headers=as_("officer", "o1"))).json()["evidence"] == []

    photo = (await upload(api, as_("officer", "o1"), ref, jpeg(43))).json()
    assert photo["shareable"] is False
    shared = await api.patch(path(photo), json={"shareable": True}, headers=as_("officer", "o1"))
    assert shared.status_code == 200 and shared.json()["shareable"] is True
    assert (await api.patch(path(photo), json={"shareable": False}, headers=as_("intake", "i1"))).status_code == 403
    problem(await api.patch(path(photo), json={"shareable": "perhaps"}, headers=as_("officer", "o1")), 422,
            "shareable")
    problem(await api.patch(path(photo), json={"shareable": True, "to": "police"}, headers=as_("officer", "o1")),
            422, "to")


def test_the_openapi_document_describes_the_upload(app: FastAPI) -> None:
    doc = app.openapi()
    add = doc["paths"]["/cases/{ref}/evidence"]["post"]
    schema_ref = add["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    body = doc["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert set(body["required"]) == {"file", "kind"}
    assert body["properties"]["file"]["contentMediaType"] == "application/octet-stream"  # bytes (OpenAPI 3.1)
    assert {"201", "200", "413", "422", "404", "403", "401", "503"} <= set(add["responses"])
    download = doc["paths"]["/cases/{ref}/evidence/{evidence_id}"]["get"]["responses"]["200"]
    assert {"image/jpeg", "audio/mpeg", "application/pdf"} <= set(download["content"])
    assert "Content-Disposition" in download["headers"]
    assert set(doc["paths"]["/cases/{ref}/evidence/{evidence_id}"]) == {"get", "patch", "delete"}


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
async def test_any_upload_to_a_real_case_is_answered_as_documented(
        api: httpx.AsyncClient, as_: Tokens, files: LocalEvidenceStore) -> None:
    """Schemathesis reaches the upload route with cases that do not exist; here every part of the form is
    generated (bytes, names, declared types, kinds, descriptions, links) against a real case, so the checks
    behind the case lookup run too: never a server error, always the JSON shape, and a refusal stores nothing."""
    ref, incident = await new_case(api, as_)
    officer = as_("officer", "o1")
    loop = asyncio.get_running_loop()
    seen: dict[int, int] = {}
    last: dict[int, str] = {}  # the last answer of each status, to show when the mix is wrong
    text = st.text(st.characters(codec="utf-8"), max_size=40)
    heads = st.sampled_from([b"", b"\xff\xd8\xff", b"%PDF-", b"ID3", b"MZ", b"PK\x03\x04", b"<svg", b"#!"])

    # Derandomized: the same 150 forms every run (a random draw could go without one acceptable upload),
    # with one acceptable photo among them for certain.
    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @example(head=b"\xff\xd8\xff", tail=b"\xe0" + bytes(64), name="door.jpg", declared="image/jpeg", kind="photo",
             description=None, link=None)
    @given(head=heads, tail=st.binary(max_size=300), name=text, declared=st.one_of(text, st.sampled_from(
               ["image/jpeg", "application/pdf", "text/plain", "application/octet-stream", "text/html"])),
           kind=st.one_of(st.sampled_from(["photo", "document", "other", "diary_sheet"]), text),
           description=st.one_of(st.none(), text), link=st.sampled_from([None, incident, 1, 2**31 - 1]))
    def check(head: bytes, tail: bytes, name: str, declared: str, kind: str, description: str | None,
              link: int | None) -> None:
        data = {"kind": kind, **({"description": description} if description is not None else {}),
                **({"incident_id": str(link)} if link is not None else {})}
        try:
            request = api.post(f"/cases/{ref}/evidence", headers=officer, data=data,
                               files={"file": (name, head + tail, declared)})
        except (ValueError, UnicodeEncodeError):
            return  # a header httpx itself will not send
        response = asyncio.run_coroutine_threadsafe(request, loop).result(timeout=60)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        last[response.status_code] = response.text
        assert response.status_code in (200, 201, 422), (response.status_code, response.text)
        body = response.json()
        if response.status_code == 422:
            assert set(body) == {"detail", "field"} and body["detail"], body

    await asyncio.to_thread(check)
    assert seen.get(422, 0) > 50 and seen.get(201, 0) > 0, (seen, last)
    listed = (await api.get(f"/cases/{ref}/evidence", headers=officer)).json()["evidence"]
    assert {item.digest for item in files.stored()} == {e["sha256"] for e in listed}  # refusals kept nothing


async def test_an_evidence_store_that_does_not_answer_is_a_503_and_nothing_is_added(
        env: WorkflowEnvironment, store: Store, task_queue: str, state_dir: Path) -> None:
    """An S3-compatible store nobody is listening for (a port just closed): the upload is refused with a
    503 and Retry-After, and the case has no row for a file that was never stored."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    app = make_app(env, store, task_queue, state_dir, evidence=EvidenceSettings(
        backend="s3", s3_bucket="evidence", s3_endpoint_url=f"http://127.0.0.1:{closed}", s3_region="eu-west-2",
        s3_access_key_id="test", s3_secret_access_key="test"))
    as_ = Tokens(state_dir)
    async with client_for(app) as api:
        ref, _ = await new_case(api, as_)
        refused = await upload(api, as_("officer", "o1"), ref, jpeg(70))
        assert "evidence store is unavailable" in problem(refused, 503, None)
        assert refused.headers["retry-after"].isdigit()
        assert (await api.get(f"/cases/{ref}/evidence", headers=as_("officer", "o1"))).json()["evidence"] == []
