"""The monthly performance report's activity: decide whether today is the day, produce it, send it.

The Schedule (workflows/monthly.py) fires at 07:00 on each of the first seven days of the month, in the
landlord's time zone; the first working day is always among them (a Saturday New Year's Day in Scotland
gives 5 January). This activity sends only on the first working day of the month by the profile's
calendar (bank holidays of its nation; the holidays package, read here and never in a workflow), and only
once a month and address (performance/monthly.py `send`), so the other days' runs do nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from casefile.db import Store
from letters.config import load_settings
from performance.monthly import first_working_day, previous_month, produce, send
from policy.calendar import WorkingCalendar
from profiles import load


class MonthlyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str
    #: The month to report (YYYY-MM); None: the month before the day it runs.
    month: str | None = None
    #: When the Schedule meant it to run (its nominal time; a backfill's too): the day it is about.
    scheduled_for: datetime | None = None
    #: Send only on the first working day of the month (the Schedule's runs); a re-run sends whenever.
    first_working_day_only: bool = True


class MonthlyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: str  # sent, skipped
    month: str | None = None
    reason: str | None = None
    files: list[str] = []
    sent: int = 0
    already_sent: int = 0


class MonthlyActivities:
    def __init__(self, store: Store, outbox: Path) -> None:
        self.store = store
        self.outbox = outbox

    @activity.defn(name="monthly_report")
    def monthly_report(self, request: MonthlyRequest) -> MonthlyResult:
        profile = load(request.profile)
        calendar = WorkingCalendar.from_rules(profile.calendar)
        when = request.scheduled_for or datetime.now(UTC)
        today = when.astimezone(calendar.tz).date()
        if request.first_working_day_only and today != first_working_day(calendar, today.year, today.month):
            return MonthlyResult(status="skipped", reason=f"{today.isoformat()} is not the first working day "
                                 "of its month")
        month = request.month or previous_month(today)
        settings = load_settings(profile.name)
        report = produce(self.store, profile, month, settings.landlord.name)
        outcome = send(self.store, report, settings, self.outbox)
        return MonthlyResult(status="sent", month=month, files=list(outcome.files), sent=len(outcome.sent),
                             already_sent=len(outcome.already))
