"""Fault suite, delivery: the mail server and GOV.UK Notify refusing, through the real workflow.

Each case runs on the time-skipping server with a worker whose letter service talks to real servers on
127.0.0.1 (aiosmtpd refusing recipients as a real mail server does; the Notify stand-in answering as
Notify does, here with errors). Whatever the provider does, each run checks the README's promise,
"once, and nothing lost":

- every letter or text the case sent has its message row, in a final state (sent, awaiting_print,
  undelivered, skipped): none is left half-done;
- every message that did not go has exactly one communication_failed on the case's timeline and one
  open communication_failed task for the officer, with its task workflow running;
- no timeline event is recorded twice, and the provider received each message at most once;
- no failure that reached Temporal's history names the person it was for.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.calendar import fetch_bank_holidays
from activities.case_file import CaseFileActivities
from activities.messages import MessageActivities
from activities.tasks import TaskActivities
from asb.caseclient import start_case
from casefile.db import Store
from casefile.models import EventRow, MessageRow, TaskRow
from letters.config import DeliverySettings, Landlord, NotifySettings, Officer, SmtpSettings
from letters.delivery import print_path
from policy.profiles import load
from statemachine.commands import ReportArgs
from tests.letters_helpers import API_KEY, Mailbox, NotifyStandIn, notify_server, seed_case, smtp_server
from tests.test_personal_data import readable
from worker import WORKFLOWS, workflow_runner

FINAL = {"sent", "awaiting_print", "undelivered", "skipped"}
_refs = itertools.count(1)


def _ref() -> str:
    return f"ASB-2026-95{next(_refs):04d}"


def _settings(kind: str, *, smtp_port: int = 0, notify_url: str = "",
              give_up_after: timedelta = timedelta(hours=48)) -> DeliverySettings:
    return DeliverySettings(
        kind=kind,  # type: ignore[arg-type]
        smtp=SmtpSettings(host="127.0.0.1", port=smtp_port, sender="asb@example.org", timeout=10),
        notify=NotifySettings(api_key=API_KEY, base_url=notify_url, email_template_id="e-template",
                              sms_template_id="s-template", timeout=10),
        landlord=Landlord(name="Example Homes", address=("1 High Street", "Reading", "RG1 2AA")),
        officers={"o1": Officer(id="o1", name="Sam Patel")}, give_up_after=give_up_after,
    )


@pytest.fixture()
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture()
def notify() -> Iterator[NotifyStandIn]:
    with notify_server() as server:
        yield server


@asynccontextmanager
async def worker_for(env: WorkflowEnvironment, store: Store, outbox: Path, settings: DeliverySettings,
                     ref: str) -> AsyncIterator[str]:
    """A worker whose letter service uses `settings`; its case and task workflows are ended afterwards
    (the queue dies with the test, and the shared time-skipping server would otherwise wait for them)."""
    messages = MessageActivities(store, outbox, settings)
    case_file = CaseFileActivities(store)
    queue = f"faults-{ref}"
    async with Worker(env.client, task_queue=queue, workflows=list(WORKFLOWS), workflow_runner=workflow_runner(),
                      activities=[case_file.record_events, case_file.update_task, messages.send_letter,
                                  messages.send_notification, messages.park_for_printing, fetch_bank_holidays,
                                  TaskActivities(env.client).start_task],
                      activity_executor=ThreadPoolExecutor(4)):
        try:
            yield queue
        finally:
            with store.session() as session:
                tasks = list(session.scalars(select(TaskRow.key).where(TaskRow.case_ref == ref)))
            for workflow_id in [ref, *tasks]:
                with contextlib.suppress(Exception):
                    await env.client.get_workflow_handle(workflow_id).terminate("test finished")


async def _open_case(env: WorkflowEnvironment, store: Store, queue: str, ref: str, method: str) -> None:
    reporter, reported = seed_case(store, ref, reporter={"contact_method": method}, consents=[(method, True)])
    report = ReportArgs.model_validate({"category": "noise", "officer": "o1", "reported_person": {"id": reported},
                                        "reporter": {"id": reporter, "contact": {"method": method}}})
    await start_case(env.client, ref, load("reading"), report, task_queue=queue, search_attributes=False)


async def _until(what: str, check: Callable[[], bool], env: WorkflowEnvironment | None = None,
                 skip: timedelta | None = None) -> None:
    """Poll on a condition with a generous deadline; optionally let time pass on the server between looks
    (the delivery retries' backoff is Temporal's timer)."""
    hiccups: list[str] = []
    for _ in range(600):
        if check():
            return
        if env is not None and skip is not None:
            try:
                await env.sleep(skip)
            except RPCError as exc:
                # The shared time-skipping server, busy with every earlier module's open cases, sometimes
                # drops one skip ("Timeout expired", an HTTP/2 error); the condition is what counts.
                hiccups.append(exc.message)
                assert len(hiccups) <= 5, f"the time-skipping server failed repeatedly: {hiccups}"
                await asyncio.sleep(1)
        else:
            await asyncio.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


async def _pass(env: WorkflowEnvironment, total: timedelta, step: timedelta = timedelta(minutes=30)) -> None:
    """Let `total` pass on the time-skipping server, in steps, retrying a step it drops (see `_until`)."""
    done, hiccups = timedelta(0), 0
    while done < total:
        try:
            await env.sleep(step)
            done += step
        except RPCError:
            hiccups += 1
            assert hiccups <= 5, "the time-skipping server failed repeatedly"
            await asyncio.sleep(1)


def _rows(store: Store, ref: str) -> dict[str, MessageRow]:
    with store.session() as session:
        return {m.channel: m for m in session.scalars(select(MessageRow).where(MessageRow.case_ref == ref))}


def _settled(store: Store, ref: str) -> bool:
    """A communication_failed task is there, and no message is still under way."""
    rows = _rows(store, ref)
    return bool(_failed_tasks(store, ref)) and bool(rows) and all(m.status in FINAL for m in rows.values())


def _failed_tasks(store: Store, ref: str) -> list[TaskRow]:
    with store.session() as session:
        return list(session.scalars(select(TaskRow).where(TaskRow.case_ref == ref,
                                                          TaskRow.kind == "communication_failed")))


async def _nothing_lost(env: WorkflowEnvironment, store: Store, ref: str) -> dict[str, MessageRow]:
    """The promise, checked from the case file and Temporal (see the module's docstring)."""
    with store.session() as session:
        events = list(session.scalars(select(EventRow).where(EventRow.case_ref == ref, EventRow.seq.is_not(None))))
    twice = [seq for seq, n in Counter(e.seq for e in events).items() if n > 1]
    assert not twice, f"timeline events recorded twice: {twice}"
    sends = [e for e in events if e.kind in ("letter", "notification")]
    rows = _rows(store, ref)
    assert len(rows) == len(sends), (rows, [e.data for e in sends])
    for channel, row in rows.items():
        assert row.status in FINAL, f"{channel} message left {row.status}"
    failures = [e for e in events if e.kind == "communication_failed"]
    undelivered = sorted(m.key for m in rows.values() if m.status in ("awaiting_print", "undelivered"))
    assert sorted(f"{ref}/{e.data['message_seq']}/{e.data['channel']}" for e in failures) == undelivered
    tasks = _failed_tasks(store, ref)
    assert sorted(t.data["message_seq"] for t in tasks) == sorted(e.data["message_seq"] for e in failures)
    for task in tasks:
        assert task.role == "officer" and task.status == "open"
        described = await env.client.get_workflow_handle(task.key).describe()
        assert described.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    return rows


def _history_names_nobody(history: str, *values: str) -> None:
    for value in values:
        assert value not in history, f"{value!r} is in the case's Temporal history"


async def test_a_text_notify_refuses_gives_the_officer_a_task_and_the_letter_still_goes_once(
    env: WorkflowEnvironment, store: Store, tmp_path: Path, notify: NotifyStandIn
) -> None:
    """Issue 9 item 6: Notify refuses the SMS (400, as for a number it will not text). The letter goes by
    post through Notify, once; the text is not retried (it cannot help), and the officer gets a
    communication_failed task exactly as for a letter."""
    ref = _ref()
    notify.fail_with, notify.fail_paths = 400, ("/v2/notifications/sms",)
    async with worker_for(env, store, tmp_path, _settings("notify", notify_url=notify.url), ref) as queue:
        await _open_case(env, store, queue, ref, "sms")
        await _until("the failed text's task", lambda: _settled(store, ref))
        rows = await _nothing_lost(env, store, ref)
        history = readable(await env.client.get_workflow_handle(ref).fetch_history())
    assert rows["letter"].status == "sent" and rows["sms"].status == "undelivered"
    assert len(notify.posts("/v2/notifications/letter")) == 1
    assert notify.requests.count(("POST", "/v2/notifications/sms")) == 1  # refused once, never resent
    [failed] = [e for e in store.timeline(ref) if e["event"] == "communication_failed"]
    assert failed["channel"] == "sms" and failed["template"] == "acknowledgement" and failed["printing"] is False
    _history_names_nobody(history, "07700900123", "07700 900123", "Alex Morgan")


async def test_a_text_notify_keeps_failing_is_given_up_after_the_limit_with_a_task_and_never_sent_later(
    env: WorkflowEnvironment, store: Store, tmp_path: Path, notify: NotifyStandIn
) -> None:
    """Notify answers 500 to the SMS for longer than give_up_after: Temporal retries with backoff, each
    retry asks Notify first whether it has the message; then the officer is told. Notify coming back
    later sends nothing more: the officer was told the text did not go."""
    ref = _ref()
    notify.fail_with, notify.fail_paths = 500, ("/v2/notifications/sms",)
    settings = _settings("notify", notify_url=notify.url, give_up_after=timedelta(hours=1))
    async with worker_for(env, store, tmp_path, settings, ref) as queue:
        await _open_case(env, store, queue, ref, "sms")
        await _until("the first attempt", lambda: _rows(store, ref).get("sms") is not None
                     and _rows(store, ref)["sms"].attempts >= 1)
        await _until("the given-up text's task", lambda: _settled(store, ref), env, timedelta(minutes=20))
        notify.fail_with = None
        await _pass(env, timedelta(hours=2))  # Notify answers again: nothing more may be sent
        rows = await _nothing_lost(env, store, ref)
    assert rows["sms"].status == "undelivered" and rows["sms"].attempts >= 3
    assert notify.posts("/v2/notifications/sms") == []  # nothing went after the officer was told
    assert len(notify.posts("/v2/notifications/letter")) == 1
    assert ("GET", "/v2/notifications") in notify.requests  # asked before resending after a 500


async def test_a_mail_server_refusing_the_recipient_parks_the_letter_with_a_task_and_names_nobody(
    env: WorkflowEnvironment, store: Store, tmp_path: Path, mailbox: Mailbox
) -> None:
    """The mail server refuses the reporter's address and names it in its reply, as real servers do. The
    letter is parked for printing with a task for the officer, nothing is mailed, and the refusal that
    reached Temporal's history is a code and the message's id, never the address (issue 9 item 9)."""
    ref = _ref()
    mailbox.refuse_recipients_with = "550 5.1.1 <{address}>: Recipient address rejected: User unknown"
    async with worker_for(env, store, tmp_path, _settings("smtp", smtp_port=mailbox.port), ref) as queue:
        await _open_case(env, store, queue, ref, "email")
        await _until("the parked letter's task", lambda: _settled(store, ref))
        rows = await _nothing_lost(env, store, ref)
        history = readable(await env.client.get_workflow_handle(ref).fetch_history())
    assert rows["letter"].status == "awaiting_print" and "alex@example.org" in (rows["letter"].last_error or "")
    assert mailbox.messages == []
    assert print_path(tmp_path, ref, rows["letter"].key).exists()
    assert "DeliveryParked" in history and f"message {rows['letter'].key}" in history
    _history_names_nobody(history, "alex@example.org", "Alex Morgan", "Acacia Road")

