"""MonthlyReportWorkflow: the monthly performance report, started by its Schedule (issue 14 item 4).

The Schedule (MONTHLY_SCHEDULE_ID) fires at 07:00 in the landlord's time zone on days 1 to 7 of each
month; the activity sends only on the first working day and once a month (activities/monthly.py), so the
workflow holds no calendar and no clock of its own: it passes on the time the Schedule meant it to run
(the `TemporalScheduledStartTime` search attribute, set on every scheduled or backfilled run), else its
start time. `asb up` and every worker create the Schedule idempotently (worker.py `start_up`); the
deployment notes say how to create it by hand (deploy/README.md).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
)
from temporalio.common import RetryPolicy, SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from activities.monthly import MonthlyActivities, MonthlyRequest, MonthlyResult

MONTHLY_SCHEDULE_ID = "asb-monthly-report"
SCHEDULED_AT = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


@workflow.defn(name="MonthlyReportWorkflow")
class MonthlyReportWorkflow:
    @workflow.run
    async def run(self, request: MonthlyRequest) -> MonthlyResult:
        scheduled = workflow.info().typed_search_attributes.get(SCHEDULED_AT)
        if request.scheduled_for is None:
            request = request.model_copy(update={"scheduled_for": scheduled or workflow.now()})
        return await workflow.execute_activity_method(
            MonthlyActivities.monthly_report, request, start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=10), maximum_attempts=20),
        )


def monthly_schedule(profile: str, task_queue: str, timezone: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            MonthlyReportWorkflow.run, MonthlyRequest(profile=profile), id=f"{MONTHLY_SCHEDULE_ID}-{profile}",
            task_queue=task_queue, execution_timeout=timedelta(hours=6),
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(day_of_month=[ScheduleRange(1, 7)], hour=[ScheduleRange(7)],
                                            minute=[ScheduleRange(0)], second=[ScheduleRange(0)],
                                            comment="07:00 on days 1-7; the activity sends on the first working day")],
            time_zone_name=timezone,
        ),
        # A run missed while Temporal was down is made when it is back, within a day; never two at once.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
    )


def schedule_id(profile: str) -> str:
    return f"{MONTHLY_SCHEDULE_ID}-{profile}"


async def ensure_monthly_schedule(client: Client, task_queue: str, profile: str, timezone: str) -> bool:
    """Create the monthly report's Schedule for `profile` unless it exists; True if this call created it."""
    try:
        await client.create_schedule(schedule_id(profile), monthly_schedule(profile, task_queue, timezone))
    except ScheduleAlreadyRunningError:
        return False
    return True
