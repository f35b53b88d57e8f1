"""Typed timeline events (issue 10 item 3): every kind has a model and a projection, and a kind
nobody knows is an error at the boundary, never a silently dropped case-file row."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from activities.case_file import PROJECTIONS
from activities.contracts import EventBatch
from statemachine.events import EVENT_KINDS, parse_event

HISTORIES = Path(__file__).parent / "histories"

def test_every_event_kind_has_exactly_one_projection_entry() -> None:
    assert set(PROJECTIONS) == set(EVENT_KINDS)

def test_an_unknown_or_misspelt_kind_is_refused() -> None:
    with pytest.raises(ValidationError, match="contcat"):
        parse_event({"event": "contcat", "outcome": "made", "method": "phone"})
    with pytest.raises(ValidationError):
        parse_event({"event": "contact", "outcome": "made"})  # a field missing is named too

def test_a_batch_with_an_unknown_kind_never_reaches_the_case_file() -> None:
    batch = {"case_ref": "ASB-1", "events": [{"seq": 1, "at": "2026-01-05T10:00:00+00:00",
                                               "data": {"event": "risk_asessment", "level": "high"}}],
             "projection": {"seq": 1, "profile": "reading", "stage": "enquiry", "outcome": "enquiry",
                            "risk": "high", "category": "noise", "officer": None,
                            "opened_at": "2026-01-05T10:00:00+00:00", "closed_at": None, "closure_reason": None,
                            "next_deadline": None, "overdue": False}}
    with pytest.raises(ValidationError, match="risk_asessment"):
        EventBatch.model_validate(batch)

def _recorded_events() -> list[dict[str, object]]:
    """Every timeline event the recorded histories sent to the case file."""
    found: list[dict[str, object]] = []
    for path in sorted(HISTORIES.glob("*.json")):
        for event in json.loads(path.read_text(encoding="utf-8"))["events"]:
            attributes = event.get("activityTaskScheduledEventAttributes")
            if not attributes or attributes["activityType"]["name"] != "record_events":
                continue
            for payload in attributes["input"]["payloads"]:

                batch = json.loads(base64.b64decode(payload["data"]))
                found.extend(item["data"] for item in batch["events"])
    return found

def test_recorded_events_keep_their_exact_shape() -> None:
    """Each event the recorded cases wrote parses, and is written back exactly as it was."""
    recorded = _recorded_events()
    assert len({e["event"] for e in recorded}) >= 15
    for data in recorded:
        assert parse_event(data).payload() == data


def test_the_scenario_format_documents_every_event_kind() -> None:
    documented = (Path(__file__).parent.parent / "docs" / "scenarios.md").read_text(encoding="utf-8")
    missing = sorted(kind for kind in EVENT_KINDS if f"| `{kind}` |" not in documented)
    assert missing == [], "add them to the Timeline table of docs/scenarios.md"
