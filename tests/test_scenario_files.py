"""Scenario files: malformed ones are refused before anything runs, naming the step and field;
the shipped examples play, and `asb simulate` prints the timeline as JSON lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from asb.cli import main

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.yaml"))

GOOD = """profile: reading
start: 2026-03-02T09:30:00+00:00
until: 2026-03-20T00:00:00+00:00
steps:
  - at: 2026-03-02T09:30:00+00:00
    do: report
    with: {category: noise, reporter: {id: r1}, officer: o1}
  - at: 2026-03-03T10:00:00+00:00
    do: record_contact
    with: {outcome: failed, method: phone}
"""

BAD = {
    "unknown command": (GOOD.replace("do: record_contact", "do: record_contacts"),
                        "steps[1].do: unknown command 'record_contacts'"),
    "missing field": (GOOD.replace("with: {outcome: failed, method: phone}", "with: {method: phone}"),
                      "steps[1].with: record_contact: outcome: Field required"),
    "bad argument value": (GOOD.replace("outcome: failed", "outcome: shrug"), "steps[1].with: record_contact: outcome"),
    "naive time": (GOOD.replace("at: 2026-03-03T10:00:00+00:00", "at: 2026-03-03T10:00:00"),
                   "steps[1].at: time has no time zone"),
    "out of order": (GOOD.replace("at: 2026-03-03T10:00:00+00:00", "at: 2026-03-01T10:00:00+00:00"),
                     "steps[1].at: steps are out of order"),
    "no report first": (GOOD.replace("do: report", "do: assign_officer"), "steps[0].do: the first step"),
    "unknown profile": (GOOD.replace("profile: reading", "profile: nowhere"), "profile: unknown profile"),
    "unknown key": (GOOD + "colour: blue\n", "colour: unknown field"),
    "not yaml": ("steps: [unclosed", "not valid YAML"),
    "missing until": (GOOD.replace("until: 2026-03-20T00:00:00+00:00\n", ""), "until: Field required"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_malformed_scenario_is_refused_naming_step_and_field(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, says = BAD[kind]
    path = tmp_path / "case.yaml"
    path.write_text(text)
    assert main(["simulate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"asb: error: {path}: ")
    assert says in err
    assert len(err.strip().splitlines()) == 1


def test_simulate_prints_the_timeline_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(GOOD)
    asb = str(Path(sys.executable).with_name("asb"))
    done = subprocess.run([asb, "simulate", str(path)], capture_output=True, text=True, check=True, timeout=120)
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0] == {"at": "2026-03-02T09:30:00+00:00", "event": "triage", "outcome": "enquiry",
                         "risk": "low", "category": "noise"}
    assert all("at" in e and "event" in e for e in events)
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)  # virtual-time order
    # The failed call on day two was the first response: no breach, though the reporter was not reached.
    assert {"at": "2026-03-03T10:00:00+00:00", "event": "contact", "outcome": "failed", "method": "phone"} in events
    assert not [e for e in events if e["event"] == "breach" and e["kind"] == "first_response"]


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_scenario_is_valid(example: Path) -> None:
    from asb.scenario import load_scenario

    scenario, profile = load_scenario(str(example))
    assert scenario.steps[0].do == "report" and profile.name
