"""Referrals and partners from the command line (issue 12 item 8): the real `asb` executable against a
real uvicorn server on loopback, running the API on the real stack."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from api.serve import serving
from casefile.db import Store
from tests.api_support import Tokens, make_app, report
from tests.test_client_cli import Ran, Server, _free_port, asb


@pytest.fixture(scope="module")
async def server(env: WorkflowEnvironment, store: Store, task_queue: str,
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    state = tmp_path_factory.mktemp("partner-cli")
    port = _free_port()
    async with serving(make_app(env, store, task_queue, state), "127.0.0.1", port):
        yield Server(f"http://127.0.0.1:{port}", Tokens(state))


async def _partner(server: Server, *args: str, agency: str = "victim_support") -> Ran:
    return await asb(*args, url=server.url, token=server.tokens.token("partner", "vs9", agency=agency))


async def test_a_referral_shared_and_answered_from_the_command_line(server: Server, tmp_path: Path) -> None:
    body = report(reporter={"name": "Alice Example", "phone": "07700 900123", "contact_method": "phone",
                            "consents": {"referral": True}})
    (tmp_path / "report.json").write_text(json.dumps(body), encoding="utf-8")
    ref = (await server.ok("intake", "i1", "case", "report", str(tmp_path / "report.json"))).json()["reference"]

    agencies = (await server.ok("officer", "o1", "case", "agencies")).lines()
    assert {a["id"] for a in agencies} >= {"victim_support", "adult_social_care", "police"}
    await server.ok("officer", "o1", "case", "do", ref, "make_referral", "--arg", "agency=victim_support",
                    "--arg", "note=evenings are best")
    note = next(n for n in (await server.ok("officer", "o1", "case", "show", ref)).json()["notes"]
                if n["command"] == "make_referral")
    assert (await server.ok("officer", "o1", "case", "shareable", ref, "note", str(note["id"]))).json()[
        "shareable"] is True
    assert (await server.ok("officer", "o1", "case", "share", ref, "victim_support")).json()["shared"] is True

    listed = await _partner(server, "partner", "cases")
    assert listed.code == 0 and ref in {c["reference"] for c in listed.lines()}, listed
    shown = (await _partner(server, "partner", "show", ref)).json()
    assert [n["text"] for n in shown["notes"]] == ["evenings are best"]
    assert [p["name"] for p in shown["people"]] == ["Alice Example"]
    follow_up = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    answered = await _partner(server, "partner", "outcome", ref, "referral-1", "accepted", "--follow-up", follow_up,
                              "--note", "first session booked")
    assert answered.code == 0 and answered.json()["outcome"] == "accepted", answered

    # Refusals: one line, exit code 2, the API's reason.
    for ran, says in (
        (await _partner(server, "partner", "show", ref, agency="police"), f"404: no case {ref}"),
        (await _partner(server, "case", "show", ref), "403: the partner role may not do this"),
        (await server.run("officer", "o1", "case", "share", ref, "sari"), "422: agency: unknown agency 'sari'"),
        (await server.run("officer", "o2", "case", "share", ref, "police"), "409: the case belongs to officer o1"),
    ):
        assert ran.code == 2 and ran.err.count("\n") == 1 and says in ran.err, (says, ran)
    stopped = await server.ok("manager", "m1", "case", "share", ref, "victim_support", "--stop")
    assert stopped.json()["shared"] is False


async def test_asb_token_mints_a_partner_token_only_with_its_agency(tmp_path: Path) -> None:
    Tokens(tmp_path)  # makes the state folder's signing key, as `asb up` does
    missing = await asb("token", "partner", "--state-dir", str(tmp_path), url="http://127.0.0.1:9", token=None)
    assert missing.code == 2 and "--agency AGENCY is needed for a partner token" in missing.err
    staff = await asb("token", "officer", "--agency", "sari", "--state-dir", str(tmp_path), url="http://x", token=None)
    assert staff.code == 2 and "only for one" in staff.err
    made = await asb("token", "partner", "--id", "vs1", "--agency", "victim_support", "--state-dir", str(tmp_path),
                     url="http://127.0.0.1:9", token=None)
    assert made.code == 0, made
    import jwt

    claims = jwt.decode(made.out.strip(), options={"verify_signature": False})
    assert (claims["roles"], claims["sub"], claims["agency"]) == (["partner"], "vs1", "victim_support")
