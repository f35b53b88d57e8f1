"""The pages over HTTP (no browser): signing in, CSRF, the same refusals as the API, and locks.

The app is the API app (api.app.create_app) on the real stack: the time-skipping Temporal server,
the worker and PostgreSQL, so every page goes through the same Service as the API.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from casefile.db import Store
from tests.api_support import client_for, jpeg, make_app

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
async def app(env: WorkflowEnvironment, store: Store, task_queue: str,
              tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    yield make_app(env, store, task_queue, tmp_path_factory.mktemp("web-state"))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the form carries no CSRF token"
    return found.group(1)


async def signed_in(app: FastAPI, role: str, person: str) -> httpx.AsyncClient:
    client = client_for(app)
    page = await client.get("/web/sign-in")
    answer = await client.post("/web/sign-in", data={"csrf_token": csrf_of(page.text), "role": role,
                                                      "person": person})
    assert answer.status_code == 303, answer.text
    return client


async def test_root_leads_to_sign_in_and_pages_need_a_session(app: FastAPI) -> None:
    async with client_for(app) as client:
        root = await client.get("/", follow_redirects=True)
        assert root.status_code == 200 and "Sign in to ASB casework" in root.text
        mine = await client.get("/web/my-cases")
        assert mine.status_code == 303 and mine.headers["location"].endswith("/web/sign-in")


async def test_session_cookie_is_httponly_lax_and_sign_out_ends_it(app: FastAPI) -> None:
    client = client_for(app)
    page = await client.get("/web/sign-in")
    answer = await client.post("/web/sign-in", data={"csrf_token": csrf_of(page.text), "role": "officer",
                                                      "person": "o1"})
    cookie = answer.headers["set-cookie"]
    assert "asb_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    mine = await client.get("/web/my-cases")
    assert mine.status_code == 200 and "My cases" in mine.text
    out = await client.post("/web/sign-out", data={"csrf_token": csrf_of(mine.text)})
    assert out.status_code == 303
    again = await client.get("/web/my-cases")
    assert again.status_code == 303
    await client.aclose()


async def test_a_form_without_its_csrf_token_changes_nothing(app: FastAPI) -> None:
    client = await signed_in(app, "intake", "i1")
    answer = await client.post("/web/intake/report/confirm", data={"category": "noise", "anonymous": "yes"})
    assert answer.status_code == 403 and "did not come from this service" in answer.text
    forged = await client.post("/web/intake/report/confirm",
                               data={"category": "noise", "anonymous": "yes", "csrf_token": "x" * 43})
    assert forged.status_code == 403
    await client.aclose()


async def test_a_tampered_session_cookie_is_not_a_session(app: FastAPI) -> None:
    client = await signed_in(app, "officer", "o1")
    value = client.cookies.get("asb_session")
    assert value
    payload, mac = value.split(".")
    client.cookies.clear()
    client.cookies.set("asb_session", payload[:-2] + "xx." + mac, path="/web")
    answer = await client.get("/web/my-cases")
    assert answer.status_code == 303
    await client.aclose()


async def test_intake_sees_the_triage_before_saving_and_the_case_opens(app: FastAPI, store: Store) -> None:
    client = await signed_in(app, "intake", "i1")
    form_page = await client.get("/web/intake/report")
    fields = {"csrf_token": csrf_of(form_page.text), "channel": "phone", "category": "noise",
              "incident.occurred_at": "2026-01-10T22:30", "incident.location": "stairwell",
              "incidents_last_month": "9", "anonymous": "no", "reporter.name": "Alice Webpage",
              "reporter.phone": "07700 900123", "reporter.contact_method": "phone",
              "reporter.postcode": "RG1 2AB", "officer": "o1"}
    check = await client.post("/web/intake/report", data=fields)
    assert check.status_code == 200, check.text
    assert 'id="triage-outcome">An enquiry' in check.text and "Medium" in check.text
    with store.session() as session:
        from sqlalchemy import func, select

        from casefile.models import PersonRow
        before = session.scalar(select(func.count()).select_from(PersonRow).where(PersonRow.name == "Alice Webpage"))
    assert before == 0, "nothing is saved before the confirm step"
    saved = await client.post("/web/intake/report/confirm", data=fields)
    assert saved.status_code == 200, saved.text
    reference = re.search(r'id="reference">([^<]+)<', saved.text)
    assert reference
    # A second report from the same postcode shows the open case before a new one is opened.
    again = await client.post("/web/intake/report", data=fields)
    assert 'id="possible-matches"' in again.text and reference.group(1) in again.text.split("possible-matches")[1]
    officer = await signed_in(app, "officer", "o1")
    case = await officer.get(f"/web/cases/{reference.group(1)}")
    assert case.status_code == 200 and "Alice Webpage" in case.text and "Record a contact" in case.text
    found = await officer.get("/web/search", params={"q": "rg12ab"})
    assert reference.group(1) in found.text
    auditor = await signed_in(app, "auditor", "a1")
    read_only = await auditor.get(f"/web/cases/{reference.group(1)}")
    assert read_only.status_code == 200 and "Alice Webpage" in read_only.text
    assert "Record a contact" not in read_only.text and "nothing you can do" in read_only.text
    await auditor.aclose()
    await client.aclose()
    await officer.aclose()


async def test_asb_up_prints_the_pages_address_and_it_leads_to_sign_in(tmp_path_factory: pytest.TempPathFactory
                                                                        ) -> None:
    from tests.asb_up import running_asb_up

    async with running_asb_up(tmp_path_factory.mktemp("up") / "state") as up:
        address = f"http://127.0.0.1:{up.api_port}/"
        assert any(line.startswith("Pages:") and address in line for line in up.lines), up.text
        async with httpx.AsyncClient(timeout=30, follow_redirects=True) as http:
            page = await http.get(address)
            assert page.status_code == 200 and "Sign in to ASB casework" in page.text
            public = await http.get(address + "web/report")
            assert public.status_code == 200 and "privacy notice" in public.text


async def test_the_public_form_shares_the_api_s_rate_limit(env: WorkflowEnvironment, store: Store, task_queue: str,
                                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    limited = make_app(env, store, task_queue, tmp_path_factory.mktemp("limited"), public_reports_per_minute=2)
    async with client_for(limited) as client:
        api = await client.post("/public/reports", json={
            "category": "noise", "incident": {"occurred_at": "2026-01-10T22:30:00+00:00"}})
        assert api.status_code == 201, api.text
        form = await client.get("/web/report")
        fields = {"csrf_token": csrf_of(form.text), "category": "noise", "incident.occurred_at": "2026-01-10T22:30",
                  "anonymous": "yes"}
        sent = await client.post("/web/report", data=fields)
        assert sent.status_code == 200 and "Report sent" in sent.text
        third = await client.post("/web/report", data=fields)
        assert third.status_code == 429 and "Too many reports" in third.text
        assert int(third.headers["retry-after"]) >= 1
        assert (await client.post("/public/reports", json={
            "category": "noise", "incident": {"occurred_at": "2026-01-10T22:30:00+00:00"}})).status_code == 429


async def test_my_cases_puts_overdue_first_then_the_nearest_deadline_and_pages(app: FastAPI, store: Store) -> None:
    from datetime import UTC, datetime, timedelta

    from casefile.models import CaseRow

    now = datetime.now(UTC)
    rows = [("ORD-FAR", now + timedelta(days=20), False), ("ORD-LATE", now - timedelta(days=2), True),
            ("ORD-NEAR", now + timedelta(days=1, hours=1), False), ("ORD-SHUT", now + timedelta(hours=1), False)]
    rows += [(f"ORD-P{i:02d}", now + timedelta(days=30 + i), False) for i in range(25)]
    with store.session() as session, session.begin():
        for ref, deadline, overdue in rows:
            session.add(CaseRow(reference=ref, profile="reading", stage="closed" if ref == "ORD-SHUT" else "enquiry",
                                outcome="enquiry", risk="low", category="noise", hate=ref == "ORD-NEAR",
                                officer="ord1", opened_at=now, next_deadline=deadline, overdue=overdue))
    client = await signed_in(app, "officer", "ord1")
    first = (await client.get("/web/my-cases")).text
    order = re.findall(r'href="/web/cases/(ORD-[A-Z0-9]+)"', first)
    assert order[:3] == ["ORD-LATE", "ORD-NEAR", "ORD-FAR"] and "ORD-SHUT" not in order
    assert len(order) == 25 and "Overdue" in first and "1 day" in first and "Hate" in first
    second = (await client.get("/web/my-cases", params={"page": 2})).text
    assert re.findall(r'href="/web/cases/(ORD-[A-Z0-9]+)"', second) == ["ORD-P22", "ORD-P23", "ORD-P24"]
    await client.aclose()


async def test_bad_addresses_and_oversized_forms_get_an_html_page_not_a_traceback(app: FastAPI) -> None:
    client = await signed_in(app, "officer", "o1")
    bad = await client.get("/web/my-cases", params={"page": "first"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert "not one this service makes" in bad.text
    letter = await client.get("/web/cases/ASB-2026-000001/letters/not-a-number")
    assert letter.status_code == 422 and "<h1" in letter.text
    page = await client.get("/web/intake/report")
    assert "script-src 'self' 'nonce-" in page.headers["content-security-policy"]
    big = await client.post("/web/intake/report", content=b"csrf_token=" + b"x" * 62_000,
                            headers={"content-type": "application/x-www-form-urlencoded"})
    assert big.status_code == 422 and "the form is too large" in big.text
    await client.aclose()


async def test_the_dashboard_shows_cases_near_the_case_review_threshold(app: FastAPI, store: Store) -> None:
    """Reading's profile: 3 incidents in 6 months (003 §10). Two recent incidents are one short; two of
    which one is older than the window are not near."""
    from datetime import UTC, datetime, timedelta

    from casefile.models import CaseRow, IncidentRow

    now = datetime.now(UTC)
    with store.session() as session, session.begin():
        for ref, ages in (("CR-NEAR", [3, 20]), ("CR-FAR", [3, 400]), ("CR-HIT", [1, 2, 3])):
            session.add(CaseRow(reference=ref, profile="reading", stage="investigation", outcome="enquiry",
                                risk="medium", category="noise", hate=False, officer="cr-o7", opened_at=now,
                                overdue=False))
            session.flush()
            for age in ages:
                session.add(IncidentRow(case_ref=ref, occurred_at=now - timedelta(days=age), category="noise",
                                        recorded_at=now, evidence=[]))
    client = await signed_in(app, "manager", "m1")
    page = (await client.get("/web/dashboard")).text
    section = page.split("Near an ASB Case Review threshold")[1].split("Hate cases")[0]
    assert "CR-NEAR" in section and "CR-HIT" in section and "CR-FAR" not in section
    assert section.index("CR-HIT") < section.index("CR-NEAR") and "Reached" in section
    officer = await signed_in(app, "officer", "o7")
    assert (await officer.get("/web/dashboard")).status_code == 403
    await client.aclose()
    await officer.aclose()


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("ASB_WEB_SESSION_SECRET", "short", "ASB_WEB_SESSION_SECRET must be at least 32 characters"),
    ("ASB_WEB_SESSION_HOURS", "eight", "ASB_WEB_SESSION_HOURS must be a number of hours"),
    ("ASB_EVIDENCE_MAX_BYTES", "lots", "ASB_EVIDENCE_MAX_BYTES must be a whole number of bytes"),
    ("ASB_EVIDENCE_STORE", "s3", "ASB_EVIDENCE_STORE is s3 but ASB_EVIDENCE_S3_BUCKET is not set"),
])
async def test_asb_up_refuses_bad_page_and_evidence_settings_in_one_line(tmp_path: Path, variable: str, value: str,
                                                            message: str) -> None:
    import asyncio
    import os

    from tests.asb_up import ASB, free_port

    process = await asyncio.create_subprocess_exec(
        ASB, "up", "--state-dir", str(tmp_path / "state"), "--port", str(free_port()), "--ui-port",
        str(free_port()), "--api-port", str(free_port()), env={**os.environ, variable: value},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"asb: error: {message}"), lines


async def test_the_public_form_sent_twice_opens_one_case(app: FastAPI, store: Store) -> None:
    """A double click, or a resend after a slow answer, is the same report (issue 9 item 5): the form
    carries its own Idempotency-Key, so both answers give one reference and only one case is opened."""
    from sqlalchemy import func, select

    from casefile.models import CaseRow

    async with client_for(app) as client:
        form = await client.get("/web/report")
        key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text)
        assert key, "the public form carries no idempotency key"
        other = re.search(r'name="idempotency_key" value="([^"]+)"', (await client.get("/web/report")).text)
        assert other and other.group(1) != key.group(1), "each form shown must have its own key"
        fields = {"csrf_token": csrf_of(form.text), "category": "noise", "incident.occurred_at": "2026-01-11T22:30",
                  "anonymous": "yes", "idempotency_key": key.group(1)}
        with store.session() as session:
            before = session.scalar(select(func.count()).select_from(CaseRow))
        first = await client.post("/web/report", data=fields)
        again = await client.post("/web/report", data=fields)
    assert first.status_code == 200 and again.status_code == 200, (first.text, again.text)
    refs = [re.search(r'id="reference">([^<]+)<', page.text) for page in (first, again)]
    assert refs[0] and refs[1] and refs[0].group(1) == refs[1].group(1)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(CaseRow)) == (before or 0) + 1


async def test_a_manager_allocates_a_new_report_and_reassigns_it_with_a_reason(app: FastAPI, store: Store) -> None:
    """Issue 12 item 7: a report logged without an officer waits on the dashboard and in the manager's tasks,
    with its team; the manager assigns it on the case page, and moves it later only with a reason."""
    from sqlalchemy import select

    from casefile.models import CaseNoteRow, TaskRow
    from tests.polling import eventually

    intake = await signed_in(app, "intake", "i1")
    form_page = await intake.get("/web/intake/report")
    saved = await intake.post("/web/intake/report/confirm", data={
        "csrf_token": csrf_of(form_page.text), "channel": "phone", "category": "noise", "incidents_last_month": "1",
        "anonymous": "no", "reporter.name": "Uma Allocated", "reporter.phone": "07700 900124",
        "reporter.contact_method": "phone"})
    found = re.search(r'id="reference">([^<]+)<', saved.text)
    assert saved.status_code == 200 and found, saved.text
    ref = found.group(1)

    def task() -> list[TaskRow]:
        with store.session() as session:
            return list(session.scalars(select(TaskRow).where(TaskRow.case_ref == ref, TaskRow.kind == "allocation",
                                                              TaskRow.due.is_not(None))))
    [row] = await eventually(task, what="the allocation task")
    manager = await signed_in(app, "manager", "m1")
    board = (await manager.get("/web/dashboard")).text.split("Waiting for an officer")[1].split("Overdue")[0]
    assert ref in board and "<td class=\"govuk-table__cell\">ASB</td>" in board
    inbox = (await manager.get("/web/tasks")).text
    card = inbox.split(f">{ref}</a></h2>")[1].split("govuk-summary-card\"")[0]
    assert "Allocation" in inbox and ">ASB</dd>" in card
    assert f"/web/cases/{ref}?open=assign_officer#assign-officer" in card
    assert 'value="done"' not in card  # answered on the case (assign_officer), never "Mark as done"
    officer = await signed_in(app, "officer", "o1")
    assert 'id="assign-officer"' not in (await officer.get(f"/web/cases/{ref}")).text  # the manager's decision

    page = await manager.get(f"/web/cases/{ref}")
    assert 'id="assign-officer"' in page.text and "Why it moves to another officer" in page.text
    assert "PydanticUndefined" not in page.text  # a required field starts empty
    done = await manager.post(f"/web/cases/{ref}/commands/assign_officer",
                              data={"csrf_token": csrf_of(page.text), "officer": "o1"})
    assert done.status_code == 303, done.text
    page = await manager.get(f"/web/cases/{ref}")
    refused = await manager.post(f"/web/cases/{ref}/commands/assign_officer",
                                 data={"csrf_token": csrf_of(page.text), "officer": "o2"})
    assert refused.status_code == 409 and "say why the case moves from o1 to o2" in refused.text
    moved = await manager.post(f"/web/cases/{ref}/commands/assign_officer", data={
        "csrf_token": csrf_of(page.text), "officer": "o2", "reason": "o1 is on long-term leave"})
    assert moved.status_code == 303, moved.text
    with store.session() as session:
        notes = list(session.scalars(select(CaseNoteRow.text).where(CaseNoteRow.case_ref == ref,
                                                                  CaseNoteRow.command == "assign_officer")))
    assert notes == ["o1 is on long-term leave"]
    assert f"{ref}#assign-officer" not in (await manager.get("/web/dashboard")).text  # allocated: off the board
    for client in (intake, manager, officer):
        await client.aclose()


async def _web_case(app: FastAPI) -> tuple[str, httpx.AsyncClient]:
    """A case logged on the intake page for o1, and o1 signed in."""
    intake = await signed_in(app, "intake", "i1")
    form_page = await intake.get("/web/intake/report")
    saved = await intake.post("/web/intake/report/confirm", data={
        "csrf_token": csrf_of(form_page.text), "channel": "phone", "category": "noise",
        "incident.occurred_at": "2026-01-10T22:30", "incident.location": "stairwell", "incidents_last_month": "3",
        "anonymous": "no", "reporter.name": "Alice Evidence", "reporter.phone": "07700 900123",
        "reporter.contact_method": "phone", "officer": "o1"})
    await intake.aclose()
    found = re.search(r'id="reference">([^<]+)<', saved.text)
    assert found, saved.text
    return found.group(1), await signed_in(app, "officer", "o1")


def _evidence_form(html: str) -> dict[str, str]:
    form = html.split('id="evidence-form"', 1)[1].split("</form>", 1)[0]
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form)
    assert key and 'enctype="multipart/form-data"' in html.split('id="evidence-form"', 1)[0][-200:]
    return {"csrf_token": csrf_of(form), "idempotency_key": key.group(1)}


async def test_a_file_added_on_the_case_page_is_listed_and_downloads_safely(app: FastAPI) -> None:
    reference, officer = await _web_case(app)
    page = await officer.get(f"/web/cases/{reference}")
    assert page.status_code == 200 and "No files yet." in page.text
    assert "Photos, recordings, PDFs, Word documents or plain text, up to 25 MB" in page.text
    hidden = _evidence_form(page.text)
    incident = re.search(r'<select class="govuk-select[^"]*" id="evidence-incident-id" name="incident_id"[^>]*>\s*'
                         r'<option value="">Not one incident</option>\s*<option value="(\d+)"', page.text)
    assert incident, "the form offers the case's incidents"
    url = f"/web/cases/{reference}/evidence"

    # Without the form's CSRF token nothing is added.
    forged = await officer.post(url, data={"kind": "photo"}, files={"file": ("door.jpg", jpeg(60), "image/jpeg")})
    assert forged.status_code == 403 and "did not come from this service" in forged.text

    # A program posing as a photo: the case page again, the reason on the file field, nothing added.
    refused = await officer.post(url, data={**hidden, "kind": "photo"},
                                 files={"file": ("photo.jpg", b"MZ\x90\x00" + b"\x00" * 60, "image/jpeg")})
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html")
    assert 'href="#evidence-file"' in refused.text and "The file is a Windows program" in refused.text
    assert "accepted: application/pdf" not in refused.text  # the hint says what is accepted, in words
    too_big = jpeg(59) + b"\x00" * (25 * 1024 * 1024 + 1 - len(jpeg(59)))
    over = await officer.post(url, data={**hidden, "kind": "photo"}, files={"file": ("big.jpg", too_big, "image/jpeg")})
    assert over.status_code == 413 and "The selected file must be smaller than 25 MB" in over.text
    assert 'class="govuk-file-upload govuk-file-upload--error" id="evidence-file"' in refused.text
    nothing = await officer.post(url, data={**hidden, "kind": "photo"},  # as a browser sends no file chosen
                                 files={"file": ("", b"", "application/octet-stream")})
    assert nothing.status_code == 422 and "Select a file to add" in nothing.text

    fields = {**hidden, "kind": "photo", "incident_id": incident.group(1), "description": "Kicked-in door",
              "shareable": "yes"}
    added = await officer.post(url, data=fields, files={"file": ("front door.jpg", jpeg(61), "image/jpeg")})
    assert added.status_code == 303 and added.headers["location"].endswith(f"{reference}?done=evidence#evidence")
    # The same form sent again (a double click): the same file, once.
    again = await officer.post(url, data=fields, files={"file": ("front door.jpg", jpeg(61), "image/jpeg")})
    assert again.status_code == 303
    shown = await officer.get(f"/web/cases/{reference}")
    links = re.findall(rf'href="(/web/cases/{reference}/evidence/\d+)" download>front door.jpg<', shown.text)
    assert len(links) == 1 and "Kicked-in door" in shown.text and "May be shared with partners" in shown.text
    got = await officer.get(links[0])
    assert got.status_code == 200 and got.content == jpeg(61) and got.headers["content-type"] == "image/jpeg"
    assert got.headers["content-disposition"].startswith('attachment; filename="front door.jpg"')
    assert got.headers["x-content-type-options"] == "nosniff" and "sandbox" in got.headers["content-security-policy"]

    # ops may look and download, not add or remove; the officer may remove their own file at once.
    ops = await signed_in(app, "ops", "ops1")
    seen = await ops.get(f"/web/cases/{reference}")
    assert "front door.jpg" in seen.text and 'id="evidence-form"' not in seen.text and ">Remove<" not in seen.text
    assert (await ops.get(links[0])).status_code == 200
    assert (await ops.post(url, data=fields, files={"file": ("x.jpg", jpeg(62), "image/jpeg")})).status_code == 403
    removed = await officer.post(f"{links[0]}/remove", data={"csrf_token": hidden["csrf_token"]})
    assert removed.status_code == 303 and "done=evidence-removed" in removed.headers["location"]
    assert "No files yet." in (await officer.get(f"/web/cases/{reference}")).text
    gone = await officer.get(links[0])
    assert gone.status_code == 404 and "File not found" in gone.text
    for client in (officer, ops):
        await client.aclose()


def test_times_on_the_pages_are_the_landlords_local_time_named() -> None:
    """Issue 13: officers read "17:00 BST" for the end of a summer working day, not "16:00 UTC"; a winter
    time is GMT. The pages format every moment with the profile's time zone (web/pages.py `_when`)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from web.pages import _when

    london = ZoneInfo("Europe/London")
    assert _when(datetime(2026, 6, 1, 16, 0, tzinfo=UTC), london) == "1 Jun 2026 17:00 BST"
    assert _when("2026-01-12T17:00:00+00:00", london) == "12 Jan 2026 17:00 GMT"
    assert _when(None, london) == ""


