"""The working case record through the API, on the real stack (PostgreSQL, the time-skipping Temporal
server, the worker): incidents with their details, reports linked to the open case they are about
(the Regulator's NM01 rule), typed notes and a contact's note (issue 12 items 1, 3 and 6).

Each test names its own reported person (a fresh address and postcode), so the open cases other tests
leave in the shared database never match its reports.
"""

from __future__ import annotations

import email
import io
import uuid
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import httpx
import pdfplumber
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from casefile.db import Store
from casefile.models import AuditRow, CaseNoteRow, CaseRow, IncidentRow, MessageRow, PartyRow
from tests.api_support import Tokens, external_id, report
from tests.polling import eventually


@pytest.fixture
def as_(app: FastAPI, state_dir: Path) -> Tokens:
    return Tokens(state_dir)


def neighbour() -> dict[str, str]:
    """A reported person nobody else's test names: a name, an address and a postcode of their own."""
    tag = uuid.uuid4().hex[:8]
    return {"name": f"Dean Harlow {tag}", "address": f"{int(tag[:4], 16) % 900 + 10} Lime Grove {tag}, Reading",
            "postcode": "RG1 7QQ"}


def reporter(name: str) -> dict[str, Any]:
    return {"name": name, "address": "4 Elm Road, Reading", "postcode": "RG1 2BB", "phone": "07700 900456",
            "contact_method": "letter", "consents": {"action": True}}


def incident(description: str, **extra: Any) -> dict[str, Any]:
    return {"occurred_at": (datetime.now(UTC) - timedelta(hours=5)).isoformat(), "location": "the landing",
            "description": description, **extra}


async def _view(api: httpx.AsyncClient, who: dict[str, str], ref: str) -> dict[str, Any]:
    response = await api.get(f"/cases/{ref}", headers=who)
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


def _cases(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(CaseRow)) or 0)


def letter_text(store: Store, case_ref: str, template: str, recipient: str) -> str:
    """The words of the letter sent: the PDF attached to the archived message."""
    with store.session() as session:
        row = session.scalars(select(MessageRow).where(MessageRow.case_ref == case_ref, MessageRow.template == template,
                                                       MessageRow.recipient_id == recipient)).one()
    assert row.status == "sent" and row.path, (row.status, row.last_error)
    message = email.message_from_bytes(Path(row.path).read_bytes(), policy=policy.default)
    pdf = next(part.get_content() for part in message.walk() if part.get_content_type() == "application/pdf")
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return " ".join(" ".join(page.extract_text() or "" for page in doc.pages).split())


async def _sent(store: Store, case_ref: str, template: str) -> list[MessageRow]:
    def probe() -> list[MessageRow]:
        with store.session() as session:
            return list(session.scalars(select(MessageRow).where(MessageRow.case_ref == case_ref,
                                                                 MessageRow.template == template,
                                                                 MessageRow.status == "sent")))
    found: list[MessageRow] = await eventually(probe, what=f"{template} sent on {case_ref}")
    return found


async def _open_case(api: httpx.AsyncClient, who: dict[str, str], person: dict[str, str]) -> str:
    logged = await api.post("/reports", json=report(reported_person=person, reporter=reporter("Alice Example"),
                                                    incident=incident("music until 3am")), headers=who)
    assert logged.status_code == 201 and logged.json().get("attached_to") is None, logged.text
    ref: str = logged.json()["reference"]
    return ref


