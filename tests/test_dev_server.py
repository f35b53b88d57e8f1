"""On the real Temporal dev server: continue-as-new keeps the case, search attributes show the caseload,
and `asb up` starts, serves and stops cleanly."""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from asb.devserver import temporal_cli
from casefile.db import Store
from clients.caseclient import send_command, start_case
from clients.taskclient import get_task, list_tasks
from profiles import load
from statemachine.commands import Actor, ReportArgs
from tests.asb_up import alive, running_asb_up
from tests.polling import eventually
from worker import build_worker
from workflows.case import SEARCH_ATTRIBUTES

_refs = itertools.count(700000)
OFFICER = Actor(role="officer", id="o1")
#: Low enough that a case continues-as-new after a handful of commands.
HISTORY_THRESHOLD = 60


@pytest.fixture(scope="module")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter, dev_server_existing_path=temporal_cli(),
        search_attributes=list(SEARCH_ATTRIBUTES), ui=False,
        dev_server_extra_args=["--dynamic-config-value",
                               f"limit.historyCount.suggestContinueAsNew={HISTORY_THRESHOLD}"],
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
async def dev_queue(dev_env: WorkflowEnvironment, store: Store, outbox: Path) -> AsyncIterator[str]:
    async with build_worker(dev_env.client, store, outbox, task_queue="dev-cases"):
        yield "dev-cases"


def _report(**extra: Any) -> ReportArgs:
    args: dict[str, Any] = {"category": "noise", "officer": "o1", "reporter": {"id": "r1"},
                            "reported_person": {"id": "p1"}}
    args.update(extra)
    return ReportArgs.model_validate(args)


async def _ok(handle: Any, command: str, actor: Actor = OFFICER, **args: Any) -> dict[str, Any]:
    result = await send_command(handle, command, args, actor)
    assert result.accepted, result.reason
    assert result.status is not None
    return result.status.model_dump(mode="json")


async def test_continue_as_new_keeps_stage_deadlines_and_pending_approvals(
    dev_env: WorkflowEnvironment, dev_queue: str, store: Store
) -> None:
    ref = f"ASB-2026-{next(_refs):06d}"
    handle = await start_case(dev_env.client, ref, load("reading"), _report(), task_queue=dev_queue)
    first_run = (await handle.describe()).run_id
    await _ok(handle, "record_contact", outcome="made", method="phone")
    await _ok(handle, "record_risk_assessment", level="medium")
    await _ok(handle, "convert_to_case")
    await _ok(handle, "request_closure", reason="no_reports")
    before = await handle.query("status", result_type=dict)
    for _ in range(12):
        await _ok(handle, "record_incident")

    async def runs() -> set[str]:
        return {first_run} | {execution.run_id
                              async for execution in dev_env.client.list_workflows(f'WorkflowId="{ref}"')}

    # Visibility is eventually consistent, and the case continues as new only once its letters are out.
    await eventually(runs, lambda found: len(found) > 1, what="the case continued as new")
    after = await handle.query("status", result_type=dict)
    assert after["stage"] == before["stage"] == "investigation"
    assert after["pending_approvals"] == before["pending_approvals"]
    assert after["deadlines"]["case_review"] == before["deadlines"]["case_review"]
    assert after["deadlines"]["contact"] == before["deadlines"]["contact"]
    # The closure requested in the first run is decided in a later one.
    def closure_tasks() -> list[Any]:
        with store.session() as session:
            return [t for t in list_tasks(session, case_ref=ref, status=None) if t.kind == "closure_approval"]

    (task,) = await eventually(closure_tasks, what="the closure approval's task")
    assert task.status == "open"
    status = await _ok(handle, "approve_closure", Actor(role="manager", id="m1"))
    assert status["stage"] == "closed"
    # The case still knew its open task workflows after continuing as new: the approval closed its task.
    decided = await eventually(lambda: _task_row(store, task.id), lambda row: row.status != "open",
                               what=f"task {task.id} closed by the approval")
    assert (decided.status, decided.decision, decided.decided_by) == ("done", "approved", "m1")
    timeline = store.timeline(ref)
    assert [e["count"] for e in timeline if e["event"] == "incident"] == list(range(2, 14))
    seqs = [e for e in timeline if e["event"] == "stage"]
    assert [s["stage"] for s in seqs] == ["enquiry", "investigation", "closed"]


