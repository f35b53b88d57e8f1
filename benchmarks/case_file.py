"""Case-file figures: how much a two-year case with 50 evidence files takes, and the projection's speed.

    .venv/bin/python -m benchmarks.case_file                    # PostgreSQL, then SQLite
    .venv/bin/python -m benchmarks.case_file --only sqlite      # or --only postgresql

PostgreSQL is ASB_BENCH_DATABASE_URL's server (default postgresql+psycopg://postgres@127.0.0.1:5432/test),
in a database the benchmark creates and drops; SQLite (the embedded default) is a file in a temporary
folder. Each database holds this one case alone, so what its tables take is what the case takes.

1. A two-year case on the time-skipping server, through the real workflow, activities and services: intake
   with a reporter, a witness and the reported person; an action plan of three actions; an incident a
   fortnight (its where, what and who reported it filled in on the projected row, as an officer's edit;
   every third from the Noise App, every sixth with a police reference); a contact, a scored risk
   reassessment and a case review with its reason (a case note) every four weeks; a warning letter and
   an acceptable behaviour contract. 50 evidence files of realistic sizes (benchmarks/evidence_files.py)
   are added with casefile.evidence.add_evidence to a local store in the temporary folder, one a
   fortnight, and two of them are sent again (found by their digest: stored once).

   Printed: each table's rows, the bytes of its rows (pg_column_size / SQLite's payload: near what the case
   adds to a database that already holds many, index entries aside), and what the table takes on disk with
   its indexes and TOAST (pg_total_relation_size / dbstat), as written and after VACUUM FULL / VACUUM,
   against the empty schema (itself compacted); the database's size before and after; the evidence store's
   bytes as uploaded, as stored once per digest and on disk (filesystem blocks); the letters archived in the
   outbox; the case's Temporal history (its current run).
2. On PostgreSQL, the projection's write latency: 1,000 record_events calls of one step each (a command
   event, a domain event, a deadline event), median and p95.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, make_url

from activities.case_file import CaseFileActivities
from activities.contracts import EventBatch, Projection, TimelineEvent
from asb.simulate import start_time_skipping
from benchmarks.evidence_files import PlannedFile, content, plan
from casefile.audit import act_as
from casefile.db import Store
from casefile.evidence import add_evidence
from casefile.evidence_store import EvidenceSettings, LocalEvidenceStore
from casefile.intake import IntakeReport, record_report
from casefile.models import EvidenceRow, IncidentRow
from clients.caseclient import send_command, start_case
from profiles import load
from statemachine.commands import Actor
from worker import build_worker

REFERENCE = "ASB-2026-000777"
OFFICER = Actor(role="officer", id="o1")
INTAKE = Actor(role="intake", id="i1")
#: What a browser declares for each of the benchmark's file formats (add_evidence checks it against the bytes).
MEDIA_TYPES = {"jpeg": "image/jpeg", "mp3": "audio/mpeg", "pdf": "application/pdf", "text": "text/plain"}
#: The files sent a second time, in the two fortnights after the last new file: the reporter emails a
#: photo and a recording the case already has.
RESENT_IN = {51: "photo", 52: "recording"}
FORTNIGHTS = 52


@dataclass
class Played:
    """What the two-year case did, and what its files and letters take outside the database."""

    commands: int = 0
    incidents: int = 0
    uploads: list[int] = field(default_factory=list)
    new_files: Counter[str] = field(default_factory=Counter)
    resent: int = 0
    history_events: int = 0
    history_json_bytes: int = 0


class Case:
    """The two-year case being played: its workflow handle and the time-skipping server's clock."""

    def __init__(self, env: Any, store: Store, handle: Any) -> None:
        self.env = env
        self.store = store
        self.handle = handle
        self.played = Played()

    async def do(self, command: str, args: dict[str, Any], actor: Actor = OFFICER) -> None:
        at = await self.now()
        result = await send_command(self.handle, command, args, actor, store=self.store, at=at)
        if not result.accepted:
            raise RuntimeError(f"the benchmark's case refused {command}: {result.reason}")
        self.played.commands += 1

    async def now(self) -> datetime:
        return (await self.env.get_current_time()).astimezone(UTC).replace(microsecond=0)


