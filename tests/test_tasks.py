"""Manager and officer tasks as workflows: claim, decide, escalate, and what the case makes of it."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from casefile.db import Store
from clients.caseclient import send_command, start_case
from clients.taskclient import TaskRefused, claim_task, decide_task, get_task, list_tasks
from profiles import load
from statemachine.commands import Actor, ReportArgs
from tests.polling import eventually

_refs = itertools.count(600000)

@pytest.fixture
def env(fresh_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """Each test on a time-skipping server of its own (tests/conftest.py `fresh_env`)."""
    return fresh_env


@pytest.fixture
def task_queue(fresh_task_queue: str) -> str:
    return fresh_task_queue


OFFICER = Actor(role="officer", id="o1")
M1 = Actor(role="manager", id="m1")
M2 = Actor(role="manager", id="m2")
SENIOR = Actor(role="senior_manager", id="s1")


async def _case(env: WorkflowEnvironment, task_queue: str) -> WorkflowHandle[Any, Any]:
    ref = f"ASB-2026-{next(_refs):06d}"
    report = ReportArgs.model_validate({"category": "noise", "officer": "o1", "reporter": {"id": "r1"},
                                        "reported_person": {"id": "p1"}})
    handle = await start_case(env.client, ref, load("reading"), report, task_queue=task_queue,
                              search_attributes=False)
    for command, args in [("record_contact", {"outcome": "made", "method": "phone"}),
                          ("record_risk_assessment", {"level": "medium"}), ("convert_to_case", {})]:
        assert (await send_command(handle, command, args, OFFICER)).accepted
    return handle


async def _task_of(store: Store, case_ref: str, kind: str, status: str | None = "open") -> Any:
    """The task once its workflow has taken it up (it sets the due date)."""
    def matching() -> list[Any]:
        with store.session() as session:
            found = list_tasks(session, case_ref=case_ref, status=status)
        return [t for t in found if t.kind == kind and t.due is not None]

    return (await eventually(matching, what=f"a {kind} task for {case_ref}"))[0]


def _row(store: Store, task_id: str) -> Any:
    with store.session() as session:
        return get_task(session, task_id)


async def _row_when(store: Store, task_id: str, until: Any, what: str) -> Any:
    return await eventually(lambda: _row(store, task_id), until, what=what)


async def _timeline_event(store: Store, ref: str, event: str) -> list[dict[str, Any]]:
    return await eventually(lambda: [e for e in store.timeline(ref) if e["event"] == event],
                            what=f"a {event} event on {ref}'s timeline")


async def test_closure_approval_is_claimed_and_decided_from_the_inbox(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    handle = await _case(env, task_queue)
    assert (await send_command(handle, "request_closure", {"reason": "asb_stopped"}, M1)).accepted
    task = await _task_of(store, handle.id, "closure_approval")
    assert (task.role, task.due is not None) == ("manager", True)

    with pytest.raises(TaskRefused, match="for a manager"):
        await claim_task(env.client, task.id, OFFICER, case_officer="o1")
    with pytest.raises(TaskRefused, match="nobody may decide their own request"):
        await decide_task(env.client, store, task, M1, "approve", "looks fine to me", case_officer="o1")
    await claim_task(env.client, task.id, M2, case_officer="o1")
    task = _row(store, task.id)
    assert task.assignee == "m2"
    with pytest.raises(TaskRefused, match="claimed by m2"):  # once claimed, the holder's (issue 9 item 7)
        await decide_task(env.client, store, task, SENIOR, "approve", case_officer="o1")

    with pytest.raises(TaskRefused, match="approve or reject"):
        await decide_task(env.client, store, task, M2, "done", case_officer="o1")
    await decide_task(env.client, store, task, M2, "approve", "no reports for two months", case_officer="o1")

    assert await handle.result() == "asb_stopped"
    row = await _row_when(store, task.id, lambda r: r.status != "open", "the approval's task closed")
    assert (row.status, row.decision, row.decided_by) == ("done", "approved", "m2")


async def test_an_escalated_approval_needs_the_senior_manager(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    handle = await _case(env, task_queue)
    assert (await send_command(handle, "request_closure", {"reason": "no_reports"}, OFFICER)).accepted
    task = await _task_of(store, handle.id, "closure_approval")
    await env.sleep(timedelta(days=14))  # past 5 working days, even over Christmas
    escalated = await _row_when(store, task.id, lambda r: r.role != "manager", "the approval escalated")
    assert (escalated.role, escalated.data.get("escalated")) == ("senior_manager", True)
    with pytest.raises(TaskRefused, match="needs approval by a senior_manager"):
        await decide_task(env.client, store, escalated, M1, "approve", case_officer="o1")
    await decide_task(env.client, store, escalated, SENIOR, "reject", "not yet: one more month of monitoring",
                      case_officer="o1")
    status = await handle.query("status", result_type=dict)
    assert status["stage"] != "closed" and status["pending_approvals"] == []
    timeline = store.timeline(handle.id)
    assert [e["role"] for e in timeline if e["event"] == "escalation"] == ["senior_manager"]


async def test_an_overdue_task_is_resolved_on_the_task_and_the_case_hears_of_it(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    ref = f"ASB-2026-{next(_refs):06d}"
    report = ReportArgs.model_validate({"category": "noise", "officer": "o1", "reporter": {"id": "r1"}})
    handle = await start_case(env.client, ref, load("reading"), report, task_queue=task_queue,
                              search_attributes=False)
    await env.sleep(timedelta(days=14))  # the first response is missed (even over Christmas): an overdue task
    task = await _task_of(store, ref, "overdue")
    with pytest.raises(TaskRefused, match="resolved with done"):
        await decide_task(env.client, store, task, M1, "approve", case_officer="o1")
    await decide_task(env.client, store, task, M1, "done", "called the reporter, apologised", case_officer="o1")
    row = _row(store, task.id)
    assert (row.status, row.decision, row.decided_by) == ("done", "done", "m1")
    resolved = await _timeline_event(store, ref, "task_resolved")
    assert resolved[0]["task"] == task.id and resolved[0]["by"] == "m1"
    with store.session() as session:
        from casefile.models import TaskRow
        assert session.query(TaskRow).filter(TaskRow.key == task.id).one().reason == "called the reporter, apologised"
    assert (await handle.query("status", result_type=dict))["stage"] == "enquiry"


async def test_closing_the_case_cancels_its_open_tasks(env: WorkflowEnvironment, store: Store, task_queue: str) -> None:
    ref = f"ASB-2026-{next(_refs):06d}"
    report = ReportArgs.model_validate({"category": "noise", "officer": "o1", "reporter": {"id": "r1"}})
    handle = await start_case(env.client, ref, load("reading"), report, task_queue=task_queue,
                              search_attributes=False)
    await env.sleep(timedelta(days=14))
    task = await _task_of(store, ref, "overdue")
    assert (await send_command(handle, "close_enquiry", {"reason": "not_asb"}, OFFICER)).accepted
    row = await _row_when(store, task.id, lambda r: r.status != "open", "the task cancelled by the closure")
    assert (row.status, row.decision) == ("cancelled", "cancelled")
    with pytest.raises(TaskRefused):
        await claim_task(env.client, task.id, M1, case_officer="o1")


async def test_asb_case_review_needs_the_threshold_and_is_a_28_day_task(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    handle = await _case(env, task_queue)
    intake = Actor(role="intake", id="i1")
    refused = await send_command(handle, "request_asb_case_review", {}, intake)
    assert not refused.accepted  # intake logs it for the reporter; an officer or manager opens it
    refused = await send_command(handle, "request_asb_case_review", {}, OFFICER)
    assert not refused.accepted and "threshold is not met: 1 incidents" in (refused.reason or "")
    for _ in range(2):
        assert (await send_command(handle, "record_incident", {}, intake)).accepted
    assert (await send_command(handle, "request_asb_case_review", {"applicant": "group"}, OFFICER)).accepted is False
    assert (await send_command(handle, "request_asb_case_review", {}, OFFICER)).accepted
    again = await send_command(handle, "request_asb_case_review", {}, OFFICER)
    assert "already under way" in (again.reason or "")
    task = await _task_of(store, handle.id, "asb_case_review")
    created = [e for e in store.timeline(handle.id) if e["event"] == "task" and e["kind"] == "asb_case_review"][0]
    assert task.due is not None
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")  # 28 days on the London calendar, whatever the clock change does
    days = (task.due.astimezone(london).date()
            - datetime.fromisoformat(created["at"]).astimezone(london).date()).days
    assert days == 28  # 004 §8
    await decide_task(env.client, store, task, M1, "done", "review panel met; recommendations sent", case_officer="o1")
    (resolved,) = await _timeline_event(store, handle.id, "task_resolved")
    assert (resolved["task"], resolved["kind"], resolved["by"]) == (task.id, "asb_case_review", "m1")
    # Once completed, a new application can be made.
    assert (await send_command(handle, "request_asb_case_review", {}, OFFICER)).accepted


# ---------------------------------------------------------------------- allocation (issue 12 item 7)


async def _unallocated(env: WorkflowEnvironment, task_queue: str, **report: Any) -> WorkflowHandle[Any, Any]:
    ref = f"ASB-2026-{next(_refs):06d}"
    args = ReportArgs.model_validate({"category": "noise", "reporter": {"id": "r1"}, **report})
    return await start_case(env.client, ref, load("reading"), args, task_queue=task_queue, search_attributes=False)


async def test_a_report_without_an_officer_is_allocated_by_the_manager_on_the_case(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """003 §8: allocated "to the appropriate Team and Officer", within the first-response period; the task is
    answered by assigning the officer on the case, never by marking it done."""
    handle = await _unallocated(env, task_queue)
    task = await _task_of(store, handle.id, "allocation")
    status = await handle.query("status", result_type=dict)
    assert (task.role, task.data["team"]) == ("manager", "asb")
    assert task.due == datetime.fromisoformat(status["deadlines"]["first_response"])  # 5 working days (low risk)
    refused = await send_command(handle, "assign_officer", {"officer": "o1"}, OFFICER)
    assert not refused.accepted and "a manager's decision" in (refused.reason or "")
    with pytest.raises(TaskRefused, match="this allocation task is answered on the case, by its command"):
        await decide_task(env.client, store, task, M1, "done", case_officer=None)
    assert (await send_command(handle, "assign_officer", {"officer": "o1"}, M1)).accepted
    row = await _row_when(store, task.id, lambda r: r.status != "open", "the allocation task answered")
    assert (row.status, row.decision, row.decided_by) == ("done", "allocated", "m1")
    assert (await handle.query("status", result_type=dict))["officer"] == "o1"
    decided = await _timeline_event(store, handle.id, "decision")
    assert [(d["kind"], d["decision"]) for d in decided] == [("allocation", "allocated")]


async def test_an_allocation_left_undone_goes_up_the_chain_and_is_then_a_breach(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    handle = await _unallocated(env, task_queue, violence_or_threats=True)  # high risk: one working day
    task = await _task_of(store, handle.id, "allocation")
    await env.sleep(timedelta(days=7))  # past two working days, even over a bank holiday weekend
    escalated = await _row_when(store, task.id, lambda r: r.data.get("breached"), "the allocation breached")
    assert (escalated.role, escalated.status, escalated.data.get("escalated")) == ("senior_manager", "open", True)
    timeline = store.timeline(handle.id)
    assert [(e["kind"], e["role"]) for e in timeline if e["event"] == "escalation"] == [
        ("allocation", "senior_manager")]
    assert [b["task"] for b in timeline if b["event"] == "breach" and b["kind"] == "allocation"] == [task.id]
    # Late, but still answered on the case: the senior manager allocates it and the task is done.
    assert (await send_command(handle, "assign_officer", {"officer": "o2"}, SENIOR)).accepted
    row = await _row_when(store, task.id, lambda r: r.status != "open", "the late allocation answered")
    assert (row.status, row.decision, row.decided_by) == ("done", "allocated", "s1")
