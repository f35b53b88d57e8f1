"""What each command puts on the case's timeline, exactly: the events officers, managers and the letters
service act on (statemachine/lifecycle.py, pure: no Temporal). The workflow tests check the same through
Temporal; these are fast enough for the mutation run (scripts/mutate) to try every change against them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from policy.periods import Period
from profiles import load
from statemachine import Actor, Lifecycle, Refused
from statemachine.commands import ReportArgs

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
O1, O2 = Actor(role="officer", id="o1"), Actor(role="officer", id="o2")
M1, M2, S1 = Actor(role="manager", id="m1"), Actor(role="manager", id="m2"), Actor(role="senior_manager", id="s1")


class Case:
    """One case on the reading profile; each command an hour after the last."""

    def __init__(self, **report: Any) -> None:
        args: dict[str, Any] = {"category": "noise", "officer": "o1", "reported_person": {"id": "p1"},
                                "reporter": {"id": "r1", "contact": {"method": "email"}}}
        args.update(report)
        self.lc, _ = Lifecycle.start("ASB-2026-000001", ReportArgs.model_validate(args), load("reading"), NOW)
        self.now = NOW

    def do(self, command: str, actor: Actor = O1, **args: Any) -> list[dict[str, Any]]:
        self.now += timedelta(hours=1)
        events = self.lc.apply(command, args, actor, self.now).events
        assert events[0] == {"event": "command", "command": command, "role": actor.role, "by": actor.id}
        return events[1:]

    def refused(self, command: str, actor: Actor = O1, **args: Any) -> str:
        before = self.lc.facts.model_dump()
        with pytest.raises(Refused) as refused:
            self.do(command, actor, **args)
        assert self.lc.facts.model_dump() == before
        return refused.value.reason

    @property
    def facts(self) -> Any:
        return self.lc.facts


def _converted() -> Case:
    case = Case()
    assert case.do("record_contact", outcome="made", method="phone") == [
        {"event": "contact", "outcome": "made", "method": "phone"}]
    assert case.do("record_risk_assessment", level="medium") == [{"event": "risk_assessment", "level": "medium"}]
    assert case.do("convert_to_case") == [
        {"event": "stage", "stage": "investigation"},
        {"event": "letter", "template": "initial_letter_reported_person", "to": "reported_person"}]
    assert case.facts.converted_at == NOW + timedelta(hours=3)
    return case


def test_officers_plans_and_interventions() -> None:
    case = _converted()
    assert case.do("assign_officer", officer="o2") == [{"event": "officer", "officer": "o2"}]
    assert case.facts.officer == "o2"
    assert "the case belongs to officer o2" in case.refused("assign_officer", O1, officer="o1")
    assert case.do("assign_officer", O2, officer="o1") == [{"event": "officer", "officer": "o1"}]
    assert case.do("agree_action_plan", contact_every_days=7, contact_method="phone") == [
        {"event": "letter", "template": "action_plan", "to": "reporter"},
        {"event": "notification", "channel": "email", "template": "action_plan"}]
    assert (case.facts.contact_every_days, case.facts.contact_method) == (7, "phone")
    assert case.do("start_intervention", kind="warning_letter") == [
        {"event": "stage", "stage": "interventions"}, {"event": "intervention", "kind": "warning_letter"},
        {"event": "letter", "template": "warning_letter", "to": "reported_person"}]
    assert case.do("start_intervention", kind="mediation") == [{"event": "intervention", "kind": "mediation"}]
    assert case.facts.interventions == ["warning_letter", "mediation"]


def test_a_case_review_to_consider_closure_starts_monitoring_and_continuing_ends_it() -> None:
    case = _converted()
    assert case.do("record_case_review", decision="consider_closure") == [
        {"event": "case_review", "decision": "consider_closure"}]
    assert case.facts.monitoring_since == case.now and case.facts.last_review_at == case.now
    assert case.do("record_case_review", decision="continue") == [{"event": "case_review", "decision": "continue"}]
    assert case.facts.monitoring_since is None and case.facts.last_review_at == case.now


def test_legal_action_proposed_approved_concluded_and_rejected() -> None:
    case = _converted()
    case.do("start_intervention", kind="warning_letter")
    assert case.do("record_equality_assessment") == [{"event": "equality_assessment"}]
    assert case.do("propose_legal_action", kind="possession_order") == [
        {"event": "legal_action", "kind": "possession_order", "status": "proposed", "emergency": False},
        {"event": "task", "kind": "legal_approval", "role": "senior_manager", "after_the_event": False,
         "approval": "approval-2"}]  # ids share one counter per case: legal-1, then approval-2
    (pending,) = case.facts.pending
    assert (pending.id, pending.kind, pending.role, pending.requested_by, pending.requested_at,
            pending.legal_action_id) == ("approval-2", "legal_approval", "senior_manager", "o1", case.now, "legal-1")
    (action,) = case.facts.legal_actions
    assert (action.id, action.kind, action.status, action.emergency, action.stage_before) == (
        "legal-1", "possession_order", "proposed", False, "interventions")
    assert case.refused("propose_legal_action", kind="legal_warning") == "a legal action is already awaiting approval"
    assert case.refused("approve_legal_action", M1) == "needs approval by a senior_manager, not a manager"
    assert case.do("approve_legal_action", S1) == [
        {"event": "legal_action", "kind": "possession_order", "status": "approved", "emergency": False},
        {"event": "stage", "stage": "legal"},
        {"event": "letter", "template": "letter_before_action", "to": "reported_person"}]
    assert case.facts.pending == [] and action.status == "approved"
    assert case.do("conclude_legal_action", outcome_ref="N-1") == [
        {"event": "legal_action", "kind": "possession_order", "status": "concluded"}]
    assert (action.status, action.outcome) == ("concluded", "N-1")
    assert case.refused("conclude_legal_action", outcome_ref="N-2") == "no approved legal action is open"
    assert "outcome is required" in case.refused("conclude_legal_action")
    assert case.do("propose_legal_action", kind="legal_warning") == [
        {"event": "legal_action", "kind": "legal_warning", "status": "proposed", "emergency": False},
        {"event": "task", "kind": "legal_approval", "role": "manager", "after_the_event": False,
         "approval": "approval-4"}]
    assert case.do("reject_legal_action", M1) == [
        {"event": "legal_action", "kind": "legal_warning", "status": "rejected", "emergency": False},
        {"event": "stage", "stage": "interventions"}]
    assert [a.status for a in case.facts.legal_actions] == ["concluded", "rejected"]
    assert case.refused("reject_legal_action", M1) == "no legal action is awaiting approval"


def test_a_legal_warning_sends_a_legal_warning_letter_and_an_emergency_goes_straight_to_legal() -> None:
    case = _converted()
    case.do("record_equality_assessment")
    case.do("propose_legal_action", kind="legal_warning")
    assert case.do("approve_legal_action", M1)[-1] == {"event": "letter", "template": "legal_warning",
                                                       "to": "reported_person"}
    urgent = Case(hate=True)
    urgent.do("record_equality_assessment")
    assert urgent.do("propose_legal_action", kind="injunction", emergency=True) == [
        {"event": "legal_action", "kind": "injunction", "status": "proposed", "emergency": True},
        {"event": "task", "kind": "legal_approval", "role": "senior_manager", "after_the_event": True,
         "approval": "approval-2"},
        {"event": "stage", "stage": "legal"}]
    assert urgent.facts.converted_at == urgent.now
    assert urgent.do("reject_legal_action", S1)[-1] == {"event": "stage", "stage": "investigation"}


def test_closure_is_requested_rejected_and_approved_by_another_manager() -> None:
    case = _converted()
    assert case.do("request_closure", reason="asb_stopped") == [
        {"event": "task", "kind": "closure_approval", "role": "manager", "reason": "asb_stopped",
         "approval": "approval-1"}]
    assert case.refused("request_closure", reason="no_reports") == "closure is already awaiting approval"
    assert case.refused("reject_closure", O1) == "needs approval by a manager, not an officer"
    assert case.do("reject_closure", M1) == [{"event": "decision", "kind": "closure_approval", "decision": "rejected"}]
    assert case.facts.pending == []
    assert case.refused("approve_closure", M1) == "no closure is awaiting approval: request_closure first"
    assert case.refused("reject_closure", M1) == "no closure is awaiting approval"
    case.do("request_closure", M1, reason="no_reports")
    assert case.refused("approve_closure", M1) == "nobody may decide their own request: another manager must"
    assert case.do("approve_closure", M2) == [
        {"event": "decision", "kind": "closure_approval", "decision": "approved"},
        {"event": "stage", "stage": "closed"}, {"event": "closed", "reason": "no_reports"},
        {"event": "letter", "template": "case_closed_reporter", "to": "reporter"},
        {"event": "notification", "channel": "email", "template": "case_closed_reporter"},
        {"event": "letter", "template": "satisfaction_survey", "to": "reporter"},
        {"event": "notification", "channel": "email", "template": "satisfaction_survey"},
        {"event": "letter", "template": "case_closed_reported_person", "to": "reported_person"}]
    assert (case.facts.closed_at, case.facts.closure_reason, case.facts.pending) == (case.now, "no_reports", [])
    assert case.refused("record_incident", M1) == "the case is closed and accepts no more commands"


def test_an_escalated_approval_needs_the_role_it_went_to() -> None:
    case = _converted()
    case.do("request_closure", reason="asb_stopped")
    at = case.now + timedelta(days=8)
    decision = case.lc.on_task_escalated("approval-1", "T9", "closure_approval", "senior_manager", at)
    assert decision.events == [{"event": "escalation", "task": "T9", "kind": "closure_approval",
                                "role": "senior_manager"}]
    (pending,) = case.facts.pending
    assert (pending.escalated_to, pending.escalated_at) == ("senior_manager", at)
    assert case.refused("approve_closure", M2) == "needs approval by a senior_manager, not a manager"
    other = case.lc.on_task_escalated(None, "T10", "overdue", "manager", at)
    assert other.events[0]["kind"] == "overdue" and pending.escalated_to == "senior_manager"


def test_who_decides_and_how_long_they_have_come_from_the_profile() -> None:
    lc = Case().lc
    assert lc.task_terms("asb_case_review") == (["officer", "manager", "senior_manager"], Period(count=28, unit="days"))
    assert lc.task_terms("closure_approval") == (["officer", "manager", "senior_manager"],
                                                 Period(count=5, unit="working_days"))
    assert [lc.legal_approver(k) for k in ("legal_warning", "injunction", "possession_order")] == [
        "manager", "senior_manager", "senior_manager"]


def test_the_asb_case_review_task_ends_when_resolved() -> None:
    case = _converted()
    for _ in range(2):
        case.do("record_incident", Actor(role="intake", id="i1"))
    assert case.do("request_asb_case_review", applicant="individual") == [
        {"event": "asb_case_review", "applicant": "individual", "status": "requested"},
        {"event": "task", "kind": "asb_case_review", "role": "manager"}]
    assert case.facts.asb_case_review_since == case.now
    case.lc.on_task_resolved("overdue")
    assert case.facts.asb_case_review_since == case.now
    case.lc.on_task_resolved("asb_case_review")
    assert case.facts.asb_case_review_since is None
