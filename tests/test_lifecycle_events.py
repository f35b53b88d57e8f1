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
from statemachine.catalogue import parse_args
from statemachine.commands import CommandError, ReportArgs
from statemachine.deadlines import calendar_for, open_deadlines
from statemachine.lifecycle import command_names
from statemachine.patches import ACTION_PLAN_VERSIONS, ALL, EQUALITY_AT_EACH_STEP

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
    # A level given without scores (an older scenario file) is still the assessment; it raises the case's
    # risk, and the next one falls due after the profile's interval for it (reading: medium, 1 month).
    assert case.do("record_risk_assessment", level="medium") == [
        {"event": "risk_assessment", "level": "medium", "next_due": "2026-04-02"},
        {"event": "risk", "risk": "medium", "why": "risk assessment"}]
    assert case.do("convert_to_case") == [
        {"event": "stage", "stage": "investigation"},
        {"event": "letter", "template": "initial_letter_reported_person", "to": "reported_person"}]
    assert case.facts.converted_at == NOW + timedelta(hours=3)
    return case


def test_officers_plans_and_interventions() -> None:
    case = _converted()
    assert case.do("assign_officer", M1, officer="o2", reason_ref="N-1") == [
        {"event": "officer", "officer": "o2", "previous": "o1", "reason_ref": "N-1"}]
    assert case.facts.officer == "o2"
    assert "the case belongs to officer o2" in case.refused("assign_officer", O1, officer="o1")
    assert case.do("assign_officer", M2, officer="o1", reason_ref="N-2") == [
        {"event": "officer", "officer": "o1", "previous": "o2", "reason_ref": "N-2"}]
    assert case.do("agree_action_plan", contact_every_days=7, contact_method="phone") == [
        {"event": "action_plan", "contact_every_days": 7, "contact_method": "phone", "reporters_choice": False,
         "version": 1},
        {"event": "letter", "template": "action_plan", "to": "reporter", "version": 1},
        {"event": "notification", "channel": "email", "template": "action_plan", "version": 1}]
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
    case.do("record_equality_assessment")  # each legal step needs its own (004 §6.4)
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
        # 004 §3.12: the officer's manager signs off legal action; only instructing solicitors and
        # possession or eviction go to the senior role (issue 11 item 7).
        {"event": "task", "kind": "legal_approval", "role": "manager", "after_the_event": True,
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
    assert case.refused("record_contact", M1, outcome="made") == "the case is closed and accepts no more commands"
    assert case.refused("record_incident", M1).startswith("the case is closed: a new incident is a new report")


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
    # 004 §8: a review is completed within 28 days, by a manager; it is a breach on day 28, not escalated.
    assert lc.task_terms("asb_case_review") == (["manager"], Period(count=28, unit="days"))
    assert lc.task_terms("closure_approval") == (["officer", "manager", "senior_manager"],
                                                 Period(count=5, unit="working_days"))
    assert [lc.legal_approver(k) for k in ("legal_warning", "injunction", "possession_order")] == [
        "manager", "manager", "senior_manager"]  # 004 §3.12


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


# --- the ASB Case Review thresholds (003 §10, 004 §4.1; reading: 3 from one person or 5 from a group within
# 6 months of the first report, or 5 hate incidents in the last 3 months; the last incident within 1 month) --

SIX_MONTHS_ON = datetime(2026, 9, 2, 9, 30, tzinfo=UTC)  # NOW + 6 months: the window's last moment


def _incident(case: Case, at: datetime, hate: bool = False) -> None:
    case.do("record_incident", occurred_at=at.isoformat(), hate=hate)


def _apply(case: Case, at: datetime, applicant: str = "individual") -> str | None:
    """Apply for a review at `at`: None if accepted (with its events checked), else the reason."""
    case.now = at - timedelta(hours=1)
    try:
        events = case.do("request_asb_case_review", applicant=applicant)
    except Refused as refused:
        return refused.reason
    assert events == [{"event": "asb_case_review", "applicant": applicant, "status": "requested"},
                      {"event": "task", "kind": "asb_case_review", "role": "manager"}]
    return None


def test_a_case_review_needs_three_incidents_from_one_person_within_six_months_of_the_first_report() -> None:
    case = Case()  # the report itself is the first incident
    _incident(case, NOW + timedelta(days=10))
    _incident(case, SIX_MONTHS_ON + timedelta(minutes=1))  # just outside the window
    assert _apply(case, SIX_MONTHS_ON + timedelta(days=5)) == (
        "the ASB Case Review threshold is not met: 2 incidents within 6 months of the first report (3 needed for "
        "one person), 0 hate incidents in the last 3 months (5 needed)")
    assert case.facts.asb_case_review_since is None
    _incident(case, SIX_MONTHS_ON)  # on the window's last moment: inside
    assert _apply(case, SIX_MONTHS_ON + timedelta(days=5), "group") == (
        "the ASB Case Review threshold is not met: 3 incidents within 6 months of the first report (5 needed for "
        "a group), 0 hate incidents in the last 3 months (5 needed)")
    assert _apply(case, SIX_MONTHS_ON + timedelta(days=5)) is None
    assert case.facts.asb_case_review_since == case.now
    assert case.refused("request_asb_case_review") == "an ASB Case Review is already under way"


def test_a_group_needs_five_incidents() -> None:
    case = Case()
    for day in (1, 2, 3, 4):
        _incident(case, NOW + timedelta(days=day))
    assert _apply(case, NOW + timedelta(days=20), "group") is None


def test_a_case_review_needs_the_last_incident_within_a_month_of_the_application() -> None:
    case = Case()
    for day in (1, 2):
        _incident(case, NOW + timedelta(days=day))
    last = NOW + timedelta(days=2)
    assert _apply(case, datetime(2026, 4, 4, 9, 31, tzinfo=UTC)) == (
        "the last incident was more than 1 month before the application")
    assert _apply(case, datetime(2026, 4, 4, 9, 30, tzinfo=UTC)) is None  # exactly a month after `last`
    assert last == datetime(2026, 3, 4, 9, 30, tzinfo=UTC)


def test_five_hate_incidents_in_the_last_three_months_meet_the_threshold_on_their_own() -> None:
    case = Case()
    late = SIX_MONTHS_ON + timedelta(days=30)  # after the six-month window: only the hate rule can count these
    # Inside the six-month window, but more than 3 months before the application: not a recent hate incident.
    _incident(case, late - timedelta(days=93), hate=True)
    for day in range(4):
        _incident(case, late + timedelta(days=day), hate=True)
    applied = late + timedelta(days=10)
    assert _apply(case, applied) == (
        "the ASB Case Review threshold is not met: 2 incidents within 6 months of the first report (3 needed for "
        "one person), 4 hate incidents in the last 3 months (5 needed)")
    _incident(case, late + timedelta(days=5), hate=True)
    assert _apply(case, applied) is None


def test_a_hate_incident_on_the_first_day_of_the_three_months_and_at_the_application_both_count() -> None:
    case = Case()
    applied = SIX_MONTHS_ON + timedelta(days=40)
    three_months_before = applied - timedelta(days=92)  # 3 calendar months back from 12 October is 12 July
    for at in (three_months_before, applied - timedelta(days=20), applied - timedelta(days=10),
               applied - timedelta(days=1), applied):
        _incident(case, at, hate=True)
    assert _apply(case, applied) is None


# --- incidents, risk, and closing an enquiry ---------------------------------------------------------------


def test_an_incident_is_counted_ends_monitoring_and_a_backdated_one_does_not_move_the_last_incident_back() -> None:
    case = _converted()
    case.do("record_case_review", decision="consider_closure")
    assert case.facts.monitoring_since is not None
    assert case.do("record_incident", Actor(role="intake", id="i1")) == [
        {"event": "incident", "count": 2, "hate": False, "occurred_at": case.now.isoformat(), "category": "noise"}]
    assert (case.facts.incidents, case.facts.last_incident_at, case.facts.monitoring_since) == (2, case.now, None)
    latest = case.now
    backdated = (NOW - timedelta(days=3)).isoformat()
    assert case.do("record_incident", occurred_at=backdated) == [
        {"event": "incident", "count": 3, "hate": False, "occurred_at": backdated, "category": "noise"}]
    assert case.facts.last_incident_at == latest
    assert case.facts.incident_log[-1] == (NOW - timedelta(days=3), False)


def test_a_hate_incident_makes_the_case_high_risk_once() -> None:
    case = _converted()
    assert case.facts.risk != "high"
    incident = {"event": "incident", "hate": True, "category": "noise"}
    first = case.do("record_incident", hate=True)
    assert {k: v for k, v in first[0].items() if k != "occurred_at"} == {**incident, "count": 2}
    assert {"event": "risk", "risk": "high", "why": "hate incident"} in first
    # A hate incident also asks the officer to tell the police (004 §3.5, issue 11 item 11).
    assert {"event": "task", "kind": "tell_police", "role": "officer", "approval": "tell_police"} in first
    assert (case.facts.risk, case.facts.hate) == ("high", True)
    again = case.do("record_incident", hate=True)
    assert {k: v for k, v in again[0].items() if k != "occurred_at"} == {**incident, "count": 3}
    assert not [e for e in again if e["event"] == "risk"]  # high once: a second hate incident raises nothing


def test_telling_the_police_of_a_hate_incident_answers_the_officers_task() -> None:
    # 004 §3.5 "make sure the Police are aware"; 003 §5: a hate report gives the officer a task to tell the
    # police, answered by recording that they were told, with their reference (issue 11 item 11).
    case = Case(hate=True)
    assert case.facts.police_task_open and case.facts.police_told_at is None
    assert case.do("record_police_report", police_reference_ref="PR-1") == [
        {"event": "police_informed", "reference_ref": "PR-1"},
        {"event": "decision", "kind": "tell_police", "decision": "done"}]
    assert case.facts.police_told_at == case.now and case.facts.police_task_open is False
    # Told again later (without a reference this time): recorded, with no task left to answer.
    assert case.do("record_police_report") == [{"event": "police_informed"}]
    assert case.facts.police_told_at == case.now and case.facts.police_task_open is False


def test_risk_can_only_be_escalated_upwards() -> None:
    case = Case()
    assert case.facts.risk == "low"
    assert case.refused("escalate_risk", risk="low") == "risk is already low: escalation must raise it"
    assert case.do("escalate_risk", risk="medium") == [{"event": "risk", "risk": "medium", "why": "escalated"}]
    # Only a red case is assessed again that day (004 §3.5, §3.4): amber keeps its next assessment date.
    assert (case.facts.risk, case.facts.risk_review_on) == ("medium", None)
    assert case.refused("escalate_risk", risk="medium") == "risk is already medium: escalation must raise it"
    assert case.do("escalate_risk", risk="high") == [{"event": "risk", "risk": "high", "why": "escalated"}]
    assert (case.facts.risk, case.facts.risk_review_on) == ("high", case.now.date())


def test_closing_an_enquiry_tells_the_reporter() -> None:
    case = Case()
    assert case.do("close_enquiry", reason="asb_stopped") == [
        {"event": "stage", "stage": "closed"}, {"event": "closed", "reason": "asb_stopped"},
        {"event": "letter", "template": "enquiry_closed", "to": "reporter"},
        {"event": "notification", "channel": "email", "template": "enquiry_closed"}]
    assert (case.facts.closed_at, case.facts.closure_reason) == (case.now, "asb_stopped")


# --- legal action from an urgent enquiry, and rejected where it stood -------------------------------------


def test_an_urgent_enquirys_legal_action_makes_it_a_case_when_approved() -> None:
    urgent = Case(hate=True)
    urgent.do("record_equality_assessment")
    assert urgent.do("propose_legal_action", kind="legal_warning")[0] == {
        "event": "legal_action", "kind": "legal_warning", "status": "proposed", "emergency": False}
    assert (urgent.facts.stage, urgent.facts.converted_at) == ("enquiry", None)
    assert urgent.do("approve_legal_action", M1) == [
        {"event": "legal_action", "kind": "legal_warning", "status": "approved", "emergency": False},
        {"event": "stage", "stage": "legal"},
        {"event": "letter", "template": "legal_warning", "to": "reported_person"}]
    assert urgent.facts.converted_at == urgent.now


def test_an_emergency_action_is_recorded_as_one_and_its_rejection_says_so() -> None:
    urgent = Case(hate=True)
    urgent.do("record_equality_assessment")
    urgent.do("propose_legal_action", kind="injunction", emergency=True)
    (action,) = urgent.facts.legal_actions
    assert (action.emergency, action.stage_before) == (True, "investigation")
    assert urgent.do("reject_legal_action", S1) == [
        {"event": "legal_action", "kind": "injunction", "status": "rejected", "emergency": True},
        {"event": "stage", "stage": "investigation"}]


def test_the_review_meeting_held_after_an_emergency_action_is_recorded_with_its_decision() -> None:
    # 004 §3.12: an emergency action is reviewed "as soon as practical" afterwards, at a case review
    # meeting; the decision records when it was held, whichever way it goes.
    for command, actor, status in (("reject_legal_action", S1, "rejected"), ("approve_legal_action", M1, "approved")):
        urgent = Case(hate=True)
        urgent.do("record_equality_assessment")
        urgent.do("propose_legal_action", kind="injunction", emergency=True)
        meeting = urgent.now + timedelta(days=2)
        assert urgent.do(command, actor, case_review_meeting=meeting.isoformat())[0] == {
            "event": "legal_action", "kind": "injunction", "status": status, "emergency": True,
            "case_review_meeting": "2026-03-04T11:30:00+00:00"}
        assert urgent.facts.legal_actions[0].case_review_meeting == meeting


def test_rejecting_an_action_proposed_during_interventions_leaves_the_case_where_it_is() -> None:
    case = _converted()
    case.do("start_intervention", kind="warning_letter")
    case.do("record_equality_assessment")
    case.do("propose_legal_action", kind="legal_warning")
    assert case.do("reject_legal_action", M1) == [
        {"event": "legal_action", "kind": "legal_warning", "status": "rejected", "emergency": False}]
    assert case.facts.stage == "interventions"


def test_a_legal_outcome_given_as_text_is_not_kept_in_the_case_facts() -> None:
    """The text is personal data held in the case file (a case note); the workflow's facts only say that an
    outcome was recorded, so it never reaches Temporal history."""
    case = _converted()
    case.do("record_equality_assessment")
    case.do("propose_legal_action", kind="legal_warning")
    case.do("approve_legal_action", M1)
    case.do("conclude_legal_action", outcome="Mr X agreed to stop")
    (action,) = case.facts.legal_actions
    assert (action.status, action.outcome) == ("concluded", "recorded")


def test_a_chain_that_names_the_officer_does_not_give_the_officer_two_turns() -> None:
    profile = load("reading")
    own = profile.model_copy(update={"approvals": profile.approvals.model_copy(
        update={"escalation_chain": ["officer", "manager", "senior_manager"]})})
    lc = Case().lc
    lc.profile = own
    assert lc.task_terms("overdue")[0] == ["officer", "manager", "senior_manager"]


# --- malformed commands are refused naming the field (the API and CLI show these to staff) -----------------


def test_a_malformed_command_is_refused_naming_the_argument_and_changing_nothing() -> None:
    case = Case()
    assert case.refused("record_incident", colour="red") == "record_incident: colour: unknown argument"
    assert case.refused("record_contact", outcome="maybe") == (
        "record_contact: outcome: Input should be 'made' or 'failed'")
    assert case.refused("record_incident", occurred_at="2026-03-02T22:00") == (
        "record_incident: occurred_at: Input should have timezone info")
    assert case.refused("conclude_legal_action") == (
        "conclude_legal_action: (arguments): Value error, outcome is required")
    unknown = case.refused("fly")
    assert unknown.startswith("unknown command 'fly'; commands: report, assign_officer, record_incident, ")
    assert unknown.endswith(", request_closure, approve_closure, reject_closure, reopen_case")


# --- a report arriving (Lifecycle.start), contacts, and deadlines ------------------------------------------


def _start(**report: Any) -> tuple[Lifecycle, list[dict[str, Any]]]:
    lc, decision = Lifecycle.start("ASB-2026-000002", ReportArgs.model_validate(report), load("reading"), NOW)
    return lc, decision.events


def test_a_report_opens_an_enquiry_acknowledged_the_way_the_reporter_asked() -> None:
    lc, events = _start(category="noise", officer="o1", channel="web", incidents_last_month=0,
                        reported_person={"id": "p1"}, reporter={"id": "r1", "contact": {"method": "sms"}})
    assert events == [
        {"event": "triage", "outcome": "enquiry", "risk": "low", "category": "noise"},
        {"event": "stage", "stage": "enquiry"},
        {"event": "letter", "template": "acknowledgement", "to": "reporter"},
        {"event": "notification", "channel": "sms", "template": "acknowledgement"}]
    f = lc.facts
    assert (f.reference, f.profile, f.stage, f.outcome, f.risk, f.category, f.hate, f.channel, f.officer) == (
        "ASB-2026-000002", "reading", "enquiry", "enquiry", "low", "noise", False, "web", "o1")
    assert (f.reporter.id, f.reporter.anonymous, f.reporter.contact_method) == ("r1", False, "sms")
    assert f.reported_person is not None and f.reported_person.id == "p1"
    assert (f.received_at, f.last_incident_at, f.incidents, f.closed_at) == (NOW, NOW, 1, None)
    assert lc.state == "enquiry"


def test_a_report_triaged_elsewhere_is_closed_and_the_reporter_told_where_it_went() -> None:
    """003 §4.1: daytime DIY is not ASB (routed to tenant services); at night it is noise."""
    lc, events = _start(category="diy", time_of_day="14:00", reporter={"id": "r1", "contact": {"method": "email"}})
    assert events == [
        {"event": "triage", "outcome": "not_asb", "risk": None, "category": "diy"},
        {"event": "stage", "stage": "closed"},
        {"event": "closed", "reason": "not_asb", "routed_to": "tenant_services"},
        {"event": "referral", "to": "tenant_services", "reason": "not_asb"},  # 003 §4 (issue 11 item 16)
        {"event": "letter", "template": "not_asb_outcome", "to": "reporter"},
        {"event": "notification", "channel": "email", "template": "not_asb_outcome"}]
    assert (lc.facts.closed_at, lc.facts.closure_reason, lc.facts.reported_person) == (NOW, "not_asb", None)
    night, events = _start(category="diy", time_of_day="23:30", reporter={"id": "r1"}, incidents_last_month=3)
    assert events[0] == {"event": "triage", "outcome": "enquiry", "risk": "low", "category": "noise"}
    assert events[-1] == {"event": "letter", "template": "acknowledgement", "to": "reporter"}  # no email asked for
    assert (night.facts.category, night.facts.incidents) == ("noise", 3)


def test_an_early_support_report_is_closed_and_an_anonymous_reporter_gets_no_letter() -> None:
    lc, events = _start(category="one_off_noise", reporter={"anonymous": True}, hate=False)
    assert events == [{"event": "triage", "outcome": "early_support", "risk": None, "category": "one_off_noise"},
                      {"event": "stage", "stage": "closed"}, {"event": "closed", "reason": "early_support"}]
    named, events = _start(category="one_off_noise", reporter={"id": "r1"})
    assert events[-1] == {"event": "letter", "template": "early_support", "to": "reporter"}
    hate, events = _start(category="one_off_noise", hate=True, reporter={"id": "r1"})
    assert (hate.facts.hate, hate.facts.risk, events[0]["outcome"]) == (True, "high", "enquiry")


def test_two_failed_contacts_send_one_unable_to_contact_letter_and_a_made_contact_resets_the_count() -> None:
    """003 §8 stage 1: after 2 attempts by telephone, a letter is sent."""
    case = Case()
    assert case.do("record_contact", outcome="failed") == [
        {"event": "contact", "outcome": "failed", "method": "phone"}]
    first = case.now
    assert (case.facts.first_response_at, case.facts.failed_contacts, case.facts.last_contact_at) == (first, 1, None)
    assert case.do("record_contact", outcome="failed", method="visit") == [
        {"event": "contact", "outcome": "failed", "method": "visit"},
        {"event": "letter", "template": "unable_to_contact", "to": "reporter"},
        {"event": "notification", "channel": "email", "template": "unable_to_contact"}]
    assert (case.facts.failed_contacts, case.facts.unable_letter_at) == (2, case.now)
    assert case.do("record_contact", outcome="failed") == [{"event": "contact", "outcome": "failed", "method": "phone"}]
    assert case.do("record_contact", outcome="made") == [{"event": "contact", "outcome": "made", "method": "phone"}]
    f = case.facts
    assert (f.first_response_at, f.last_contact_at, f.failed_contacts, f.unable_letter_at) == (
        first, case.now, 0, None)


def test_failed_contacts_after_conversion_send_no_enquiry_letter() -> None:
    case = _converted()
    for _ in range(3):
        assert case.do("record_contact", outcome="failed") == [
            {"event": "contact", "outcome": "failed", "method": "phone"}]


def test_a_missed_deadline_is_a_breach_with_an_overdue_task_for_the_first_rank_of_the_chain() -> None:
    case = Case()
    at = case.now + timedelta(days=3)
    for kind in ("first_response", "case_review"):
        assert case.lc.on_deadline(kind, at).events == [
            {"event": "breach", "kind": kind}, {"event": "task", "kind": "overdue", "role": "manager",
                                                "deadline": kind}]
    # A missed contact tasks the officer first, and the manager is told (issue 11 item 14).
    assert case.lc.on_deadline("contact", at).events == [
        {"event": "breach", "kind": "contact"}, {"event": "task", "kind": "overdue", "role": "officer",
                                                 "deadline": "contact"},
        {"event": "notice", "role": "manager", "about": "breach", "kind": "contact"}]
    for kind in ("inactivity", "monitoring"):  # a prompt for the officer, never a breach
        assert Case().lc.on_deadline(kind, at).events == [
            {"event": "task", "kind": "consider_closure", "role": "officer", "why": kind,
             "approval": "consider_closure", "prompt": True}]
    assert case.lc.on_deadline("investigation_end", at).events == []  # not in investigation: nothing to do
    with pytest.raises(KeyError):  # a kind without a catalogue spec is a fault, never silently ignored
        case.lc.on_deadline("something_else", at)
    assert case.facts.stage == "enquiry"


def test_an_enquiry_that_expires_or_cannot_reach_the_reporter_closes_with_a_letter() -> None:
    # An enquiry whose reporter was never reached is not closed by its expiry: the officer decides
    # (issue 11 item 4, 003 stage 1).
    case = Case()
    assert case.lc.on_deadline("enquiry_expiry", case.now + timedelta(days=30)).events == [
        {"event": "enquiry_expired", "decision": "needed"},
        {"event": "task", "kind": "enquiry_decision", "role": "officer", "approval": "enquiry_decision"}]
    assert case.facts.stage == "enquiry"
    for kind, reason, trigger_stage in (("unable_to_contact", "unable_to_contact", "enquiry"),):
        case = Case()
        at = case.now + timedelta(days=30)
        assert case.lc.on_deadline(kind, at).events == [
            {"event": "stage", "stage": "closed"}, {"event": "closed", "reason": reason},
            {"event": "letter", "template": "enquiry_closed", "to": "reporter"},
            {"event": "notification", "channel": "email", "template": "enquiry_closed"}]
        assert (case.facts.closed_at, case.facts.closure_reason, trigger_stage) == (at, reason, "enquiry")
    converted = _converted()
    for kind in ("enquiry_expiry", "unable_to_contact"):
        assert converted.lc.on_deadline(kind, converted.now).events == []
    assert converted.lc.on_deadline("investigation_end", converted.now).events == [
        {"event": "stage", "stage": "review"}]
    assert converted.facts.stage == "review"


def test_what_the_reporter_says_at_intake_reaches_triage() -> None:
    assert _start(category="noise", violence_or_threats=True)[0].facts.risk == "high"
    assert _start(category="noise", incidents_last_month=8)[0].facts.risk == "medium"
    assert _start(category="noise", risk_of_harm=True)[0].facts.risk == "medium"
    routed, _ = _start(category="pets")
    assert (routed.facts.outcome, routed.facts.risk) == ("not_asb", None)
    livewest = load("livewest")  # offers early support to someone who has not tried to resolve it (004 §2.3)
    tried, _ = Lifecycle.start("ASB-3", ReportArgs.model_validate({"category": "noise", "tried_to_resolve": True}),
                               livewest, NOW)
    untried, _ = Lifecycle.start("ASB-4", ReportArgs.model_validate({"category": "noise"}), livewest, NOW)
    assert (tried.facts.outcome, untried.facts.outcome) == ("enquiry", "early_support")


# --- every refusal says why, and changes nothing -------------------------------------------------------


def test_refusals_name_the_rule_that_was_broken() -> None:
    case = Case()
    for role in ("ops", "auditor"):
        assert case.refused("record_incident", Actor(role=role, id="x1")) == (
            f"the {role} role can read cases but not act on them")
    assert case.refused("assign_officer", Actor(role="intake", id="i1"), officer="o2") == (
        "intake staff may log reports, incidents and ASB Case Review applications; an officer or manager issues "
        "this command")
    assert case.refused("record_case_review", decision="continue") == (
        "not allowed at the enquiry stage (allowed at: investigation, review, interventions, legal)")
    assert case.refused("report", category="noise") == "the case already exists: report starts a new case"
    assert case.refused("convert_to_case") == "record a risk assessment first"
    assert case.refused("start_intervention", kind="mediation") == (
        "only an urgent (high-risk) enquiry may go straight to interventions; convert it to a case first")
    assert case.refused("propose_legal_action", kind="injunction") == (
        "only an urgent (high-risk) enquiry may go straight to legal action; convert it to a case first")
    least = load("reading").contact.least_frequent.longest_days
    assert case.refused("agree_action_plan", contact_every_days=least + 1) == (
        f"contact every {least + 1} days is less often than this standard allows (at least every 1 month)")
    assert case.do("agree_action_plan", contact_every_days=least)[1]["template"] == "action_plan"
    no_officer = Case(officer=None)
    no_officer.do("record_risk_assessment", level="low")
    assert no_officer.refused("convert_to_case") == "assign an officer first: the reporter needs one point of contact"
    urgent = Case(hate=True, officer=None)
    assert urgent.refused("start_intervention", kind="mediation") == (
        "assign an officer first: the reporter needs one point of contact")
    anonymous = Case(reporter={"anonymous": True})
    assert anonymous.refused("record_contact", outcome="made") == (
        "the reporter is anonymous: there is nobody to contact")
    assert anonymous.refused("agree_action_plan", contact_every_days=7) == (
        "the reporter is anonymous: an action plan cannot be agreed or shared")
    with pytest.raises(Refused) as refused:
        case.do("fly")
    assert (refused.value.command, str(refused.value)) == ("fly", f"fly refused: {refused.value.reason}")
    with pytest.raises(Refused) as refused:
        case.do("record_case_review", decision="continue")
    assert refused.value.command == "record_case_review"
    assert {"report", "record_incident", "conclude_legal_action"} <= set(command_names())


def test_legal_action_needs_a_current_equality_assessment_and_open_actions_block_closure() -> None:
    case = _converted()
    assert case.refused("propose_legal_action", kind="legal_warning") == "record an Equality Act assessment first"
    case.do("record_equality_assessment")
    case.do("record_incident")
    assert case.refused("propose_legal_action", kind="legal_warning") == (
        "new information since the Equality Act assessment (a new incident): record a new one first (004 §6.4)")
    case.do("record_equality_assessment")
    case.do("propose_legal_action", kind="legal_warning")
    case.do("approve_legal_action", M1)
    case.do("record_equality_assessment")
    case.do("propose_legal_action", kind="injunction")
    assert case.refused("request_closure", reason="asb_stopped") == (
        "legal action is still open (legal_warning, injunction): a case stays open until it has concluded")


def test_check_and_allowed_answer_without_acting() -> None:
    case = Case()
    assert case.lc.check("record_contact", {"outcome": "maybe"}, O1, NOW) == (
        "record_contact: outcome: Input should be 'made' or 'failed'")
    assert case.lc.check("record_contact", {"outcome": "made"}, O1, NOW) is None
    assert case.lc.allowed(Actor(role="auditor", id="a1")) == []
    # 003 §10: the victim applies for an ASB Case Review; intake staff may record the application.
    assert case.lc.allowed(Actor(role="intake", id="i1")) == ["record_incident", "request_asb_case_review"]
    assert case.lc.allowed(O1) == [  # moving the case to another officer is the manager's (003 §8, §9)
        "record_incident", "record_contact", "record_risk_assessment", "agree_action_plan",
        "add_action", "close_enquiry", "escalate_risk", "record_equality_assessment", "record_police_report",
        "make_referral", "request_asb_case_review"]  # support is offered at any stage (003 §9), as a referral
    assert case.lc.allowed(M1)[0] == "assign_officer"
    # (in the catalogue's order, statemachine/catalogue.py: one order for GET /commands, the CLI and the forms)
    assert case.facts.stage == "enquiry" and case.facts.failed_contacts == 0


def test_an_urgent_enquirys_intervention_makes_it_a_case_and_the_risk_assessment_is_kept() -> None:
    urgent = Case(hate=True)
    urgent.do("record_risk_assessment", level="high")
    assert urgent.facts.risk_assessment == "high"
    urgent.do("start_intervention", kind="mediation")
    assert (urgent.facts.stage, urgent.facts.converted_at) == ("interventions", urgent.now)


def test_letters_go_to_who_they_are_for() -> None:
    anonymous = Case(reporter={"anonymous": True})  # no letters to the reporter, but the reported person gets one
    anonymous.do("record_risk_assessment", level="low")
    assert anonymous.do("convert_to_case") == [
        {"event": "stage", "stage": "investigation"},
        {"event": "letter", "template": "initial_letter_reported_person", "to": "reported_person"}]
    unknown = Case(reported_person={})  # nobody identified: no letter to send
    unknown.do("record_risk_assessment", level="low")
    assert unknown.do("convert_to_case") == [{"event": "stage", "stage": "investigation"}]
    _, events = _start(category="noise")  # a reporter with no id on file still gets the acknowledgement
    assert events[-1] == {"event": "letter", "template": "acknowledgement", "to": "reporter"}


def test_the_most_senior_approver_of_a_legal_remedy_decides_by_rank() -> None:
    profile = load("reading")
    own = profile.model_copy(update={"approvals": profile.approvals.model_copy(
        update={"legal_action": "officer", "instruct_solicitors": "manager", "eviction": "manager"})})
    lc = Case().lc
    lc.profile = own
    assert [lc.legal_approver(k) for k in ("legal_warning", "injunction")] == ["officer", "officer"]
    # Instructing solicitors, or a possession order, needs the more senior of the roles (004 §3.12).
    assert lc.legal_approver("injunction", instruct_solicitor=True) == "manager"
    assert lc.legal_approver("possession_order") == "manager"


def test_a_nested_argument_is_named_by_its_path() -> None:
    with pytest.raises(CommandError, match=r"^report: reporter\.contact\.method: String should have at most 16"):
        parse_args("report", {"category": "noise", "reporter": {"contact": {"method": "x" * 20}}})


# --- allocation (issue 12 item 7) -------------------------------------------------------------------------


def _allocation_task(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "task" and e["kind"] == "allocation"]


def test_a_report_without_an_officer_is_the_managers_to_allocate_within_the_first_response_period() -> None:
    """003 §8: cases are "allocated to the appropriate Team and Officer"; the reporter is contacted within the
    first-response period, so the team's manager has that long to allocate, and an allocation left undone
    goes up the chain like any task."""
    lc, events = _start(category="noise", reporter={"id": "r1"})
    assert _allocation_task(events) == [
        {"event": "task", "kind": "allocation", "role": "manager", "approval": "allocation", "team": "asb"}]
    assert lc.facts.allocation_task_open
    assert lc.task_terms("allocation") == (["officer", "manager", "senior_manager"], Period(5, "working_days"))
    assert "assign_officer" not in lc.allowed(O1) and "assign_officer" in lc.allowed(M1)
    with pytest.raises(Refused, match="allocating or reassigning a case is a manager's decision"):
        lc.apply("assign_officer", {"officer": "o1"}, O1, NOW)
    events = lc.apply("assign_officer", {"officer": "o1"}, M1, NOW + timedelta(hours=1)).events
    assert events[1:] == [{"event": "officer", "officer": "o1"},
                          {"event": "decision", "kind": "allocation", "decision": "allocated"}]
    assert (lc.facts.officer, lc.facts.allocation_task_open) == ("o1", False)
    high, events = _start(category="violence", reporter={"id": "r1"})  # high risk: one working day (003 §8)
    assert high.task_terms("allocation")[1] == Period(1, "working_days")
    # A report that came with its officer, or that closed at triage, has nothing to allocate.
    assert not _allocation_task(_start(category="noise", officer="o1")[1])
    assert not _allocation_task(_start(category="parking")[1])


def test_a_reassignment_is_a_managers_with_a_reason_and_to_another_officer() -> None:
    case = _converted()
    assert case.refused("assign_officer", O1, officer="o2", reason="I am on leave") == (
        "allocating or reassigning a case is a manager's decision: ask your manager")
    assert case.refused("assign_officer", M1, officer="o1", reason_ref="N-1") == "o1 is already the case's officer"
    assert case.refused("assign_officer", M1, officer="o2") == (
        "say why the case moves from o1 to o2 (reason, kept in the case file)")
    # Nothing to allocate here (the report came with o1): a reassignment answers no task.
    assert case.do("assign_officer", M1, officer="o2", reason_ref="N-1") == [
        {"event": "officer", "officer": "o2", "previous": "o1", "reason_ref": "N-1"}]
    assert case.facts.officer == "o2"


def test_livewest_sends_amber_reports_to_housing_and_red_ones_to_asb_enforcement() -> None:
    """004 §3.1: Housing Officers manage "lower-level amber cases", ASB & Enforcement Officers "all ASB
    cases that include a red priority" (red is high risk, 004 §3.5)."""
    livewest = load("livewest")

    def team(**report: Any) -> list[tuple[str, str]]:
        report = {"reporter": {"id": "r1"}, "tried_to_resolve": True, **report}
        _, decision = Lifecycle.start("ASB-2026-000003", ReportArgs.model_validate(report), livewest, NOW)
        return [(e["role"], e["team"]) for e in _allocation_task(decision.events)]

    assert team(category="noise") == [("manager", "housing")]  # amber: low
    assert team(category="drugs") == [("manager", "housing")]  # amber: medium
    assert team(category="violence") == [("manager", "asb_enforcement")]  # red
    assert team(category="noise", hate=True) == [("manager", "asb_enforcement")]  # a hate incident is red
    assert team(category="noise", risk_of_harm=True) == [("manager", "asb_enforcement")]  # "Red: High Risk"
    assert load("reading").allocation.team_for("high") == "asb"  # Reading does not route by risk


def test_a_landlord_may_have_a_senior_manager_allocate() -> None:
    profile = load("reading")
    own = profile.model_copy(update={"allocation": profile.allocation.model_copy(update={"by": "senior_manager"})})
    lc, decision = Lifecycle.start("ASB-2026-000004", ReportArgs.model_validate({"category": "noise"}), own, NOW)
    assert [e["role"] for e in _allocation_task(decision.events)] == ["senior_manager"]
    with pytest.raises(Refused, match="a senior manager's decision: ask your senior manager"):
        lc.apply("assign_officer", {"officer": "o1"}, M1, NOW)
    assert lc.apply("assign_officer", {"officer": "o1"}, S1, NOW).events[-1]["kind"] == "allocation"


def test_a_case_recorded_before_the_allocation_change_keeps_the_old_rule() -> None:
    """Replaying an older history: no allocation task, and any officer assigns without a reason."""
    from statemachine.patches import ALL, ALLOCATION_TASK

    lc, decision = Lifecycle.start("ASB-2026-000005", ReportArgs.model_validate({"category": "noise"}),
                                   load("reading"), NOW, ALL - {ALLOCATION_TASK})
    assert not _allocation_task(decision.events)
    assert lc.apply("assign_officer", {"officer": "o1"}, O1, NOW).events[1:] == [{"event": "officer", "officer": "o1"}]
    assert lc.apply("assign_officer", {"officer": "o2"}, O1, NOW).events[1:] == [{"event": "officer", "officer": "o2"}]


# --- the action plan: a list of actions, versioned, each version the reporter's letter (issue 11 item 6) ---


def test_an_action_plan_is_a_list_of_actions_and_each_change_to_the_agreed_plan_is_a_version_shared() -> None:
    """003 stage 1 "Action Plan", 004 §3.2 and §3.8: actions for the officer, the reporter or others, by a
    date; agreeing the plan is version 1 and each change after is a new version, sent to the reporter."""
    case = _converted()
    # Drawn up with the reporter before it is agreed: the actions are recorded, nothing is sent yet.
    assert case.do("add_action", what_ref="N-1", who="officer", due="2026-03-09") == [
        {"event": "action", "action": "A1", "change": "added", "who": "officer", "due": "2026-03-09",
         "what_ref": "N-1"}]
    assert case.do("add_action", what_ref="N-2", who="reporter", due="2026-03-16")[0]["action"] == "A2"
    assert case.do("agree_action_plan", contact_every_days=7, contact_method="visit") == [
        {"event": "action_plan", "contact_every_days": 7, "contact_method": "visit", "reporters_choice": False,
         "version": 1},
        {"event": "letter", "template": "action_plan", "to": "reporter", "version": 1},
        {"event": "notification", "channel": "email", "template": "action_plan", "version": 1}]
    # Once agreed, every change is the next version, and the reporter gets that version.
    assert case.do("add_action", what_ref="N-3", who="police", due="2026-03-20") == [
        {"event": "action", "action": "A3", "change": "added", "who": "police", "due": "2026-03-20",
         "what_ref": "N-3", "version": 2},
        {"event": "letter", "template": "action_plan", "to": "reporter", "version": 2},
        {"event": "notification", "channel": "email", "template": "action_plan", "version": 2}]
    assert case.do("complete_action", action="A1")[:2] == [
        {"event": "action", "action": "A1", "change": "done", "version": 3},
        {"event": "letter", "template": "action_plan", "to": "reporter", "version": 3}]
    assert case.do("change_action", action="A2", due="2026-03-23", who="officer")[0] == {
        "event": "action", "action": "A2", "change": "changed", "who": "officer", "due": "2026-03-23", "version": 4}
    assert [(a.id, a.who, a.due.isoformat(), a.done) for a in case.facts.actions] == [
        ("A1", "officer", "2026-03-09", True), ("A2", "officer", "2026-03-23", False),
        ("A3", "police", "2026-03-20", False)]
    assert (case.facts.plan_version, case.facts.contact_every_days, case.facts.contact_method) == (4, 7, "visit")
    # Agreeing it again (a new frequency) is the next version too, never version 1 again.
    assert case.do("agree_action_plan", contact_every_days=14, contact_method="phone")[:2] == [
        {"event": "action_plan", "contact_every_days": 14, "contact_method": "phone", "reporters_choice": False,
         "version": 5},
        {"event": "letter", "template": "action_plan", "to": "reporter", "version": 5}]
    # Each refusal says why and changes nothing.
    assert case.refused("complete_action", action="A1") == "action A1 is already done"
    assert case.refused("change_action", action="A9", due="2026-04-01") == "the action plan has no action A9"
    assert case.refused("add_action", what_ref="N-4", due="2026-03-01") == (
        "the action's date 2026-03-01 has passed: give a date from today")
    assert "more than a year ahead" in case.refused("add_action", what_ref="N-4", due="2027-04-01")
    assert "what is required" in case.refused("add_action", due="2026-04-01")
    assert "who: String should match pattern" in case.refused("add_action", what="x", who="Mr Smith",
                                                               due="2026-04-01")
    assert "give what changes" in case.refused("change_action", action="A2")
    assert "complete_action" not in Case().lc.allowed(O1)  # nothing to complete on a plan with no actions


def test_an_action_whose_date_passes_undone_gives_the_officer_a_task_answered_on_the_case() -> None:
    """003 stage 1, 004 §3.8 ("It is important to complete actions as agreed on the plan"): an action still
    open when the working day of its date ends gives the officer a task; doing the action, or agreeing a
    new date, answers it."""
    case = _converted()
    case.do("add_action", what_ref="N-1", who="reporter", due="2026-03-07")  # a Saturday
    case.do("add_action", what_ref="N-2", who="officer", due="2026-03-09")
    case.do("add_action", what_ref="N-3", who="officer", due="2026-03-10")
    calendar = calendar_for(case.lc.profile)
    # Saturday's action is late at the end of the next working day, Monday 9 March, with Monday's own.
    due = open_deadlines(case.facts, case.lc.profile, calendar)["action_due"]
    assert due == datetime(2026, 3, 9, 17, 0, tzinfo=UTC)
    assert case.lc.on_deadline("action_due", due).events == [
        {"event": "task", "kind": "action_overdue", "role": "officer", "approval": "action_overdue:A1",
         "action": "A1"},
        {"event": "task", "kind": "action_overdue", "role": "officer", "approval": "action_overdue:A2",
         "action": "A2"}]
    assert open_deadlines(case.facts, case.lc.profile, calendar)["action_due"] == datetime(
        2026, 3, 10, 17, 0, tzinfo=UTC)
    case.now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    assert case.do("complete_action", action="A1") == [
        {"event": "action", "action": "A1", "change": "done"},
        {"event": "decision", "kind": "action_overdue", "decision": "done", "approval": "action_overdue:A1"}]
    assert case.do("change_action", action="A2", due="2026-03-13") == [
        {"event": "action", "action": "A2", "change": "changed", "due": "2026-03-13"},
        {"event": "decision", "kind": "action_overdue", "decision": "rescheduled",
         "approval": "action_overdue:A2"}]
    # Two actions left, neither chased: the earlier date (A3, Tuesday) is next.
    assert open_deadlines(case.facts, case.lc.profile, calendar)["action_due"] == datetime(
        2026, 3, 10, 17, 0, tzinfo=UTC)
    case.do("complete_action", action="A3")
    case.do("complete_action", action="A2")
    assert "action_due" not in open_deadlines(case.facts, case.lc.profile, calendar)


def test_a_case_started_before_action_lists_keeps_its_plan_as_it_was() -> None:
    """Behind workflow.patched: a case recorded before the change replays on its old rules."""
    old = _converted()
    old.lc.patches = ALL - {ACTION_PLAN_VERSIONS, EQUALITY_AT_EACH_STEP}
    assert old.do("agree_action_plan", contact_every_days=7, contact_method="phone") == [
        {"event": "action_plan", "contact_every_days": 7, "contact_method": "phone", "reporters_choice": False},
        {"event": "letter", "template": "action_plan", "to": "reporter"},
        {"event": "notification", "channel": "email", "template": "action_plan"}]
    assert "contact frequency and method only" in old.refused("add_action", what_ref="N-1", due="2026-03-09")
    assert old.do("record_equality_assessment", step="notice", conclusion="proportionate", note_ref="N-2") == [
        {"event": "equality_assessment"}]
    old.do("escalate_risk", risk="high")
    assert old.lc.check("propose_legal_action", {"kind": "injunction"}, O1, old.now) is None  # only incidents count
    old.do("propose_legal_action", kind="injunction")
    old.do("approve_legal_action", M1)
    assert old.lc.check("propose_legal_action", {"kind": "possession_order"}, O1, old.now) is None


# --- the Equality Act assessment: structured, and made again at each step (issue 11 item 9) ----------------


def test_an_equality_assessment_is_structured_and_its_details_never_reach_the_workflow() -> None:
    """003 §16: the characteristics considered, the support in place, whether the action is proportionate.
    The door keeps what was considered in the case file; the workflow gets the step, the conclusion and the
    note's reference."""
    case = _converted()
    assert case.do("record_equality_assessment", step="court_application", conclusion="proportionate",
                   note_ref="N-7") == [
        {"event": "equality_assessment", "step": "court_application", "conclusion": "proportionate",
         "assessment_ref": "N-7"}]
    assert (case.facts.equality_step, case.facts.equality_conclusion) == ("court_application", "proportionate")
    with pytest.raises(CommandError, match="conclusion is required"):
        parse_args("record_equality_assessment", {"considered": ["disability"], "adjustments": "meetings at home"})
    with pytest.raises(CommandError, match="none_identified cannot be given"):
        parse_args("record_equality_assessment", {"considered": ["none_identified", "age"],
                                                  "conclusion": "proportionate"})
    with pytest.raises(CommandError, match="considered.0"):
        parse_args("record_equality_assessment", {"considered": ["shoe_size"], "conclusion": "proportionate"})


def test_an_equality_assessment_is_made_again_at_each_legal_step_and_after_new_information() -> None:
    """004 §6.4: before service of notice, before a court application, before a warrant of eviction, and
    "upon receipt of new and relevant information"; 003 §16."""
    case = _converted()
    case.do("record_equality_assessment", step="notice", conclusion="proportionate")
    # An assessment made for a notice does not cover a court application.
    assert case.refused("propose_legal_action", kind="injunction") == (
        "the Equality Act assessment was made for a notice, and injunction is a court application: "
        "record one for this step")
    case.do("propose_legal_action", kind="notice_seeking_possession")
    case.do("approve_legal_action", M1)
    # The notice was a legal step: the court application needs its own assessment.
    assert case.refused("propose_legal_action", kind="possession_order") == (
        "a legal step was taken since the last Equality Act assessment: record a new one for this step "
        "(004 §6.4)")
    case.do("record_equality_assessment", step="court_application", conclusion="not_proportionate")
    assert case.refused("propose_legal_action", kind="possession_order") == (
        "the Equality Act assessment found legal action not proportionate: record a new one first")
    # New information while legal action is open: the officer is asked to reassess now, once.
    reassessed = case.do("record_risk_assessment", level="medium")
    assert (reassessed[0]["event"], reassessed[0]["level"]) == ("risk_assessment", "medium")  # with its next date
    assert reassessed[-1] == {"event": "task", "kind": "equality_review", "role": "officer",
                              "approval": "equality_review", "why": "risk_assessment"}
    referred = case.do("make_referral", agency="victim_support", consent_ref="C-7")
    assert [e["event"] for e in referred] == ["referral"]  # the equality task is already open
    assert case.refused("propose_legal_action", kind="possession_order") == (
        "new information since the Equality Act assessment (a support referral): record a new one first "
        "(004 §6.4)")
    assert case.do("record_equality_assessment", step="new_information", conclusion="proportionate_with_adjustments"
                   ) == [
        {"event": "equality_assessment", "step": "new_information", "conclusion": "proportionate_with_adjustments"},
        {"event": "decision", "kind": "equality_review", "decision": "assessed"}]
    assert case.do("escalate_risk", risk="high")[1] == {
        "event": "task", "kind": "equality_review", "role": "officer", "approval": "equality_review",
        "why": "risk_changed"}
    assert "(a change of risk)" in case.refused("propose_legal_action", kind="possession_order")
    case.do("record_equality_assessment", step="court_application", conclusion="proportionate")
    # A warrant of eviction follows a possession order, and needs an assessment of its own.
    assert case.refused("propose_legal_action", kind="warrant_of_eviction") == (
        "the Equality Act assessment was made for a court application, and warrant_of_eviction is a warrant of "
        "eviction: record one for this step")
    case.do("propose_legal_action", kind="possession_order")
    case.do("approve_legal_action", S1)
    case.do("record_equality_assessment", step="warrant", conclusion="proportionate")
    assert case.do("propose_legal_action", kind="warrant_of_eviction")[1]["role"] == "senior_manager"
    fresh = _converted()
    fresh.do("record_equality_assessment", step="warrant", conclusion="proportionate")
    assert fresh.refused("propose_legal_action", kind="warrant_of_eviction") == (
        "a warrant of eviction follows a possession order, and none was approved on this case")
