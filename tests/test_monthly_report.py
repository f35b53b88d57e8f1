"""The monthly performance report (issue 14 item 4): run by its Temporal Schedule on the real dev server,
sent by real SMTP on loopback to the managers on the first working day of the month, once; its PDF and
HTML carry the month's figures and charts.

The Schedule is the one `asb up` and every worker create (workflows/monthly.py `ensure_monthly_schedule`);
its runs for 1 to 4 November 2026 are made by a backfill, as if the days had come: only Monday 2 November,
the first working day, sends October's report."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import ScheduleBackfill, ScheduleOverlapPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from asb.devserver import temporal_cli
from casefile.db import Store
from casefile.models import CaseRow, ContactRow, MessageRow
from performance.monthly import MESSAGE_CASE, first_working_day, produce
from policy.calendar import WorkingCalendar
from profiles import load
from tests.letters_helpers import Mailbox
from worker import build_worker
from workflows.case import SEARCH_ATTRIBUTES
from workflows.monthly import ensure_monthly_schedule, schedule_id

QUEUE = "monthly-reports"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def case_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A case file of this module's own (SQLite, as `asb up` keeps it), with October 2026's cases."""
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('monthly') / 'case-file.db'}")
    store.upgrade()
    with store.session() as s, s.begin():
        for n, opened, risk, closed, reason in (
                (1, "2026-10-05T10:00:00", "high", "2026-10-26T10:00:00", "asb_stopped"),
                (2, "2026-10-06T10:00:00", "medium", None, None),
                (3, "2026-10-20T10:00:00", "low", None, None),
                (4, "2026-09-01T10:00:00", "medium", "2026-10-01T10:00:00", "no_reports")):
            s.add(CaseRow(reference=f"M-{n}", profile="reading", stage="closed" if closed else "investigation",
                          outcome="enquiry", risk=risk, category="noise", hate=n == 3, opened_at=at(opened),
                          closed_at=at(closed) if closed else None, closure_reason=reason))
        s.flush()
        s.add(ContactRow(case_ref="M-1", at=at("2026-10-05T15:00:00"), outcome="made", method="phone", by="o1"))
        s.add(ContactRow(case_ref="M-2", at=at("2026-10-14T15:00:00"), outcome="made", method="phone", by="o1"))
    yield store
    store.dispose()


@pytest.fixture(scope="module")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter, dev_server_existing_path=temporal_cli(),
        search_attributes=list(SEARCH_ATTRIBUTES), ui=False)
    yield env
    await env.shutdown()


def test_the_first_working_day_of_a_month() -> None:
    england = WorkingCalendar.from_rules(load("reading").calendar)
    scotland = WorkingCalendar(nation="sct")
    assert first_working_day(england, 2026, 11) == date(2026, 11, 2)   # Sunday the 1st
    assert first_working_day(england, 2027, 1) == date(2027, 1, 4)     # New Year's Day a Friday
    assert first_working_day(england, 2024, 4) == date(2024, 4, 2)     # Easter Monday the 1st
    assert first_working_day(scotland, 2028, 1) == date(2028, 1, 5)    # Sat 1st; Mon 3, Tue 4 in lieu
    assert first_working_day(england, 2026, 12) == date(2026, 12, 1)


