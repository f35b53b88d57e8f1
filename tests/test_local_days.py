"""A landlord's own closure days are added to the nation's bank holidays, and a bank holiday it does not
observe can be removed (issue 16 item 6), for every deadline: the calendar's working days are the one
place the closures are applied (policy/closures.py, WorkingCalendar.holidays_in)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from policy.calendar import WorkingCalendar, bank_holidays
from policy.closures import LocalDays
from policy.model import CalendarRules
from profiles import ProfileError, parse

LONDON = WorkingCalendar().tz
ROOT = Path(__file__).resolve().parent.parent


def _calendar(**local: str) -> WorkingCalendar:
    return WorkingCalendar.from_rules(CalendarRules(local_days=local))


def test_offices_shut_between_christmas_and_new_year_add_to_the_bank_holidays() -> None:
    """Christmas Eve 2026 (Thursday) at 10:00, 1 working day: with the nation's holidays alone it is due on
    Tuesday 29 December; with the offices shut from 29 to 31 December, on Monday 4 January 2027."""
    received = datetime(2026, 12, 24, 10, 0, tzinfo=LONDON)
    assert WorkingCalendar().working_day_deadline(received, 1).date() == date(2026, 12, 29)
    shut = _calendar(**{"12-29..12-31": "closed"})
    assert shut.working_day_deadline(received, 1) == datetime(2027, 1, 4, 17, 0, tzinfo=LONDON)


def test_a_one_off_closure_is_a_closed_day_that_year_only() -> None:
    cal = _calendar(**{"2026-03-04": "closed"})
    assert not cal.is_working_day(date(2026, 3, 4))
    assert cal.is_working_day(date(2027, 3, 4))


def test_a_bank_holiday_the_landlord_does_not_observe_is_a_working_day() -> None:
    """Early May bank holiday 2026 is Monday 4 May: a landlord open that day counts it."""
    assert date(2026, 5, 4) in bank_holidays("eng", 2026)
    cal = _calendar(**{"2026-05-04": "open"})
    assert cal.is_working_day(date(2026, 5, 4))
    friday = datetime(2026, 5, 1, 10, 0, tzinfo=LONDON)
    assert cal.working_day_deadline(friday, 1).date() == date(2026, 5, 4)
    assert WorkingCalendar().working_day_deadline(friday, 1).date() == date(2026, 5, 5)


def test_a_weekend_stays_closed_whatever_is_written() -> None:
    assert not _calendar(**{"2026-03-07": "open"}).is_working_day(date(2026, 3, 7))


def test_a_yearly_run_across_new_year_covers_both_ends() -> None:
    run = LocalDays.parse("12-30..01-02")
    assert run.days_in(2027) == frozenset({date(2027, 1, 1), date(2027, 1, 2), date(2027, 12, 30),
                                          date(2027, 12, 31)})


def test_the_workflows_calendar_applies_them_to_the_holidays_it_was_handed() -> None:
    """Inside workflows the bank holidays arrive as data; the closures still apply."""
    handed = {2026: bank_holidays("eng", 2026)}
    cal = WorkingCalendar.from_rules(CalendarRules(local_days={"12-29..12-31": "closed"}), holidays_by_year=handed)
    assert not cal.is_working_day(date(2026, 12, 29))


@pytest.mark.parametrize("key", ["2026-13-01", "29-12", "12-29..12-31..01-01", "2026-12-31..2026-12-01",
                                 "2026-12-29..12-31", "next tuesday"])
def test_a_day_that_is_not_one_is_refused_naming_the_field(key: str) -> None:
    text = f'name = "x"\ntitle = "X"\n[categories]\nin_scope = ["noise"]\nhate_strands = ["race"]\n' \
           f'[calendar.local_days]\n"{key}" = "closed"\n'
    with pytest.raises(ProfileError) as caught:
        parse(text, "mine.toml")
    message = str(caught.value)
    assert message.startswith("mine.toml: calendar.local_days") and "\n" not in message, message


def test_a_state_other_than_closed_or_open_is_refused() -> None:
    text = 'name = "x"\ntitle = "X"\n[categories]\nin_scope = ["noise"]\nhate_strands = ["race"]\n' \
           '[calendar.local_days]\n"12-29" = "shut"\n'
    with pytest.raises(ProfileError, match=r"calendar\.local_days\.12-29"):
        parse(text, "mine.toml")


def test_profiles_check_names_the_file_and_field_and_exits_2(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('name = "x"\ntitle = "X"\n[categories]\nin_scope = ["noise"]\nhate_strands = ["race"]\n'
                    '[calendar.local_days]\n"2026-02-30" = "closed"\n', encoding="utf-8")
    done = subprocess.run([str(Path(sys.executable).with_name("asb")), "profiles", "check", str(mine)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert str(mine) in done.stderr and "calendar.local_days" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
