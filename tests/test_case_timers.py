"""Every timer of the lifecycle, on Temporal's time-skipping server with the real workflow and activities."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from asb.scenario import Scenario
from asb.simulate import play
from casefile.db import Store
from casefile.models import RiskAssessmentRow, TaskRow
from profiles import load
from tests.polling import eventually
from tests.scenarios import MANAGER, MANAGER_2, SENIOR, of, report, run, step


@pytest.fixture
def env(fresh_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """Each test on a time-skipping server of its own (tests/conftest.py `fresh_env`)."""
    return fresh_env


@pytest.fixture
def task_queue(fresh_task_queue: str) -> str:
    return fresh_task_queue


START = "2026-03-02T09:30:00+00:00"


async def test_missed_first_response_is_a_breach_with_an_overdue_task(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    # Reading: low risk, 5 working days from Monday 2 March: due Monday 9 March, 17:00.
    timeline = await run(env, store, task_queue, start=START, until="2026-03-11T00:00:00+00:00",
                         steps=[report(START)])
    assert of(timeline, "deadline", kind="first_response")[0]["due"] == "2026-03-09T17:00:00+00:00"
    breach = of(timeline, "breach", kind="first_response")
    assert [b["at"] for b in breach] == ["2026-03-09T17:00:00+00:00"]
    assert of(timeline, "task", kind="overdue", role="manager", deadline="first_response")


async def test_high_risk_first_response_is_one_working_day(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    # Friday 17:30 counts from Monday; 1 working day => Tuesday 17:00.
    at = "2026-03-06T17:30:00+00:00"
    timeline = await run(env, store, task_queue, start=at, until="2026-03-12T00:00:00+00:00",
                         steps=[report(at, hate=True)])
    assert of(timeline, "triage")[0]["risk"] == "high"
    assert of(timeline, "deadline", kind="first_response")[0]["due"] == "2026-03-10T17:00:00+00:00"


async def test_contact_in_time_means_no_breach(env: WorkflowEnvironment, store: Store, task_queue: str) -> None:
    timeline = await run(env, store, task_queue, start=START, until="2026-03-11T00:00:00+00:00", steps=[
        report(START), step("2026-03-04T10:00:00+00:00", "record_contact", outcome="made", method="phone"),
    ])
    assert not of(timeline, "breach")


async def test_enquiry_expires_after_four_weeks_with_a_letter(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    timeline = await run(env, store, task_queue, start=START, until="2026-04-02T00:00:00+00:00", steps=[
        report(START), step("2026-03-03T10:00:00+00:00", "record_contact", outcome="made", method="phone"),
    ])
    closed = of(timeline, "closed")
    assert [(c["at"], c["reason"]) for c in closed] == [("2026-03-30T08:30:00+00:00", "enquiry_expired")]
    assert of(timeline, "letter", template="enquiry_closed", to="reporter")
    assert of(timeline, "stage")[-1]["stage"] == "closed"


async def test_converted_enquiry_does_not_expire(env: WorkflowEnvironment, store: Store, task_queue: str) -> None:
    timeline = await run(env, store, task_queue, start=START, until="2026-04-02T00:00:00+00:00", steps=[
        report(START),
        step("2026-03-03T10:00:00+00:00", "record_contact", outcome="made", method="phone"),
        step("2026-03-03T10:05:00+00:00", "record_risk_assessment", level="low"),
        step("2026-03-03T10:10:00+00:00", "convert_to_case"),
    ])
    assert not of(timeline, "closed")
    assert of(timeline, "stage")[-1]["stage"] == "investigation"


async def test_two_failed_contacts_bring_the_letter_then_closure_after_ten_working_days(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    timeline = await run(env, store, task_queue, start=START, until="2026-03-25T00:00:00+00:00", steps=[
        report(START),
        step("2026-03-03T10:00:00+00:00", "record_contact", outcome="failed", method="phone"),
        step("2026-03-04T10:00:00+00:00", "record_contact", outcome="failed", method="phone"),
    ])
    letters = of(timeline, "letter", template="unable_to_contact")
    assert [letter["at"] for letter in letters] == ["2026-03-04T10:00:00+00:00"]
    assert of(timeline, "deadline", kind="unable_to_contact")[0]["due"] == "2026-03-18T17:00:00+00:00"
    assert [(c["at"], c["reason"]) for c in of(timeline, "closed")] == [
        ("2026-03-18T17:00:00+00:00", "unable_to_contact")
    ]


async def test_contact_after_the_letter_keeps_the_enquiry_open(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    timeline = await run(env, store, task_queue, start=START, until="2026-03-25T00:00:00+00:00", steps=[
        report(START),
        step("2026-03-03T10:00:00+00:00", "record_contact", outcome="failed", method="phone"),
        step("2026-03-04T10:00:00+00:00", "record_contact", outcome="failed", method="phone"),
        step("2026-03-10T10:00:00+00:00", "record_contact", outcome="made", method="phone"),
    ])
    assert not of(timeline, "closed")


def _seq_of(timeline: list[dict[str, Any]], event: dict[str, Any]) -> int:
    """Events are numbered in order from 1; rejected commands (recorded by the door) are not."""
    numbered = [e for e in timeline if e["event"] != "rejected"]
    return numbered.index(event) + 1


def _converted(at_day: str = "2026-03-03") -> list[dict[str, Any]]:
    return [
        report(START),
        step(f"{at_day}T10:00:00+00:00", "record_contact", outcome="made", method="phone"),
        step(f"{at_day}T10:05:00+00:00", "record_risk_assessment", level="medium"),
        step(f"{at_day}T10:10:00+00:00", "convert_to_case"),
    ]


async def test_two_months_after_conversion_the_case_goes_to_review_and_an_unmade_review_is_a_breach(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    timeline = await run(env, store, task_queue, start=START, until="2026-05-07T00:00:00+00:00", steps=_converted())
    # 3 May 2026 is a Sunday: review stage at the 2-month mark, the review due by the end of the
    # next working day, which is Tuesday 5 May because Monday 4 May is a bank holiday.
    assert of(timeline, "stage", stage="review")[0]["at"] == "2026-05-03T09:10:00+00:00"
    assert of(timeline, "deadline", kind="case_review")[0]["due"] == "2026-05-05T17:00:00+01:00"
    assert [b["at"] for b in of(timeline, "breach", kind="case_review")] == ["2026-05-05T16:00:00+00:00"]
    assert of(timeline, "task", kind="overdue", deadline="case_review")


async def test_a_recorded_review_sets_the_next_one_a_month_later(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    timeline = await run(env, store, task_queue, start=START, until="2026-06-10T00:00:00+00:00", steps=[
        *_converted(),
        step("2026-05-05T11:00:00+00:00", "record_case_review", decision="continue"),
    ])
    # The first review was made in time; the second, unmade, is the only breach.
    assert [b["at"] for b in of(timeline, "breach", kind="case_review")] == ["2026-06-05T16:00:00+00:00"]
    # 5 June 2026 is a Friday: due by its end.
    dues = [d["due"] for d in of(timeline, "deadline", kind="case_review")]
    assert dues[-1] == "2026-06-05T17:00:00+01:00"


async def test_missed_contact_at_the_agreed_frequency_is_a_breach(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    timeline = await run(env, store, task_queue, start=START, until="2026-03-25T00:00:00+00:00", steps=[
        *_converted(),
        step("2026-03-03T11:00:00+00:00", "agree_action_plan", contact_every_days=14, contact_method="phone"),
    ])
    assert of(timeline, "letter", template="action_plan", to="reporter")
    assert of(timeline, "deadline", kind="contact")[-1]["due"] == "2026-03-17T17:00:00+00:00"
    assert [b["at"] for b in of(timeline, "breach", kind="contact")] == ["2026-03-17T17:00:00+00:00"]
    assert of(timeline, "task", kind="overdue", deadline="contact")


async def test_homes_in_somerset_contact_is_weekly_and_refuses_a_rarer_plan(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    timeline = await run(env, store, task_queue, profile="homes-in-somerset", start=START,
                         until="2026-03-12T00:00:00+00:00", steps=[
        *_converted(),
        step("2026-03-03T11:00:00+00:00", "agree_action_plan", contact_every_days=14, contact_method="phone"),
    ])
    rejected = of(timeline, "rejected", command="agree_action_plan")
    assert rejected and "at least every 1 week" in rejected[0]["reason"]
    assert [b["at"] for b in of(timeline, "breach", kind="contact")] == ["2026-03-10T17:00:00+00:00"]


async def test_no_incident_for_28_days_asks_the_officer_to_consider_closure(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    quiet = await run(env, store, task_queue, start=START, until="2026-04-20T00:00:00+00:00", steps=_converted())
    assert [t["at"] for t in of(quiet, "task", kind="consider_closure", role="officer")] == [
        "2026-03-31T09:10:00+00:00"  # 28 days keeps the London clock time, now in summer time
    ]
    assert of(quiet, "stage")[-1]["stage"] == "investigation"  # not closed by itself
    reset = await run(env, store, task_queue, start=START, until="2026-04-20T00:00:00+00:00", steps=[
        *_converted(), step("2026-03-20T12:00:00+00:00", "record_incident", occurred_at="2026-03-20T08:00:00+00:00"),
    ])
    assert [t["at"] for t in of(reset, "task", kind="consider_closure")] == ["2026-04-17T07:00:00+00:00"]


async def test_undecided_closure_is_escalated_to_the_senior_manager(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    timeline = await run(env, store, task_queue, start=START, until="2026-03-20T00:00:00+00:00", steps=[
        *_converted(),
        step("2026-03-04T10:00:00+00:00", "request_closure", reason="asb_stopped"),
    ])
    task = of(timeline, "task", kind="closure_approval", role="manager")[0]
    # Due 5 working days from Wednesday 4 March at 10:00, the end of Wednesday 11 March: a reminder
    # with one working day left (the end of Tuesday 10th), then the task goes to the senior manager.
    reminders = of(timeline, "reminder", kind="closure_approval", role="manager")
    assert [r["at"] for r in reminders] == ["2026-03-10T17:00:00+00:00"]
    escalated = of(timeline, "escalation", kind="closure_approval", role="senior_manager")
    assert [e["at"] for e in escalated] == ["2026-03-11T17:00:00+00:00"]
    assert escalated[0]["task"].endswith(f"-T{_seq_of(timeline, task)}")
    # Once escalated, a manager can no longer decide it; the senior manager can.
    late = await run(env, store, task_queue, start=START, until="2026-03-20T00:00:00+00:00", steps=[
        *_converted(),
        step("2026-03-04T10:00:00+00:00", "request_closure", reason="asb_stopped"),
        step("2026-03-12T10:00:00+00:00", "approve_closure", MANAGER),
        step("2026-03-12T11:00:00+00:00", "approve_closure", SENIOR),
    ])
    assert "senior_manager" in of(late, "rejected", command="approve_closure")[0]["reason"]
    assert of(late, "closed", reason="asb_stopped")


async def test_whole_path_to_an_approved_closure(env: WorkflowEnvironment, store: Store, task_queue: str) -> None:
    timeline = await run(env, store, task_queue, start=START, until="2026-06-01T00:00:00+00:00", steps=[
        *_converted(),
        step("2026-03-10T10:00:00+00:00", "start_intervention", kind="warning_letter"),
        step("2026-03-20T10:00:00+00:00", "record_equality_assessment", note="done"),
        step("2026-03-20T11:00:00+00:00", "propose_legal_action", kind="legal_warning"),
        step("2026-03-21T10:00:00+00:00", "approve_legal_action", MANAGER),
        step("2026-04-10T10:00:00+00:00", "request_closure", reason="asb_stopped"),
        step("2026-04-11T10:00:00+00:00", "conclude_legal_action", outcome="complied"),
        step("2026-04-11T11:00:00+00:00", "request_closure", MANAGER, reason="interventions_succeeded"),
        step("2026-04-12T10:00:00+00:00", "approve_closure", MANAGER),
        step("2026-04-12T11:00:00+00:00", "approve_closure", MANAGER_2),
        step("2026-04-13T10:00:00+00:00", "record_contact", outcome="made", method="phone"),
    ])
    stages = [s["stage"] for s in of(timeline, "stage")]
    assert stages == ["enquiry", "investigation", "interventions", "legal", "closed"]
    assert of(timeline, "letter", template="warning_letter", to="reported_person")
    assert of(timeline, "letter", template="legal_warning", to="reported_person")
    rejected = {r["command"]: r["reason"] for r in of(timeline, "rejected")}
    assert "legal action is still open" in rejected["request_closure"]
    assert "decide their own request" in rejected["approve_closure"]
    assert "closed" in rejected["record_contact"]
    assert of(timeline, "closed", reason="interventions_succeeded")
    for template in ("case_closed_reporter", "satisfaction_survey"):
        assert of(timeline, "letter", template=template, to="reporter")
    assert of(timeline, "letter", template="case_closed_reported_person", to="reported_person")


async def test_emergency_legal_action_enters_legal_at_once_and_is_approved_afterwards(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    at = "2026-03-02T09:30:00+00:00"
    timeline = await run(env, store, task_queue, start=at, until="2026-03-10T00:00:00+00:00", steps=[
        report(at, violence_or_threats=True),
        step("2026-03-02T10:00:00+00:00", "propose_legal_action", kind="injunction", emergency=True),
        step("2026-03-02T10:05:00+00:00", "record_equality_assessment"),
        step("2026-03-02T10:10:00+00:00", "propose_legal_action", kind="injunction", emergency=True,
             instruct_solicitor=True),
        step("2026-03-03T10:00:00+00:00", "approve_legal_action", MANAGER),
        step("2026-03-03T11:00:00+00:00", "approve_legal_action", SENIOR),
    ])
    assert "Equality Act" in of(timeline, "rejected", command="propose_legal_action")[0]["reason"]
    assert of(timeline, "stage", stage="legal")[0]["at"] == "2026-03-02T10:10:00+00:00"
    task = of(timeline, "task", kind="legal_approval")[0]
    assert (task["role"], task["after_the_event"]) == ("senior_manager", True)  # solicitors instructed
    assert "senior_manager" in of(timeline, "rejected", command="approve_legal_action")[0]["reason"]
    assert of(timeline, "legal_action", status="approved")


async def test_an_untouched_hate_enquiry_is_not_closed_by_its_timer_but_raises_a_decision_task(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """Issue 11 item 4: nobody worked this high-risk hate report; at 4 weeks it is not closed as
    "does not meet the threshold" (003 stage 1 closes for insufficient information, which presumes
    an enquiry that was worked). The officer gets a decision task, which escalates to the manager."""
    timeline = await run(env, store, task_queue, start=START, until="2026-04-10T00:00:00+00:00",
                         steps=[report(START, hate=True)])
    assert of(timeline, "breach", kind="first_response")
    assert not of(timeline, "closed")
    assert not of(timeline, "letter", template="enquiry_closed")
    task = of(timeline, "task", kind="enquiry_decision")
    assert [(t["at"], t["role"]) for t in task] == [("2026-03-30T08:30:00+00:00", "officer")]
    assert of(timeline, "escalation", kind="enquiry_decision", role="manager")


async def test_an_enquiry_whose_reporter_was_never_reached_is_decided_by_the_officer(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """Issue 11 item 4: low risk, but every call failed: the officer decides, and the closure letter
    states the reason the officer recorded."""
    timeline = await run(env, store, task_queue, start=START, until="2026-04-10T00:00:00+00:00", steps=[
        report(START),
        step("2026-03-03T10:00:00+00:00", "record_contact", outcome="failed", method="phone"),
        step("2026-03-31T10:00:00+00:00", "close_enquiry", reason="no_cooperation"),
    ])
    assert of(timeline, "task", kind="enquiry_decision", role="officer")
    assert [(c["at"], c["reason"]) for c in of(timeline, "closed")] == [("2026-03-31T10:00:00+00:00", "no_cooperation")]
    assert of(timeline, "decision", kind="enquiry_decision", decision="closed")
    assert not of(timeline, "escalation", kind="enquiry_decision")  # the task ended with the decision


async def test_a_case_converted_without_a_successful_contact_still_has_a_contact_deadline(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """Issue 11 item 5 (003 §9: contact at least monthly): the reporter's phone never answers, the
    officer converts the case anyway; the contact deadline runs from conversion and is breached."""
    timeline = await run(env, store, task_queue, start=START, until="2026-06-01T00:00:00+00:00", steps=[
        report(START),
        step("2026-03-03T10:00:00+00:00", "record_contact", outcome="failed", method="phone"),
        step("2026-03-03T10:05:00+00:00", "record_risk_assessment", level="low"),
        step("2026-03-05T10:10:00+00:00", "convert_to_case"),
        step("2026-03-06T10:00:00+00:00", "record_contact", outcome="failed", method="phone"),
    ])
    contact = of(timeline, "deadline", kind="contact")
    # a month from conversion is Sunday 5 April; Easter Monday is a bank holiday: Tuesday 7 April
    assert contact and contact[-1]["due"] == "2026-04-07T17:00:00+01:00"
    assert [b["at"] for b in of(timeline, "breach", kind="contact")] == ["2026-04-07T16:00:00+00:00"]


CONVERTED = [
    report(START),
    step("2026-03-03T10:00:00+00:00", "record_contact", outcome="made", method="phone"),
    step("2026-03-03T10:05:00+00:00", "record_risk_assessment", level="low"),
    step("2026-03-03T10:10:00+00:00", "convert_to_case"),
]


async def test_consider_closure_is_a_prompt_for_the_officer_never_a_breach(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """Issue 11 item 14 (003 stage 3, 004 §3.13): 28 quiet days prompt the officer to consider closure.
    The prompt does not go up to managers or end in a breach while the officer works the case; it is
    answered by a recorded decision to keep the case open, with a reason."""
    timeline = await run(env, store, task_queue, start=START, until="2026-05-20T00:00:00+01:00", steps=[
        *CONVERTED,
        step("2026-03-05T10:00:00+00:00", "agree_action_plan", contact_every_days=7),
        *[step(f"2026-{m:02d}-{d:02d}T10:00:00+00:00", "record_contact", outcome="made", method="phone")
          for m, d in ((3, 10), (3, 17), (3, 24), (3, 31), (4, 7), (4, 14), (4, 21), (4, 28), (5, 5), (5, 12))],
        step("2026-05-12T11:00:00+00:00", "record_case_review", decision="continue"),
        step("2026-05-12T11:05:00+00:00", "record_case_review", decision="continue",
             reason="reporter expects the noise to return when the lodger is back"),
    ])
    prompts = of(timeline, "task", kind="consider_closure")
    assert [p["role"] for p in prompts] == ["officer"]
    assert not of(timeline, "escalation", kind="consider_closure")
    assert not of(timeline, "breach", kind="consider_closure")
    # A review with no reason is a review, not an answer to the prompt; the one with a reason is.
    answers = of(timeline, "decision", kind="consider_closure", decision="kept_open")
    assert [a["at"] for a in answers] == ["2026-05-12T11:05:00+00:00"]


async def test_a_missed_contact_tasks_the_officer_first_and_tells_the_manager(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """Issue 11 item 14: a missed monthly contact (003 §9) is the officer's to put right first."""
    timeline = await run(env, store, task_queue, start=START, until="2026-04-10T00:00:00+01:00", steps=CONVERTED)
    assert of(timeline, "breach", kind="contact")
    assert [t["role"] for t in of(timeline, "task", kind="overdue", deadline="contact")] == ["officer"]
    assert of(timeline, "notice", role="manager", kind="contact")


