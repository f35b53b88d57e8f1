"""DigestWorkflow: each member of staff's deadlines for the next working days, sent every morning.

Issue 14 item 1: "Each officer gets a daily digest of the deadlines falling in the next five working
days." A Temporal Schedule (DIGEST_SCHEDULE_ID, every day at DIGEST_AT London time) starts this workflow;
its one activity (activities/staff.py `send_staff_digests`) works out, for each landlord, whether the
day is a working day of its nation's calendar and what falls due, and sends each person's digest once
(its key is the landlord, the person and the day), so a run retried or started twice sends nothing twice.
The Schedule is created idempotently by each worker at start-up and so by `asb up`.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict
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

with workflow.unsafe.imports_passed_through():
    from activities.staff import DigestRequest, DigestResult, StaffActivities

DIGEST_SCHEDULE_ID = "asb-staff-digest"
#: Before the working day begins, in the zone below (the shipped profiles are all Europe/London).
DIGEST_HOUR = 7
DIGEST_ZONE = "Europe/London"


class DigestRun(BaseModel):
    """A run's input: the day the digest is for (a re-run for a given day); None: today."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    day: date | None = None


@workflow.defn(name="DigestWorkflow")
class DigestWorkflow:
    @workflow.run
    async def run(self, run: DigestRun) -> DigestResult:
        return await workflow.execute_activity_method(
            StaffActivities.send_digests, DigestRequest(at=workflow.now(), day=run.day),
            start_to_close_timeout=timedelta(minutes=10),
        )


async def ensure_digest_schedule(client: Client, task_queue: str) -> bool:
    """Create the digest's Schedule unless it exists; True if this call created it."""
    try:
        await client.create_schedule(
            DIGEST_SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    DigestWorkflow.run, DigestRun(), id=DIGEST_SCHEDULE_ID, task_queue=task_queue,
                    execution_timeout=timedelta(hours=6),
                ),
                spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(DIGEST_HOUR)],
                                                                  minute=[ScheduleRange(0)],
                                                                  second=[ScheduleRange(0)])],
                                  time_zone_name=DIGEST_ZONE),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        return False
    return True
