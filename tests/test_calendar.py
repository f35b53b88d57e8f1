"""The working-day calendar, checked against the bank holidays published on gov.uk.

Every expected date below is written out by hand from https://www.gov.uk/bank-holidays
(and the weekday of each date); nothing is computed with the ``holidays`` package or with
the code under test.

Convention under test: a report received on a non-working day, or at/after 17:00 Europe/London,
counts as received on the next working day; N working days is 17:00 London on the Nth working
day after the day of receipt.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from policy.calendar import NaiveTimeError, WorkingCalendar
from policy.periods import Period

LONDON = ZoneInfo("Europe/London")
UTC = UTC
GMT = timedelta(0)
BST = timedelta(hours=1)
NATIONS = ("eng", "wls", "sct", "nir")


def d(text: str) -> date:
    return date.fromisoformat(text)


def london(text: str) -> datetime:
    """A London wall-clock time, e.g. london("2026-06-10 16:59")."""
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


def due(text: str) -> datetime:
    """17:00 London on the given day, as an absolute instant."""
    return datetime.combine(d(text), datetime.min.time().replace(hour=17), tzinfo=LONDON)


# ---------------------------------------------------------------------------------------------
# gov.uk bank holidays, 2025-2027, written out by hand.  (Substitute days marked "sub".)
# ---------------------------------------------------------------------------------------------
ENG_WLS = {
    2025: {
        "2025-01-01": "New Year's Day",
        "2025-04-18": "Good Friday",
        "2025-04-21": "Easter Monday",
        "2025-05-05": "Early May",
        "2025-05-26": "Spring",
        "2025-08-25": "Summer (last Mon Aug)",
        "2025-12-25": "Christmas Day",
        "2025-12-26": "Boxing Day",
    },
    2026: {
        "2026-01-01": "New Year's Day",
        "2026-04-03": "Good Friday",
        "2026-04-06": "Easter Monday",
        "2026-05-04": "Early May",
        "2026-05-25": "Spring",
        "2026-08-31": "Summer (last Mon Aug)",
        "2026-12-25": "Christmas Day",
        "2026-12-28": "Boxing Day (sub: 26 Dec is Sat)",
    },
    2027: {
        "2027-01-01": "New Year's Day",
        "2027-03-26": "Good Friday",
        "2027-03-29": "Easter Monday",
        "2027-05-03": "Early May",
        "2027-05-31": "Spring",
        "2027-08-30": "Summer (last Mon Aug)",
        "2027-12-27": "Christmas Day (sub: 25 Dec is Sat)",
        "2027-12-28": "Boxing Day (sub: 26 Dec is Sun)",
    },
}

SCT = {
    2025: {
        "2025-01-01": "New Year's Day",
        "2025-01-02": "2nd January",
        "2025-04-18": "Good Friday",
        "2025-05-05": "Early May",
        "2025-05-26": "Spring",
        "2025-08-04": "Summer (first Mon Aug)",
        "2025-12-01": "St Andrew's Day (sub: 30 Nov is Sun)",
        "2025-12-25": "Christmas Day",
        "2025-12-26": "Boxing Day",
    },
    2026: {
        "2026-01-01": "New Year's Day",
        "2026-01-02": "2nd January",
        "2026-04-03": "Good Friday",
        "2026-05-04": "Early May",
        "2026-05-25": "Spring",
        "2026-08-03": "Summer (first Mon Aug)",
        "2026-11-30": "St Andrew's Day",
        "2026-12-25": "Christmas Day",
        "2026-12-28": "Boxing Day (sub: 26 Dec is Sat)",
    },
    2027: {
        "2027-01-01": "New Year's Day",
        "2027-01-04": "2nd January (sub: 2 Jan is Sat)",
        "2027-03-26": "Good Friday",
        "2027-05-03": "Early May",
        "2027-05-31": "Spring",
        "2027-08-02": "Summer (first Mon Aug)",
        "2027-11-30": "St Andrew's Day",
        "2027-12-27": "Christmas Day (sub: 25 Dec is Sat)",
        "2027-12-28": "Boxing Day (sub: 26 Dec is Sun)",
    },
}

NIR = {
    2025: {
        **ENG_WLS[2025],
        "2025-03-17": "St Patrick's Day",
        "2025-07-14": "Battle of the Boyne (sub: 12 Jul is Sat)",
    },
    2026: {
        **ENG_WLS[2026],
        "2026-03-17": "St Patrick's Day",
        "2026-07-13": "Battle of the Boyne (sub: 12 Jul is Sun)",
    },
    2027: {
        **ENG_WLS[2027],
        "2027-03-17": "St Patrick's Day",
        "2027-07-12": "Battle of the Boyne",
    },
}

GOV_UK = {"eng": ENG_WLS, "wls": ENG_WLS, "sct": SCT, "nir": NIR}

# One-off holidays that the holidays package may carry and that are not part of the regular
# gov.uk pattern checked here.  Not asserted either way (see the report).
ONE_OFFS = {
    "sct": {d("2026-06-15")},  # proposed/declared extra Scottish holiday (World Cup), 2026
}

HOLIDAY_CASES = [
    pytest.param(nation, d(day), id=f"{nation}-{day}-{name}")
    for nation, years in GOV_UK.items()
    for year, days in years.items()
    for day, name in days.items()
]


def gov_uk_holidays(nation: str) -> set[date]:
    return {d(day) for days in GOV_UK[nation].values() for day in days}


def hand_working_day(nation: str, day: date) -> bool:
    """An independent oracle: Mon-Fri and not in the hand-written gov.uk list."""
    return day.weekday() < 5 and day not in gov_uk_holidays(nation)


def hand_prev_working_day(nation: str, day: date) -> date:
    day -= timedelta(days=1)
    while not hand_working_day(nation, day):
        day -= timedelta(days=1)
    return day


def hand_next_working_day(nation: str, day: date) -> date:
    day += timedelta(days=1)
    while not hand_working_day(nation, day):
        day += timedelta(days=1)
    return day


def test_hand_written_lists_sit_on_weekdays() -> None:
    """Guard the oracle itself: every gov.uk bank holiday (incl. substitutes) is Mon-Fri."""
    for nation in NATIONS:
        for day in gov_uk_holidays(nation):
            assert day.weekday() < 5, (nation, day)


# ---------------------------------------------------------------------------------------------
# 1. Bank holidays of the four nations
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("nation", "holiday"), HOLIDAY_CASES)
def test_bank_holiday_is_not_a_working_day(nation: str, holiday: date) -> None:
    assert WorkingCalendar(nation=nation).is_working_day(holiday) is False


@pytest.mark.parametrize(("nation", "holiday"), HOLIDAY_CASES)
def test_one_working_day_deadline_skips_the_bank_holiday(nation: str, holiday: date) -> None:
    """Report at 10:00 on the working day before the holiday: due 17:00 the working day after it."""
    cal = WorkingCalendar(nation=nation)
    before = hand_prev_working_day(nation, holiday)
    after = hand_next_working_day(nation, holiday)
    received = datetime(before.year, before.month, before.day, 10, 0, tzinfo=LONDON)
    assert cal.working_day_deadline(received, 1) == due(after.isoformat())


@pytest.mark.parametrize("nation", NATIONS)
@pytest.mark.parametrize("year", [2025, 2026, 2027])
def test_non_working_weekdays_are_exactly_the_gov_uk_list(nation: str, year: int) -> None:
    """No missing holiday and no extra one (apart from known one-offs, which are not asserted)."""
    cal = WorkingCalendar(nation=nation)
    day, closed = date(year, 1, 1), set()
    while day.year == year:
        if day.weekday() < 5 and not cal.is_working_day(day):
            closed.add(day)
        day += timedelta(days=1)
    expected = {d(x) for x in GOV_UK[nation][year]}
    assert closed - ONE_OFFS.get(nation, set()) == expected


# Hand-written spans, to read as a user would: (nation, received London time, working days, due day).
EXPLICIT_SPANS = [
    # Christmas 2025: Thu 25 + Fri 26 Dec, then the weekend.
    ("eng", "2025-12-24 10:00", 1, "2025-12-29"),
    ("sct", "2025-12-24 10:00", 1, "2025-12-29"),
    # Christmas 2026: Fri 25 Dec, Boxing Day substitute Mon 28 Dec.
    ("eng", "2026-12-24 10:00", 1, "2026-12-29"),
    ("wls", "2026-12-24 10:00", 1, "2026-12-29"),
    ("nir", "2026-12-24 10:00", 1, "2026-12-29"),
    # Christmas 2027: Sat 25 / Sun 26 Dec -> substitutes Mon 27 and Tue 28 Dec.
    ("eng", "2027-12-24 10:00", 1, "2027-12-29"),
    ("sct", "2027-12-24 10:00", 1, "2027-12-29"),
    # New Year 2026 (Thu): sct also closes Fri 2 Jan, so it runs to Monday.
    ("eng", "2025-12-31 10:00", 1, "2026-01-02"),
    ("sct", "2025-12-31 10:00", 1, "2026-01-05"),
    # New Year 2027 (Fri); sct's 2 Jan is a Saturday -> substitute Mon 4 Jan.
    ("eng", "2026-12-31 10:00", 1, "2027-01-04"),
    ("sct", "2026-12-31 10:00", 1, "2027-01-05"),
    # Easter 2026: Good Fri 3 Apr everywhere, Easter Mon 6 Apr not in Scotland.
    ("eng", "2026-04-02 10:00", 1, "2026-04-07"),
    ("wls", "2026-04-02 10:00", 1, "2026-04-07"),
    ("nir", "2026-04-02 10:00", 1, "2026-04-07"),
    ("sct", "2026-04-02 10:00", 1, "2026-04-06"),
    # August 2026: sct closes Mon 3 Aug, the rest Mon 31 Aug.
    ("sct", "2026-07-31 10:00", 1, "2026-08-04"),
    ("eng", "2026-07-31 10:00", 1, "2026-08-03"),
    ("sct", "2026-08-28 10:00", 1, "2026-08-31"),
    ("eng", "2026-08-28 10:00", 1, "2026-09-01"),
    ("nir", "2026-08-28 10:00", 1, "2026-09-01"),
    # St Patrick's Day 2026 (Tue) in NI only.
    ("nir", "2026-03-16 10:00", 1, "2026-03-18"),
    ("eng", "2026-03-16 10:00", 1, "2026-03-17"),
    # Twelfth 2026 is a Sunday -> NI substitute Mon 13 Jul.
    ("nir", "2026-07-10 10:00", 1, "2026-07-14"),
    ("sct", "2026-07-10 10:00", 1, "2026-07-13"),
    # St Andrew's Day 2025 is a Sunday -> sct substitute Mon 1 Dec.
    ("sct", "2025-11-28 10:00", 1, "2025-12-02"),
    ("eng", "2025-11-28 10:00", 1, "2025-12-01"),
    # St Andrew's Day 2027 (Tue).
    ("sct", "2027-11-29 10:00", 1, "2027-12-01"),
    ("wls", "2027-11-29 10:00", 1, "2027-11-30"),
    # A longer run over Christmas/New Year 2026 in Scotland: 5 working days from Wed 23 Dec.
    # 24, 29, 30, 31 Dec, then 1 & 2 Jan 2027: 1 Jan closed, 2 Jan Sat, 4 Jan substitute -> Tue 5 Jan.
    ("sct", "2026-12-23 10:00", 5, "2027-01-05"),
    ("eng", "2026-12-23 10:00", 5, "2027-01-04"),
]


@pytest.mark.parametrize(("nation", "received", "days", "expected"), EXPLICIT_SPANS)
def test_explicit_deadlines_over_bank_holidays(nation: str, received: str, days: int, expected: str) -> None:
    assert WorkingCalendar(nation=nation).working_day_deadline(london(received), days) == due(expected)


# Days that are a holiday in one nation are ordinary working days in another.
WORKING_ELSEWHERE = [
    ("sct", "2025-04-21"), ("sct", "2026-04-06"), ("sct", "2027-03-29"),  # Easter Monday
    ("sct", "2025-08-25"), ("sct", "2026-08-31"), ("sct", "2027-08-30"),  # last Mon Aug
    *[(n, x) for n in ("eng", "wls", "nir") for x in ("2025-08-04", "2026-08-03", "2027-08-02")],  # first Mon Aug
    *[(n, x) for n in ("eng", "wls", "nir") for x in ("2025-01-02", "2026-01-02", "2027-01-04")],  # 2 Jan
    *[(n, x) for n in ("eng", "wls", "nir") for x in ("2025-12-01", "2026-11-30", "2027-11-30")],  # St Andrew
    *[(n, x) for n in ("eng", "wls", "sct") for x in ("2025-03-17", "2026-03-17", "2027-03-17")],  # St Patrick
    *[(n, x) for n in ("eng", "wls", "sct") for x in ("2025-07-14", "2026-07-13", "2027-07-12")],  # Twelfth
]


@pytest.mark.parametrize(("nation", "day"), WORKING_ELSEWHERE)
def test_other_nations_holiday_is_a_working_day(nation: str, day: str) -> None:
    assert WorkingCalendar(nation=nation).is_working_day(d(day)) is True


def test_unknown_nation_is_refused() -> None:
    with pytest.raises(ValueError):
        WorkingCalendar(nation="gb")


# ---------------------------------------------------------------------------------------------
# 2. Weekends, 3. after-hours receipt
# ---------------------------------------------------------------------------------------------
RECEIPT_CASES = [
    # (received London time, receipt day, due day for 1 working day)
    ("2026-06-12 16:00", "2026-06-12", "2026-06-15"),  # Fri before 17:00 -> Mon
    ("2026-06-12 16:59", "2026-06-12", "2026-06-15"),  # Fri one minute before close
    ("2026-06-12 17:00", "2026-06-15", "2026-06-16"),  # Fri at close -> counts from Mon
    ("2026-06-13 10:00", "2026-06-15", "2026-06-16"),  # Saturday -> counts from Mon
    ("2026-06-14 23:59", "2026-06-15", "2026-06-16"),  # Sunday night
    ("2026-06-10 16:59", "2026-06-10", "2026-06-11"),  # Wed 16:59 -> same day
    ("2026-06-10 16:59:59.999999", "2026-06-10", "2026-06-11"),
    ("2026-06-10 17:00", "2026-06-11", "2026-06-12"),  # Wed 17:00 exactly -> next day
    ("2026-06-10 17:00:01", "2026-06-11", "2026-06-12"),
    ("2026-06-10 23:30", "2026-06-11", "2026-06-12"),  # late evening
    ("2026-06-11 00:00", "2026-06-11", "2026-06-12"),  # midnight is before the close
    ("2026-06-11 06:00", "2026-06-11", "2026-06-12"),  # early morning counts the same day
    ("2026-01-14 17:00", "2026-01-15", "2026-01-16"),  # winter, at close
    ("2026-01-14 16:59", "2026-01-14", "2026-01-15"),  # winter, before close
]


@pytest.mark.parametrize("nation", ["eng", "nir"])
@pytest.mark.parametrize(("received", "receipt", "expected"), RECEIPT_CASES)
def test_receipt_convention(nation: str, received: str, receipt: str, expected: str) -> None:
    cal = WorkingCalendar(nation=nation)
    assert cal.receipt_day(london(received)) == d(receipt)
    assert cal.working_day_deadline(london(received), 1) == due(expected)


@pytest.mark.parametrize(
    ("received", "days", "expected"),
    [
        ("2026-06-13 10:00", 0, "2026-06-15"),  # Saturday, 0 days: end of Monday
        ("2026-06-12 17:30", 0, "2026-06-15"),  # Friday after hours, 0 days: end of Monday
        ("2026-06-12 10:00", 0, "2026-06-12"),  # Friday in hours, 0 days: end of that Friday
        ("2026-06-12 10:00", 5, "2026-06-19"),  # a working week
        ("2026-06-13 10:00", 5, "2026-06-22"),  # from Saturday: counts from Mon 15
        ("2026-06-08 09:00", 10, "2026-06-22"),  # two working weeks
    ],
)
def test_weekend_deadlines(received: str, days: int, expected: str) -> None:
    assert WorkingCalendar(nation="eng").working_day_deadline(london(received), days) == due(expected)


def test_deadline_is_17_00_london() -> None:
    result = WorkingCalendar(nation="eng").working_day_deadline(london("2026-06-12 16:00"), 1)
    assert result.isoformat() == "2026-06-15T17:00:00+01:00"


# ---------------------------------------------------------------------------------------------
# 4. Times given in UTC (or another offset)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("received", "receipt", "expected"),
    [
        # Summer: 16:30 UTC is 17:30 BST -> after hours, counts from Thu 11 Jun.
        ("2026-06-10T16:30:00+00:00", "2026-06-11", "2026-06-12"),
        # Summer: 15:59 UTC is 16:59 BST -> same day.
        ("2026-06-10T15:59:00+00:00", "2026-06-10", "2026-06-11"),
        # Summer: 16:00 UTC is 17:00 BST exactly -> next day.
        ("2026-06-10T16:00:00+00:00", "2026-06-11", "2026-06-12"),
        # Summer: 23:30 UTC Wed is 00:30 BST Thu -> in hours on Thursday.
        ("2026-06-10T23:30:00+00:00", "2026-06-11", "2026-06-12"),
        # Summer: 23:30 UTC Fri is 00:30 BST Sat -> counts from Monday.
        ("2026-06-12T23:30:00+00:00", "2026-06-15", "2026-06-16"),
        # Winter: 16:30 UTC is 16:30 GMT -> before hours, same day.
        ("2026-01-14T16:30:00+00:00", "2026-01-14", "2026-01-15"),
        ("2026-01-14T16:59:59+00:00", "2026-01-14", "2026-01-15"),
        ("2026-01-14T17:00:00+00:00", "2026-01-15", "2026-01-16"),
        # Another offset: 11:30 in New York (-05:00) in winter is 16:30 GMT -> same day.
        ("2026-01-14T11:30:00-05:00", "2026-01-14", "2026-01-15"),
        # 18:30 at +02:00 in winter is 16:30 GMT -> same day (not 18:30 "after hours").
        ("2026-01-14T18:30:00+02:00", "2026-01-14", "2026-01-15"),
        # 16:30 at +02:00 in summer is 15:30 BST -> same day.
        ("2026-06-10T16:30:00+02:00", "2026-06-10", "2026-06-11"),
    ],
)
def test_offsets_are_converted_to_london(received: str, receipt: str, expected: str) -> None:
    cal = WorkingCalendar(nation="eng")
    when = datetime.fromisoformat(received)
    assert cal.receipt_day(when) == d(receipt)
    assert cal.working_day_deadline(when, 1) == due(expected)


# ---------------------------------------------------------------------------------------------
# 5. The clock changes (29 Mar 2026 and 25 Oct 2026, both Sundays)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("received", "days", "expected_iso", "expected_utc"),
    [
        # Fri 27 Mar in GMT -> Mon 30 Mar in BST.
        ("2026-03-27T10:00:00+00:00", 1, "2026-03-30T17:00:00+01:00", "2026-03-30T16:00:00+00:00"),
        # Thu 26 Mar -> 1 day is still GMT (Fri 27).
        ("2026-03-26T10:00:00+00:00", 1, "2026-03-27T17:00:00+00:00", "2026-03-27T17:00:00+00:00"),
        # Sun 29 Mar (the change day itself) counts from Monday.
        ("2026-03-29T12:00:00+01:00", 1, "2026-03-31T17:00:00+01:00", "2026-03-31T16:00:00+00:00"),
        # Mon 30 Mar 16:30 UTC is 17:30 BST -> counts from Tue 31.
        ("2026-03-30T16:30:00+00:00", 1, "2026-04-01T17:00:00+01:00", "2026-04-01T16:00:00+00:00"),
        # Fri 23 Oct in BST -> Mon 26 Oct in GMT.
        ("2026-10-23T10:00:00+01:00", 1, "2026-10-26T17:00:00+00:00", "2026-10-26T17:00:00+00:00"),
        # Fri 23 Oct 16:30 UTC is 17:30 BST -> counts from Mon 26 -> due Tue 27 (GMT).
        ("2026-10-23T16:30:00+00:00", 1, "2026-10-27T17:00:00+00:00", "2026-10-27T17:00:00+00:00"),
        # Mon 26 Oct 16:30 UTC is 16:30 GMT -> same day.
        ("2026-10-26T16:30:00+00:00", 1, "2026-10-27T17:00:00+00:00", "2026-10-27T17:00:00+00:00"),
        # 5 working days from Wed 21 Oct -> Wed 28 Oct.
        ("2026-10-21T09:00:00+01:00", 5, "2026-10-28T17:00:00+00:00", "2026-10-28T17:00:00+00:00"),
    ],
)
def test_deadlines_across_the_clock_change(received: str, days: int, expected_iso: str, expected_utc: str) -> None:
    result = WorkingCalendar(nation="eng").working_day_deadline(datetime.fromisoformat(received), days)
    assert result.isoformat() == expected_iso
    assert result.astimezone(UTC) == datetime.fromisoformat(expected_utc)


@pytest.mark.parametrize(
    ("start", "period", "expected_iso"),
    [
        # Calendar periods keep the London wall-clock time across the change.
        ("2026-03-28T12:00:00+00:00", "1 day", "2026-03-29T12:00:00+01:00"),
        ("2026-03-25T09:00:00+00:00", "1 week", "2026-04-01T09:00:00+01:00"),
        ("2026-10-24T12:00:00+01:00", "1 day", "2026-10-25T12:00:00+00:00"),
        ("2026-10-01T09:00:00+01:00", "4 weeks", "2026-10-29T09:00:00+00:00"),
        ("2026-10-01T09:00:00+01:00", "1 month", "2026-11-01T09:00:00+00:00"),
    ],
)
def test_calendar_periods_across_the_clock_change(start: str, period: str, expected_iso: str) -> None:
    result = WorkingCalendar(nation="eng").add_period(datetime.fromisoformat(start), Period.parse(period))
    assert result.isoformat() == expected_iso


# ---------------------------------------------------------------------------------------------
# 6. Naive datetimes are refused
# ---------------------------------------------------------------------------------------------
NAIVE = datetime(2026, 6, 10, 10, 0)


@pytest.mark.parametrize("nation", NATIONS)
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda cal: cal.receipt_day(NAIVE), id="receipt_day"),
        pytest.param(lambda cal: cal.working_day_deadline(NAIVE, 1), id="working_day_deadline"),
        pytest.param(lambda cal: cal.add_period(NAIVE, Period.parse("10 working days")), id="add_period-working"),
        pytest.param(lambda cal: cal.add_period(NAIVE, Period.parse("2 months")), id="add_period-months"),
        pytest.param(lambda cal: cal.add_period(NAIVE, Period.parse("28 days")), id="add_period-days"),
    ],
)
def test_naive_datetimes_are_refused(nation: str, call) -> None:
    with pytest.raises(NaiveTimeError):
        call(WorkingCalendar(nation=nation))


def test_naive_time_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        WorkingCalendar().receipt_day(NAIVE)


# ---------------------------------------------------------------------------------------------
# 7. add_period
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "period", "expected_iso"),
    [
        ("2025-12-31T10:00:00+00:00", "2 months", "2026-02-28T10:00:00+00:00"),
        ("2026-12-31T10:00:00+00:00", "2 months", "2027-02-28T10:00:00+00:00"),
        ("2027-12-31T10:00:00+00:00", "2 months", "2028-02-29T10:00:00+00:00"),  # leap year
        ("2026-01-31T10:00:00+00:00", "1 month", "2026-02-28T10:00:00+00:00"),
        ("2026-01-15T10:00:00+00:00", "2 months", "2026-03-15T10:00:00+00:00"),
        ("2026-11-30T10:00:00+00:00", "3 months", "2027-02-28T10:00:00+00:00"),
        ("2028-02-29T10:00:00+00:00", "1 year", "2029-02-28T10:00:00+00:00"),
        ("2026-01-05T10:00:00+00:00", "4 weeks", "2026-02-02T10:00:00+00:00"),
        ("2026-01-05T10:00:00+00:00", "28 days", "2026-02-02T10:00:00+00:00"),
        ("2026-12-14T10:00:00+00:00", "4 weeks", "2027-01-11T10:00:00+00:00"),
        # Calendar periods are not moved off weekends or bank holidays.
        ("2026-11-27T10:00:00+00:00", "28 days", "2026-12-25T10:00:00+00:00"),
        ("2026-06-13T10:00:00+01:00", "28 days", "2026-07-11T10:00:00+01:00"),
        # A UTC start is read in London time: 23:30 UTC 30 Jun is 00:30 BST 1 Jul.
        ("2026-06-30T23:30:00+00:00", "1 month", "2026-08-01T00:30:00+01:00"),
    ],
)
def test_add_calendar_period(start: str, period: str, expected_iso: str) -> None:
    result = WorkingCalendar(nation="eng").add_period(datetime.fromisoformat(start), Period.parse(period))
    assert result.isoformat() == expected_iso


@pytest.mark.parametrize(
    ("nation", "start", "expected"),
    [
        # Mon 14 Dec 2026: 15-18 Dec (4), 21-24 Dec (8), 25 & 28 closed, 29 (9), 30 (10).
        ("eng", "2026-12-14T10:00:00+00:00", "2026-12-30"),
        ("sct", "2026-12-14T10:00:00+00:00", "2026-12-30"),
        # Wed 16 Dec 2026: ... 30 (8), 31 (9), 1 Jan closed, 4 Jan (10) in eng; sct also closes 4 Jan (sub).
        ("eng", "2026-12-16T10:00:00+00:00", "2027-01-04"),
        ("sct", "2026-12-16T10:00:00+00:00", "2027-01-05"),
        # Tue 31 Mar 2026: Good Friday 3 Apr and Easter Monday 6 Apr closed in eng/nir, only 3 Apr in sct.
        # eng/nir: 1, 2 Apr (2), 7-10 (6), 13-16 (10).  sct: 1, 2 (2), 6-10 (7), 13-15 (10).
        ("eng", "2026-03-31T10:00:00+01:00", "2026-04-16"),
        ("nir", "2026-03-31T10:00:00+01:00", "2026-04-16"),
        ("sct", "2026-03-31T10:00:00+01:00", "2026-04-15"),
        # After hours on Fri 12 Jun 2026 counts from Mon 15 Jun -> 10 working days later is Mon 29 Jun.
        ("eng", "2026-06-12T17:15:00+01:00", "2026-06-29"),
    ],
)
def test_add_ten_working_days(nation: str, start: str, expected: str) -> None:
    cal = WorkingCalendar(nation=nation)
    when = datetime.fromisoformat(start)
    result = cal.add_period(when, Period.parse("10 working days"))
    assert result == due(expected)
    assert result == cal.working_day_deadline(when, 10)


# ---------------------------------------------------------------------------------------------
# 8. Period.parse
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "count", "unit"),
    [
        ("1 month", 1, "months"),
        ("2 months", 2, "months"),
        ("10 working days", 10, "working_days"),
        ("1 working day", 1, "working_days"),
        ("4 weeks", 4, "weeks"),
        ("1 week", 1, "weeks"),
        ("28 days", 28, "days"),
        ("1 year", 1, "years"),
        ("  2 Months  ", 2, "months"),
        ("10 working  days", 10, "working_days"),
    ],
)
def test_period_parse_accepts(text: str, count: int, unit: str) -> None:
    assert Period.parse(text) == Period(count, unit)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    ["two weeks", "3 fortnights", "", "   ", "weeks", "4", "-1 days", "1.5 months", "10 working", "4weeks"],
)
def test_period_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        Period.parse(text)


@pytest.mark.parametrize("text", ["1 month", "2 months", "10 working days", "1 working day", "4 weeks", "28 days"])
def test_period_round_trips_through_str(text: str) -> None:
    assert str(Period.parse(text)) == text