async def test_a_further_report_about_an_open_case_is_attached_to_it_and_its_acknowledgement_says_so(
    api: httpx.AsyncClient, as_: Tokens, store: Store, env: WorkflowEnvironment,
) -> None:
    intake, officer = as_("intake", "i1"), as_("officer", "o1")
    person = neighbour()
    first = await _open_case(api, intake, person)
    cases_before = _cases(store)

    # A second neighbour reports the same person at the same address and postcode: no new case.
    further = report(reported_person=person, reporter=reporter("Brenda Okoye"),
                     incident=incident("shouting and banging on my door", impact="I cannot sleep",
                                       police_reference="TVP-2026-7781"))
    logged = await api.post("/reports", json=further, headers=intake)
    assert logged.status_code == 201, logged.text
    answer = logged.json()
    assert answer["attached_to"] == first and answer["reference"] == first
    assert answer["status"]["stage"] == "enquiry"
    assert _cases(store) == cases_before

    view = await _view(api, officer, first)
    added = [i for i in view["incidents"] if i["description"] == "shouting and banging on my door"]
    assert len(added) == 1 and added[0]["status"] == "confirmed" and added[0]["reported_by"] == "reporter"
    assert added[0]["police_reference"] == "TVP-2026-7781" and added[0]["location"] == "the landing"
    brenda = next(p for p in view["parties"] if p["name"] == "Brenda Okoye")
    assert brenda["role"] == "reporter" and added[0]["reporter_id"] == brenda["person_id"]
    incident_events = [e for e in view["timeline"] if e["event"] == "incident"]
    assert incident_events and incident_events[-1]["reported_by"] == "reporter"
    assert incident_events[-1]["reporter_id"] == brenda["person_id"]

    # The new reporter's acknowledgement says the report joined the open case, not that one was opened.
    await _sent(store, first, "acknowledgement_attached")
    text = letter_text(store, first, "acknowledgement_attached", brenda["person_id"])
    assert f"We have added your report to case {first}" in text and "Dear Brenda Okoye" in text
    assert "added your report to that case rather than starting a new one" in text

    # A report naming the person only by name is not the same matter for sure: offered, never attached.
    loose = report(reported_person={"name": person["name"]}, reporter=reporter("Carl Rees"),
                   incident=incident("music again"))
    offered = await api.post("/reports", json=loose, headers=intake)
    assert offered.status_code == 201 and offered.json()["attached_to"] is None, offered.text
    assert offered.json()["reference"] != first
    match = next(m for m in offered.json()["matches"] if m["case_ref"] == first)
    assert match["exact"] is False and "name" in match["fields"]

    # Nothing of what people said reached Temporal.
    history = str(await env.client.get_workflow_handle(first).fetch_history())
    for secret in ("Brenda", "shouting", "I cannot sleep", "TVP-2026-7781", "the landing"):
        assert secret not in history


async def test_a_report_offered_as_a_match_is_attached_by_an_officer_and_closes_without_a_contradicting_letter(
    api: httpx.AsyncClient, as_: Tokens, store: Store,
) -> None:
    intake, officer = as_("intake", "i1"), as_("officer", "o1")
    person = neighbour()
    live = await _open_case(api, intake, person)
    loose = report(reported_person={"name": person["name"]}, reporter=reporter("Dana Price"),
                   incident=incident("a party every night this week"))
    duplicate = (await api.post("/reports", json=loose, headers=intake)).json()["reference"]
    assert duplicate != live

    refused = await api.post(f"/cases/{duplicate}/attach", json={"to": duplicate}, headers=officer)
    assert refused.status_code == 422 and refused.json()["field"] == "to"
    attached = await api.post(f"/cases/{duplicate}/attach", json={"to": live}, headers=officer)
    assert attached.status_code == 200, attached.text
    out = attached.json()
    assert out["attached_to"] == live and out["incidents"] == 1 and out["recorded"] is True
    assert out["closure"] == f"closed as a duplicate of {live}; no closure letter"

    closed = await _view(api, officer, duplicate)
    assert closed["case"]["stage"] == "closed" and closed["case"]["closure_reason"] == "duplicate"
    assert {"reason": "duplicate", "merged_into": live}.items() <= next(
        e for e in closed["timeline"] if e["event"] == "closed").items()
    # Its reporter is not told "your enquiry is closed" while the matter goes on in the live case.
    assert not [e for e in closed["timeline"] if e["event"] in ("letter", "notification")
                and e.get("template") != "acknowledgement"]
    with store.session() as session:
        assert not session.scalars(select(MessageRow.id).where(MessageRow.case_ref == duplicate,
                                                               MessageRow.template == "enquiry_closed")).all()

    view = await _view(api, officer, live)
    moved = [i for i in view["incidents"] if i["report_ref"] == duplicate]
    assert [i["description"] for i in moved] == ["a party every night this week"]
    dana = next(p for p in view["parties"] if p["name"] == "Dana Price")
    await _sent(store, live, "acknowledgement_attached")
    assert f"We have added your report to case {live}" in letter_text(store, live, "acknowledgement_attached",
                                                                      dana["person_id"])

    again = await api.post(f"/cases/{duplicate}/attach", json={"to": live}, headers=officer)
    assert again.status_code == 409 and "is closed already" in again.json()["detail"]


