"""Building scenarios in tests: the same format as `asb simulate` files, without the file."""

from __future__ import annotations

import itertools
from typing import Any

from temporalio.testing import WorkflowEnvironment

from asb.scenario import Scenario
from asb.simulate import play
from casefile.db import Store
from profiles import load

_numbers = itertools.count(1)

REPORTER = {"id": "r1", "anonymous": False, "contact": {"method": "phone"}}


def report(at: str, **args: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"category": "noise", "reporter": REPORTER, "reported_person": {"id": "p1"},
                            "officer": "o1"}
    base.update(args)
    return {"at": at, "do": "report", "with": base}


def step(at: str, do: str, actor: dict[str, str] | None = None, **args: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"at": at, "do": do, "with": args}
    if actor:
        out["as"] = actor
    return out


MANAGER = {"role": "manager", "id": "m1"}
MANAGER_2 = {"role": "manager", "id": "m2"}
SENIOR = {"role": "senior_manager", "id": "s1"}
INTAKE = {"role": "intake", "id": "i1"}


def new_reference(start: str) -> str:
    """A reference no other scenario of this test session uses."""
    return f"ASB-{start[:4]}-{next(_numbers) + 100000:06d}"


async def run(
    env: WorkflowEnvironment, store: Store, task_queue: str, *, start: str, until: str,
    steps: list[dict[str, Any]], profile: str = "reading", reference: str | None = None,
) -> list[dict[str, Any]]:
    reference = reference or new_reference(start)
    scenario = Scenario.model_validate(
        {"profile": profile, "start": start, "until": until, "steps": steps, "reference": reference}
    )
    return await play(env, store, scenario, load(profile), task_queue=task_queue)


def of(timeline: list[dict[str, Any]], event: str, **match: Any) -> list[dict[str, Any]]:
    return [e for e in timeline if e["event"] == event and all(e.get(k) == v for k, v in match.items())]
