"""Who may do what through the API: every role against every endpoint, locked cases, and tokens.

The rules the matrix pins down (README "HTTP API and CLI client"):
- 401 without a valid token; the public form and the signing keys need none;
- 403 depends on the role alone: ops and auditor read but never act, intake logs reports and incidents
  only, only managers lock, and intake, ops and auditor do not take or decide tasks;
- 404 for a locked case (and its tasks) to anyone but its officer and managers, exactly as for a case
  that does not exist;
- 409 when the case itself refuses: another officer's case, a decision that is not the task's;
- a partner agency's staff (issue 12 item 8) have no staff route at all: 403 everywhere but who-am-I,
  the public form and the signing keys, before any case is looked up (tests/test_api_partners.py has
  their own routes).
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from api.auth import LocalKeys
from api.settings import LOCAL_AUDIENCE, LOCAL_ISSUER
from casefile.db import Store
from casefile.models import AuditRow, CaseRow, ExternalReportRow, TaskRow
from tests.api_support import Tokens, client_for, external_id, make_app, report

#: The people of the matrix: (role, id). `officer` owns every case below; `other_officer` owns none.
PEOPLE: dict[str, tuple[str, ...] | None] = {
    "anonymous": None,
    "intake": ("intake", "i1"),
    "officer": ("officer", "o1"),
    "other_officer": ("officer", "o2"),
    "manager": ("manager", "m2"),
    "senior_manager": ("senior_manager", "s1"),
    "ops": ("ops", "ops1"),
    "auditor": ("auditor", "a1"),
    "partner": ("partner", "vs1", "victim_support"),
}
STAFF = [p for p in PEOPLE if p not in ("anonymous", "partner")]


def _row(default: int, **overrides: int) -> dict[str, int]:
    row: dict[str, int] = {person: default for person in PEOPLE}
    row["anonymous"] = 401
    row["partner"] = 403
    row.update(overrides)
    return row


READ_ONLY = {"ops": 403, "auditor": 403}
HIDDEN = {"intake": 404, "other_officer": 404, "ops": 404, "auditor": 404}

#: endpoint name -> (method, path, body, expected status per person). {A}, {L}: the open and the locked
#: case; {TA}, {TL}: a closure-approval task on each; {NEW}: a fresh app report id.
MATRIX: dict[str, tuple[str, str, Any, dict[str, int]]] = {
    "log report": ("POST", "/reports", "report", _row(201, **READ_ONLY)),
    "app feed": ("POST", "/feeds/app-reports", "app", _row(201, **READ_ONLY)),
    "public form": ("POST", "/public/reports", "public", _row(201, anonymous=201, partner=201)),
    "list cases": ("GET", "/cases", None, _row(200)),
    "view case": ("GET", "/cases/{A}", None, _row(200)),
    "officer command": ("POST", "/cases/{A}/commands/record_risk_assessment", {"args": {"level": "medium"}},
                        _row(200, intake=403, other_officer=409, **READ_ONLY)),
    "intake command": ("POST", "/cases/{A}/commands/record_incident", {"args": {}}, _row(200, **READ_ONLY)),
    "lock": ("POST", "/cases/{A}/lock", {"locked": False}, _row(403, manager=200, senior_manager=200)),
    "task inbox": ("GET", "/tasks", None, _row(200)),
    "claim task": ("POST", "/tasks/{TA}/claim", None,
                   _row(409, manager=200, senior_manager=200, intake=403, **READ_ONLY)),
    "decide task": ("POST", "/tasks/{TA}/decide", {"decision": "done"}, _row(409, intake=403, **READ_ONLY)),
    "who am I": ("GET", "/me", None, _row(200, partner=200)),
    "commands": ("GET", "/commands", None, _row(200)),
    "signing keys": ("GET", "/.well-known/jwks.json", None, _row(200, anonymous=200, partner=200)),
    "unknown case": ("GET", "/cases/ASB-1999-999999", None, _row(404)),
    "view locked case": ("GET", "/cases/{L}", None, _row(200, **HIDDEN)),
    "officer command on locked case": ("POST", "/cases/{L}/commands/record_risk_assessment",
                                       {"args": {"level": "medium"}},
                                       _row(200, intake=403, other_officer=404, **READ_ONLY)),
    "intake command on locked case": ("POST", "/cases/{L}/commands/record_incident", {"args": {}},
                                      _row(200, intake=404, other_officer=404, **READ_ONLY)),
    "lock locked case": ("POST", "/cases/{L}/lock", {"locked": True, "reason": "reporter is an employee"},
                         _row(403, manager=200, senior_manager=200)),
    "claim task on locked case": ("POST", "/tasks/{TL}/claim", None,
                                  _row(409, manager=200, senior_manager=200, intake=403, other_officer=404,
                                       **READ_ONLY)),
    "decide task on locked case": ("POST", "/tasks/{TL}/decide", {"decision": "done"},
                                   _row(409, intake=403, other_officer=404, **READ_ONLY)),
}


@dataclass
class World:
    app: FastAPI
    api: httpx.AsyncClient
    tokens: Tokens
    refs: dict[str, str]

    def headers(self, person: str) -> dict[str, str]:
        who = PEOPLE[person]
        return self.tokens(*who) if who else {}


async def _case(api: httpx.AsyncClient, tokens: Tokens, *, lock: bool) -> tuple[str, str]:
    """A case of officer o1 in investigation with a closure awaiting approval (and so a task)."""
    officer, manager = tokens("officer", "o1"), tokens("manager", "m1")
    ref = (await api.post("/reports", json=report(), headers=tokens("intake", "i1"))).json()["reference"]
    for command, args, who in [("record_risk_assessment", {"level": "low"}, officer),
                               ("convert_to_case", {}, officer),
                               ("request_closure", {"reason": "no_reports"}, manager)]:
        response = await api.post(f"/cases/{ref}/commands/{command}", json={"args": args}, headers=who)
        assert response.status_code == 200, response.text
    if lock:
        locked = await api.post(f"/cases/{ref}/lock", json={"locked": True, "reason": "a party works for us"},
                                headers=manager)
        assert locked.status_code == 200 and locked.json()["locked"] is True, locked.text
    tasks = (await api.get("/tasks", params={"case": ref}, headers=manager)).json()["tasks"]
    task = next(t["id"] for t in tasks if t["kind"] == "closure_approval")
    return ref, task


@pytest.fixture(scope="module")
async def world(env: WorkflowEnvironment, store: Store, task_queue: str,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    state = tmp_path_factory.mktemp("access")
    # The form's rate limit is its own test; here every person may post.
    app = make_app(env, store, task_queue, state, public_reports_per_minute=1000)
    tokens = Tokens(state)
    async with client_for(app) as api:
        open_ref, open_task = await _case(api, tokens, lock=False)
        locked_ref, locked_task = await _case(api, tokens, lock=True)
        yield World(app, api, tokens, {"A": open_ref, "TA": open_task, "L": locked_ref, "TL": locked_task})


def _body(kind: Any) -> Any:
    if kind == "report":
        return report()
    if kind == "app":
        return {"source": "noise_app", "external_id": external_id(), "report": report()}
    if kind == "public":
        return {"category": "noise", "reporter": {"anonymous": True},
                "incident": {"occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat()}}
    return kind


#: Why the case or task refuses (409), by endpoint and person: the refusal must give the right reason.
REASONS_409 = {
    ("officer command", "other_officer"): "the case belongs to officer o1",
    ("claim task", "officer"): "this task is for a manager",
    ("claim task", "other_officer"): "this task is for a manager",
    ("claim task on locked case", "officer"): "this task is for a manager",
    **{(endpoint, person): "an approval task is decided with approve or reject, not done"
       for endpoint in ("decide task", "decide task on locked case")
       for person in ("officer", "other_officer", "manager", "senior_manager")},
}
del REASONS_409[("decide task on locked case", "other_officer")]  # the locked case is hidden from them: 404
#: Endpoints that change a case or a task: a 200 there must have taken effect, a refusal must not have.
CHANGES = {"officer command", "intake command", "lock", "claim task", "decide task", "officer command on locked case",
           "intake command on locked case", "lock locked case", "claim task on locked case",
           "decide task on locked case"}


def _state(store: Store, ref: str, task: str) -> tuple[Any, ...]:
    """What a command, a lock or a claim would change: accepted commands, the lock, the task's holder."""
    with store.session() as session:
        case = session.get(CaseRow, ref)
        row = session.scalars(select(TaskRow).where(TaskRow.key == task)).one()
        assert case is not None
        commands = [(e["command"], e["by"]) for e in store.timeline(ref) if e["event"] == "command"]
        return commands, case.locked, case.lock_reason, case.risk, row.assignee, row.status, row.decision


