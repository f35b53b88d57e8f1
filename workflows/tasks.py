"""TaskWorkflow: one per task for a manager or officer, with its due date, a reminder and escalation.

The case decides what a task is for and who may decide it; the task keeps its clock. When its time
runs out the task moves up the chain (officer, manager, senior manager) and tells the case, so the
case's guards then require the senior role; at the top it is a breach. A task ends when the case
says it was decided (approvals are the case's own commands) or when it is resolved here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.case import CaseWorkflow

with workflow.unsafe.imports_passed_through():
    from activities.case_file import CaseFileActivities
    from activities.contracts import TaskInput, TaskUpdate
    from activities.staff import StaffActivities, TaskNotice
    from policy.model import TaskEvent
    from statemachine.commands import ROLE_RANK, Actor
    from statemachine.deadlines import calendar_for_rules
    from statemachine.patches import TASK_NOTICES, answered_on_the_case
    from statemachine.views import TaskState
    from workflows.messages import (
        CaseDecided,
        ClaimRequest,
        ResolveRequest,
        TaskBreached,
        TaskEscalated,
        TaskReminder,
        TaskResolved,
    )

ACTIVITY_TIMEOUT = timedelta(minutes=2)
#: As letters' deliveries (workflows/case.py DELIVERY_RETRY): back off to one attempt every 30 minutes; the
#: activity gives up after the delivery settings' `give_up_after`.
NOTICE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=30), backoff_coefficient=2.0,
                           maximum_interval=timedelta(minutes=30))
_Signal = TypeVar("_Signal", TaskEscalated, TaskReminder, TaskBreached, TaskResolved)


class TaskStatus(TaskState):
    """The task workflow's own view: its query, and the answer to a claim or a resolve."""

    task_id: str
    case_ref: str
    kind: str
    reminded: bool


def claimed_by_another(assignee: str | None, actor: Actor) -> str | None:
    """Once claimed, a task is its holder's alone (escalation clears the claim for the next role)."""
    if assignee is not None and actor.id != assignee:
        return f"the task is claimed by {assignee}; only they may act on it"
    return None


def refusal(*, status: str, role: str, assignee: str | None, actor: Actor, case_officer: str | None,
            not_by: tuple[str, ...] | list[str] = ()) -> str | None:
    """Who may claim or decide a task now (issue 9 item 7), the one statement of the rule, used by the task
    workflow's validators (an approval is decided on the case, whose guards judge the role; clients.taskclient
    applies `claimed_by_another` to it first):

    - never someone the task names as not theirs (`not_by`): the manager who approved a case's closure does
      not review it (004 §8 "an independent ASB expert"; issue 11 item 10);
    - once claimed, only the holder of the claim (escalation clears the claim for the next role);
    - unclaimed, someone of at least the task's current role;
    - and an officer task that has not gone up the chain is the case's own officer's.

    A manager's approval then still meets the case's own guards (nobody approves their own request, an
    escalated approval needs the senior role). Returns the reason to refuse, or None."""
    if status != "open":
        return f"the task is {status}"
    if actor.id in not_by:
        return (f"{actor.id} approved the closure of the case this review is about: an ASB Case Review is "
                "independent, another manager decides it")
    held = claimed_by_another(assignee, actor)
    if held:
        return held
    if ROLE_RANK.get(actor.role, -1) < ROLE_RANK[role]:
        return f"this task is for a {role}"
    if role == "officer" and assignee is None and case_officer and actor.id != case_officer:
        return f"this task is for the case's officer, {case_officer}"
    return None


