"""Triage of every category in every shipped profile's taxonomy."""

from __future__ import annotations

from datetime import time

import pytest

from policy.triage import TriageInput, UnknownCategoryError, triage
from profiles import load, shipped_names

PROFILES = shipped_names()


def _cases():
    for name in PROFILES:
        profile = load(name)
        for category in profile.categories.all:
            yield name, category


@pytest.mark.parametrize(("profile_name", "category"), list(_cases()))
def test_every_category_gets_the_outcome_its_group_promises(profile_name: str, category: str) -> None:
    profile = load(profile_name)
    cats, rules = profile.categories, profile.triage
    result = triage(TriageInput(category=category, tried_to_resolve=True), profile)
    if category in cats.not_asb:
        assert result.outcome == "not_asb"
        assert result.routed_to == cats.not_asb[category]
        assert result.risk is None
    elif category in cats.early_support:
        assert result.outcome == "early_support"
    elif category in rules.high_risk:
        assert (result.outcome, result.risk) == ("enquiry", "high")
    elif category in rules.medium_risk:
        assert (result.outcome, result.risk) == ("enquiry", "medium")
    else:
        assert (result.outcome, result.risk) == ("enquiry", "low")


@pytest.mark.parametrize(("profile_name", "category"), list(_cases()))
def test_hate_makes_any_report_a_high_risk_enquiry(profile_name: str, category: str) -> None:
    result = triage(TriageInput(category=category, hate=True), load(profile_name))
    assert (result.outcome, result.risk) == ("enquiry", "high")
    assert "hate incident" in result.reasons


@pytest.mark.parametrize("profile_name", PROFILES)
def test_violence_or_threats_is_always_high(profile_name: str) -> None:
    for category in ("noise", "one_off_noise", "parking"):
        result = triage(TriageInput(category=category, violence_or_threats=True), load(profile_name))
        assert (result.outcome, result.risk) == ("enquiry", "high")


def test_persistence_threshold_makes_low_level_nuisance_medium() -> None:
    profile = load("reading")
    threshold = profile.triage.persistence_threshold
    below = triage(TriageInput(category="noise", incidents_last_month=threshold - 1, tried_to_resolve=True), profile)
    at = triage(TriageInput(category="noise", incidents_last_month=threshold, tried_to_resolve=True), profile)
    assert below.risk == "low"
    assert at.risk == "medium"


def test_persistent_early_support_candidate_becomes_an_enquiry() -> None:
    profile = load("default")
    result = triage(TriageInput(category="pets", incidents_last_month=profile.triage.persistence_threshold), profile)
    assert (result.outcome, result.risk) == ("enquiry", "medium")


def test_risk_of_harm_raises_the_risk_and_rules_out_early_support() -> None:
    profile = load("default")
    result = triage(TriageInput(category="one_off_noise", risk_of_harm=True), profile)
    assert (result.outcome, result.risk) == ("enquiry", profile.triage.risk_of_harm_risk)


@pytest.mark.parametrize(
    ("at", "outcome"),
    [(time(10, 0), "not_asb"), (time(7, 59), "enquiry"), (time(20, 0), "enquiry"), (time(23, 30), "enquiry")],
)
def test_diy_is_asb_only_at_unreasonable_hours(at: time, outcome: str) -> None:
    result = triage(TriageInput(category="diy", time_of_day=at, tried_to_resolve=True), load("default"))
    assert result.outcome == outcome
    if outcome == "enquiry":
        assert result.category == "noise"


def test_diy_without_a_time_is_daytime_diy() -> None:
    assert triage(TriageInput(category="diy"), load("default")).outcome == "not_asb"


def test_livewest_offers_early_support_when_reporter_has_not_tried_to_resolve() -> None:
    livewest = load("livewest")
    assert triage(TriageInput(category="noise", tried_to_resolve=False), livewest).outcome == "early_support"
    assert triage(TriageInput(category="noise", tried_to_resolve=True), livewest).outcome == "enquiry"
    # A risk of harm overrides the expectation that the reporter tries first (004 §2.3).
    harmed = triage(TriageInput(category="noise", tried_to_resolve=False, risk_of_harm=True), livewest)
    assert harmed.outcome == "enquiry"


def test_reading_does_not_require_the_reporter_to_try_first() -> None:
    assert triage(TriageInput(category="noise", tried_to_resolve=False), load("reading")).outcome == "enquiry"


def test_unknown_category_is_refused_with_the_known_ones_listed() -> None:
    with pytest.raises(UnknownCategoryError, match="unknown category 'karaoke'.*noise"):
        triage(TriageInput(category="karaoke"), load("default"))
