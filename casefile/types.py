"""Column types shared by the case file's tables."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator
from sqlalchemy import DateTime, TypeDecorator

from policy.risk import VULNERABILITIES


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused by the case file")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: A language as the case file keeps it: an ISO 639 code (``cy``, ``pl``, ``fil``), optionally with a
#: region (``en-GB``). It chooses a letters folder when a letter is sent, so nothing else may pass: an
#: allowed value is still never used as a path, only matched against the folders that exist.
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Z]{2})?$"
_LANGUAGE = re.compile(LANGUAGE_PATTERN)


def check_language(value: str | None, field: str = "language") -> str | None:
    """Refuse anything but a language code (003 §9 adjustments: a language is a code, not a path)."""
    if value is None:
        return None
    if not isinstance(value, str) or not _LANGUAGE.fullmatch(value):
        raise ValueError(f"{field} must be a language code such as cy or en-GB")
    return value


def check_vulnerabilities(value: Any) -> list[str] | None:
    """Refuse anything but a list of known vulnerability categories (policy.risk.VULNERABILITIES); kept
    sorted and without repeats, and an empty list stored as NULL (none recorded)."""
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError("vulnerabilities must be a list of categories")
    unknown = sorted(set(value) - set(VULNERABILITIES))
    if unknown:
        raise ValueError(f"unknown vulnerability {unknown[0]!r}; known: {', '.join(VULNERABILITIES)}")
    return sorted(set(value)) or None


#: The earliest time any door accepts for something that happened: no landlord had a case before this.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
#: How far ahead of this server's clock a reported time may be (the sender's clock running fast).
FUTURE_SKEW = timedelta(minutes=5)
TIME_BOUNDS = (f"A time with its zone, not before {EARLIEST_TIME:%Y-%m-%d} and at most "
               f"{int(FUTURE_SKEW.total_seconds() // 60)} minutes ahead of the server's clock.")


def check_time(value: datetime, field: str) -> None:
    """A time something happened must say its zone and lie between 2000 and now (plus the skew)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field} needs a time zone, e.g. 2026-03-01T22:30:00+00:00")
    if value < EARLIEST_TIME:
        raise ValueError(f"{field} is before {EARLIEST_TIME:%Y-%m-%d}: not a time a case could have")
    if value > datetime.now(UTC) + FUTURE_SKEW:
        raise ValueError(f"{field} is in the future (more than {int(FUTURE_SKEW.total_seconds() // 60)} "
                         "minutes ahead of the server's clock)")


#: No one alive in a case was born before this; an earlier date of birth is a typing slip.
EARLIEST_BIRTH = date(1900, 1, 1)


def check_date_of_birth(value: date | str | None, field: str = "date_of_birth") -> date | None:
    """A date of birth (a date, or YYYY-MM-DD) between 1900 and today: matching compares it, so a
    slip would either hide a person's other records or refuse a merge that is right."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{field} must be a date written YYYY-MM-DD") from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"{field} must be a date written YYYY-MM-DD")
    if not EARLIEST_BIRTH <= value <= date.today():
        raise ValueError(f"{field} must lie between {EARLIEST_BIRTH:%Y-%m-%d} and today")
    return value


#: A date of birth as every door takes it (the public form, staff intake, a person's record): one rule,
#: checked by check_date_of_birth.
DateOfBirth = Annotated[date | None, AfterValidator(check_date_of_birth)]