async def test_a_public_report_about_an_open_case_attaches_but_tells_the_form_nothing_about_it(
    api: httpx.AsyncClient, as_: Tokens, store: Store,
) -> None:
    person = neighbour()
    live = await _open_case(api, as_("intake", "i1"), person)
    cases_before = _cases(store)
    form = {"category": "noise", "incidents_last_month": 2,
            "reporter": {"name": "Erin Walsh", "address": "9 Elm Road, Reading", "contact_method": "letter"},
            "reported_person": {"name": person["name"], "address": person["address"], "postcode": person["postcode"]},
            "incident": {"occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
                         "description": "drums at midnight"}}
    answered = await api.post("/public/reports", json=form)
    assert answered.status_code == 201, answered.text
    own = answered.json()["reference"]
    # The form answers as for any report, with a reference of its own: a stranger learns nothing of the case.
    assert own != live
    assert answered.json()["message"] == f"Thank you. Your report is {own}; quote it when you contact us."
    assert _cases(store) == cases_before
    with store.session() as session:
        row = session.scalars(select(IncidentRow).where(IncidentRow.report_ref == own)).one()
        assert (row.case_ref, row.description, row.status) == (live, "drums at midnight", "confirmed")


async def test_an_app_feed_incident_about_an_open_case_attaches_to_it_once(
    api: httpx.AsyncClient, as_: Tokens, store: Store,
) -> None:
    feed, officer = as_("intake", "noise-app-feed"), as_("officer", "o1")
    live = await _open_case(api, as_("intake", "i1"), neighbour())
    cases_before = _cases(store)
    sent_id = external_id()
    body = {"source": "noise_app", "external_id": sent_id, "case_ref": live,
            "report": report(reported_person=None, reporter=reporter("Alice Example"),
                             incident=incident("recording: bass through the ceiling, 68 dB"))}
    first = await api.post("/feeds/app-reports", json=body, headers=feed)
    assert first.status_code == 201, first.text
    assert first.json()["attached_to"] == live and first.json()["reference"] == live
    resent = await api.post("/feeds/app-reports", json=body, headers=feed)
    assert resent.status_code == 200 and resent.json()["reference"] == live, resent.text
    assert _cases(store) == cases_before

    view = await _view(api, officer, live)
    from_app = [i for i in view["incidents"] if i["feed_id"] == sent_id]
    assert len(from_app) == 1
    assert (from_app[0]["reported_by"], from_app[0]["feed"]) == ("app_feed", "noise_app")
    assert from_app[0]["description"] == "recording: bass through the ceiling, 68 dB"
    assert len([e for e in view["timeline"] if e["event"] == "incident" and e.get("reported_by") == "app_feed"]) == 1

    unknown = await api.post("/feeds/app-reports", json={**body, "external_id": external_id(),
                                                         "case_ref": "ASB-1999-999999"}, headers=feed)
    assert unknown.status_code == 422 and unknown.json()["field"] == "case_ref"