async def _logged(app: FastAPI, reporter: str) -> str:
    intake = await signed_in(app, "intake", "i1")
    form_page = await intake.get("/web/intake/report")
    saved = await intake.post("/web/intake/report/confirm", data={
        "csrf_token": csrf_of(form_page.text), "channel": "phone", "category": "noise", "incidents_last_month": "1",
        "anonymous": "no", "reporter.name": reporter, "reporter.phone": "07700 900125",
        "reporter.contact_method": "phone", "officer": "o1"})
    await intake.aclose()
    found = re.search(r'id="reference">([^<]+)<', saved.text)
    assert saved.status_code == 200 and found, saved.text
    return found.group(1)


async def test_a_note_sent_twice_is_written_once_and_only_officers_and_managers_write_them(
    app: FastAPI, store: Store
) -> None:
    """The case page's note form goes through Service.add_note with the form's own Idempotency-Key: a double
    submit is one note (as the API's header). Intake may not write notes (casefile/notes.py MAY_NOTE), and a
    post without the session's CSRF token changes nothing."""
    from sqlalchemy import func, select

    from casefile.models import CaseNoteRow

    ref = await _logged(app, "Zed Noted")
    officer = await signed_in(app, "officer", "o1")
    page = await officer.get(f"/web/cases/{ref}")
    key = re.search(r'id="note-form">\s*<input type="hidden" name="csrf_token" value="[^"]+">\s*'
                    r'<input type="hidden" name="idempotency_key" value="([^"]+)"', page.text)
    assert key, "the note form carries its own idempotency key"
    fields = {"csrf_token": csrf_of(page.text), "idempotency_key": key.group(1), "kind": "visit",
              "text": "Visited the block: quiet at 10pm", "at": "2026-01-12T22:00", "person.1": "nobody-on-the-case"}

    def notes() -> int:
        with store.session() as session:
            return int(session.scalar(select(func.count()).select_from(CaseNoteRow).where(
                CaseNoteRow.case_ref == ref, CaseNoteRow.command == "case_note")) or 0)

    refused = await officer.post(f"/web/cases/{ref}/notes", data=fields)  # a person not on the case
    assert refused.status_code == 422 and "is not a person on case" in refused.text and notes() == 0
    assert 'href="#note-people"' in refused.text  # the error summary links to the field at fault
    del fields["person.1"]
    forged = await officer.post(f"/web/cases/{ref}/notes", data={**fields, "csrf_token": "x" * 43})
    assert forged.status_code == 403 and notes() == 0
    first = await officer.post(f"/web/cases/{ref}/notes", data=fields)
    again = await officer.post(f"/web/cases/{ref}/notes", data=fields)
    assert first.status_code == again.status_code == 303 and notes() == 1
    shown = (await officer.get(f"/web/cases/{ref}")).text
    assert "<strong>Visit</strong> by o1, 12 Jan 2026 22:00 GMT: Visited the block: quiet at 10pm" in shown
    intake = await signed_in(app, "intake", "i1")
    assert 'id="note-form"' not in (await intake.get(f"/web/cases/{ref}")).text
    page = await intake.get(f"/web/cases/{ref}")
    denied = await intake.post(f"/web/cases/{ref}/notes", data={**fields, "csrf_token": csrf_of(page.text)})
    assert denied.status_code == 403 and notes() == 1
    for client in (officer, intake):
        await client.aclose()


