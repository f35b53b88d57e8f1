"""Hostile input at every door (issue 9 items 1, 11, 12, 13 and 14), tried for real.

- Item 1: a reporter's language used to be joined to the templates folder, and templates ran unsandboxed,
  so anyone could run code on the worker from the public form. The exploit itself is sent here: a
  template that writes a marker file, in a folder named by `reporter.language`, and landlord templates
  that reach for Python's internals. Nothing may run.
- Item 11: the API pointed at a PostgreSQL and a Temporal that are not there answers the documented JSON
  503 with Retry-After, on reads, commands and reports; anything unforeseen is a JSON 500 without a
  traceback.
- Item 12: through a real uvicorn on loopback (how `asb up` and `asb api` serve), X-Forwarded-For is
  trusted only from configured proxies, so rotating it does not escape the public form's limit.
- Item 13: bodies are bounded in size (413) and nesting depth (422) before they are parsed.
- Item 14: times before 2000 or in the future are refused, naming the field, and the OpenAPI document
  carries the constraints the API enforces.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.serve import serving
from api.settings import ApiSettings
from asb.cli import main as asb_main
from casefile.db import Store
from casefile.editing import update_person
from casefile.models import CaseRow, MessageRow, PersonRow
from letters.compose import LetterJob, compose
from letters.config import ConfigError, load_settings
from letters.recipients import Recipient, find_recipient
from letters.render import Renderer, renderer
from tests.api_support import Tokens, client_for, external_id, make_app, report
from tests.letters_helpers import AT, seed_case

_refs = iter(range(1, 10_000))


def new_ref() -> str:
    return f"ASB-2026-93{next(_refs):04d}"


_handed_out: set[int] = set()


def free_port() -> int:
    """A port in this suite's range (18100-18199) that nothing listens on, not handed out before in this
    session (so a closed port standing in for PostgreSQL is never the one the API is then served on)."""
    for port in range(18100, 18200):
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                _handed_out.add(port)
                return port
    raise RuntimeError("no free port in 18100-18199")


@pytest.fixture
def as_(app: FastAPI, state_dir: Path) -> Tokens:
    return Tokens(state_dir)


# ------------------------------------------------------------------------ item 1: code execution

#: The classic Jinja2 escape: from a global the template can see to the os module, then run a command.
def _payload(marker: Path) -> str:
    return ('{% extends "_page.html.j2" %}{% block subject %}Hello{% endblock %}{% block body %}'
            "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}"
            "{% endblock %}{% block easy_read %}x{% endblock %}")


@pytest.fixture
def short_tmp_dir() -> Iterator[Path]:
    """A folder whose absolute path fits the old 8-character language field (/tmp/xyz), as an attacker
    on the same machine, or anything that drops files in /tmp, could make."""
    for _ in range(100):
        path = Path("/tmp") / secrets.token_hex(2)[:3]
        try:
            path.mkdir()
        except FileExistsError:
            continue
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
        return
    raise RuntimeError("no free short folder in /tmp")


async def _settled(store: Store, ref: str, marker: Path, deadline_s: float = 90.0) -> None:
    """Wait until the acknowledgement to the reporter has been dealt with (or the payload ran)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while loop.time() < deadline:
        if marker.exists():
            return
        with store.session() as session:
            rows = session.scalars(select(MessageRow).where(MessageRow.case_ref == ref,
                                                            MessageRow.template == "acknowledgement")).all()
        if rows and all(r.status not in ("pending", "sending") for r in rows):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the acknowledgement for {ref} was not dealt with within {deadline_s:.0f}s")