async def test_the_schedule_sends_octobers_report_on_the_first_working_day_of_november_once(
        dev_env: WorkflowEnvironment, case_file: Store, tmp_path: Path, mailbox: Mailbox,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASB_DELIVERY", "smtp")
    monkeypatch.setenv("ASB_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ASB_SMTP_PORT", str(mailbox.port))
    monkeypatch.setenv("ASB_MONTHLY_REPORT_TO", "asb.managers@example.org, head.of.housing@example.org")
    client = dev_env.client
    outbox = tmp_path / "outbox"
    async with build_worker(client, case_file, outbox, task_queue=QUEUE):
        assert await ensure_monthly_schedule(client, QUEUE, "reading", "Europe/London") is True
        assert await ensure_monthly_schedule(client, QUEUE, "reading", "Europe/London") is False  # idempotent
        handle = client.get_schedule_handle(schedule_id("reading"))
        await handle.backfill(ScheduleBackfill(start_at=at("2026-11-01T00:00:00"), end_at=at("2026-11-04T12:00:00"),
                                               overlap=ScheduleOverlapPolicy.ALLOW_ALL))
        results = await _results(client, expected=4)
        # And a second backfill of the Monday (a rerun, a catch-up): nothing is sent again.
        await handle.backfill(ScheduleBackfill(start_at=at("2026-11-02T06:00:00"), end_at=at("2026-11-02T08:00:00"),
                                               overlap=ScheduleOverlapPolicy.ALLOW_ALL))
        again = await _results(client, expected=5)
    sent = sorted((r["status"], r.get("month"), r.get("sent"), r.get("already_sent")) for r in results)
    assert sent == [("sent", "2026-10", 2, 0), ("skipped", None, 0, 0), ("skipped", None, 0, 0),
                    ("skipped", None, 0, 0)]
    assert sorted(r.get("reason") or "" for r in results)[1:] == [
        "2026-11-01 is not the first working day of its month", "2026-11-03 is not the first working day of its month",
        "2026-11-04 is not the first working day of its month"]
    assert [r for r in again if r not in results][0]["already_sent"] == 2
    assert sorted(str(m["To"]) for m in mailbox.messages) == ["asb.managers@example.org", "head.of.housing@example.org"]
    message = mailbox.messages[0]
    assert message["Subject"] == "Monthly ASB performance report: October 2026"
    pdfs = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(pdfs) == 1 and pdfs[0].get_content().startswith(b"%PDF")
    assert "Cases opened" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with case_file.session() as s:
        rows = s.query(MessageRow).filter(MessageRow.case_ref == MESSAGE_CASE).all()
        assert sorted(r.status for r in rows) == ["sent", "sent"]
    assert (outbox / "reports" / "monthly-report-reading-2026-10.pdf").exists()


async def _results(client: object, expected: int) -> list[dict[str, Any]]:
    """The results of the monthly report's runs, once `expected` of them have finished."""
    from temporalio.client import Client, WorkflowExecutionStatus

    assert isinstance(client, Client)
    for _ in range(240):
        runs = [w async for w in client.list_workflows('WorkflowType="MonthlyReportWorkflow"')]
        done = [w for w in runs if w.status == WorkflowExecutionStatus.COMPLETED]
        failed = [w for w in runs if w.status not in (WorkflowExecutionStatus.COMPLETED,
                                                      WorkflowExecutionStatus.RUNNING)]
        assert not failed, failed
        if len(done) >= expected:
            out = []
            for w in done:
                result = await client.get_workflow_handle(w.id, run_id=w.run_id).result()
                out.append(dict(result))
            return out
        await asyncio.sleep(0.5)
    raise AssertionError(f"fewer than {expected} monthly report runs finished")


def test_the_report_has_the_months_figures_and_charts(case_file: Store, tmp_path: Path) -> None:
    """October 2026 by hand: opened 1, 2, 3 (3 hate); closed 1 (21 days) and 4 (30 days): median 25.5;
    first responses: 1 (high) met the same day, 2 (medium, due Fri 9 Oct) answered 14 Oct: missed, 3 (low)
    none, due Tue 27 Oct: missed; 1 of 3 = 33.3%. Open at the end: 2 and 3."""
    report = produce(case_file, load("reading"), "2026-10", "Example Homes", datetime(2026, 11, 2, 7, tzinfo=UTC))
    assert report.figures["opened"] == 3 and report.figures["opened_hate"] == 1
    assert report.figures["closed"] == 2 and report.figures["median_days"] == 25.5
    assert report.figures["compliance_pct"] == 33.3 and report.figures["open_at_end"] == 2
    assert report.html.count("<svg") == 5
    assert "October 2026 (2026-10-01 to 2026-10-31)" in report.html
    assert report.pdf.startswith(b"%PDF")


async def test_a_worker_starting_creates_the_monthly_schedule_once(dev_env: WorkflowEnvironment, case_file: Store,
                                                                    tmp_path: Path) -> None:
    """What `asb up` and `asb worker` run at start-up (worker.py `start_up`): the landlord's monthly
    Schedule, created if missing and left alone by the next worker (here for LiveWest, this module's other
    test having Reading's)."""
    from temporalio.client import ScheduleActionStartWorkflow

    from worker import start_up

    await start_up(dev_env.client, case_file, QUEUE, profile="livewest")
    await start_up(dev_env.client, case_file, QUEUE, profile="livewest")
    described = await dev_env.client.get_schedule_handle(schedule_id("livewest")).describe()
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow) and action.workflow == "MonthlyReportWorkflow"
    calendar = described.schedule.spec.calendars[0]
    assert [(r.start, r.end) for r in calendar.day_of_month] == [(1, 7)]
    assert [r.start for r in calendar.hour] == [7]
    assert described.schedule.spec.time_zone_name == "Europe/London"
    ids = [s.id async for s in await dev_env.client.list_schedules()]
    assert ids.count(schedule_id("livewest")) == 1
