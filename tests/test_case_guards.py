"""Every refused command returns its reason and leaves the case exactly as it was."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from casefile.db import Store
from clients.caseclient import APPLICATIONS_CLOSED_REASON, send_command, start_case
from profiles import load
from statemachine.commands import Actor, ReportArgs

_refs = itertools.count(500000)

@pytest.fixture
def env(fresh_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """Each test on a time-skipping server of its own (tests/conftest.py `fresh_env`)."""
    return fresh_env


@pytest.fixture
def task_queue(fresh_task_queue: str) -> str:
    return fresh_task_queue


OFFICER = Actor(role="officer", id="o1")


async def _case(env: WorkflowEnvironment, task_queue: str, profile: str = "reading", **report: Any
                ) -> WorkflowHandle[Any, Any]:
    ref = f"ASB-2026-{next(_refs):06d}"
    args = {"category": "noise", "officer": "o1", "reporter": {"id": "r1"}, "reported_person": {"id": "p1"}}
    args.update(report)
    return await start_case(env.client, ref, load(profile), ReportArgs.model_validate(args),
                            task_queue=task_queue, search_attributes=False)


async def _do(handle: WorkflowHandle[Any, Any], command: str, actor: Actor = OFFICER, **args: Any) -> None:
    result = await send_command(handle, command, args, actor)
    assert result.accepted, result.reason


async def _refused(store: Store, handle: WorkflowHandle[Any, Any], command: str, says: str,
                   actor: Actor = OFFICER, **args: Any) -> None:
    before = await handle.query("status", result_type=dict)
    accepted_before = await _accepted_updates(handle)
    result = await send_command(handle, command, args, actor)
    assert not result.accepted
    assert result.reason is not None and says in result.reason, result.reason
    assert await handle.query("status", result_type=dict) == before
    # A refusal never enters the workflow's history.
    assert await _accepted_updates(handle) == accepted_before


async def _accepted_updates(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    return sum(1 for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes"))


async def _investigating(env: WorkflowEnvironment, task_queue: str, **report: Any) -> WorkflowHandle[Any, Any]:
    handle = await _case(env, task_queue, **report)
    await _do(handle, "record_risk_assessment", level="medium")
    await _do(handle, "convert_to_case")
    return handle


async def test_conversion_needs_a_risk_assessment_and_an_officer(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    handle = await _case(env, task_queue, officer=None)
    await _refused(store, handle, "convert_to_case", "assign an officer first")
    await _do(handle, "assign_officer", Actor(role="manager", id="m1"), officer="o1")  # the manager allocates
    await _refused(store, handle, "convert_to_case", "record a risk assessment first")


async def test_stage_rules(env: WorkflowEnvironment, store: Store, task_queue: str) -> None:
    handle = await _case(env, task_queue)
    await _refused(store, handle, "record_case_review", "not allowed at the enquiry stage", decision="continue")
    await _refused(store, handle, "request_closure", "not allowed at the enquiry stage", reason="asb_stopped")
    await _refused(store, handle, "start_intervention", "only an urgent (high-risk) enquiry", kind="mediation")
    await _refused(store, handle, "conclude_legal_action", "not allowed at the enquiry stage", outcome="x")


async def test_urgent_enquiry_may_go_straight_to_interventions(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    handle = await _case(env, task_queue, hate=True)
    await _do(handle, "start_intervention", kind="verbal_warning")
    assert (await handle.query("status", result_type=dict))["stage"] == "interventions"


async def test_legal_action_needs_a_current_equality_assessment(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    handle = await _investigating(env, task_queue)
    await _refused(store, handle, "propose_legal_action", "record an Equality Act assessment first",
                   kind="injunction")
    await _do(handle, "record_equality_assessment")
    await _do(handle, "record_incident")
    await _refused(store, handle, "propose_legal_action",
                   "new information since the Equality Act assessment (a new incident)", kind="injunction")


async def test_legal_approval_needs_the_right_role_and_another_person(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    handle = await _investigating(env, task_queue)
    await _do(handle, "record_equality_assessment")
    manager = Actor(role="manager", id="m1")
    await _do(handle, "propose_legal_action", actor=manager, kind="possession_order")
    status = await handle.query("status", result_type=dict)
    assert status["pending_approvals"][0]["role"] == "senior_manager"
    await _refused(store, handle, "approve_legal_action", "needs approval by a senior_manager", actor=manager)
    await _refused(store, handle, "approve_legal_action", "intake staff", actor=Actor(role="intake", id="i1"))
    await _refused(store, handle, "reject_legal_action", "can read cases but not act",
                   actor=Actor(role="auditor", id="a1"))
    await _refused(store, handle, "propose_legal_action", "already awaiting approval", kind="injunction")


async def test_closure_needs_a_reason_and_approval_by_someone_else(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    handle = await _investigating(env, task_queue)
    await _refused(store, handle, "request_closure", "reason", reason="fed_up")
    await _refused(store, handle, "approve_closure", "no closure is awaiting approval",
                   actor=Actor(role="manager", id="m1"))
    manager = Actor(role="manager", id="m1")
    await _do(handle, "request_closure", actor=manager, reason="no_reports")
    await _refused(store, handle, "approve_closure", "nobody may decide their own request", actor=manager)
    await _refused(store, handle, "approve_closure", "needs approval by a manager, not an officer")
    await _refused(store, handle, "request_closure", "already awaiting approval", reason="no_reports")


async def test_a_case_with_open_legal_action_cannot_close(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    handle = await _investigating(env, task_queue)
    await _do(handle, "record_equality_assessment")
    await _do(handle, "propose_legal_action", kind="legal_warning")
    await _do(handle, "approve_legal_action", actor=Actor(role="manager", id="m1"))
    await _refused(store, handle, "request_closure", "legal action is still open (legal_warning)",
                   reason="asb_stopped")


async def test_officers_act_only_on_their_own_cases(env: WorkflowEnvironment, store: Store, task_queue: str) -> None:
    handle = await _case(env, task_queue)
    await _refused(store, handle, "record_contact", "belongs to officer o1", actor=Actor(role="officer", id="o2"),
                   outcome="made", method="phone")


async def test_anonymous_reporter_cannot_be_contacted(env: WorkflowEnvironment, store: Store, task_queue: str) -> None:
    handle = await _case(env, task_queue, reporter={"anonymous": True})
    await _refused(store, handle, "record_contact", "anonymous", outcome="made", method="phone")
    await _refused(store, handle, "agree_action_plan", "anonymous", contact_every_days=7)


async def test_escalation_must_raise_the_risk_and_tightens_first_response(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    handle = await _case(env, task_queue, category="drugs")
    await _refused(store, handle, "escalate_risk", "risk is already medium", risk="low")
    medium_due = (await handle.query("status", result_type=dict))["deadlines"]["first_response"]
    await _do(handle, "escalate_risk", risk="high")
    status = await handle.query("status", result_type=dict)
    assert status["risk"] == "high"
    # Reading: 3 working days for medium, 1 for high, both counted from the report.
    assert status["deadlines"]["first_response"] < medium_due


@pytest.mark.parametrize(
    ("command", "args", "says"),
    [
        ("record_contact", {"outcome": "maybe"}, "outcome"),
        ("record_contact", {"outcome": "made", "colour": "red"}, "colour: unknown argument"),
        ("agree_action_plan", {"contact_every_days": 0}, "contact_every_days"),
        ("teleport", {}, "unknown command 'teleport'"),
        ("start_intervention", {"kind": "stern_look"}, "kind"),
    ],
)
async def test_malformed_arguments_name_the_field(
    env: WorkflowEnvironment, store: Store, task_queue: str, command: str, args: dict[str, Any], says: str
) -> None:
    handle = await _case(env, task_queue, hate=True)
    await _refused(store, handle, command, says, **args)


async def test_a_closed_case_accepts_nothing(env: WorkflowEnvironment, store: Store, task_queue: str) -> None:
    handle = await _case(env, task_queue)
    await _do(handle, "close_enquiry", reason="not_asb")
    assert await handle.result() == "not_asb"
    result = await send_command(handle, "record_contact", {"outcome": "made"}, OFFICER)
    assert (result.accepted, result.reason) == (False, "the case is closed and accepts no more commands")
    # An incident is recorded on a closed case only for an ASB Case Review, within a month of closure.
    result = await send_command(handle, "record_incident", {}, OFFICER)
    assert (result.accepted, result.reason) == (False, APPLICATIONS_CLOSED_REASON)


async def test_rejected_emergency_action_from_an_enquiry_leaves_a_case_not_an_enquiry(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    handle = await _case(env, task_queue, violence_or_threats=True)
    await _do(handle, "record_equality_assessment")
    await _do(handle, "propose_legal_action", kind="legal_warning", emergency=True)
    assert (await handle.query("status", result_type=dict))["stage"] == "legal"
    await _do(handle, "reject_legal_action", actor=Actor(role="manager", id="m1"))
    status = await handle.query("status", result_type=dict)
    assert status["stage"] == "investigation"
    assert "enquiry_expiry" not in status["deadlines"]


@pytest.mark.parametrize(
    ("command", "args", "says"),
    [
        ("record_incident", {"occurred_at": "2026-03-01T22:00:00"}, "occurred_at"),
        ("assign_officer", {"officer": "o" * 65}, "officer"),
        ("record_contact", {"outcome": "made", "method": "carrier pigeon with a very long name"}, "method"),
    ],
)
async def test_arguments_the_case_file_could_not_record_are_refused_up_front(
    env: WorkflowEnvironment, store: Store, task_queue: str, command: str, args: dict[str, Any], says: str
) -> None:
    handle = await _case(env, task_queue)
    await _refused(store, handle, command, says, **args)
    await _do(handle, "record_incident", occurred_at="2026-03-01T22:00:00+00:00")  # the case still works
