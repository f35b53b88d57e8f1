"""How big a case's Temporal history grows, and how long `asb simulate` takes.

    .venv/bin/python -m benchmarks.case_history

Plays a one-year case with monthly contacts, monthly reviews and an incident a fortnight on the
time-skipping server and counts its history events and bytes (continue-as-new bounds a run; this
measures the growth rate that sets how often a case continues). Then times the six-month example
scenario end to end, as `asb simulate` runs it.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from asb.scenario import Scenario
from asb.simulate import TASK_QUEUE, play, scratch_store, start_time_skipping
from profiles import load
from worker import build_worker

ROOT = Path(__file__).resolve().parent.parent


def one_year_scenario() -> Scenario:
    start = datetime.fromisoformat("2026-01-05T09:30:00+00:00")
    steps: list[dict[str, Any]] = [
        {"at": start.isoformat(), "do": "report", "with": {
            "category": "noise", "officer": "o1", "reporter": {"id": "r1"}, "reported_person": {"id": "p1"}}},
        {"at": (start + timedelta(hours=1)).isoformat(), "do": "record_contact", "with": {"outcome": "made"}},
        {"at": (start + timedelta(hours=2)).isoformat(), "do": "record_risk_assessment", "with": {"level": "low"}},
        {"at": (start + timedelta(hours=3)).isoformat(), "do": "convert_to_case"},
    ]
    day = start + timedelta(days=1)
    end = start + timedelta(days=365)
    n = 0
    while day < end:
        n += 1
        steps.append({"at": day.isoformat(), "do": "record_incident", "as": {"role": "intake", "id": "i1"}})
        if n % 2 == 0:
            steps.append({"at": (day + timedelta(hours=1)).isoformat(), "do": "record_contact",
                          "with": {"outcome": "made"}})
            steps.append({"at": (day + timedelta(hours=2)).isoformat(), "do": "record_case_review",
                          "with": {"decision": "continue"}})
        day += timedelta(days=14)
    return Scenario.model_validate({"profile": "reading", "start": start.isoformat(), "until": end.isoformat(),
                                    "steps": steps, "reference": "ASB-2026-000001"})


async def case_year() -> dict[str, Any]:
    scenario = one_year_scenario()
    with scratch_store(None) as (store, outbox):
        env = await start_time_skipping()
        async with env, build_worker(env.client, store, outbox, task_queue=TASK_QUEUE):
            began = time.perf_counter()
            timeline = await play(env, store, scenario, load("reading"))
            took = time.perf_counter() - began
            history = await env.client.get_workflow_handle(scenario.case_reference).fetch_history()
    return {"commands": len(scenario.steps), "timeline_events": len(timeline),
            "history_events": len(history.events), "history_bytes": len(history.to_json()),
            "seconds": round(took, 2)}


def simulate_six_months(runs: int = 5) -> list[float]:
    times = []
    asb = str(Path(sys.executable).with_name("asb"))
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([asb, "simulate", str(ROOT / "examples" / "six-month-case.yaml")], check=True,
                       capture_output=True)
        times.append(time.perf_counter() - began)
    return times


def main() -> None:
    print("one case-year:", asyncio.run(case_year()))
    times = simulate_six_months()
    print(f"asb simulate six-month-case.yaml: median {statistics.median(times):.2f}s, "
          f"min {min(times):.2f}s, max {max(times):.2f}s over {len(times)} runs")


if __name__ == "__main__":
    main()
