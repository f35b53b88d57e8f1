"""A landlord's own closed days and open bank holidays (issue 16 item 6), as a profile writes them.

`calendar.local_days` maps a day, or a run of days, to "closed" or "open":

- "2026-12-29" one day; "12-24" the same day every year;
- "2026-12-29..2026-12-31" or "12-27..12-31" a run (inclusive; a yearly run may cross New Year,
  "12-29..01-02");
- "closed" adds the days to the nation's bank holidays (offices shut between Christmas and New Year, a
  one-off closure); "open" removes a bank holiday the `holidays` package carries but the landlord does
  not observe. Weekends stay closed whatever is written.

Pure (no I/O), so the workflow's calendar applies it to the bank holidays it was handed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

LocalState = Literal["closed", "open"]

_DAY = re.compile(r"^(?:(\d{4})-)?(\d{2})-(\d{2})$")
HOW = ("write 'YYYY-MM-DD' (one day), 'MM-DD' (every year) or a run 'A..B' of either, "
       "e.g. '2026-12-29..2026-12-31' or '12-27..12-31'")


@dataclass(frozen=True)
class LocalDays:
    """One entry: a first and last day (year None: every year) and whether they are closed or open."""

    first: tuple[int | None, int, int]
    last: tuple[int | None, int, int]

    @classmethod
    def parse(cls, text: str) -> LocalDays:
        if len(text) > 32:
            raise ValueError(f"{text[:32]!r}... is not a day; {HOW}")
        parts = text.split("..")
        if len(parts) > 2:
            raise ValueError(f"{text!r} is not a day; {HOW}")
        ends = [_parse_day(part.strip(), text) for part in parts]
        first, last = ends[0], ends[-1]
        if (first[0] is None) != (last[0] is None):
            raise ValueError(f"{text!r}: give both ends with a year, or neither")
        if first[0] is not None and _as_date(first, 0) > _as_date(last, 0):
            raise ValueError(f"{text!r}: the run ends before it starts")
        return cls(first, last)

    def days_in(self, year: int) -> frozenset[date]:
        """The days of `year` this entry covers."""
        if self.first[0] is not None:
            start, end = _as_date(self.first, 0), _as_date(self.last, 0)
        else:
            start = _as_date(self.first, year)
            end = _as_date(self.last, year)
            if end < start:  # a yearly run across New Year: this year's tail and last year's run into it
                return _between(start, date(year, 12, 31)) | _between(date(year, 1, 1), end)
        return frozenset(d for d in _between(start, end) if d.year == year)


def _between(start: date, end: date) -> frozenset[date]:
    return frozenset(start + timedelta(days=n) for n in range((end - start).days + 1))


def _parse_day(part: str, text: str) -> tuple[int | None, int, int]:
    match = _DAY.match(part)
    if not match:
        raise ValueError(f"{text!r} is not a day; {HOW}")
    year = int(match.group(1)) if match.group(1) else None
    day = (year, int(match.group(2)), int(match.group(3)))
    try:
        _as_date(day, 2024)  # a leap year, so 02-29 is a day
    except ValueError:
        raise ValueError(f"{text!r}: {part!r} is not a day of the calendar") from None
    return day


def _as_date(day: tuple[int | None, int, int], year: int) -> date:
    y, month, dom = day
    wanted = y if y is not None else year
    if month == 2 and dom == 29 and y is None and not _leap(wanted):
        return date(wanted, 2, 28)  # a yearly 29 February falls on the 28th in other years
    return date(wanted, month, dom)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@lru_cache(maxsize=256)
def adjusted(bank_holidays: frozenset[date], local: tuple[tuple[str, LocalState], ...], year: int) -> frozenset[date]:
    """The nation's bank holidays of `year` with the landlord's closed days added and open days taken
    away (an "open" entry wins over a "closed" one for the same day: the landlord said it works)."""
    closed: set[date] = set()
    opened: set[date] = set()
    for text, state in local:
        (closed if state == "closed" else opened).update(LocalDays.parse(text).days_in(year))
    return frozenset((set(bank_holidays) | closed) - opened)
