"""What the case and task workflows take and give: one typed model per update, signal and query.

The JSON of each is the shape these messages have always had, so recorded histories still replay and
scripts using the `temporal` CLI keep working (README "Working a case with the Temporal CLI").
Ids, roles and categories only: nothing personal ever enters Temporal history.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from statemachine.commands import Actor


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------- to a case


class CommandRequest(_Message):
    """A command Update's payload (the Update's name is the command): its arguments and who issues it."""

    args: dict[str, Any] = {}
    actor: Actor


class TaskEscalated(_Message):
    """Signal `task_escalated`: a task was not decided in time and went up to `role`."""

    task: str
    kind: str
    role: str
    approval: str | None = None


class TaskReminder(_Message):
    """Signal `task_reminder`: one working day is left on a task."""

    task: str
    kind: str
    role: str


class TaskBreached(_Message):
    """Signal `task_breached`: the task reached the top of its chain undecided."""

    task: str
    kind: str


class TaskResolved(_Message):
    """Signal `task_resolved`: someone resolved a (non-approval) task on the task itself."""

    task: str
    kind: str
    decision: str
    by: str


# ---------------------------------------------------------------------------------- to a task


class ClaimRequest(_Message):
    actor: Actor
    #: The case's officer as the case file has it, given by the door (clients.taskclient): an officer task is
    #: theirs. None (an older caller) leaves that rule out; the claim and the role rules still hold.
    case_officer: str | None = None


class ResolveRequest(_Message):
    actor: Actor
    decision: str = "done"
    case_officer: str | None = None


class CaseDecided(BaseModel):
    """Signal `case_decided`: the case decided the approval this task stood for, or closed."""

    decision: str
    by: str


#: The task's signal, sent by name: the case workflow may not import the task workflow's module,
#: which imports the case's (the task signals its case by reference).
CASE_DECIDED = "case_decided"
