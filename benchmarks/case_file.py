"""Case-file figures on PostgreSQL:

    ASB_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python -m benchmarks.case_file

1. A two-year case (intake with people and an incident description, monthly contact and review,
   an incident a fortnight with its description, an intervention) on the time-skipping server:
   the rows and bytes it takes in the case file, and its Temporal history (events and bytes).
2. The projection's write latency: 1,000 record_events calls of one step each (a command event,
   a domain event, a deadline event), median and p95.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from activities.case_file import CaseFileActivities
from activities.contracts import EventBatch, Projection, TimelineEvent
from asb.simulate import start_time_skipping
from casefile.audit import act_as
from casefile.db import Store
from casefile.intake import IntakeReport, record_report
from casefile.models import IncidentRow
from clients.caseclient import send_command, start_case
from profiles import load
from statemachine.commands import Actor
from worker import build_worker

TABLES = ["cases", "case_parties", "people", "consents", "incidents", "contacts", "risk_assessments",
          "interventions", "case_events", "tasks", "messages", "case_notes", "audit_log"]


def fresh_database(base: str) -> tuple[str, Any]:
    name = f"asb_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(make_url(base).set(drivername="postgresql").render_as_string(hide_password=False),
                            autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    return make_url(base).set(database=name).render_as_string(hide_password=False), (admin, name)


async def two_year_case(store: Store) -> dict[str, Any]:
    officer = Actor(role="officer", id="o1")
    env = await start_time_skipping()
    async with env, build_worker(env.client, store, __import__("pathlib").Path("/tmp/asb-bench-outbox"),
                                 task_queue="bench"):
        now = (await env.get_current_time()).astimezone(UTC)
        reference = "ASB-2026-000777"
        with store.session() as session, session.begin():
            act_as(session, "intake", "i1")
            report = record_report(session, reference, "reading", IntakeReport.model_validate({
                "category": "noise", "officer": "o1",
                "reporter": {"name": "Reporter Name", "address": "1 Some Street, Some Town", "postcode": "RG1 1AA",
                             "email": "reporter@example.org", "contact_method": "email", "consents": {"email": True}},
                "reported_person": {"name": "Reported Person", "address": "2 Some Street, Some Town"},
                "incident": {"occurred_at": now.isoformat(), "description": "Loud music after midnight. " * 8},
            }), now, "i1")
        handle = await start_case(env.client, reference, load("reading"), report, task_queue="bench",
                                  search_attributes=False)
        for command, args in [("record_contact", {"outcome": "made", "method": "phone"}),
                              ("record_risk_assessment", {"level": "medium"}), ("convert_to_case", {})]:
            assert (await send_command(handle, command, args, officer, store=store, at=now)).accepted
        commands = 3
        for fortnight in range(1, 53):
            await env.sleep(timedelta(days=14))
            at = now + timedelta(days=14 * fortnight)
            with store.session() as session, session.begin():
                session.add(IncidentRow(case_ref=reference, occurred_at=at, category="noise",
                                        description="Music and shouting until 2am. " * 6, recorded_at=at,
                                        evidence=[{"kind": "noise_app", "ref": f"NA-{fortnight}"}]))
            await send_command(handle, "record_incident", {}, Actor(role="intake", id="i1"), store=store, at=at)
            commands += 1
            if fortnight % 2 == 0:
                await send_command(handle, "record_contact", {"outcome": "made", "method": "phone"}, officer,
                                   store=store, at=at)
                await send_command(handle, "record_case_review", {"decision": "continue"}, officer, store=store,
                                   at=at)
                commands += 2
            if fortnight == 10:
                await send_command(handle, "start_intervention", {"kind": "warning_letter"}, officer, store=store,
                                   at=at)
                commands += 1
        history = await handle.fetch_history()
    rows: dict[str, int] = {}
    size = 0
    with store.engine.connect() as connection:
        for table in TABLES:
            key = "reference" if table == "cases" else "case_ref"
            if table == "people":
                where = ("id IN (SELECT person_id FROM case_parties WHERE case_ref = :ref)")
            elif table == "consents":
                where = "case_ref = :ref"
            else:
                where = f"{key} = :ref"
            count, nbytes = connection.execute(
                text(f"SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM {table} t WHERE {where}"),
                {"ref": reference}).one()
            rows[table] = int(count)
            size += int(nbytes)
    return {"commands": commands, "case_file_rows": rows, "case_file_bytes": size,
            "history_events": len(history.events), "history_json_bytes": len(history.to_json())}


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


def main() -> None:
    base = os.environ.get("ASB_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    url, (admin, name) = fresh_database(base)
    store = Store(url)
    try:
        store.upgrade()
        print("two-year case:", asyncio.run(two_year_case(store)))
        print("projection write latency:", projection_latency(store))
    finally:
        store.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