async def two_year_case(store: Store, folder: Path) -> Played:
    """Play the case (module docstring, 1.) with its evidence in `folder`/evidence and letters in `folder`/outbox."""
    evidence_store = LocalEvidenceStore(folder / "evidence")
    settings = EvidenceSettings(local_dir=folder / "evidence")
    env = await start_time_skipping()
    async with env, build_worker(env.client, store, folder / "outbox", task_queue="bench"):
        start = (await env.get_current_time()).astimezone(UTC).replace(microsecond=0)
        with store.session() as session, session.begin():
            act_as(session, "intake", "i1")
            report = record_report(session, REFERENCE, "reading", IntakeReport.model_validate({
                "category": "noise", "officer": "o1",
                "reporter": {"name": "Reporter Name", "address": "1 Some Street, Some Town", "postcode": "RG1 1AA",
                             "phone": "0118 496 0000", "email": "reporter@example.org", "contact_method": "email",
                             "consents": {"email": True}},
                "reported_person": {"name": "Reported Person", "address": "2 Some Street, Some Town"},
                "witnesses": [{"name": "Witness Name", "address": "4 Some Street, Some Town"}],
                "incident": {"occurred_at": (start - timedelta(hours=12)).isoformat(),
                             "location": "2 Some Street: rear garden",
                             "description": "Loud music after midnight, most nights this month. " * 6},
            }), start, "i1")
        reporter = report.reporter.id
        handle = await start_case(env.client, REFERENCE, load("reading"), report, task_queue="bench",
                                  search_attributes=False)
        case = Case(env, store, handle)
        await case.do("record_contact", {"outcome": "made", "method": "phone"})
        await case.do("record_risk_assessment", {"scores": {"persistence": 2, "impact": 2, "vulnerability": 0}})
        await case.do("convert_to_case", {})
        day = start.date()
        for what, who, due in [("Visit number 2 and talk to the household about the noise", "officer", 20),
                               ("Keep a diary of the noise, with dates and times, and use the Noise App", "reporter",
                                60),
                               ("Patrol the street on Friday and Saturday evenings", "police", 120)]:
            await case.do("add_action", {"what": what, "who": who, "due": (day + timedelta(days=due)).isoformat()})
        await case.do("agree_action_plan", {"contact_every_days": 30, "contact_method": "phone"})

        files = {f.fortnight: f for f in plan(day)}
        first_of: dict[str, PlannedFile] = {}
        for fortnight in range(1, FORTNIGHTS + 1):
            await env.sleep(timedelta(days=14))
            at = await case.now()
            incident_id = await incident(case, fortnight, at)
            planned = files.get(fortnight)
            if planned is None and fortnight in RESENT_IN:
                planned = first_of[RESENT_IN[fortnight]]
            if planned is not None:
                first_of.setdefault(planned.kind, planned)
                await add_file(case, planned, incident_id, reporter, at, evidence_store, settings)
            if fortnight in (1, 4, 8):
                await case.do("complete_action", {"action": {1: "A1", 4: "A2", 8: "A3"}[fortnight]})
            if fortnight % 2 == 0:
                await monthly(case, fortnight)
            if fortnight == 10:
                await case.do("start_intervention", {"kind": "warning_letter"})
            if fortnight == 26:
                await case.do("start_intervention", {"kind": "acceptable_behaviour_contract"})
        history = await handle.fetch_history()
    case.played.history_events = len(history.events)
    case.played.history_json_bytes = len(history.to_json())
    return case.played


