"""The task inbox: approvals and follow-ups, claimed and decided."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import DECIDERS, STAFF, Caller, TaskId, Work, allow, errors
from api.schemas import REF_PATTERN, DecideIn, DecideOut, TaskList, TaskOut
from policy.model import Role

router = APIRouter(tags=["tasks"])


@router.get("/tasks", dependencies=[allow(*STAFF)], operation_id="listTasks", response_model=TaskList,
            responses=errors(401, 403, 422), summary="The task inbox")
async def list_tasks(
    who: Caller,
    service: Work,
    role: Annotated[Role | None, Query(description="tasks for this role")] = None,
    status: Annotated[str | None, Query(pattern=r"^[a-z_]{1,16}$", description="default open")] = "open",
    case: Annotated[str | None, Query(pattern=REF_PATTERN, max_length=32)] = None,
    assignee: Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00]+$")] = None,
) -> TaskList:
    """Tasks on cases the caller may see, soonest due first."""
    return TaskList(tasks=await service.tasks(who, role=role, status=status, case_ref=case, assignee=assignee))


@router.post("/tasks/{task_id:path}/claim", dependencies=[allow(*DECIDERS)], operation_id="claimTask",
             response_model=TaskOut, responses=errors(401, 403, 404, 409, 422), summary="Take a task")
async def claim(task_id: TaskId, who: Caller, service: Work) -> TaskOut:
    return await service.claim(who, task_id)


@router.post("/tasks/{task_id:path}/decide", dependencies=[allow(*DECIDERS)], operation_id="decideTask",
             response_model=DecideOut, responses=errors(401, 403, 404, 409, 422, 504), summary="Decide a task")
async def decide(task_id: TaskId, body: DecideIn, who: Caller, service: Work) -> DecideOut:
    """Approval tasks are decided by the case's own command, so nobody approves their own request and
    solicitor-level remedies need a senior manager (409 otherwise)."""
    return await service.decide(who, task_id, body.decision, body.reason)
