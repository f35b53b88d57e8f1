"""The real parts the fault tests break: a Temporal dev server with its history in a file (killed with
SIGKILL and restarted on the same file and port), a worker in its own process (killed with SIGKILL), a
throwaway PostgreSQL cluster of the test's own (stopped and started; never the machine's server on
5432), and the API in the test's process on the real client and case file.

`check_nothing_lost` is what every fault test ends with: every case row has its workflow, every
accepted command's text is in the case file, each case's timeline is 1..n with no gap or repeat, every
accepted command was applied exactly once, and no letter went twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError

from asb.devserver import start_dev_server
from casefile.db import Store
from casefile.models import CaseNoteRow, CaseRow, EventRow, MessageRow
from tests.api_support import Tokens, report

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 180.0) -> None:
    """Poll a condition with a generous deadline (never a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)


# ------------------------------------------------------------------------------------------ Temporal


@dataclass
class DevServer:
    """The dev server with history in `db_file`: kill() is SIGKILL, start() reopens the same file."""

    db_file: Path
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.process = await start_dev_server(self.db_file, self.port, None)

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: the server and anything it spawned
            await self.process.wait()


# ------------------------------------------------------------------------------------------ the worker


@dataclass
class WorkerProcess:
    """`python -c 'import worker; worker.main()'` against the dev server and the case file, as deployed."""

    temporal: str
    database_url: str
    state_dir: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    #: The worker's /health, /ready and /metrics on a loopback port of its own (ASB_WORKER_HTTP_ADDRESS),
    #: and the Temporal SDK's exporter on another: never the defaults, which other processes may hold.
    http_port: int = field(default_factory=free_port)
    sdk_metrics_port: int = field(default_factory=free_port)
    name: str = "worker"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        env = {**os.environ, "TEMPORAL_ADDRESS": self.temporal, "ASB_DATABASE_URL": self.database_url,
               "ASB_STATE_DIR": str(self.state_dir), "ASB_WORKER_HTTP_ADDRESS": f"127.0.0.1:{self.http_port}",
               "ASB_TEMPORAL_METRICS_ADDRESS": f"127.0.0.1:{self.sdk_metrics_port}"}
        self.starts += 1
        log = open(self.state_dir / f"{self.name}-{self.starts}.log", "wb")  # noqa: SIM115 (lives with the process)
        self.process = subprocess.Popen([sys.executable, "-c", "import worker; worker.main()"], cwd=ROOT, env=env,
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()


# ------------------------------------------------------------------------------------------ PostgreSQL


@dataclass
class ThrowawayPostgres:
    """A cluster of the test's own under a temporary folder, on a free port (never 5432)."""

    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def bindir(self) -> str:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                       key=lambda p: [int(x) for x in p.split("/")[4].split(".")])
        if not found:
            raise AssertionError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (scripts/postgres "
                                 "installs them)")
        return found[-1]

    def _run(self, *args: str) -> None:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/faults"

    def create(self) -> None:
        assert self.port != 5432
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self._run(f"{self.bindir}/initdb", "-D", str(self.folder / "data"), "-A", "trust", "-U", "postgres")
        self.start()
        self._run(f"{self.bindir}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "faults")

    def start(self) -> None:
        self._run(f"{self.bindir}/pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-w",
                  "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._run(f"{self.bindir}/pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


# ------------------------------------------------------------------------------------------ the burst


@dataclass
class Ledger:
    """What the doors accepted: the reference of every report key, the command keys and their notes."""

    reports: dict[str, str] = field(default_factory=dict)
    #: (case, command, key) -> the note sent with it (or None)
    commands: dict[tuple[str, str, str], str | None] = field(default_factory=dict)
    answers: Counter[int] = field(default_factory=Counter)
    #: Requests whose connection was dropped or reset: an outage must still be answered (issue 9 item 11).
    dropped: int = 0
    #: Error answers that were not the documented JSON, or a 503 without Retry-After.
    undocumented: list[str] = field(default_factory=list)
    #: (sent, answered) loop times of every accepted request, to show the fault met requests in flight.
    spans: list[tuple[float, float]] = field(default_factory=list)

    def in_flight_during(self, start: float, end: float) -> int:
        """How many accepted requests were under way at some moment between start and end."""
        return sum(1 for sent, answered in self.spans if sent < end and answered > start)


OK = (200, 201, 202)


async def send_until_accepted(send: Callable[[], Awaitable[httpx.Response]], ledger: Ledger,
                              timeout: float = 240.0) -> httpx.Response:
    """A client that retries with the same Idempotency-Key until the answer is yes (as the README says)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    sent = loop.time()
    while True:
        try:
            answer = await send()
        except httpx.HTTPError:
            answer = None
            ledger.dropped += 1
        if answer is not None:
            ledger.answers[answer.status_code] += 1
            if answer.status_code >= 400:
                try:
                    documented = "detail" in answer.json()
                except ValueError:
                    documented = False
                if not documented or (answer.status_code == 503 and "retry-after" not in answer.headers):
                    ledger.undocumented.append(f"{answer.status_code}: {answer.text[:80]}")
            if answer.status_code in OK:
                ledger.spans.append((sent, loop.time()))
                return answer
            assert answer.status_code >= 500, answer.text  # a refusal would be a bug here
        if loop.time() > deadline:
            raise AssertionError(f"never accepted: {answer.text if answer is not None else 'no answer'}")
        await asyncio.sleep(0.5)


async def report_once(api: httpx.AsyncClient, tokens: Tokens, ledger: Ledger) -> None:
    key = str(uuid.uuid4())
    body = report()
    answer = await send_until_accepted(
        lambda: api.post("/reports", json=body, headers={**tokens("intake", "i1"), "Idempotency-Key": key}), ledger)
    ledger.reports[key] = answer.json()["reference"]


async def command_once(api: httpx.AsyncClient, tokens: Tokens, ledger: Ledger, ref: str, n: int) -> None:
    key = str(uuid.uuid4())
    if n % 2:
        command, args, note = "record_contact", {"outcome": "made", "method": "phone"}, None
    else:
        note = f"equality note {n} for {ref}: reporter asked for calls after 6pm"
        command, args = "record_equality_assessment", {"note": note}
    await send_until_accepted(
        lambda: api.post(f"/cases/{ref}/commands/{command}", json={"args": args},
                         headers={**tokens("officer", "o1"), "Idempotency-Key": key}), ledger)
    ledger.commands[(ref, command, key)] = note


async def burst(api: httpx.AsyncClient, tokens: Tokens, ledger: Ledger, cases: list[str], *,
                reports: int, commands_per_case: int, fault: Callable[[], Awaitable[None]]) -> None:
    """Reports and commands at once, with the fault let loose while they are under way."""
    # Spread over the first seconds, so some requests always arrive while the fault lasts, however fast
    # the machine: a burst that finished before the fault landed would prove nothing.
    async def report_later(n: int) -> None:
        await asyncio.sleep(0.4 * n)
        await report_once(api, tokens, ledger)

    work: list[Awaitable[None]] = [report_later(n) for n in range(reports)]

    async def commands(ref: str) -> None:
        for n in range(commands_per_case):
            await command_once(api, tokens, ledger, ref, n)
            await asyncio.sleep(0.4)

    work += [commands(ref) for ref in cases]

    async def fault_soon() -> None:
        await asyncio.sleep(0.5)  # the fault lands while the burst is in flight
        await fault()

    await asyncio.gather(*work, fault_soon())


# ------------------------------------------------------------------------------------------ the checks


async def check_nothing_lost(store: Store, client: Client, ledger: Ledger, cases: list[str]) -> dict[str, Any]:
    """The invariants; returns the figures of the run."""
    from activities.reconcile import reconcile_once

    reconciled = await reconcile_once(store, client)  # as the Schedule would within a minute

    def rows() -> list[CaseRow]:
        with store.session() as session:
            return list(session.scalars(select(CaseRow)).all())

    all_cases = await asyncio.to_thread(rows)
    # Every report key opened exactly one case, and every case row has its workflow.
    assert len(set(ledger.reports.values())) == len(ledger.reports)
    assert set(ledger.reports.values()) <= {c.reference for c in all_cases}
    for case in all_cases:
        assert case.started_at is not None, case.reference
        try:
            await client.get_workflow_handle(case.reference).describe()
        except RPCError as exc:  # pragma: no cover - the assertion names the case
            raise AssertionError(f"case {case.reference} has no workflow: {exc.message}") from exc

    expected: Counter[tuple[str, str]] = Counter((ref, command) for ref, command, _key in ledger.commands)
    notes_sent = {(ref, note) for (ref, _c, _k), note in ledger.commands.items() if note}
    refs = [c.reference for c in all_cases]

    def settled() -> bool:
        with store.session() as session:
            events = session.scalars(select(EventRow).where(EventRow.seq.is_not(None))).all()
            by_case: dict[str, list[int]] = {}
            applied: Counter[tuple[str, str]] = Counter()
            for e in events:
                by_case.setdefault(e.case_ref, []).append(int(e.seq or 0))
                if e.kind == "command":
                    applied[(e.case_ref, str(e.data["command"]))] += 1
            contiguous = all(sorted(seqs) == list(range(1, len(seqs) + 1)) for seqs in by_case.values())
            every_case = all(ref in by_case for ref in refs)
            notes = {(n.case_ref, n.text) for n in session.scalars(
                select(CaseNoteRow).where(CaseNoteRow.status == "confirmed")).all()}
            last = {c.reference: c.last_seq for c in session.scalars(select(CaseRow)).all()}
            projected = all(last[ref] == max(by_case.get(ref, [0])) for ref in refs)
            acknowledged = set(session.scalars(select(MessageRow.case_ref)
                                               .where(MessageRow.template == "acknowledgement")).all())
            return (contiguous and every_case and projected and notes_sent <= notes and set(refs) <= acknowledged
                    and all(applied[k] == v for k, v in expected.items()))

    await until(lambda: asyncio.to_thread(settled), "every case's timeline, commands and notes to settle")

    def figures() -> dict[str, Any]:
        with store.session() as session:
            events = session.scalars(select(EventRow).where(EventRow.seq.is_not(None))).all()
            seqs = Counter((e.case_ref, e.seq) for e in events)
            assert max(seqs.values()) == 1  # no event twice (the unique key guarantees it; checked anyway)
            applied = Counter((e.case_ref, str(e.data["command"])) for e in events if e.kind == "command")
            for key, count in expected.items():
                assert applied[key] == count, (key, applied[key], count)  # each accepted command exactly once
            messages = session.scalars(select(MessageRow)).all()
            letters = Counter((m.case_ref, m.template, m.recipient_role, m.channel) for m in messages)
            assert max(letters.values(), default=1) == 1, letters.most_common(3)  # no letter twice
            letter_events = Counter((e.case_ref, e.data["template"]) for e in events if e.kind == "letter")
            acknowledged = Counter(m.case_ref for m in messages if m.template == "acknowledgement")
            for ref in refs:
                assert letter_events[(ref, "acknowledgement")] == 1, ref
                assert acknowledged[ref] <= 1, ref
            pending = session.scalars(select(CaseNoteRow).where(CaseNoteRow.status == "pending")).all()
            return {"cases": len(refs), "reports_accepted": len(ledger.reports),
                    "commands_accepted": len(ledger.commands), "events": len(events),
                    "messages": len(messages), "notes_confirmed": len(notes_sent), "notes_pending": len(pending),
                    "answers": dict(sorted(ledger.answers.items())),
                    "reconciled": reconciled.model_dump(exclude_defaults=True)}

    return await asyncio.to_thread(figures)


@asynccontextmanager
async def api_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test", timeout=120) as client:
        yield client