def _task_row(store: Store, task_id: str) -> Any:
    with store.session() as session:
        return get_task(session, task_id)


async def _listed(client: Client, query: str, ref: str) -> bool:
    async def ids() -> list[str]:
        return [w.id async for w in client.list_workflows(query)]

    await eventually(ids, lambda found: ref in found, what=f"{ref} listed by {query}")
    return True


async def test_search_attributes_show_stage_risk_officer_and_deadline(
    dev_env: WorkflowEnvironment, dev_queue: str
) -> None:
    ref = f"ASB-2026-{next(_refs):06d}"
    handle = await start_case(dev_env.client, ref, load("reading"), _report(hate=True), task_queue=dev_queue)
    client = dev_env.client
    assert await _listed(client, 'CaseStage="enquiry" AND CaseRisk="high" AND CaseOfficer="o1"', ref)
    await _ok(handle, "record_equality_assessment")
    await _ok(handle, "propose_legal_action", kind="injunction", emergency=True)
    assert await _listed(client, 'CaseStage="legal" AND Overdue=false', ref)
    description = await handle.describe()
    attributes = {key.name: description.typed_search_attributes.get(key) for key in SEARCH_ATTRIBUTES}
    assert attributes["NextDeadline"] is not None
    # Ids and categories only: no reporter or reported person in any attribute.
    assert "r1" not in str(attributes) and "p1" not in str(attributes)


async def test_asb_up_starts_serves_a_case_and_stops_cleanly(tmp_path: Path) -> None:
    async with running_asb_up(tmp_path / "state") as up:
        assert any(f"http://127.0.0.1:{up.ui_port}" in line for line in up.lines)
        client = await Client.connect(f"127.0.0.1:{up.port}", data_converter=pydantic_data_converter)
        ref = "ASB-2026-000123"
        handle = await start_case(client, ref, load("reading"), _report())
        await _ok(handle, "record_contact", outcome="made", method="phone")
        assert await _listed(client, 'CaseStage="enquiry"', ref)
        assert (tmp_path / "state" / "temporal.db").exists()
        assert (tmp_path / "state" / "asb.db").exists()
        # Health and metrics on the API's port (issue 14 item 2), the worker's case-file gauges among them.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{up.api_port}", timeout=30) as http:
            assert (await http.get("/ready")).json() == {"status": "ready"}
            scraped = (await http.get("/metrics")).text
        assert "asb_cases_opened_total" in scraped and "asb_open_tasks" in scraped


def _burst(pid: int, size: int = 1 << 20) -> int:
    """Write `size` bytes of error lines to the dev server's own stderr, as a burst of its errors would; stop
    early if that stream is a pipe nobody drains (it would be full). Returns the bytes written."""
    line = b"time=2026-12-01T00:00:00Z level=ERROR msg=\"unable to reach peer\" error=\"connection refused\"\n"
    written = 0
    fd = os.open(f"/proc/{pid}/fd/2", os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
    try:
        while written < size:
            try:
                written += os.write(fd, line)
            except BlockingIOError:
                break
    finally:
        os.close(fd)
    return written


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_asb_up_stops_on_a_signal_within_a_bound_after_a_burst_of_server_output(
    tmp_path: Path, stop_with: signal.Signals
) -> None:
    """Issue 9 item 10: the dev server's output goes to .asb/temporal.log, never to a pipe nobody reads (which
    fills after a burst of errors and blocks the server, so `asb up` waited for ever); SIGTERM stops
    everything as Ctrl-C does, within a bound, and no dev server is left behind."""
    state = tmp_path / "state"
    async with running_asb_up(state, stop_with=stop_with, within=30) as up:
        server = up.dev_server_pid()
        written = _burst(server)
        for fd in (1, 2):
            assert os.readlink(f"/proc/{server}/fd/{fd}") == str(state / "temporal.log"), fd
        assert written >= 1 << 20  # all of it: nothing blocked
        assert str(state / "temporal.log") in up.text  # `asb up` says where the log is
    assert not alive(server), f"the dev server ({server}) outlived asb up"
    assert (state / "temporal.log").stat().st_size >= 1 << 20
