"""Running past one machine (issue 14 item 5): two worker processes, as two pods or two hosts would run
them, poll one Temporal dev server's task queue. During a burst of reports and commands one of them is
killed with SIGKILL, mid-work; the other finishes every case, and nothing is lost or done twice
(tests/faults/support.py `check_nothing_lost`: every case has its workflow and its acknowledgement
letter once, every accepted command is applied once, every timeline is 1..n without a gap).

The workers are real processes (`worker.main()`), each with its own /ready on loopback: the burst
starts only once both say they are polling, and the survivor stops gracefully on SIGTERM at the end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from api.settings import ApiSettings
from casefile.db import Store
from casefile.models import CaseRow, MessageRow
from tests.api_support import Tokens, report
from tests.faults.support import DevServer, Ledger, WorkerProcess, api_for, burst, check_nothing_lost, until
from tests.faults.test_faults import _connect, _record, own_database  # noqa: F401 (a fixture)

#: More reports than the fault suite's single-worker burst: enough that both workers hold work when one dies.
REPORTS = 16
CASES = 4
COMMANDS_PER_CASE = 4


async def _ready(worker: WorkerProcess) -> bool:
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(f"{worker.http}/ready")).status_code == 200
    except httpx.HTTPError:
        return False


async def _metric(worker: WorkerProcess, name: str) -> float:
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{worker.http}/metrics")).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


@pytest.fixture
async def two_workers(tmp_path: Path, own_database: str) -> AsyncIterator[tuple[DevServer, list[WorkerProcess], Store]]:  # noqa: F811
    server = DevServer(tmp_path / "temporal.db")
    await server.start()
    store = Store(own_database)
    store.upgrade()
    await _connect(server.address)  # healthy now, so the workers' own connects succeed
    workers = []
    for name in ("worker-a", "worker-b"):
        state = tmp_path / name
        state.mkdir()
        workers.append(WorkerProcess(server.address, own_database, state, name=name))
    try:
        for worker in workers:
            worker.start()
        yield server, workers, store
    finally:
        for worker in workers:
            worker.kill9()
        await server.kill()
        store.dispose()


async def test_two_workers_one_killed_mid_burst_the_other_finishes_every_case(
    two_workers: tuple[DevServer, list[WorkerProcess], Store], tmp_path: Path
) -> None:
    started = time.monotonic()
    server, (doomed, survivor), store = two_workers
    await until(lambda: _all_ready(doomed, survivor), "both workers to be ready (Temporal and the case file reached)")
    client = await _connect(server.address)
    state = tmp_path / "api"
    settings = ApiSettings(profile="reading", state_dir=state, command_timeout_seconds=8.0, start_timeout_seconds=4.0)
    app = create_app(settings, client, store)
    tokens = Tokens(state)
    killed_at: list[datetime] = []
    async with api_for(app) as api:
        # Open cases until both workers have worked some (asb_cases_opened_total on each one's /metrics):
        # the kill then lands on a worker that holds cases, not an idle one.
        opened: list[str] = []
        while len(opened) < CASES or not await _both_counted(doomed, survivor):
            assert len(opened) < 40, "one worker never picked up any work"
            answer = await api.post("/reports", json=report(), headers=tokens("intake", "i1"))
            assert answer.status_code == 201, answer.text
            opened.append(answer.json()["reference"])
        cases = opened[:CASES]
        ledger = Ledger()

        async def kill_one() -> None:
            await asyncio.sleep(1.0)  # mid-burst: reports and commands are in flight on both workers
            doomed.kill9()
            killed_at.append(datetime.now(UTC))

        await burst(api, tokens, ledger, cases, reports=REPORTS, commands_per_case=COMMANDS_PER_CASE,
                    fault=kill_one)
        assert doomed.process is not None and doomed.process.returncode == -9
        figures = await check_nothing_lost(store, client, ledger, cases)

    def after_kill() -> tuple[int, int]:
        with store.session() as session:
            cases_total = session.scalar(select(func.count()).select_from(CaseRow)) or 0
            sent_after = session.scalar(select(func.count()).select_from(MessageRow).where(
                MessageRow.sent_at > killed_at[0])) or 0
        return int(cases_total), int(sent_after)

    total, sent_after = await asyncio.to_thread(after_kill)
    assert total == len(opened) + REPORTS == figures["cases"]
    # Work continued after the kill: only the survivor was left to send these.
    assert sent_after >= 1
    assert await _ready(survivor)
    # The survivor stops gracefully on SIGTERM (as Kubernetes and compose stop it): exit status 0.
    survivor.stop()
    assert survivor.process is not None and survivor.process.returncode == 0
    _record("two workers, one kill -9", {**figures, "letters_sent_after_kill": sent_after}, started)


async def _both_counted(*workers: WorkerProcess) -> bool:
    return all([await _metric(worker, "asb_cases_opened_total") >= 1 for worker in workers])


async def _all_ready(*workers: WorkerProcess) -> bool:
    return all([await _ready(worker) for worker in workers])