@pytest.mark.parametrize("person", list(PEOPLE))
@pytest.mark.parametrize("endpoint", list(MATRIX))
async def test_access_matrix(world: World, store: Store, endpoint: str, person: str) -> None:
    method, path, body, expected = MATRIX[endpoint]
    wanted = expected[person]
    refs = dict(world.refs)
    if endpoint in CHANGES and wanted == 200:
        # A change gets a case of its own, so no cell depends on which ran before it.
        locked = "{L}" in path or "{TL}" in path
        ref, task = await _case(world.api, world.tokens, lock=locked)
        refs.update({"L": ref, "TL": task} if locked else {"A": ref, "TA": task})
    ref, task = (refs["L"], refs["TL"]) if "{L}" in path or "{TL}" in path else (refs["A"], refs["TA"])
    before = _state(store, ref, task)
    response = await world.api.request(method, path.format(**refs), json=_body(body), headers=world.headers(person))
    assert response.status_code == wanted, (endpoint, person, response.status_code, response.text)
    if response.status_code >= 400:
        assert response.json()["detail"], response.text  # every refusal says why
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if response.status_code == 409:
        assert REASONS_409[(endpoint, person)] in response.json()["detail"], response.text
    else:
        assert (endpoint, person) not in REASONS_409
    after = _state(store, ref, task)
    if response.status_code >= 400:
        assert after == before, f"{endpoint} refused to {person} yet changed {before} to {after}"
    elif endpoint in CHANGES:
        _took_effect(endpoint, PEOPLE[person], before, after, response.json())
    elif endpoint in ("log report", "app feed", "public form"):
        with store.session() as session:
            assert session.get(CaseRow, response.json()["reference"]) is not None


