"""Starting a task's workflow from the case, as an activity.

Tasks are independent workflows rather than children: a case continues-as-new and closes on its
own schedule while its tasks run to their own end, and a retried start finds the task already
there (its id is the task's id) and does nothing.
"""

from __future__ import annotations

import contextlib

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.contracts import TaskInput
from activities.failures import scrubbed


class TaskActivities:
    def __init__(self, client: Client) -> None:
        self.client = client

    @activity.defn(name="start_task")
    @scrubbed
    async def start_task(self, data: TaskInput) -> str:
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.client.start_workflow("TaskWorkflow", data, id=data.task_id,
                                             task_queue=activity.info().task_queue)
        return data.task_id
