"""Each deadline kind of the catalogue (statemachine/catalogue.py DEADLINES), pure: when it falls due
for the profiles, stages and rule changes (statemachine/patches.py) that matter, and exactly what
happens when it fires (tasks, notices, letters, stage moves, with their roles and arguments).

The workflow tests play the same through Temporal; these are fast enough for the mutation run
(`scripts/mutate rules`) to try every change of the deadline rules against them. The expected moments
are written out by hand from the policies (UK time: GMT until 29 March 2026, BST after; the English
bank holidays of 2026 used here are Good Friday 3 April, Easter Monday 6 April and 4 May).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from policy.calendar import HolidaysNotLoaded
from policy.model import Profile
from profiles import load
from statemachine import Actor, Lifecycle
from statemachine.catalogue import (
    DEADLINES,
    contact_clock,
    due_action,
    due_case_review,
    due_contact,
    due_enquiry_expiry,
    due_first_response,
    due_inactivity,
    due_investigation_end,
    due_monitoring,
    due_referral_follow_up,
    due_risk_review,
    due_unable_to_contact,
    fire_consider_closure,
    fire_overdue,
    local_date,
    next_assessment_refusal,
)
from statemachine.deadlines import calendar_for, calendar_for_rules, handled_key, open_deadlines, overdue, unhandled
from statemachine.facts import CaseFacts, Party, PlannedAction, ReferralFact
from statemachine.patches import (
    ALL,
    CONTACT_FROM_CONVERSION,
    ENQUIRY_EXPIRY_DECISION,
    OFFICER_PROMPTS,
    RISK_MATRIX,
)

#: Monday 2 March 2026, 09:30 GMT: a working day, before the end of the working day.
MON = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
READING = load("reading")
CAL = calendar_for(READING)
O1 = Actor(role="officer", id="o1")


def z(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment in UTC (the expected values below are converted by hand from UK local time)."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def facts(**given: Any) -> CaseFacts:
    base: dict[str, Any] = {
        "reference": "ASB-2026-017001", "profile": "reading", "category": "noise", "risk": "low",
        "officer": "o1", "received_at": MON, "last_incident_at": MON,
        "reporter": Party(id="r1", contact_method="email"), "reported_person": Party(id="p1"),
    }
    base.update(given)
    return CaseFacts(**base)


def without(patch: str) -> frozenset[str]:
    return ALL - {patch}


def fired(kind: str, case: CaseFacts, now: datetime, profile: Profile = READING,
          patches: frozenset[str] = ALL) -> list[dict[str, Any]]:
    return Lifecycle(case, profile, patches).on_deadline(kind, now).events


# ============================================================================ first response (003 §8 table)


def test_first_response_is_due_within_the_working_days_of_the_cases_risk() -> None:
    # 003 §8 table: high 1, medium 3, low 5 working days, counted from the working day of receipt.
    for risk, due in (("high", z(2026, 3, 3, 17)), ("medium", z(2026, 3, 5, 17)), ("low", z(2026, 3, 9, 17))):
        assert due_first_response(facts(risk=risk), READING, CAL, ALL) == due, risk
    # A report after 17:00 on a Friday counts from Monday: 5 working days is the next Monday.
    friday_evening = z(2026, 3, 6, 17, 30)
    assert due_first_response(facts(received_at=friday_evening), READING, CAL, ALL) == z(2026, 3, 16, 17)
    # A reopened case's first response counts from its reopening (Wednesday 15 April, BST).
    reopened = facts(received_at=MON, reopened_at=z(2026, 4, 15, 10))
    assert due_first_response(reopened, READING, CAL, ALL) == z(2026, 4, 22, 16)


def test_first_response_stops_once_made_and_never_runs_without_a_risk() -> None:
    assert due_first_response(facts(first_response_at=MON + timedelta(hours=2)), READING, CAL, ALL) is None
    assert due_first_response(facts(risk=None), READING, CAL, ALL) is None


def test_a_missed_first_response_is_a_breach_with_an_overdue_task_for_the_chains_first_role() -> None:
    # 004 §3.12: a missed deadline goes to the first role of the escalation chain.
    assert fired("first_response", facts(), MON) == [
        {"event": "breach", "kind": "first_response"},
        {"event": "task", "kind": "overdue", "role": "manager", "deadline": "first_response"}]
    # The role is the profile's, not a fixed one.
    senior_first = READING.model_copy(update={"approvals": READING.approvals.model_copy(
        update={"escalation_chain": ["senior_manager"]})})
    events: list[Any] = []
    fire_overdue("case_review")(Lifecycle(facts(), senior_first), MON, events)
    assert [e.payload() for e in events] == [
        {"event": "task", "kind": "overdue", "role": "senior_manager", "deadline": "case_review"}]
    events = []
    fire_overdue("first_response")(Lifecycle(facts(), READING), MON, events)
    assert [e.payload() for e in events] == [
        {"event": "task", "kind": "overdue", "role": "manager", "deadline": "first_response"}]


# ============================================================================ enquiry (003 §8 stage 1)


def test_an_enquiry_expires_four_weeks_after_the_report_or_its_reopening() -> None:
    # 003 §8 stage 1: "The Enquiry period lasts a maximum of 4 weeks": the same wall-clock time, 28 days
    # on (09:30 GMT on 2 March, 09:30 BST on 30 March).
    assert due_enquiry_expiry(facts(), READING, CAL, ALL) == z(2026, 3, 30, 8, 30)
    assert due_enquiry_expiry(facts(reopened_at=z(2026, 4, 15, 10)), READING, CAL, ALL) == z(2026, 5, 13, 10)


def test_a_worked_low_risk_enquiry_closes_at_expiry_and_the_reporter_is_told() -> None:
    case = facts(last_contact_at=MON + timedelta(days=1))
    at = z(2026, 3, 30, 8, 30)
    assert fired("enquiry_expiry", case, at) == [
        {"event": "stage", "stage": "closed"}, {"event": "closed", "reason": "enquiry_expired"},
        {"event": "letter", "template": "enquiry_closed", "to": "reporter"},
        {"event": "notification", "channel": "email", "template": "enquiry_closed"}]
    assert (case.stage, case.closed_at, case.closure_reason, case.closed_from) == (
        "closed", at, "enquiry_expired", "enquiry")
    # A medium-risk enquiry whose reporter was reached closes the same way: only high risk needs a decision.
    medium = facts(risk="medium", last_contact_at=MON + timedelta(days=1))
    assert fired("enquiry_expiry", medium, at)[1] == {"event": "closed", "reason": "enquiry_expired"}


@pytest.mark.parametrize("given", [
    {"risk": "high", "last_contact_at": MON + timedelta(days=1)},   # 003 §8: urgent, the highest priority
    {"hate": True, "last_contact_at": MON + timedelta(days=1)},     # 003 §5: hate, the highest priority
    {},                                                              # the reporter was never reached
])
def test_an_enquiry_that_is_high_risk_hate_or_never_reached_waits_for_the_officers_decision(
        given: dict[str, Any]) -> None:
    # Issue 11 item 4 (003 stage 1): it is not closed by a timer; the officer converts or closes it.
    case = facts(**given)
    at = z(2026, 3, 30, 8, 30)
    assert fired("enquiry_expiry", case, at) == [
        {"event": "enquiry_expired", "decision": "needed"},
        {"event": "task", "kind": "enquiry_decision", "role": "officer", "approval": "enquiry_decision"}]
    assert (case.stage, case.enquiry_decision_since, case.closed_at) == ("enquiry", at, None)


def test_before_the_decision_change_every_expired_enquiry_closed() -> None:
    case = facts(risk="high")
    events = fired("enquiry_expiry", case, MON, patches=without(ENQUIRY_EXPIRY_DECISION))
    assert events[:2] == [{"event": "stage", "stage": "closed"}, {"event": "closed", "reason": "enquiry_expired"}]
    assert case.enquiry_decision_since is None


def test_enquiry_timers_do_nothing_once_the_enquiry_became_a_case() -> None:
    for kind in ("enquiry_expiry", "unable_to_contact"):
        case = facts(stage="investigation", converted_at=MON)
        assert fired(kind, case, MON + timedelta(days=30)) == []
        assert (case.stage, case.closed_at, case.enquiry_decision_since) == ("investigation", None, None)


def test_an_unreachable_reporters_enquiry_closes_ten_working_days_after_the_letter() -> None:
    # 003 §8 stage 1: "within 10 working days of the letter ... the Enquiry will be closed".
    assert due_unable_to_contact(facts(), READING, CAL, ALL) is None  # no letter, no clock
    assert due_unable_to_contact(facts(unable_letter_at=MON), READING, CAL, ALL) == z(2026, 3, 16, 17)
    # A letter after hours on a Friday counts from Monday.
    assert due_unable_to_contact(facts(unable_letter_at=z(2026, 3, 6, 17, 30)), READING, CAL, ALL) == \
        z(2026, 3, 23, 17)
    case = facts(unable_letter_at=MON, reporter=Party(id="r1", contact_method="letter"))
    at = z(2026, 3, 16, 17)
    assert fired("unable_to_contact", case, at) == [
        {"event": "stage", "stage": "closed"}, {"event": "closed", "reason": "unable_to_contact"},
        {"event": "letter", "template": "enquiry_closed", "to": "reporter"}]
    assert (case.closed_at, case.closure_reason, case.closed_from) == (at, "unable_to_contact", "enquiry")


# ======================================================================= investigation, reviews (003 §8 stages 2, 3)

#: Converted on Monday 2 March at 12:30 GMT.
CONVERTED = z(2026, 3, 2, 12, 30)


def case_facts(**given: Any) -> CaseFacts:
    return facts(**{"stage": "investigation", "converted_at": CONVERTED, **given})


def test_the_investigation_ends_two_months_after_conversion_or_reopening() -> None:
    # 003 §8 stage 2: "over a 2-month period before an initial case review" (12:30 BST on 2 May).
    assert due_investigation_end(facts(), READING, CAL, ALL) is None
    assert due_investigation_end(case_facts(), READING, CAL, ALL) == z(2026, 5, 2, 11, 30)
    assert due_investigation_end(case_facts(reopened_at=z(2026, 4, 15, 10)), READING, CAL, ALL) == \
        z(2026, 6, 15, 10)
    case = case_facts()
    assert fired("investigation_end", case, z(2026, 5, 2, 11, 30)) == [{"event": "stage", "stage": "review"}]
    assert case.stage == "review"
    for stage in ("review", "interventions"):  # already past the investigation: nothing moves
        later = case_facts(stage=stage)
        assert fired("investigation_end", later, z(2026, 5, 2, 11, 30)) == []
        assert later.stage == stage


def test_the_first_case_review_is_due_at_the_end_of_the_investigation_then_monthly() -> None:
    assert due_case_review(facts(), READING, CAL, ALL) is None  # an enquiry has no reviews
    # Two months from conversion is Saturday 2 May; Monday 4 May is a bank holiday: Tuesday 5 May, 17:00 BST.
    assert due_case_review(case_facts(), READING, CAL, ALL) == z(2026, 5, 5, 16)
    # 003 §8 stage 3 "reviewed on a monthly basis after this point": a month after the last review.
    reviewed = z(2026, 5, 5, 10)
    assert due_case_review(case_facts(last_review_at=reviewed), READING, CAL, ALL) == z(2026, 6, 5, 16)
    # Reopened after the last review: a month from the reopening (Saturday 20 June: Monday 22 June).
    assert due_case_review(case_facts(last_review_at=reviewed, reopened_at=z(2026, 5, 20, 9)), READING, CAL,
                           ALL) == z(2026, 6, 22, 16)
    # Reviewed since the reopening: a month from that review.
    assert due_case_review(case_facts(last_review_at=z(2026, 6, 1, 9), reopened_at=z(2026, 5, 20, 9)), READING,
                           CAL, ALL) == z(2026, 7, 1, 16)
    # Reopened before its first review: the two-month investigation counts from the reopening.
    assert due_case_review(case_facts(reopened_at=z(2026, 5, 20, 9)), READING, CAL, ALL) == z(2026, 7, 20, 16)


def test_a_missed_case_review_is_a_breach_for_the_chains_first_role() -> None:
    assert fired("case_review", case_facts(), z(2026, 5, 5, 16)) == [
        {"event": "breach", "kind": "case_review"},
        {"event": "task", "kind": "overdue", "role": "manager", "deadline": "case_review"}]


def test_inactivity_counts_28_quiet_days_from_the_latest_incident_conversion_or_reopening() -> None:
    # 003 §8 stage 3 "no reported incidents for a 4-week period"; 004 §3.13 "no reports of ASB for 28 days".
    assert due_inactivity(facts(), READING, CAL, ALL) is None
    assert due_inactivity(case_facts(), READING, CAL, ALL) == z(2026, 3, 30, 11, 30)  # from conversion
    incident = z(2026, 3, 12, 20)
    assert due_inactivity(case_facts(last_incident_at=incident), READING, CAL, ALL) == z(2026, 4, 9, 19)
    assert due_inactivity(case_facts(last_incident_at=incident, reopened_at=z(2026, 4, 15, 10)), READING, CAL,
                          ALL) == z(2026, 5, 13, 10)


def test_monitoring_after_a_review_to_consider_closure_lasts_one_month() -> None:
    # 003 §8 stage 3: monitor further "for no longer than 1 month".
    since = z(2026, 5, 5, 10)
    assert due_monitoring(case_facts(monitoring_since=since), READING, CAL, ALL) == z(2026, 6, 5, 10)
    assert due_monitoring(case_facts(), READING, CAL, ALL) is None
    assert due_monitoring(facts(monitoring_since=since), READING, CAL, ALL) is None


@pytest.mark.parametrize("kind", ["inactivity", "monitoring"])
def test_quiet_or_monitored_cases_prompt_the_officer_once_to_consider_closure(kind: str) -> None:
    # 003 stage 3, 004 §3.13: a prompt for the officer, never a breach; answered on the case (issue 11
    # item 14), so a second firing before the answer adds nothing.
    case = case_facts(stage="review")
    at = z(2026, 3, 30, 11, 30)
    prompt = {"event": "task", "kind": "consider_closure", "role": "officer", "why": kind,
              "approval": "consider_closure", "prompt": True}
    assert fired(kind, case, at) == [prompt]
    assert case.closure_prompt_since == at
    assert fired(kind, case, at + timedelta(days=30)) == []
    assert case.closure_prompt_since == at
    # The same from the catalogue's factory: the prompt names the deadline that raised it.
    fresh = case_facts(stage="review")
    events: list[Any] = []
    fire_consider_closure(kind)(Lifecycle(fresh, READING), at, events)
    assert [e.payload() for e in events] == [prompt]
    assert fresh.closure_prompt_since == at
    events = []
    fire_consider_closure(kind)(Lifecycle(fresh, READING), at + timedelta(days=1), events)
    assert events == [] and fresh.closure_prompt_since == at


def test_before_officer_prompts_a_quiet_case_gave_a_plain_task_each_time() -> None:
    case = case_facts(stage="review")
    for _ in range(2):
        events: list[Any] = []
        fire_consider_closure("inactivity")(Lifecycle(case, READING, without(OFFICER_PROMPTS)), MON, events)
        assert [e.payload() for e in events] == [
            {"event": "task", "kind": "consider_closure", "role": "officer", "why": "inactivity"}]
    assert case.closure_prompt_since is None


# ============================================================================ contact (003 §9)


def test_contact_is_due_a_month_after_the_first_response_or_the_last_contact_or_conversion() -> None:
    # 003 §9 "at least once a month", from the first response (3 March) to Good Friday 3 April; with
    # Easter Monday, the end of Tuesday 7 April.
    first = z(2026, 3, 3, 10)
    assert due_contact(facts(first_response_at=first), READING, CAL, ALL) == z(2026, 4, 7, 16)
    # A contact that got through restarts the clock (10 April, a Friday, 17:00 BST).
    contacted = z(2026, 3, 10, 14)
    assert due_contact(facts(first_response_at=first, last_contact_at=contacted), READING, CAL, ALL) == \
        z(2026, 4, 10, 16)
    # So does conversion, when later (12 April is a Sunday: Monday 13 April).
    assert due_contact(case_facts(first_response_at=first, last_contact_at=contacted,
                                  converted_at=z(2026, 3, 12, 12)), READING, CAL, ALL) == z(2026, 4, 13, 16)
    # And a reopening.
    assert due_contact(facts(first_response_at=first, reopened_at=z(2026, 4, 15, 10)), READING, CAL, ALL) == \
        z(2026, 5, 15, 16)
    # No first response, contact or conversion yet: the first-response deadline runs, not this one.
    assert due_contact(facts(), READING, CAL, ALL) is None


def test_contact_follows_the_frequency_agreed_with_the_reporter_or_the_profiles_default() -> None:
    first = z(2026, 3, 3, 10)
    # 004 §3.8: the frequency agreed with the reporter (weekly: Tuesday 10 March).
    assert due_contact(facts(first_response_at=first, contact_every_days=7), READING, CAL, ALL) == \
        z(2026, 3, 10, 17)
    # 001 rec. 1: Homes in Somerset contacts weekly by default.
    somerset = load("homes-in-somerset")
    assert due_contact(facts(first_response_at=first), somerset, calendar_for(somerset), ALL) == z(2026, 3, 10, 17)


def test_an_anonymous_reporter_has_no_contact_deadline() -> None:
    anonymous = facts(first_response_at=z(2026, 3, 3, 10), reporter=Party(anonymous=True))
    assert due_contact(anonymous, READING, CAL, ALL) is None


def test_before_contact_from_conversion_only_a_contact_that_got_through_started_the_clock() -> None:
    old = without(CONTACT_FROM_CONVERSION)
    first, contacted = z(2026, 3, 3, 10), z(2026, 3, 10, 14)
    assert due_contact(case_facts(first_response_at=first), READING, CAL, old) is None
    assert due_contact(case_facts(first_response_at=first, last_contact_at=contacted), READING, CAL, old) == \
        z(2026, 4, 10, 16)
    assert contact_clock(case_facts(first_response_at=first), from_conversion=False) is None
    # By default (the rule in force), the clock runs from the latest of them.
    assert contact_clock(case_facts(first_response_at=first, last_contact_at=contacted)) == contacted
    assert contact_clock(case_facts(first_response_at=first)) == first


def test_a_missed_contact_tasks_the_officer_and_tells_the_manager() -> None:
    # 003 §9; issue 11 item 14: the officer's to put right first, the manager told.
    assert fired("contact", case_facts(), MON) == [
        {"event": "breach", "kind": "contact"},
        {"event": "task", "kind": "overdue", "role": "officer", "deadline": "contact"},
        {"event": "notice", "role": "manager", "about": "breach", "kind": "contact"}]
    # Before that change the overdue task went to the first role of the chain, and nobody else was told.
    assert fired("contact", case_facts(), MON, patches=without(OFFICER_PROMPTS)) == [
        {"event": "breach", "kind": "contact"},
        {"event": "task", "kind": "overdue", "role": "manager", "deadline": "contact"}]


# ============================================================================ risk reviews, actions, referrals


def test_the_next_risk_assessment_is_due_at_the_end_of_its_working_day() -> None:
    # 003 §8 stage 1: the plan records "when a new risk assessment is due to be carried out".
    assert due_risk_review(facts(), READING, CAL, ALL) is None
    assert due_risk_review(facts(risk_review_on=date(2026, 5, 6)), READING, CAL, ALL) == z(2026, 5, 6, 16)
    # Saturday 2 May: the next working day is Tuesday 5 May (4 May is a bank holiday).
    assert due_risk_review(facts(risk_review_on=date(2026, 5, 2)), READING, CAL, ALL) == z(2026, 5, 5, 16)
    assert due_risk_review(facts(risk_review_on=date(2026, 5, 6)), READING, CAL, without(RISK_MATRIX)) is None


def test_a_risk_review_falling_due_tasks_the_officer_once() -> None:
    case = facts(risk_review_on=date(2026, 5, 6))
    assert fired("risk_review", case, z(2026, 5, 6, 16)) == [
        {"event": "task", "kind": "risk_review", "role": "officer", "approval": "risk_review"}]
    assert case.risk_review_task_open is True
    assert fired("risk_review", case, z(2026, 5, 7, 16)) == []


def test_an_action_is_late_when_the_working_day_of_its_date_has_ended() -> None:
    # 003 stage 1, 004 §3.8: actions with due dates; officers count to the end of the working day.
    actions = [PlannedAction(id="A1", who="officer", due=date(2026, 5, 8)),
               PlannedAction(id="A2", who="officer", due=date(2026, 5, 2)),      # a Saturday
               PlannedAction(id="A3", who="reporter", due=date(2026, 4, 1), done=True),
               PlannedAction(id="A4", who="officer", due=date(2026, 4, 2), chased=True),
               PlannedAction(id="A5", who="agency", due=date(2026, 5, 7))]
    case = case_facts(actions=actions)
    assert due_action(case, READING, CAL, ALL) == z(2026, 5, 5, 16)
    assert due_action(case_facts(actions=actions[2:4]), READING, CAL, ALL) is None
    # At 16:59 BST on Friday 8 May, A2 and Thursday's A5 are late and A1 is not yet; at 17:00, A1 is late too.
    events = fired("action_due", case, z(2026, 5, 8, 15, 59))
    assert events == [{"event": "task", "kind": "action_overdue", "role": "officer", "approval": "action_overdue:A2",
                       "action": "A2"},
                      {"event": "task", "kind": "action_overdue", "role": "officer", "approval": "action_overdue:A5",
                       "action": "A5"}]
    assert [a.chased for a in case.actions] == [False, True, False, True, True]
    assert fired("action_due", case, z(2026, 5, 8, 16)) == [
        {"event": "task", "kind": "action_overdue", "role": "officer", "approval": "action_overdue:A1",
         "action": "A1"}]
    assert fired("action_due", case, z(2026, 5, 9, 16)) == []


def test_a_referrals_follow_up_date_tasks_the_officer_to_find_out_what_became_of_it() -> None:
    # 003 §9; 004 §3.3: referrals "recorded on our internal systems" and followed up.
    referrals = [ReferralFact(id="R1", agency="police", kind="police", follow_up=date(2026, 6, 1)),
                 ReferralFact(id="R2", agency="cmht", kind="mental_health", follow_up=date(2026, 5, 30)),  # Sat
                 ReferralFact(id="R3", agency="cmht", kind="mental_health", follow_up=date(2026, 5, 1),
                              open=False),
                 ReferralFact(id="R4", agency="cmht", kind="mental_health", follow_up=date(2026, 5, 1),
                              tasked=True),
                 ReferralFact(id="R5", agency="cmht", kind="mental_health"),
                 ReferralFact(id="R6", agency="police", kind="police", follow_up=date(2026, 6, 2))]
    case = case_facts(referrals=referrals)
    assert due_referral_follow_up(case, READING, CAL, ALL) == z(2026, 6, 1, 16)  # Saturday's: Monday's end
    assert due_referral_follow_up(case_facts(referrals=referrals[2:5]), READING, CAL, ALL) is None
    # 00:30 BST on Monday 1 June is already 1 June where the officer works.
    assert fired("referral_follow_up", case, z(2026, 5, 31, 23, 30)) == [
        {"event": "task", "kind": "referral_follow_up", "role": "officer", "approval": "referral_follow_up:R1"},
        {"event": "task", "kind": "referral_follow_up", "role": "officer", "approval": "referral_follow_up:R2"}]
    assert [r.tasked for r in case.referrals] == [True, True, False, True, False, False]
    assert due_referral_follow_up(case, READING, CAL, ALL) == z(2026, 6, 2, 16)


# ============================================================================ the catalogue's table


def test_open_deadlines_runs_each_kind_only_in_its_stages() -> None:
    enquiry = facts(unable_letter_at=MON, first_response_at=z(2026, 3, 3, 10))
    assert set(open_deadlines(enquiry, READING, CAL)) == {"enquiry_expiry", "unable_to_contact", "contact"}
    review = case_facts(stage="review", first_response_at=z(2026, 3, 3, 10), monitoring_since=z(2026, 5, 5, 10))
    assert set(open_deadlines(review, READING, CAL)) == {"case_review", "inactivity", "monitoring", "contact"}
    assert open_deadlines(case_facts(stage="closed"), READING, CAL) == {}
    assert {kind for kind, spec in DEADLINES.items() if spec.breach} == {"first_response", "case_review", "contact"}


# ============================================================================ case reviews (003 §8 stage 3)


def review(case: CaseFacts, now: datetime, **args: Any) -> list[dict[str, Any]]:
    events = Lifecycle(case, READING).apply("record_case_review", args, O1, now).events
    assert events[0] == {"event": "command", "command": "record_case_review", "role": "officer", "by": "o1"}
    return events[1:]


def test_a_review_to_consider_closure_starts_the_months_monitoring_and_answers_the_prompt() -> None:
    prompted = z(2026, 4, 1, 9)
    case = case_facts(stage="review", closure_prompt_since=prompted)
    at = z(2026, 5, 5, 10)
    assert review(case, at, decision="consider_closure") == [
        {"event": "case_review", "decision": "consider_closure"},
        {"event": "decision", "kind": "consider_closure", "decision": "monitoring"}]
    assert (case.last_review_at, case.monitoring_since, case.closure_prompt_since) == (at, at, None)
    # The next review is a month after this one; monitoring ends a month after it too.
    assert due_case_review(case, READING, CAL, ALL) == z(2026, 6, 5, 16)
    assert due_monitoring(case, READING, CAL, ALL) == z(2026, 6, 5, 10)


def test_a_review_to_continue_with_a_reason_keeps_the_case_open_and_ends_monitoring() -> None:
    # 003 stage 3; 004 §3.13: the prompt is answered by a recorded decision to keep the case open, with a reason.
    case = case_facts(stage="review", closure_prompt_since=z(2026, 4, 1, 9), monitoring_since=z(2026, 4, 1, 9))
    at = z(2026, 5, 5, 10)
    assert review(case, at, decision="continue", reason_ref="N-7") == [
        {"event": "case_review", "decision": "continue", "reason_ref": "N-7"},
        {"event": "decision", "kind": "consider_closure", "decision": "kept_open"}]
    assert (case.last_review_at, case.monitoring_since, case.closure_prompt_since) == (at, None, None)
    # The reason itself (as the CLI gives it) answers it too; its text never reaches the timeline.
    case = case_facts(stage="review", closure_prompt_since=z(2026, 4, 1, 9))
    assert review(case, at, decision="continue", reason="no incidents but the reporter is still afraid") == [
        {"event": "case_review", "decision": "continue"},
        {"event": "decision", "kind": "consider_closure", "decision": "kept_open"}]
    assert case.closure_prompt_since is None


def test_a_review_to_continue_without_a_reason_leaves_the_prompt_open() -> None:
    prompted = z(2026, 4, 1, 9)
    case = case_facts(stage="review", closure_prompt_since=prompted)
    at = z(2026, 5, 5, 10)
    assert review(case, at, decision="continue") == [{"event": "case_review", "decision": "continue"}]
    assert (case.last_review_at, case.monitoring_since, case.closure_prompt_since) == (at, None, prompted)
    # With no prompt open, a reason answers nothing.
    quiet = case_facts(stage="review")
    assert review(quiet, at, decision="continue", reason_ref="N-8") == [
        {"event": "case_review", "decision": "continue", "reason_ref": "N-8"}]


# ============================================================================ which deadlines are still to act on


def test_a_deadline_acted_on_is_not_acted_on_again_but_a_moved_one_is() -> None:
    # A fired timer never fires twice (CaseFacts.handled); a deadline that moved (a new incident, a new
    # review) is a new one, acted on when it comes.
    case = case_facts(stage="review")
    first, later = z(2026, 5, 5, 16), z(2026, 6, 5, 16)
    deadlines = {"case_review": first, "inactivity": z(2026, 3, 30, 11, 30)}
    assert unhandled(case, deadlines) == [(z(2026, 3, 30, 11, 30), "inactivity"), (first, "case_review")]
    case.handled.append(handled_key("case_review", first))
    assert case.handled == ["case_review@2026-05-05T16:00:00+00:00"]
    assert unhandled(case, deadlines) == [(z(2026, 3, 30, 11, 30), "inactivity")]
    assert unhandled(case, {"case_review": later}) == [(later, "case_review")]


def test_only_breachable_deadlines_that_have_passed_are_overdue() -> None:
    deadlines = {"case_review": z(2026, 5, 5, 16), "contact": z(2026, 5, 6, 16), "inactivity": z(2026, 3, 30),
                 "first_response": z(2026, 3, 3, 17)}
    case = case_facts(stage="review")
    # At the very moment a deadline falls due it is missed (the end of the working day has come).
    assert overdue(case, deadlines, z(2026, 5, 5, 16)) == ["case_review", "first_response"]
    assert overdue(case, deadlines, z(2026, 5, 5, 15, 59)) == ["first_response"]
    assert overdue(case, deadlines, z(2026, 5, 7)) == ["case_review", "contact", "first_response"]


def test_a_task_workflows_calendar_uses_the_bank_holidays_it_was_given() -> None:
    # Inside workflows the holidays come as data (no file reads): Monday 4 May given as a holiday is not a
    # working day, and a year not given is a fault, never a guess.
    given = calendar_for_rules(READING.calendar, {2026: frozenset({date(2026, 5, 4)})})
    assert given.working_day_deadline(z(2026, 5, 1, 12), 1) == z(2026, 5, 5, 16)
    assert calendar_for_rules(READING.calendar, {2026: frozenset()}).working_day_deadline(
        z(2026, 5, 1, 12), 1) == z(2026, 5, 4, 16)
    with pytest.raises(HolidaysNotLoaded):
        given.is_working_day(date(2027, 1, 4))


def test_the_next_risk_assessment_date_must_be_after_today_and_within_a_year_where_the_landlord_is() -> None:
    # 003 §8 stage 1: the plan records when the next assessment is due; a date in the past (or today) would
    # be due at once, one beyond a year is a slip of the year. "Today" is the landlord's: at 00:30 BST on
    # 1 June it is already 1 June in Reading.
    now = z(2026, 5, 31, 23, 30)
    assert local_date(READING, now) == date(2026, 6, 1)
    assert next_assessment_refusal(READING, date(2026, 6, 1), now) == \
        "next_assessment_due 2026-06-01 is not after today (2026-06-01)"
    assert next_assessment_refusal(READING, date(2026, 6, 2), now) is None
    assert next_assessment_refusal(READING, date(2027, 6, 2), now) is None  # 366 days: a leap year's worth
    assert next_assessment_refusal(READING, date(2027, 6, 3), now) == \
        "next_assessment_due 2027-06-03 is more than a year away"


def test_a_profiles_calendar_uses_the_bank_holidays_it_was_given() -> None:
    # The workflow passes the holidays as data: with none given for 2026, Monday 4 May is a working day.
    given = calendar_for(READING, {2026: frozenset()})
    assert given.is_working_day(date(2026, 5, 4)) and not CAL.is_working_day(date(2026, 5, 4))
