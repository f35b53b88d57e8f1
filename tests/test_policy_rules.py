"""Triage's stated reasons and the calendar's small rules, pinned one by one (policy/).

`asb triage` and the intake screen show the reasons to staff, so they are behaviour, not decoration.
Fast enough for the mutation run (scripts/mutate) to try every change to policy/ against them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from policy.calendar import HolidaysNotLoaded, NaiveTimeError, WorkingCalendar, bank_holidays, require_aware
from policy.periods import Period
from policy.triage import TriageInput, UnknownCategoryError, triage
from profiles import load

READING, LIVEWEST = load("reading"), load("livewest")


@pytest.mark.parametrize(("profile", "report", "outcome", "risk", "category", "routed", "reasons"), [
    (READING, {"category": "noise", "hate": True, "violence_or_threats": True}, "enquiry", "high", "noise", None,
     ["hate incident"]),
    (READING, {"category": "noise", "violence_or_threats": True}, "enquiry", "high", "noise", None,
     ["violence or threats"]),
    (READING, {"category": "violence"}, "enquiry", "high", "violence", None, ["violence is high risk"]),
    (READING, {"category": "noise"}, "enquiry", "low", "noise", None, ["noise is low-level nuisance"]),
    (READING, {"category": "noise", "incidents_last_month": 8}, "enquiry", "medium", "noise", None,
     ["8 incidents in a month is persistent"]),
    (READING, {"category": "noise", "incidents_last_month": 7}, "enquiry", "low", "noise", None,
     ["noise is low-level nuisance"]),
    (READING, {"category": "noise", "risk_of_harm": True}, "enquiry", "medium", "noise", None, ["risk of harm"]),
    (READING, {"category": "drugs", "incidents_last_month": 8, "risk_of_harm": True}, "enquiry", "medium", "drugs",
     None, ["drugs is medium risk", "8 incidents in a month is persistent", "risk of harm"]),
    (READING, {"category": "parking"}, "not_asb", None, "parking", "tenant_services",
     ["parking is not ASB under this standard"]),
    (READING, {"category": "diy", "time_of_day": "23:00"}, "enquiry", "low", "noise", None,
     ["diy at unreasonable hours counts as noise"]),
    (READING, {"category": "diy", "time_of_day": "07:59"}, "enquiry", "low", "noise", None,
     ["diy at unreasonable hours counts as noise"]),
    (READING, {"category": "diy", "time_of_day": "20:00"}, "enquiry", "low", "noise", None,
     ["diy at unreasonable hours counts as noise"]),
    (READING, {"category": "diy", "time_of_day": "08:00"}, "not_asb", None, "diy", "tenant_services",
     ["diy within reasonable hours is not ASB"]),
    (READING, {"category": "diy"}, "not_asb", None, "diy", "tenant_services",
     ["diy within reasonable hours is not ASB"]),
    (READING, {"category": "one_off_noise"}, "early_support", None, "one_off_noise", None,
     ["one_off_noise suits early support"]),
    (LIVEWEST, {"category": "noise"}, "early_support", None, "noise", None,
     ["reporter has not yet tried to resolve it and faces no risk of harm"]),
    (LIVEWEST, {"category": "noise", "tried_to_resolve": True}, "enquiry", "low", "noise", None,
     ["noise is low-level nuisance"]),
    (LIVEWEST, {"category": "drugs", "incidents_last_month": 20, "risk_of_harm": True}, "enquiry", "high", "drugs",
     None, ["drugs is medium risk", "20 incidents in a month is persistent", "risk of harm"]),
])
def test_triage_gives_its_outcome_and_reasons(profile: Any, report: dict[str, Any], outcome: str, risk: str | None,
                                              category: str, routed: str | None, reasons: list[str]) -> None:
    if "time_of_day" in report:
        report = {**report, "time_of_day": datetime.strptime(report["time_of_day"], "%H:%M").time()}
    result = triage(TriageInput(**report), profile)
    assert (result.outcome, result.risk, result.category, result.routed_to, result.reasons) == (
        outcome, risk, category, routed, reasons)


def test_an_unknown_category_names_the_known_ones() -> None:
    with pytest.raises(UnknownCategoryError) as refused:
        triage(TriageInput(category="llamas"), READING)
    message = str(refused.value)
    assert message.startswith("unknown category 'llamas' for profile 'reading'; known: ")
    known = message.split("known: ")[1].split(", ")
    assert known == sorted(READING.categories.all) and "noise" in known


def test_first_response_days_by_risk() -> None:
    assert [READING.first_response.for_risk(r) for r in ("high", "medium", "low")] == [1, 3, 5]


def test_the_previous_working_day_skips_weekends_and_bank_holidays() -> None:
    calendar = WorkingCalendar.from_rules(READING.calendar)
    assert calendar.previous_working_day(date(2026, 3, 3)) == date(2026, 3, 2)  # Tuesday -> Monday
    assert calendar.previous_working_day(date(2026, 3, 2)) == date(2026, 2, 27)  # Monday -> Friday
    assert calendar.previous_working_day(date(2026, 4, 7)) == date(2026, 4, 2)  # over Easter


def test_a_calendar_given_its_holidays_knows_only_those_years() -> None:
    calendar = WorkingCalendar.from_rules(READING.calendar, holidays_by_year={2026: bank_holidays("eng", 2026)})
    assert not calendar.is_working_day(date(2026, 12, 25))
    with pytest.raises(HolidaysNotLoaded) as missing:
        calendar.is_working_day(date(2027, 1, 4))
    assert missing.value.year == 2027
    assert str(missing.value) == "bank holidays for 2027 were not loaded into this calendar"


def test_bank_holidays_need_a_known_nation_and_times_a_zone() -> None:
    assert date(2026, 8, 3) in bank_holidays("sct", 2026) and date(2026, 8, 3) not in bank_holidays("eng", 2026)
    with pytest.raises(ValueError, match="unknown nation 'mars': use one of eng, wls, sct, nir"):
        bank_holidays("mars", 2026)
    with pytest.raises(NaiveTimeError) as naive:
        require_aware(datetime(2026, 3, 2, 9, 30), "received")
    assert str(naive.value) == "received 2026-03-02T09:30:00 has no time zone; give an offset such as +00:00"
    aware = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert require_aware(aware) is aware


def test_a_period_that_is_not_one_says_how_to_write_it() -> None:
    with pytest.raises(ValueError) as refused:
        Period.parse("a fortnight")
    assert str(refused.value) == ("'a fortnight' is not a period; write e.g. '28 days', '4 weeks', '2 months', "
                                  "'1 year' or '10 working days'")
    with pytest.raises(ValueError) as working:
        Period.parse("5 working days").add_calendar(date(2026, 3, 2))
    assert str(working.value) == "working days need a calendar: use WorkingCalendar.add_period"
    assert Period.parse("1 year").add_calendar(date(2024, 2, 29)) == date(2025, 2, 28)
    assert Period.parse("2 weeks").add_calendar(date(2026, 3, 2)) == date(2026, 3, 16)


class _Holder(BaseModel):
    every: Period


def test_profiles_read_and_write_periods_as_text() -> None:
    assert _Holder.model_validate({"every": "4 Weeks"}).every == Period(4, "weeks")
    assert _Holder(every=Period(1, "months")).model_dump(mode="json") == {"every": "1 month"}
    assert _Holder.model_validate({"every": Period(3, "days")}).every == Period(3, "days")
    with pytest.raises(ValidationError, match="a period must be text such as '28 days' or '2 months'"):
        _Holder.model_validate({"every": 28})
    with pytest.raises(ValidationError, match="is not a period"):
        _Holder.model_validate({"every": "soon"})


def test_an_unknown_nation_names_the_ones_there_are() -> None:
    with pytest.raises(ValueError) as refused:
        WorkingCalendar(nation="gb")
    assert str(refused.value) == "unknown nation 'gb': use one of eng, wls, sct, nir"


def test_a_time_without_a_zone_is_refused_naming_what_it_was() -> None:
    calendar = WorkingCalendar()
    with pytest.raises(NaiveTimeError, match=r"^received 2026-03-02T09:30:00 has no time zone"):
        calendar.receipt_day(datetime(2026, 3, 2, 9, 30))
    with pytest.raises(NaiveTimeError, match=r"^start 2026-03-02T09:30:00 has no time zone"):
        calendar.add_period(datetime(2026, 3, 2, 9, 30), Period.parse("2 months"))
    with pytest.raises(NaiveTimeError, match=r"^time 2026-03-02T09:30:00 has no time zone; give an offset"):
        require_aware(datetime(2026, 3, 2, 9, 30))


def test_the_working_day_before_a_bank_holiday_monday_or_a_weekend_is_the_friday() -> None:
    calendar = WorkingCalendar(nation="eng")
    assert calendar.previous_working_day(date(2026, 5, 26)) == date(2026, 5, 22)  # spring bank holiday 25 May
    assert calendar.previous_working_day(date(2026, 3, 8)) == date(2026, 3, 6)  # Sunday -> Friday


def test_a_profiles_own_end_of_working_day_decides_the_receipt_day() -> None:
    """A landlord whose office shuts at 16:00 counts a 16:30 report from the next working day (DOMAIN
    convention: at or after the end of the working day)."""
    early = READING.calendar.model_copy(update={"end_of_working_day": time(16, 0)})
    calendar = WorkingCalendar.from_rules(early)
    assert calendar.receipt_day(datetime(2026, 3, 2, 15, 59, tzinfo=UTC)) == date(2026, 3, 2)
    assert calendar.receipt_day(datetime(2026, 3, 2, 16, 30, tzinfo=UTC)) == date(2026, 3, 3)
    assert calendar.end_of(date(2026, 3, 3)) == datetime(2026, 3, 3, 16, 0, tzinfo=UTC)


def test_a_month_from_december_lands_in_january_of_the_next_year() -> None:
    assert Period.parse("1 month").add_calendar(date(2026, 12, 15)) == date(2027, 1, 15)
    assert Period.parse("2 months").add_calendar(date(2026, 12, 31)) == date(2027, 2, 28)
    assert Period.parse("13 months").add_calendar(date(2026, 1, 31)) == date(2027, 2, 28)


def test_risk_of_harm_never_lowers_a_risk_already_reached() -> None:
    """A profile may rate risk of harm alone as low; a persistent (medium) report with it stays medium."""
    mild = READING.model_copy(update={"triage": READING.triage.model_copy(update={"risk_of_harm_risk": "low"})})
    result = triage(TriageInput(category="noise", incidents_last_month=READING.triage.persistence_threshold,
                                risk_of_harm=True), mild)
    assert (result.outcome, result.risk) == ("enquiry", "medium")
