"""Personal data stays in the case file: none of it reaches Temporal history."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from casefile.audit import act_as
from casefile.db import Store
from casefile.intake import IntakeReport, record_report
from casefile.models import CaseNoteRow
from casefile.references import next_reference
from clients.caseclient import send_command, start_case
from profiles import load
from statemachine.commands import Actor

SECRETS = [
    "Priya Ramanathan", "14 Orchard Close", "RG30 4QX", "priya.r@example.net", "07700 900123",
    "Daniel Okafor", "Flat 6 Kingfisher House", "shouted racist abuse at the children on the landing",
    "TVP-2026-0456", "outside the launderette", "she is frightened to leave the flat",
    "the injunction was granted at Reading County Court",
    "ask Daniel's mother to sit in on the visit", "his community psychiatric nurse attends every meeting",
]
OFFICER = Actor(role="officer", id="o1")
MANAGER = Actor(role="manager", id="m1")


def readable(history: WorkflowHistory) -> str:
    """The history as text with every payload decoded: payloads are base64 in the JSON form, so a
    plain search of it would find nothing whatever it held."""
    decoded: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "data" in node and "metadata" in node and isinstance(node["data"], str):
                decoded.append(base64.b64decode(node["data"]).decode("utf-8", errors="replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    raw = history.to_json()
    walk(json.loads(raw))
    return raw + "\n".join(decoded)


def _intake(hate: bool) -> dict[str, Any]:
    return {
        "category": "harassment", "hate": hate, "hate_strand": "race" if hate else None, "officer": "o1",
        "reporter": {"name": "Priya Ramanathan", "address": "14 Orchard Close", "postcode": "RG30 4QX",
                     "email": "priya.r@example.net", "phone": "07700 900123", "contact_method": "email",
                     "consents": {"email": True, "action": True}},
        "reported_person": {"name": "Daniel Okafor", "address": "Flat 6 Kingfisher House"},
        "incident": {"occurred_at": "2026-03-01T18:00:00+00:00", "location": "outside the launderette",
                     "description": "shouted racist abuse at the children on the landing",
                     "police_reference": "TVP-2026-0456"},
    }


async def test_no_personal_data_in_any_workflow_history(
    fresh_env: WorkflowEnvironment, store: Store, fresh_task_queue: str
) -> None:
    # A time-skipping server of its own: 70 days skipped past the module's other cases (closed cases now
    # wait months for an application or a reopening) timed out on a loaded machine.
    env, task_queue = fresh_env, fresh_task_queue
    now = (await env.get_current_time()).astimezone(UTC)
    handles = []
    for hate in (True, False):
        with store.session() as session, session.begin():
            act_as(session, "intake", "i1")
            reference = next_reference(session, now.year, prefix="PII")
            report = record_report(session, reference, "reading", IntakeReport.model_validate(_intake(hate)),
                                   now, "i1")
        handle = await start_case(env.client, reference, load("reading"), report, task_queue=task_queue,
                                  search_attributes=False)
        handles.append(handle)
        steps: list[tuple[str, dict[str, Any], Actor]] = [
            ("record_contact", {"outcome": "made", "method": "phone"}, OFFICER),
            ("record_risk_assessment", {"level": "high"}, OFFICER),
            ("convert_to_case", {}, OFFICER),
            ("add_action", {"what": "ask Daniel's mother to sit in on the visit",
                            "due": (now + timedelta(days=10)).date().isoformat()}, OFFICER),
            ("record_equality_assessment", {"note": "she is frightened to leave the flat", "step": "notice",
                                            "considered": ["disability", "mental_health"],
                                            "adjustments": "his community psychiatric nurse attends every meeting",
                                            "conclusion": "proportionate_with_adjustments"}, OFFICER),
            ("propose_legal_action", {"kind": "legal_warning"}, OFFICER),
            ("approve_legal_action", {"note": "Daniel Okafor has been warned before"}, MANAGER),
            ("conclude_legal_action", {"outcome": "the injunction was granted at Reading County Court"}, OFFICER),
        ]
        for command, args, actor in steps:
            result = await send_command(handle, command, args, actor, store=store, at=now)
            assert result.accepted, (command, result.reason)
    await env.sleep(timedelta(days=70))  # let the timers fire: breaches, tasks, the review stage

    for handle in handles:
        history = readable(await handle.fetch_history())
        # The decoding works: the case's own ids and categories are readable in it.
        assert f'"reference":"{handle.id}"' in history and "harassment" in history
        for secret in SECRETS + ["Daniel Okafor has been warned before"]:
            assert secret not in history, f"{secret!r} found in the history of {handle.id}"
        # What an Equality Act assessment considered is special category data: only its step and
        # conclusion are in the history (issue 11 item 9).
        # ("mental_health" itself is in the history: the profile snapshot names its referral agencies' kinds.)
        at = history.find('"considered"')
        assert at < 0, history[max(0, at - 300):at + 200]
        assert "community psychiatric nurse" not in history
        assert '"conclusion":"proportionate_with_adjustments"' in history

    # The free text was kept, in the case file.
    with store.session() as session:
        notes = {n.text for n in session.query(CaseNoteRow).filter(CaseNoteRow.case_ref.in_([h.id for h in handles]))}
    assert "she is frightened to leave the flat" in notes
    assert "ask Daniel's mother to sit in on the visit" in notes
    assert "the injunction was granted at Reading County Court" in notes


def _failure_texts(history: WorkflowHistory) -> list[str]:
    """Every failure event's attributes as text (activity task failed, workflow task failed, workflow
    failed), payloads decoded as in `readable`."""
    failures: list[str] = []
    for event in json.loads(history.to_json())["events"]:
        for name, attributes in event.items():
            if name.endswith("Attributes") and "failure" in json.dumps(attributes).lower() and (
                    "Failed" in name or "failed" in name):
                failures.append(readable_json(attributes))
    return failures


def readable_json(node: Any) -> str:
    decoded: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "data" in value and "metadata" in value and isinstance(value["data"], str):
                decoded.append(base64.b64decode(value["data"]).decode("utf-8", errors="replace"))
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(node)
    return json.dumps(node) + "\n".join(decoded)


async def test_no_personal_data_in_failures_a_mail_server_reports(
    env: WorkflowEnvironment, store: Store, task_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9 item 9: mail servers name the address they refuse ("SMTP refused recipients: ['…@…']"), and
    an activity's failure is kept in the workflow's history (ActivityTaskFailed) and, while it is retried,
    on the pending activity the Temporal UI shows. Neither may carry it: only a code and the message id."""
    from tests.letters_helpers import smtp_server
    from tests.test_faults_delivery import _delivery, _open_case, _settled, _until, delivering

    person = ["alex@example.org", "Alex Morgan", "14 Acacia Road", "RG1 1AA", "07700900123"]
    with smtp_server() as mailbox:
        # Refused for good, naming the recipient: the letter is parked, the failure is in the history.
        refused = "ASB-2026-960001"
        mailbox.refuse_recipients_with = "550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        with delivering(monkeypatch, _delivery("smtp", smtp_port=mailbox.port)):
            await _open_case(env, store, task_queue, refused, "email")
            await _until("the parked letter", lambda: _settled(store, refused))
            history = await env.client.get_workflow_handle(refused).fetch_history()
        failures = _failure_texts(history)
        assert failures and any("DeliveryParked" in text for text in failures), failures
        for text in failures:
            for value in person:
                assert value not in text, f"{value!r} in a failure event: {text[:400]}"
        assert "alex@example.org" not in readable(history)

        # Refused for now, naming the recipient: retried, and the last failure shown while it waits is clean.
        busy = "ASB-2026-960002"
        mailbox.refuse_recipients_with = None
        mailbox.refuse_with = "451 4.2.1 <alex@example.org>: mailbox of Alex Morgan is busy, try later"
        with delivering(monkeypatch, _delivery("smtp", smtp_port=mailbox.port)):
            await _open_case(env, store, task_queue, busy, "email")
            handle = env.client.get_workflow_handle(busy)
            pending: list[str] = []
            for _ in range(300):
                described = await handle.describe()
                pending = [str(p.last_failure) for p in described.raw_description.pending_activities
                           if p.HasField("last_failure")]
                if pending:
                    break
                await asyncio.sleep(0.1)
            assert pending, "the refused send was never retried"
            assert any("DeliveryFailed" in text for text in pending), pending
            for text in pending:
                for value in person:
                    assert value not in text, f"{value!r} in a pending activity's last failure: {text[:400]}"