async def test_a_support_referral_moves_the_case_nowhere(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """Issue 11 item 12 (003 §9, 004 §3.3): support is offered at any stage and is not escalation. Since
    issue 12 item 8 a support referral is a referral (make_referral), with its agency and consent."""
    timeline = await run(env, store, task_queue, start=START, until="2026-03-10T00:00:00+00:00", steps=[
        report(START),
        step("2026-03-02T10:00:00+00:00", "make_referral", agency="victim_support", consent_ref="C-1"),
        step("2026-03-03T10:00:00+00:00", "record_contact", outcome="made", method="phone"),
        step("2026-03-03T10:05:00+00:00", "record_risk_assessment", level="low"),
        step("2026-03-03T10:10:00+00:00", "convert_to_case"),
        step("2026-03-04T10:00:00+00:00", "make_referral", agency="adult_social_care", basis="safeguarding"),
    ])
    assert not of(timeline, "rejected")
    assert [r["to"] for r in of(timeline, "referral")] == ["victim_support", "adult_social_care"]
    assert [s["stage"] for s in of(timeline, "stage")] == ["enquiry", "investigation"]


async def test_a_later_hate_incident_marks_the_case_as_hate_with_its_strand(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """Issue 11 item 15 (004 §6.4): the hate flag and strand are not only the first report's."""
    from sqlalchemy import select

    from casefile.models import CaseRow, IncidentRow

    when = "2026-03-04T21:13:07+00:00"
    timeline = await run(env, store, task_queue, start=START, until="2026-03-06T00:00:00+00:00", steps=[
        report(START),
        step("2026-03-04T22:00:00+00:00", "record_incident", occurred_at=when, hate_strand="religion"),
        step("2026-03-04T22:05:00+00:00", "record_incident", hate_strand="colour_of_socks"),
    ])
    assert "unknown hate strand" in of(timeline, "rejected", command="record_incident")[0]["reason"]
    assert of(timeline, "risk", risk="high", why="hate incident")
    with store.session() as session:
        incident = session.scalars(select(IncidentRow).where(IncidentRow.occurred_at == datetime.fromisoformat(when))
                                   ).one()
        case = session.get(CaseRow, incident.case_ref)
        assert incident.hate_strand == "religion"
        assert case is not None and case.hate is True


async def test_legal_action_is_signed_off_by_the_manager_unless_solicitors_or_eviction(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """Issue 11 item 7 (004 §3.12): the officer's manager signs off legal action; the senior role
    approves only instructing a solicitor or barrister, and eviction. The case review meeting that
    considered it is recorded."""
    meeting = "2026-03-19T14:00:00+00:00"
    timeline = await run(env, store, task_queue, start=START, until="2026-03-31T00:00:00+00:00", steps=[
        *CONVERTED,
        step("2026-03-20T10:00:00+00:00", "record_equality_assessment", note="none identified"),
        step("2026-03-20T11:00:00+00:00", "propose_legal_action", kind="injunction", case_review_meeting=meeting),
        step("2026-03-21T10:00:00+00:00", "approve_legal_action", MANAGER),
        # The next legal step needs its own Equality Act assessment (004 §6.4; issue 11 item 9).
        step("2026-03-23T09:00:00+00:00", "record_equality_assessment", note="reassessed for the next step"),
        step("2026-03-23T10:00:00+00:00", "propose_legal_action", kind="closure_order", instruct_solicitor=True),
        step("2026-03-23T11:00:00+00:00", "reject_legal_action", SENIOR),
        step("2026-03-24T10:00:00+00:00", "propose_legal_action", kind="possession_order"),
    ])
    roles = [(t["at"][:10], t["role"]) for t in of(timeline, "task", kind="legal_approval")]
    assert roles == [("2026-03-20", "manager"), ("2026-03-23", "senior_manager"), ("2026-03-24", "senior_manager")]
    approved = of(timeline, "legal_action", kind="injunction", status="approved")
    assert approved and approved[0]["case_review_meeting"] == meeting
    assert of(timeline, "legal_action", kind="closure_order", status="rejected", instruct_solicitor=True)


async def test_homes_in_somerset_allows_rarer_contact_only_as_the_reporters_recorded_choice(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """Issue 11 item 13 (001 rec. 3): weekly is what the landlord offers; a fortnightly plan is allowed
    when it is recorded as the reporter's own choice, never the officer's alone. Reading's monthly
    minimum (003 §9) stays a floor."""
    steps = [*_converted(),
             step("2026-03-03T11:00:00+00:00", "agree_action_plan", contact_every_days=14),
             step("2026-03-03T11:05:00+00:00", "agree_action_plan", contact_every_days=14, reporters_choice=True)]
    somerset = await run(env, store, task_queue, profile="homes-in-somerset", start=START,
                         until="2026-03-12T00:00:00+00:00", steps=steps)
    refused = of(somerset, "rejected", command="agree_action_plan")
    assert len(refused) == 1 and "unless the reporter chooses it" in refused[0]["reason"]
    assert of(somerset, "action_plan", contact_every_days=14, reporters_choice=True)
    assert not of(somerset, "breach", kind="contact")  # next contact due a fortnight on
    reading = await run(env, store, task_queue, start=START, until="2026-03-05T00:00:00+00:00", steps=[
        *_converted(),
        step("2026-03-03T11:05:00+00:00", "agree_action_plan", contact_every_days=60, reporters_choice=True)])
    assert "at least every 1 month" in of(reading, "rejected", command="agree_action_plan")[0]["reason"]


async def test_an_asb_case_review_not_completed_in_28_days_is_a_breach_on_day_28(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """Issue 11 item 10 (004 §8 "within 28 days"): no escalation and a second 28 days."""
    timeline = await run(env, store, task_queue, start=START, until="2026-05-01T00:00:00+01:00", steps=[
        *CONVERTED,
        step("2026-03-05T10:00:00+00:00", "record_incident", occurred_at="2026-03-05T09:00:00+00:00"),
        step("2026-03-06T10:00:00+00:00", "record_incident", occurred_at="2026-03-06T09:00:00+00:00"),
        step("2026-03-06T11:00:00+00:00", "request_asb_case_review", applicant="individual"),
    ])
    assert [t["role"] for t in of(timeline, "task", kind="asb_case_review")] == ["manager"]
    assert not of(timeline, "escalation", kind="asb_case_review")
    assert [b["at"][:10] for b in of(timeline, "breach", kind="asb_case_review")] == ["2026-04-03"]


async def test_a_hate_report_gives_the_officer_a_task_to_tell_the_police(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """Issue 11 item 11 (004 §3.5): the acknowledgement says "we will tell the police"; something follows."""
    timeline = await run(env, store, task_queue, start=START, until="2026-03-20T00:00:00+00:00", steps=[
        report(START, hate=True),
        step("2026-03-02T12:00:00+00:00", "record_police_report", police_reference="43260012345"),
    ])
    assert [(t["at"][:16], t["role"]) for t in of(timeline, "task", kind="tell_police")] == [(START[:16], "officer")]
    assert of(timeline, "police_informed")
    assert of(timeline, "decision", kind="tell_police", decision="done")
    assert not of(timeline, "escalation", kind="tell_police")
    assert "43260012345" not in str(timeline)  # the police's reference stays in the case file's notes


async def test_a_report_that_is_not_asb_is_recorded_as_a_referral_to_the_service_it_went_to(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """Issue 11 item 16 (003 §4): which service a not-ASB report went to is a recorded referral."""
    timeline = await run(env, store, task_queue, start=START, until="2026-03-03T00:00:00+00:00",
                         steps=[report(START, category="parking")])
    assert of(timeline, "closed", reason="not_asb")
    assert [(r["to"], r["reason"]) for r in of(timeline, "referral")] == [("tenant_services", "not_asb")]


async def test_the_next_risk_assessment_tasks_the_officer_when_it_falls_due(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """Reading's matrix scores the assessment (2+2+0: medium), so the next is due a month later, Friday 3 April:
    Good Friday, and Monday is Easter Monday, so the deadline is the end of Tuesday 7 April (17:00 BST). The
    task arrives then, not before; the case file keeps the scores and the date; reassessing answers the task."""
    reference = f"ASB-2026-{uuid.uuid4().int % 10**6:06d}"
    scenario = Scenario.model_validate({"profile": "reading", "start": START, "until": "2026-04-09T00:00:00+00:00",
                                        "reference": reference, "steps": [
        report(START),
        step("2026-03-03T10:00:00+00:00", "record_contact", outcome="made", method="phone"),
        step("2026-03-03T10:05:00+00:00", "record_risk_assessment",
             scores={"persistence": 2, "impact": 2, "vulnerability": 0}),
        step("2026-03-04T09:00:00+00:00", "convert_to_case"),
        step("2026-04-08T09:00:00+01:00", "record_risk_assessment",
             scores={"persistence": 1, "impact": 1, "vulnerability": 0}),
    ]})
    timeline = await play(env, store, scenario, load("reading"), task_queue=task_queue)
    assert [d["due"] for d in of(timeline, "deadline", kind="risk_review")] == [
        "2026-04-07T17:00:00+01:00", "2026-05-08T17:00:00+01:00"]
    tasks = of(timeline, "task", kind="risk_review", role="officer")
    assert [t["at"] for t in tasks] == ["2026-04-07T16:00:00+00:00"]
    assert of(timeline, "decision", kind="risk_review", decision="done")[0]["at"] == "2026-04-08T08:00:00+00:00"
    assert not of(timeline, "breach", kind="risk_review")  # a task, not a breach of the deadline
    with store.session() as session:
        rows = session.scalars(select(RiskAssessmentRow).where(RiskAssessmentRow.case_ref == reference)
                               .order_by(RiskAssessmentRow.id)).all()
        assert [(r.level, r.scores, r.score, r.next_due) for r in rows] == [
            ("medium", {"persistence": 2, "impact": 2, "vulnerability": 0}, 4, date(2026, 4, 3)),
            ("low", {"persistence": 1, "impact": 1, "vulnerability": 0}, 2, date(2026, 5, 8))]

    def task_status() -> str | None:
        with store.session() as session:
            row = session.scalars(select(TaskRow).where(TaskRow.case_ref == reference,
                                                        TaskRow.kind == "risk_review")).first()
            return row.status if row is not None else None

    assert await eventually(task_status, lambda s: s == "done", what="the risk_review task answered") == "done"


async def test_an_action_past_its_date_gives_the_officer_a_task_and_each_plan_version_reaches_the_reporter(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """Issue 11 item 6 (003 stage 1 "Action Plan"; 004 §3.8): the plan is a list of actions with dates; one
    still undone when its working day ends gives the officer a task, which doing it answers; the plan
    agreed, and each change after, is a version kept whole in the case file and sent to the reporter."""
    from sqlalchemy import select

    from casefile.models import ActionPlanItemRow, ActionPlanVersionRow, MessageRow, TaskRow
    from tests.polling import eventually

    # Its own wording: the session's case file is shared, and another case's plan may say the same.
    visit = f"Visit number 16 and talk to the household (plan {uuid.uuid4().hex[:8]})"
    timeline = await run(env, store, task_queue, start=START, until="2026-03-20T00:00:00+00:00", steps=[
        *CONVERTED,
        step("2026-03-03T11:00:00+00:00", "add_action", what=visit,
             who="officer", due="2026-03-06"),
        step("2026-03-03T11:05:00+00:00", "add_action", what="Keep a diary of the noise", who="reporter",
             due="2026-03-13"),
        step("2026-03-03T11:10:00+00:00", "agree_action_plan", contact_every_days=7, contact_method="visit"),
        step("2026-03-10T10:00:00+00:00", "complete_action", action="A1"),
    ])
    overdue = of(timeline, "task", kind="action_overdue", role="officer")
    # Friday 6 March ends undone: a task that day at 17:00; the reporter's diary on Friday 13th likewise.
    assert [(t["at"], t["action"]) for t in overdue] == [("2026-03-06T17:00:00+00:00", "A1"),
                                                          ("2026-03-13T17:00:00+00:00", "A2")]
    assert [d["at"] for d in of(timeline, "decision", kind="action_overdue", decision="done",
                                approval="action_overdue:A1")] == ["2026-03-10T10:00:00+00:00"]
    assert [(e["at"], e["version"]) for e in of(timeline, "letter", template="action_plan", to="reporter")] == [
        ("2026-03-03T11:10:00+00:00", 1), ("2026-03-10T10:00:00+00:00", 2)]
    assert not of(timeline, "breach", kind="action_due")  # a task for the officer, not a breach
    with store.session() as session:
        case_ref = session.scalars(select(ActionPlanItemRow.case_ref).where(
            ActionPlanItemRow.description == visit)).one()
        versions = session.scalars(select(ActionPlanVersionRow).where(ActionPlanVersionRow.case_ref == case_ref)
                                   .order_by(ActionPlanVersionRow.number)).all()
        assert [(v.number, v.contact_every_days, v.contact_method) for v in versions] == [(1, 7, "visit"),
                                                                                         (2, 7, "visit")]
        assert [(i["key"], i["description"], i["owner"], i["due"], i["done"]) for i in versions[0].items] == [
            ("A1", visit, "officer", "2026-03-06", False),
            ("A2", "Keep a diary of the noise", "reporter", "2026-03-13", False)]
        assert [i["done"] for i in versions[1].items] == [True, False]

    def first_task() -> list[tuple[str, str | None]]:
        with store.session() as session:
            return [(t.status, t.decision) for t in session.scalars(select(TaskRow).where(
                TaskRow.case_ref == case_ref, TaskRow.kind == "action_overdue").order_by(TaskRow.id))]

    # What the reporter was sent is each version exactly: the weekly visit agreed, and the actions then.
    def letters() -> list[tuple[str, str | None]]:
        with store.session() as session:
            return [(m.status, m.path) for m in session.scalars(select(MessageRow).where(
                MessageRow.case_ref == case_ref, MessageRow.template == "action_plan").order_by(MessageRow.id))]

    sent = await eventually(letters, lambda rows: [s for s, _ in rows] == ["sent", "sent"],
                            what="both versions of the plan sent")
    first, second = (message_from_bytes(Path(str(path)).read_bytes(), policy=policy.default) for _, path in sent)
    for email in (first, second):
        body = " ".join(email.get_body(preferencelist=("plain",)).get_content().split())  # type: ignore[union-attr]
        assert "will contact you every week by visiting you" in body
        assert visit in body and "Keep a diary of the noise" in body
        assert ("version 1," in body) == (email is first) and ("version 2," in body) == (email is second)

    # Doing the action answered the officer's task; the diary's task is still open.
    assert await eventually(first_task, lambda tasks: tasks == [("done", "done"), ("open", None)],
                            what="the first action's task answered on the case") == [("done", "done"),
                                                                                     ("open", None)]


async def test_a_case_started_late_counts_from_when_its_door_took_the_report(
    env: WorkflowEnvironment, task_queue: str
) -> None:
    """The API logs a report (its row is the durable intent) and starts the workflow; if Temporal was down,
    the reconciler starts it later. The report was received when the door took it, so its first response
    is due five working days from then, not from the late start (003 §8). A door time after the workflow's
    own clock is taken as now, never the future."""
    from datetime import timedelta

    from clients.caseclient import start_case
    from statemachine.commands import ReportArgs
    from statemachine.views import CaseStatus

    profile = load("reading")
    args = ReportArgs.model_validate(report(START)["with"])
    now = await env.get_current_time()

    async def first_response(received: datetime | None) -> datetime:
        handle = await start_case(env.client, f"ASB-DOOR-{uuid.uuid4().hex[:8]}", profile, args,
                                  task_queue=task_queue, received=received)
        return (await handle.query("status", result_type=CaseStatus)).deadlines["first_response"]

    started_now = await first_response(None)
    three_days_late = await first_response(now - timedelta(days=3))
    from_the_future = await first_response(now + timedelta(days=30))
    assert three_days_late < started_now - timedelta(hours=23)  # at least a working day earlier
    assert from_the_future == started_now
