"""One shape per concept: a case's status and summary, and a task's state, each defined once.

Every boundary reuses these, adding fields by inheritance where it knows more:

- `CaseHeadline`: what every view of a case says (its profile, stage, outcome, risk, category,
  officer and closure reason);
  - `CaseStatus`: the workflow's own view (its `status` query, the answer to every command, the
    API's `status`): the deadlines, what is overdue, pending approvals and allowed commands;
  - `CaseRecord`: what the case file's row holds about it (opened, closed, next deadline, overdue);
    the workflow's projection into the row (activities.contracts.Projection) and the API's case
    summary (api.schemas.CaseSummary) extend it.
- `TaskState`: who a task is for and where it stands; the task workflow's status
  (workflows.tasks.TaskStatus), its row update (activities.contracts.TaskUpdate) and the inbox's
  view (clients.taskclient.TaskView) extend it.

Ids, categories and moments only, like the facts they come from.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from statemachine.facts import PendingApproval


class CaseHeadline(BaseModel):
    profile: str
    stage: str
    outcome: str
    risk: str | None = None
    category: str
    officer: str | None = None
    closure_reason: str | None = None


class TargetStanding(BaseModel):
    """A case's age against the landlord's resolution target (issue 16 item 4): a target, not a deadline,
    so it is shown and reported, never breached."""

    #: The target as the profile writes it ("45 working days") and the share it promises, in percent.
    target: str
    share_percent: int
    #: When the case's age reaches the target.
    due: datetime
    #: Working days from the day the report counts as received to today, or to the day it closed.
    age_working_days: int
    resolved: bool
    #: Resolved within the target, or (open) not yet past it.
    within: bool


class CaseStatus(CaseHeadline):
    """The case workflow's own view: where the case is, what is due, and what may be done next."""

    reference: str
    deadlines: dict[str, datetime] = {}
    overdue: list[str] = []
    pending_approvals: list[PendingApproval] = []
    allowed: list[str] = []
    #: The landlord's own priority of the case (profile `priorities`), when the profile lists them.
    priority: str | None = None
    resolution_target: TargetStanding | None = None


class CaseRecord(CaseHeadline):
    """What the case file's row says about the case, kept current by the workflow."""

    opened_at: datetime
    closed_at: datetime | None = None
    next_deadline: datetime | None = None
    overdue: bool = False


class TaskState(BaseModel):
    """Who a task is for now, who holds it, when it is due and how it was decided."""

    role: str
    status: str
    assignee: str | None = None
    due: datetime | None = None
    decision: str | None = None
    decided_by: str | None = None