async def test_only_a_manager_reassigns_from_the_dashboard(app: FastAPI) -> None:
    ref = await _logged(app, "Yan Moved")
    officer = await signed_in(app, "officer", "o1")
    page = await officer.get("/web/my-cases")
    answer = await officer.post("/web/dashboard/assign", data={"csrf_token": csrf_of(page.text), "case": ref,
                                                               "row": "hate", "officer": "o1"})
    assert answer.status_code == 403
    manager = await signed_in(app, "manager", "m1")
    page = await manager.get("/web/dashboard")
    unknown = await manager.post("/web/dashboard/assign", data={"csrf_token": csrf_of(page.text), "case": ref,
                                                                "row": "../cases", "officer": "o2"})
    assert unknown.status_code == 422
    moved = await manager.post("/web/dashboard/assign", data={
        "csrf_token": csrf_of(page.text), "case": ref, "row": "overdue", "officer": "o2", "current": "o1",
        "reason": "o1 is on leave"})
    assert moved.status_code == 303 and moved.headers["location"].endswith(f"/web/dashboard?assigned={ref}&to=o2")
    case = await manager.get(f"/web/cases/{ref}")
    assert 'Officer</dt><dd class="govuk-summary-list__value">o2</dd>' in case.text
    for client in (officer, manager):
        await client.aclose()


