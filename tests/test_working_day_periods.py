"""Working-day periods end on the Nth working day, for every deadline kind that can take working days
(issue 16 item 1): the receipt convention is applied once, to the moment a period starts
(policy/calendar.py), never again to the end of the period.

Contact on Monday 2 March 2026 at 11:00, "10 working days": the end of Monday 16 March (2 March is a
working day; the 10th working day after it is 16 March), not 17 March.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from policy.calendar import WorkingCalendar
from policy.model import Profile
from policy.periods import Period
from profiles import load
from statemachine.commands import ReportArgs
from statemachine.deadlines import calendar_for, open_deadlines
from statemachine.lifecycle import Lifecycle
from statemachine.patches import ALL, WORKING_DAYS_ONCE

LONDON = WorkingCalendar().tz
MONDAY_11 = datetime(2026, 3, 2, 11, 0, tzinfo=LONDON)
TENTH_WORKING_DAY = datetime(2026, 3, 16, 17, 0, tzinfo=LONDON)
TEN = "10 working days"


def _profile(**sections: dict[str, Any]) -> Profile:
    data = load("reading").model_dump(mode="json")
    for section, values in sections.items():
        data[section] = {**data[section], **values}
    return Profile.model_validate(data)


def _facts(profile: Profile, patches: frozenset[str] = ALL, **facts: Any) -> Lifecycle:
    report = ReportArgs.model_validate({"category": "noise", "officer": "o1", "reporter": {"id": "r1"},
                                        "reported_person": {"id": "p1"}})
    lc, _ = Lifecycle.start("ASB-2026-016001", report, profile, MONDAY_11, patches)
    for name, value in facts.items():
        setattr(lc.facts, name, value)
    return lc


# Each kind, the profile setting it reads (set to 10 working days) and the facts that start it at MONDAY_11.
KINDS: list[tuple[str, dict[str, dict[str, Any]], dict[str, object]]] = [
    ("enquiry_expiry", {"enquiry": {"length": TEN}}, {}),
    ("unable_to_contact", {"enquiry": {"unable_to_contact_window": TEN}}, {"unable_letter_at": MONDAY_11}),
    ("investigation_end", {"case": {"investigation": TEN}},
     {"stage": "investigation", "converted_at": MONDAY_11}),
    ("case_review", {"case": {"investigation": TEN}}, {"stage": "investigation", "converted_at": MONDAY_11}),
    ("case_review", {"case": {"review_interval": TEN}},
     {"stage": "review", "converted_at": MONDAY_11, "last_review_at": MONDAY_11}),
    ("inactivity", {"case": {"inactivity": TEN}}, {"stage": "review", "converted_at": MONDAY_11}),
    ("monitoring", {"case": {"extra_monitoring": TEN}},
     {"stage": "review", "converted_at": MONDAY_11, "monitoring_since": MONDAY_11}),
    ("contact", {"contact": {"default_every": TEN, "least_frequent": TEN}}, {"last_contact_at": MONDAY_11}),
]


@pytest.mark.parametrize(("kind", "settings", "facts"), KINDS, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(KINDS)])
def test_a_case_deadline_of_ten_working_days_ends_on_the_tenth(
    kind: str, settings: dict[str, dict[str, Any]], facts: dict[str, Any],
) -> None:
    profile = _profile(**settings)
    lc = _facts(profile, **facts)
    due = open_deadlines(lc.facts, profile, calendar_for(profile))[kind]
    assert due == TENTH_WORKING_DAY, (kind, due.isoformat())


def test_first_response_of_ten_working_days_ends_on_the_tenth() -> None:
    profile = _profile(first_response={"high": 10, "medium": 10, "low": 10})
    lc = _facts(profile, risk="low")
    assert open_deadlines(lc.facts, profile, calendar_for(profile))["first_response"] == TENTH_WORKING_DAY


@pytest.mark.parametrize("kind", ["approval", "allocation"])
def test_a_task_of_ten_working_days_is_due_on_the_tenth(kind: str) -> None:
    """Task deadlines (approvals, allocation) are kept by the task workflow: `add_period` of the term."""
    profile = _profile(approvals={"decide_within": TEN}, first_response={"high": 10, "medium": 10, "low": 10})
    lc = _facts(profile, risk="low")
    _, within = lc.task_terms("allocation" if kind == "allocation" else "closure_approval")
    assert within == Period(10, "working_days")
    assert calendar_for(profile).add_period(MONDAY_11, within) == TENTH_WORKING_DAY


def test_a_contact_after_hours_counts_from_the_next_working_day_once() -> None:
    """Friday 6 March at 18:00 counts as Monday 9 March; its 10th working day is Monday 23 March."""
    profile = _profile(contact={"default_every": TEN, "least_frequent": TEN})
    friday_evening = datetime(2026, 3, 6, 18, 0, tzinfo=LONDON)
    lc = _facts(profile, last_contact_at=friday_evening)
    assert open_deadlines(lc.facts, profile, calendar_for(profile))["contact"] == datetime(
        2026, 3, 23, 17, 0, tzinfo=LONDON)


def test_a_case_recorded_before_the_fix_keeps_its_late_deadline() -> None:
    """Old histories replay: without WORKING_DAYS_ONCE the contact stays due on the 11th working day."""
    profile = _profile(contact={"default_every": TEN, "least_frequent": TEN})
    lc = _facts(profile, ALL - {WORKING_DAYS_ONCE}, last_contact_at=MONDAY_11)
    due = open_deadlines(lc.facts, profile, calendar_for(profile), ALL - {WORKING_DAYS_ONCE})["contact"]
    assert due == datetime(2026, 3, 17, 17, 0, tzinfo=LONDON)


@pytest.mark.parametrize("name", ["default", "reading", "livewest", "whg", "homes-in-somerset", "place-called-home"])
def test_the_shipped_profiles_give_the_same_deadlines_as_before(name: str) -> None:
    """None of the six shipped profiles counts a contact or review in working days, so the fix moves none
    of their deadlines: with and without WORKING_DAYS_ONCE every deadline is the same."""
    profile = load(name)
    for when in (MONDAY_11, datetime(2026, 3, 6, 18, 0, tzinfo=UTC), datetime(2026, 12, 24, 16, 0, tzinfo=UTC)):
        lc = _facts(profile, risk="medium", stage="review", converted_at=when, last_contact_at=when,
                    last_review_at=when, monitoring_since=when, unable_letter_at=when)
        cal = calendar_for(profile)
        assert open_deadlines(lc.facts, profile, cal) == open_deadlines(
            lc.facts, profile, cal, ALL - {WORKING_DAYS_ONCE}), (name, when)
