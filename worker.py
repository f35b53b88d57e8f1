"""The worker: runs case workflows and their activities against a Temporal server.

`asb worker` runs this against TEMPORAL_ADDRESS (a cluster or Temporal Cloud in production);
`asb up` runs it beside the embedded dev server. On start-up it makes sure the reconciler's Schedule
exists and runs one reconcile pass at once (activities/reconcile.py): cases logged while Temporal
was unreachable are started, pending notes settled. It also makes sure the monthly performance report's
Schedule (workflows/monthly.py) and the staff digest's (workflows/digest.py) exist.

Operations (issue 14 items 2 and 5), set by environment (`WorkerSettings`):

- ASB_WORKER_HTTP_ADDRESS (default 127.0.0.1:9464; `off` for none): a small HTTP server with /health,
  /ready (Temporal and the case file reachable, the worker polling) and /metrics (api/ops.py). In a
  container set 0.0.0.0:9464 so the probes and Prometheus reach it.
- ASB_TEMPORAL_METRICS_ADDRESS (default 127.0.0.1:9465; `off` for none): where the Temporal SDK's own
  Prometheus exporter listens (temporalio runtime telemetry); /metrics above includes its metrics.
- ASB_WORKER_SHUTDOWN_SECONDS (default 25): on SIGTERM or Ctrl-C the worker stops polling and gives
  running activities this long to finish before they are cancelled (Temporal retries them elsewhere).
  Keep it below the platform's grace period (Kubernetes terminationGracePeriodSeconds: 40).

A port that is taken (another worker on the same machine) costs only that endpoint, with a warning:
the worker still works its task queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import TLSConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.calendar import fetch_bank_holidays
from activities.case_file import CaseFileActivities
from activities.messages import MessageActivities
from activities.monthly import MonthlyActivities
from activities.reconcile import ReconcileActivities, reconcile_once
from activities.staff import StaffActivities
from activities.tasks import TaskActivities
from api.ops import Readiness, ops_server
from casefile import metrics
from casefile.db import Store, default_state_dir
from workflows.case import TASK_QUEUE, CaseWorkflow
from workflows.digest import DigestWorkflow, ensure_digest_schedule
from workflows.monthly import MonthlyReportWorkflow, ensure_monthly_schedule
from workflows.reconcile import ReconcileWorkflow, ensure_reconcile_schedule
from workflows.tasks import TaskWorkflow

log = logging.getLogger(__name__)

WORKFLOWS: Sequence[type] = (CaseWorkflow, TaskWorkflow, ReconcileWorkflow, MonthlyReportWorkflow, DigestWorkflow)
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

    async def connect(self, runtime: Runtime | None = None) -> Client:
        tls: bool | TLSConfig = self.tls or bool(self.api_key)
        if self.tls_cert and self.tls_key:
            tls = TLSConfig(
                client_cert=Path(self.tls_cert).read_bytes(), client_private_key=Path(self.tls_key).read_bytes()
            )
        return await Client.connect(
            self.address, namespace=self.namespace, api_key=self.api_key, tls=tls,
            data_converter=pydantic_data_converter, runtime=runtime,
        )


@dataclass(frozen=True)
class WorkerSettings:
    """The worker's operational settings (module docstring)."""

    http_address: str | None = "127.0.0.1:9464"
    temporal_metrics_address: str | None = "127.0.0.1:9465"
    shutdown_seconds: float = 25.0

    @classmethod
    def from_env(cls) -> WorkerSettings:
        env = os.environ

        def address(name: str, default: str | None) -> str | None:
            value = env.get(name, default or "").strip()
            return None if value.lower() in ("", "off", "none") else _host_port(name, value)

        seconds = env.get("ASB_WORKER_SHUTDOWN_SECONDS", "").strip()
        try:
            shutdown = float(seconds) if seconds else cls.shutdown_seconds
        except ValueError:
            raise ValueError(f"ASB_WORKER_SHUTDOWN_SECONDS must be a number of seconds, not {seconds!r}") from None
        if not 0 <= shutdown <= 3600:
            raise ValueError("ASB_WORKER_SHUTDOWN_SECONDS must be between 0 and 3600")
        return cls(http_address=address("ASB_WORKER_HTTP_ADDRESS", cls.http_address),
                   temporal_metrics_address=address("ASB_TEMPORAL_METRICS_ADDRESS", cls.temporal_metrics_address),
                   shutdown_seconds=shutdown)


