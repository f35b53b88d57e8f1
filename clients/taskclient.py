"""Manager and officer tasks, the one way every door (API, CLI) lists, claims and decides them.

A task is a TaskWorkflow (workflows/tasks.py) with the same id as its row in the case file. Deciding
an approval task is the case's own command (approve_closure, reject_legal_action, ...), so the
case's rules decide who may approve; the case then tells the task it is done. Other tasks are
resolved on the task itself, which tells the case.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import field_serializer
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.workflow import UpdateMethodMultiParam

from casefile.audit import act_as
from casefile.db import Store
from casefile.models import TaskRow
from clients.caseclient import send_command
from statemachine.catalogue import approval_commands
from statemachine.commands import Actor
from statemachine.views import TaskState
from workflows.messages import ClaimRequest, ResolveRequest
from workflows.tasks import TaskStatus, TaskWorkflow, claimed_by_another

Decision = Literal["approve", "reject", "done"]
_Request = TypeVar("_Request", ClaimRequest, ResolveRequest)

#: Approval tasks are decided by the case command of the same meaning (the specs' `decides`).
APPROVAL_COMMANDS: dict[str, dict[str, str]] = approval_commands()


class TaskRefused(Exception):
    """The task cannot be claimed or decided by this person now; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TaskNotFound(LookupError):
    pass


class TaskView(TaskState):
    """A task as people see it (the inbox): the API returns exactly this."""

    id: str
    case_ref: str
    kind: str
    data: dict[str, Any]

    @field_serializer("due")
    def _due_as_stored(self, due: datetime | None) -> str | None:
        # The inbox has always shown the due time as the case file holds it (isoformat, with its offset).
        return due.isoformat() if due else None


def _view(row: TaskRow) -> TaskView:
    return TaskView(id=row.key, case_ref=row.case_ref, kind=row.kind, role=row.role, status=row.status,
                    assignee=row.assignee, due=row.due, decision=row.decision, decided_by=row.decided_by,
                    data=dict(row.data or {}))


def list_tasks(
    session: Session, *, role: str | None = None, status: str | None = "open", case_ref: str | None = None,
    assignee: str | None = None,
) -> list[TaskView]:
    query = select(TaskRow).order_by(TaskRow.due.is_(None), TaskRow.due, TaskRow.id)
    if role:
        query = query.where(TaskRow.role == role)
    if status:
        query = query.where(TaskRow.status == status)
    if case_ref:
        query = query.where(TaskRow.case_ref == case_ref)
    if assignee:
        query = query.where(TaskRow.assignee == assignee)
    return [_view(row) for row in session.scalars(query).all()]


def get_task(session: Session, task_id: str) -> TaskView:
    row = session.scalars(select(TaskRow).where(TaskRow.key == task_id)).first()
    if row is None:
        raise TaskNotFound(f"no task {task_id}")
    return _view(row)


async def _task_update(
    client: Client, task_id: str, update: UpdateMethodMultiParam[[TaskWorkflow, _Request], TaskStatus],
    request: _Request,
) -> TaskStatus:
    handle = client.get_workflow_handle_for(TaskWorkflow.run, task_id)
    try:
        return await handle.execute_update(update, request)
    except WorkflowUpdateFailedError as failed:
        raise TaskRefused(str(getattr(failed.cause, "message", None) or failed)) from failed
    except RPCError as error:
        raise TaskRefused(f"the task is no longer open ({error.message})") from error


async def claim_task(client: Client, task_id: str, actor: Actor, *, case_officer: str | None) -> TaskStatus:
    """Take a task: it is assigned to this person. The task judges (workflows.tasks.refusal): an officer
    task is `case_officer`'s, a claimed task its holder's, otherwise someone of at least its role."""
    return await _task_update(client, task_id, TaskWorkflow.claim, ClaimRequest(actor=actor, case_officer=case_officer))


async def decide_task(
    client: Client, store: Store, task: TaskView, actor: Actor, decision: Decision, reason: str | None = None,
    *, case_officer: str | None,
) -> dict[str, Any]:
    """Decide a task with a reason. Approval tasks go through the case's command (its guards decide who
    may approve, and nobody approves their own request) once no one else holds the task's claim; other
    tasks are resolved on the task, which applies the whole rule (workflows.tasks.refusal).
    `case_officer` is the case's officer as the case file has it (an approval does not need it)."""
    commands = APPROVAL_COMMANDS.get(task.kind)
    if commands is not None:
        if decision not in commands:
            raise TaskRefused(f"an approval task is decided with approve or reject, not {decision}")
        refused = claimed_by_another(task.assignee, actor)  # the role is the case's guard to judge
        if refused:
            raise TaskRefused(refused)
        args = {"note": reason} if reason else {}
        result = await send_command(client.get_workflow_handle(task.case_ref), commands[decision], args, actor,
                                    store=store, at=datetime.now(UTC))
        if not result.accepted:
            raise TaskRefused(result.reason or "refused")
        return {"task": task.id, "decision": decision,
                "case": result.status.model_dump(mode="json") if result.status else None}
    if decision != "done":
        raise TaskRefused(f"a {task.kind} task is resolved with done, not {decision}")
    resolved = await _task_update(client, task.id, TaskWorkflow.resolve,
                                  ResolveRequest(actor=actor, decision=decision, case_officer=case_officer))
    if reason:  # free text stays in the case file, never in the task's history
        with store.session() as session, session.begin():
            act_as(session, actor.role, actor.id)
            row = session.scalars(select(TaskRow).where(TaskRow.key == task.id)).one()
            row.reason = reason
    return resolved.model_dump(mode="json")