def _took_effect(endpoint: str, who: tuple[str, ...] | None, before: tuple[Any, ...], after: tuple[Any, ...],
                 body: Any) -> None:
    assert who is not None
    commands, locked, reason, risk, assignee, status, _decision = after
    if "command" in endpoint:
        command = "record_risk_assessment" if endpoint.startswith("officer") else "record_incident"
        assert commands == [*before[0], (command, who[1])]
    elif endpoint.startswith("lock"):
        wants_lock = endpoint == "lock locked case"
        assert body["locked"] is wants_lock and locked is wants_lock
        assert reason == ("reporter is an employee" if wants_lock else None)
    elif endpoint.startswith("claim"):
        assert (assignee, status) == (who[1], "open")
    else:
        raise AssertionError(f"{endpoint} should never answer 200 here")


async def test_a_locked_case_looks_exactly_like_a_missing_one(world: World) -> None:
    locked = await world.api.get(f"/cases/{world.refs['L']}", headers=world.headers("ops"))
    missing = await world.api.get("/cases/ASB-1999-999999", headers=world.headers("ops"))
    assert locked.status_code == missing.status_code == 404
    assert locked.json()["detail"].replace(world.refs["L"], "X") == missing.json()["detail"].replace(
        "ASB-1999-999999", "X")


@pytest.mark.parametrize("person", STAFF)
async def test_lists_and_the_inbox_leave_out_locked_cases_for_those_who_may_not_see_them(
    world: World, person: str
) -> None:
    sees = person in ("officer", "manager", "senior_manager")
    cases = await world.api.get("/cases", params={"officer": "o1", "limit": 500}, headers=world.headers(person))
    assert (world.refs["L"] in {c["reference"] for c in cases.json()["cases"]}) is sees
    assert world.refs["A"] in {c["reference"] for c in cases.json()["cases"]}
    tasks = await world.api.get("/tasks", headers=world.headers(person))
    assert (world.refs["TL"] in {t["id"] for t in tasks.json()["tasks"]}) is sees
    assert world.refs["TA"] in {t["id"] for t in tasks.json()["tasks"]}