async def test_a_partner_signs_in_locally_with_an_agency_and_sees_no_staff_page(app: FastAPI) -> None:
    async with client_for(app) as client:
        page = await client.get("/web/sign-in")
        token = csrf_of(page.text)
        missing = await client.post("/web/sign-in", data={"csrf_token": token, "role": "partner", "person": "vs9"})
        assert missing.status_code == 422 and "Select the partner agency you work for" in missing.text
        made_up = await client.post("/web/sign-in", data={"csrf_token": token, "role": "partner", "person": "vs9",
                                                           "agency": "friends_of_mine"})
        assert made_up.status_code == 422
        signed = await client.post("/web/sign-in", data={"csrf_token": token, "role": "partner", "person": "vs9",
                                                         "agency": "victim_support"})
        assert signed.status_code == 303 and signed.headers["location"].endswith("/web/partner/cases")
        listed = await client.get("/web/partner/cases")
        assert listed.status_code == 200 and "No cases are shared with your agency." in listed.text
        assert (await client.get("/web/partner/cases/ASB-1999-999999")).status_code == 404
        for staff_page in ("/web/tasks", "/web/approvals", "/web/cases/ASB-1999-999999"):
            assert (await client.get(staff_page)).status_code == 403, staff_page
        staff = await signed_in(app, "officer", "o1")
        assert (await staff.get("/web/partner/cases")).status_code == 403  # staff see whole cases, elsewhere
        await staff.aclose()


