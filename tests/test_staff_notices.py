"""Staff are told (issue 14 item 1): a task's events reach its holder or its role's mailbox by real SMTP, once;
each member of staff gets a daily digest of their deadlines; the landlord's profile says who gets what."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.staff import StaffActivities, TaskNotice
from asb.cli import main as asb
from casefile.db import Store
from casefile.models import CaseRow, EventRow, StaffNoticeRow, TaskRow
from clients.caseclient import send_command, start_case
from clients.taskclient import list_tasks
from letters.config import ConfigError, load_settings
from profiles import load
from statemachine.commands import Actor, ReportArgs
from tests.letters_helpers import Mailbox, seed_case
from tests.polling import eventually
from tests.test_personal_data import readable
from worker import build_worker
from workflows.digest import DigestRun, DigestWorkflow

_refs = itertools.count(710000)
OFFICER = Actor(role="officer", id="o1")
PARTY_DATA = ["Alex Morgan", "Acacia Road", "RG1 1AA", "alex@example.org", "07700900123", "Jordan Lee"]


@pytest.fixture
def env(fresh_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """A time-skipping server of this test's own: it skips weeks (tests/conftest.py `fresh_env`)."""
    return fresh_env


def _config(tmp_path: Path, port: int, officers: dict[str, str], **extra: str) -> Path:
    """The landlord's delivery settings: SMTP on loopback, the staff directory and the role mailboxes."""
    lines = ['delivery = "smtp"', f'give_up_after = "{extra.get("give_up_after", "48h")}"',
             "[smtp]", 'host = "127.0.0.1"', f"port = {port}", 'sender = "asb@example.org"', "timeout = 10",
             "[staff]", 'url = "https://asb.example.org"', "[staff.mailboxes]",
             'manager = "asb-managers@example.org"', 'senior_manager = "asb-heads@example.org"']
    for staff_id, email in officers.items():
        lines += [f"[officers.{staff_id}]", f'name = "Officer {staff_id}"', f'email = "{email}"']
    path = tmp_path / "delivery.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def configured(tmp_path: Path, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    with monkeypatch.context() as patch:
        for name in ("ASB_DELIVERY", "ASB_SMTP_HOST", "ASB_SMTP_PORT", "ASB_SMTP_FROM"):
            patch.delenv(name, raising=False)
        patch.setenv("ASB_DELIVERY_CONFIG", str(_config(tmp_path, mailbox.port, {"o1": "sam.patel@example.org"})))
        yield mailbox


def _about(box: Mailbox, ref: str, kind: str | None = None) -> list[EmailMessage]:
    return [m for m in box.messages if m["X-ASB-Case"] == ref and (kind is None or m["X-ASB-Template"] == kind)]


async def _pass(env: WorkflowEnvironment, total: timedelta, step: timedelta = timedelta(days=1)) -> None:
    """Let time pass on the time-skipping server, in steps (a step it drops under load is tried again)."""
    done, hiccups = timedelta(0), 0
    while done < total:
        try:
            await env.sleep(step)
            done += step
        except RPCError:
            hiccups += 1
            assert hiccups <= 5, "the time-skipping server failed repeatedly"
            await asyncio.sleep(1)


async def _until(env: WorkflowEnvironment, probe: Any, step: timedelta, what: str) -> Any:
    """Let time pass in `step`s until `probe()` finds something (a retry's backoff is Temporal's timer)."""
    for _ in range(200):
        found = probe()
        if found:
            return found
        await _pass(env, step, step)
        await asyncio.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


def _notice_rows(store: Store, ref: str) -> list[StaffNoticeRow]:
    with store.session() as session:
        return list(session.scalars(select(StaffNoticeRow).where(StaffNoticeRow.case_ref == ref)
                                    .order_by(StaffNoticeRow.id)).all())