async def test_an_incident_recorded_by_an_officer_keeps_its_details_in_the_case_file(
    api: httpx.AsyncClient, as_: Tokens, env: WorkflowEnvironment,
) -> None:
    officer = as_("officer", "o1")
    ref = await _open_case(api, as_("intake", "i1"), neighbour())
    sent = await api.post(f"/cases/{ref}/commands/record_incident", headers=officer, json={"args": {
        "occurred_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(), "reported_by": "partner",
        "location": "outside the community centre", "description": "threatened the warden with a bottle",
        "impact": "the warden is off work", "injuries": "a cut to the hand", "partner_reference": "ASC-4411",
        "violence_or_threats": True, "injured": True}})
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"]["risk"] == "high"  # violence makes it urgent, as at triage (003 §8)
    view = await _view(api, officer, ref)
    recorded = next(i for i in view["incidents"] if i["reported_by"] == "partner")
    assert (recorded["impact"], recorded["injuries"], recorded["partner_reference"], recorded["location"]) == (
        "the warden is off work", "a cut to the hand", "ASC-4411", "outside the community centre")
    assert recorded["status"] == "confirmed"
    event = next(e for e in view["timeline"] if e["event"] == "incident" and e.get("reported_by") == "partner")
    assert event["injured"] is True and event["incident_ref"].startswith("I-")
    history = str(await env.client.get_workflow_handle(ref).fetch_history())
    for secret in ("community centre", "bottle", "off work", "cut to the hand", "ASC-4411"):
        assert secret not in history

    bad = await api.post(f"/cases/{ref}/commands/record_incident", headers=officer,
                         json={"args": {"acknowledge": True}})
    assert bad.status_code == 422 and bad.json()["field"] == "args.acknowledge"
    stranger = await api.post(f"/cases/{ref}/commands/record_incident", headers=officer,
                              json={"args": {"reporter_id": "P-nobody"}})
    assert stranger.status_code == 422 and stranger.json()["field"] == "args.reporter_id"


async def test_a_contact_carries_a_note(api: httpx.AsyncClient, as_: Tokens, env: WorkflowEnvironment) -> None:
    officer = as_("officer", "o1")
    ref = await _open_case(api, as_("intake", "i1"), neighbour())
    done = await api.post(f"/cases/{ref}/commands/record_contact", headers=officer, json={"args": {
        "outcome": "made", "method": "visit", "note": "Visited Alice: music most nights, diary sheets left"}})
    assert done.status_code == 200, done.text
    assert "first_response" not in done.json()["status"]["deadlines"]
    notes = (await _view(api, officer, ref))["notes"]
    assert [(n["command"], n["text"], n["status"]) for n in notes] == [
        ("record_contact", "Visited Alice: music most nights, diary sheets left", "confirmed")]
    assert "diary sheets" not in str(await env.client.get_workflow_handle(ref).fetch_history())


