"""Every scenario in examples/ played as `asb simulate` plays it, with its key outcomes asserted.

Each example documents a rule (README "Using it"); test_scenario_files.py checks that they parse and that
`asb simulate` prints them. Here each is played through the simulator's own machinery (asb.simulate.play,
the real workflows and activities, on a time-skipping server of its own so no other case's timers run
during its months) and the outcomes a user would see are pinned: the stage reached, why it closed, the
letters sent, the breaches, the tasks and where they were escalated, and the commands refused.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asb.scenario import load_scenario
from asb.simulate import play, start_time_skipping
from casefile.db import Store
from worker import build_worker

EXAMPLES = Path(__file__).parent.parent / "examples"

#: Per example: the last stage, the closure reason (None: still open at `until`), letters (template, to)
#: in order, breaches (kind), tasks (kind, role), escalations (kind, role), refused commands in order.
EXPECTED: dict[str, dict[str, Any]] = {
    # Issue 16: landlords' own published standards (examples/profiles/), with the deadlines they promise.
    "thirteen-priorities.yaml": {
        "stage": "enquiry", "closed": None, "risk": "high",
        "letters": [("acknowledgement", "reporter"), ("action_plan", "reporter")],
        "breaches": [], "tasks": [], "escalations": [],
        "rejected": [("agree_action_plan", "less often than a reporter may choose under this standard "
                                           "(at least every 1 month)")],
        # 1 working day for the most serious; contact within each 10 working days: Monday 16 March, not 17.
        "deadlines": [("first_response", "2026-03-03T17:00:00+00:00"), ("milestone", "2026-03-03T17:00:00+00:00"),
                      ("contact", "2026-03-16T17:00:00+00:00"), ("contact", "2026-04-07T17:00:00+01:00")],
    },
    "lbhf-milestones.yaml": {
        "stage": "enquiry", "closed": None, "risk": "high",
        "letters": [("acknowledgement", "reporter")],
        "breaches": ["milestone:lead_officer_contact"], "tasks": [("overdue", "manager")], "escalations": [],
        "rejected": [("record_milestone", "record that first")],
        "deadlines": [("first_response", "2026-03-03T17:00:00+00:00"), ("milestone", "2026-03-04T17:00:00+00:00"),
                      ("milestone", "2026-03-06T17:00:00+00:00")],
    },
    "best-priorities.yaml": {
        "stage": "enquiry", "closed": None, "risk": "low",
        "letters": [("acknowledgement", "reporter")], "breaches": [], "tasks": [], "escalations": [], "rejected": [],
        "deadlines": [("milestone", "2026-03-05T17:00:00+00:00"), ("first_response", "2026-03-20T17:00:00+00:00")],
    },
    "your-housing-target.yaml": {
        "stage": "closed", "closed": "asb_stopped", "risk": "low",
        "letters": [("acknowledgement", "reporter"), ("enquiry_closed", "reporter")],
        "breaches": [], "tasks": [], "escalations": [], "rejected": [],
        "deadlines": [("first_response", "2026-03-04T17:00:00+00:00")],
        "target": {"target": "45 working days", "age_working_days": 18, "resolved": True, "within": True},
    },
    "referral-follow-up.yaml": {  # issue 12 item 8: referrals, their follow-up tasks, a partner's outcomes
        "stage": "enquiry",
        "closed": None,
        "risk": "medium",
        "letters": [("acknowledgement", "reporter")],
        "breaches": [],
        "tasks": [("referral_follow_up", "officer"), ("referral_follow_up", "officer"),
                  ("referral_follow_up", "officer")],
        "escalations": [("referral_follow_up", "manager")],
        "rejected": [("start_intervention", "a support referral is recorded with make_referral")],
        "stages": ["enquiry"],
    },
    "asb-case-review-after-closure.yaml": {
        "stage": "closed",
        "closed": "asb_stopped",
        "risk": "low",
        "letters": [("acknowledgement", "reporter"), ("initial_letter_reported_person", "reported_person"),
                    ("case_closed_reporter", "reporter"), ("satisfaction_survey", "reporter"),
                    ("case_closed_reported_person", "reported_person")],
        "breaches": ["asb_case_review"],
        "tasks": [("closure_approval", "manager"), ("asb_case_review", "manager")],
        "escalations": [],
        "rejected": [("request_asb_case_review", "could be applied for within 1 month of its closure "
                                                 "(until 10 April 2026)")],
        "stages": ["enquiry", "investigation", "closed"],
    },
    "allocation.yaml": {
        "stage": "enquiry",
        "closed": None,
        "risk": "high",
        "letters": [("acknowledgement", "reporter"), ("action_plan", "reporter")],
        "breaches": ["first_response"],
        "tasks": [("allocation", "manager"), ("overdue", "manager")],
        "escalations": [("allocation", "senior_manager")],
        "rejected": [("assign_officer", "allocating or reassigning a case is a manager's decision")],
        "stages": ["enquiry"],
    },
    "action-plan.yaml": {
        "stage": "investigation",
        "closed": None,
        "risk": "low",
        "letters": [("acknowledgement", "reporter"), ("initial_letter_reported_person", "reported_person"),
                    ("action_plan", "reporter"), ("action_plan", "reporter"), ("action_plan", "reporter"),
                    ("action_plan", "reporter")],
        "breaches": [],
        "tasks": [("action_overdue", "officer"), ("action_overdue", "officer"), ("action_overdue", "officer")],
        "escalations": [],
        "rejected": [],
        "stages": ["enquiry", "investigation"],
    },
    "asb-case-review-breach.yaml": {
        "stage": "investigation",
        "closed": None,
        "risk": "low",
        "letters": [("acknowledgement", "reporter"), ("initial_letter_reported_person", "reported_person")],
        "breaches": ["asb_case_review", "contact"],
        # The risk assessment of 3 March falls due again a month later (reading: low, 1 month): a task.
        "tasks": [("asb_case_review", "manager"), ("consider_closure", "officer"), ("overdue", "officer"),
                  ("risk_review", "officer")],
        "escalations": [],
        "rejected": [],
        "stages": ["enquiry", "investigation"],
    },
    "contact-deadline-from-conversion.yaml": {
        "stage": "investigation",
        "closed": None,
        "risk": "medium",
        "letters": [("acknowledgement", "reporter"), ("initial_letter_reported_person", "reported_person")],
        "breaches": ["contact"],
        "tasks": [("consider_closure", "officer"), ("overdue", "officer"), ("risk_review", "officer")],
        "escalations": [],
        "rejected": [],
        "stages": ["enquiry", "investigation"],
    },
    "enquiry-expiry-decision.yaml": {
        "stage": "investigation",
        "closed": None,
        "risk": "high",
        "letters": [("acknowledgement", "reporter"), ("initial_letter_reported_person", "reported_person")],
        "breaches": ["first_response", "overdue", "tell_police"],
        "tasks": [("tell_police", "officer"), ("overdue", "manager"), ("enquiry_decision", "officer")],
        "escalations": [("tell_police", "manager"), ("overdue", "senior_manager"), ("tell_police", "senior_manager")],
        "rejected": [],
        "stages": ["enquiry", "investigation"],
    },
    "enquiry-unable-to-contact.yaml": {
        "stage": "closed",
        "closed": "unable_to_contact",
        "risk": "low",
        "letters": [("acknowledgement", "reporter"), ("unable_to_contact", "reporter"), ("enquiry_closed", "reporter")],
        "breaches": [],
        "tasks": [],
        "escalations": [],
        "rejected": [("convert_to_case", "record a risk assessment first")],
        "stages": ["enquiry", "closed"],
    },
    "first-response-breach.yaml": {
        "stage": "enquiry",
        "closed": None,
        "risk": "high",
        "letters": [("acknowledgement", "reporter")],
        "breaches": ["first_response"],
        "tasks": [("tell_police", "officer"), ("overdue", "manager")],
        "escalations": [],
        "rejected": [],
        "stages": ["enquiry"],
    },
    "equality-assessment.yaml": {
        "stage": "legal",
        "closed": None,
        "risk": "medium",
        "letters": [("acknowledgement", "reporter"), ("initial_letter_reported_person", "reported_person"),
                    ("letter_before_action", "reported_person"), ("letter_before_action", "reported_person"),
                    ("letter_before_action", "reported_person")],
        "breaches": [],
        # The risk assessment a month before falls due again (risk_review, issue 12 item 4).
        "tasks": [("legal_approval", "manager"), ("equality_review", "officer"), ("legal_approval", "senior_manager"),
                  ("risk_review", "officer"), ("legal_approval", "senior_manager"), ("referral_follow_up", "officer"),
                  ("consider_closure", "officer")],
        "escalations": [("risk_review", "manager")],
        "rejected": [("propose_legal_action", "a legal step was taken since the last Equality Act assessment"),
                     ("propose_legal_action", "a legal step was taken since the last Equality Act assessment")],
        "stages": ["enquiry", "investigation", "legal"],
    },
    "legal-action.yaml": {
        "stage": "legal",
        "closed": None,
        "risk": "medium",
        "letters": [
            ("acknowledgement", "reporter"),
            ("initial_letter_reported_person", "reported_person"),
            ("acceptable_behaviour_contract", "reported_person"),
            ("letter_before_action", "reported_person"),
        ],
        # The high-risk assessment of 1 April is due again in two weeks; never repeated, its task goes up
        # the chain and breaches at the top like any task.
        "breaches": ["contact", "risk_review", "overdue", "case_review", "overdue"],
        "tasks": [
            ("risk_review", "officer"),
            ("consider_closure", "officer"),
            ("legal_approval", "senior_manager"),
            ("overdue", "officer"),
            ("overdue", "manager"),
        ],
        "escalations": [("risk_review", "manager"), ("risk_review", "senior_manager"), ("overdue", "manager"),
                        ("overdue", "senior_manager"), ("overdue", "senior_manager")],
        "rejected": [
            ("propose_legal_action", "record an Equality Act assessment first"),
            ("approve_legal_action", "needs approval by a senior_manager, not a manager"),
            (
                "request_closure",
                "legal action is still open (possession_order): a case stays open until it has concluded",
            ),
        ],
        "stages": ["enquiry", "investigation", "interventions", "legal"],
    },
    "legal-approval.yaml": {
        "stage": "legal",
        "closed": None,
        "risk": "high",
        "letters": [
            ("acknowledgement", "reporter"),
            ("letter_before_action", "reported_person"),
            ("letter_before_action", "reported_person"),
        ],
        "breaches": ["contact"],
        "tasks": [
            ("legal_approval", "manager"),
            ("legal_approval", "senior_manager"),
            ("consider_closure", "officer"),
            ("overdue", "officer"),
        ],
        "escalations": [],
        "rejected": [("approve_legal_action", "needs approval by a senior_manager, not a manager")],
        "stages": ["enquiry", "legal"],
    },
    "not-asb-and-escalation.yaml": {
        "stage": "investigation",
        "closed": None,
        "risk": "low",
        "letters": [("acknowledgement", "reporter"), ("initial_letter_reported_person", "reported_person")],
        "breaches": ["closure_approval"],
        "tasks": [("closure_approval", "manager")],
        "escalations": [("closure_approval", "senior_manager")],
        "rejected": [],
        "stages": ["enquiry", "investigation"],
    },
    "not-asb.yaml": {
        "stage": "closed",
        "closed": "not_asb",
        "routed_to": "tenant_services",
        "risk": None,
        "letters": [("not_asb_outcome", "reporter")],
        "breaches": [],
        "tasks": [],
        "escalations": [],
        "rejected": [],
        "stages": ["closed"],
    },
    "officer-prompts.yaml": {
        "stage": "review",
        "closed": None,
        "risk": "medium",
        "letters": [("acknowledgement", "reporter"), ("initial_letter_reported_person", "reported_person")],
        "breaches": ["risk_review", "contact", "case_review"],
        "tasks": [("consider_closure", "officer"), ("risk_review", "officer"), ("overdue", "officer"),
                  ("overdue", "manager")],
        "escalations": [("risk_review", "manager"), ("risk_review", "senior_manager"), ("overdue", "manager")],
        "rejected": [],
        "stages": ["enquiry", "investigation", "review"],
    },
    "six-month-case.yaml": {
        "stage": "closed",
        "closed": "asb_stopped",
        "risk": "medium",
        "letters": [
            ("acknowledgement", "reporter"),
            ("action_plan", "reporter"),
            ("initial_letter_reported_person", "reported_person"),
            ("warning_letter", "reported_person"),
            ("case_closed_reporter", "reporter"),
            ("satisfaction_survey", "reporter"),
            ("case_closed_reported_person", "reported_person"),
        ],
        "breaches": [],
        "tasks": [("consider_closure", "officer"), ("closure_approval", "manager")],
        "escalations": [],
        "rejected": [("approve_closure", "needs approval by a manager, not an officer")],
        "stages": ["enquiry", "investigation", "review", "interventions", "closed"],
    },
    "working-record.yaml": {  # issue 12: two households, app-feed incidents, evidence, a referral, a chronology
        "stage": "interventions",
        "closed": None,
        "risk": "low",
        "letters": [("acknowledgement", "reporter"), ("initial_letter_reported_person", "reported_person"),
                    ("warning_letter", "reported_person")],
        "breaches": [],
        "tasks": [],
        "escalations": [],
        "rejected": [],
        "stages": ["enquiry", "investigation", "interventions"],
        # Case-file actions: the parties (two reporters), the evidence files (kind, the incident linked).
        "parties": [("reporter", "r1"), ("reported_person", "p1"), ("reporter", "r2")],
        "evidence": [("recording", True), ("recording", True), ("photo", True), ("diary_sheet", False)],
        "chronology": "court",
    },
    "reopened-case.yaml": {
        "stage": "investigation",
        "closed": None,
        "closures": ["no_reports"],
        "risk": "low",
        "letters": [("acknowledgement", "reporter"), ("initial_letter_reported_person", "reported_person"),
                    ("case_closed_reporter", "reporter"), ("satisfaction_survey", "reporter"),
                    ("case_closed_reported_person", "reported_person")],
        "breaches": [],
        # The risk assessment's next date (a month after it, issue 12 item 4) passed while the case was
        # closed: reopened, it is due at once, for the officer.
        "tasks": [("closure_approval", "manager"), ("risk_review", "officer")],
        "escalations": [("risk_review", "manager")],
        "rejected": [("reopen_case", "the officer role may not issue reopen_case")],
        "stages": ["enquiry", "investigation", "closed", "investigation"],
    },
    "weekly-contact.yaml": {
        "stage": "enquiry",
        "closed": None,
        "risk": "medium",
        "letters": [("acknowledgement", "reporter"), ("action_plan", "reporter")],
        "breaches": ["contact"],
        "tasks": [("overdue", "officer")],
        "escalations": [("overdue", "manager")],
        "rejected": [
            (
                "agree_action_plan",
                "less often than this standard allows (at least every 1 week) unless the reporter chooses it",
            )
        ],
        "stages": ["enquiry"],
    },
}


def test_every_example_has_its_outcomes_pinned() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(EXPECTED)


@pytest.fixture
async def simulator(store: Store, outbox: Path) -> AsyncIterator[tuple[Any, str]]:
    """A time-skipping server and worker for one example, as `asb simulate` has (with the session's case file)."""
    environment = await start_time_skipping()
    queue = f"example-{uuid.uuid4().hex[:8]}"
    try:
        async with build_worker(environment.client, store, outbox, task_queue=queue):
            yield environment, queue
    finally:
        await environment.shutdown()


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_example_plays_with_its_outcomes(name: str, simulator: tuple[Any, str], store: Store) -> None:
    env, queue = simulator
    scenario, profile = load_scenario(str(EXAMPLES / name))
    reference = f"EX-{scenario.start.year}-{uuid.uuid4().int % 10**6:06d}"
    timeline = await play(env, store, scenario.model_copy(update={"reference": reference}), profile, task_queue=queue)
    want = EXPECTED[name]

    def events(kind: str) -> list[dict[str, Any]]:
        return [e for e in timeline if e["event"] == kind]

    stages = [e["stage"] for e in events("stage")]
    assert stages[-1] == want["stage"]
    if "stages" in want:
        assert stages == want["stages"]
    closed = events("closed")
    # Every closure on the way (a reopened case closed before), and the one it ended in (`closed`).
    assert [c["reason"] for c in closed] == want.get("closures", [want["closed"]] if want["closed"] else [])
    if "routed_to" in want:
        assert closed[0]["routed_to"] == want["routed_to"]
    if want.get("risk") is not None:
        assert events("triage")[0]["risk"] == want["risk"]
    assert [(e["template"], e["to"]) for e in events("letter")] == want["letters"]
    assert [e["kind"] for e in events("breach")] == want["breaches"]
    assert [(e["kind"], e["role"]) for e in events("task")] == want["tasks"]
    assert [(e["kind"], e["role"]) for e in events("escalation")] == want["escalations"]
    rejected = events("rejected")
    assert [e["command"] for e in rejected] == [command for command, _ in want["rejected"]]
    for event, (_command, reason) in zip(rejected, want["rejected"], strict=True):
        assert reason in event["reason"]
    if "deadlines" in want:  # issue 16: the deadlines a landlord's own standard promises
        announced = [(e["kind"], e["due"]) for e in events("deadline")]
        assert [d for d in want["deadlines"] if d not in announced] == [], announced
    if "target" in want:  # a target, not a deadline: shown at the end, never a breach
        assert {k: events("target")[-1][k] for k in want["target"]} == want["target"]
    if "parties" in want:
        assert [(e["role"], e["person"]) for e in events("party")] == want["parties"]
        assert [(e["kind"], e["incident"] is not None) for e in events("evidence")] == want["evidence"]
        assert [e["audience"] for e in events("chronology")] == [want["chronology"]]
        # The reporter's own consent, from the case file (its row id depends on what else the session stored).
        assert [bool(re.fullmatch(r"C-\d+", e["consent_ref"])) for e in events("referral")] == [True]
    # The case file agrees with the timeline about where the case ended up.
    with store.session() as session:
        from casefile.models import CaseRow

        case = session.get(CaseRow, reference)
        assert case is not None and case.stage == want["stage"] and case.closure_reason == want["closed"]
