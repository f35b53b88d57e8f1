""""Unless you agree otherwise" (issue 16 item 5): a profile says whether the reporter may choose less
frequent contact than the standard, and what the least frequent is that they may choose."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from policy.model import Profile
from profiles import ProfileError, load, parse
from statemachine.commands import Actor, ReportArgs
from statemachine.lifecycle import Lifecycle

OFFICER = Actor(role="officer", id="o1")
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def _lifecycle(contact: dict[str, Any]) -> Lifecycle:
    data = load("default").model_dump(mode="json")
    data["contact"] = {**data["contact"], **contact}
    report = ReportArgs.model_validate({"category": "noise", "officer": "o1", "reporter": {"id": "r1"}})
    lc, _ = Lifecycle.start("ASB-2026-016501", report, Profile.model_validate(data), NOW)
    return lc


THIRTEEN = {"default_every": "10 working days", "least_frequent": "10 working days",
            "reporter_may_choose_less": True, "reporter_least_frequent": "1 month"}


def test_a_reporter_may_choose_less_often_down_to_the_standards_limit() -> None:
    lc = _lifecycle(THIRTEEN)
    assert lc.check("agree_action_plan", {"contact_every_days": 28, "reporters_choice": True}, OFFICER, NOW) is None


def test_less_often_than_the_limit_is_refused_even_as_the_reporters_choice() -> None:
    reason = _lifecycle(THIRTEEN).check("agree_action_plan", {"contact_every_days": 60, "reporters_choice": True},
                                        OFFICER, NOW)
    assert reason is not None and "at least every 1 month" in reason


def test_without_the_reporters_choice_the_standard_holds() -> None:
    reason = _lifecycle(THIRTEEN).check("agree_action_plan", {"contact_every_days": 28}, OFFICER, NOW)
    assert reason is not None and "reporters_choice" in reason


def test_no_limit_keeps_todays_rule() -> None:
    """A profile without `reporter_least_frequent` lets the reporter choose any frequency, as before."""
    lc = _lifecycle({"reporter_may_choose_less": True})
    assert lc.check("agree_action_plan", {"contact_every_days": 180, "reporters_choice": True}, OFFICER, NOW) is None


@pytest.mark.parametrize(("contact", "says"), [
    ('reporter_least_frequent = "2 months"', "needs reporter_may_choose_less"),
    ('reporter_may_choose_less = true\nreporter_least_frequent = "1 week"', "more frequent than least_frequent"),
    ('reporter_may_choose_less = true\nreporter_least_frequent = "often"', "is not a period"),
])
def test_a_wrong_limit_is_explained_naming_the_field(contact: str, says: str) -> None:
    text = f'name = "x"\ntitle = "X"\n[categories]\nin_scope = ["noise"]\nhate_strands = ["race"]\n' \
           f'[contact]\n{contact}\n'
    with pytest.raises(ProfileError) as caught:
        parse(text, "mine.toml")
    assert str(caught.value).startswith("mine.toml: contact") and says in str(caught.value)
