"""Risk and vulnerability in the lifecycle (issue 12 item 4), pure: the profile's matrix gives the level
from the factor scores, a vulnerable reporter raises the risk, and the next assessment is a deadline that
tasks the officer. No Temporal here (the workflow test is tests/test_case_timers.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from policy.risk import ScoreError, assess, check_scores
from profiles import load
from statemachine import Actor, Lifecycle, Refused
from statemachine.commands import ReportArgs
from statemachine.deadlines import calendar_for, open_deadlines
from statemachine.patches import ALL, RISK_MATRIX, RISK_REVIEW
from web.forms import command_args, command_fields

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday
O1 = Actor(role="officer", id="o1")


class Case:
    """One case; each command an hour after the last."""

    def __init__(self, profile: str = "reading", patches: frozenset[str] = ALL, **report: Any) -> None:
        args: dict[str, Any] = {"category": "noise", "officer": "o1", "reporter": {"id": "r1"},
                                "reported_person": {"id": "p1"}}
        args.update(report)
        self.lc, opening = Lifecycle.start("ASB-2026-000001", ReportArgs.model_validate(args), load(profile), NOW,
                                           patches)
        self.opening = opening.events
        self.now = NOW

    def do(self, command: str, **args: Any) -> list[dict[str, Any]]:
        self.now += timedelta(hours=1)
        return self.lc.apply(command, args, O1, self.now).events[1:]

    def refused(self, command: str, **args: Any) -> str:
        before = self.lc.facts.model_dump()
        with pytest.raises(Refused) as refused:
            self.do(command, **args)
        assert self.lc.facts.model_dump() == before  # a refusal changes nothing
        return refused.value.reason

    def deadlines(self) -> dict[str, datetime]:
        return open_deadlines(self.lc.facts, self.lc.profile, calendar_for(self.lc.profile), self.lc.patches)


def test_the_scores_give_the_level_from_the_profiles_matrix() -> None:
    case = Case()  # reading: persistence, impact, vulnerability, 0-3 each; medium from 4, high from 7
    assert case.lc.facts.risk == "low"
    assert case.do("record_risk_assessment", scores={"persistence": 2, "impact": 2, "vulnerability": 0}) == [
        {"event": "risk_assessment", "level": "medium", "scores": {"persistence": 2, "impact": 2, "vulnerability": 0},
         "total": 4, "next_due": "2026-04-02"},
        {"event": "risk", "risk": "medium", "why": "risk assessment"}]
    assert (case.lc.facts.risk, case.lc.facts.risk_assessment) == ("medium", "medium")
    # 7 of 9 is high; a high level is reassessed sooner (reading: 2 weeks).
    events = case.do("record_risk_assessment", scores={"persistence": 3, "impact": 3, "vulnerability": 1})
    assert events[0]["level"] == "high" and events[0]["next_due"] == "2026-03-16"
    # One factor at its decisive score (reading: vulnerability 3, "the potential for harm") is high alone.
    assert case.do("record_risk_assessment", scores={"persistence": 0, "impact": 0, "vulnerability": 3}
                   )[0]["level"] == "high"
    # A lower assessment is recorded, but never lowers the case's risk on its own.
    assert case.do("record_risk_assessment", scores={"persistence": 0, "impact": 1, "vulnerability": 0}) == [
        {"event": "risk_assessment", "level": "low", "scores": {"persistence": 0, "impact": 1, "vulnerability": 0},
         "total": 1, "next_due": "2026-04-02"}]
    assert case.lc.facts.risk == "high"


def test_each_profile_scores_its_own_factors_and_an_unknown_one_is_refused_by_name() -> None:
    livewest = Case("livewest", tried_to_resolve=True)
    # LiveWest's red: a risk of harm (2 of 3) makes the case high whatever the total (004 §3.5).
    assert livewest.do("record_risk_assessment", scores={"harm": 2, "vulnerability": 0, "frequency": 0, "impact": 0}
                       )[0]["level"] == "high"
    reason = livewest.refused("record_risk_assessment", scores={"harm": 1, "vulnerability": 0, "frequency": 0,
                                                                "impact": 0, "persistence": 2})
    assert reason.startswith("unknown risk factor 'persistence'") and "harm, vulnerability, frequency, impact" in reason
    reading = Case()
    assert "no score for 'vulnerability'" in reading.refused("record_risk_assessment",
                                                             scores={"persistence": 1, "impact": 1})
    assert "vulnerability: score from 0 to 3, not 4" in reading.refused(
        "record_risk_assessment", scores={"persistence": 1, "impact": 1, "vulnerability": 4})
    assert "not both" in reading.refused("record_risk_assessment", level="low",
                                         scores={"persistence": 1, "impact": 1, "vulnerability": 0})
    assert "give the factor scores" in reading.refused("record_risk_assessment")


def test_a_level_without_scores_is_still_accepted_from_older_scenario_files() -> None:
    case = Case()
    assert case.do("record_risk_assessment", level="low") == [
        {"event": "risk_assessment", "level": "low", "next_due": "2026-04-02"}]
    assert case.lc.facts.risk_assessment == "low"


def test_the_next_assessment_date_is_given_or_the_profiles_interval_and_must_lie_ahead() -> None:
    case = Case()
    events = case.do("record_risk_assessment", scores={"persistence": 1, "impact": 1, "vulnerability": 0},
                     next_assessment_due="2026-03-20")
    assert events[0]["next_due"] == "2026-03-20"
    # The deadline falls at the end of that working day (a Friday, 17:00 in London).
    assert case.deadlines()["risk_review"] == datetime(2026, 3, 20, 17, 0, tzinfo=UTC)
    assert "is not after today" in case.refused("record_risk_assessment", level="low",
                                                next_assessment_due="2026-03-02")
    assert "more than a year away" in case.refused("record_risk_assessment", level="low",
                                                   next_assessment_due="2027-06-01")
    # Due on a Saturday: the end of the next working day.
    case.do("record_risk_assessment", level="low", next_assessment_due="2026-03-21")
    assert case.deadlines()["risk_review"] == datetime(2026, 3, 23, 17, 0, tzinfo=UTC)


def test_when_the_next_assessment_falls_due_the_officer_is_tasked_and_recording_it_answers_the_task() -> None:
    case = Case()
    case.do("record_risk_assessment", scores={"persistence": 2, "impact": 2, "vulnerability": 0})
    due = case.deadlines()["risk_review"]
    assert due == datetime(2026, 4, 2, 16, 0, tzinfo=UTC)  # 17:00 London, summer time
    assert case.lc.on_deadline("risk_review", due).events == [
        {"event": "task", "kind": RISK_REVIEW, "role": "officer", "approval": RISK_REVIEW}]
    assert case.lc.on_deadline("risk_review", due).events == []  # one task, however often it is asked
    case.now = due
    events = case.do("record_risk_assessment", scores={"persistence": 1, "impact": 2, "vulnerability": 0})
    assert events[-1] == {"event": "decision", "kind": RISK_REVIEW, "decision": "done"}
    assert case.lc.facts.risk_review_task_open is False
    assert case.lc.facts.risk_review_on == date(2026, 5, 2)  # low: a month from the day it was done


def test_a_vulnerable_reporters_case_is_at_least_the_profiles_floor() -> None:
    # Reading: a noise report is low; a vulnerable reporter makes it medium from the start (003 §10).
    reading = Case(reporter={"id": "r1", "vulnerable": True})
    assert reading.lc.facts.risk == "medium"
    assert {"event": "risk", "risk": "medium", "why": "vulnerable reporter"} in reading.opening
    # LiveWest: red (004 §3.5, as its risk of harm).
    assert Case("livewest", tried_to_resolve=True, reporter={"id": "r1", "vulnerable": True}).lc.facts.risk == "high"
    # At an assessment the case file says whether the reporter is vulnerable: the level is raised to the floor,
    # and what the scores alone gave is kept beside it.
    case = Case()
    assert case.do("record_risk_assessment", scores={"persistence": 1, "impact": 0, "vulnerability": 0},
                   reporter_vulnerable=True)[:2] == [
        {"event": "risk_assessment", "level": "medium", "scores": {"persistence": 1, "impact": 0, "vulnerability": 0},
         "total": 1, "scored": "low", "vulnerable": True, "next_due": "2026-04-02"},
        {"event": "risk", "risk": "medium", "why": "risk assessment"}]
    assert case.lc.facts.reporter.vulnerable is True


def test_a_case_escalated_to_high_is_assessed_again_that_day() -> None:
    case = Case()
    case.do("record_risk_assessment", level="low")
    assert case.lc.facts.risk_review_on == date(2026, 4, 2)
    case.do("escalate_risk", risk="high")
    assert case.lc.facts.risk_review_on == date(2026, 3, 2)
    assert case.deadlines()["risk_review"] == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


def test_a_case_recorded_before_the_change_keeps_the_old_rule() -> None:
    old = ALL - {RISK_MATRIX}
    case = Case(patches=old, reporter={"id": "r1", "vulnerable": True})
    assert case.lc.facts.risk == "low"  # no floor for the vulnerable reporter
    assert case.do("record_risk_assessment", level="high") == [{"event": "risk_assessment", "level": "high"}]
    assert case.lc.facts.risk == "low" and case.lc.facts.risk_review_on is None
    case.do("escalate_risk", risk="high")
    assert "risk_review" not in case.deadlines()


def test_the_matrix_functions_name_the_factor_at_fault() -> None:
    matrix = load("default").risk_matrix
    with pytest.raises(ScoreError) as error:
        check_scores(matrix, {"harm": 1, "persistence": 1, "impact": 1, "vulnerability": 1, "noise": 1})
    assert error.value.factor == "noise"
    found = assess(matrix, scores={"harm": 0, "persistence": 1, "impact": 1, "vulnerability": 0}, level=None,
                   reporter_vulnerable=False)
    assert (found.level, found.total) == ("low", 2)
    assert assess(matrix, scores=None, level="low", reporter_vulnerable=True).level == "medium"


def test_the_risk_assessment_form_asks_each_question_of_the_matrix() -> None:
    matrix = load("reading").risk_matrix
    fields = command_fields("record_risk_assessment", [], matrix)
    names = [f.name for f in fields]
    # One input per factor, scored 0 to its max; the date of the next one; no level (older files only) and
    # no reporter_vulnerable (the case file answers it).
    assert names == ["scores.persistence", "scores.impact", "scores.vulnerability", "next_assessment_due"]
    assert fields[0].label == matrix.factors["persistence"].question
    assert [v for v, _ in fields[0].options] == ["0", "1", "2", "3"]
    assert fields[-1].kind == "date"
    posted = {"scores.persistence": "2", "scores.impact": "1", "scores.vulnerability": "0",
              "next_assessment_due": "2026-04-10"}
    assert command_args("record_risk_assessment", posted, [], "Europe/London", matrix) == {
        "scores": {"persistence": 2, "impact": 1, "vulnerability": 0}, "next_assessment_due": "2026-04-10"}