def test_every_task_answered_on_the_case_links_to_a_case_action() -> None:
    """The inbox never offers "Mark as done" for a task the case answers (statemachine/patches.py): each such
    kind names at least one command of the catalogue, so a new kind without one fails here."""
    from statemachine.catalogue import COMMANDS
    from statemachine.patches import ANSWERED_ON_THE_CASE
    from web.forms import ANSWERED_BY, answering_commands

    assert set(ANSWERED_BY) == set(ANSWERED_ON_THE_CASE)
    assert all(c in COMMANDS for commands in ANSWERED_BY.values() for c in commands)
    assert [c for c, _title in answering_commands("action_overdue:A2")] == ["complete_action", "change_action"]
    assert answering_commands("closure") == []


async def test_a_report_is_attached_to_an_open_case_from_its_case_page_and_only_by_officers(app: FastAPI) -> None:
    """The case page's "this report is about another open case" goes through Service.attach, as POST
    /cases/{ref}/attach: a reference that is no case, or the case itself, is shown on the field; intake may
    not attach (on the case page or when logging a report: the API's rule), an officer may."""
    first, second = await _logged(app, "Abe First"), await _logged(app, "Bea Second")
    officer = await signed_in(app, "officer", "o1")
    page = await officer.get(f"/web/cases/{second}")
    assert 'id="attach"' in page.text
    token = csrf_of(page.text)
    for to, message in (("not a ref", "Enter the open case&#39;s reference"), (second, "attached to itself"),
                        ("ASB-1999-999999", "No case ASB-1999-999999")):
        refused = await officer.post(f"/web/cases/{second}/attach", data={"csrf_token": token, "to": to})
        summary = refused.text.split("govuk-error-summary__list")[1][:600]
        assert refused.status_code == 422 and message in refused.text, (to, summary)
        assert 'href="#attach-to"' in refused.text
    intake = await signed_in(app, "intake", "i1")
    intake_page = await intake.get(f"/web/cases/{second}")
    assert 'id="attach"' not in intake_page.text
    denied = await intake.post(f"/web/cases/{second}/attach", data={"csrf_token": csrf_of(intake_page.text),
                                                                     "to": first})
    assert denied.status_code == 403
    form = await intake.get("/web/intake/report")
    chosen = await intake.post("/web/intake/report/confirm", data={
        "csrf_token": csrf_of(form.text), "channel": "phone", "category": "noise", "incidents_last_month": "1",
        "anonymous": "yes", "attach_to": first})
    assert chosen.status_code == 422 and "Choose one of the open cases offered" in chosen.text
    done = await officer.post(f"/web/cases/{second}/attach", data={"csrf_token": token, "to": first})
    assert done.status_code == 303, done.text
    shown = (await officer.get(done.headers["location"])).text
    assert f"Done: The report is added to case {first}" in shown and "Closed (Duplicate)" in shown
    assert "Bea Second" in (await officer.get(f"/web/cases/{first}")).text  # the reporter joined the open case
    for client in (officer, intake):
        await client.aclose()


