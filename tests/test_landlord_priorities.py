"""A landlord's own priorities, their response milestones and resolution targets (issue 16 items 2-4),
played on the pure lifecycle with the profile of a London borough's published standard
(examples/profiles/lbhf.toml)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from policy.calendar import WorkingCalendar
from policy.triage import TriageInput, triage
from profiles import ProfileError, load, parse
from statemachine.commands import Actor, ReportArgs
from statemachine.deadlines import calendar_for, open_deadlines
from statemachine.lifecycle import Lifecycle

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "profiles"
LONDON = WorkingCalendar().tz
MONDAY_11 = datetime(2026, 3, 2, 11, 0, tzinfo=LONDON)
OFFICER = Actor(role="officer", id="o1")


def _start(profile_file: str, category: str, **report: Any) -> Lifecycle:
    profile = load(str(EXAMPLES / profile_file))
    args = ReportArgs.model_validate({"category": category, "officer": "o1", "reporter": {"id": "r1"}, **report})
    lc, _ = Lifecycle.start("ASB-2026-016201", args, profile, MONDAY_11)
    return lc


def _due(lc: Lifecycle) -> dict[str, datetime]:
    return open_deadlines(lc.facts, lc.profile, calendar_for(lc.profile))


def test_the_landlords_own_category_takes_its_own_priority() -> None:
    """Thirteen: domestic abuse is in the most serious category (1 working day) whatever else triage says."""
    profile = load(str(EXAMPLES / "thirteen.toml"))
    result = triage(TriageInput(category="domestic_abuse"), profile)
    assert result.risk == "high" and "most serious" in " ".join(result.reasons).lower()
    assert profile.priority_for("domestic_abuse", result.risk) == "most_serious"
    assert profile.priority_for("noise", "low") == "standard"


def test_more_than_three_priorities_with_their_own_response_times() -> None:
    """BeST: four priorities; a low-risk report is answered within 14 working days, not first_response.low."""
    lc = _start("best.toml", "noise")
    assert lc.profile.priority_for("noise", lc.facts.risk) == "low"
    assert _due(lc)["first_response"] == datetime(2026, 3, 20, 17, 0, tzinfo=LONDON)  # 14th working day


def test_milestones_count_from_the_report_and_from_an_earlier_milestone() -> None:
    """LBHF priority one: interview and assessment within 2 working days of the report; the lead officer's
    call within 2 working days of the referral (the assessment met), not of the report."""
    lc = _start("lbhf.toml", "violence")
    assert lc.profile.priority_for("violence", lc.facts.risk) == "p1"
    assert _due(lc)["milestone"] == datetime(2026, 3, 4, 17, 0, tzinfo=LONDON)
    assessed = datetime(2026, 3, 4, 12, 0, tzinfo=LONDON)
    assert lc.check("record_milestone", {"milestone": "lead_officer_contact"}, OFFICER, assessed) is not None
    lc.apply("record_milestone", {"milestone": "assessment"}, OFFICER, assessed)
    assert _due(lc)["milestone"] == datetime(2026, 3, 6, 17, 0, tzinfo=LONDON)


def test_a_missed_milestone_is_a_breach_named_after_it_with_an_overdue_task() -> None:
    lc = _start("lbhf.toml", "violence")
    events = lc.on_deadline("milestone", datetime(2026, 3, 4, 17, 0, tzinfo=LONDON)).events
    assert {"event": "breach", "kind": "milestone:assessment"} in events
    assert any(e.get("event") == "task" and e.get("deadline") == "milestone:assessment" for e in events)
    assert "milestone" not in _due(lc)  # missed once; the next counts from the assessment, not yet met


def test_a_case_without_priorities_has_no_milestones() -> None:
    profile = load("reading")
    args = ReportArgs.model_validate({"category": "noise", "officer": "o1", "reporter": {"id": "r1"}})
    lc, _ = Lifecycle.start("ASB-2026-016202", args, profile, MONDAY_11)
    assert "milestone" not in _due(lc)
    reason = lc.check("record_milestone", {"milestone": "assessment"}, OFFICER, MONDAY_11)
    assert reason is not None and "no milestones" in reason


BASE = 'name = "x"\ntitle = "X"\n[categories]\nin_scope = ["noise", "violence"]\nhate_strands = ["race"]\n'


@pytest.mark.parametrize(("extra", "says"), [
    ('[priorities.p1]\ntitle = "P1"\nrespond_within = "soon"\nrisk = "high"\n',
     "priorities.p1.respond_within"),
    ('[priorities.p1]\ntitle = "P1"\nrespond_within = "5 working days"\nrisk = "high"\n'
     '[priorities.p2]\ntitle = "P2"\nrespond_within = "1 working day"\nrisk = "low"\n', "most serious first"),
    ('[priorities.p1]\ntitle = "P1"\nrespond_within = "1 working day"\nrisk = "high"\ncategories = ["arson"]\n',
     "'arson' is not an in_scope"),
    ('[priorities.p1]\ntitle = "P1"\nrespond_within = "1 working day"\nrisk = "urgent"\n', "priorities.p1.risk"),
    ('[priorities.p1]\ntitle = "P1"\nrespond_within = "1 working day"\nrisk = "high"\n'
     '[priorities.p1.milestones.call]\ntitle = "Call"\nwithin = "2 working days"\nafter = "visit"\n',
     "priorities.p1.milestones: milestone 'call' is measured after 'visit'"),
    ('[targets]\nresolve_within = "45 working dayz"\n', "targets.resolve_within"),
    ('[targets]\nresolve_share_percent = 0\n', "targets.resolve_share_percent"),
])
def test_profiles_check_explains_each_new_field(extra: str, says: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse(BASE + extra, "mine.toml")
    message = str(caught.value)
    assert message.startswith("mine.toml: ") and says in message and "\n" not in message, message


def test_four_priorities_under_the_landlords_own_names() -> None:
    """P1 to P4: a category of its own at P1, and each triage level onto its most serious priority."""
    text = BASE.replace('"violence"]', '"violence", "domestic_abuse"]') + "".join(
        f'[priorities.{pid}]\ntitle = "{pid.upper()}"\nrespond_within = "{days} working days"\nrisk = "{risk}"\n'
        + ('categories = ["domestic_abuse"]\n' if pid == "p1" else "")
        for pid, days, risk in (("p1", 1, "high"), ("p2", 2, "high"), ("p3", 7, "medium"), ("p4", 14, "low")))
    profile = parse(text, "p1-p4.toml")
    assert list(profile.priorities) == ["p1", "p2", "p3", "p4"]
    assert profile.priority_for("domestic_abuse", "low") == "p1"
    assert profile.priority_for("violence", "high") == "p1"
    assert profile.priority_for("noise", "medium") == "p3"
    assert profile.priority_for("noise", "low") == "p4"
    assert triage(TriageInput(category="domestic_abuse"), profile).risk == "high"


def test_a_resolution_target_is_shown_against_the_cases_age_and_never_breached() -> None:
    """Your Housing Group: "resolve the majority of cases within 45 working days" (a target, not a deadline)."""
    from statemachine.catalogue import DEADLINES, resolution_target, target_report

    profile = load(str(EXAMPLES / "your-housing.toml"))
    cal = calendar_for(profile)
    assert not any(spec.setting.startswith("targets") for spec in DEADLINES.values())  # no deadline, no breach
    open_case = resolution_target(profile, cal, MONDAY_11, None, datetime(2026, 3, 16, 12, 0, tzinfo=LONDON))
    assert open_case is not None and open_case.age_working_days == 10 and open_case.within
    # The 45th working day after 2 March, without Good Friday, Easter Monday and 4 May: Thursday 7 May.
    assert open_case.due == datetime(2026, 5, 7, 17, 0, tzinfo=LONDON)
    late = resolution_target(profile, cal, MONDAY_11, datetime(2026, 5, 8, 10, 0, tzinfo=LONDON),
                             datetime(2026, 6, 1, tzinfo=LONDON))
    assert late is not None and late.resolved and not late.within
    report = target_report(profile, [open_case, late, open_case.model_copy(update={"resolved": True})])
    assert report["resolved"] == 2 and report["resolved_within"] == 1 and report["share_within_percent"] == 50.0
    assert report["met"] is False  # "the majority" is more than half (resolve_share_percent = 51)
    assert resolution_target(load("reading"), calendar_for(load("reading")), MONDAY_11, None, MONDAY_11) is None


def test_a_missed_milestone_can_also_notify_a_role() -> None:
    """A standard that tells the manager of a missed step: a notice, besides the overdue task."""
    lc = _start("lbhf.toml", "violence")
    data = lc.profile.model_dump(mode="json")
    data["priorities"]["p1"]["milestones"]["assessment"]["notify"] = "senior_manager"
    lc.profile = type(lc.profile).model_validate(data)
    events = lc.on_deadline("milestone", datetime(2026, 3, 4, 17, 0, tzinfo=LONDON)).events
    assert {"event": "notice", "role": "senior_manager", "about": "breach", "kind": "milestone:assessment"} in events
