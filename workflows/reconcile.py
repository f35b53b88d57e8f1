"""ReconcileWorkflow: the Schedule's action, one `reconcile` activity (activities/reconcile.py).

The Schedule (RECONCILE_SCHEDULE_ID, every minute, overlapping runs skipped) is created idempotently
by each worker at start-up and by `asb up`, so nothing half-done waits longer than a minute or two.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

with workflow.unsafe.imports_passed_through():
    from activities.reconcile import ReconcileActivities, ReconcileRequest, ReconcileResult

RECONCILE_SCHEDULE_ID = "asb-reconcile"
RECONCILE_EVERY = timedelta(minutes=1)


@workflow.defn(name="ReconcileWorkflow")
class ReconcileWorkflow:
    @workflow.run
    async def run(self, request: ReconcileRequest) -> ReconcileResult:
        return await workflow.execute_activity_method(
            ReconcileActivities.reconcile, request, start_to_close_timeout=timedelta(minutes=5),
        )


async def ensure_reconcile_schedule(client: Client, task_queue: str, every: timedelta = RECONCILE_EVERY) -> bool:
    """Create the reconciler's Schedule unless it exists; True if this call created it."""
    try:
        await client.create_schedule(
            RECONCILE_SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    ReconcileWorkflow.run, ReconcileRequest(), id=RECONCILE_SCHEDULE_ID, task_queue=task_queue,
                    execution_timeout=timedelta(minutes=10),
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        return False
    return True
