"""The HTTP API on the real stack: PostgreSQL, the time-skipping Temporal server and the worker.

A case goes from a report logged by intake to closure approved in the manager task inbox, through
triage, conversion, contacts, interventions and legal action approved by a senior manager; refusals
come back as 409 with the case's reason, bad input as 422 naming the field; an app report sent twice
opens one case; the public form is limited per address; and schemathesis, generating requests from
the OpenAPI document, finds no server error.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks
from schemathesis.core.failures import FailureGroup
from sqlalchemy import func, select
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.auth import Principal
from api.schemas import AppReportIn
from casefile.db import Store
from casefile.models import CaseRow, ExternalReportRow
from tests.api_support import Tokens, external_id, report

#: What the generated requests must show: no server error, and answers as the document describes them.
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_headers_conformance, checks.response_schema_conformance]


@pytest.fixture
def as_(app: FastAPI, state_dir: Path) -> Tokens:
    return Tokens(state_dir)


async def _ok(api: httpx.AsyncClient, who: dict[str, str], ref: str, command: str, **args: Any) -> dict[str, Any]:
    response = await api.post(f"/cases/{ref}/commands/{command}", json={"args": args}, headers=who)
    assert response.status_code == 200, (command, response.status_code, response.text)
    status: dict[str, Any] = response.json()["status"]
    return status


async def _refused(api: httpx.AsyncClient, who: dict[str, str], ref: str, command: str, says: str,
                   **args: Any) -> None:
    response = await api.post(f"/cases/{ref}/commands/{command}", json={"args": args}, headers=who)
    assert response.status_code == 409, (command, response.status_code, response.text)
    assert says in response.json()["detail"], response.json()


async def _task(api: httpx.AsyncClient, who: dict[str, str], ref: str, role: str, kind: str) -> dict[str, Any]:
    response = await api.get("/tasks", params={"role": role, "case": ref}, headers=who)
    assert response.status_code == 200, response.text
    tasks = [t for t in response.json()["tasks"] if t["kind"] == kind]
    assert len(tasks) == 1, response.json()
    return tasks[0]


async def test_a_case_from_report_to_approved_closure(
    api: httpx.AsyncClient, as_: Tokens, env: WorkflowEnvironment
) -> None:
    intake, officer, manager = as_("intake", "i1"), as_("officer", "o1"), as_("manager", "m1")
    other_manager, senior = as_("manager", "m2"), as_("senior_manager", "s1")

    # Intake logs the report: the case is triaged and the answer says what may be done next.
    logged = await api.post("/reports", json=report(), headers=intake)
    assert logged.status_code == 201, logged.text
    ref = logged.json()["reference"]
    assert ref.startswith(f"ASB-{datetime.now(UTC).year}-")
    triaged = logged.json()["status"]
    assert triaged["stage"] == "enquiry" and triaged["officer"] == "o1"
    assert "first_response" in triaged["deadlines"] and "record_contact" in triaged["allowed"]

    # The officer works the enquiry; another officer may not.
    await _refused(api, as_("officer", "o2"), ref, "record_contact", "belongs to officer o1",
                   outcome="made", method="phone")
    await _refused(api, officer, ref, "convert_to_case", "record a risk assessment first")
    status = await _ok(api, officer, ref, "record_contact", outcome="made", method="phone")
    assert "first_response" not in status["deadlines"]
    await _ok(api, officer, ref, "record_risk_assessment", level="medium")
    await _ok(api, officer, ref, "agree_action_plan", contact_every_days=14, contact_method="phone")
    status = await _ok(api, officer, ref, "convert_to_case")
    assert status["stage"] == "investigation"
    await _ok(api, intake, ref, "record_incident", occurred_at=datetime.now(UTC).isoformat())

    # Interventions, then legal action: solicitors instructed for the injunction, so a senior manager approves.
    assert (await _ok(api, officer, ref, "start_intervention", kind="warning_letter"))["stage"] == "interventions"
    await _ok(api, officer, ref, "record_equality_assessment", note="the reporter's child is autistic")
    status = await _ok(api, officer, ref, "propose_legal_action", kind="injunction", instruct_solicitor=True)
    assert status["pending_approvals"][0]["role"] == "senior_manager"
    legal = await _task(api, senior, ref, "senior_manager", "legal_approval")
    refused = await api.post(f"/tasks/{legal['id']}/decide", json={"decision": "approve"}, headers=manager)
    assert refused.status_code == 409 and "needs approval by a senior_manager" in refused.json()["detail"]
    decided = await api.post(f"/tasks/{legal['id']}/decide",
                             json={"decision": "approve", "reason": "solicitors instructed"}, headers=senior)
    assert decided.status_code == 200, decided.text
    assert decided.json()["result"]["case"]["stage"] == "legal"
    await _refused(api, manager, ref, "request_closure", "legal action is still open", reason="asb_stopped")
    await _ok(api, officer, ref, "conclude_legal_action", outcome="injunction granted at Reading County Court")

    # Closure: requested by one manager, visible in the inbox, approved by another.
    await _ok(api, manager, ref, "request_closure", reason="asb_stopped")
    closure = await _task(api, other_manager, ref, "manager", "closure_approval")
    assert closure["data"]["reason"] == "asb_stopped"
    own = await api.post(f"/tasks/{closure['id']}/decide", json={"decision": "approve"}, headers=manager)
    assert own.status_code == 409 and "nobody may decide their own request" in own.json()["detail"]
    approved = await api.post(f"/tasks/{closure['id']}/decide", json={"decision": "approve", "reason": "quiet now"},
                              headers=other_manager)
    assert approved.status_code == 200, approved.text

    view = await api.get(f"/cases/{ref}", headers=as_("ops", "ops1"))
    assert view.status_code == 200, view.text
    case = view.json()
    assert case["case"]["stage"] == "closed" and case["case"]["closure_reason"] == "asb_stopped"
    assert case["status"]["stage"] == "closed" and case["status"]["allowed"] == []
    assert {(p["role"], p["name"]) for p in case["parties"]} >= {("reporter", "Alice Example"),
                                                                 ("reported_person", "Bob Neighbour")}
    assert case["incidents"][0]["description"] == "Bob Neighbour played loud music until 3am"
    events = [e["event"] for e in case["timeline"]]
    # Refusals are stamped with the wall clock, the workflow's events with its (test server's) clock.
    assert [e for e in events if e != "rejected"][:2] == ["triage", "stage"]
    # Three refused commands, and the two refused decisions from the inbox (the wrong rank, one's own request).
    assert events.count("rejected") == 5 and "closed" in events
    letters = {e.get("template") for e in case["timeline"] if e["event"] == "letter"}
    assert {"warning_letter", "case_closed_reporter", "satisfaction_survey"} <= letters
    notes = {n["text"] for n in case["notes"]}
    assert {"the reporter's child is autistic", "solicitors instructed", "quiet now"} <= notes

    # Names, descriptions and free text stayed in the case file: none reached Temporal.
    history = str(await env.client.get_workflow_handle(ref).fetch_history())
    for secret in ("Alice Example", "Bob Neighbour", "loud music", "autistic", "solicitors instructed", "quiet now"):
        assert secret not in history


async def test_the_action_plan_and_the_equality_assessment_through_the_api(
    api: httpx.AsyncClient, as_: Tokens, env: WorkflowEnvironment
) -> None:
    """Issue 11 items 6 and 9 over HTTP: actions with who and when, their text kept in the case file and
    shown on the case, each version of the agreed plan a letter; a structured Equality Act assessment
    whose personal parts never reach the timeline, needed for the step at hand."""
    officer = as_("officer", "o1")
    ref = (await api.post("/reports", json=report(), headers=officer)).json()["reference"]
    await _ok(api, officer, ref, "record_contact", outcome="made", method="phone")
    await _ok(api, officer, ref, "record_risk_assessment", level="medium")
    await _ok(api, officer, ref, "convert_to_case")
    today = (await env.get_current_time()).astimezone(UTC).date()
    by = (today + timedelta(days=7)).isoformat()
    for args, field in [({"what": "x", "who": "Mr Smith", "due": by}, "args.who"),
                        ({"what": "x", "due": "next week"}, "args.due"),
                        ({"what_ref": "N-0123456789abcdef", "due": by}, "args.what_ref"),
                        ({"what": "x" * 2001, "due": by}, "args.what")]:
        response = await api.post(f"/cases/{ref}/commands/add_action", json={"args": args}, headers=officer)
        assert response.status_code == 422 and response.json()["field"] == field, (args, response.text)
    await _refused(api, officer, ref, "add_action", "has passed", what="x",
                   due=(today - timedelta(days=2)).isoformat())
    await _ok(api, officer, ref, "add_action", what="Visit Bob Neighbour and talk about the music", due=by)
    owned = await api.post(f"/cases/{ref}/commands/add_action", headers=officer,
                           json={"args": {"what": "Keep a diary of the noise", "who": "reporter", "due": by}})
    assert owned.status_code == 200, owned.text
    status = await _ok(api, officer, ref, "agree_action_plan", contact_every_days=7, contact_method="visit")
    assert "action_due" in status["deadlines"] and "complete_action" in status["allowed"]
    await _ok(api, officer, ref, "complete_action", action="A1")
    await _refused(api, officer, ref, "complete_action", "action A1 is already done", action="A1")
    moved = await api.post(f"/cases/{ref}/commands/change_action", headers=officer,
                           json={"args": {"action": "A2", "who": "police"}})
    assert moved.status_code == 200, moved.text

    assessment = {"step": "notice", "conclusion": "proportionate_with_adjustments",
                  "considered": ["disability", "mental_health"],
                  "adjustments": "Bob Neighbour's support worker attends every meeting", "note": "GP letter seen"}
    bare = await api.post(f"/cases/{ref}/commands/record_equality_assessment",
                          json={"args": {"considered": ["disability"]}}, headers=officer)
    assert bare.status_code == 422 and "conclusion is required" in bare.json()["detail"]
    await _ok(api, officer, ref, "record_equality_assessment", **assessment)
    await _refused(api, officer, ref, "propose_legal_action", "made for a notice, and injunction is a court "
                   "application", kind="injunction")
    await _ok(api, officer, ref, "propose_legal_action", kind="notice_seeking_possession")

    view = (await api.get(f"/cases/{ref}", headers=officer)).json()
    assert [(a["action"], a["what"], a["who"], a["due"], a["done"]) for a in view["action_plan"]] == [
        ("A1", "Visit Bob Neighbour and talk about the music", "officer", by, True),
        ("A2", "Keep a diary of the noise", "police", by, False)]
    [equality] = view["equality_assessments"]
    assert (equality["step"], equality["conclusion"], equality["considered"], equality["adjustments"],
            equality["note"]) == ("notice", "proportionate_with_adjustments", ["disability", "mental_health"],
                                  assessment["adjustments"], "GP letter seen")
    letters = [e.get("version") for e in view["timeline"] if e["event"] == "letter" and e["template"] == "action_plan"]
    assert letters == [1, 2, 3]  # agreed, then each change shared
    timeline = str(view["timeline"])
    for personal in ("disability", "support worker", "GP letter", "Visit Bob", "diary"):
        assert personal not in timeline, personal
    commands = (await api.get("/commands", headers=officer)).json()
    listed = {c["name"]: c for c in commands["commands"]}
    assert listed["add_action"]["free_text"] == "what" and "complete_action" in listed


async def test_bad_input_is_422_naming_the_field(api: httpx.AsyncClient, as_: Tokens) -> None:
    officer = as_("officer", "o1")
    cases = [
        ("/reports", report(category="fireworks"), "category"),
        ("/reports", report(hate_strand="football"), "hate_strand"),
        ("/reports", report(reporter={"nickname": "Al"}), "reporter.nickname"),
        ("/reports", report(time_of_day="25:00"), "time_of_day"),
        ("/reports", report(incident={"occurred_at": "2026-03-01T22:00:00"}), "incident.occurred_at"),
    ]
    for path, body, field in cases:
        response = await api.post(path, json=body, headers=officer)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["field"] == field or field in response.json()["detail"], response.json()

    ref = (await api.post("/reports", json=report(), headers=officer)).json()["reference"]
    for command, args, field in [
        ("record_contact", {"outcome": "maybe"}, "args.outcome"),
        ("record_contact", {"outcome": "made", "mood": "calm"}, "args.mood"),
        ("record_risk_assessment", {}, "args.scores"),
        ("record_incident", {"occurred_at": "2026-03-01T22:00:00"}, "args.occurred_at"),
        ("record_incident", {"occurred_at": "2999-03-01T22:00:00+00:00"}, "args.occurred_at"),
        ("assign_officer", {"officer": "o" * 65}, "args.officer"),
        ("approve_closure", {"note_ref": "N-0123456789abcdef"}, "args.note_ref"),
        ("fly_to_the_moon", {}, "command"),
    ]:
        response = await api.post(f"/cases/{ref}/commands/{command}", json={"args": args}, headers=officer)
        assert response.status_code == 422, (command, response.text)
        assert response.json()["field"] == field, (command, response.json())
    # None of that reached the case.
    view = (await api.get(f"/cases/{ref}", headers=officer)).json()
    assert [e["event"] for e in view["timeline"] if e["event"] in ("command", "rejected")] == []


async def test_a_refused_command_is_409_and_on_the_timeline(api: httpx.AsyncClient, as_: Tokens) -> None:
    officer = as_("officer", "o1")
    ref = (await api.post("/reports", json=report(), headers=officer)).json()["reference"]
    await _refused(api, officer, ref, "request_closure", "not allowed at the enquiry stage", reason="asb_stopped")
    timeline = (await api.get(f"/cases/{ref}", headers=officer)).json()["timeline"]
    rejected = [e for e in timeline if e["event"] == "rejected"]
    assert rejected and rejected[0]["command"] == "request_closure" and "enquiry stage" in rejected[0]["reason"]


async def test_an_app_report_sent_twice_opens_one_case(api: httpx.AsyncClient, as_: Tokens, store: Store) -> None:
    feed = as_("intake", "noise-app-feed")
    body = {"source": "noise_app", "external_id": external_id(), "report": report()}
    with store.session() as session:
        cases_before = session.scalar(select(func.count()).select_from(CaseRow)) or 0

    # Both deliveries at once: the unique key decides, and the loser answers with the winner's case.
    first, second = await asyncio.gather(api.post("/feeds/app-reports", json=body, headers=feed),
                                         api.post("/feeds/app-reports", json=body, headers=feed))
    assert sorted([first.status_code, second.status_code]) == [200, 201], (first.text, second.text)
    assert first.json()["reference"] == second.json()["reference"]
    ref = first.json()["reference"]
    again = await api.post("/feeds/app-reports", json=body, headers=feed)
    assert again.status_code == 200 and again.json() == {**again.json(), "reference": ref, "created": False}

    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(CaseRow)) == cases_before + 1
        rows = session.scalars(select(ExternalReportRow).where(ExternalReportRow.external_id == body["external_id"]))
        assert [r.case_ref for r in rows] == [ref]
    # References are taken in a transaction of their own (issue 11 item 1), so the losing delivery's
    # number is simply not used: the next report gets a later one, never the same.
    following = (await api.post("/reports", json=report(), headers=feed)).json()["reference"]
    assert int(following.rsplit("-", 1)[1]) > int(ref.rsplit("-", 1)[1])
    view = (await api.get(f"/cases/{ref}", headers=feed)).json()
    assert view["status"]["stage"] == "enquiry"

    # The same id from another app is another report.
    other = await api.post("/feeds/app-reports", json={**body, "source": "report_it_app"}, headers=feed)
    assert other.status_code == 201 and other.json()["reference"] != ref


async def test_a_resent_app_report_starts_the_case_its_first_delivery_could_not(
    app: FastAPI, api: httpx.AsyncClient, as_: Tokens, env: WorkflowEnvironment
) -> None:
    """The first delivery was logged but Temporal was unreachable (the app got a 503 and will resend)."""
    feed = as_("intake", "noise-app-feed")
    body = AppReportIn.model_validate({"source": "noise_app", "external_id": external_id(), "report": report()})
    service = app.state.service
    ref, created = service._record_external(Principal(role="intake", id="noise-app-feed"), body,
                                                   body.report.model_copy(update={"channel": "noise_app"}),
                                                   datetime.now(UTC))
    assert created
    with pytest.raises(RPCError):
        await env.client.get_workflow_handle(ref).describe()

    resent = await api.post("/feeds/app-reports", json=body.model_dump(mode="json"), headers=feed)
    assert resent.status_code == 200 and resent.json()["reference"] == ref, resent.text
    assert resent.json()["status"]["stage"] == "enquiry"


async def test_the_public_form_needs_no_token_and_is_rate_limited(
    app: FastAPI, api: httpx.AsyncClient, as_: Tokens
) -> None:
    form: dict[str, Any] = {
        "category": "drugs", "incidents_last_month": 2,
        "reporter": {"name": "Carol Resident", "email": "carol@example.org", "contact_method": "email"},
        "reported_person": {"address": "Flat 9, Kingfisher House"},
        "incident": {"occurred_at": (datetime.now(UTC) - timedelta(hours=5)).isoformat(),
                     "description": "people dealing from the stairwell every night"},
    }
    sent = await api.post("/public/reports", json=form)
    assert sent.status_code == 201, sent.text
    ref = sent.json()["reference"]
    assert ref in sent.json()["message"]
    view = (await api.get(f"/cases/{ref}", headers=as_("manager", "m1"))).json()
    assert view["parties"][0]["name"] == "Carol Resident" and view["status"]["stage"] == "enquiry"

    # The form cannot do what staff do, and must say how to reach the reporter.
    for bad, field in [({**form, "officer": "o1"}, "officer"),
                       ({**form, "reporter": {"name": "Carol", "contact_method": "email"}}, "reporter.email"),
                       ({**form, "reporter": {**form["reporter"], "id": "P-123"}}, "reporter.id")]:
        response = await api.post("/public/reports", json=bad)
        assert response.status_code == 422 and field in response.json()["detail"], response.text

    # Five tries a minute per address, good or bad (four so far); then 429 with Retry-After.
    assert (await api.post("/public/reports", json=form)).status_code == 201
    limited = await api.post("/public/reports", json=form)
    assert limited.status_code == 429, limited.text
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 5000)),
                                 base_url="http://api.test") as elsewhere:
        assert (await elsewhere.post("/public/reports", json=form)).status_code == 201


async def test_case_lists_filter_by_stage_risk_officer_and_overdue(api: httpx.AsyncClient, as_: Tokens) -> None:
    o7 = f"o7-{uuid.uuid4().hex[:6]}"  # an officer of this test's own: other modules share the case file
    officer = as_("officer", o7)
    hate = (await api.post("/reports", json=report(officer=o7, hate=True, hate_strand="race"),
                           headers=officer)).json()["reference"]
    low = (await api.post("/reports", json=report(officer=o7), headers=officer)).json()["reference"]
    await _ok(api, officer, low, "record_risk_assessment", level="low")
    await _ok(api, officer, low, "convert_to_case")

    async def refs(**params: Any) -> list[str]:
        response = await api.get("/cases", params=params, headers=as_("auditor", "a1"))
        assert response.status_code == 200, response.text
        return [c["reference"] for c in response.json()["cases"]]

    mine = await refs(officer=o7)
    assert mine[:2] == [low, hate]  # newest first
    assert hate in await refs(officer=o7, risk="high") and low not in await refs(officer=o7, risk="high")
    assert await refs(officer=o7, stage="investigation") == [low]
    assert set(await refs(officer=o7, overdue="false")) == {low, hate}
    assert await refs(officer=o7, overdue="true") == []
    assert len(await refs(officer=o7, limit=1)) == 1


async def test_the_openapi_document_is_complete(api: httpx.AsyncClient) -> None:
    doc = (await api.get("/openapi.json")).json()
    operations = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    # 34 with issue 12; issue 14 adds the reports (2), survey answers (public and staff), the ASB Case Review
    # outcome, and /health, /ready and /metrics
    assert len(operations) == 42
    assert len({op["operationId"] for _, _, op in operations}) == len(operations)
    for path, _method, op in operations:
        assert op["tags"] and (op.get("summary") or op.get("description")), path
        codes = set(op["responses"])
        assert any(code.startswith("2") for code in codes), path
        if op.get("security"):
            assert {"401", "403"} <= codes, path
        for code in codes - {"200", "201", "202"}:
            schema = op["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}, (path, code)
    assert "429" in doc["paths"]["/public/reports"]["post"]["responses"]
    assert "409" in doc["paths"]["/cases/{ref}/commands/{command}"]["post"]["responses"]
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")  # schemathesis' own strategies
async def test_schemathesis_finds_no_server_error_and_answers_as_documented(
    app: FastAPI, api: httpx.AsyncClient, as_: Tokens
) -> None:
    """Requests generated from the OpenAPI document, valid and invalid, with a manager's token.

    Hypothesis drives the generation in a worker thread; each request is sent through the ASGI app on
    this test's event loop, where the Temporal client and worker live, so cases really start and
    commands really reach workflows."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    loop = asyncio.get_running_loop()
    headers = as_("manager", "m1")
    server_errors: list[str] = []
    problems: list[str] = []
    checked = 0

    def send(case: Any) -> httpx.Response:
        kwargs = case.as_transport_kwargs(base_url="http://api.test", headers=headers)
        body = {"json": kwargs["json"]} if "json" in kwargs else {"content": kwargs.get("data")}
        request_headers = dict(kwargs["headers"])
        if kwargs.get("files") is not None or isinstance(kwargs.get("data"), dict):  # a form (the evidence upload)
            prepared = requests.Request(kwargs["method"], kwargs["url"], data=kwargs.get("data"),
                                        files=kwargs.get("files")).prepare()
            body = {"content": prepared.body}
            request_headers["Content-Type"] = str(prepared.headers["Content-Type"])
        request = api.request(kwargs["method"], kwargs["url"], headers=request_headers, params=kwargs["params"],
                              **body)
        return asyncio.run_coroutine_threadsafe(request, loop).result(timeout=120)

    def fuzz() -> None:
        nonlocal checked
        for result in schema.get_all_operations():
            operation = cast(Any, result).ok()  # an invalid operation in the document fails here
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                @settings(max_examples=20, deadline=None, database=None,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy(generation_mode=mode))
                def check(case: Any) -> None:
                    nonlocal checked
                    response = send(case)
                    checked += 1
                    if response.status_code >= 500:
                        server_errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                             f"{response.text[:300]}")
                    try:
                        case.validate_response(response, checks=CHECKS, headers=headers)
                    except (AssertionError, FailureGroup) as failure:
                        problems.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                        f"{str(failure)[:600]}")

                try:
                    check()
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (e.g. GET /me)

    await asyncio.to_thread(fuzz)
    assert checked > 200
    assert server_errors == []
    assert problems == []


async def test_an_app_with_the_longest_allowed_name_can_send_reports(api: httpx.AsyncClient, as_: Tokens) -> None:
    """Found by schemathesis: a 32-letter source name was accepted, then outgrew the report's channel (500)."""
    feed = as_("intake", "feed")
    source = "a" + "b" * 31
    body = {"source": source, "external_id": external_id(), "report": report()}
    response = await api.post("/feeds/app-reports", json=body, headers=feed)
    assert response.status_code == 201, response.text
