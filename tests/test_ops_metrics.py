"""Health, readiness and metrics (issue 14 item 2), on the real stack: the API on the time-skipping
server with a worker of its own, PostgreSQL, and the worker's own HTTP server on a loopback port with
the Temporal SDK's Prometheus exporter behind it.

Scraped while cases are opened and a command is refused, the counters are there and move; no label
carries a case reference or a name; /ready answers 503 with its reason when Temporal or the case file
cannot be reached.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.ops import Readiness, ops_app
from casefile import metrics
from casefile.db import Store
from clients.caseclient import start_case
from profiles import load
from statemachine.commands import ReportArgs
from tests.api_support import Tokens, report
from tests.faults.support import free_port
from tests.polling import eventually
from tests.scenarios import of, run
from tests.scenarios import report as scenario_report
from worker import WorkerSettings, build_worker, metrics_runtime, ops_server


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(value for (sample, got), value in samples.items()
               if sample == name and set(labels.items()) <= set(got))


async def _scrape(api: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = await api.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return _samples(answer.text)


async def test_api_health_ready_and_metrics_move_as_cases_open_and_a_command_is_refused(
    api: httpx.AsyncClient, state_dir: Path, store: Store
) -> None:
    metrics.watch_case_file(metrics.REGISTRY, store)
    health = await api.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = await api.get("/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}

    tokens = Tokens(state_dir)
    before = await _scrape(api)
    refs = []
    for _ in range(2):
        opened = await api.post("/reports", json=report(), headers=tokens("intake", "i1"))
        assert opened.status_code == 201, opened.text
        refs.append(opened.json()["reference"])
    # One report with no officer: the manager gets an allocation task (open tasks, by kind and role).
    unallocated = report()
    del unallocated["officer"]
    opened = await api.post("/reports", json=unallocated, headers=tokens("intake", "i1"))
    assert opened.status_code == 201, opened.text
    refs.append(opened.json()["reference"])
    refused = await api.post(f"/cases/{refs[0]}/commands/convert_to_case", json={"args": {}},
                             headers=tokens("officer", "o1"))
    assert refused.status_code == 409, refused.text

    async def opened_counted() -> bool:
        now = await _scrape(api)
        return _total(now, "asb_cases_opened_total") >= _total(before, "asb_cases_opened_total") + 3

    await eventually(opened_counted, what="the three cases opened to be counted")
    after = await _scrape(api)
    # Each new case was triaged once, counted by outcome and risk (the activity counts new events only).
    assert _total(after, "asb_cases_opened_total") - _total(before, "asb_cases_opened_total") == 3
    outcomes = {dict(labels)["outcome"] for (name, labels) in after if name == "asb_cases_opened_total"}
    assert outcomes <= metrics.OUTCOMES | {metrics.OTHER} and outcomes
    # The refusal, by its command.
    assert (_total(after, "asb_commands_refused_total", command="convert_to_case")
            == _total(before, "asb_commands_refused_total", command="convert_to_case") + 1)
    # Each case sent its acknowledgement letter (the outbox adapter delivers it).
    async def letters_counted() -> bool:
        now = await _scrape(api)
        return (_total(now, "asb_letters_total", status="sent")
                >= _total(before, "asb_letters_total", status="sent") + 3)

    await eventually(letters_counted, what="the acknowledgements to be counted as sent")
    after = await _scrape(api)
    # Request latency, by route template: the reports door was timed three times more.
    posted = ("asb_api_request_seconds_count", "/reports", "POST", "2xx")
    def count(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
        return _total(samples, posted[0], route=posted[1], method=posted[2], status=posted[3])
    assert count(after) >= count(before) + 3
    assert _total(after, "asb_api_request_seconds_count", route="/cases/{ref}/commands/{command}",
                  status="4xx") >= 1
    # Open tasks from the case file (gauge at scrape time): the unallocated case's task is open.
    assert _total(after, "asb_open_tasks", kind="allocation", role="manager") >= 1
    # No personal data and no case reference in any label value.
    text = (await api.get("/metrics")).text
    for forbidden in (*refs, "Alice", "Bob", "07700", "High Street"):
        assert forbidden not in text


async def test_the_worker_serves_health_ready_and_its_temporal_sdk_metrics(
    env: WorkflowEnvironment, store: Store, outbox: Path
) -> None:
    sdk_address = f"127.0.0.1:{free_port()}"
    runtime = metrics_runtime(sdk_address)
    assert runtime is not None
    target = env.client.service_client.config.target_host
    client = await Client.connect(target, namespace=env.client.namespace, runtime=runtime,
                                  data_converter=pydantic_data_converter)
    ops_address = f"127.0.0.1:{free_port()}"
    queue = f"ops-{uuid.uuid4().hex[:8]}"
    worker = build_worker(client, store, outbox, task_queue=queue)
    readiness = Readiness(client, store, worker_running=lambda: worker.is_running, sdk_metrics_address=sdk_address)
    async with ops_server(readiness, ops_address) as server, httpx.AsyncClient(
            base_url=f"http://{ops_address}", timeout=30) as http:
        assert server is not None
        assert (await http.get("/health")).json() == {"status": "ok"}
        not_polling = await http.get("/ready")
        assert not_polling.status_code == 503
        assert "the worker is not polling" in not_polling.json()["detail"]
        async with worker:
            ready = await http.get("/ready")
            assert ready.status_code == 200, ready.text

            # A case on this worker's queue, so it has workflow tasks to time.
            ref = f"ASB-2026-{uuid.uuid4().int % 10**6:06d}"
            args = ReportArgs.model_validate({"category": "noise", "officer": "o1", "reporter": {"id": "r1"},
                                              "reported_person": {"id": "p1"}})
            await start_case(client, ref, load("reading"), args, task_queue=queue)
            bucket = f'temporal_workflow_task_schedule_to_start_latency_bucket{{namespace="{client.namespace}"'

            async def sdk_metrics() -> bool:
                text = (await http.get("/metrics")).text
                return bucket in text and "asb_cases_opened_total" in text

            await eventually(sdk_metrics, what="the Temporal SDK's metrics beside ours")
            text = (await http.get("/metrics")).text
            # In seconds, as the alert rules and the dashboard read them (the SDK's default is milliseconds).
            assert re.search(r'temporal_workflow_task_schedule_to_start_latency_bucket\{[^}]*task_queue="'
                             + queue + r'"[^}]*le="0\.1"\}', text), text[:2000]
        # Only the worker's own endpoints.
        assert (await http.get("/cases")).status_code == 404


async def test_ready_answers_503_naming_what_cannot_be_reached(store: Store) -> None:
    """A case file on a port nobody listens on, and a Temporal client to a dead address."""
    dead = free_port()
    client = await Client.connect(f"127.0.0.1:{dead}", lazy=True)
    nowhere = Store(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=2")
    try:
        problems = await Readiness(client, nowhere).problems()
    finally:
        nowhere.dispose()
    assert any(p.startswith("Temporal is not reachable") for p in problems), problems
    assert any(p.startswith("the case file is not reachable") for p in problems), problems
    # The reasons name the dependency and the kind of error only, never an address or a password.
    assert str(dead) not in " ".join(problems)


async def test_a_taken_port_costs_only_the_endpoint(store: Store, env: WorkflowEnvironment) -> None:
    """Two workers on one machine with the default address: the second runs without its HTTP server."""
    address = f"127.0.0.1:{free_port()}"
    readiness = Readiness(env.client, store)
    async with ops_server(readiness, address) as first, ops_server(readiness, address) as second:
        assert first is not None and second is None


def test_worker_settings_refuse_a_bad_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASB_WORKER_HTTP_ADDRESS", "9464")
    with pytest.raises(ValueError, match="ASB_WORKER_HTTP_ADDRESS must be host:port"):
        WorkerSettings.from_env()
    monkeypatch.setenv("ASB_WORKER_HTTP_ADDRESS", "off")
    monkeypatch.setenv("ASB_WORKER_SHUTDOWN_SECONDS", "10")
    settings = WorkerSettings.from_env()
    assert settings.http_address is None and settings.shutdown_seconds == 10


def test_labels_outside_the_allow_lists_are_other() -> None:
    """A value that is not a known kind (here a case reference and a name) never becomes a label."""
    assert metrics.allowed("ASB-2026-000123", metrics.DEADLINE_KINDS) == "other"
    assert metrics.allowed("Alice Example", metrics.COMMAND_NAMES) == "other"
    assert metrics.allowed("convert_to_case", metrics.COMMAND_NAMES) == "convert_to_case"
    assert metrics.allowed("first_response", metrics.DEADLINE_KINDS) == "first_response"
    assert metrics.allowed(None, metrics.RISKS) == "other"


async def test_a_missed_first_response_moves_the_breach_counter_and_the_open_overdue_tasks(
    fresh_env: WorkflowEnvironment, store: Store, fresh_task_queue: str
) -> None:
    """On the time-skipping server: a report nobody contacts breaches its first-response deadline once
    (Reading: 5 working days, 003 §5), and the manager's overdue task is among the open tasks."""
    metrics.watch_case_file(metrics.REGISTRY, store)
    app = ops_app(Readiness(fresh_env.client, store))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://worker.test") as http:
        async def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            return _samples((await http.get("/metrics")).text)

        before = await scrape()
        start = "2026-03-02T09:30:00+00:00"
        timeline = await run(fresh_env, store, fresh_task_queue, start=start, until="2026-03-11T00:00:00+00:00",
                             steps=[scenario_report(start)])
        assert of(timeline, "breach", kind="first_response")
        after = await scrape()
    assert (_total(after, "asb_breaches_total", kind="first_response")
            == _total(before, "asb_breaches_total", kind="first_response") + 1)
    assert (_total(after, "asb_open_tasks", kind="overdue", role="manager")
            >= _total(before, "asb_open_tasks", kind="overdue", role="manager") + 1)
