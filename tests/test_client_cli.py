"""`asb case ...` and `asb tasks ...` as people and scripts run them: the real `asb` executable talking
HTTP to a real uvicorn server on a loopback port, which runs the API on the real stack. And `asb up`
itself: it serves the API and prints the tokens that make the CLI work straight away.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from api.serve import serving
from casefile.db import Store
from tests.api_support import Tokens, jpeg, make_app, report
from tests.asb_up import ASB, running_asb_up


def _free_ports(count: int) -> list[int]:
    """Ports free now and distinct from each other (each held until all are chosen)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _free_port() -> int:
    return _free_ports(1)[0]


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


async def asb(*args: str, url: str, token: str | None, cwd: Path | None = None) -> Ran:
    env = {k: v for k, v in os.environ.items() if k not in ("ASB_TOKEN", "ASB_API_URL")}
    env["ASB_API_URL"] = url
    if token is not None:
        env["ASB_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        ASB, *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return Ran(process.returncode or 0, out.decode(), err.decode())


@dataclass
class Server:
    url: str
    tokens: Tokens

    async def run(self, role: str, person: str, *args: str) -> Ran:
        return await asb(*args, url=self.url, token=self.tokens.token(role, person))

    async def ok(self, role: str, person: str, *args: str) -> Ran:
        ran = await self.run(role, person, *args)
        assert ran.code == 0 and ran.err == "", (args, ran)
        return ran


@pytest.fixture(scope="module")
async def server(env: WorkflowEnvironment, store: Store, task_queue: str,
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    state = tmp_path_factory.mktemp("cli-api")
    port = _free_port()
    async with serving(make_app(env, store, task_queue, state), "127.0.0.1", port):
        yield Server(f"http://127.0.0.1:{port}", Tokens(state))


async def test_a_case_worked_from_the_command_line(server: Server, tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    report_file.write_text(json.dumps(report()), encoding="utf-8")

    logged = (await server.ok("intake", "i1", "case", "report", str(report_file))).json()
    ref = logged["reference"]
    assert logged["status"]["stage"] == "enquiry"

    shown = (await server.ok("officer", "o1", "case", "show", ref)).json()
    assert shown["case"]["reference"] == ref and shown["parties"][0]["name"] == "Alice Example"
    assert "record_contact" in shown["status"]["allowed"]

    await server.ok("officer", "o1", "case", "do", ref, "record_contact", "--arg", "outcome=made", "--arg",
                    "method=phone")
    await server.ok("officer", "o1", "case", "do", ref, "record_risk_assessment", "--arg", "level=medium")
    # Values are JSON when they parse: 14 arrives as a number, as the command requires.
    await server.ok("officer", "o1", "case", "do", ref, "agree_action_plan", "--arg", "contact_every_days=14")
    converted = (await server.ok("officer", "o1", "case", "do", ref, "convert_to_case")).json()
    assert converted["status"]["stage"] == "investigation"
    # An action for the plan (issue 11 item 6) and a structured Equality Act assessment (item 9): a date is
    # text, a list is JSON.
    by = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
    await server.ok("officer", "o1", "case", "do", ref, "add_action", "--arg", "what=Visit the neighbour",
                    "--arg", "who=police", "--arg", f"due={by}")
    await server.ok("officer", "o1", "case", "do", ref, "record_equality_assessment", "--arg", "step=notice",
                    "--arg", 'considered=["age"]', "--arg", "conclusion=proportionate")
    planned = (await server.ok("officer", "o1", "case", "show", ref)).json()
    assert [(a["action"], a["what"], a["who"], a["due"]) for a in planned["action_plan"]] == [
        ("A1", "Visit the neighbour", "police", by)]
    assert [(e["step"], e["considered"]) for e in planned["equality_assessments"]] == [("notice", ["age"])]

    listed = (await server.ok("auditor", "a1", "case", "list", "--officer", "o1", "--stage", "investigation")).lines()
    assert ref in {case["reference"] for case in listed}
    assert ref not in {c["reference"] for c in (await server.ok("auditor", "a1", "case", "list", "--overdue")).lines()}

    await server.ok("manager", "m1", "case", "do", ref, "request_closure", "--arg", "reason=no_reports")
    inbox = (await server.ok("manager", "m2", "tasks", "list", "--role", "manager")).lines()
    task = next(t for t in inbox if t["case_ref"] == ref and t["kind"] == "closure_approval")
    claimed = (await server.ok("manager", "m2", "tasks", "claim", task["id"])).json()
    assert claimed["assignee"] == "m2"
    decided = await server.ok("manager", "m2", "tasks", "decide", task["id"], "approve", "--reason",
                              "no reports for a month and the reporter agrees")
    assert decided.json()["result"]["case"]["stage"] == "closed"

    closed = (await server.ok("ops", "ops1", "case", "show", ref)).json()
    assert closed["case"]["stage"] == "closed"
    assert "no reports for a month and the reporter agrees" in {n["text"] for n in closed["notes"]}

    # The closure letter invites an ASB Case Review: intake records the applicant's reports to the police
    # and the application on the closed case (003 §10; issue 11 item 10).
    for _ in range(2):
        await server.ok("intake", "i1", "case", "do", ref, "record_incident", "--arg", "source=police")
    applied = (await server.ok("intake", "i1", "case", "do", ref, "request_asb_case_review")).json()
    assert applied["status"]["stage"] == "closed"
    inbox = (await server.ok("manager", "m1", "tasks", "list", "--case", ref)).lines()
    assert [t["kind"] for t in inbox if t["kind"] == "asb_case_review"] == ["asb_case_review"]


async def test_a_retry_with_the_same_idempotency_key_is_not_applied_twice(server: Server, tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    report_file.write_text(json.dumps(report()), encoding="utf-8")
    first = (await server.ok("intake", "i1", "case", "report", str(report_file), "--idempotency-key", "r-1")).json()
    again = (await server.ok("intake", "i1", "case", "report", str(report_file), "--idempotency-key", "r-1")).json()
    assert again["reference"] == first["reference"] and again["created"] is False
    ref = first["reference"]
    for _ in range(2):  # the officer retries, as after a 504
        await server.ok("officer", "o1", "case", "do", ref, "record_equality_assessment", "--arg",
                        "note=prefers phone calls", "--idempotency-key", "c-1")
    shown = (await server.ok("officer", "o1", "case", "show", ref)).json()
    assert [e["event"] for e in shown["timeline"]].count("equality_assessment") == 1
    assert [n["text"] for n in shown["notes"]] == ["prefers phone calls"]


async def test_refusals_are_one_line_on_stderr_with_exit_code_2(server: Server, tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    report_file.write_text(json.dumps(report()), encoding="utf-8")
    ref = (await server.ok("intake", "i1", "case", "report", str(report_file))).json()["reference"]

    expectations = [
        # The API's own reason, after its status code.
        (("officer", "o2", "case", "do", ref, "record_contact", "--arg", "outcome=made"),
         "409: the case belongs to officer o1"),
        (("officer", "o1", "case", "do", ref, "record_contact", "--arg", "outcome=maybe"),
         "422: record_contact: outcome: "),
        (("officer", "o1", "case", "do", ref, "close_enquiry", "--arg", "reason=fed_up"),
         "422: close_enquiry: reason: "),
        (("ops", "ops1", "case", "do", ref, "record_contact", "--arg", "outcome=made"),
         "403: the ops role may not do this"),
        (("officer", "o1", "case", "show", "ASB-1999-999999"), "404: no case ASB-1999-999999"),
        (("officer", "o1", "tasks", "decide", "ASB-1999-999999-T1", "approve"), "404: no task ASB-1999-999999-T1"),
        # Refused before anything is sent.
        (("officer", "o1", "case", "do", ref, "record_contact", "--arg", "outcome"), "is not key=value"),
        (("intake", "i1", "case", "report", str(tmp_path / "missing.json")), "missing.json: no such file"),
    ]
    for args, says in expectations:
        ran = await server.run(*args)
        assert ran.code == 2 and ran.out == "", (args, ran)
        assert ran.err.count("\n") == 1 and ran.err.startswith("asb: error: ") and says in ran.err, (args, ran.err)

    no_token = await asb("case", "show", ref, url=server.url, token=None)
    assert no_token.code == 2 and "no token: set ASB_TOKEN or pass --token" in no_token.err
    forged = await asb("case", "show", ref, url=server.url, token="not-a-token")
    assert forged.code == 2 and forged.err.startswith("asb: error: 401: invalid token")
    nobody = await asb("case", "show", ref, url=f"http://127.0.0.1:{_free_port()}", token="x")
    assert nobody.code == 2 and "cannot reach the API" in nobody.err and nobody.err.count("\n") == 1
    # --token wins over ASB_TOKEN.
    flag = await asb("case", "show", ref, "--token", server.tokens.token("officer", "o1"), url=server.url,
                     token="not-a-token")
    assert flag.code == 0, flag.err


async def test_a_report_without_an_officer_is_allocated_and_reassigned_from_the_command_line(
    server: Server, tmp_path: Path
) -> None:
    """Issue 12 item 7 at the CLI: the manager's inbox has the allocation task with its team; the manager
    assigns the officer, and moves the case only with a reason, which is kept in the case file."""
    body = report()
    del body["officer"]
    report_file = tmp_path / "report.json"
    report_file.write_text(json.dumps(body), encoding="utf-8")
    ref = (await server.ok("intake", "i1", "case", "report", str(report_file))).json()["reference"]
    deadline = asyncio.get_running_loop().time() + 60
    while True:  # the task's row is written by its own workflow, just after the case's
        inbox = (await server.ok("manager", "m1", "tasks", "list", "--role", "manager")).lines()
        tasks = [t for t in inbox if t["case_ref"] == ref and t["kind"] == "allocation" and t["due"]]
        if tasks or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.25)
    assert [t["data"]["team"] for t in tasks] == ["asb"]

    refused = await server.run("officer", "o1", "case", "do", ref, "assign_officer", "--arg", "officer=o1")
    assert refused.code == 2 and refused.err.startswith("asb: error: 409: allocating or reassigning a case is a "
                                                        "manager's decision") and refused.err.count("\n") == 1
    await server.ok("manager", "m1", "case", "do", ref, "assign_officer", "--arg", "officer=o1")
    unexplained = await server.run("manager", "m1", "case", "do", ref, "assign_officer", "--arg", "officer=o2")
    assert unexplained.code == 2 and "409: say why the case moves from o1 to o2" in unexplained.err
    moved = (await server.ok("manager", "m1", "case", "do", ref, "assign_officer", "--arg", "officer=o2",
                             "--arg", "reason=o1 moves to the north team")).json()
    assert moved["status"]["officer"] == "o2"
    shown = (await server.ok("manager", "m1", "case", "show", ref)).json()
    assert [n["text"] for n in shown["notes"]] == ["o1 moves to the north team"]
    async def answered() -> list[tuple[str, str]]:
        done = (await server.ok("manager", "m1", "tasks", "list", "--status", "done")).lines()
        return [(t["decision"], t["decided_by"]) for t in done if t["case_ref"] == ref]

    deadline = asyncio.get_running_loop().time() + 60
    while not await answered() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.25)  # the task hears of it from the case, then writes its row
    assert await answered() == [("allocated", "m1")]


async def test_evidence_from_the_command_line(server: Server, tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    report_file.write_text(json.dumps(report()), encoding="utf-8")
    ref = (await server.ok("intake", "i1", "case", "report", str(report_file))).json()["reference"]
    incident = (await server.ok("officer", "o1", "case", "show", ref)).json()["incidents"][0]["id"]
    photo = tmp_path / "door.jpg"
    photo.write_bytes(jpeg(1))

    added = (await server.ok("officer", "o1", "evidence", "add", ref, str(photo), "--kind", "photo", "--incident",
                             str(incident), "--description", "the front door, kicked in", "--shareable")).json()
    assert (added["created"], added["filename"], added["media_type"]) == (True, "door.jpg", "image/jpeg")
    assert (added["incident_id"], added["shareable"], added["size"]) == (incident, True, len(jpeg(1)))
    again = (await server.ok("officer", "o1", "evidence", "add", ref, str(photo), "--kind", "photo")).json()
    assert again["created"] is False and again["id"] == added["id"]

    listed = (await server.ok("auditor", "a1", "evidence", "list", ref)).lines()
    assert [item["id"] for item in listed] == [added["id"]]

    out = tmp_path / "copy.jpg"
    got = (await server.ok("ops", "ops1", "evidence", "get", str(added["id"]), "--out", str(out))).json()
    assert out.read_bytes() == jpeg(1) and got["sha256"] == added["sha256"] and got["path"] == str(out)
    refused = await server.run("ops", "ops1", "evidence", "get", str(added["id"]), "--out", str(out))
    assert refused.code == 2 and "already exists (use --force" in refused.err

    shared = (await server.ok("officer", "o1", "evidence", "share", str(added["id"]), "--no")).json()
    assert shared["shareable"] is False
    removed = (await server.ok("officer", "o1", "evidence", "delete", str(added["id"]))).json()
    assert removed["id"] == added["id"]
    assert (await server.ok("officer", "o1", "evidence", "list", ref)).out == ""

    program = tmp_path / "photo.jpg"
    program.write_bytes(b"MZ\x90\x00" + b"\x00" * 60)
    diary = tmp_path / "diary.txt"
    diary.write_text("Monday: music until 2am\n", encoding="utf-8")
    mine = (await server.ok("intake", "i1", "evidence", "add", ref, str(diary), "--kind", "diary_sheet")).json()
    expectations = [
        (("officer", "o1", "evidence", "add", ref, str(program), "--kind", "photo"),
         "422: the file is a Windows program, which is not accepted as evidence"),
        (("officer", "o1", "evidence", "add", ref, str(tmp_path / "missing.jpg"), "--kind", "photo"),
         "missing.jpg: no such file"),
        (("officer", "o1", "evidence", "add", ref, str(tmp_path), "--kind", "photo"), "is a folder, not a file"),
        (("ops", "ops1", "evidence", "add", ref, str(photo), "--kind", "photo"), "403: the ops role may not do this"),
        (("officer", "o1", "evidence", "list", "ASB-1999-999999"), "404: no case ASB-1999-999999"),
        (("officer", "o1", "evidence", "get", "2147483647", "--out", str(tmp_path / "x")), "404: no evidence"),
        (("officer", "o1", "evidence", "delete", str(mine["id"])), "409: evidence"),
    ]
    for args, says in expectations:
        ran = await server.run(*args)
        assert ran.code == 2 and ran.out == "", (args, ran)
        assert ran.err.count("\n") == 1 and ran.err.startswith("asb: error: ") and says in ran.err, (args, ran.err)
    bad_kind = await server.run("officer", "o1", "evidence", "add", ref, str(photo), "--kind", "selfie")
    assert bad_kind.code == 2 and "invalid choice: 'selfie'" in bad_kind.err


async def test_asb_up_serves_the_api_and_prints_tokens_that_work(tmp_path: Path) -> None:
    async with running_asb_up(tmp_path / "state") as up:
        text, api_port, ui_port = up.text, up.api_port, up.ui_port
        assert f"http://127.0.0.1:{api_port}/docs" in text and f"http://127.0.0.1:{ui_port}" in text
        tokens = {m.group(1): m.group(2) for m in re.finditer(r"^\s+(\w+)\s+\w+\s+(ey\S+)$", text, re.MULTILINE)}
        assert {"intake", "officer", "manager", "senior_manager", "ops", "auditor"} <= set(tokens), text

        url = f"http://127.0.0.1:{api_port}"
        report_file = tmp_path / "report.json"
        report_file.write_text(json.dumps(report()), encoding="utf-8")
        logged = await asb("case", "report", str(report_file), url=url, token=tokens["intake"])
        assert logged.code == 0, logged.err
        ref = logged.json()["reference"]
        shown = await asb("case", "show", ref, url=url, token=tokens["officer"])
        assert shown.code == 0 and shown.json()["status"]["stage"] == "enquiry", shown.err
        minted = await asb("token", "auditor", "--id", "a7", "--state-dir", str(tmp_path / "state"), url=url,
                           token=None)
        listed = await asb("case", "list", url=url, token=minted.out.strip())
        assert listed.code == 0 and ref in listed.out, listed.err


async def test_notes_and_linked_reports_from_the_command_line(server: Server, tmp_path: Path) -> None:
    """`asb case note` writes a typed note with the people involved; `asb case attach` joins a report to the
    open case it is about and closes it as a duplicate (issue 12 items 3 and 6)."""
    import uuid

    tag = uuid.uuid4().hex[:8]
    person = {"name": f"Gary Stone {tag}", "address": f"1 Ash Court {tag}", "postcode": "RG2 0AA"}
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps(report(reported_person=person)), encoding="utf-8")
    second.write_text(json.dumps(report(reported_person={"name": person["name"]})), encoding="utf-8")
    live = (await server.ok("intake", "i1", "case", "report", str(first))).json()["reference"]
    logged = (await server.ok("intake", "i1", "case", "report", str(second))).json()
    assert logged["reference"] != live and live in {m["case_ref"] for m in logged["matches"]}

    written = (await server.ok("officer", "o1", "case", "note", live, "--kind", "interview", "--text",
                               "Interviewed the reporter at home", "--with", "PC Jones; Thames Valley Police")).json()
    assert written["note"]["kind"] == "interview"
    assert written["note"]["people"][0]["organisation"] == "Thames Valley Police"
    bad = await server.run("officer", "o1", "case", "note", live, "--kind", "interview", "--text", "x", "--person",
                           "P-nobody")
    assert bad.code == 2 and bad.err.count("\n") == 1 and "people.0.person_id" in bad.err

    attached = (await server.ok("officer", "o1", "case", "attach", logged["reference"], "--to", live)).json()
    assert attached["attached_to"] == live and attached["closure"].startswith("closed as a duplicate")
    shown = (await server.ok("officer", "o1", "case", "show", logged["reference"])).json()
    assert shown["case"]["closure_reason"] == "duplicate"


async def test_a_vulnerable_reporter_and_the_risk_matrix_from_the_command_line(server: Server, tmp_path: Path) -> None:
    """`asb case show` shows a vulnerable reporter; `asb case do ... record_risk_assessment` takes the matrix's
    scores as JSON, and an unknown factor is one line naming it, exit code 2 (issue 12 item 4)."""
    body = report()
    body["reporter"]["vulnerabilities"] = ["substance_misuse"]
    report_file = tmp_path / "report.json"
    report_file.write_text(json.dumps(body), encoding="utf-8")
    ref = (await server.ok("intake", "i1", "case", "report", str(report_file))).json()["reference"]
    shown = (await server.ok("officer", "o1", "case", "show", ref)).json()
    assert shown["vulnerable_reporter"] is True and shown["reporter_vulnerabilities"] == ["substance_misuse"]

    done = (await server.ok("officer", "o1", "case", "do", ref, "record_risk_assessment", "--arg",
                            'scores={"persistence": 3, "impact": 2, "vulnerability": 2}')).json()
    assert done["status"]["risk"] == "high" and "risk_review" in done["status"]["deadlines"]
    refused = await server.run("officer", "o1", "case", "do", ref, "record_risk_assessment", "--arg",
                               'scores={"persistence": 1, "impact": 1, "vulnerability": 0, "noise": 3}')
    assert refused.code == 2 and refused.err.count("\n") == 1
    assert "422: record_risk_assessment: scores: unknown risk factor 'noise'" in refused.err
