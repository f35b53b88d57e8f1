"""Every shipped profile loads; every kind of bad profile is refused with the file and field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy.periods import Period
from profiles import SHIPPED_DIR, ProfileError, load, parse, shipped_names

EXPECTED = {"default", "reading", "livewest", "whg", "homes-in-somerset", "place-called-home"}


def test_all_six_profiles_are_shipped() -> None:
    assert set(shipped_names()) >= EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_profile_loads_and_names_itself(name: str) -> None:
    profile = load(name)
    assert profile.name == name
    assert profile.first_response.high <= profile.first_response.low


def test_shipped_profiles_differ_where_the_standards_differ() -> None:
    assert load("homes-in-somerset").contact.least_frequent == Period(1, "weeks")
    assert load("reading").contact.least_frequent == Period(1, "months")
    assert load("whg").first_response.low == 5
    assert load("place-called-home").first_response.high == 1
    assert load("livewest").triage.early_support_if_not_tried is True
    # 004 §3.1: amber cases to Housing Officers, red (high) to ASB & Enforcement Officers.
    assert [load("livewest").allocation.team_for(r) for r in ("high", "medium", "low")] == [
        "asb_enforcement", "housing", "housing"]


def test_a_landlords_own_file_is_used_by_path(tmp_path: Path) -> None:
    text = (SHIPPED_DIR / "default.toml").read_text().replace('name = "default"', 'name = "our-homes"')
    own = tmp_path / "our-homes.toml"
    own.write_text(text.replace('nation = "eng"', 'nation = "wls"'))
    profile = load(str(own))
    assert (profile.name, profile.calendar.nation) == ("our-homes", "wls")


BASE = (SHIPPED_DIR / "default.toml").read_text()


def _mutate(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


BAD = {
    "malformed TOML": ("[calendar\nnation = 'eng'", "malformed TOML"),
    "unknown top-level key": (BASE + '\ncolour = "blue"\n', "colour: unknown key"),
    "unknown nested key": (_mutate("[enquiry]", "[enquiry]\nlenght = '4 weeks'"), "enquiry.lenght: unknown key"),
    "bad nation": (_mutate('nation = "eng"', 'nation = "england"'), "calendar.nation"),
    "bad time zone": (_mutate('timezone = "Europe/London"', 'timezone = "Europe/Londres"'), "calendar.timezone"),
    "bad period": (_mutate('length = "4 weeks"', 'length = "four weeks"'), "enquiry.length"),
    "wrong type": (_mutate("persistence_threshold = 8", 'persistence_threshold = "eight"'),
                   "triage.persistence_threshold"),
    "negative count": (_mutate("persistence_threshold = 8", "persistence_threshold = 0"),
                       "triage.persistence_threshold"),
    "response out of order": (_mutate("high = 1 ", "high = 9 "), "first_response"),
    "bad role": (_mutate('closure = "manager"', 'closure = "caretaker"'), "approvals.closure"),
    "missing categories": (BASE.replace("[categories]", "[ignored_categories]"),
                           "categories.in_scope: required but missing"),
    "category in two groups": (_mutate('early_support = ["one_off_noise"', 'early_support = ["noise"'),
                               "categories: category 'noise' is in both"),
    "high risk not in scope": (_mutate('high_risk = ["violence"', 'high_risk = ["parking"'), "triage.high_risk"),
    "contact default too rare": (_mutate('default_every = "1 month"', 'default_every = "6 weeks"'), "contact"),
    "bad end of day": (_mutate("end_of_working_day = 17:00:00", 'end_of_working_day = "teatime"'),
                       "calendar.end_of_working_day"),
    "time-dependent category not routed": (_mutate('time_dependent = { diy = "noise" }',
                                                   'time_dependent = { karaoke = "noise" }'), "karaoke"),
    "intake cannot allocate": (_mutate('by = "manager"', 'by = "intake"'), "allocation.by"),
    "bad team name": (_mutate("by_risk = {}", 'by_risk = { high = "ASB team; drop" }'), "allocation.by_risk"),
    "route an unknown risk": (_mutate("by_risk = {}", 'by_risk = { red = "asb" }'), "allocation.by_risk.red"),
    "risk thresholds out of order": (_mutate("high_from = 8", "high_from = 3"), "risk_matrix: need "
                                     "medium_from < high_from"),
    "risk threshold above the highest total": (_mutate("high_from = 8", "high_from = 13"),
                                               "the highest total (12)"),
    "decisive score above the factor's max": (_mutate("max = 3, high_at = 3", "max = 3, high_at = 5"),
                                              "risk_matrix.factors.harm"),
    "misspelt factor key": (_mutate("max = 3, high_at = 3", "max = 3, hihg_at = 3"),
                            "risk_matrix.factors.harm.hihg_at: unknown key"),
    "risk review in working days": (_mutate('high = "2 weeks"', 'high = "10 working days"'),
                                    "risk_matrix.review_every"),
    "bad factor id": (_mutate("persistence = { question", "Persistence = { question"), "factor id 'Persistence'"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_profile_is_refused_naming_the_file_and_field(kind: str) -> None:
    text, field = BAD[kind]
    with pytest.raises(ProfileError) as refused:
        parse(text, "our-homes.toml")
    message = str(refused.value)
    assert message.startswith("our-homes.toml: ")
    assert field in message


def test_every_bad_field_is_named_not_just_the_first() -> None:
    text = _mutate('nation = "eng"', 'nation = "england"').replace('closure = "manager"', 'closure = "caretaker"')
    with pytest.raises(ProfileError) as refused:
        parse(text, "x.toml")
    assert "calendar.nation" in str(refused.value) and "approvals.closure" in str(refused.value)


def test_unknown_profile_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ProfileError, match="unknown profile 'nowhere'.*reading"):
        load("nowhere")


def test_an_unknown_profile_lists_every_shipped_name() -> None:
    with pytest.raises(ProfileError) as refused:
        load("nowhere")
    assert str(refused.value) == ("unknown profile 'nowhere': not a shipped profile (default, homes-in-somerset, "
                                  "livewest, place-called-home, reading, whg) nor a file")


def test_a_name_with_a_slash_is_a_path_never_a_shipped_lookup() -> None:
    """Profile names come from forms and command lines: "../profiles/reading" must not climb out of, or
    back into, the shipped folder; it is a path, and there is no such file here."""
    with pytest.raises(ProfileError, match=r"^unknown profile '\.\./profiles/reading'"):
        load("../profiles/reading")


def test_every_problem_is_listed_in_one_line_with_the_file_named(tmp_path: Path) -> None:
    text = _mutate('nation = "eng"', 'nation = "england"').replace('closure = "manager"', 'closure = "caretaker"')
    own = tmp_path / "our-homes.toml"
    own.write_text(text)
    with pytest.raises(ProfileError) as refused:
        load(str(own))
    message = str(refused.value)
    assert message.startswith(f"{own}: calendar.nation: ") and "; approvals.closure: " in message
    assert "\n" not in message


def test_a_rule_across_sections_is_named_as_the_whole_profile() -> None:
    with pytest.raises(ProfileError) as refused:
        parse(_mutate('high_risk = ["violence"', 'high_risk = ["parking"'), "x.toml")
    assert str(refused.value) == "x.toml: (top level): triage.high_risk: 'parking' is not an in_scope category"


def test_a_file_that_is_not_text_is_refused_naming_it(tmp_path: Path) -> None:
    own = tmp_path / "latin1.toml"
    own.write_bytes(BASE.replace('name = "default"', 'name = "caf\u00e9"').encode("latin-1"))
    with pytest.raises(ProfileError, match=rf"^{own}: cannot read: 'utf-8' codec can't decode"):
        load(str(own))


def test_each_profile_carries_the_risk_matrix_its_standard_describes() -> None:
    """The matrix is the profile's (issue 12 item 4): Reading assesses persistence, impact and vulnerability
    (003 §8 stage 3, §10); LiveWest's cases are red or amber, red where harm occurred or is at risk
    (004 §3.4-3.5); the others publish no matrix and get the documented default."""
    reading = load("reading").risk_matrix
    assert list(reading.factors) == ["persistence", "impact", "vulnerability"]
    assert (reading.medium_from, reading.high_from, reading.highest_total) == (4, 7, 9)
    assert (reading.vulnerable_reporter, reading.label("high")) == ("medium", "high")
    livewest = load("livewest").risk_matrix
    assert list(livewest.factors) == ["harm", "vulnerability", "frequency", "impact"]
    assert livewest.factors["harm"].high_at == 2  # a risk of harm is red on its own
    assert [livewest.label(r) for r in ("high", "medium", "low")] == ["red", "amber", "amber"]
    assert livewest.vulnerable_reporter == "high"
    default = load("default").risk_matrix
    assert list(default.factors) == ["harm", "persistence", "impact", "vulnerability"]
    assert default.review_every.for_risk("high") == Period(2, "weeks")
    assert default.review_every.for_risk("low") == Period(1, "months")
    for name in ("whg", "homes-in-somerset", "place-called-home"):
        assert load(name).risk_matrix == default, name
    # A landlord's profile that says nothing of a matrix gets the same documented default.
    bare = parse(BASE.split("[risk_matrix]")[0], "our-homes.toml")
    assert bare.risk_matrix == default
