"""Recorded case histories replay with the current workflow code: running cases survive a deploy."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import WORKFLOWS, workflow_runner

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_histories_to_replay() -> None:
    assert len(HISTORIES) >= 5


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_without_nondeterminism(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter,
                        workflow_runner=workflow_runner())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def test_a_changed_workflow_is_caught(tmp_path: Path) -> None:
    """The replay test has teeth: a history whose recorded commands differ fails to replay."""
    source = next(p for p in HISTORIES if p.stem == "six-month-case")
    text = source.read_text(encoding="utf-8").replace('"record_events"', '"record_events_renamed"')
    history = WorkflowHistory.from_json("tampered", text)
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter,
                        workflow_runner=workflow_runner())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
