"""Referrals to partner agencies in the lifecycle (issue 12 item 8; 003 §9, §15; 004 §2.2, §3.3, §4.4, §4.5):
who may be referred on what basis, the follow-up deadline and its task, the outcome, and the one concept
of a referral (a support referral is no longer an intervention). Pure: no Temporal, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from policy.model import Profile
from profiles import load
from statemachine import Actor, Lifecycle, Refused
from statemachine.commands import ReportArgs
from statemachine.deadlines import calendar_for, open_deadlines
from statemachine.patches import ALL, REFERRALS_RECORDED

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday
O1, O2, M1 = Actor(role="officer", id="o1"), Actor(role="officer", id="o2"), Actor(role="manager", id="m1")
PARTNER = Actor(role="partner", id="vs-staff-1")


class Case:
    """A case on the Reading profile (its agencies: 003 §9, §11); each command an hour after the last."""

    def __init__(self, patches: frozenset[str] = ALL, **report: Any) -> None:
        args: dict[str, Any] = {"category": "noise", "officer": "o1", "reported_person": {"id": "p1"},
                                "reporter": {"id": "r1", "contact": {"method": "phone"}}}
        args.update(report)
        self.profile = load("reading")
        self.lc, _ = Lifecycle.start("ASB-2026-000001", ReportArgs.model_validate(args), self.profile, NOW, patches)
        self.now = NOW

    def do(self, command: str, actor: Actor = O1, **args: Any) -> list[dict[str, Any]]:
        self.now += timedelta(hours=1)
        return self.lc.apply(command, args, actor, self.now).events[1:]

    def refused(self, command: str, actor: Actor = O1, **args: Any) -> str:
        before = self.lc.facts.model_dump()
        with pytest.raises(Refused) as refused:
            self.do(command, actor, **args)
        assert self.lc.facts.model_dump() == before  # a refusal changes nothing
        return refused.value.reason

    def deadlines(self) -> dict[str, datetime]:
        return open_deadlines(self.lc.facts, self.profile, calendar_for(self.profile))


def test_a_referral_made_on_consent_names_the_agency_the_person_the_consent_and_its_follow_up() -> None:
    case = Case()
    assert case.do("make_referral", agency="victim_support", consent_ref="C-7", follow_up="2026-03-20") == [
        {"event": "referral", "to": "victim_support", "reason": "victim_support", "id": "referral-1",
         "person_id": "r1", "basis": "consent", "consent_ref": "C-7", "follow_up": "2026-03-20"}]
    # Support is not escalation: the enquiry stays an enquiry (003 §9 "as and when required").
    assert case.lc.facts.stage == "enquiry"


def test_without_consent_only_safeguarding_teams_and_the_police_are_referred_to() -> None:
    case = Case()
    assert case.refused("make_referral", agency="victim_support") == (
        "no referral consent is recorded for the person (or they withdrew it): ask them and record their consent "
        "first (003 §15)")
    assert case.refused("make_referral", agency="cmht", basis="safeguarding") == (
        "a referral to cmht (mental_health) needs the person's consent: only safeguarding teams and the police are "
        "referred to without it (004 §2.2, §4.4)")
    assert "record their consent first (003 §15), or refer on a safeguarding basis" in case.refused(
        "make_referral", agency="adult_social_care")
    assert case.refused("make_referral", agency="brighter_futures", basis="crime").startswith(
        "a referral to brighter_futures (safeguarding_children) needs the person's consent")
    # 004 §2.2 "a duty of care to share any information that we feel represents a safeguarding risk"; §4.4.
    made = case.do("make_referral", agency="adult_social_care", basis="safeguarding", person_id="p1")
    assert made[0]["basis"] == "safeguarding" and made[0]["person_id"] == "p1" and "consent_ref" not in made[0]
    # The police, on a crime (004 §3.5, §4.5) or a safeguarding concern.
    assert case.do("make_referral", agency="police", basis="crime")[0]["reason"] == "police"
    assert case.do("make_referral", agency="police", basis="safeguarding")[0]["basis"] == "safeguarding"


def test_an_unknown_agency_an_anonymous_reporter_and_a_bad_follow_up_are_refused() -> None:
    case = Case()
    assert case.refused("make_referral", agency="sari", consent_ref="C-1").startswith(
        "unknown agency 'sari'; this service refers to: victim_support, hate_crime_service")
    assert case.refused("make_referral", agency="victim_support", consent_ref="C-1", follow_up="2026-03-02") == (
        "the follow-up date 2026-03-02 must be after today (2026-03-02)")
    assert case.refused("make_referral", agency="victim_support", consent_ref="C-1", follow_up="2027-03-10") == (
        "the follow-up date 2027-03-10 is more than a year away")
    anonymous = Case(reporter={"anonymous": True})
    assert anonymous.refused("make_referral", agency="police", basis="crime") == (
        "the reporter is anonymous: name the person referred (person_id)")
    assert anonymous.do("make_referral", agency="police", basis="crime", person_id="p1")[0]["person_id"] == "p1"


def test_referrals_are_made_at_any_stage_and_move_none() -> None:
    case = Case(hate=True)  # urgent: straight to legal action is allowed
    case.do("record_risk_assessment", level="high")
    case.do("record_equality_assessment")
    case.do("propose_legal_action", kind="injunction", emergency=True)
    assert case.lc.facts.stage == "legal"
    assert case.do("make_referral", agency="hate_crime_service", consent_ref="C-2")[0]["to"] == "hate_crime_service"
    assert case.lc.facts.stage == "legal"
    assert "make_referral" in case.lc.allowed(O1)


def test_the_follow_up_is_due_at_the_end_of_its_working_day_and_tasks_the_officer_once() -> None:
    case = Case()
    case.do("make_referral", agency="victim_support", consent_ref="C-1", follow_up="2026-03-07")  # a Saturday
    case.do("make_referral", agency="cmht", consent_ref="C-1", follow_up="2026-03-10")
    due = case.deadlines()["referral_follow_up"]
    assert due == datetime(2026, 3, 9, 17, 0, tzinfo=UTC)  # Monday, the next working day, 17:00
    assert case.lc.on_deadline("referral_follow_up", due).events == [
        {"event": "task", "kind": "referral_follow_up", "role": "officer",
         "approval": "referral_follow_up:referral-1"}]
    # Now the next referral's follow-up; the first is not tasked twice.
    assert case.deadlines()["referral_follow_up"] == datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
    assert case.lc.on_deadline("referral_follow_up", datetime(2026, 3, 10, 17, 0, tzinfo=UTC)).events == [
        {"event": "task", "kind": "referral_follow_up", "role": "officer",
         "approval": "referral_follow_up:referral-2"}]
    assert "referral_follow_up" not in case.deadlines()


def test_without_a_date_the_follow_up_is_the_profiles_period_after_the_referral() -> None:
    case = Case()
    assert case.do("make_referral", agency="victim_support", consent_ref="C-1")[0]["follow_up"] == "2026-03-16"
    assert case.deadlines()["referral_follow_up"] == datetime(2026, 3, 16, 17, 0, tzinfo=UTC)


def test_the_outcome_answers_the_follow_up_task_and_decides_what_comes_next() -> None:
    case = Case()
    case.do("make_referral", agency="victim_support", consent_ref="C-1", follow_up="2026-03-05")
    case.lc.on_deadline("referral_follow_up", datetime(2026, 3, 5, 17, 0, tzinfo=UTC))
    case.now = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    # No answer yet: chased again after the profile's two weeks, and the open task is answered.
    assert case.do("record_referral_outcome", referral="referral-1", outcome="no_response") == [
        {"event": "referral_outcome", "id": "referral-1", "outcome": "no_response", "follow_up": "2026-03-20"},
        {"event": "decision", "kind": "referral_follow_up", "decision": "no_response",
         "approval": "referral_follow_up:referral-1"}]
    assert case.deadlines()["referral_follow_up"] == datetime(2026, 3, 20, 17, 0, tzinfo=UTC)
    # Accepted with no further date: nothing more to chase, and no task was open to answer.
    assert case.do("record_referral_outcome", referral="referral-1", outcome="accepted") == [
        {"event": "referral_outcome", "id": "referral-1", "outcome": "accepted"}]
    assert "referral_follow_up" not in case.deadlines()
    assert case.do("record_referral_outcome", referral="referral-1", outcome="completed") == [
        {"event": "referral_outcome", "id": "referral-1", "outcome": "completed"}]
    assert case.refused("record_referral_outcome", referral="referral-1", outcome="declined") == (
        "referral-1 (to victim_support) already has its final outcome")
    assert case.refused("record_referral_outcome", referral="referral-9", outcome="declined") == (
        "no referral referral-9 on this case (referrals: referral-1)")
    assert "record_referral_outcome" not in case.lc.allowed(O1)  # none open


def test_a_final_outcome_takes_no_follow_up_date() -> None:
    case = Case()
    case.do("make_referral", agency="victim_support", consent_ref="C-1")
    assert "a declined referral is finished" in case.refused(
        "record_referral_outcome", referral="referral-1", outcome="declined", follow_up="2026-04-01")


def test_a_partner_may_record_an_outcome_and_nothing_else() -> None:
    case = Case()
    case.do("make_referral", agency="victim_support", consent_ref="C-1")
    assert case.do("record_referral_outcome", PARTNER, referral="referral-1", outcome="accepted",
                   follow_up="2026-04-01") == [
        {"event": "referral_outcome", "id": "referral-1", "outcome": "accepted", "follow_up": "2026-04-01"}]
    assert case.refused("make_referral", PARTNER, agency="victim_support", consent_ref="C-1") == (
        "the partner role may not issue make_referral (allowed: officer, manager, senior_manager)")
    assert case.refused("record_contact", PARTNER, outcome="made").startswith("the partner role may not issue")
    assert case.lc.allowed(PARTNER) == ["record_referral_outcome"]
    # Another officer may not record it on the case's officer's behalf; a manager may.
    assert case.refused("record_referral_outcome", O2, referral="referral-1", outcome="completed") == (
        "the case belongs to officer o1")
    assert case.do("record_referral_outcome", M1, referral="referral-1", outcome="completed")[0]["outcome"] == (
        "completed")


def test_a_support_referral_is_a_referral_not_an_intervention() -> None:
    """One concept: `start_intervention support_referral` had no agency, consent or follow-up; it is refused
    and names make_referral. A case recorded before the change keeps the old rule on replay."""
    case = Case()
    assert case.refused("start_intervention", kind="support_referral") == (
        "a support referral is recorded with make_referral: the agency, the consent it is made with and a "
        "follow-up date (003 §9, §15)")
    older = Case(patches=ALL - {REFERRALS_RECORDED})
    assert older.do("start_intervention", kind="support_referral") == [
        {"event": "intervention", "kind": "support_referral"}]
    # On the old rule it is an intervention that moves nothing (004 §3.3) and, as new information, asks for
    # the Equality Act assessment again while legal action is open (004 §6.4).
    assert (older.lc.facts.interventions, older.lc.facts.stage) == (["support_referral"], "enquiry")
    older.do("record_risk_assessment", level="high")
    older.do("record_equality_assessment")
    older.do("propose_legal_action", kind="legal_warning")
    assert older.do("start_intervention", kind="support_referral") == [
        {"event": "intervention", "kind": "support_referral"},
        {"event": "task", "kind": "equality_review", "role": "officer", "approval": "equality_review",
         "why": "support_referral"}]
    assert older.lc.facts.equality_needed == "support_referral"


def test_profiles_name_their_agencies_from_an_allow_list_of_kinds() -> None:
    livewest = load("livewest").referrals.agencies
    assert (livewest["sari"].kind, livewest["beme"].kind) == ("hate_crime_service", "mental_health")  # 004 §3.3
    default = load("default").referrals
    assert set(default.agencies) == {"victim_support", "hate_crime_service", "mental_health", "tenancy_sustainment",
                                     "safeguarding_adults", "safeguarding_children", "police",
                                     "environmental_health"}
    base = load("default").model_dump(mode="json")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"agencies": {"x": {"kind": "astrologer", "title": "X"}}}, "kind"),
        ({"agencies": {"Bad Id": {"kind": "police", "title": "X"}}}, "agency id"),
        ({"follow_up_after": "10 working days"}, "a follow-up is a date"),
    ]
    for bad, field in cases:
        with pytest.raises(ValidationError, match=field):
            Profile.model_validate({**base, "referrals": {**base["referrals"], **bad}})


def test_the_follow_up_date_is_the_services_own_day() -> None:
    """23:30 UTC on 30 March is 00:30 on the 31st in London (summer time): "today" is the 31st there."""
    case = Case()
    case.now = datetime(2026, 3, 30, 22, 30, tzinfo=UTC)
    assert "must be after today (2026-03-31)" in case.refused(
        "make_referral", agency="victim_support", consent_ref="C-1", follow_up="2026-03-31")
    assert case.do("make_referral", agency="victim_support", consent_ref="C-1")[0]["follow_up"] == (
        (date(2026, 3, 31) + timedelta(weeks=2)).isoformat())
