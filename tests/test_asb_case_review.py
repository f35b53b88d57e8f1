"""The ASB Case Review about a closed case, on Temporal's time-skipping server with the real workflows and
activities (issue 11 item 10; 003 §10, 004 §8): the closure letters invite one, so a closed case takes an
application for the profile's period after closure, the applicant's reports to the police count, and the
manager who approved the closure does not review it."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from casefile.db import Store
from clients.caseclient import APPLICATIONS_CLOSED_REASON, send_command, start_case
from clients.taskclient import TaskRefused, claim_task, decide_task, list_tasks
from profiles import load
from statemachine.commands import Actor, ReportArgs
from tests.api_support import Tokens
from tests.api_support import report as api_report
from tests.polling import eventually
from tests.scenarios import INTAKE, MANAGER, of, report, run, step


@pytest.fixture
def env(fresh_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """Each test on a time-skipping server of its own: they skip months (tests/conftest.py `fresh_env`)."""
    return fresh_env


@pytest.fixture
def task_queue(fresh_task_queue: str) -> str:
    return fresh_task_queue


START = "2026-03-02T09:30:00+00:00"
#: Converted, two more incidents (three with the report: the threshold for one person), then closed by
#: the officer's request and manager m1's approval on 10 March.
CLOSED = [
    report(START),
    step("2026-03-03T10:00:00+00:00", "record_contact", outcome="made", method="phone"),
    step("2026-03-03T10:05:00+00:00", "record_risk_assessment", level="low"),
    step("2026-03-03T10:10:00+00:00", "convert_to_case"),
    step("2026-03-05T10:00:00+00:00", "record_incident", INTAKE, occurred_at="2026-03-05T09:00:00+00:00"),
    step("2026-03-06T10:00:00+00:00", "record_incident", INTAKE, occurred_at="2026-03-06T09:00:00+00:00"),
    step("2026-03-09T10:00:00+00:00", "request_closure", reason="asb_stopped"),
    step("2026-03-10T10:00:00+00:00", "approve_closure", MANAGER),
]


def _seqs(timeline: list[dict[str, Any]]) -> dict[str, int]:
    """Where each kind of event first appears, in timeline order."""
    found: dict[str, int] = {}
    for number, event in enumerate(timeline):
        found.setdefault(event["event"], number)
    return found


async def test_an_application_about_a_closed_case_within_a_month_is_accepted_and_a_reviewer_tasked(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    tasks_ref = f"ASB-2026-{next(_refs):06d}"
    timeline = await run(env, store, task_queue, start=START, until="2026-05-01T00:00:00+01:00", reference=tasks_ref,
                         steps=[
        *CLOSED,
        # The applicant reported again to the police after the closure; intake records it and the application.
        step("2026-03-20T10:00:00+00:00", "record_incident", INTAKE, source="police",
             occurred_at="2026-03-19T22:00:00+00:00"),
        step("2026-03-25T10:00:00+00:00", "request_asb_case_review", INTAKE, applicant="individual"),
        # A second application after the month, while the first review is still open: the case says why not.
        step("2026-04-15T10:00:00+01:00", "request_asb_case_review", INTAKE, applicant="individual"),
    ])
    assert [c["at"] for c in of(timeline, "closed", reason="asb_stopped")] == ["2026-03-10T10:00:00+00:00"]
    assert [(i["at"], i["source"]) for i in of(timeline, "incident") if "source" in i] == [
        ("2026-03-20T10:00:00+00:00", "police")]
    assert [a["at"] for a in of(timeline, "asb_case_review", status="requested")] == ["2026-03-25T10:00:00+00:00"]
    tasks = of(timeline, "task", kind="asb_case_review")
    assert [(t["at"], t["role"], t["not_by"]) for t in tasks] == [("2026-03-25T10:00:00+00:00", "manager", "m1")]
    order = _seqs(timeline)
    assert order["closed"] < order["asb_case_review"]
    assert [r["reason"] for r in of(timeline, "rejected", command="request_asb_case_review")] == [
        "the case closed on 10 March 2026: an ASB Case Review about it could be applied for within 1 month of its "
        "closure (until 10 April 2026)"]
    # 004 §8: not completed within 28 days is a breach, on the case that is closed.
    assert [b["at"][:10] for b in of(timeline, "breach", kind="asb_case_review")] == ["2026-04-22"]
    with store.session() as session:
        review = [t for t in list_tasks(session, status="open") if t.kind == "asb_case_review"
                  and t.case_ref == tasks_ref]  # this case's: the session's case file is shared
    assert [(t.role, t.data.get("not_by")) for t in review] == [("manager", "m1")]


async def test_an_application_after_the_month_is_refused_and_the_case_workflow_finishes_after_both_periods(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """After the month the case says until when it took applications: its workflow still waits, for the
    reopening period (reading: 3 months, `case.reopen_within`, issue 12 item 6). After both it has
    finished, and the doors answer that the case is closed."""
    timeline = await run(env, store, task_queue, start=START, until="2026-06-20T00:00:00+01:00", steps=[
        *CLOSED,
        step("2026-04-20T10:00:00+01:00", "request_asb_case_review", INTAKE, applicant="individual"),
        step("2026-06-15T10:00:00+01:00", "request_asb_case_review", INTAKE, applicant="individual"),
    ])
    assert [r["reason"] for r in of(timeline, "rejected", command="request_asb_case_review")] == [
        "the case closed on 10 March 2026: an ASB Case Review about it could be applied for within 1 month of its "
        "closure (until 10 April 2026)",
        APPLICATIONS_CLOSED_REASON]
    assert not of(timeline, "asb_case_review")  # (the last answer comes only once the workflow has finished)


async def test_the_applicants_reports_to_the_police_count_toward_the_threshold(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """003 §10: incidents "made to either, the police, local authority ... or a registered social landlord"
    within the period from the first report. Here the first two went to the police before this case opened."""
    timeline = await run(env, store, task_queue, start=START, until="2026-03-10T00:00:00+00:00", steps=[
        report(START),
        step("2026-03-02T10:00:00+00:00", "record_incident", INTAKE, source="police",
             occurred_at="2026-02-10T21:00:00+00:00"),
        step("2026-03-02T10:05:00+00:00", "record_incident", INTAKE, source="police",
             occurred_at="2026-02-20T21:00:00+00:00"),
        step("2026-03-02T11:00:00+00:00", "request_asb_case_review", INTAKE, applicant="individual"),
    ])
    assert not of(timeline, "rejected")
    assert of(timeline, "asb_case_review", applicant="individual", status="requested")
    assert [t["role"] for t in of(timeline, "task", kind="asb_case_review")] == ["manager"]


OFFICER = Actor(role="officer", id="o1")
M1, M2 = Actor(role="manager", id="m1"), Actor(role="manager", id="m2")
#: References no other module uses: the session's case file and Temporal server are shared by every module.
_refs = itertools.count(730000 + uuid.uuid4().int % 9000 * 10)


async def test_the_manager_who_approved_the_closure_may_not_review_it(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    ref = f"ASB-2026-{next(_refs):06d}"
    report_args = ReportArgs.model_validate({"category": "noise", "officer": "o1", "reporter": {"id": "r1"},
                                             "reported_person": {"id": "p1"}})
    handle = await start_case(env.client, ref, load("reading"), report_args, task_queue=task_queue,
                              search_attributes=False)
    for command, args, actor in [
        ("record_contact", {"outcome": "made", "method": "phone"}, OFFICER),
        ("record_risk_assessment", {"level": "medium"}, OFFICER), ("convert_to_case", {}, OFFICER),
        ("record_incident", {}, OFFICER), ("record_incident", {}, OFFICER),
        ("request_closure", {"reason": "asb_stopped"}, OFFICER), ("approve_closure", {}, M1),
    ]:
        result = await send_command(handle, command, args, actor)
        assert result.accepted, (command, result.reason)
    applied = await send_command(handle, "request_asb_case_review", {"applicant": "individual"},
                                 Actor(role="intake", id="i1"))
    assert applied.accepted, applied.reason

    def review_tasks() -> list[Any]:
        with store.session() as session:
            return [t for t in list_tasks(session, case_ref=ref) if t.kind == "asb_case_review" and t.due]

    task = (await eventually(review_tasks, what="the review's task"))[0]
    independent = "m1 approved the closure of the case this review is about"
    with pytest.raises(TaskRefused, match=independent):
        await claim_task(env.client, task.id, M1, case_officer="o1")
    with pytest.raises(TaskRefused, match=independent):
        await decide_task(env.client, store, task, M1, "done", "nothing more to do", case_officer="o1")
    await claim_task(env.client, task.id, M2, case_officer="o1")
    await decide_task(env.client, store, task, M2, "done", "reviewed with the police", case_officer="o1")

    # Told of the review's end, the case finishes once its month after closure has passed.
    assert await handle.result() == "asb_stopped"
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    resolved = [e for e in store.timeline(ref) if e["event"] == "task_resolved"]
    assert [(e["kind"], e["by"]) for e in resolved] == [("asb_case_review", "m2")]


@pytest.fixture
def as_(app: FastAPI, state_dir: Path) -> Tokens:
    return Tokens(state_dir)


async def test_the_api_takes_an_application_about_a_closed_case_from_intake(
    api: httpx.AsyncClient, as_: Tokens
) -> None:
    intake, officer = as_("intake", "i1"), as_("officer", "o1")
    m1, m2 = as_("manager", "m1"), as_("manager", "m2")
    logged = await api.post("/reports", json=api_report(), headers=intake)
    assert logged.status_code == 201, logged.text
    ref = logged.json()["reference"]

    async def do(who: dict[str, str], command: str, **args: Any) -> httpx.Response:
        return await api.post(f"/cases/{ref}/commands/{command}", json={"args": args}, headers=who)

    for who, command, args in [
        (officer, "record_contact", {"outcome": "made", "method": "phone"}),
        (officer, "record_risk_assessment", {"level": "medium"}), (officer, "convert_to_case", {}),
        (m1, "request_closure", {"reason": "asb_stopped"}), (m2, "approve_closure", {}),
    ]:
        response = await do(who, command, **args)
        assert response.status_code == 200, (command, response.text)
    assert response.json()["status"]["stage"] == "closed"

    # Not yet the threshold: the case's own report is its only incident.
    early = await do(intake, "request_asb_case_review", applicant="individual")
    assert early.status_code == 409 and "threshold is not met: 1 incidents" in early.json()["detail"], early.text
    # A new incident is a new report; the applicant's reports to the police are recorded for the review.
    plain = await do(intake, "record_incident")
    assert plain.status_code == 409 and "a new incident is a new report" in plain.json()["detail"], plain.text
    for _ in range(2):
        recorded = await do(intake, "record_incident", source="police")
        assert recorded.status_code == 200, recorded.text
    applied = await do(intake, "request_asb_case_review", applicant="individual")
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"]["stage"] == "closed"

    view = (await api.get(f"/cases/{ref}", headers=officer)).json()
    assert [i["source"] for i in view["incidents"]].count("police") == 2
    review = (await api.get("/tasks", params={"case": ref}, headers=m2)).json()["tasks"]
    (task,) = [t for t in review if t["kind"] == "asb_case_review"]
    own = await api.post(f"/tasks/{task['id']}/decide", json={"decision": "done"}, headers=m2)
    assert own.status_code == 409 and "m2 approved the closure" in own.json()["detail"], own.text
    done = await api.post(f"/tasks/{task['id']}/decide", json={"decision": "done", "reason": "reviewed"},
                          headers=as_("manager", "m3"))
    assert done.status_code == 200, done.text