async def test_the_public_forms_language_cannot_pick_a_template_folder_and_run_code(
    api: httpx.AsyncClient, store: Store, short_tmp_dir: Path
) -> None:
    """The exploit: an unauthenticated report whose language is a folder holding a malicious template."""
    marker = short_tmp_dir / "ran"
    (short_tmp_dir / "acknowledgement.html.j2").write_text(_payload(marker))
    form = {
        "category": "noise",
        "reporter": {"name": "Mallory", "address": "1 Any Street, Reading", "contact_method": "letter",
                     "language": str(short_tmp_dir)},
        "incident": {"occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
    }
    response = await api.post("/public/reports", json=form)
    if response.status_code == 201:  # the old code: the case opens and its acknowledgement is rendered
        await _settled(store, response.json()["reference"], marker)
    assert not marker.exists(), "the template named by reporter.language ran code on the worker"
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "reporter.language", response.json()


async def test_staff_and_app_doors_refuse_a_language_that_is_not_a_code(api: httpx.AsyncClient, as_: Tokens) -> None:
    officer = as_("officer", "o1")
    for bad in ["/tmp/x", "../en", "en/../..", "x" * 3 + "/", "EN", "english"]:
        person = {"name": "Alice Example", "phone": "07700 900123", "contact_method": "phone", "language": bad}
        staff = await api.post("/reports", json=report(reporter=person), headers=officer)
        assert staff.status_code == 422 and staff.json()["field"] == "reporter.language", (bad, staff.text)
        feed = await api.post("/feeds/app-reports", headers=officer, json={
            "source": "noise_app", "external_id": external_id(), "report": report(witnesses=[person])})
        assert feed.status_code == 422 and feed.json()["field"] == "report.witnesses.0.language", (bad, feed.text)
    good = await api.post("/reports", headers=officer, json=report(reporter={
        "name": "Alice Example", "phone": "07700 900123", "contact_method": "phone", "language": "cy"}))
    assert good.status_code == 201, good.text


def test_a_path_already_in_the_case_file_is_never_used_as_a_folder(store: Store, short_tmp_dir: Path) -> None:
    """Defence in depth: a language written before the doors checked it (or by SQL) renders in English."""
    marker = short_tmp_dir / "ran"
    (short_tmp_dir / "acknowledgement.html.j2").write_text(_payload(marker))
    ref = new_ref()
    reporter, _ = seed_case(store, ref)
    with store.engine.begin() as connection:  # straight to the table, past every check
        connection.execute(text("UPDATE people SET language = :l WHERE id = :id"),
                           {"l": str(short_tmp_dir), "id": reporter})
    settings = load_settings(None, {})
    with store.session() as session:
        party = find_recipient(session, ref, "reporter", None)
        assert isinstance(party, Recipient)
        rendered = compose(session, LetterJob(ref, "acknowledgement", "reporter", party.person_id, AT), party,
                           settings, renderer(None))
    assert not marker.exists()
    assert rendered.language == "en" and f"Your reference number is {ref}" in rendered.text


def test_the_edit_path_and_the_letter_settings_refuse_a_language_that_is_not_a_code(store: Store) -> None:
    ref = new_ref()
    reporter, _ = seed_case(store, ref)
    with store.session() as session, session.begin(), pytest.raises(ValueError, match="language"):
        update_person(session, reporter, {"language": "/tmp/x"}, expected_version=1, role="officer", actor_id="o1")
    with store.session() as session:
        assert session.get(PersonRow, reporter).language is None  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="ASB_LETTER_LANGUAGE"):
        load_settings(None, {"ASB_LETTER_LANGUAGE": "/tmp/x"})
    assert load_settings(None, {"ASB_LETTER_LANGUAGE": "cy"}).default_language == "cy"


@pytest.mark.parametrize("escape", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('touch MARKER') }}",
    "{{ lipsum.__globals__['os'].popen('touch MARKER').read() }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.system('touch MARKER') }}",
    "{{ namespace.__init__.__globals__.__builtins__.open('MARKER', 'w').write('x') }}",
    "{% set x = labels.update({'pwned': 1}) %}{{ labels }}",
])
def test_a_landlords_own_template_cannot_reach_python(store: Store, tmp_path: Path, escape: str) -> None:
    """Landlords' templates are code outside our review: they render in the sandbox, and an escape fails
    the letter (the officer is told, as for any broken template) instead of running."""
    from jinja2.exceptions import SecurityError

    marker = tmp_path / "ran"
    own = tmp_path / "templates" / "en"
    own.mkdir(parents=True)
    (own / "acknowledgement.html.j2").write_text(
        '{% extends "_page.html.j2" %}{% block subject %}Hi{% endblock %}{% block body %}'
        + escape.replace("MARKER", str(marker)) + "{% endblock %}{% block easy_read %}x{% endblock %}")
    ref = new_ref()
    seed_case(store, ref)
    with store.session() as session:
        party = find_recipient(session, ref, "reporter", None)
        assert isinstance(party, Recipient)
        with pytest.raises(SecurityError):
            compose(session, LetterJob(ref, "acknowledgement", "reporter", party.person_id, AT), party,
                    load_settings(None, {}), Renderer(own.parent))
    assert not marker.exists()


