"""`asb people ...`, `asb parties ...` and `asb chronology` as people and scripts run them: the real `asb`
executable talking HTTP to a real uvicorn server on loopback, which runs the API on the real stack.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pdfplumber
import pytest
from temporalio.testing import WorkflowEnvironment

from api.serve import serving
from casefile.db import Store
from tests.api_support import Tokens, make_app, report
from tests.test_client_cli import Server, _free_port


@pytest.fixture(scope="module")
async def server(env: WorkflowEnvironment, store: Store, task_queue: str,
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    state = tmp_path_factory.mktemp("people-cli-api")
    port = _free_port()
    async with serving(make_app(env, store, task_queue, state), "127.0.0.1", port):
        yield Server(f"http://127.0.0.1:{port}", Tokens(state))


async def _logged(server: Server, tmp_path: Path, name: str) -> tuple[str, dict[str, str]]:
    body = report(reporter={"name": name, "phone": "07700 900600", "contact_method": "phone"})
    report_file = tmp_path / f"{name}.json"
    report_file.write_text(json.dumps(body), encoding="utf-8")
    ref = (await server.ok("intake", "i1", "case", "report", str(report_file))).json()["reference"]
    shown = (await server.ok("officer", "o1", "case", "show", ref)).json()
    return ref, {p["role"]: p["person_id"] for p in shown["parties"]}


async def test_a_person_is_shown_edited_matched_and_merged_from_the_command_line(server: Server,
                                                                                 tmp_path: Path) -> None:
    ref, people = await _logged(server, tmp_path, "Carla Cli")
    other_ref, others = await _logged(server, tmp_path, "Carla Cli")
    carla = people["reporter"]

    shown = (await server.ok("officer", "o1", "people", "show", carla)).json()
    assert shown["name"] == "Carla Cli" and shown["version"] == 1
    edited = (await server.ok("officer", "o1", "people", "edit", carla, "--expected-version", "1", "--phone",
                              "07700 900601", "--large-print", "--consent", "sms=yes", "--clear", "contact_method"
                              )).json()
    assert edited["phone"] == "07700 900601" and edited["large_print"] is True and edited["version"] == 2
    assert edited["contact_method"] is None and {c["kind"] for c in edited["consents"]} == {"sms"}

    # Someone else's edit got there first: one line, the API's reason with the version to reload, exit 2.
    stale = await server.run("manager", "m1", "people", "edit", carla, "--expected-version", "1", "--phone",
                             "0118 900 0000")
    assert stale.code == 2 and stale.out == "" and stale.err.count("\n") == 1, stale
    assert stale.err.startswith("asb: error: 409: person ") and "it is now at version 2" in stale.err

    matches = (await server.ok("officer", "o1", "people", "matches", carla)).json()
    twin = next(m["match"] for m in matches["matches"] if m["match"]["person_id"] == others["reporter"])
    merged = (await server.ok("officer", "o1", "people", "merge", carla, others["reporter"], "--reason",
                              "same name and phone; she confirmed it", "--keep-version", str(matches["version"]),
                              "--merge-version", str(twin["version"]), "--idempotency-key", "cli-merge-1")).json()
    assert merged["already_merged"] is False and merged["moved"]["parties"] == 1
    cases = (await server.ok("auditor", "a1", "people", "show", carla)).json()["cases"]
    assert {c["case_ref"] for c in cases} == {ref, other_ref}


async def test_parties_and_the_chronology_from_the_command_line(server: Server, tmp_path: Path) -> None:
    ref, people = await _logged(server, tmp_path, "Pat Parties")
    added = (await server.ok("intake", "i1", "parties", "add", ref, "--role", "witness", "--name", "Will Witness",
                             "--phone", "07700 900602", "--idempotency-key", "cli-w-1")).json()
    assert added["created"] is True
    again = (await server.ok("intake", "i1", "parties", "add", ref, "--role", "witness", "--name", "Will Witness",
                             "--phone", "07700 900602", "--idempotency-key", "cli-w-1")).json()
    assert again == {**added, "created": False}
    removed = (await server.ok("officer", "o1", "parties", "remove", ref, added["person_id"], "witness")).json()
    assert removed["removed"] is True

    out = tmp_path / "bundle.pdf"
    ran = await server.ok("officer", "o1", "chronology", ref, "--audience", "court", "--out", str(out))
    assert ran.out.strip() == str(out)
    with pdfplumber.open(io.BytesIO(out.read_bytes())) as pdf:
        text = "\n".join(page.extract_text() or "" for page in pdf.pages)
    assert ref in text and "Court bundle" in text

    expectations = [
        (("officer", "o1", "parties", "remove", ref, people["reporter"], "reporter"), "409: this is the case's only "
         "reporter"),
        (("ops", "ops1", "parties", "add", ref, "--role", "witness", "--person", people["reporter"]),
         "403: the ops role may not do this"),
        (("intake", "i1", "chronology", ref, "--out", str(tmp_path / "no.pdf")),
         "403: the intake role may not do this"),
        (("officer", "o1", "chronology", "ASB-1999-000077", "--out", str(tmp_path / "no.pdf")),
         "404: no case ASB-1999-000077"),
        (("officer", "o1", "chronology", ref, "--out", str(out)), "already exists (--force to replace it)"),
        (("officer", "o1", "chronology", "../../etc/passwd"), "is not a case reference"),
        (("officer", "o1", "people", "show", "P-cccccccccccc"), "404: no person P-cccccccccccc"),
        (("auditor", "a1", "people", "merge", people["reporter"], people["reported_person"], "--reason", "x",
          "--keep-version", "1", "--merge-version", "1"), "403: the auditor role may not do this"),
        (("officer", "o1", "people", "edit", people["reporter"], "--expected-version", "1"), "nothing to change"),
        (("officer", "o1", "people", "edit", people["reporter"], "--expected-version", "1", "--consent", "sms=maybe"),
         "--consent: 'sms=maybe' is not KIND=yes|no"),
        (("officer", "o1", "people", "edit", people["reporter"], "--expected-version", "1", "--email", "nope"),
         "422: email: "),
        (("officer", "o1", "parties", "add", ref, "--role", "witness"), "give --person ID"),
        (("officer", "o1", "parties", "add", ref, "--role", "victim", "--name", "x"), "invalid choice: 'victim'"),
    ]
    for args, says in expectations:
        ran = await server.run(*args)
        assert ran.code == 2 and ran.out == "", (args, ran)
        assert ran.err.count("\n") == 1 and says in ran.err, (args, ran.err)
    assert not (tmp_path / "no.pdf").exists()