async def test_an_escalation_reaches_the_senior_mailbox_by_smtp_once_through_a_retry_and_a_restart(
    env: WorkflowEnvironment, store: Store, outbox: Path, configured: Mailbox,
) -> None:
    mailbox = configured
    ref = f"ASB-2026-{next(_refs):06d}"
    reporter, reported = seed_case(store, ref)
    queue = f"notices-{uuid.uuid4().hex[:8]}"
    report = ReportArgs.model_validate({"category": "noise", "officer": "o1", "reporter": {"id": reporter},
                                        "reported_person": {"id": reported}})
    async with build_worker(env.client, store, outbox, task_queue=queue, max_cached_workflows=0):
        handle = await start_case(env.client, ref, load("reading"), report, task_queue=queue,
                                  search_attributes=False)
        for command, args in [("record_contact", {"outcome": "made", "method": "phone"}),
                              ("record_risk_assessment", {"level": "medium"}), ("convert_to_case", {}),
                              ("request_closure", {"reason": "no_reports"})]:
            assert (await send_command(handle, command, args, OFFICER)).accepted

        def approval() -> list[Any]:
            with store.session() as session:
                return [t for t in list_tasks(session, case_ref=ref, status=None) if t.kind == "closure_approval"]

        task = (await eventually(approval, what="the closure approval task"))[0]
        created = await eventually(lambda: _about(mailbox, ref, "task_created"), what="the new task's notice")
        assert [m["To"] for m in created] == ["asb-managers@example.org"]  # nobody holds it: the role's mailbox

        # The mail server refuses for a while: the escalation's notice is retried by Temporal, then gets through.
        reminded = await _until(env, lambda: _about(mailbox, ref, "task_reminded"), timedelta(hours=6),
                                "the reminder, a working day before the task is due")
        assert [m["To"] for m in reminded] == ["asb-managers@example.org"]
        # The server refuses the escalation's first attempt ("451"): Temporal retries it and it gets through.
        # (On a time-skipping server a retrying activity holds the clock, so the refusal is lifted as soon
        # as the row records it, by a watcher beside the test.)
        mailbox.refuse_with = "451 4.3.0 Try again later"
        refused: list[tuple[str, int]] = []

        async def lift_after_the_first_refusal() -> None:
            while True:
                rows = [r for r in _notice_rows(store, ref) if r.kind == "task_escalated"]
                if rows and rows[0].status == "failed":
                    refused.append((rows[0].status, rows[0].attempts))
                    mailbox.refuse_with = None
                    return
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(lift_after_the_first_refusal())
        escalated = await _until(env, lambda: _about(mailbox, ref, "task_escalated"), timedelta(hours=2),
                                 "the escalation notice (past five working days), on a later attempt")
        await watcher
        assert [status for status, _ in refused] == ["failed"]  # refused once, then retried
        await eventually(lambda: [e for e in store.timeline(ref) if e["event"] == "escalation"],
                         what="the escalation on the case's timeline")

    # The worker goes away and another takes over: the task replays, nothing is sent again. (No workflow cache
    # above: a sticky queue would hold the next workflow task for the worker that went.)
    async with build_worker(env.client, store, outbox, task_queue=queue):
        # Five more working days: the senior manager's time runs out.
        await _until(env, lambda: _about(mailbox, ref, "task_breached"), timedelta(days=1), "the breach notice")
        await asyncio.sleep(1)
        history = await env.client.get_workflow_handle(task.id).fetch_history()

    assert len(_about(mailbox, ref, "task_escalated")) == 1
    assert len(_about(mailbox, ref, "task_breached")) == 1
    assert [m["To"] for m in escalated] == ["asb-heads@example.org"]
    message = escalated[0]
    body = message.get_content()
    assert message["Subject"] == f"{ref}: task escalated - Closure approval"
    assert f"https://asb.example.org/web/cases/{ref}" in body and "Due:" in body and "senior manager" in body
    for secret in PARTY_DATA:
        assert secret not in message.as_string(), secret

    # A retried activity (the same notice again) answers from its row: still one email.
    row = next(r for r in _notice_rows(store, ref) if r.kind == "task_escalated")
    assert row.status == "sent" and row.attempts >= 2
    again = TaskNotice(task_id=task.id, case_ref=ref, kind="closure_approval", event="escalated",
                       role="senior_manager", at=datetime.now(UTC))
    assert StaffActivities(store, outbox).notify_staff(again) == "sent"
    await asyncio.sleep(0.5)
    assert len(_about(mailbox, ref, "task_escalated")) == 1

    # Temporal's history holds ids, kinds and moments: no party's details, and no staff address either.
    text = readable(history)
    assert "notify_staff" in text
    for secret in [*PARTY_DATA, "asb-heads@example.org", "asb-managers@example.org", "sam.patel@example.org"]:
        assert secret not in text, secret


