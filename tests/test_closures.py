"""The landlord's own closed and open days as a profile writes them (issue 16 item 6: "local closure days,
e.g. offices shut between Christmas and New Year, or a bank holiday not observed"), read one entry at a
time (policy/closures.py). Pure and fast: what a landlord notices is which days an entry covers in a
year, and, for a mistyped entry, a message that says what is wrong with which entry.

`adjusted` is cached (lru_cache); the tests that reach it clear the cache first, so each one sees the
rule as written rather than a result an earlier caller left behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from policy.closures import LocalDays, adjusted


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    adjusted.cache_clear()
    yield
    adjusted.cache_clear()


def _refusal(text: str) -> str:
    with pytest.raises(ValueError) as caught:
        LocalDays.parse(text)
    return str(caught.value)


def test_a_one_off_day_is_that_day_of_its_own_year_only() -> None:
    one = LocalDays.parse("2026-03-04")
    assert one.first == one.last == (2026, 3, 4)
    assert one.days_in(2026) == frozenset({date(2026, 3, 4)})
    assert one.days_in(2027) == frozenset()


def test_a_dated_run_across_new_year_gives_each_year_its_own_part() -> None:
    """Offices shut from Wednesday 30 December 2026 to Saturday 2 January 2027, written once."""
    run = LocalDays.parse("2026-12-30..2027-01-02")
    assert run.days_in(2026) == frozenset({date(2026, 12, 30), date(2026, 12, 31)})
    assert run.days_in(2027) == frozenset({date(2027, 1, 1), date(2027, 1, 2)})
    assert run.days_in(2028) == frozenset()


def test_a_yearly_day_is_that_one_day_every_year() -> None:
    """"12-24": Christmas Eve each year, not the whole year (its run starts and ends on the same day)."""
    eve = LocalDays.parse("12-24")
    assert eve.days_in(2026) == frozenset({date(2026, 12, 24)})
    assert eve.days_in(2031) == frozenset({date(2031, 12, 24)})


def test_a_yearly_run_within_a_year_is_its_days_inclusive() -> None:
    assert LocalDays.parse("12-27..12-31").days_in(2026) == frozenset(date(2026, 12, d) for d in range(27, 32))


def test_a_yearly_29_february_falls_on_the_28th_when_there_is_none() -> None:
    leap_day = LocalDays.parse("02-29")
    assert leap_day.days_in(2028) == frozenset({date(2028, 2, 29)})
    assert leap_day.days_in(2027) == frozenset({date(2027, 2, 28)})
    assert leap_day.days_in(2000) == frozenset({date(2000, 2, 29)})  # divisible by 400: a leap year
    assert leap_day.days_in(2100) == frozenset({date(2100, 2, 28)})  # divisible by 100 only: not one


def test_other_february_days_stay_where_they_are_in_any_year() -> None:
    assert LocalDays.parse("02-10").days_in(2027) == frozenset({date(2027, 2, 10)})
    assert LocalDays.parse("03-29").days_in(2027) == frozenset({date(2027, 3, 29)})
    assert LocalDays.parse("02-28..03-01").days_in(2027) == frozenset({date(2027, 2, 28), date(2027, 3, 1)})


def test_spaces_around_a_run_are_allowed_up_to_32_characters() -> None:
    text = "2026-12-29" + " " * 5 + ".." + " " * 5 + "2026-12-31"
    text = text + " " * (32 - len(text))
    assert len(text) == 32
    assert LocalDays.parse(text).days_in(2026) == frozenset({date(2026, 12, 29), date(2026, 12, 30),
                                                             date(2026, 12, 31)})


def test_a_longer_entry_is_refused_showing_only_its_first_32_characters() -> None:
    text = "2026-12-29" + " " * 6 + ".." + " " * 5 + "2026-12-31"
    assert len(text) == 33
    message = _refusal(text)
    assert message.startswith(repr(text[:32]) + "... is not a day;"), message


@pytest.mark.parametrize(("text", "says"), [
    ("next tuesday", "'next tuesday' is not a day; write 'YYYY-MM-DD'"),
    ("12-29..12-31..01-01", "'12-29..12-31..01-01' is not a day;"),
    ("2026-12-29..12-31", "'2026-12-29..12-31': give both ends with a year, or neither"),
    ("2026-12-31..2026-12-01", "'2026-12-31..2026-12-01': the run ends before it starts"),
    ("12-01..13-01", "'12-01..13-01': '13-01' is not a day of the calendar"),
    ("2026-02-30", "'2026-02-30': '2026-02-30' is not a day of the calendar"),
])
def test_a_mistyped_entry_is_refused_saying_what_is_wrong_with_it(text: str, says: str) -> None:
    """The profile check shows this message beside the field (tests/test_local_days.py), so it names the
    entry as written and what is wrong with it."""
    assert _refusal(text).startswith(says)


def test_a_yearly_29_february_is_a_day_but_a_dated_one_only_in_a_leap_year() -> None:
    assert LocalDays.parse("02-29").first == (None, 2, 29)
    assert LocalDays.parse("2028-02-29").days_in(2028) == frozenset({date(2028, 2, 29)})
    assert "is not a day of the calendar" in _refusal("2027-02-29")


def test_closed_days_are_added_and_open_days_taken_away() -> None:
    bank = frozenset({date(2026, 12, 25), date(2026, 12, 28), date(2026, 5, 4)})
    got = adjusted(bank, (("12-29..12-31", "closed"), ("2026-05-04", "open")), 2026)
    assert got == frozenset({date(2026, 12, 25), date(2026, 12, 28), date(2026, 12, 29), date(2026, 12, 30),
                             date(2026, 12, 31)})


def test_an_open_day_wins_over_a_closed_run_covering_it() -> None:
    """The landlord said it works that day: the run is closed around it."""
    got = adjusted(frozenset(), (("12-29..12-31", "closed"), ("12-30", "open")), 2026)
    assert got == frozenset({date(2026, 12, 29), date(2026, 12, 31)})
    got = adjusted(frozenset(), (("12-30", "open"), ("12-29..12-31", "closed")), 2026)
    assert got == frozenset({date(2026, 12, 29), date(2026, 12, 31)})
