"""Command rules the mutation run found unpinned (statemachine/catalogue.py guards and effects), pure: the
reporter's own contact frequency, legal action that instructs solicitors, the enquiry decision answered by
closing it, and the referral outcome's refusals. Each asserts what an officer, manager or reporter sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from policy.periods import Period
from profiles import load
from statemachine import Lifecycle
from statemachine.commands import ReportArgs
from statemachine.patches import (
    ACTION_PLAN_VERSIONS,
    ALL,
    CASE_REVIEW_28_DAYS,
    EQUALITY_AT_EACH_STEP,
    LEGAL_APPROVER_BY_FACT,
    LINKED_REPORTS,
    OFFICER_PROMPTS,
    REFERRALS_RECORDED,
    RISK_MATRIX,
    SUPPORT_MOVES_NOTHING,
    TELL_THE_POLICE,
)
from tests.test_lifecycle_events import M1, NOW, O1, S1, Case, _converted


def _somerset_case() -> Case:
    case = Case()
    args: dict[str, Any] = {"category": "noise", "officer": "o1", "reported_person": {"id": "p1"},
                            "reporter": {"id": "r1", "contact": {"method": "phone"}}}
    case.lc, _ = Lifecycle.start("ASB-2026-017002", ReportArgs.model_validate(args), load("homes-in-somerset"), NOW)
    return case


def test_contact_less_often_than_weekly_is_the_reporters_choice_where_the_standard_allows_it() -> None:
    # 001 rec. 1: weekly contact; rec. 3: frequency and method are the victim's to choose (Homes in Somerset).
    case = _somerset_case()
    assert case.refused("agree_action_plan", contact_every_days=14) == (
        "contact every 14 days is less often than this standard allows (at least every 1 week) unless the "
        "reporter chooses it (record it as their choice: reporters_choice)")
    assert case.do("agree_action_plan", contact_every_days=14, reporters_choice=True)[0] == {
        "event": "action_plan", "contact_every_days": 14, "contact_method": "phone", "reporters_choice": True,
        "version": 1}
    # 003 §9 "at least once a month" (Reading) leaves no such choice: the reporter's wish does not lift it.
    reading = Case()
    assert reading.refused("agree_action_plan", contact_every_days=40, reporters_choice=True) == (
        "contact every 40 days is less often than this standard allows (at least every 1 month)")


def test_a_legal_action_instructing_solicitors_goes_to_the_senior_manager_and_says_so() -> None:
    # 004 §3.12: instructing "a solicitor/barrister" is "approved by the Regional Manager".
    case = _converted()
    case.do("record_equality_assessment")
    meeting = case.now - timedelta(minutes=30)
    assert case.do("propose_legal_action", kind="injunction", instruct_solicitor=True,
                   case_review_meeting=meeting.isoformat()) == [
        {"event": "legal_action", "kind": "injunction", "status": "proposed", "emergency": False,
         "instruct_solicitor": True, "case_review_meeting": meeting.isoformat()},
        {"event": "task", "kind": "legal_approval", "role": "senior_manager", "after_the_event": False,
         "approval": "approval-2"}]
    (action,) = case.facts.legal_actions
    assert (action.instruct_solicitor, action.case_review_meeting) == (True, meeting)
    assert case.refused("approve_legal_action", M1) == "needs approval by a senior_manager, not a manager"
    assert case.do("approve_legal_action", S1)[0]["status"] == "approved"


def test_closing_an_enquiry_that_awaited_the_officers_decision_answers_it() -> None:
    # 003 stage 1; issue 11 item 4: at 4 weeks, an enquiry whose reporter was never reached waits for the
    # officer, who decides by closing it (or converting it): the decision task is answered on the case.
    case = Case()
    case.lc.on_deadline("enquiry_expiry", case.now + timedelta(days=28))
    assert case.do("close_enquiry", reason="asb_stopped")[:3] == [
        {"event": "decision", "kind": "enquiry_decision", "decision": "closed"},
        {"event": "stage", "stage": "closed"}, {"event": "closed", "reason": "asb_stopped"}]
    assert case.facts.enquiry_decision_since is None


def test_a_referral_outcome_names_the_referrals_there_are_and_its_next_date_must_lie_ahead() -> None:
    case = Case()
    assert case.refused("record_referral_outcome", O1, referral="referral-1", outcome="accepted") == (
        "no referral referral-1 on this case (referrals: none)")
    case.do("make_referral", agency="victim_support", consent_ref="C-1")
    case.do("make_referral", agency="police", basis="crime")
    assert case.refused("record_referral_outcome", referral="referral-9", outcome="accepted") == (
        "no referral referral-9 on this case (referrals: referral-1, referral-2)")
    today = case.now.date()
    assert case.refused("record_referral_outcome", referral="referral-1", outcome="no_response",
                        follow_up=today.isoformat()) == (
        f"the follow-up date {today.isoformat()} must be after today ({today.isoformat()})")


def test_the_officer_is_asked_once_to_tell_the_police_of_hate_incidents() -> None:
    # 004 §3.5 "make sure the Police are aware"; 003 §5: one task while it is open, none once they were told.
    case = _converted()
    tell = {"event": "task", "kind": "tell_police", "role": "officer", "approval": "tell_police"}
    assert tell in case.do("record_incident", hate=True)
    assert case.facts.police_task_open is True
    assert tell not in case.do("record_incident", hate=True)
    case.do("record_police_report", police_reference_ref="PR-2")
    assert tell not in case.do("record_incident", hate=True)
    old = _converted()
    old.lc.patches = ALL - {TELL_THE_POLICE}  # a case recorded before the task existed
    assert tell not in old.do("record_incident", hate=True)
    assert old.facts.police_task_open is False


def _at_legal(patches: frozenset[str] = ALL) -> Case:
    case = _converted()
    case.lc.patches = patches
    case.do("record_equality_assessment")
    case.do("propose_legal_action", kind="legal_warning")
    case.do("approve_legal_action", M1)
    assert case.facts.stage == "legal"
    return case


def test_at_the_legal_stage_only_support_may_still_be_given() -> None:
    # 003 §8 stage 5 follows the interventions; support is offered at any stage (003 §9; 004 §3.3), now as a
    # referral (issue 12 item 8), before that as a support-referral intervention.
    case = _at_legal()
    assert case.refused("start_intervention", kind="mediation") == (
        "not allowed at the legal stage (allowed at: enquiry, investigation, review, interventions; "
        "make_referral at any stage)")
    old = _at_legal(ALL - {REFERRALS_RECORDED})
    assert old.refused("start_intervention", kind="mediation") == (
        "not allowed at the legal stage (allowed at: enquiry, investigation, review, interventions; "
        "a support referral at any stage)")
    assert old.do("start_intervention", kind="support_referral")[0] == {
        "event": "intervention", "kind": "support_referral"}
    assert old.facts.stage == "legal"
    older = _at_legal(ALL - {REFERRALS_RECORDED, SUPPORT_MOVES_NOTHING})  # support was an intervention like any
    assert older.refused("start_intervention", kind="support_referral").startswith("not allowed at the legal stage")


def test_a_warrant_of_eviction_needs_a_possession_order_approved_or_concluded_on_the_case() -> None:
    # 004 §3.12, §4.3: the warrant enforces a possession order; another remedy (an injunction) does not lead
    # to it. On the rule before assessments per step, any new incident asks for a new assessment.
    old = ALL - {EQUALITY_AT_EACH_STEP}
    warrant = "a warrant of eviction follows a possession order, and none was approved on this case"
    for kind, refusal in (("injunction", warrant), ("possession_order", None)):
        case = _converted()
        case.lc.patches = old
        case.do("record_equality_assessment")
        case.do("propose_legal_action", kind=kind)
        case.do("approve_legal_action", S1)
        case.do("conclude_legal_action", outcome_ref="N-9")
        assert case.lc.check("propose_legal_action", {"kind": "warrant_of_eviction"}, O1, case.now) == refusal, kind
        case.do("record_incident")
        assert case.refused("propose_legal_action", kind="warrant_of_eviction") == (
            "new incidents since the Equality Act assessment: record a new one first")


def test_a_referrals_follow_up_date_may_be_up_to_a_year_ahead() -> None:
    case = Case()  # today is 2 March 2026: 366 days on is 3 March 2027
    assert case.do("make_referral", agency="victim_support", consent_ref="C-1",
                   follow_up="2027-03-03")[0]["follow_up"] == "2027-03-03"
    assert case.refused("make_referral", agency="victim_support", consent_ref="C-2", follow_up="2027-03-04") == (
        "the follow-up date 2027-03-04 is more than a year away")


def test_an_incident_of_a_high_risk_kind_makes_the_case_high_risk_and_says_why() -> None:
    # 003 §8 table: violence, threats and arson are urgent, as triage would rate a report of them.
    case = _converted()
    assert [e for e in case.do("record_incident", category="noise") if e["event"] == "risk"] == []
    assert case.facts.risk != "high"
    assert case.do("record_incident", violence_or_threats=True)[-1] == {
        "event": "risk", "risk": "high", "why": "violence or threats"}
    arson = _converted()
    assert arson.do("record_incident", category="arson")[-1] == {
        "event": "risk", "risk": "high", "why": "an arson incident"}


def test_requesting_closure_answers_the_consider_closure_prompt() -> None:
    # 003 stage 3, 004 §3.13: the officer prompted to consider closure answers by requesting it.
    case = _converted()
    case.lc.on_deadline("inactivity", case.now)
    assert case.do("request_closure", reason="no_reports")[:2] == [
        {"event": "decision", "kind": "consider_closure", "decision": "closure"},
        {"event": "task", "kind": "closure_approval", "role": "manager", "reason": "no_reports",
         "approval": "approval-1"}]
    assert case.facts.closure_prompt_since is None
    old = _converted()
    old.lc.patches = ALL - {LINKED_REPORTS}  # before duplicates were closed as such
    assert old.refused("request_closure", reason="duplicate", merged_into="ASB-2026-000099") == (
        "this case predates closing as a duplicate: close it with another reason")


def test_a_referral_without_consent_names_the_bases_the_police_take_and_who_is_referred() -> None:
    case = Case()
    assert case.refused("make_referral", agency="police") == (
        "no referral consent is recorded for the person (or they withdrew it): ask them and record their consent "
        "first (003 §15), or refer on a crime or safeguarding basis (004 §2.2, §4.4)")
    nameless = Case(reporter={"contact": {"method": "phone"}})  # a reporter with no record to refer
    assert nameless.refused("make_referral", agency="police", basis="crime") == (
        "the reporter is anonymous: name the person referred (person_id)")


def test_what_a_closed_case_still_takes_is_answered_without_a_time_too() -> None:
    # The after-closure commands (an ASB Case Review application, 003 §10) are listed when asked without
    # a time (the CLI's help, a door's listing), not refused for want of one.
    case = _converted()
    case.do("request_closure", reason="no_reports")
    case.do("approve_closure", M1)
    fresh = Lifecycle(case.facts, case.lc.profile)
    assert fresh.clock is None
    assert "request_asb_case_review" in fresh.allowed(O1)


def test_a_hate_incident_records_its_strand_from_the_profiles_list() -> None:
    # 003 §5: race, religion, sexual orientation, disability, transgender identity; hate-related cases are
    # reported by strand (004 §6.4; issue 11 item 15).
    case = _converted()
    events = case.do("record_incident", hate=True, hate_strand="religion")
    assert {k: v for k, v in events[0].items() if k != "occurred_at"} == {
        "event": "incident", "count": 2, "hate": True, "category": "noise", "hate_strand": "religion"}
    assert case.facts.hate_strand == "religion"
    case.do("record_incident", hate=True)  # a later incident without a strand keeps the case's latest one
    assert case.facts.hate_strand == "religion"
    assert case.refused("record_incident", hate=True, hate_strand="age") == (
        "unknown hate strand 'age'; known: race, religion, sexual_orientation, disability, transgender")


def test_a_high_risk_category_with_two_words_is_named_in_words() -> None:
    profile = load("reading")
    own = profile.model_copy(update={"triage": profile.triage.model_copy(
        update={"high_risk": [*profile.triage.high_risk, "criminal_damage"]})})
    case = _converted()
    case.lc.profile = own
    assert case.do("record_incident", category="criminal_damage")[-1] == {
        "event": "risk", "risk": "high", "why": "a criminal damage incident"}


def test_an_actions_date_is_from_today_where_the_landlord_is() -> None:
    # 00:30 BST on 1 June is 1 June in Reading: an action dated 31 May has passed.
    case = _converted()
    case.now = datetime(2026, 5, 31, 22, 30, tzinfo=UTC)  # the next command comes at 23:30 UTC
    assert case.refused("add_action", what_ref="N-1", who="officer", due="2026-05-31") == (
        "the action's date 2026-05-31 has passed: give a date from today")
    assert case.do("add_action", what_ref="N-1", who="officer", due="2026-06-01")[0]["due"] == "2026-06-01"


def test_changing_who_does_an_action_keeps_its_date_and_its_task() -> None:
    # 004 §3.8: only a new date answers an overdue action's task; a new owner alone does not.
    case = _converted()
    case.do("add_action", what_ref="N-1", who="officer", due="2026-03-03")
    case.lc.on_deadline("action_due", datetime(2026, 3, 3, 17, tzinfo=UTC))
    assert case.facts.actions[0].chased is True
    assert case.do("change_action", action="A1", who="reporter", what_ref="N-2") == [
        {"event": "action", "action": "A1", "change": "changed", "who": "reporter", "what_ref": "N-2"}]
    assert case.facts.actions[0].chased is True and case.facts.actions[0].due.isoformat() == "2026-03-03"


LOW_SCORES = {"persistence": 1, "impact": 1, "vulnerability": 0}


def test_a_vulnerable_reporter_stays_vulnerable_at_an_assessment_that_does_not_say() -> None:
    # 003 §10 "the victim's vulnerability": the flag recorded at the report holds until an assessment changes it.
    case = Case(reporter={"id": "r1", "vulnerable": True, "contact": {"method": "phone"}})
    events = case.do("record_risk_assessment", scores=LOW_SCORES)
    assert (events[0]["level"], events[0]["scored"], events[0]["vulnerable"]) == ("medium", "low", True)
    assert case.facts.reporter.vulnerable is True


def test_before_the_risk_matrix_an_assessment_recorded_the_scored_level_only() -> None:
    # Unpatched histories: the matrix's level from the scores, no vulnerability floor, no next date; still new
    # information for the Equality Act assessment (004 §6.4).
    case = _converted()
    case.do("record_equality_assessment")
    case.lc.patches = ALL - {RISK_MATRIX}
    assert case.do("record_risk_assessment", scores=LOW_SCORES, reporter_vulnerable=True) == [
        {"event": "risk_assessment", "level": "low"}]
    assert (case.facts.risk_assessment, case.facts.equality_needed) == ("low", "risk_assessment")
    assert case.do("record_risk_assessment", scores={"persistence": 3, "impact": 3, "vulnerability": 1}) == [
        {"event": "risk_assessment", "level": "high"}]


def test_an_actions_date_may_be_today_and_up_to_366_days_ahead_and_so_may_a_new_date() -> None:
    case = _converted()  # today is 2 March 2026
    assert case.do("add_action", what_ref="N-1", who="officer", due="2026-03-02")[0]["due"] == "2026-03-02"
    assert case.do("add_action", what_ref="N-2", who="officer", due="2027-03-03")[0]["due"] == "2027-03-03"
    assert case.refused("add_action", what_ref="N-3", who="officer", due="2027-03-04") == (
        "the action's date 2027-03-04 is more than a year ahead: plan it at a later review")
    assert case.refused("change_action", action="A1", due="2026-03-01") == (
        "the action's date 2026-03-01 has passed: give a date from today")


def test_a_plan_holds_at_most_a_hundred_actions() -> None:
    case = _converted()
    for n in range(100):
        case.do("add_action", what_ref=f"N-{n}", who="officer", due="2026-04-01")
    assert case.refused("add_action", what_ref="N-100", who="officer", due="2026-04-01") == (
        "the action plan has 100 actions: it is time to review it with the reporter")


def test_a_new_date_for_an_overdue_action_answers_its_task_and_is_shared() -> None:
    # 004 §3.8: the plan is shared with the reporter at each change; a new date agreed answers the task.
    case = _converted()
    case.do("agree_action_plan", contact_every_days=7)
    case.do("add_action", what_ref="N-1", who="officer", due="2026-03-03")
    case.lc.on_deadline("action_due", datetime(2026, 3, 3, 17, tzinfo=UTC))
    assert case.do("change_action", action="A1", due="2026-03-10")[:3] == [
        {"event": "action", "action": "A1", "change": "changed", "due": "2026-03-10", "version": 3},
        {"event": "decision", "kind": "action_overdue", "decision": "rescheduled", "approval": "action_overdue:A1"},
        {"event": "letter", "template": "action_plan", "to": "reporter", "version": 3}]
    assert case.facts.actions[0].chased is False


def test_completing_an_action_needs_an_open_one_on_a_plan_of_actions() -> None:
    case = _converted()
    assert "complete_action" not in case.lc.allowed(O1)  # nothing to complete yet
    case.do("add_action", what_ref="N-1", who="officer", due="2026-03-10")
    assert "complete_action" in case.lc.allowed(O1)
    case.do("complete_action", action="A1")
    assert "complete_action" not in case.lc.allowed(O1)
    old = _converted()
    old.lc.patches = ALL - {ACTION_PLAN_VERSIONS}
    assert old.refused("add_action", what_ref="N-1", who="officer", due="2026-03-10") == (
        "this case keeps the rules it started with: its action plan is a contact frequency and method only")


def test_a_closed_case_takes_only_the_applicants_reports_to_other_agencies() -> None:
    # 003 §10: an ASB Case Review rests on the applicant's reports (to the police, the council, a landlord);
    # a new incident after closure is a new report.
    case = _converted()
    case.do("request_closure", reason="no_reports")
    case.do("approve_closure", M1)
    assert case.refused("record_incident", source="case") == (
        "the case is closed: a new incident is a new report; on a closed case only the applicant's reports to "
        "the police, the council or another landlord are recorded (source), for an ASB Case Review")


def test_an_incident_on_a_high_risk_case_does_not_raise_it_again() -> None:
    case = _converted()
    case.do("record_incident", violence_or_threats=True)
    assert case.facts.risk == "high"
    assert [e for e in case.do("record_incident", violence_or_threats=True) if e["event"] == "risk"] == []


def test_a_risk_assessment_before_the_matrix_asks_for_the_equality_review_while_legal_action_is_open() -> None:
    case = _converted()
    case.do("record_equality_assessment")
    case.do("propose_legal_action", kind="legal_warning")
    case.lc.patches = ALL - {RISK_MATRIX}
    assert case.do("record_risk_assessment", level="medium") == [
        {"event": "risk_assessment", "level": "medium"},
        {"event": "task", "kind": "equality_review", "role": "officer", "approval": "equality_review",
         "why": "risk_assessment"}]


# ---------------------------------------------------------------------------------- statemachine/lifecycle.py


def test_converting_an_enquiry_that_awaited_the_officers_decision_answers_it() -> None:
    # 003 stage 1; issue 11 item 4: the decision task at 4 weeks is answered by converting too.
    case = Case()
    case.lc.on_deadline("enquiry_expiry", case.now + timedelta(days=28))
    case.do("record_risk_assessment", level="medium")
    assert case.do("convert_to_case")[-1] == {"event": "decision", "kind": "enquiry_decision",
                                              "decision": "converted"}
    assert case.facts.enquiry_decision_since is None


def test_who_holds_a_prompt_or_a_review_and_for_how_long_on_each_rule_version() -> None:
    lc = Case().lc
    chain = ["officer", "manager", "senior_manager"]
    five_days = lc.profile.approvals.decide_within
    # A consider-closure prompt stays with the officer (issue 11 item 14); before, it rose up the chain.
    assert lc.task_terms("consider_closure") == (["officer"], five_days)
    # Before the 28-day rule (004 §8), an undecided ASB Case Review rose up the chain every 28 days.
    lc.patches = ALL - {OFFICER_PROMPTS, CASE_REVIEW_28_DAYS}
    assert lc.task_terms("consider_closure") == (chain, five_days)
    assert lc.task_terms("asb_case_review") == (chain, lc.profile.case_review.complete_within)
    # A report not yet rated is allocated within the low-risk period (003 §8 table: 5 working days).
    lc.facts.risk = None
    assert lc.task_terms("allocation") == (chain, Period(5, "working_days"))


def test_a_reported_hate_strand_is_kept_from_the_start() -> None:
    lc, _ = Lifecycle.start("ASB-2026-017003", ReportArgs.model_validate(
        {"category": "harassment", "hate_strand": "disability", "reporter": {"id": "r1"}}), load("reading"), NOW)
    assert (lc.facts.hate, lc.facts.hate_strand) == (True, "disability")


def test_before_approval_by_fact_every_court_remedy_needed_the_senior_role() -> None:
    lc = Case().lc
    lc.patches = ALL - {LEGAL_APPROVER_BY_FACT}
    assert [lc.legal_approver(k) for k in ("legal_warning", "injunction")] == ["manager", "senior_manager"]
    assert lc.legal_approver("legal_warning", instruct_solicitor=True) == "manager"
