"""Working-day arithmetic with the bank holidays of the landlord's nation.

Convention (one place, used by every deadline; `WorkingCalendar.due_after`):

- The receipt convention is applied once, to the moment a working-day period starts: a report (or a
  contact, a review, a referral) on a non-working day, or at or after the end of the working day in the
  profile's time zone, counts as on the next working day. A period of N working days then ends at the
  end of the Nth working day after that day ("within 10 working days" of a contact on Monday 2 March
  2026 at 11:00 is the end of Monday 16 March). Nothing moves that end again (issue 16 item 1).
- A calendar period ("1 month", "28 days") runs from the moment itself; a deadline is the end of the
  working day on which it lands (the next working day's end if it lands on a closed day or after hours).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from policy.closures import LocalState, adjusted
from policy.model import CalendarRules
from policy.periods import Period

# holidays needs an explicit subdivision: plain "GB" silently omits Easter Monday and the August holiday.
SUBDIVISION = {"eng": "ENG", "wls": "WLS", "sct": "SCT", "nir": "NIR"}


class HolidaysNotLoaded(LookupError):
    """A calendar built from supplied holidays was asked about a year it was not given."""

    def __init__(self, year: int) -> None:
        super().__init__(f"bank holidays for {year} were not loaded into this calendar")
        self.year = year


class NaiveTimeError(ValueError):
    """A time without a zone offset: refused, because "09:00" means nothing without one."""


@lru_cache(maxsize=64)
def _bank_holidays(nation: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv=SUBDIVISION[nation], years=year).keys())


def bank_holidays(nation: str, year: int) -> frozenset[date]:
    if nation not in SUBDIVISION:
        raise ValueError(f"unknown nation {nation!r}: use one of {', '.join(SUBDIVISION)}")
    return _bank_holidays(nation, year)


def require_aware(when: datetime, what: str = "time") -> datetime:
    if when.tzinfo is None or when.tzinfo.utcoffset(when) is None:
        raise NaiveTimeError(f"{what} {when.isoformat()} has no time zone; give an offset such as +00:00")
    return when


@dataclass(frozen=True)
class WorkingCalendar:
    nation: str = "eng"
    end_of_day: time = time(17, 0)
    zone: str = "Europe/London"
    #: Bank holidays by year, when given as data (inside workflows, where the holidays package's
    #: file reads are not allowed); None means "ask the holidays package".
    holidays_by_year: dict[int, frozenset[date]] | None = field(default=None, compare=False, hash=False)
    #: The landlord's own closed days and open bank holidays (`calendar.local_days`, policy/closures.py),
    #: applied to the nation's bank holidays however they were obtained (issue 16 item 6).
    local_days: tuple[tuple[str, LocalState], ...] = ()
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.nation not in SUBDIVISION:
            raise ValueError(f"unknown nation {self.nation!r}: use one of {', '.join(SUBDIVISION)}")
        object.__setattr__(self, "_tz", ZoneInfo(self.zone))

    @classmethod
    def from_rules(
        cls, rules: CalendarRules, nation: str | None = None,
        holidays_by_year: dict[int, frozenset[date]] | None = None,
    ) -> WorkingCalendar:
        return cls(nation or rules.nation, rules.end_of_working_day, rules.timezone, holidays_by_year,
                   tuple(sorted(rules.local_days.items())))

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    def holidays_in(self, year: int) -> frozenset[date]:
        """The days of `year` (besides weekends) that are not working days: the nation's bank holidays,
        with the landlord's `local_days` closed days added and its open days removed."""
        if self.holidays_by_year is None:
            base = bank_holidays(self.nation, year)
        else:
            try:
                base = self.holidays_by_year[year]
            except KeyError:
                raise HolidaysNotLoaded(year) from None
        return adjusted(base, self.local_days, year) if self.local_days else base

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays_in(day.year)

    def next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def previous_working_day(self, day: date) -> date:
        day -= timedelta(days=1)
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def receipt_day(self, received: datetime) -> date:
        """The working day a report counts as received on."""
        local = require_aware(received, "received").astimezone(self._tz)
        day = local.date()
        if not self.is_working_day(day) or local.time() >= self.end_of_day:
            return self.next_working_day(day)
        return day

    def add_working_days(self, day: date, count: int) -> date:
        for _ in range(count):
            day = self.next_working_day(day)
        return day

    def end_of(self, day: date) -> datetime:
        return datetime.combine(day, self.end_of_day, tzinfo=self._tz)

    def working_day_deadline(self, received: datetime, working_days: int) -> datetime:
        """The end of the Nth working day after the day of receipt."""
        return self.end_of(self.add_working_days(self.receipt_day(received), working_days))

    def due_on(self, moment: datetime) -> datetime:
        """The end of the working day on which `moment` counts (the next one if after hours or closed)."""
        return self.working_day_deadline(moment, 0)

    def due_after(self, start: datetime, period: Period) -> datetime:
        """The deadline a period from `start` gives, ending with a working day (the module's convention):
        a working-day period already ends at the end of a working day, so only a calendar period's
        landing moment is moved to one. Before issue 16 the catalogue moved both, which put a working-day
        deadline (ending at 17:00, "after hours") one working day late."""
        if period.unit == "working_days":
            return self.add_period(start, period)
        return self.due_on(self.add_period(start, period))

    def add_period(self, start: datetime, period: Period) -> datetime:
        """Calendar periods run from the moment itself; working days follow the receipt convention."""
        require_aware(start, "start")
        if period.unit == "working_days":
            return self.working_day_deadline(start, period.count)
        local = start.astimezone(self._tz)
        moved: datetime = period.add_calendar(local)
        # Re-attach the zone so a period across the clock change keeps the wall-clock time.
        return moved.replace(tzinfo=self._tz)