async def test_a_typed_note_records_who_when_and_the_people_involved(
    api: httpx.AsyncClient, as_: Tokens, store: Store,
) -> None:
    officer = as_("officer", "o1")
    ref = await _open_case(api, as_("intake", "i1"), neighbour())
    view = await _view(api, officer, ref)
    alice = next(p for p in view["parties"] if p["name"] == "Alice Example")
    held = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    note = {"kind": "multi_agency_meeting", "at": held.isoformat(),
            "text": "Case discussed at the community safety meeting; police to patrol at night",
            "people": [{"person_id": alice["person_id"]},
                       {"name": "PC Sam Jones", "organisation": "Thames Valley Police", "role": "PCSO"}]}
    written = await api.post(f"/cases/{ref}/notes", json=note, headers={**officer, "Idempotency-Key": "note-1"})
    assert written.status_code == 201, written.text
    again = await api.post(f"/cases/{ref}/notes", json=note, headers={**officer, "Idempotency-Key": "note-1"})
    assert again.status_code == 200 and again.json()["created"] is False

    notes = (await _view(api, officer, ref))["notes"]
    assert len(notes) == 1
    (shown,) = notes
    assert (shown["kind"], shown["by"], shown["command"]) == ("multi_agency_meeting", "o1", "case_note")
    assert datetime.fromisoformat(shown["at"]) == held
    assert shown["people"] == [
        {"person_id": alice["person_id"], "name": None, "organisation": None, "role": None},
        {"person_id": None, "name": "PC Sam Jones", "organisation": "Thames Valley Police", "role": "PCSO"}]
    with store.session() as session:
        audited = session.scalars(select(AuditRow).where(AuditRow.case_ref == ref, AuditRow.entity == "case_notes",
                                                         AuditRow.action == "create")).all()
        assert [(a.actor_role, a.actor_id) for a in audited] == [("officer", "o1")]
        assert audited[0].after is not None and audited[0].after["text"] == "[personal data]"
        assert session.scalar(select(func.count()).select_from(CaseNoteRow).where(CaseNoteRow.case_ref == ref)) == 1

    stranger = await api.post(f"/cases/{ref}/notes", headers=officer, json={
        "kind": "call", "text": "rang", "people": [{"person_id": "P-not-on-this-case"}]})
    assert stranger.status_code == 422 and stranger.json()["field"] == "people.0.person_id"
    unknown_kind = await api.post(f"/cases/{ref}/notes", headers=officer, json={"kind": "gossip", "text": "x"})
    assert unknown_kind.status_code == 422 and unknown_kind.json()["field"] == "kind"
    intake = await api.post(f"/cases/{ref}/notes", headers=as_("intake", "i1"), json={"kind": "call", "text": "x"})
    assert intake.status_code == 403
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(PartyRow).where(PartyRow.case_ref == ref)) == 2


async def test_an_attached_report_whose_command_never_reached_the_case_is_recorded_by_the_reconciler(
    app: FastAPI, api: httpx.AsyncClient, as_: Tokens, store: Store, env: WorkflowEnvironment,
) -> None:
    """Nothing lost: the door wrote the report onto the open case, then its answer never came (Temporal
    down, the process killed). The reconciler sends the recorded command again, under the same Update id."""
    from activities.reconcile import ReconcileRequest, reconcile_once
    from casefile.intake import IntakeReport
    from clients.caseclient import write_pending_details
    from statemachine.commands import Actor

    person = neighbour()
    live = await _open_case(api, as_("intake", "i1"), person)
    body = report(reported_person=person, reporter=reporter("Fay Hughes"), incident=incident("glass smashed"))
    logged = app.state.service._record("intake", "i1", IntakeReport.model_validate(body), datetime.now(UTC), None,
                                       Actor(role="intake", id="i1"))
    assert logged.attached is not None and logged.attached.case_ref == live
    ref = logged.attached.incident_ref
    # And an officer's incident whose command was never sent at all: its details are held, then hidden.
    write_pending_details(store, live, "I-never-sent", {"description": "never sent"}, {}, Actor(role="officer",
                          id="o1"), datetime.now(UTC) - timedelta(hours=1))

    with store.session() as session:
        assert session.scalars(select(IncidentRow.status).where(IncidentRow.ref == ref)).one() == "pending"
    result = await reconcile_once(store, env.client, ReconcileRequest(resend_after_seconds=0, note_grace_seconds=60))
    assert (result.incidents_sent, result.incidents_discarded) == (1, 1)
    again = await reconcile_once(store, env.client, ReconcileRequest(resend_after_seconds=0))
    assert again.incidents_sent == 0

    view = await _view(api, as_("officer", "o1"), live)
    assert [i["status"] for i in view["incidents"] if i["description"] == "glass smashed"] == ["confirmed"]
    assert not [i for i in view["incidents"] if i["description"] == "never sent"]
    assert [e["incident_ref"] for e in view["timeline"] if e["event"] == "incident"] == [ref]
