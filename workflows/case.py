"""CaseWorkflow: one durable workflow per report, from triage to closure.

Officer commands arrive as Temporal Updates named after the command (`record_contact`, ...), with a
validator that asks the lifecycle, so a refused command never enters history and the caller gets
the reason. Deadlines are timers recomputed from the facts after every change. Side effects go
through activities keyed by case reference and event number.

A closed case's workflow does not end at closure: the closure letters invite an ASB Case Review, so
it stays open, waiting on one timer (no deadlines run on a closed case), for the profile's
`case_review.apply_within_after_closure`, and until any review under way has been resolved; then it
finishes (issue 11 item 10). The case is its own door for the application: no second workflow, and the
facts the thresholds count are already here. A history recorded before that change (no
`asb-case-review-after-closure` marker) finishes at closure as it did.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.calendar import HolidayRequest, fetch_bank_holidays
    from activities.case_file import CaseFileActivities
    from activities.contracts import EventBatch, MessageRequest, Projection, TaskInput, TimelineEvent
    from activities.messages import MessageActivities
    from activities.tasks import TaskActivities
    from policy.calendar import HolidaysNotLoaded
    from policy.model import Profile
    from statemachine.catalogue import (
        COMMANDS,
        LETTER_DUE,
        TIMELINE_KIND,
        case_review_applications_close,
        resolution_target,
    )
    from statemachine.commands import Actor, ReportArgs
    from statemachine.deadlines import calendar_for, handled_key, open_deadlines, overdue, unhandled
    from statemachine.events import (
        Breach,
        CaseEvent,
        CommunicationFailed,
        DeadlineSet,
        Decided,
        LetterSent,
        NotificationSent,
        TaskCreated,
        TaskReminded,
        TaskResolvedEvent,
        parse_event,
    )
    from statemachine.facts import CaseFacts
    from statemachine.lifecycle import PATCHES, Event, Lifecycle
    from statemachine.patches import CASE_REVIEW_AFTER_CLOSURE, RECEIVED_AT_THE_DOOR, answered_on_the_case
    from statemachine.views import CaseStatus, TargetStanding
    from workflows.messages import (
        CASE_DECIDED,
        CaseDecided,
        CommandRequest,
        TaskBreached,
        TaskEscalated,
        TaskReminder,
        TaskResolved,
    )

TASK_QUEUE = "asb-cases"

STAGE_KEY = SearchAttributeKey.for_keyword("CaseStage")
RISK_KEY = SearchAttributeKey.for_keyword("CaseRisk")
OFFICER_KEY = SearchAttributeKey.for_keyword("CaseOfficer")
DEADLINE_KEY = SearchAttributeKey.for_datetime("NextDeadline")
OVERDUE_KEY = SearchAttributeKey.for_bool("Overdue")
SEARCH_ATTRIBUTES = (STAGE_KEY, RISK_KEY, OFFICER_KEY, DEADLINE_KEY, OVERDUE_KEY)

ACTIVITY_TIMEOUT = timedelta(minutes=2)
#: Deliveries back off to one attempt every 30 minutes; the letter service decides when to give up.
DELIVERY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=30), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=30))


class Carried(BaseModel):
    """Everything a continued run needs: the facts and what the timeline has been told."""

    model_config = ConfigDict(extra="forbid")

    facts: CaseFacts
    announced: dict[str, str] = {}
    seq: int = 0
    holidays: dict[int, list[date]] = {}
    #: Open task workflows: task id -> the approval it decides (None for other tasks).
    tasks: dict[str, str | None] = {}
    #: Open ASB Case Review tasks: a closure does not cancel them, and the case waits for them.
    reviews: list[str] = []


class CaseInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str
    #: The landlord's standard as it was when the case opened: later edits never rewrite a running case.
    profile: Profile
    report: ReportArgs | None = None
    carried: Carried | None = None
    #: Added to workflow time; only `asb simulate` sets it, to play a scenario at its own dates.
    clock_shift_seconds: float = 0.0
    search_attributes: bool = True
    #: Bank holidays by year, supplied by whoever starts the case (client code may read files; the
    #: workflow may not). Years not given are fetched by the bank_holidays activity when needed.
    holidays: dict[int, list[date]] = {}
    #: When the door took the report (on the same shifted clock as the workflow's). The case is received
    #: then, not when its workflow got going; a time after the workflow's own clock is taken as now.
    received: datetime | None = None


@workflow.defn(name="CaseWorkflow")
class CaseWorkflow:
    @workflow.init
    def __init__(self, data: CaseInput) -> None:
        # Built here, not in run(), so an Update or Query arriving with the first task finds the case.
        self._input = data
        self._shift = timedelta(seconds=data.clock_shift_seconds)
        self._changed = False
        self._lock = asyncio.Lock()
        self._sending: list[asyncio.Task[None]] = []
        self._attributes: dict[str, Any] = {}
        self._opening: list[Event] = []
        self._received: datetime | None = None
        carried = data.carried
        holidays = carried.holidays if carried is not None else data.holidays
        self._holidays: dict[int, frozenset[date]] = {int(y): frozenset(d) for y, d in holidays.items()}
        self._tasks: dict[str, str | None] = dict(carried.tasks) if carried is not None else {}
        self._reviews: set[str] = set(carried.reviews) if carried is not None else set()
        # Which behaviour changes this run follows: a history recorded before one replays without it.
        patches = frozenset(name for name in PATCHES if workflow.patched(name))
        if carried is not None:
            self._lifecycle = Lifecycle(carried.facts, data.profile, patches)
            self._announced: dict[str, str] = dict(carried.announced)
            self._seq = carried.seq
            return
        if data.report is None:
            raise ApplicationError("a case starts with a report", non_retryable=True)
        self._announced = {}
        self._seq = 0
        self._received = self._now()
        if RECEIVED_AT_THE_DOOR in patches and data.received is not None:
            self._received = min(self._received, data.received.astimezone(UTC).replace(microsecond=0))
        self._lifecycle, decision = Lifecycle.start(data.reference, data.report, data.profile, self._received,
                                                    patches)
        self._opening = decision.typed

    # ------------------------------------------------------------------ clock and state

    def _now(self) -> datetime:
        # Whole seconds: deadlines are kept to the second, and timelines read cleanly.
        return (workflow.now() + self._shift).replace(microsecond=0)

    @property
    def lifecycle(self) -> Lifecycle:
        self._lifecycle.holidays = self._holidays  # the milestones' fire counts working days (issue 16)
        return self._lifecycle

    def _deadlines(self) -> dict[str, datetime]:
        lc = self.lifecycle
        return open_deadlines(lc.facts, lc.profile, calendar_for(lc.profile, self._holidays), lc.patches)

    async def _ensure_holidays(self, around: datetime) -> None:
        """Keep the bank holidays of the years a deadline can reach (last year to two years ahead)."""
        wanted = [year for year in range(around.year - 1, around.year + 3) if year not in self._holidays]
        if not wanted:
            return
        fetched = await workflow.execute_activity(
            fetch_bank_holidays, HolidayRequest(nation=self._input.profile.calendar.nation, years=wanted),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        for year, days in fetched.items():
            self._holidays[int(year)] = frozenset(days)

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, data: CaseInput) -> str:
        if self._received is not None:
            await self._ensure_holidays(self._received)
            await self._step(self._opening, at=self._received)

        while True:
            while not self.lifecycle.facts.is_closed:
                await self._ensure_holidays(self._now())
                pending = unhandled(self.lifecycle.facts, self._deadlines())
                self._changed = False
                if pending:
                    wait = (pending[0][0] - self._now()).total_seconds()
                    if wait > 0:
                        with contextlib.suppress(TimeoutError):
                            await workflow.wait_condition(lambda: self._changed, timeout=wait)
                else:
                    await workflow.wait_condition(lambda: self._changed)
                await self._fire_due()
                if workflow.info().is_continue_as_new_suggested() and not self.lifecycle.facts.is_closed:
                    await workflow.wait_condition(self._idle)
                    workflow.continue_as_new(self._carry())
            if await self._after_closure():
                continue  # reopened: its clocks run again from the reopening
            await workflow.wait_condition(self._idle)
            if self.lifecycle.facts.is_closed:  # not reopened by a handler that was finishing meanwhile
                break
        return self.lifecycle.facts.closure_reason or "closed"

    async def _after_closure(self) -> bool:
        """After closure, one wait (one timer, nothing else runs) until the later of two windows has ended:
        the ASB Case Review applications the closure letters invite (CASE_REVIEW_AFTER_CLOSURE: the profile's
        `case_review.apply_within_after_closure`; 003 §10) and a manager's reopening (REOPEN_CASE: the
        profile's `case.reopen_within`; issue 12 item 6); and while an ASB Case Review is under way, whose
        task tells the case when it is resolved. An Update arriving in this time is judged by the lifecycle
        as at any other time (`after_closure` commands, reopen_case, each within its own period). Returns
        whether the case was reopened (it then goes on as an open case); otherwise the workflow may finish,
        and the doors answer that the case is closed. A case closed before either change ends at once.

        Histories recorded with only one of the two changes replay as they were: with only the reopening
        window, the wait wakes only for a reopening (as REOPEN_CASE alone did); the review window's wait
        wakes on every change of the case and runs a second past its last moment, which still takes an
        application (as CASE_REVIEW_AFTER_CLOSURE alone did)."""
        lc = self.lifecycle
        reviews_too = CASE_REVIEW_AFTER_CLOSURE in lc.patches
        while True:
            if not lc.facts.is_closed:
                return True
            now = self._now()
            ends: list[datetime] = []
            if reviews_too:
                review_until = case_review_applications_close(lc.facts, self._input.profile)
                if review_until is not None and now <= review_until:
                    ends.append(review_until + timedelta(seconds=1))
            reopen_until = lc.reopen_until()
            if reopen_until is not None and now < reopen_until:
                ends.append(reopen_until)
            reviewing = reviews_too and bool(self._reviews)
            if not ends and not reviewing:
                return False
            self._changed = False
            if ends:
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        (lambda: self._changed or not lc.facts.is_closed) if reviews_too
                        else (lambda: not lc.facts.is_closed),
                        timeout=(max(ends) - now).total_seconds())
            else:
                await workflow.wait_condition(
                    lambda: self._changed or not self._reviews or not lc.facts.is_closed)
            if reviews_too and lc.facts.is_closed and workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(self._idle)
                workflow.continue_as_new(self._carry())

    def _carry(self) -> CaseInput:
        return CaseInput(
            reference=self._input.reference, profile=self._input.profile,
            carried=Carried(
                facts=self.lifecycle.facts, announced=self._announced, seq=self._seq,
                holidays={year: sorted(days) for year, days in self._holidays.items()},
                tasks=self._tasks, reviews=sorted(self._reviews),
            ),
            clock_shift_seconds=self._input.clock_shift_seconds,
            search_attributes=self._input.search_attributes,
        )

    async def _fire_due(self) -> None:
        now = self._now()
        facts = self.lifecycle.facts
        for due, kind in unhandled(facts, self._deadlines()):
            if due > now or facts.is_closed:
                break
            facts.handled.append(handled_key(kind, due))
            await self._step(self.lifecycle.on_deadline(kind, now).typed)

    # ------------------------------------------------------------------ commands

    @workflow.update(dynamic=True)
    async def command(self, name: str, args: Sequence[RawValue]) -> CaseStatus:
        request = self._request(args)
        facts = self.lifecycle.facts
        pending_before = {p.id: p for p in facts.pending}
        decision = self.lifecycle.apply(name, request.args, request.actor, self._now())
        still = {p.id for p in facts.pending}
        spec = COMMANDS.get(name)
        verdict: str = spec.verdict if spec is not None and spec.verdict else "approved"
        decided = {pid: (verdict, request.actor.id) for pid in pending_before if pid not in still}
        for event in decision.typed:  # tasks answered by this command (an enquiry decision, a prompt, a follow-up)
            if isinstance(event, Decided) and answered_on_the_case(event.approval or event.kind):
                decided[event.approval or event.kind] = (event.decision, request.actor.id)
        events = decision.typed
        free_text = spec.free_text if spec is not None else None
        note_ref = request.args.get(f"{free_text}_ref") if free_text else None
        if isinstance(note_ref, str) and events and workflow.patched("note-ref-on-command-event"):
            # The command's event names its note, so recording it confirms the note the door wrote first.
            events = [parse_event({**events[0].payload(), "note_ref": note_ref}), *events[1:]]
        await self._step(events, decided=decided)
        return self.status(request.actor)

    async def _finish_tasks(self, which: Any, decision: str, by: str) -> None:
        for task_id, approval_id in list(self._tasks.items()):
            if which(task_id, approval_id):
                del self._tasks[task_id]
                try:
                    await workflow.get_external_workflow_handle(task_id).signal(
                        CASE_DECIDED, CaseDecided(decision=decision, by=by))
                except Exception as exc:  # the task finished at the same moment: nothing left to tell
                    workflow.logger.info("task %s not told it is %s: %s", task_id, decision, exc)

    # ------------------------------------------------------------------ tasks tell the case

    @workflow.signal
    async def task_escalated(self, signal: TaskEscalated) -> None:
        decision = self.lifecycle.on_task_escalated(signal.approval, signal.task, signal.kind, signal.role,
                                                    self._now())
        await self._step(decision.typed)

    @workflow.signal
    async def task_reminder(self, signal: TaskReminder) -> None:
        await self._step([TaskReminded(task=signal.task, kind=signal.kind, role=signal.role)])

    @workflow.signal
    async def task_breached(self, signal: TaskBreached) -> None:
        await self._step([Breach(kind=signal.kind, task=signal.task)])

    @workflow.signal
    async def task_resolved(self, signal: TaskResolved) -> None:
        self._tasks.pop(signal.task, None)
        self._reviews.discard(signal.task)
        self.lifecycle.on_task_resolved(signal.kind)
        await self._step([TaskResolvedEvent(task=signal.task, kind=signal.kind, decision=signal.decision,
                                            by=signal.by)])

    @command.validator
    def validate_command(self, name: str, args: Sequence[RawValue]) -> None:
        request = self._request(args)
        reason = self._lifecycle.check(name, request.args, request.actor, self._now())
        if reason:
            raise ApplicationError(reason, type="CommandRefused", non_retryable=True)

    @staticmethod
    def _request(args: Sequence[RawValue]) -> CommandRequest:
        if len(args) != 1:
            raise ApplicationError("a command takes one payload: {args, actor}", type="CommandRefused",
                                   non_retryable=True)
        try:
            return workflow.payload_converter().from_payload(args[0].payload, CommandRequest)
        except Exception as exc:  # a malformed payload is the caller's error, refused before history
            raise ApplicationError(f"malformed command payload: {exc}", type="CommandRefused",
                                   non_retryable=True) from exc

    @workflow.query(name="timeline_seq")
    def timeline_seq(self) -> int:
        """How many events this case has numbered. A reader of the case file (`asb simulate`) waits until
        the file holds them all: a timer's events are written by an activity after the timer fires, so
        they can land just after the time-skipping server has reached the end of a scenario."""
        return self._seq

    @workflow.query(name="status_for")
    def status_for(self, actor: Actor) -> CaseStatus:
        """The status as `actor` sees it: `allowed` lists only what they may do now, so an approval is
        never offered to the person who asked for it, nor to a role below the one it needs (issue 11
        item 14)."""
        return self.status(actor)

    @workflow.query(name="status")
    def status(self, actor: Actor | None = None) -> CaseStatus:
        lc = self.lifecycle
        facts = lc.facts
        deadlines = self._deadlines()
        return CaseStatus(
            reference=facts.reference, profile=facts.profile, stage=facts.stage, outcome=facts.outcome,
            risk=facts.risk, category=facts.category, officer=facts.officer, deadlines=deadlines,
            overdue=overdue(facts, deadlines, self._now()),
            pending_approvals=list(facts.pending),
            allowed=lc.allowed(actor, self._now()), closure_reason=facts.closure_reason,
            priority=lc.profile.priority_for(facts.category, facts.risk),
            resolution_target=self._target_standing(),
        )

    def _target_standing(self) -> TargetStanding | None:
        """The case's age against the profile's resolution target (issue 16 item 4); None if the holidays of
        a year it spans are not held (a query must not fail for a target)."""
        lc = self.lifecycle
        try:
            return resolution_target(lc.profile, calendar_for(lc.profile, self._holidays), lc.facts.received_at,
                                     lc.facts.closed_at, self._now())
        except HolidaysNotLoaded:
            return None

    # ------------------------------------------------------------------ effects

    def _deadline_events(self) -> list[CaseEvent]:
        current = {kind: due.isoformat() for kind, due in self._deadlines().items()}
        events: list[CaseEvent] = []
        for kind, due in sorted(current.items(), key=lambda item: item[1]):
            if self._announced.get(kind) != due:
                events.append(DeadlineSet(kind=TIMELINE_KIND.get(kind, kind), due=due))
        self._announced = current
        return events

    async def _step(
        self, events: Sequence[Event | CaseEvent], at: datetime | None = None,
        decided: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        """Number the events, then perform them in order: messages first, then the case file."""
        typed = [*(parse_event(data) for data in events), *self._deadline_events()]
        now = at or self._now()
        numbered: list[TimelineEvent] = []
        for data in typed:
            self._seq += 1
            numbered.append(TimelineEvent(seq=self._seq, at=now, data=data))
        projection = self._projection()
        self._changed = True
        async with self._lock:
            # Letters go once the case file holds what they state (the action plan's version, a legal
            # action, a closure's reason): before that change they were started beside the record and
            # could render first (issue 11 item 6). Either way they run in the background.
            after_record = workflow.patched("letters-after-the-case-file")
            messages = [item for item in numbered if isinstance(item.data, LetterSent | NotificationSent)]
            if not after_record:
                self._sending.extend(asyncio.create_task(self._send(item)) for item in messages)
            await workflow.execute_activity_method(
                CaseFileActivities.record_events,
                EventBatch(case_ref=self.lifecycle.facts.reference, events=numbered, projection=projection),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
            )
            if after_record:
                self._sending.extend(asyncio.create_task(self._send(item)) for item in messages)
            self._upsert_attributes(projection)
            for item in numbered:
                if isinstance(item.data, TaskCreated) and (not self.lifecycle.facts.is_closed
                                                           or self._outlives_closure(item.data.kind)):
                    await self._start_task(item, item.data)
            for approval_id, (verdict, by) in (decided or {}).items():
                await self._finish_tasks(lambda _tid, aid, a=approval_id: aid == a, verdict, by)
            if self.lifecycle.facts.is_closed and any(tid not in self._reviews for tid in self._tasks):
                # A closure makes every open task moot, except an ASB Case Review: the review is of the case's
                # handling, closure included, and is completed whatever the case's stage (004 §8).
                await self._finish_tasks(lambda tid, _aid: tid not in self._reviews, "cancelled", "case closed")

    def _outlives_closure(self, kind: str) -> bool:
        return kind == "asb_case_review" and CASE_REVIEW_AFTER_CLOSURE in self.lifecycle.patches

    async def _start_task(self, item: TimelineEvent, task: TaskCreated) -> None:
        """Each task is its own workflow, with the same id as its row in the case file."""
        facts = self.lifecycle.facts
        task_id = f"{facts.reference}-T{item.seq}"
        kind = task.kind
        chain, within = self.lifecycle.task_terms(kind)
        self._tasks[task_id] = task.approval or None
        if self._outlives_closure(kind):
            self._reviews.add(task_id)
        await workflow.execute_activity_method(
            TaskActivities.start_task,
            TaskInput(task_id=task_id, case_ref=facts.reference, kind=kind, role=task.role,
                      chain=chain, decide_within=within, calendar=self._input.profile.calendar,
                      holidays={y: sorted(d) for y, d in self._holidays.items()}, created_at=item.at,
                      approval_id=self._tasks[task_id], clock_shift_seconds=self._input.clock_shift_seconds,
                      prompt=bool(task.prompt), not_by=[task.not_by] if task.not_by else []),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )

    def _idle(self) -> bool:
        """No handler, step or letter still under way: safe to continue-as-new or finish."""
        self._sending = [task for task in self._sending if not task.done()]
        return workflow.all_handlers_finished() and not self._lock.locked() and not self._sending

    async def _send(self, item: TimelineEvent) -> None:
        """Deliver one letter or message in the background: a slow or failing provider never holds up
        the officers' commands. Temporal retries it with backoff; when the letter service gives up (a letter
        parked for printing, a text or email beside it undelivered), the officer gets a communication_failed
        task on the case."""
        message = item.data
        assert isinstance(message, LetterSent | NotificationSent)
        try:
            await self._deliver(item, message)
        except ActivityError as failed:
            cause = failed.cause
            if not isinstance(cause, ApplicationError) or cause.type not in ("DeliveryParked", "LetterNotRendered"):
                raise
            channel = message.channel if isinstance(message, NotificationSent) else "letter"
            to = message.to if isinstance(message, LetterSent) else "reporter"
            printing = cause.type == "DeliveryParked"
            # A text or email beside a letter has nothing to print (issue 9 item 6: such failures now
            # reach the case; before, send_notification never failed, so no old history takes this path).
            if isinstance(message, NotificationSent) and workflow.patched("notification-failure-not-printed"):
                printing = False
            await self._step([
                CommunicationFailed(template=message.template, channel=channel, to=to, message_seq=item.seq,
                                    printing=printing),
                TaskCreated(kind="communication_failed", role="officer", template=message.template,
                            message_seq=item.seq),
            ])

    async def _deliver(self, item: TimelineEvent, message: LetterSent | NotificationSent) -> None:
        facts = self.lifecycle.facts
        to = message.to if isinstance(message, LetterSent) else "reporter"
        party = facts.reporter if to == "reporter" else facts.reported_person
        channel = message.channel if isinstance(message, NotificationSent) else "letter"
        template = message.template
        due = self._deadlines().get(LETTER_DUE.get(template, ""))
        recipient = message.recipient if isinstance(message, LetterSent) and message.recipient else None
        request = MessageRequest(
            key=f"{facts.reference}/{item.seq}/{channel}", case_ref=facts.reference, channel=channel,
            template=template, to=to, recipient_id=recipient or (party.id if party else None), at=item.at,
            profile=facts.profile, reason=facts.closure_reason, due=due, plan_version=message.version,
        )
        send = MessageActivities.send_letter if channel == "letter" else MessageActivities.send_notification
        await workflow.execute_activity_method(send, request, start_to_close_timeout=ACTIVITY_TIMEOUT,
                                               retry_policy=DELIVERY_RETRY)

    def _projection(self) -> Projection:
        facts = self.lifecycle.facts
        deadlines = self._deadlines()
        pending = unhandled(facts, deadlines)
        return Projection(
            seq=self._seq, profile=facts.profile, stage=facts.stage, outcome=facts.outcome, risk=facts.risk,
            category=facts.category, officer=facts.officer, opened_at=facts.received_at,
            closed_at=facts.closed_at, closure_reason=facts.closure_reason,
            next_deadline=pending[0][0] if pending else None,
            overdue=bool(overdue(facts, deadlines, self._now())), hate=facts.hate,
        )

    def _upsert_attributes(self, projection: Projection) -> None:
        if not self._input.search_attributes:
            return
        wanted: dict[str, Any] = {
            "CaseStage": projection.stage, "CaseRisk": projection.risk or "", "CaseOfficer": projection.officer or "",
            "NextDeadline": projection.next_deadline, "Overdue": projection.overdue,
        }
        updates: list[SearchAttributeUpdate[Any]] = []
        for key in SEARCH_ATTRIBUTES:
            value = wanted[key.name]
            if self._attributes.get(key.name, object()) != value:
                updates.append(key.value_unset() if value is None else key.value_set(value))
                self._attributes[key.name] = value
        if updates:
            workflow.upsert_search_attributes(updates)