async def incident(case: Case, fortnight: int, at: datetime) -> int:
    """Record the fortnight's incident through its command, then fill in its row as the officer does
    (where, what, who reported it, a police reference): the command carries no free text."""
    occurred = at - timedelta(hours=20)
    await case.do("record_incident", {"occurred_at": occurred.isoformat(), "category": "noise"}, INTAKE)
    case.played.incidents += 1
    for _ in range(600):
        with case.store.session() as session, session.begin():
            row = session.scalars(select(IncidentRow).where(IncidentRow.case_ref == REFERENCE,
                                                            IncidentRow.occurred_at == occurred)).first()
            if row is not None:
                act_as(session, "officer", "o1")
                app = fortnight % 3 == 0
                row.location = "2 Some Street, Some Town: the rear garden and the party wall with number 1"
                row.description = ("Music with heavy bass and shouting from number 2 from about 23:00 until "
                                   "02:00; the reporter's children were woken and could not settle. " * 3).strip()
                row.reported_by = f"noise_app:NA-{20260 + fortnight}" if app else "reporter"
                row.police_reference = f"TV-{fortnight:04d}-26" if fortnight % 6 == 0 else None
                row.evidence = [{"kind": "noise_app", "ref": f"NA-{20260 + fortnight}"}] if app else []
                return row.id
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the incident of fortnight {fortnight} was not projected within 30 s")


async def add_file(case: Case, planned: PlannedFile, incident_id: int, reporter: str | None, at: datetime,
                   store: LocalEvidenceStore, settings: EvidenceSettings) -> None:
    data = content(planned)

    def add() -> bool:
        with case.store.session() as session, session.begin():
            return add_evidence(
                session, REFERENCE, data, filename=planned.filename, kind=planned.kind, role="officer",
                actor_id="o1", media_type=MEDIA_TYPES[planned.form],
                incident_id=incident_id if planned.of_incident else None, description=planned.description,
                provided_by=reporter, store=store, settings=settings, now=at,
            ).created

    created = await asyncio.to_thread(add)
    case.played.uploads.append(len(data))
    if created:
        case.played.new_files[planned.kind] += 1
    else:
        case.played.resent += 1


async def monthly(case: Case, fortnight: int) -> None:
    """Every four weeks: a contact, a scored risk reassessment and a case review with its reason."""
    await case.do("record_contact", {"outcome": "made", "method": "phone" if fortnight % 4 else "visit"})
    persistence = 3 if fortnight < 30 else 2
    await case.do("record_risk_assessment",
                  {"scores": {"persistence": persistence, "impact": 2, "vulnerability": 0}})
    await case.do("record_case_review", {
        "decision": "continue",
        "reason": (f"Month {fortnight // 2}: incidents continue about once a fortnight with recordings and "
                   "photos from the reporter. The action plan is followed; the warning has not stopped the "
                   "parties. Keep open and review next month with the police beat officer."),
    })


# --- sizes ----------------------------------------------------------------------------------------------


@dataclass
class Sizes:
    """What a database takes: its size, and for each table its rows, row bytes and on-disk bytes."""

    database: int
    rows: dict[str, int]
    row_bytes: dict[str, int]
    on_disk: dict[str, int]


def sizes(store: Store) -> Sizes:
    with store.engine.connect() as connection:
        if store.engine.dialect.name == "postgresql":
            return _postgresql_sizes(connection)
        return _sqlite_sizes(connection)


