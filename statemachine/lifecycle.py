"""The six-stage lifecycle as a `transitions` Machine, with the policy's guards and consequences.

One place answers three questions for everyone (workflow, API, CLI, diagrams):
- may this actor issue this command now, and if not, why not (`check`, `allowed`);
- what changes and what must happen when it is issued (`apply`, returning timeline events);
- what happens when a deadline passes (`on_deadline`).

What each command and each deadline kind is (its stages, roles, guard, effect, due time, what it does
when it fires) is its spec in statemachine/catalogue.py; this class reads those specs and keeps the
helpers their guards and effects use (letters, tasks, closing, moving stage).

`transitions` drives the stage moves: the triggers of `STAGE_MOVES` are declared on the Machine, and a
trigger fired where it has no move raises. The guards sit beside it as a thin layer, because a
`transitions` condition answers only true or false, and a refused command must say why (the API's
409, the timeline's `rejected`). A refusal is decided entirely by the guards before anything changes,
so a workflow Update validator can call `check` and the case is guaranteed untouched by a refused
command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from transitions import Machine

from policy.model import Profile
from policy.periods import Period
from policy.triage import triage
from statemachine.catalogue import (
    BREACH_DEADLINES,
    COMMANDS,
    DEADLINES,
    INTERVENTION_LETTERS,
    REPORT_COMMAND,
    STAGE_MOVES,
    Event,
    allocate,
    decide_enquiry,
    first_response_within,
    parse_args,
    raise_for_vulnerable_reporter,
    tell_the_police,
)
from statemachine.commands import COURT_KINDS, EVICTION_KINDS, ROLE_RANK, STAGES, Actor, CommandError, ReportArgs
from statemachine.events import (
    Breach,
    Closed,
    CommandIssued,
    LetterSent,
    NotificationSent,
    Referral,
    StageEntered,
    TaskCreated,
    TaskEscalatedEvent,
    Triaged,
)
from statemachine.facts import CaseFacts, Party
from statemachine.patches import (
    ALL,
    ALLOCATION,
    ANSWERED_ON_THE_CASE,
    CASE_REVIEW_28_DAYS,
    CASE_REVIEW_AFTER_CLOSURE,
    CONSIDER_CLOSURE,
    LEGAL_APPROVER_BY_FACT,
    NOT_ASB_REFERRAL,
    OFFICER_PROMPTS,
    PATCHES,
    REOPEN_CASE,
)

__all__ = ["ANSWERED_ON_THE_CASE", "BREACH_DEADLINES", "INTERVENTION_LETTERS", "PATCHES", "STAGE_MOVES", "Decision",
           "Event", "Lifecycle", "Refused"]


class Refused(Exception):
    """A command the policy does not allow now; `reason` says why. Nothing was changed."""

    def __init__(self, command: str, reason: str) -> None:
        super().__init__(f"{command} refused: {reason}")
        self.command = command
        self.reason = reason


@dataclass
class Decision:
    """What a command, a deadline or a task's news did: its timeline events, in order."""

    typed: list[Event] = field(default_factory=list)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events as the timeline stores them (`{"event": kind, ...}`)."""
        return [event.payload() for event in self.typed]


def _a(role: str) -> str:
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"


def _role_at_least(actor_role: str, needed: str) -> bool:
    return ROLE_RANK.get(actor_role, -1) >= ROLE_RANK[needed]


class Lifecycle:
    """The state machine bound to one case's facts and its snapshotted profile."""

    state: str  # kept by transitions
    trigger: Callable[..., bool]  # added by transitions: fire a declared trigger by name

    def __init__(self, facts: CaseFacts, profile: Profile, patches: frozenset[str] = ALL) -> None:
        self.facts = facts
        self.profile = profile
        #: The behaviour changes in force for this run (statemachine/patches.py): all of them unless a
        #: workflow replaying an older history says otherwise.
        self.patches = patches
        self._target: str | None = None
        #: The time of the command being checked, for guards that count time windows.
        self.clock: datetime | None = None
        #: The bank holidays the workflow holds (None: the holidays package, outside workflows), for a
        #: deadline's fire that counts working days again (the response milestones).
        self.holidays: dict[int, frozenset[date]] | None = None
        self.machine = Machine(
            model=self,
            states=list(STAGES),
            initial=facts.stage,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        for trigger, sources, dest in STAGE_MOVES:
            self.machine.add_transition(trigger, cast(Any, sources), dest, conditions=[self._to(dest)])

    def _to(self, dest: str) -> Callable[[], bool]:
        # A trigger with several destinations (withdraw_legal) picks the one the facts name.
        return lambda: self._target in (None, dest)

    def move(self, trigger: str, events: list[Event], target: str | None = None) -> None:
        before = self.state
        self._target = target
        try:
            self.trigger(trigger)  # a trigger the Machine declared (STAGE_MOVES); any other raises
        finally:
            self._target = None
        self.facts.stage = cast(Any, self.state)
        if self.state != before:
            events.append(StageEntered(stage=self.state))

    # ------------------------------------------------------------------ questions

    def check(self, command: str, raw_args: dict[str, Any] | None, actor: Actor, now: datetime) -> str | None:
        """Why `command` would be refused now, or None if it would be accepted."""
        self.clock = now
        try:
            args = parse_args(command, raw_args)
        except CommandError as exc:
            return str(exc)
        return self._refusal(command, args, actor)

    def allowed(self, actor: Actor | None = None, now: datetime | None = None) -> list[str]:
        """Commands that may be issued now (ignoring their arguments); `now` for the guards that count time."""
        if now is not None:
            self.clock = now
        return [
            name for name in COMMANDS
            if self._refusal(name, None, actor, with_args=False) is None
        ]

    # ------------------------------------------------------------------ guards

    def _refusal(self, command: str, args: Any, actor: Actor | None, with_args: bool = True) -> str | None:
        facts = self.facts
        if command == REPORT_COMMAND:
            return "the case already exists: report starts a new case"
        spec = COMMANDS.get(command)
        if spec is None:
            return f"unknown command {command!r}"
        if facts.is_closed and "closed" not in spec.stages:
            # A closed case takes a manager's reopening (the one command listed for the closed stage; its
            # guard says until when, issue 12 item 6), and an ASB Case Review application and the
            # applicant's reports it rests on, for a while (the spec's `after_closure`, its guard says how
            # long; issue 11 item 10).
            if not (spec.after_closure and CASE_REVIEW_AFTER_CLOSURE in self.patches):
                return "the case is closed and accepts no more commands"
        elif facts.stage not in spec.stages:
            return f"not allowed at the {facts.stage} stage (allowed at: {', '.join(spec.stages)})"
        if actor is not None:
            reason = self._actor_refusal(command, actor)
            if reason:
                return reason
        if spec.guard is None:
            return None
        return spec.guard(self, args if with_args else None, actor)

    def _actor_refusal(self, command: str, actor: Actor) -> str | None:
        spec = COMMANDS[command]
        if actor.role in ("ops", "auditor"):
            return f"the {actor.role} role can read cases but not act on them"
        if actor.role not in spec.roles:
            if actor.role == "intake":
                return ("intake staff may log reports, incidents and ASB Case Review applications; an officer or "
                        "manager issues this command")
            return f"the {actor.role} role may not issue {command} (allowed: {', '.join(spec.roles)})"
        if actor.role == "officer" and self.facts.officer and actor.id != self.facts.officer \
                and not spec.any_officer:
            return f"the case belongs to officer {self.facts.officer}"
        if spec.decides is not None:
            pending = self.facts.pending_of(spec.decides)
            if pending is None:
                return None  # the guard says there is nothing to decide
            if not _role_at_least(actor.role, pending.escalated_to or pending.role):
                needed = pending.escalated_to or pending.role
                return f"needs approval by {_a(needed)}, not {_a(actor.role)}"
            if actor.id == pending.requested_by:
                return "nobody may decide their own request: another manager must"
        return None

    # ------------------------------------------------------------------ consequences

    def apply(self, command: str, raw_args: dict[str, Any] | None, actor: Actor, now: datetime) -> Decision:
        """Issue a command: refuse it (raising Refused, nothing changed) or change the facts."""
        self.clock = now
        try:
            args = parse_args(command, raw_args)
        except CommandError as exc:
            raise Refused(command, str(exc)) from exc
        reason = self._refusal(command, args, actor)
        if reason:
            raise Refused(command, reason)
        events: list[Event] = [CommandIssued(command=command, role=actor.role, by=actor.id)]
        COMMANDS[command].effect(self, args, actor, now, events)
        if self.facts.stage != "enquiry":  # converted, or jumped to interventions or legal action
            decide_enquiry(self, "converted", events)
        return Decision(events)

    def letter(self, template: str, to: str, events: list[Event], version: int | None = None,
               recipient: str | None = None) -> None:
        """A letter to a party (and, to a reporter who chose email or SMS, a notification beside it);
        nobody anonymous or unknown is written to. `version`: the action plan's version it states.
        `recipient` names another person in that role by id (the reporter of a report attached to this
        case): the letter goes to them alone, and the letter service decides how (their own channel and
        adjustments, or nothing if they are anonymous)."""
        if recipient is not None:
            events.append(LetterSent(template=template, to=to, recipient=recipient))
            return
        party = self.facts.reporter if to == "reporter" else self.facts.reported_person
        if party is None or party.anonymous or (to == "reported_person" and not party.id):
            return
        given = {"version": version} if version is not None else {}
        events.append(LetterSent(template=template, to=to, **given))
        if to == "reporter" and party.contact_method in ("email", "sms"):
            events.append(NotificationSent(channel=party.contact_method, template=template, **given))

    def task(self, kind: str, role: str, events: list[Event], **extra: Any) -> None:
        events.append(TaskCreated(kind=kind, role=role, **extra))

    def close(self, trigger: str, reason: str, now: datetime, events: list[Event],
              merged_into: str | None = None) -> None:
        self.facts.closed_from = self.facts.stage
        self.facts.closed_at = now
        self.facts.closure_reason = reason
        self.facts.pending = []
        self.move(trigger, events)
        events.append(Closed(reason=reason, merged_into=merged_into) if merged_into else Closed(reason=reason))

    def reopen_until(self) -> datetime | None:
        """Until when a closed case may still be reopened (the profile's `case.reopen_within` after it
        closed), so its workflow waits that long; None when it may not be (issue 12 item 6)."""
        facts = self.facts
        if REOPEN_CASE not in self.patches or not facts.is_closed or facts.closed_at is None:
            return None
        until: datetime = self.profile.case.reopen_within.add_calendar(facts.closed_at)
        return until

    def legal_approver(self, kind: str, instruct_solicitor: bool = False) -> str:
        """The role that must approve a legal action.

        004 §3.12: "decisions to take legal action should be signed off by the case officer's manager"
        (the profile's `legal_action` approver); instructing "a solicitor/barrister" for a complex
        defended case is "approved by the Regional Manager", and "authority to evict must be approved by
        the Regional Manager" (the profile's `instruct_solicitors` and `eviction` approvers). So a court
        remedy needs the senior role only when solicitors are instructed, which the proposal states.
        Before that change (unpatched histories) every court remedy was taken to instruct solicitors.
        """
        approvals = self.profile.approvals
        roles = [approvals.legal_action]
        by_fact = LEGAL_APPROVER_BY_FACT in self.patches
        if (instruct_solicitor if by_fact else kind in COURT_KINDS):
            roles.append(approvals.instruct_solicitors)
        if kind in EVICTION_KINDS:
            roles.append(approvals.eviction)
        return max(roles, key=lambda r: ROLE_RANK[r])

    def on_task_resolved(self, kind: str) -> None:
        if kind == "asb_case_review":
            self.facts.asb_case_review_since = None

    # ------------------------------------------------------------------ time

    def on_deadline(self, kind: str, now: datetime) -> Decision:
        """A deadline passed without what it required: say so, and act as its spec says."""
        spec = DEADLINES[kind]  # a kind without a spec is a fault, never silently ignored
        events: list[Event] = []
        if spec.breach:  # who is tasked with it is the spec's `on_fire` (the officer, or the chain's first)
            events.append(Breach(kind=kind))
        if spec.on_fire is not None:
            spec.on_fire(self, now, events)
        return Decision(events)

    def task_terms(self, kind: str) -> tuple[list[str], Period]:
        """Who a task goes to next when undecided, and how long each holder has (from the profile)."""
        chain = ["officer", *[r for r in self.profile.approvals.escalation_chain if r != "officer"]]
        if kind == CONSIDER_CLOSURE and OFFICER_PROMPTS in self.patches:
            return ["officer"], self.profile.approvals.decide_within
        if kind == "asb_case_review" and CASE_REVIEW_28_DAYS in self.patches:
            # 004 §8: "completed within 28 days". Not completed by then is a breach on day 28, not an
            # escalation with a second 28 days (issue 11 item 10): the task stays with its reviewer.
            return [self.profile.approvals.closure], self.profile.case_review.complete_within
        if kind == "asb_case_review":
            return chain, self.profile.case_review.complete_within
        if kind == ALLOCATION:
            # Allocated within the first-response period (003 §8 table; 004 §2.3): due when the first
            # response is, so a report nobody allocated is escalated, never silently left.
            return chain, first_response_within(self.facts, self.profile)
        return chain, self.profile.approvals.decide_within

    def on_task_escalated(self, approval_id: str | None, task: str, kind: str, role: str, now: datetime) -> Decision:
        """A task was not decided in time and went up the chain; an approval now needs that role."""
        events: list[Event] = [TaskEscalatedEvent(task=task, kind=kind, role=role)]
        pending = next((p for p in self.facts.pending if p.id == approval_id), None)
        if pending is not None:
            pending.escalated_to = cast(Any, role)
            pending.escalated_at = now
        return Decision(events)

    # ------------------------------------------------------------------ start

    @classmethod
    def start(
        cls, reference: str, report: ReportArgs, profile: Profile, now: datetime, patches: frozenset[str] = ALL,
    ) -> tuple[Lifecycle, Decision]:
        """A report arrives: triage it and open an enquiry, or give it its outcome."""
        result = triage(report, profile)
        reporter = Party(id=report.reporter.id, anonymous=report.reporter.anonymous,
                         contact_method=report.reporter.contact.method, vulnerable=report.reporter.vulnerable)
        reported = (Party(id=report.reported_person.id) if report.reported_person else None)
        facts = CaseFacts(
            reference=reference, profile=profile.name, outcome=result.outcome, risk=result.risk,
            category=result.category, hate=report.hate or report.hate_strand is not None,
            hate_strand=report.hate_strand, channel=report.channel, officer=report.officer,
            reporter=reporter, reported_person=reported, received_at=now, last_incident_at=now,
            incidents=max(1, report.incidents_last_month),
        )
        lifecycle = cls(facts, profile, patches)
        events: list[Event] = [Triaged(outcome=result.outcome, risk=result.risk, category=result.category)]
        if result.outcome == "enquiry":
            events.append(StageEntered(stage="enquiry"))
            raise_for_vulnerable_reporter(lifecycle, events)
        if result.outcome == "enquiry":
            allocate(lifecycle, events)
            lifecycle.letter("acknowledgement", "reporter", events)
            if facts.hate:
                tell_the_police(lifecycle, events)
        else:
            template = "not_asb_outcome" if result.outcome == "not_asb" else "early_support"
            lifecycle.close("close_enquiry", result.outcome, now, events)
            if result.routed_to:  # where a report that is not ASB was routed, on its closing event
                events[-1] = Closed(reason=result.outcome, routed_to=result.routed_to)
            if result.routed_to and NOT_ASB_REFERRAL in patches:
                # 003 §4: a report that is not ASB is routed to another service, never silently dropped:
                # the referral itself is recorded, not only the letter that mentions it (issue 11 item 16).
                events.append(Referral(to=result.routed_to, reason=result.outcome))
            lifecycle.letter(template, "reporter", events)
        return lifecycle, Decision(events)


def command_names() -> list[str]:
    """Every command a scenario may name: `report` (which starts a case), then the case commands."""
    return [REPORT_COMMAND, *COMMANDS]