async def test_every_read_of_a_locked_case_is_audited(world: World, store: Store) -> None:
    def reads(actor: str) -> int:
        with store.session() as session:
            return int(session.scalar(select(func.count()).select_from(AuditRow).where(
                AuditRow.case_ref == world.refs["L"], AuditRow.action == "read", AuditRow.actor_id == actor)) or 0)

    before = {who: reads(who) for who in ("m2", "o1", "ops1")}
    assert (await world.api.get(f"/cases/{world.refs['L']}", headers=world.headers("manager"))).status_code == 200
    await world.api.get("/cases", params={"officer": "o1"}, headers=world.headers("officer"))
    assert (await world.api.get(f"/cases/{world.refs['L']}", headers=world.headers("ops"))).status_code == 404
    assert reads("m2") == before["m2"] + 1  # the view
    assert reads("o1") == before["o1"] + 1  # the list showed it
    assert reads("ops1") == before["ops1"]  # nothing was shown


async def test_unlocking_shows_the_case_to_everyone_again(world: World) -> None:
    ref, _task = await _case(world.api, world.tokens, lock=True)
    assert (await world.api.get(f"/cases/{ref}", headers=world.headers("auditor"))).status_code == 404
    unlock = await world.api.post(f"/cases/{ref}/lock", json={"locked": False}, headers=world.headers("manager"))
    assert unlock.status_code == 200 and unlock.json()["locked"] is False
    assert (await world.api.get(f"/cases/{ref}", headers=world.headers("auditor"))).status_code == 200
    stale = await world.api.post(f"/cases/{ref}/lock", json={"locked": True, "reason": "again", "expected_version": 1},
                                 headers=world.headers("manager"))
    assert stale.status_code == 409 and "changed by someone else" in stale.json()["detail"]


# ------------------------------------------------------------------------------------------------ tokens


def _claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "sub": "m9", "roles": ["manager"],
                              "iat": now, "exp": now + timedelta(minutes=5)}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_tokens_are_checked_for_signature_expiry_issuer_and_audience(world: World) -> None:
    keys: LocalKeys = world.tokens.keys
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sign = lambda claims, key=keys.private_key, alg="RS256": jwt.encode(  # noqa: E731
        claims, key, algorithm=alg, headers={"kid": keys.kid})
    refused = {
        "no header": {},
        "not bearer": {"Authorization": "Basic bTk6c2VjcmV0"},
        "not a JWT": _bearer("not-a-token"),
        "another key": _bearer(sign(_claims(), stranger)),
        "expired": _bearer(sign(_claims(exp=datetime.now(UTC) - timedelta(minutes=5)))),
        "no expiry": _bearer(sign(_claims(exp=None))),
        "other issuer": _bearer(sign(_claims(iss="https://evil.example"))),
        "other audience": _bearer(sign(_claims(aud="another-api"))),
        "symmetric algorithm": _bearer(jwt.encode(_claims(), "a-shared-secret-of-32-bytes-or-more!", "HS256")),
        "nobody named": _bearer(sign(_claims(sub=None))),
    }
    for why, headers in refused.items():
        response = await world.api.get("/me", headers=headers)
        assert response.status_code == 401, (why, response.text)
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), why

    for roles in ([], ["landlord"], "cleaner"):
        response = await world.api.get("/me", headers=_bearer(sign(_claims(roles=roles))))
        assert response.status_code == 403 and "no ASB role" in response.json()["detail"], roles

    # Entra ID style: app roles such as ASB.SeniorManager, the person by their object id; the most
    # senior role held is the one acted in.
    entra = sign(_claims(roles=["ASB.Officer", "ASB.Senior-Manager"], oid="5f0c7e1a-oid", sub="pairwise-sub"))
    me = await world.api.get("/me", headers=_bearer(entra))
    assert me.json() == {"role": "senior_manager", "id": "5f0c7e1a-oid"}