def _quoted(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _postgresql_sizes(connection: Connection) -> Sizes:
    tables = connection.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")).scalars().all()
    rows, row_bytes, on_disk = {}, {}, {}
    for table in tables:
        count, nbytes = connection.execute(text(
            f"SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM {_quoted(connection, table)} t")).one()
        rows[table], row_bytes[table] = int(count), int(nbytes)
        on_disk[table] = int(connection.execute(text("SELECT pg_total_relation_size(CAST(:t AS regclass))"),
                                                {"t": _quoted(connection, table)}).scalar_one())
    database = int(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    return Sizes(database, rows, row_bytes, on_disk)


def _sqlite_sizes(connection: Connection) -> Sizes:
    connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    tables = connection.exec_driver_sql("SELECT name FROM sqlite_schema WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%' ORDER BY name").scalars().all()
    rows, row_bytes, on_disk = {}, {}, {}
    for table in tables:
        rows[table] = int(connection.exec_driver_sql(f"SELECT count(*) FROM {_quoted(connection, table)}").scalar_one())
        payload, pages = connection.exec_driver_sql(
            "SELECT coalesce(sum(CASE WHEN d.name = ? THEN d.payload ELSE 0 END), 0), coalesce(sum(d.pgsize), 0) "
            "FROM dbstat d JOIN sqlite_schema s ON s.name = d.name WHERE s.tbl_name = ?", (table, table)).one()
        row_bytes[table], on_disk[table] = int(payload), int(pages)
    page_size = int(connection.exec_driver_sql("PRAGMA page_size").scalar_one())
    pages = int(connection.exec_driver_sql("PRAGMA page_count").scalar_one())
    return Sizes(page_size * pages, rows, row_bytes, on_disk)


def compact(store: Store) -> None:
    """VACUUM FULL (PostgreSQL) or VACUUM (SQLite): the rows packed, without the dead versions updates leave."""
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM FULL" if store.engine.dialect.name == "postgresql" else "VACUUM")


def evidence_figures(store: Store, folder: Path, played: Played) -> dict[str, Any]:
    root = folder / "evidence"
    local = LocalEvidenceStore(root)
    objects = [local.path(item.digest) for item in local.stored()]
    with store.session() as session:
        referenced = int(session.scalar(select(func.coalesce(func.sum(EvidenceRow.size), 0))
                                        .where(EvidenceRow.case_ref == REFERENCE)) or 0)
    return {
        "uploads": len(played.uploads), "uploaded_bytes": sum(played.uploads),
        "files_on_case": sum(played.new_files.values()), "by_kind": dict(sorted(played.new_files.items())),
        "resent_found_by_digest": played.resent, "bytes_of_files_on_case": referenced,
        "objects_stored": len(objects), "stored_bytes": sum(path.stat().st_size for path in objects),
        "disk_usage_bytes": _blocks(root),
    }


def outbox_figures(folder: Path) -> dict[str, int]:
    files = [path for path in (folder / "outbox").rglob("*") if path.is_file()]
    return {"files": len(files), "bytes": sum(path.stat().st_size for path in files),
            "disk_usage_bytes": _blocks(folder / "outbox")}


def _blocks(root: Path) -> int:
    """Bytes the folder takes on disk (allocated blocks, folders included), as `du` counts them."""
    if not root.exists():
        return 0
    return sum(path.lstat().st_blocks * 512 for path in [root, *root.rglob("*")])


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.2f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KiB"


def report(backend: str, before: Sizes, after: Sizes, packed: Sizes, played: Played, evidence: dict[str, Any],
           letters: dict[str, int]) -> None:
    print(f"\n== two-year case on {backend}: {played.commands} commands, {played.incidents} incidents after "
          f"intake, {evidence['files_on_case']} evidence files; Temporal history {played.history_events} events, "
          f"{_mib(played.history_json_bytes)} as JSON")
    what = ("the table, its indexes and TOAST" if backend == "PostgreSQL" else "the pages of the table and its "
            "indexes")
    print(f"{'table':<24}{'rows':>7}{'row bytes':>12}{'on disk':>12}{'compacted':>12}   (on disk: {what}, "
          "less the empty schema's)")
    totals = [0, 0, 0, 0]
    for table in sorted(after.rows):
        written = after.on_disk[table] - before.on_disk.get(table, 0)
        compacted = packed.on_disk[table] - before.on_disk.get(table, 0)
        if not (after.rows[table] or written or compacted):
            continue
        figures = [after.rows[table], after.row_bytes[table], written, compacted]
        totals = [a + b for a, b in zip(totals, figures, strict=True)]
        print(f"{table:<24}{figures[0]:>7}{figures[1]:>12}{figures[2]:>12}{figures[3]:>12}")
    print(f"{'total':<24}{totals[0]:>7}{totals[1]:>12}{totals[2]:>12}{totals[3]:>12}")
    print(f"database: empty schema {_mib(before.database)}; with the case {_mib(after.database)} "
          f"(+{_mib(after.database - before.database)}); compacted {_mib(packed.database)} "
          f"(+{_mib(packed.database - before.database)})")
    kinds = ", ".join(f"{n} {kind}" for kind, n in evidence["by_kind"].items())
    print(f"evidence: {evidence['uploads']} uploads, {_mib(evidence['uploaded_bytes'])}; "
          f"{evidence['files_on_case']} files on the case ({kinds}), "
          f"{_mib(evidence['bytes_of_files_on_case'])}; {evidence['resent_found_by_digest']} sent again and found by "
          f"digest; store: {evidence['objects_stored']} objects, {_mib(evidence['stored_bytes'])}, "
          f"{_mib(evidence['disk_usage_bytes'])} on disk")
    print(f"letters archived in the outbox: {letters['files']} files, {_mib(letters['bytes'])} "
          f"({_mib(letters['disk_usage_bytes'])} on disk)")
    print("raw:", {"backend": backend, "commands": played.commands, "rows": after.rows, "row_bytes": after.row_bytes,
                   "on_disk_written": after.on_disk, "on_disk_compacted": packed.on_disk,
                   "on_disk_empty_schema": before.on_disk, "database": [before.database, after.database,
                                                                        packed.database],
                   "evidence": evidence, "letters": letters,
                   "history": [played.history_events, played.history_json_bytes]})


def measure_case(store: Store, backend: str) -> None:
    """Play the two-year case on a freshly upgraded `store` and print what it takes."""
    with tempfile.TemporaryDirectory(prefix="asb-bench-case-") as scratch:
        folder = Path(scratch)
        compact(store)  # the migrations' own leftovers (catalogue rows) are not the case's
        before = sizes(store)
        played = asyncio.run(two_year_case(store, folder))
        after = sizes(store)
        evidence, letters = evidence_figures(store, folder, played), outbox_figures(folder)
        compact(store)
        report(backend, before, after, sizes(store), played, evidence, letters)


# --- projection latency ---------------------------------------------------------------------------------


def projection_latency(store: Store, steps: int = 1000) -> dict[str, float]:
    activities = CaseFileActivities(store)
    reference = "ASB-2026-000888"
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    took: list[float] = []
    for step in range(steps):
        seq = step * 3 + 1
        batch = EventBatch(case_ref=reference, events=[
            TimelineEvent(seq=seq, at=at, data={"event": "command", "command": "record_contact", "role": "officer",
                                                "by": "o1"}),
            TimelineEvent(seq=seq + 1, at=at, data={"event": "contact", "outcome": "made", "method": "phone"}),
            TimelineEvent(seq=seq + 2, at=at, data={"event": "deadline", "kind": "contact", "due": at.isoformat()}),
        ], projection=Projection(seq=seq + 2, profile="reading", stage="investigation", outcome="enquiry",
                                 risk="low", category="noise", officer="o1", opened_at=at, closed_at=None,
                                 closure_reason=None, next_deadline=at, overdue=False))
        began = time.perf_counter()
        activities.record_events(batch)
        took.append((time.perf_counter() - began) * 1000)
        at += timedelta(hours=1)
    took.sort()
    return {"steps": steps, "events": steps * 3, "median_ms": round(statistics.median(took), 2),
            "p95_ms": round(took[int(len(took) * 0.95) - 1], 2), "max_ms": round(took[-1], 2)}


# --- running it -----------------------------------------------------------------------------------------


def fresh_database(base: str) -> tuple[str, Any]:
    name = f"asb_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(make_url(base).set(drivername="postgresql").render_as_string(hide_password=False),
                            autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    return make_url(base).set(database=name).render_as_string(hide_password=False), (admin, name)


def on_postgresql(base: str) -> None:
    url, (admin, name) = fresh_database(base)
    store = Store(url)
    try:
        store.upgrade()
        measure_case(store, "PostgreSQL")
        print("\nprojection write latency (PostgreSQL):", projection_latency(store))
    finally:
        store.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def on_sqlite() -> None:
    with tempfile.TemporaryDirectory(prefix="asb-bench-sqlite-") as folder:
        store = Store(f"sqlite:///{folder}/asb.db")
        try:
            store.upgrade()
            measure_case(store, "SQLite")
        finally:
            store.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.case_file", description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=("postgresql", "sqlite"), help="one database (default: both)")
    args = parser.parse_args(argv)
    if args.only in (None, "postgresql"):
        on_postgresql(os.environ.get("ASB_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    if args.only in (None, "sqlite"):
        on_sqlite()


if __name__ == "__main__":
    main()
