"""Fault suite, delivery: the mail server and GOV.UK Notify refusing, through the real workflow.

Each case runs on the time-skipping server and the session's worker, whose letter service is pointed (by
the environment, as a landlord configures it) at real servers on 127.0.0.1: aiosmtpd refusing recipients
as a real mail server does, the Notify stand-in answering as Notify does, here with errors. Whatever the
provider does, each run checks the README's promise, "once, and nothing lost":

- every letter or text the case sent has its message row, in a final state (sent, awaiting_print,
  undelivered, skipped): none is left half-done;
- every message that did not go has exactly one communication_failed on the case's timeline and one
  open communication_failed task for the officer, its task workflow counting to its due date;
- no timeline event is recorded twice, and the provider received each message at most once;
- no failure that reached Temporal's history names the person it was for.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from casefile import metrics
from casefile.db import Store
from casefile.models import EventRow, MessageRow, TaskRow
from clients.caseclient import start_case
from letters.delivery import print_path
from profiles import load
from statemachine.commands import ReportArgs
from tests.letters_helpers import API_KEY, Mailbox, NotifyStandIn, seed_case
from tests.test_personal_data import readable

FINAL = {"sent", "awaiting_print", "undelivered", "skipped"}
_refs = itertools.count(1)


def _ref() -> str:
    return f"ASB-2026-95{next(_refs):04d}"


def _delivery(kind: str, *, smtp_port: int = 0, notify_url: str = "", give_up_after: str = "48h") -> dict[str, str]:
    """The landlord's delivery settings, as the environment gives them to the worker's letter service (read at
    each send, so the shared worker of the test session uses them at once)."""
    return {"ASB_DELIVERY": kind, "ASB_DELIVERY_GIVE_UP_AFTER": give_up_after,
            "ASB_SMTP_HOST": "127.0.0.1", "ASB_SMTP_PORT": str(smtp_port), "ASB_SMTP_FROM": "asb@example.org",
            "ASB_NOTIFY_API_KEY": API_KEY, "ASB_NOTIFY_BASE_URL": notify_url or "http://127.0.0.1:9",
            "ASB_NOTIFY_EMAIL_TEMPLATE_ID": "e-template", "ASB_NOTIFY_SMS_TEMPLATE_ID": "s-template"}


@contextmanager
def delivering(monkeypatch: pytest.MonkeyPatch, settings: dict[str, str]) -> Iterator[None]:
    """Deliveries go by `settings` while the block runs. The cases stay on the session's worker (never
    terminated: terminating workflows wedges the time-skipping server's clock for later tests)."""
    with monkeypatch.context() as patch:
        patch.delenv("ASB_DELIVERY_CONFIG", raising=False)
        for name, value in settings.items():
            patch.setenv(name, value)
        yield


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
    """A communication_failed task is there, taken up by its workflow (it set the due date), and no message
    is still under way."""
    rows, tasks = _rows(store, ref), _failed_tasks(store, ref)
    return (bool(tasks) and all(t.due is not None for t in tasks)
            and bool(rows) and all(m.status in FINAL for m in rows.values()))


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
        # Open, the officer's, and with the due date its own task workflow set: that workflow is counting.
        assert (task.role, task.status, task.due is not None) == ("officer", "open", True), task.key
    return rows


def _history_names_nobody(history: str, *values: str) -> None:
    for value in values:
        assert value not in history, f"{value!r} is in the case's Temporal history"


async def test_a_text_notify_refuses_gives_the_officer_a_task_and_the_letter_still_goes_once(
    env: WorkflowEnvironment, store: Store, task_queue: str, notify: NotifyStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9 item 6: Notify refuses the SMS (400, as for a number it will not text). The letter goes by
    post through Notify, once; the text is not retried (it cannot help), and the officer gets a
    communication_failed task exactly as for a letter."""
    ref = _ref()
    notify.fail_with, notify.fail_paths = 400, ("/v2/notifications/sms",)
    with delivering(monkeypatch, _delivery("notify", notify_url=notify.url)):
        await _open_case(env, store, task_queue, ref, "sms")
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
    env: WorkflowEnvironment, store: Store, task_queue: str, notify: NotifyStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notify answers 500 to the SMS for longer than give_up_after: Temporal retries with backoff, each
    retry asks Notify first whether it has the message; then the officer is told. Notify coming back
    later sends nothing more: the officer was told the text did not go."""
    ref = _ref()
    notify.fail_with, notify.fail_paths = 500, ("/v2/notifications/sms",)
    with delivering(monkeypatch, _delivery("notify", notify_url=notify.url, give_up_after="1h")):
        await _open_case(env, store, task_queue, ref, "sms")
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
    env: WorkflowEnvironment, store: Store, task_queue: str, outbox: Path, mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The mail server refuses the reporter's address and names it in its reply, as real servers do. The
    letter is parked for printing with a task for the officer, nothing is mailed, and the refusal that
    reached Temporal's history is a code and the message's id, never the address (issue 9 item 9)."""
    ref = _ref()
    mailbox.refuse_recipients_with = "550 5.1.1 <{address}>: Recipient address rejected: User unknown"
    parked_before = _letters_counted("parked_for_print")
    with delivering(monkeypatch, _delivery("smtp", smtp_port=mailbox.port)):
        await _open_case(env, store, task_queue, ref, "email")
        await _until("the parked letter's task", lambda: _settled(store, ref))
        rows = await _nothing_lost(env, store, ref)
        history = readable(await env.client.get_workflow_handle(ref).fetch_history())
    assert rows["letter"].status == "awaiting_print" and "alex@example.org" in (rows["letter"].last_error or "")
    assert mailbox.messages == []
    assert print_path(outbox, ref, rows["letter"].key).exists()
    assert "DeliveryParked" in history and f"message {rows['letter'].key}" in history
    _history_names_nobody(history, "alex@example.org", "Alex Morgan", "Acacia Road")
    # The operations metric (issue 14 item 2): one letter parked for print, by channel only.
    assert _letters_counted("parked_for_print") >= parked_before + 1  # other cases of the module may park too


def _letters_counted(status: str) -> float:
    """asb_letters_total{status, channel="letter"} as /metrics shows it (casefile/metrics.py)."""
    return metrics.REGISTRY.get_sample_value("asb_letters_total", {"status": status, "channel": "letter"}) or 0.0
