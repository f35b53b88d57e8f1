"""Bank holidays for the workflow, fetched as an activity.

The holidays package reads translation files, which workflow code must not do; fetched here, the
dates are recorded in history, so a replay sees exactly the dates the case was run with, and a
running case picks up a newly announced bank holiday for any year it has not fetched yet.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from activities.failures import scrubbed
from policy.calendar import bank_holidays


class HolidayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    nation: str
    years: list[int]


@activity.defn(name="bank_holidays")
@scrubbed
def fetch_bank_holidays(request: HolidayRequest) -> dict[int, list[date]]:
    return {year: sorted(bank_holidays(request.nation, year)) for year in request.years}