def test_a_landlord_template_may_not_lead_outside_the_template_folders(store: Store, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    own = tmp_path / "templates" / "en"
    own.mkdir(parents=True)
    (own / "acknowledgement.html.j2").symlink_to(secret)
    (own / "action_plan.html.j2").write_text(
        '{% extends "_page.html.j2" %}{% block body %}{% include "' + str(secret) + '" %}{% endblock %}')
    ref = new_ref()
    seed_case(store, ref)
    for template in ("acknowledgement", "action_plan"):
        with store.session() as session:
            party = find_recipient(session, ref, "reporter", None)
            assert isinstance(party, Recipient)
            try:
                rendered = compose(session, LetterJob(ref, template, "reporter", party.person_id, AT), party,
                                   load_settings(None, {}), Renderer(own.parent))
            except LookupError:
                continue  # refused: TemplateNotFound
            assert "TOP SECRET" not in rendered.html, template


def test_a_language_selects_only_a_folder_that_exists() -> None:
    render = Renderer(None)
    assert render.language_for("acknowledgement", "cy") == "cy"
    assert render.language_for("acknowledgement", "cy-GB") == "cy"  # a region falls back to its language
    assert render.language_for("acknowledgement", "pl") == "en"  # no translation: English
    for hostile in ["/tmp", "../en", "cy/../../etc", "/", "c" * 40]:
        assert render.language_for("acknowledgement", hostile) == "en"
        assert render.search_path(hostile) == render.search_path("en")


def test_letters_preview_refuses_a_language_that_is_not_a_code(
    store: Store, postgres_url: str, tmp_path: Path, short_tmp_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    marker = short_tmp_dir / "ran"
    (short_tmp_dir / "acknowledgement.html.j2").write_text(_payload(marker))
    ref = new_ref()
    seed_case(store, ref)
    monkeypatch.setenv("ASB_DATABASE_URL", postgres_url)
    monkeypatch.delenv("ASB_DELIVERY_CONFIG", raising=False)
    monkeypatch.delenv("ASB_LETTER_LANGUAGE", raising=False)
    out = tmp_path / "preview.pdf"
    code = asb_main(["letters", "preview", "acknowledgement", "--case", ref, "--language", str(short_tmp_dir),
                     "--out", str(out)])
    err = capsys.readouterr().err
    assert not marker.exists(), "asb letters preview --language ran a template from the given folder"
    assert code == 2 and not out.exists()
    assert len(err.strip().splitlines()) == 1 and "--language" in err, err
    assert asb_main(["letters", "preview", "acknowledgement", "--case", ref, "--language", "cy",
                     "--out", str(out)]) == 0 and out.exists()


# ------------------------------------------------------------------------ item 11: outages


@pytest.fixture
async def app_without_backends(state_dir: Path) -> AsyncIterator[FastAPI]:
    """The API pointed at a PostgreSQL and a Temporal that are not there (closed loopback ports)."""
    db_port, temporal_port = free_port(), free_port()
    store = Store(f"postgresql+psycopg://postgres@127.0.0.1:{db_port}/asb")
    client = await Client.connect(f"127.0.0.1:{temporal_port}", lazy=True)
    yield create_app(ApiSettings(profile="reading", state_dir=state_dir, search_attributes=False), client, store)
    store.dispose()


@pytest.fixture
async def app_without_temporal(store: Store, state_dir: Path) -> AsyncIterator[FastAPI]:
    """The real case file, but nothing listening where Temporal should be."""
    client = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    yield create_app(ApiSettings(profile="reading", state_dir=state_dir, search_attributes=False), client, store)


def _outage_answer(response: httpx.Response, what: str) -> None:
    assert response.status_code == 503, (what, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), (what, response.text)
    body = response.json()
    assert set(body) == {"detail", "field"} and body["field"] is None, (what, body)
    assert "Traceback" not in body["detail"] and "postgres" not in body["detail"].lower(), (what, body)
    assert 1 <= int(response.headers["Retry-After"]) <= 600, (what, response.headers)


async def test_a_database_and_temporal_outage_answers_json_503_with_retry_after_everywhere(
    app_without_backends: FastAPI, state_dir: Path
) -> None:
    as_ = Tokens(state_dir)
    officer, manager = as_("officer", "o1"), as_("manager", "m1")
    form = {"category": "noise", "reporter": {"anonymous": True},
            "incident": {"occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}}
    port = free_port()
    # Over real HTTP, as clients meet it: an answer every time, never a dropped connection.
    async with serving(app_without_backends, "127.0.0.1", port), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as api:
        requests = [
            ("GET", "/cases", None, officer),
            ("GET", "/cases/ASB-2026-000001", None, officer),
            ("GET", "/tasks", None, manager),
            ("POST", "/reports", report(), officer),
            ("POST", "/public/reports", form, {}),
            ("POST", "/feeds/app-reports", {"source": "noise_app", "external_id": external_id(), "report": report()},
             officer),
            ("POST", "/cases/ASB-2026-000001/commands/record_contact", {"args": {"outcome": "made",
                                                                                 "method": "phone"}}, officer),
            ("POST", "/cases/ASB-2026-000001/lock", {"locked": True, "reason": "employee"}, manager),
            ("POST", "/tasks/ASB-2026-000001-T1/claim", None, manager),
        ]
        for method, path, body, headers in requests:
            response = await api.request(method, path, json=body, headers=headers)
            _outage_answer(response, f"{method} {path}")


async def test_a_temporal_outage_answers_json_503_with_retry_after(
    app_without_temporal: FastAPI, state_dir: Path, store: Store
) -> None:
    as_ = Tokens(state_dir)
    officer = as_("officer", "o1")
    ref = new_ref()
    seed_case(store, ref)
    async with client_for(app_without_temporal) as api:
        command = await api.post(f"/cases/{ref}/commands/record_contact",
                                 json={"args": {"outcome": "made", "method": "phone"}}, headers=officer)
        _outage_answer(command, "command")
        view = await api.get(f"/cases/{ref}", headers=officer)
        # A read still shows the case file; the workflow's part says it did not answer.
        assert view.status_code == 200 and view.json()["status"] is None, view.text


async def test_an_unforeseen_error_is_a_json_500_without_a_traceback(app: FastAPI, as_: Tokens) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("internal detail that must not leak")

    app.state.service.list_cases = broken
    async with client_for(app) as api:
        response = await api.get("/cases", headers=as_("officer", "o1"))
    assert response.status_code == 500, response.text
    assert response.json() == {"detail": "internal error", "field": None}


# ------------------------------------------------------------------------ item 12: forwarded headers


def _bad_form() -> dict[str, Any]:
    return {"category": "noise"}  # 422 (no incident), but every try counts toward the limit


async def test_rotating_x_forwarded_for_does_not_escape_the_public_forms_limit(app: FastAPI) -> None:
    """Served as `asb up` and `asb api` serve it: uvicorn on loopback, no proxy configured."""
    port = free_port()
    async with serving(app, "127.0.0.1", port), httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        answers = [(await http.post("/public/reports", json=_bad_form(),
                                    headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code for i in range(7)]
    assert answers[:5] == [422] * 5 and answers[5:] == [429, 429], answers


async def test_a_configured_proxys_forwarded_header_is_honoured(
    env: WorkflowEnvironment, store: Store, task_queue: str, state_dir: Path
) -> None:
    app = make_app(env, store, task_queue, state_dir, forwarded_allow_ips="127.0.0.1")
    port = free_port()
    async with serving(app, "127.0.0.1", port, forwarded_allow_ips="127.0.0.1"), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        rotating = [(await http.post("/public/reports", json=_bad_form(),
                                     headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code for i in range(7)]
        same = [(await http.post("/public/reports", json=_bad_form(),
                                 headers={"X-Forwarded-For": "203.0.113.7"})).status_code for _ in range(6)]
    assert rotating == [422] * 7, rotating  # seven clients behind the proxy, one try each
    assert same == [422] * 5 + [429], same


def test_the_forwarded_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASB_FORWARDED_ALLOW_IPS", raising=False)
    assert ApiSettings.from_env().forwarded_allow_ips is None
    monkeypatch.setenv("ASB_FORWARDED_ALLOW_IPS", "10.0.0.5")
    assert ApiSettings.from_env().forwarded_allow_ips == "10.0.0.5"


# ------------------------------------------------------------------------ item 13: body size and depth


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"a": value}
    return value


async def test_a_deeply_nested_body_is_422_at_every_door(api: httpx.AsyncClient, as_: Tokens) -> None:
    officer = as_("officer", "o1")
    ref = (await api.post("/reports", json=report(), headers=officer)).json()["reference"]
    deep = _nested(900)
    for path, body, headers in [
        ("/public/reports", {"category": "noise", "reporter": deep}, {"X-Test": "public"}),
        ("/reports", report(reporter=deep), officer),
        ("/feeds/app-reports", {"source": "noise_app", "external_id": external_id(), "report": deep}, officer),
        (f"/cases/{ref}/commands/record_contact", {"args": {"outcome": "made", "method": deep}}, officer),
    ]:
        response = await api.post(path, content=json.dumps(body), headers={**headers,
                                                                           "Content-Type": "application/json"})
        assert response.status_code == 422, (path, response.status_code, response.text[:200])
        assert response.json()["field"] == "(body)" and "nested" in response.json()["detail"], response.json()
    # Lists nest too, and a body deep in strings only is not deep at all.
    lists = await api.post("/reports", content="[" * 900 + "]" * 900, headers={**officer,
                                                                              "Content-Type": "application/json"})
    assert lists.status_code == 422 and "nested" in lists.json()["detail"], lists.text
    brackets = report(incident={"occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                                "description": "[{" * 2000})
    assert (await api.post("/reports", json=brackets, headers=officer)).status_code == 201


async def test_an_oversized_body_is_413_before_it_is_read(api: httpx.AsyncClient, as_: Tokens) -> None:
    officer = as_("officer", "o1")
    big = report(witnesses=[{"name": "W", "address": "x" * 1000} for _ in range(70)])
    response = await api.post("/reports", json=big, headers=officer)
    assert response.status_code == 413, (response.status_code, response.text[:200])
    assert response.json() == {"detail": "the body is larger than 65536 bytes", "field": "(body)"}
    public = await api.post("/public/reports", content=b"{" + b" " * 70_000 + b"}",
                            headers={"Content-Type": "application/json"})
    assert public.status_code == 413, public.text[:200]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(70):
            yield b" " * 1024

    streamed = await api.post("/reports", content=chunks(), headers={**officer, "Content-Type": "application/json"})
    assert streamed.status_code == 413, streamed.text[:200]


def test_depth_is_counted_outside_strings_only() -> None:
    from api.guard import nesting_depth

    for document, depth in [('{"a": "x\\"[[[["}', 1), ('{"a": "x\\\\"}', 1), ('[[{"a":[1]}]]', 4),
                            ('"[[["', 0), ('{"a\\\\": {"b": "]]]"}}', 2), ('{"a": "\\u005b[["}', 1)]:
        json.loads(document)  # each is valid JSON
        assert nesting_depth(document.encode()) == depth, document


def test_the_nul_check_is_not_recursive() -> None:
    from casefile.intake import contains_nul

    assert contains_nul(_nested(100_000)) is False
    assert contains_nul({"a": [_nested(5000), {"b": "x\x00"}]}) is True


# ------------------------------------------------------------------------ item 14: times


async def test_times_before_2000_or_in_the_future_are_refused_at_every_door(
    api: httpx.AsyncClient, as_: Tokens, store: Store
) -> None:
    officer = as_("officer", "o1")
    ref = (await api.post("/reports", json=report(), headers=officer)).json()["reference"]
    now = datetime.now(UTC)
    with store.session() as session:
        cases_before = session.query(CaseRow).count()
    for when in [0, "1970-01-01T00:00:00Z", "1999-12-31T23:59:59+00:00", (now + timedelta(minutes=10)).isoformat(),
                 (now + timedelta(days=365)).isoformat()]:
        incident = {"occurred_at": when}
        for path, body, headers, field in [
            ("/public/reports", {"category": "noise", "incident": incident}, {}, "incident.occurred_at"),
            ("/reports", report(incident=incident), officer, "incident.occurred_at"),
            ("/feeds/app-reports", {"source": "noise_app", "external_id": external_id(),
                                    "report": report(incident=incident)}, officer, "report.incident.occurred_at"),
            (f"/cases/{ref}/commands/record_incident", {"args": {"occurred_at": when}}, officer, "args.occurred_at"),
        ]:
            if path == "/public/reports":
                # Each from its own address, so the form's limit is not what answers.
                transport = httpx.ASGITransport(app=api._transport.app,  # type: ignore[attr-defined]
                                                client=(f"192.0.2.{secrets.randbelow(250) + 1}", 4000))
                async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as other:
                    response = await other.post(path, json=body, headers=headers)
            else:
                response = await api.post(path, json=body, headers=headers)
            assert response.status_code == 422, (when, path, response.status_code, response.text)
            assert response.json()["field"] == field, (when, path, response.json())
    with store.session() as session:
        assert session.query(CaseRow).count() == cases_before  # nothing was opened
    # A sender's clock a minute fast is still fine.
    soon = report(incident={"occurred_at": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()})
    assert (await api.post("/reports", json=soon, headers=officer)).status_code == 201


async def test_the_openapi_document_carries_the_constraints_the_api_enforces(api: httpx.AsyncClient) -> None:
    doc = (await api.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]

    def prop(schema: str, name: str) -> dict[str, Any]:
        value: dict[str, Any] = schemas[schema]["properties"][name]
        options = value.get("anyOf", [value])
        return next(o for o in options if o.get("type") != "null") | {k: v for k, v in value.items() if k != "anyOf"}

    for person in ("PublicPerson", "PersonDetails"):
        language = prop(person, "language")
        assert language["pattern"] == "^[a-z]{2,3}(-[A-Z]{2})?$" and language["maxLength"] == 6, language
    for incident in ("PublicIncident", "IncidentDetails"):
        occurred = prop(incident, "occurred_at")
        assert occurred["format"] == "date-time" and "2000-01-01" in occurred["description"], occurred
        assert "5 minutes" in occurred["description"], occurred
    assert prop("IncidentDetails", "evidence")["maxItems"] == 50
    assert prop("PublicReportIn", "witnesses")["maxItems"] == 10
    assert "2000-01-01" in prop("CommandIn", "args")["description"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                assert "413" in operation["responses"], (method, path)
            for code, answer in operation["responses"].items():
                if code == "503":
                    assert "Retry-After" in answer.get("headers", {}), (method, path)


def test_the_case_file_refuses_impossible_incident_times_too(store: Store) -> None:
    """Whatever door a report comes through (a script, an import), the case file itself keeps the bounds."""
    from casefile.intake import IncidentDetails, IntakeReport, record_report

    for when in ["1970-01-01T00:00:00+00:00", "1999-12-31T23:59:59+00:00"]:
        with pytest.raises(ValueError, match="2000-01-01"):
            IncidentDetails.model_validate({"occurred_at": when})
    received = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    later = IntakeReport.model_validate({"category": "noise", "incident": {
        "occurred_at": (received + timedelta(hours=1)).isoformat()}})
    ref = new_ref()
    with store.session() as session, session.begin(), pytest.raises(ValueError, match="future"):
        record_report(session, ref, "reading", later, received, "i1")
    with store.session() as session:
        assert session.get(CaseRow, ref) is None
