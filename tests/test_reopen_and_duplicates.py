"""Reopening a closed case and closing a duplicate, through the real workflow on the time-skipping server
(issue 12 item 6): a closed case waits the profile's `case.reopen_within` for a manager, keeps its
reference and history when reopened, and its clocks count from the reopening; after the period its
workflow has ended and the case stays closed. A duplicate's closure sends no closure letter.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from casefile.db import Store
from casefile.models import CaseNoteRow, CaseRow
from clients.caseclient import CLOSED_REASON
from tests.scenarios import MANAGER, MANAGER_2, new_reference, of, report, run, step


@pytest.fixture
def env(fresh_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """Each test on a time-skipping server of its own (months are skipped)."""
    return fresh_env


@pytest.fixture
def task_queue(fresh_task_queue: str) -> str:
    return fresh_task_queue


START = "2026-03-02T09:30:00+00:00"
OFFICER = {"role": "officer", "id": "o1"}


def _worked_and_closed(reason: str = "no_reports", **closure: Any) -> list[dict[str, Any]]:
    return [
        report(START),
        step("2026-03-03T10:00:00+00:00", "record_contact", outcome="made", method="phone"),
        step("2026-03-03T10:05:00+00:00", "record_risk_assessment", level="low"),
        step("2026-03-03T10:10:00+00:00", "convert_to_case"),
        step("2026-03-04T10:00:00+00:00", "request_closure", reason=reason, **closure),
        step("2026-03-04T11:00:00+00:00", "approve_closure", MANAGER),
    ]


async def test_a_reopened_case_keeps_its_reference_and_history_and_counts_its_clocks_from_then(
    env: WorkflowEnvironment, store: Store, task_queue: str,
) -> None:
    reference = new_reference(START)
    timeline = await run(env, store, task_queue, start=START, until="2026-05-01T00:00:00+00:00", reference=reference,
                         steps=[
        *_worked_and_closed(),
        step("2026-04-10T09:00:00+00:00", "reopen_case", OFFICER, reason="the music has started again"),
        step("2026-04-10T10:00:00+00:00", "reopen_case", MANAGER_2, reason="the music has started again"),
        step("2026-04-11T22:00:00+00:00", "record_incident", occurred_at="2026-04-11T21:30:00+00:00"),
    ])
    closed = of(timeline, "closed")
    assert [(c["at"], c["reason"]) for c in closed] == [("2026-03-04T11:00:00+00:00", "no_reports")]
    assert of(timeline, "rejected", command="reopen_case")[0]["reason"] == (
        "the officer role may not issue reopen_case (allowed: manager, senior_manager)")
    reopened = of(timeline, "reopened")
    assert [(r["at"], r["stage"], r["by"]) for r in reopened] == [("2026-04-10T10:00:00+00:00", "investigation", "m2")]
    # The history before the closure is all still there, and the case works on.
    kinds = [e["event"] for e in timeline]
    assert kinds.index("closed") < kinds.index("reopened") < len(kinds) - 1
    assert of(timeline, "incident", occurred_at="2026-04-11T21:30:00+00:00")
    assert of(timeline, "stage")[-1]["stage"] == "investigation"
    # No deadline fell due for the weeks it was closed: the initial review is two months from the reopening.
    assert not of(timeline, "breach")
    reviews = of(timeline, "deadline", kind="case_review")
    assert reviews[-1]["due"].startswith("2026-06-10")
    assert of(timeline, "deadline", kind="contact")[-1]["due"].startswith("2026-05-11")

    with store.session() as session:
        note = session.scalars(select(CaseNoteRow).where(CaseNoteRow.ref == reopened[0]["reason_ref"])).one()
        assert (note.case_ref, note.text, note.status, note.command) == (
            reference, "the music has started again", "confirmed", "reopen_case")
        row = session.get(CaseRow, reference)  # the same reference, back at work
        assert row is not None and row.stage == "investigation" and row.closed_at is None
        assert row.closure_reason is None
    described = await env.client.get_workflow_handle(reference).describe()
    assert described.status == WorkflowExecutionStatus.RUNNING


async def test_after_the_reopening_period_the_case_stays_closed_and_its_workflow_ends(
    env: WorkflowEnvironment, store: Store, task_queue: str,
) -> None:
    reference = new_reference(START)
    timeline = await run(env, store, task_queue, start=START, until="2026-07-10T00:00:00+00:00", reference=reference,
                         steps=[*_worked_and_closed(),
                                step("2026-07-05T09:00:00+00:00", "reopen_case", MANAGER_2, reason="too late")])
    assert not of(timeline, "reopened")
    assert of(timeline, "rejected", command="reopen_case")[0]["reason"] == CLOSED_REASON
    with store.session() as session:
        row = session.get(CaseRow, reference)
        assert row is not None and row.stage == "closed" and row.closure_reason == "no_reports"
        # The refused reopening kept no note of its reason.
        assert not session.scalars(select(CaseNoteRow).where(CaseNoteRow.case_ref == reference,
                                                             CaseNoteRow.command == "reopen_case")).all()
    described = await env.client.get_workflow_handle(reference).describe()
    assert described.status == WorkflowExecutionStatus.COMPLETED


async def test_a_duplicate_closes_without_a_letter_that_contradicts_the_live_case(
    env: WorkflowEnvironment, store: Store, task_queue: str,
) -> None:
    timeline = await run(env, store, task_queue, start=START, until="2026-03-10T00:00:00+00:00",
                         steps=_worked_and_closed("duplicate", merged_into="ASB-2026-000001"))
    closed = of(timeline, "closed")
    assert [(c["reason"], c.get("merged_into")) for c in closed] == [("duplicate", "ASB-2026-000001")]
    letters = {e["template"] for e in of(timeline, "letter")}
    # The acknowledgement and the letter to the reported person went when the case opened; nothing at closure.
    assert not letters & {"case_closed_reporter", "satisfaction_survey", "case_closed_reported_person"}

    other = await run(env, store, task_queue, start=START, until="2026-03-10T00:00:00+00:00",
                      steps=_worked_and_closed("no_reports"))
    assert {"case_closed_reporter", "satisfaction_survey"} <= {e["template"] for e in of(other, "letter")}
