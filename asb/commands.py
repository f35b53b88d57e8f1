"""Run-time subcommands (simulate, worker, up, lifecycle), registered into the CLI on import."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any


def cmd_simulate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from asb.errors import UsageError
    from asb.scenario import load_scenario
    from asb.simulate import simulate

    scenario, profile = load_scenario(args.scenario)
    out = Path(args.chronology) if args.chronology else None
    if out is not None:
        if not any(step.do == "chronology" for step in scenario.steps):
            raise UsageError(f"--chronology: {args.scenario} has no chronology step")
        if not out.parent.is_dir():
            raise UsageError(f"--chronology: no such folder {out.parent}")
    for event in asyncio.run(simulate(scenario, profile, args.database, chronology=out)):
        print(json.dumps(event))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import worker

    worker.main()
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from asb.up import run_up

    return run_up(args)


def cmd_lifecycle(args: argparse.Namespace) -> int:
    from diagrams.lifecycle import export

    print(export(args.format))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("simulate", help="play a scenario on the time-skipping test server")
    p.add_argument("scenario", help="SCENARIO.yaml")
    p.add_argument("--database", help="case file URL (default: a throwaway SQLite file)")
    p.add_argument("--chronology", metavar="PATH", help="write the chronology step's PDF here")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("worker", help="run the worker against TEMPORAL_ADDRESS")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("up", help="run everything locally: Temporal dev server and worker")
    p.add_argument("--state-dir", default=None, help="where history, the case file and the outbox live (.asb)")
    p.add_argument("--port", type=int, default=7233, help="Temporal frontend port")
    p.add_argument("--ui-port", type=int, default=8233, help="Temporal UI port")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("lifecycle", help="export the case lifecycle as a diagram")
    p.add_argument("--format", choices=["mermaid", "dot", "bpmn"], default="mermaid")
    p.set_defaults(func=cmd_lifecycle)

