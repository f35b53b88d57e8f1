"""Sending a command to a case, the one way every door (simulator, CLI, API) does it.

A refused command comes back as a reason, and is remembered in the case file's event record;
a command to a case whose workflow has finished gets the same answer the lifecycle gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.store import Store
from statemachine.commands import Actor
from workflows.case import CommandRequest

CLOSED_REASON = "the case is closed and accepts no more commands"


@dataclass(frozen=True)
class CommandResult:
    accepted: bool
    status: dict[str, Any] | None = None
    reason: str | None = None


async def send_command(
    handle: WorkflowHandle[Any, Any], command: str, args: dict[str, Any], actor: Actor,
    *, store: Store | None = None, at: datetime | None = None,
) -> CommandResult:
    try:
        status = await handle.execute_update(command, CommandRequest(args=args, actor=actor), result_type=dict)
        return CommandResult(True, status=status)
    except WorkflowUpdateFailedError as failed:
        cause = failed.cause
        reason = str(getattr(cause, "message", None) or failed)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND or not await _finished(handle):
            raise
        reason = CLOSED_REASON
    if store is not None and at is not None:
        store.record_rejection(handle.id, at, command, reason, actor.role)
    return CommandResult(False, reason=reason)


async def _finished(handle: WorkflowHandle[Any, Any]) -> bool:
    try:
        description = await handle.describe()
    except RPCError:
        return False
    return description.status not in (None, WorkflowExecutionStatus.RUNNING)