def _host_port(name: str, value: str) -> str:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{name} must be host:port (e.g. 127.0.0.1:9464) or off, not {value!r}")
    return value


def metrics_runtime(address: str | None) -> Runtime | None:
    """A Temporal runtime whose SDK metrics (task queue latencies, slots, polls) Prometheus can read at
    `address`; None (the default runtime, no SDK metrics) if not wanted or the address is taken."""
    if address is None:
        return None
    try:
        # Durations in seconds, as Prometheus names them and as deploy/monitoring's alerts and dashboard
        # read them (the SDK's default is milliseconds).
        return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address,
                                                                          durations_as_seconds=True)))
    except Exception as exc:  # noqa: BLE001 - e.g. the port is taken: the worker still runs
        log.warning("the Temporal SDK's metrics are off: cannot listen on %s (%s)", address, type(exc).__name__)
        return None


def activities_for(store: Store, outbox: Path, client: Client) -> list[Any]:
    case_file = CaseFileActivities(store)
    messages = MessageActivities(store, outbox)
    tasks = TaskActivities(client)
    reconciler = ReconcileActivities(store, client)
    monthly = MonthlyActivities(store, outbox)
    staff = StaffActivities(store, outbox)
    return [case_file.record_events, case_file.update_task, messages.send_letter, messages.send_notification,
            messages.park_for_printing, fetch_bank_holidays, tasks.start_task, reconciler.reconcile,
            monthly.monthly_report, staff.notify_staff, staff.send_digests]


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))


def build_worker(client: Client, store: Store, outbox: Path, task_queue: str = TASK_QUEUE,
                 shutdown_seconds: float = 0.0, **options: Any) -> Worker:
    """`shutdown_seconds`: how long running activities may finish after shutdown begins (graceful stop);
    `options` go to temporalio's Worker (a test restarting workers turns off the workflow cache, whose
    sticky queue would otherwise hold the next workflow task for the worker that went)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_for(store, outbox, client),
        activity_executor=ThreadPoolExecutor(max_workers=8),
        workflow_runner=workflow_runner(),
        graceful_shutdown_timeout=timedelta(seconds=shutdown_seconds),
        **options,
    )


async def start_up(client: Client, store: Store, task_queue: str = TASK_QUEUE, profile: str | None = None) -> None:
    """What a worker does once it polls: the reconciler's and the staff digest's Schedules and one
    reconcile pass at once, and the monthly performance report's Schedule for the landlord's profile
    (ASB_PROFILE, as the API reads it)."""
    await ensure_reconcile_schedule(client, task_queue)
    await ensure_digest_schedule(client, task_queue)
    from profiles import load

    name = profile or os.environ.get("ASB_PROFILE", "default")
    await ensure_monthly_schedule(client, task_queue, load(name).name, load(name).calendar.timezone)
    try:
        result = await reconcile_once(store, client)
    except Exception as exc:  # e.g. the case file is down: the Schedule's next run tries again
        log.warning("reconcile at start-up did not finish (the Schedule will retry): %s", type(exc).__name__)
        return
    log.info("reconcile at start-up: %s", result.model_dump())


async def run_worker(settings: TemporalSettings | None = None, ops: WorkerSettings | None = None) -> None:
    """Poll until SIGTERM or SIGINT, then stop gracefully: no new tasks, running activities get
    ops.shutdown_seconds to finish (the rest are retried by Temporal on another worker)."""
    ops = ops or WorkerSettings.from_env()
    runtime = metrics_runtime(ops.temporal_metrics_address)
    client = await (settings or TemporalSettings.from_env()).connect(runtime)
    store = Store.from_env()
    store.upgrade()
    metrics.watch_case_file(metrics.REGISTRY, store)
    outbox = default_state_dir() / "outbox"
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stopping.set)
    worker = build_worker(client, store, outbox, shutdown_seconds=ops.shutdown_seconds)
    readiness = Readiness(client, store, worker_running=lambda: worker.is_running,
                          sdk_metrics_address=ops.temporal_metrics_address if runtime is not None else None)
    async with ops_server(readiness, ops.http_address), worker:
        await start_up(client, store)
        await stopping.wait()
        log.info("stopping: no new tasks; running activities get %.0fs to finish", ops.shutdown_seconds)
    store.dispose()


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker())


if __name__ == "__main__":
    main()
