"""The worker: runs case workflows and their activities against a Temporal server.

`asb worker` runs this against TEMPORAL_ADDRESS (a cluster or Temporal Cloud in production);
`asb up` runs it beside the embedded dev server. On start-up it makes sure the reconciler's Schedule
and the staff digest's (workflows/digest.py) exist and runs one reconcile pass at once
(activities/reconcile.py): cases logged while Temporal was unreachable are started, pending notes settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.calendar import fetch_bank_holidays
from activities.case_file import CaseFileActivities
from activities.messages import MessageActivities
from activities.reconcile import ReconcileActivities, reconcile_once
from activities.staff import StaffActivities
from activities.tasks import TaskActivities
from casefile.db import Store, default_state_dir
from workflows.case import TASK_QUEUE, CaseWorkflow
from workflows.digest import DigestWorkflow, ensure_digest_schedule
from workflows.reconcile import ReconcileWorkflow, ensure_reconcile_schedule
from workflows.tasks import TaskWorkflow

log = logging.getLogger(__name__)

WORKFLOWS: Sequence[type] = (CaseWorkflow, TaskWorkflow, ReconcileWorkflow, DigestWorkflow)
#: Pure modules shared with activities and the API: imported once, not re-imported per workflow run.
PASSTHROUGH = ("policy", "statemachine", "activities", "holidays", "transitions", "pydantic", "zoneinfo")


@dataclass(frozen=True)
class TemporalSettings:
    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    api_key: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls: bool = False

    @classmethod
    def from_env(cls) -> TemporalSettings:
        env = os.environ
        return cls(
            address=env.get("TEMPORAL_ADDRESS", cls.address),
            namespace=env.get("TEMPORAL_NAMESPACE", cls.namespace),
            api_key=env.get("TEMPORAL_API_KEY") or None,
            tls_cert=env.get("TEMPORAL_TLS_CLIENT_CERT_PATH") or None,
            tls_key=env.get("TEMPORAL_TLS_CLIENT_KEY_PATH") or None,
            tls=env.get("TEMPORAL_TLS", "").lower() in ("1", "true", "yes"),
        )

    async def connect(self) -> Client:
        tls: bool | TLSConfig = self.tls or bool(self.api_key)
        if self.tls_cert and self.tls_key:
            tls = TLSConfig(
                client_cert=Path(self.tls_cert).read_bytes(), client_private_key=Path(self.tls_key).read_bytes()
            )
        return await Client.connect(
            self.address, namespace=self.namespace, api_key=self.api_key, tls=tls,
            data_converter=pydantic_data_converter,
        )


def activities_for(store: Store, outbox: Path, client: Client) -> list[Any]:
    case_file = CaseFileActivities(store)
    messages = MessageActivities(store, outbox)
    tasks = TaskActivities(client)
    reconciler = ReconcileActivities(store, client)
    staff = StaffActivities(store, outbox)
    return [case_file.record_events, case_file.update_task, messages.send_letter, messages.send_notification,
            messages.park_for_printing, fetch_bank_holidays, tasks.start_task, reconciler.reconcile,
            staff.notify_staff, staff.send_digests]


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))


def build_worker(client: Client, store: Store, outbox: Path, task_queue: str = TASK_QUEUE,
                 **options: Any) -> Worker:
    """The worker; `options` go to temporalio's Worker (a test restarting workers turns off the workflow
    cache, whose sticky queue would otherwise hold the next workflow task for the worker that went)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_for(store, outbox, client),
        activity_executor=ThreadPoolExecutor(max_workers=8),
        workflow_runner=workflow_runner(),
        **options,
    )


async def start_up(client: Client, store: Store, task_queue: str = TASK_QUEUE) -> None:
    """What a worker does once it polls: the reconciler's and the staff digest's Schedules, and one
    reconcile pass at once."""
    await ensure_reconcile_schedule(client, task_queue)
    await ensure_digest_schedule(client, task_queue)
    try:
        result = await reconcile_once(store, client)
    except Exception as exc:  # e.g. the case file is down: the Schedule's next run tries again
        log.warning("reconcile at start-up did not finish (the Schedule will retry): %s", type(exc).__name__)
        return
    log.info("reconcile at start-up: %s", result.model_dump())


async def run_worker(settings: TemporalSettings | None = None) -> None:
    client = await (settings or TemporalSettings.from_env()).connect()
    store = Store.from_env()
    store.upgrade()
    outbox = default_state_dir() / "outbox"
    async with build_worker(client, store, outbox):
        await start_up(client, store)
        await asyncio.Event().wait()


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker())


if __name__ == "__main__":
    main()
