"""Record workflow histories for the replay test: `python -m tests.record_histories`.

Plays every scenario in examples/ on the time-skipping server and saves each case's history as
JSON under tests/histories/. Re-record when a deliberate behaviour change lands (behind
`workflow.patched` for running cases), and keep the old files too: they prove the new code still
replays cases started under the old.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from asb.scenario import load_scenario
from asb.simulate import TASK_QUEUE, play, scratch_store, start_time_skipping
from worker import build_worker

HERE = Path(__file__).parent / "histories"
EXAMPLES = Path(__file__).parent.parent / "examples"


async def record(out: Path = HERE) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with scratch_store(None) as (store, outbox):
        env = await start_time_skipping()
        async with env, build_worker(env.client, store, outbox, task_queue=TASK_QUEUE):
            for number, example in enumerate(sorted(EXAMPLES.glob("*.yaml")), start=1):
                scenario, profile = load_scenario(str(example))
                scenario = scenario.model_copy(update={"reference": f"ASB-{scenario.start.year}-{number:06d}"})
                await play(env, store, scenario, profile)
                history = await env.client.get_workflow_handle(scenario.case_reference).fetch_history()
                path = out / f"{example.stem}.json"
                path.write_text(history.to_json(), encoding="utf-8")
                written.append(path)
    return written


if __name__ == "__main__":
    for path in asyncio.run(record(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)):
        print(path)
