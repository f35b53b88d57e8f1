"""Server-side time of the pages people use most, with 10,000 cases in PostgreSQL:

    ASB_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python -m benchmarks.web_pages

A fresh database gets 10,000 cases: 30 logged through the pages' own service (so each has a running
workflow on the time-skipping server, a worker, letters and a timeline), and the rest written straight
into the case file (a case row, two people and their parties, five timeline events each), spread over
40 officers, with officer o1 holding 300 open cases. Then, through the app in-process (no network, so
the figures are the server's own time): "My cases" for o1 (page 1 and deeper pages) and the case page
of the 30 live cases (case file, timeline, letters and the workflow's status query), 300 requests each.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from api.app import create_app
from api.settings import ApiSettings
from asb.simulate import start_time_skipping
from benchmarks.case_file import fresh_database
from casefile.db import Store
from casefile.models import CaseRow, EventRow, PartyRow, PersonRow
from worker import build_worker

TOTAL = 10_000
LIVE = 30
REQUESTS = 300


def seed(store: Store, count: int, now: datetime) -> None:
    rng = random.Random(13)
    stages = ["enquiry", "investigation", "review", "interventions", "closed"]
    with store.session() as session, session.begin():
        for start in range(0, count, 1000):
            cases, people, parties, events = [], [], [], []
            for n in range(start, min(count, start + 1000)):
                ref = f"ASB-2025-{n:06d}"
                officer = "o1" if n < 300 else f"o{2 + n % 39}"
                stage = "enquiry" if n < 300 else rng.choice(stages)
                deadline = now + timedelta(hours=rng.randint(-72, 24 * 40))
                cases.append({"reference": ref, "profile": "reading", "stage": stage, "outcome": "enquiry",
                              "risk": rng.choice(["high", "medium", "low"]), "category": "noise",
                              "hate": n % 17 == 0, "officer": officer, "opened_at": now - timedelta(days=n % 400),
                              "next_deadline": deadline, "overdue": deadline < now, "last_seq": 5,
                              "locked": n % 97 == 0, "version": 1})
                for role in ("reporter", "reported_person"):
                    pid = f"P-{role}-{n}"
                    people.append({"id": pid, "name": f"Person {role} {n}", "postcode": f"RG{n % 9} {n % 10}AB",
                                   "large_print": False, "easy_read": False, "is_employee": False, "version": 1})
                    parties.append({"case_ref": ref, "person_id": pid, "role": role, "anonymous": False})
                for seq, kind in enumerate(["triage", "stage", "letter", "deadline", "deadline"], 1):
                    events.append({"case_ref": ref, "seq": seq, "at": now - timedelta(days=n % 400), "kind": kind,
                                   "data": {"kind": kind}})
            session.execute(insert(CaseRow), cases)
            session.execute(insert(PersonRow), people)
            session.execute(insert(PartyRow), parties)
            session.execute(insert(EventRow), events)


def figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms ({len(ordered)} requests)"


async def run(url: str, state: Path) -> dict[str, Any]:
    store = Store(url)
    store.upgrade()
    env = await start_time_skipping()
    async with env, build_worker(env.client, store, state / "outbox", task_queue="bench-web"):
        app = create_app(ApiSettings(profile="reading", state_dir=state, task_queue="bench-web",
                                     search_attributes=False), env.client, store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as client:
            form = await client.get("/web/sign-in")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token
            signed = await client.post("/web/sign-in", data={"csrf_token": token.group(1), "role": "officer",
                                                              "person": "o1"})
            assert signed.status_code == 303
            live = []
            for _ in range(LIVE):
                page = await client.get("/web/intake/report")
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert csrf
                fields = {"csrf_token": csrf.group(1), "category": "noise", "incident.occurred_at": "2026-01-10T22:30",
                          "anonymous": "no", "reporter.name": "Bench Reporter", "reporter.phone": "07700 900123",
                          "reporter.contact_method": "phone", "officer": "o1", "incidents_last_month": "3"}
                saved = await client.post("/web/intake/report/confirm", data=fields)
                found = re.search(r'id="reference">([^<]+)<', saved.text)
                assert saved.status_code == 200 and found, saved.text[:500]
                live.append(found.group(1))
            seed(store, TOTAL - LIVE, datetime.now(UTC))

            async def timed(path: str, params: dict[str, Any] | None = None) -> float:
                began = time.perf_counter()
                answer = await client.get(path, params=params)
                took = time.perf_counter() - began
                assert answer.status_code == 200, (path, answer.status_code)
                return took

            first = [await timed("/web/my-cases") for _ in range(REQUESTS)]
            deeper = [await timed("/web/my-cases", {"page": 1 + i % 13}) for i in range(REQUESTS)]
            cases = [await timed(f"/web/cases/{live[i % LIVE]}") for i in range(REQUESTS)]
    store.dispose()
    return {"cases in the case file": TOTAL, "my cases, page 1 (o1: 330 open)": figures(first),
            "my cases, pages 1-13": figures(deeper), "case page (live workflow)": figures(cases)}


def main() -> None:
    base = os.environ.get("ASB_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    url, (admin, name) = fresh_database(base)
    state = Path("/tmp") / f"asb-bench-web-{os.getpid()}"
    state.mkdir(parents=True, exist_ok=True)
    try:
        for key, value in asyncio.run(run(url, state)).items():
            print(f"{key}: {value}")
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