async def test_the_case_page_shows_the_landlords_priority_and_the_resolution_target(
    env: WorkflowEnvironment, store: Store, task_queue: str, tmp_path: Path
) -> None:
    """A landlord with its own priorities and a resolution target (issue 16 items 3 and 4): the officer sees
    the case's priority under the landlord's own name, and its age against the target, which is a target
    and never a breach."""
    profile = tmp_path / "priorities.toml"
    shipped = (Path(__file__).parent.parent / "examples" / "profiles" / "your-housing.toml").read_text()
    profile.write_text(shipped + """
[priorities.urgent]
title = "Urgent (respond in a day)"
respond_within = "1 working day"
risk = "high"

[priorities.routine]
title = "Routine"
respond_within = "2 working days"
risk = "low"
""")
    landlord = make_app(env, store, task_queue, tmp_path / "state", profile=str(profile))
    reference = await _logged(landlord, "Priya Target")
    officer = await signed_in(landlord, "officer", "o1")
    page = await officer.get(f"/web/cases/{reference}")
    await officer.aclose()
    assert page.status_code == 200, page.text
    priority = re.search(r'id="case-priority">([^<]+)<', page.text)
    assert priority and priority.group(1) == "Routine"  # a noise report is low risk: the landlord's "routine"
    target = re.search(r'id="resolution-target">(.*?)</dd>', page.text, re.S)
    assert target, "the case page does not show the resolution target"
    text = " ".join(re.sub(r"<[^>]+>", " ", target.group(1)).split())
    assert text.startswith("Target: 51% of cases resolved within 45 working days. This case is 0 working days "
                           "old: within the target (target date "), text  # "the majority": 51%
    assert "not a deadline" in text