class _Jwks:
    """An identity provider's JWKS endpoint on a loopback port, as PyJWKClient fetches it in production."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        body = json.dumps({"keys": keys}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/discovery/v2.0/keys"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Jwks:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider_key() -> Iterator[tuple[rsa.RSAPrivateKey, dict[str, Any]]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "entra-key-1", "use": "sig", "alg": "RS256"}
    yield key, jwk


async def test_production_tokens_are_verified_against_the_providers_jwks(
    env: WorkflowEnvironment, store: Store, task_queue: str, tmp_path: Path,
    provider_key: tuple[rsa.RSAPrivateKey, dict[str, Any]],
) -> None:
    key, jwk = provider_key
    issuer = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0"
    audience = "api://asb-casework"
    with _Jwks([jwk]) as provider:
        app = make_app(env, store, task_queue, tmp_path, oidc_issuer=issuer, oidc_audience=audience,
                       oidc_jwks_url=provider.url)

        def token(kid: str = "entra-key-1", **claims: Any) -> dict[str, str]:
            body = _claims(**{"iss": issuer, "aud": audience, "roles": ["ASB.Manager"], "oid": "m-oid", **claims})
            return _bearer(jwt.encode(body, key, algorithm="RS256", headers={"kid": kid}))

        async with client_for(app) as api:
            me = await api.get("/me", headers=token())
            assert me.status_code == 200 and me.json() == {"role": "manager", "id": "m-oid"}, me.text
            assert (await api.get("/cases", headers=token())).status_code == 200
            assert (await api.get("/me", headers=token(aud="api://other"))).status_code == 401
            assert (await api.get("/me", headers=token(iss=LOCAL_ISSUER))).status_code == 401
            assert (await api.get("/me", headers=token(kid="rotated-away"))).status_code == 401
            # Local tokens mean nothing once an identity provider is configured.
            local = LocalKeys(tmp_path / "local").mint("manager", "m1")
            assert (await api.get("/me", headers=_bearer(local))).status_code == 401
            assert (await api.get("/.well-known/jwks.json")).json() == {"keys": []}


async def test_a_resent_app_report_tells_only_those_who_may_see_a_locked_case_about_it(
    world: World, store: Store
) -> None:
    """Issue 9 item 8: a resend of an existing (source, external_id) to a locked case answers intake with
    the fact of acceptance alone (no reference, stage, officer or deadlines); its officer and the managers,
    who may see it, get the case, and that read is audited like any other read of a locked case."""
    body = {"source": "noise_app", "external_id": external_id(), "report": report()}
    first = await world.api.post("/feeds/app-reports", json=body, headers=world.headers("intake"))
    assert first.status_code == 201, first.text
    ref = first.json()["reference"]
    for _ in range(50):  # the case's first events may be projected while we lock: then lock again
        locked = await world.api.post(f"/cases/{ref}/lock", json={"locked": True, "reason": "a party works for us"},
                                      headers=world.headers("manager"))
        if locked.status_code != 409:
            break
    assert locked.status_code == 200, locked.text

    def reads(actor: str) -> int:
        with store.session() as session:
            return int(session.scalar(select(func.count()).select_from(AuditRow).where(
                AuditRow.case_ref == ref, AuditRow.action == "read", AuditRow.actor_id == actor)) or 0)

    before = {who: reads(who) for who in ("i1", "o2", "o1", "m2")}
    for person in ("intake", "other_officer"):
        resent = await world.api.post("/feeds/app-reports", json=body, headers=world.headers(person))
        assert resent.status_code == 200, resent.text
        assert resent.json() == {"created": False, "accepted": True, "started": True}, (person, resent.text)
        assert ref not in resent.text and "o1" not in resent.text and "enquiry" not in resent.text
    assert reads("i1") == before["i1"] and reads("o2") == before["o2"]  # nothing was shown

    for person, actor in (("officer", "o1"), ("manager", "m2")):
        resent = await world.api.post("/feeds/app-reports", json=body, headers=world.headers(person))
        assert resent.status_code == 200, resent.text
        shown = resent.json()
        assert shown["reference"] == ref and shown["created"] is False and shown["accepted"] is True
        assert shown["status"]["officer"] == "o1" and shown["status"]["stage"] == "enquiry"
        assert reads(actor) == before[actor] + 1, person  # the case was shown: the read is audited

    # Still one case for the report, whoever resent it.
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ExternalReportRow).where(
            ExternalReportRow.external_id == body["external_id"])) == 1
