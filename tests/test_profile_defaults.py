"""What a profile gives when it is silent, and how a landlord's own priorities are chosen (policy/model.py).
Pure and fast.

- A landlord's profile without risk questions gets the documented default matrix (policy/profiles/
  default.toml [risk_matrix]: the DOMAIN's questions, 000 "Supporting you"; 003 §8 stage 3; 003 §10).
- Staff are told of their tasks as issue 14 item 1 says unless the profile says otherwise.
- A report's priority is the more serious of its category's own priority and its risk's, "most serious
  first" as the profile lists them (issue 16 item 3), whatever the priorities are called.
- A period in a profile is text ("2 weeks"), read and written back as text (policy/periods.py).
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from policy.model import RiskMatrix, StaffNotices, TaskEvent
from policy.periods import Period
from profiles import load, parse

_BASE = 'name = "x"\ntitle = "X"\n[categories]\nin_scope = ["noise", "domestic_abuse", "vandalism"]\n' \
        'hate_strands = ["race"]\n'


def test_a_matrix_without_questions_is_the_documented_default() -> None:
    """Every fresh matrix (as a profile section that names no factors gets) asks the default profile's
    four questions, scored 0-3, harm at 3 being high on its own."""
    fresh = RiskMatrix()
    default = load("default").risk_matrix
    assert fresh.factors == default.factors
    assert {name: (f.max, f.high_at) for name, f in fresh.factors.items()} == {
        "harm": (3, 3), "persistence": (3, None), "impact": (3, None), "vulnerability": (3, None)}
    assert fresh.factors["harm"].question == "Has anyone been harmed or threatened, or is harm likely?"


@pytest.mark.parametrize(("event", "told"), [("created", "holder"), ("reminded", "holder"),
                                              ("escalated", "mailbox"), ("breached", "mailbox")])
def test_staff_are_told_of_their_own_tasks_and_the_mailbox_of_escalations_by_default(event: TaskEvent,
                                                                                      told: str) -> None:
    """Issue 14 item 1: the person a task is for hears of it and its reminders; an escalated or breached
    task goes to the mailbox of the role above."""
    assert StaffNotices().to(event) == told


def test_a_profile_may_turn_one_notice_off_without_touching_the_others() -> None:
    notices = StaffNotices(reminded="nobody", breached="holder")
    assert [notices.to(e) for e in ("created", "reminded", "escalated", "breached")] == [
        "holder", "nobody", "mailbox", "holder"]


def _with_priorities() -> str:
    # Listed most serious first, with ids whose alphabetical order is the other way round.
    return _BASE + (
        '[priorities.urgent]\ntitle = "Urgent"\nrespond_within = "1 working day"\nrisk = "high"\n'
        'categories = ["domestic_abuse"]\n'
        '[priorities.b_routine]\ntitle = "Routine"\nrespond_within = "5 working days"\nrisk = "medium"\n'
        '[priorities.a_minor]\ntitle = "Minor"\nrespond_within = "10 working days"\nrisk = "low"\n'
        'categories = ["vandalism"]\n')


def test_the_more_serious_priority_is_the_one_listed_first_not_the_first_by_name() -> None:
    profile = parse(_with_priorities(), "mine.toml")
    assert profile.priority_for("vandalism", "high") == "urgent"  # its risk beats its category's own
    assert profile.priority_for("vandalism", "medium") == "b_routine"
    assert profile.priority_for("vandalism", "low") == "a_minor"
    assert profile.priority_for("domestic_abuse", "low") == "urgent"  # its category beats its risk


def test_a_report_not_triaged_yet_has_a_priority_only_through_its_category() -> None:
    profile = parse(_with_priorities(), "mine.toml")
    assert profile.priority_for("noise", None) is None
    assert profile.priority_for("domestic_abuse", None) == "urgent"
    assert parse(_BASE, "mine.toml").priority_for("domestic_abuse", "high") is None  # no priorities at all


def test_a_period_is_written_as_text_and_read_back_as_the_same_text() -> None:
    """A section is built here, not at import, so the period's schema is built under test too."""

    class Section(BaseModel):
        every: Period

    assert Section(every="2 weeks").every == Period(2, "weeks")
    assert Section(every=Period(10, "working_days")).every == Period(10, "working_days")
    assert Section(every="1 month").model_dump(mode="json") == {"every": "1 month"}
    with pytest.raises(ValidationError) as caught:
        Section.model_validate({"every": 14})
    assert [e["msg"] for e in caught.value.errors()] == [
        "Value error, a period must be text such as '28 days' or '2 months'"]
