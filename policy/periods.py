"""Lengths of time as a service standard writes them: "4 weeks", "2 months", "10 working days".

Policies mix calendar periods and working days; keeping the unit the policy used (rather than
converting to days) means "2 months" lands on the same day of the month, as an officer expects.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

Unit = Literal["days", "weeks", "months", "years", "working_days"]

_PATTERN = re.compile(r"^\s*(\d+)\s+(working\s+days?|days?|weeks?|months?|years?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    """A count of calendar or working units."""

    count: int
    unit: Unit

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PATTERN.match(text)
        if not match:
            raise ValueError(
                f"{text!r} is not a period; write e.g. '28 days', '4 weeks', '2 months', '1 year' "
                "or '10 working days'"
            )
        count = int(match.group(1))
        word = re.sub(r"\s+", "_", match.group(2).lower())
        unit = word if word.endswith("s") else word + "s"
        return cls(count, unit)  # type: ignore[arg-type]

    def __str__(self) -> str:
        name = self.unit.replace("_", " ")
        return f"{self.count} {name[:-1] if self.count == 1 else name}"

    @property
    def longest_days(self) -> int:
        """The most calendar days this period can span (for comparing frequencies)."""
        per = {"days": 1, "weeks": 7, "months": 31, "years": 366, "working_days": 1}[self.unit]
        if self.unit == "working_days":
            # Five working days can span a week plus a four-day Easter or Christmas run.
            return self.count * 7 // 5 + 4
        return self.count * per

    def add_calendar(self, when: date | datetime) -> Any:
        """Add a calendar period; months and years clamp to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
        if self.unit == "working_days":
            raise ValueError("working days need a calendar: use WorkingCalendar.add_period")
        from datetime import timedelta

        if self.unit == "days":
            return when + timedelta(days=self.count)
        if self.unit == "weeks":
            return when + timedelta(weeks=self.count)
        months = self.count * (12 if self.unit == "years" else 1)
        return add_months(when, months)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value: Any) -> Period:
            if isinstance(value, Period):
                return value
            if isinstance(value, str):
                return cls.parse(value)
            raise ValueError("a period must be text such as '28 days' or '2 months'")

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


def add_months(when: Any, months: int) -> Any:
    month_index = when.month - 1 + months
    year = when.year + month_index // 12
    month = month_index % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)