def _seed_digest_case(store: Store, ref: str, officer: str, next_deadline: datetime | None, kind: str) -> None:
    with store.session() as session, session.begin():
        session.add(CaseRow(reference=ref, profile="reading", stage="case", outcome="case", risk="medium",
                            category="noise", hate=False, officer=officer, opened_at=datetime(2026, 11, 2, tzinfo=UTC),
                            next_deadline=next_deadline, overdue=False, last_seq=1, locked=False))
        if next_deadline is not None:
            session.add(EventRow(case_ref=ref, seq=1, at=datetime(2026, 11, 2, tzinfo=UTC), kind="deadline",
                                 data={"event": "deadline", "kind": kind, "due": next_deadline.isoformat()}))


def _seed_task(store: Store, ref: str, n: int, kind: str, role: str, due: datetime, assignee: str | None = None,
               status: str = "open") -> None:
    with store.session() as session, session.begin():
        session.add(TaskRow(key=f"{ref}-T{n}", case_ref=ref, kind=kind, role=role, status=status,
                            created_at=datetime(2026, 11, 2, tzinfo=UTC), data={}, assignee=assignee, due=due))


def _london(day: int, hour: int, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)  # December: London is on UTC


async def test_the_daily_digest_lists_the_deadlines_of_the_next_five_working_days(
    env: WorkflowEnvironment, store: Store, outbox: Path, tmp_path: Path, mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Friday 18 December 2026 in England: the five working days are the 18th, 21st, 22nd, 23rd and 24th
    (Christmas Day and the Boxing Day holiday, Monday 28th, are not working days)."""
    tag = uuid.uuid4().hex[:6]
    officer, other, manager = f"d{tag}a", f"d{tag}b", f"d{tag}m"
    monkeypatch.delenv("ASB_DELIVERY", raising=False)
    monkeypatch.setenv("ASB_DELIVERY_CONFIG", str(_config(
        tmp_path, mailbox.port, {officer: f"{officer}@example.org", other: f"{other}@example.org",
                                 manager: f"{manager}@example.org"})))
    refs = [f"ASB-2026-{next(_refs):06d}" for _ in range(5)]
    _seed_digest_case(store, refs[0], officer, _london(18, 9), "contact")           # today: in
    _seed_digest_case(store, refs[1], officer, _london(24, 17), "case_review")      # 5th working day: in
    _seed_digest_case(store, refs[2], officer, _london(29, 17), "monitoring")       # 6th working day: out
    _seed_digest_case(store, refs[3], officer, _london(17, 17), "first_response")   # yesterday: out
    _seed_digest_case(store, refs[4], other, None, "contact")
    _seed_task(store, refs[2], 1, "risk_review", "officer", _london(22, 17))         # the case officer's: in
    _seed_task(store, refs[4], 1, "consider_closure", "officer", _london(23, 17))    # other's case: theirs
    _seed_task(store, refs[0], 2, "closure_approval", "manager", _london(21, 17), assignee=manager)  # claimed
    _seed_task(store, refs[1], 2, "closure_approval", "manager", _london(21, 17))    # nobody holds it: no digest
    _seed_task(store, refs[3], 1, "tell_police", "officer", _london(21, 17), status="done")  # done: out

    queue = f"digest-{uuid.uuid4().hex[:8]}"
    async with build_worker(env.client, store, outbox, task_queue=queue):
        for day, run in ((date(2026, 12, 18), "a"), (date(2026, 12, 18), "b"), (date(2026, 12, 19), "c")):
            await env.client.execute_workflow(DigestWorkflow.run, DigestRun(day=day), id=f"digest-{tag}-{run}",
                                              task_queue=queue)

    def to(who: str) -> list[EmailMessage]:
        return [m for m in mailbox.messages if m["To"] == f"{who}@example.org"]

    # Once each (the second run for the 18th finds them sent; Saturday the 19th is not a working day).
    assert [len(to(officer)), len(to(other)), len(to(manager))] == [1, 1, 1]
    body = to(officer)[0].get_content()
    listed = [line.split("  ")[1:] for line in body.splitlines() if line.startswith(("Fri", "Mon", "Tue", "Wed",
                                                                                       "Thu"))]
    assert listed == [[refs[0], "Contact with the reporter due"], [refs[2], "Task: Next risk assessment"],
                      [refs[1], "Case review due"]], body
    assert "from Friday 18 December to Thursday 24 December 2026 (5 working days)" in body
    assert to(officer)[0]["Subject"] == "Your ASB deadlines: 3 in the next 5 working days"
    assert f"{refs[4]}  Task: Consider closing the case" in to(other)[0].get_content()
    assert f"{refs[0]}  Task: Closure approval" in to(manager)[0].get_content()
    for message in (*to(officer), *to(other), *to(manager)):
        for secret in PARTY_DATA:
            assert secret not in message.as_string()


def test_who_is_told_what_is_the_landlords_and_a_mistake_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    shipped = (Path(__file__).parent.parent / "policy" / "profiles" / "reading.toml").read_text(encoding="utf-8")
    good = tmp_path / "good.toml"
    good.write_text(shipped + '\n[notifications]\ncreated = "nobody"\nescalated = "holder"\ndigest_working_days = 3\n',
                    encoding="utf-8")
    assert asb(["profiles", "check", str(good)]) == 0
    rules = load(str(good)).notifications
    assert (rules.to("created"), rules.to("escalated"), rules.to("breached"), rules.digest_working_days) == (
        "nobody", "holder", "mailbox", 3)
    capsys.readouterr()
    bad = tmp_path / "bad.toml"
    bad.write_text(shipped + '\n[notifications]\nescalated = "the boss"\ndigest_working_days = 0\n', encoding="utf-8")
    assert asb(["profiles", "check", str(bad)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "notifications.escalated" in error and "notifications.digest_working_days" in error


def test_staff_addresses_come_from_the_settings_and_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "delivery.toml"
    path.write_text('[staff.mailboxes]\nmanager = "asb-managers@example.org"\n[officers.o1]\nname = "Sam"\n'
                    'email = "sam@example.org"\n', encoding="utf-8")
    settings = load_settings(env={"ASB_DELIVERY_CONFIG": str(path)})
    assert (settings.mailbox("manager"), settings.staff_address("o1"), settings.mailbox("officer")) == (
        "asb-managers@example.org", "sam@example.org", None)
    path.write_text('[staff.mailboxes]\nauditor = "x@example.org"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"staff.mailboxes.auditor: not a role"):
        load_settings(env={"ASB_DELIVERY_CONFIG": str(path)})
    path.write_text('[staff.mailboxes]\nmanager = "managers"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"staff.mailboxes.manager: 'managers' is not an email address"):
        load_settings(env={"ASB_DELIVERY_CONFIG": str(path)})


async def test_the_worker_creates_the_digest_schedule_once_and_it_runs_the_digest(
    store: Store, outbox: Path, tmp_path: Path, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a real dev server (the time-skipping one has no Schedules): two worker start-ups make one Schedule,
    every day at 07:00 London time, and triggering it sends today's digest (if today is a working day)."""
    from temporalio.contrib.pydantic import pydantic_data_converter

    from asb.devserver import temporal_cli
    from policy.calendar import WorkingCalendar
    from worker import start_up
    from workflows.digest import DIGEST_SCHEDULE_ID

    tag = uuid.uuid4().hex[:6]
    officer = f"s{tag}"
    monkeypatch.delenv("ASB_DELIVERY", raising=False)
    monkeypatch.setenv("ASB_DELIVERY_CONFIG", str(_config(tmp_path, mailbox.port, {officer: f"{officer}@example.org"})))
    calendar = WorkingCalendar.from_rules(load("reading").calendar)
    today = datetime.now(UTC).astimezone(calendar.tz).date()
    ref = f"ASB-2026-{next(_refs):06d}"
    due = calendar.end_of(today if calendar.is_working_day(today) else calendar.next_working_day(today))
    _seed_digest_case(store, ref, officer, due, "contact")

    env = await WorkflowEnvironment.start_local(data_converter=pydantic_data_converter,
                                                dev_server_existing_path=temporal_cli(), ui=False)
    try:
        queue = f"digest-{tag}"
        async with build_worker(env.client, store, outbox, task_queue=queue):
            await start_up(env.client, store, queue)
            await start_up(env.client, store, queue)  # a second worker, or `asb up` again: still one
            schedule = env.client.get_schedule_handle(DIGEST_SCHEDULE_ID)
            described = await schedule.describe()
            calendars = described.schedule.spec.calendars
            assert described.schedule.spec.time_zone_name == "Europe/London"
            assert [(c.hour[0].start, c.minute[0].start) for c in calendars] == [(7, 0)]
            await schedule.trigger()
            runs = await eventually(lambda: schedule.describe(), lambda d: bool(d.info.recent_actions),
                                    what="the digest Schedule's run")
            run = env.client.get_workflow_handle(runs.info.recent_actions[0].action.workflow_id,
                                                 run_id=runs.info.recent_actions[0].action.first_execution_run_id)
            result = await run.result()
    finally:
        await env.shutdown()
    mine = [m for m in mailbox.messages if m["To"] == f"{officer}@example.org"]
    if calendar.is_working_day(today):
        assert "reading" in result["landlords"] and len(mine) == 1 and ref in mine[0].get_content()
    else:
        assert mine == []  # not a working day in England: no digest


def test_a_task_goes_to_its_holder_and_without_an_address_to_the_roles_mailbox(
    store: Store, outbox: Path, configured: Mailbox,
) -> None:
    """The reading profile's defaults: a new task and its reminder to the holder, an escalation to the mailbox.
    The holder of an officer's task nobody claimed is the case's officer; a holder the staff directory has
    no email for is told through their role's mailbox; the same event twice is one email."""
    ref = f"ASB-2026-{next(_refs):06d}"
    seed_case(store, ref, officer="o1")
    staff = StaffActivities(store, outbox)
    due = datetime(2026, 3, 16, 17, tzinfo=UTC)

    def notice(n: int, event: str, role: str, assignee: str | None = None) -> TaskNotice:
        return TaskNotice.model_validate({"task_id": f"{ref}-T{n}", "case_ref": ref, "kind": "risk_review",
                                          "event": event, "role": role, "assignee": assignee, "due": due,
                                          "at": datetime.now(UTC)})

    assert staff.notify_staff(notice(1, "created", "officer")) == "sent"
    assert staff.notify_staff(notice(1, "created", "officer")) == "sent"  # a retry: answered from the row
    assert staff.notify_staff(notice(2, "reminded", "manager", assignee="m9")) == "sent"  # m9: no email on file
    assert staff.notify_staff(notice(3, "escalated", "senior_manager")) == "sent"
    got = [(m["To"], m["X-ASB-Template"]) for m in _about(configured, ref)]
    assert got == [("sam.patel@example.org", "task_created"), ("asb-managers@example.org", "task_reminded"),
                   ("asb-heads@example.org", "task_escalated")]
    assert "For:   the officer (Officer o1)" in _about(configured, ref)[0].get_content()
    rows = _notice_rows(store, ref)
    assert [(r.recipient, r.status) for r in rows] == [("o1", "sent"), ("mailbox:manager", "sent"),
                                                       ("mailbox:senior_manager", "sent")]