@workflow.defn(name="TaskWorkflow")
class TaskWorkflow:
    @workflow.init
    def __init__(self, data: TaskInput) -> None:
        self._in = data
        self._shift = timedelta(seconds=data.clock_shift_seconds)
        self._calendar = calendar_for_rules(data.calendar, {int(y): frozenset(d) for y, d in data.holidays.items()})
        self._role = data.role
        self._level_since = data.created_at
        self._status = "open"
        self._assignee: str | None = None
        self._reminded = False
        self._breached = False
        self._decision: str | None = None
        self._decided_by: str | None = None
        self._changed = False
        self._version = 0
        self._tell_staff = False
        self._notices: list[workflow.ActivityHandle[str]] = []

    def _now(self) -> datetime:
        return (workflow.now() + self._shift).replace(microsecond=0)

    def _due(self) -> datetime:
        return self._calendar.add_period(self._level_since, self._in.decide_within)

    def _reminder_at(self) -> datetime:
        """The end of the last working day before the due day: "one working day left". A task due
        within a day gets no reminder (its reminder time is before it began)."""
        due = self._due().astimezone(self._calendar.tz)
        return self._calendar.end_of(self._calendar.previous_working_day(due.date()))

    @workflow.run
    async def run(self, data: TaskInput) -> str:
        # Asked once, at the start: a task begun before this change replays (and runs on) silent.
        self._tell_staff = workflow.patched(TASK_NOTICES)
        await self._save()
        self._notify("created")
        while self._status == "open":
            now = self._now()
            due = self._due()
            if not self._breached and now >= due:
                if self._in.prompt and self._role == self._in.chain[-1]:
                    # A prompt is not a breach: it waits for its answer (issue 11 item 14).
                    await workflow.wait_condition(lambda: self._status != "open")
                    break
                await self._escalate()
                continue
            if not self._reminded and not self._breached and now >= self._reminder_at():
                self._reminded = True
                if self._reminder_at() <= self._level_since:
                    continue  # due within a working day: no reminder to give
                await self._tell_case(CaseWorkflow.task_reminder,
                                      TaskReminder(task=self._in.task_id, kind=self._in.kind, role=self._role))
                await self._save()
                self._notify("reminded")
                continue
            self._changed = False
            if self._breached:
                await workflow.wait_condition(lambda: self._status != "open")
                break
            wake = due if self._reminded else self._reminder_at()
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._changed or self._status != "open",
                                              timeout=max((wake - now).total_seconds(), 1.0))
        await workflow.wait_condition(workflow.all_handlers_finished)
        for notice in self._notices:  # nothing lost: a notice still being retried is seen through
            with contextlib.suppress(ActivityError):
                await notice
        return self._decision or self._status

    async def _escalate(self) -> None:
        higher = [r for r in self._in.chain if ROLE_RANK[r] > ROLE_RANK[self._role]]
        if not higher:
            self._breached = True
            await self._tell_case(CaseWorkflow.task_breached, TaskBreached(task=self._in.task_id, kind=self._in.kind))
            await self._save()
            self._notify("breached")
            return
        self._role = higher[0]
        self._level_since = self._now()
        self._reminded = False
        self._assignee = None
        await self._tell_case(CaseWorkflow.task_escalated, TaskEscalated(
            task=self._in.task_id, kind=self._in.kind, role=self._role, approval=self._in.approval_id))
        await self._save()
        self._notify("escalated")

    def _notify(self, event: TaskEvent) -> None:
        """Tell staff of this event (activities/staff.py decides who, from the landlord's profile). Started,
        not awaited: a mail server that is down must not hold up the task's own clock; the run waits for its
        notices before it ends. Ids, a kind, a role and moments only go into history."""
        if not self._tell_staff:
            return
        notice = TaskNotice(task_id=self._in.task_id, case_ref=self._in.case_ref, kind=self._in.kind,
                            event=event, role=self._role, assignee=self._assignee,
                            due=None if self._breached else self._due(), at=self._now())
        self._notices.append(workflow.start_activity_method(
            StaffActivities.notify_staff, notice, start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=NOTICE_RETRY))

    async def _tell_case(self, signal: Callable[[CaseWorkflow, _Signal], Awaitable[None]], payload: _Signal) -> None:
        """Tell the case; if it has just closed (a timer here and its closure at the same moment), there
        is nobody left to tell, and the case's closure is already cancelling this task."""
        try:
            await workflow.get_external_workflow_handle_for(CaseWorkflow.run, self._in.case_ref).signal(signal, payload)
        except Exception as exc:  # the external workflow is gone: a fact, not a fault
            workflow.logger.info("case %s not told of %s: %s", self._in.case_ref, signal, exc)

    async def _save(self) -> None:
        self._version += 1
        await workflow.execute_activity_method(
            CaseFileActivities.update_task,
            TaskUpdate(key=self._in.task_id, version=self._version, role=self._role, status=self._status,
                       assignee=self._assignee, due=None if self._breached else self._due(),
                       decision=self._decision, decided_by=self._decided_by,
                       decided_at=self._now() if self._decision else None, escalated=self._role != self._in.role,
                       reminded=self._reminded, breached=self._breached),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )

    # ------------------------------------------------------------------ people

    def _may_act(self, actor: Actor, case_officer: str | None) -> str | None:
        """Validators only: a refused Update never enters history and validators are not run on replay, so
        the stricter rule needs no workflow.patched (and patched() may not be called in a validator)."""
        return refusal(status=self._status, role=self._role, assignee=self._assignee, actor=actor,
                       case_officer=case_officer, not_by=self._in.not_by)

    @workflow.update
    async def claim(self, request: ClaimRequest) -> TaskStatus:
        self._assignee = request.actor.id
        self._changed = True
        await self._save()
        return self.status()

    @claim.validator
    def _validate_claim(self, request: ClaimRequest) -> None:
        reason = self._may_act(request.actor, request.case_officer)
        if reason:
            raise ApplicationError(reason, type="TaskRefused", non_retryable=True)

    @workflow.update
    async def resolve(self, request: ResolveRequest) -> TaskStatus:
        self._status = "done"
        self._decision = request.decision
        self._decided_by = request.actor.id
        await self._save()
        await self._tell_case(CaseWorkflow.task_resolved, TaskResolved(
            task=self._in.task_id, kind=self._in.kind, decision=request.decision, by=request.actor.id))
        return self.status()

    @resolve.validator
    def _validate_resolve(self, request: ResolveRequest) -> None:
        reason = self._may_act(request.actor, request.case_officer)
        if not reason and self._in.approval_id is not None:
            # Tasks answered by a case command (an allocation by assign_officer, ...) carry their kind as
            # their approval id (statemachine/patches.py ANSWERED_ON_THE_CASE).
            reason = (f"this {self._in.kind} task is answered on the case, by its command"
                      if answered_on_the_case(self._in.approval_id)
                      else "an approval is decided by approving or rejecting it on the case")
        if not reason and request.decision != "done":
            reason = "resolve a task with done"
        if reason:
            raise ApplicationError(reason, type="TaskRefused", non_retryable=True)

    @workflow.signal
    async def case_decided(self, decided: CaseDecided) -> None:
        """The case decided this approval (or closed, making it moot)."""
        if self._status != "open":
            return
        self._status = "done" if decided.decision != "cancelled" else "cancelled"
        self._decision = decided.decision
        self._decided_by = decided.by
        self._changed = True
        await self._save()

    @workflow.query
    def status(self) -> TaskStatus:
        return TaskStatus(task_id=self._in.task_id, case_ref=self._in.case_ref, kind=self._in.kind, role=self._role,
                          status=self._status, assignee=self._assignee, due=None if self._breached else self._due(),
                          reminded=self._reminded, decision=self._decision, decided_by=self._decided_by)
