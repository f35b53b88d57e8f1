"""Sending a command to a case, the one way every door (simulator, CLI, API) does it.

A refused command comes back as a reason, and is remembered in the case file's event record;
a command to a case whose workflow has finished gets the same answer the lifecycle gives.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from casefile.audit import act_as
from casefile.db import Store
from casefile.models import CaseNoteRow
from policy.calendar import bank_holidays
from policy.model import Profile
from statemachine.catalogue import COMMANDS
from statemachine.commands import Actor, ReportArgs
from statemachine.views import CaseStatus
from workflows.case import TASK_QUEUE, CaseInput, CaseWorkflow
from workflows.messages import CommandRequest

CLOSED_REASON = "the case is closed and accepts no more commands"


def holidays_around(nation: str, when: datetime) -> dict[int, list[date]]:
    """The bank holidays a new case needs first: last year to two years ahead."""
    return {year: sorted(bank_holidays(nation, year)) for year in range(when.year - 1, when.year + 3)}


async def start_case(
    client: Client, reference: str, profile: Profile, report: ReportArgs, *,
    task_queue: str = TASK_QUEUE, received: datetime | None = None, clock_shift_seconds: float = 0.0,
    search_attributes: bool = True,
) -> WorkflowHandle[Any, Any]:
    """Open a case: one workflow per report, its id the case reference, the profile snapshotted."""
    data = CaseInput(
        reference=reference, profile=profile, report=report, clock_shift_seconds=clock_shift_seconds,
        search_attributes=search_attributes,
        holidays=holidays_around(profile.calendar.nation, received or datetime.now(UTC)),
    )
    return await client.start_workflow(CaseWorkflow.run, data, id=reference, task_queue=task_queue)


@dataclass(frozen=True)
class CommandResult:
    accepted: bool
    status: CaseStatus | None = None
    reason: str | None = None


def _split_free_text(command: str, args: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, str, str] | None]:
    """Take a command's free text out of its arguments, leaving a reference in its place."""
    spec = COMMANDS.get(command)
    field = spec.free_text if spec is not None else None
    if field is None or not isinstance(args.get(field), str):
        return args, None
    ref = f"N-{uuid.uuid4().hex[:16]}"
    rest = {k: v for k, v in args.items() if k != field}
    rest[f"{field}_ref"] = ref
    return rest, (ref, field, str(args[field]))


async def send_command(
    handle: WorkflowHandle[Any, Any], command: str, args: dict[str, Any], actor: Actor,
    *, store: Store | None = None, at: datetime | None = None,
) -> CommandResult:
    """Issue a command. With a store, free text is kept in the case file (written only once the
    command is accepted) and refusals are recorded on the case's timeline."""
    sent, text = _split_free_text(command, args) if store is not None else (args, None)
    try:
        # The Update's name is the command (a dynamic Update): one typed request in, the case's status out.
        status = await handle.execute_update(command, CommandRequest(args=sent, actor=actor), result_type=CaseStatus)
        if text is not None and store is not None:
            ref, field, body = text
            with store.session() as session, session.begin():
                act_as(session, actor.role, actor.id)
                session.add(CaseNoteRow(ref=ref, case_ref=handle.id, at=at or datetime.now(UTC), by=actor.id,
                                        command=command, field=field, text=body))
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
