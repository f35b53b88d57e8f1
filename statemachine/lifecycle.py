"""The six-stage lifecycle as a `transitions` Machine, with the policy's guards and consequences.

One place answers three questions for everyone (workflow, API, CLI, diagrams):
- may this actor issue this command now, and if not, why not (`check`, `allowed`);
- what changes and what must happen when it is issued (`apply`, returning timeline events);
- what happens when a deadline passes (`on_deadline`).

A refusal is decided entirely by the guards before anything changes, so a workflow Update
validator can call `check` and the case is guaranteed untouched by a refused command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from transitions import Machine

from policy.model import RISK_ORDER, Profile, Risk
from policy.periods import Period
from policy.triage import triage
from statemachine.commands import (
    ARGS,
    CASE_STAGES,
    COURT_KINDS,
    EVICTION_KINDS,
    OPEN_STAGES,
    ROLE_RANK,
    STAGES,
    Actor,
    AgreeActionPlan,
    AssignOfficer,
    CloseWithReason,
    CommandError,
    ConcludeLegalAction,
    EscalateRisk,
    ProposeLegalAction,
    RecordCaseReview,
    RecordContact,
    RecordIncident,
    RecordRiskAssessment,
    ReportArgs,
    StartIntervention,
    parse_args,
)
from statemachine.facts import CaseFacts, LegalAction, Party, PendingApproval

Event = dict[str, Any]

#: Stage moves: (trigger, sources, destination). Everything else is an internal transition.
STAGE_MOVES: list[tuple[str, list[str], str]] = [
    ("convert_to_case", ["enquiry"], "investigation"),
    ("close_enquiry", ["enquiry"], "closed"),
    ("expire_enquiry", ["enquiry"], "closed"),
    ("close_unreachable", ["enquiry"], "closed"),
    ("begin_review", ["investigation"], "review"),
    ("start_intervention", ["enquiry", "investigation", "review", "interventions"], "interventions"),
    ("enter_legal", ["enquiry", "investigation", "review", "interventions", "legal"], "legal"),
    ("withdraw_legal", ["legal"], "investigation"),
    ("withdraw_legal", ["legal"], "review"),
    ("withdraw_legal", ["legal"], "interventions"),
    ("approve_closure", list(CASE_STAGES), "closed"),
]

#: Where each command may be issued (the stage rule); guards add the policy's conditions.
COMMAND_STAGES: dict[str, tuple[str, ...]] = {
    "assign_officer": OPEN_STAGES,
    "record_incident": OPEN_STAGES,
    "record_contact": OPEN_STAGES,
    "record_risk_assessment": OPEN_STAGES,
    "agree_action_plan": OPEN_STAGES,
    "convert_to_case": ("enquiry",),
    "close_enquiry": ("enquiry",),
    "escalate_risk": OPEN_STAGES,
    "record_case_review": CASE_STAGES,
    "start_intervention": ("enquiry", "investigation", "review", "interventions"),
    "record_equality_assessment": OPEN_STAGES,
    "propose_legal_action": OPEN_STAGES,
    "approve_legal_action": OPEN_STAGES,
    "reject_legal_action": OPEN_STAGES,
    "conclude_legal_action": ("legal",),
    "request_asb_case_review": OPEN_STAGES,
    "request_closure": CASE_STAGES,
    "approve_closure": CASE_STAGES,
    "reject_closure": CASE_STAGES,
}

#: Commands intake staff may issue on an open case; officers and managers may issue all.
INTAKE_COMMANDS = frozenset({"record_incident"})
DECISIONS = {
    "approve_legal_action": "legal_approval",
    "reject_legal_action": "legal_approval",
    "approve_closure": "closure_approval",
    "reject_closure": "closure_approval",
}
INTERVENTION_LETTERS = {
    "warning_letter": "warning_letter",
    "acceptable_behaviour_contract": "acceptable_behaviour_contract",
    "good_neighbour_agreement": "good_neighbour_agreement",
}
BREACH_DEADLINES = frozenset({"first_response", "contact", "case_review"})


class Refused(Exception):
    """A command the policy does not allow now; `reason` says why. Nothing was changed."""

    def __init__(self, command: str, reason: str) -> None:
        super().__init__(f"{command} refused: {reason}")
        self.command = command
        self.reason = reason


@dataclass
class Decision:
    events: list[Event] = field(default_factory=list)


def _higher(a: Risk, b: Risk) -> bool:
    return RISK_ORDER[a] > RISK_ORDER[b]


def _a(role: str) -> str:
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"


def _role_at_least(actor_role: str, needed: str) -> bool:
    return ROLE_RANK.get(actor_role, -1) >= ROLE_RANK[needed]


class Lifecycle:
    """The state machine bound to one case's facts and its snapshotted profile."""

    state: str  # kept by transitions

    def __init__(self, facts: CaseFacts, profile: Profile) -> None:
        self.facts = facts
        self.profile = profile
        self._target: str | None = None
        #: The time of the command being checked, for guards that count time windows.
        self._clock: datetime | None = None
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

    def _move(self, trigger: str, events: list[Event], target: str | None = None) -> None:
        before = self.state
        self._target = target
        try:
            getattr(self, trigger)()
        finally:
            self._target = None
        self.facts.stage = cast(Any, self.state)
        if self.state != before:
            events.append({"event": "stage", "stage": self.state})

    # ------------------------------------------------------------------ questions

    def check(self, command: str, raw_args: dict[str, Any] | None, actor: Actor, now: datetime) -> str | None:
        """Why `command` would be refused now, or None if it would be accepted."""
        self._clock = now
        try:
            args = parse_args(command, raw_args)
        except CommandError as exc:
            return str(exc)
        return self._refusal(command, args, actor)

    def allowed(self, actor: Actor | None = None) -> list[str]:
        """Commands that may be issued now (ignoring their arguments)."""
        return [
            name for name in COMMAND_STAGES
            if self._refusal(name, None, actor, with_args=False) is None
        ]

    # ------------------------------------------------------------------ guards

    def _refusal(self, command: str, args: Any, actor: Actor | None, with_args: bool = True) -> str | None:
        facts = self.facts
        if command == "report":
            return "the case already exists: report starts a new case"
        if command not in COMMAND_STAGES:
            return f"unknown command {command!r}"
        if facts.is_closed:
            return "the case is closed and accepts no more commands"
        if facts.stage not in COMMAND_STAGES[command]:
            return f"not allowed at the {facts.stage} stage (allowed at: {', '.join(COMMAND_STAGES[command])})"
        if actor is not None:
            reason = self._actor_refusal(command, actor)
            if reason:
                return reason
        guard = getattr(self, f"_guard_{command}", None)
        if guard is None:
            return None
        return cast(str | None, guard(args if with_args else None, actor))

    def _actor_refusal(self, command: str, actor: Actor) -> str | None:
        if actor.role in ("ops", "auditor"):
            return f"the {actor.role} role can read cases but not act on them"
        if actor.role == "intake" and command not in INTAKE_COMMANDS:
            return "intake staff may log reports and incidents; an officer or manager issues this command"
        if actor.role == "officer" and self.facts.officer and actor.id != self.facts.officer \
                and command not in INTAKE_COMMANDS:
            return f"the case belongs to officer {self.facts.officer}"
        if command in DECISIONS:
            pending = self.facts.pending_of(DECISIONS[command])
            if pending is None:
                return None  # the guard says there is nothing to decide
            if not _role_at_least(actor.role, pending.escalated_to or pending.role):
                needed = pending.escalated_to or pending.role
                return f"needs approval by {_a(needed)}, not {_a(actor.role)}"
            if actor.id == pending.requested_by:
                return "nobody may decide their own request: another manager must"
        return None

    def _guard_record_contact(self, args: RecordContact | None, actor: Actor | None) -> str | None:
        if self.facts.reporter.anonymous:
            return "the reporter is anonymous: there is nobody to contact"
        return None

    def _guard_agree_action_plan(self, args: AgreeActionPlan | None, actor: Actor | None) -> str | None:
        if self.facts.reporter.anonymous:
            return "the reporter is anonymous: an action plan cannot be agreed or shared"
        least = self.profile.contact.least_frequent
        if args is not None and args.contact_every_days > least.longest_days:
            return (
                f"contact every {args.contact_every_days} days is less often than this standard allows "
                f"(at least every {least})"
            )
        return None

    def _guard_convert_to_case(self, args: Any, actor: Actor | None) -> str | None:
        if not self.facts.officer:
            return "assign an officer first: the reporter needs one point of contact"
        if self.facts.risk_assessed_at is None:
            return "record a risk assessment first"
        return None

    def _guard_escalate_risk(self, args: EscalateRisk | None, actor: Actor | None) -> str | None:
        if args is not None and self.facts.risk and not _higher(args.risk, self.facts.risk):
            return f"risk is already {self.facts.risk}: escalation must raise it"
        return None

    def _guard_start_intervention(self, args: StartIntervention | None, actor: Actor | None) -> str | None:
        if self.facts.stage == "enquiry":
            return self._urgent_jump_refusal("interventions")
        return None

    def _urgent_jump_refusal(self, where: str) -> str | None:
        if self.facts.risk != "high":
            return f"only an urgent (high-risk) enquiry may go straight to {where}; convert it to a case first"
        if not self.facts.officer:
            return "assign an officer first: the reporter needs one point of contact"
        return None

    def _guard_propose_legal_action(self, args: ProposeLegalAction | None, actor: Actor | None) -> str | None:
        facts = self.facts
        if facts.stage == "enquiry":
            reason = self._urgent_jump_refusal("legal action")
            if reason:
                return reason
        if facts.equality_assessed_at is None:
            return "record an Equality Act assessment first"
        if facts.incidents > facts.incidents_at_equality:
            return "new incidents since the Equality Act assessment: record a new one first"
        if facts.pending_of("legal_approval"):
            return "a legal action is already awaiting approval"
        return None

    def _guard_approve_legal_action(self, args: Any, actor: Actor | None) -> str | None:
        if self.facts.pending_of("legal_approval") is None:
            return "no legal action is awaiting approval"
        return None

    _guard_reject_legal_action = _guard_approve_legal_action

    def _guard_conclude_legal_action(self, args: Any, actor: Actor | None) -> str | None:
        if not any(a.status == "approved" for a in self.facts.legal_actions):
            return "no approved legal action is open"
        return None

    def _guard_request_asb_case_review(self, args: Any, actor: Actor | None) -> str | None:
        if args is None:
            return None
        if self.facts.asb_case_review_since is not None:
            return "an ASB Case Review is already under way"
        return self._case_review_threshold_refusal(args.applicant, self._clock)

    def _case_review_threshold_refusal(self, applicant: str, now: datetime | None) -> str | None:
        """The ASB Case Review thresholds (003 §10, 004 §4.1), from the profile: the last incident
        within a month of the application, and enough incidents in the window."""
        rules = self.profile.case_review
        facts = self.facts
        now = now or facts.last_incident_at
        log = [(facts.received_at, facts.hate), *facts.incident_log]
        last = max(when for when, _ in log)
        if rules.last_incident_within.add_calendar(last) < now:
            return f"the last incident was more than {rules.last_incident_within} before the application"
        window_end = rules.window.add_calendar(facts.received_at)
        in_window = sum(1 for when, _ in log if facts.received_at <= when <= window_end)
        needed = rules.group_incidents if applicant == "group" else rules.individual_incidents
        if in_window >= needed:
            return None
        hate_from = now - (rules.hate_window.add_calendar(now) - now)
        hate = sum(1 for when, is_hate in log if is_hate and hate_from <= when <= now)
        if hate >= rules.hate_incidents:
            return None
        return (f"the ASB Case Review threshold is not met: {in_window} incidents within {rules.window} of the "
                f"first report ({needed} needed for {'a group' if applicant == 'group' else 'one person'}), "
                f"{hate} hate incidents in the last {rules.hate_window} ({rules.hate_incidents} needed)")

    def _guard_request_closure(self, args: CloseWithReason | None, actor: Actor | None) -> str | None:
        if self.facts.pending_of("closure_approval"):
            return "closure is already awaiting approval"
        return self._legal_open_refusal()

    def _legal_open_refusal(self) -> str | None:
        open_actions = self.facts.open_legal_actions
        if open_actions:
            kinds = ", ".join(a.kind for a in open_actions)
            return f"legal action is still open ({kinds}): a case stays open until it has concluded"
        return None

    def _guard_approve_closure(self, args: Any, actor: Actor | None) -> str | None:
        if self.facts.pending_of("closure_approval") is None:
            return "no closure is awaiting approval: request_closure first"
        return self._legal_open_refusal()

    def _guard_reject_closure(self, args: Any, actor: Actor | None) -> str | None:
        if self.facts.pending_of("closure_approval") is None:
            return "no closure is awaiting approval"
        return None

    # ------------------------------------------------------------------ consequences

    def apply(self, command: str, raw_args: dict[str, Any] | None, actor: Actor, now: datetime) -> Decision:
        """Issue a command: refuse it (raising Refused, nothing changed) or change the facts."""
        self._clock = now
        try:
            args = parse_args(command, raw_args)
        except CommandError as exc:
            raise Refused(command, str(exc)) from exc
        reason = self._refusal(command, args, actor)
        if reason:
            raise Refused(command, reason)
        events: list[Event] = [{"event": "command", "command": command, "role": actor.role, "by": actor.id}]
        getattr(self, f"_do_{command}")(args, actor, now, events)
        return Decision(events)

    def _letter(self, template: str, to: str, events: list[Event]) -> None:
        party = self.facts.reporter if to == "reporter" else self.facts.reported_person
        if party is None or party.anonymous or (to == "reported_person" and not party.id):
            return
        events.append({"event": "letter", "template": template, "to": to})
        if to == "reporter" and party.contact_method in ("email", "sms"):
            events.append({"event": "notification", "channel": party.contact_method, "template": template})

    def _task(self, kind: str, role: str, events: list[Event], **extra: Any) -> None:
        events.append({"event": "task", "kind": kind, "role": role, **extra})

    def _close(self, trigger: str, reason: str, now: datetime, events: list[Event]) -> None:
        self.facts.closed_at = now
        self.facts.closure_reason = reason
        self.facts.pending = []
        self._move(trigger, events)
        events.append({"event": "closed", "reason": reason})

    def _do_assign_officer(self, args: AssignOfficer, actor: Actor, now: datetime, events: list[Event]) -> None:
        self.facts.officer = args.officer
        events.append({"event": "officer", "officer": args.officer})

    def _do_record_incident(self, args: RecordIncident, actor: Actor, now: datetime, events: list[Event]) -> None:
        facts = self.facts
        facts.incidents += 1
        facts.last_incident_at = max(args.occurred_at or now, facts.last_incident_at)
        facts.incident_log.append((args.occurred_at or now, args.hate))
        facts.monitoring_since = None
        if args.hate:
            facts.hate = True
        events.append({"event": "incident", "count": facts.incidents, "hate": args.hate})
        if args.hate and facts.risk != "high":
            facts.risk = "high"
            events.append({"event": "risk", "risk": "high", "why": "hate incident"})

    def _do_record_contact(self, args: RecordContact, actor: Actor, now: datetime, events: list[Event]) -> None:
        facts = self.facts
        if facts.first_response_at is None:
            facts.first_response_at = now
        events.append({"event": "contact", "outcome": args.outcome, "method": args.method})
        if args.outcome == "made":
            facts.last_contact_at = now
            facts.failed_contacts = 0
            facts.unable_letter_at = None
            return
        facts.failed_contacts += 1
        threshold = self.profile.enquiry.failed_contacts_before_letter
        if facts.stage == "enquiry" and facts.failed_contacts == threshold and facts.unable_letter_at is None:
            facts.unable_letter_at = now
            self._letter("unable_to_contact", "reporter", events)

    def _do_record_risk_assessment(
        self, args: RecordRiskAssessment, actor: Actor, now: datetime, events: list[Event]
    ) -> None:
        self.facts.risk_assessed_at = now
        self.facts.risk_assessment = args.level
        events.append({"event": "risk_assessment", "level": args.level})

    def _do_agree_action_plan(self, args: AgreeActionPlan, actor: Actor, now: datetime, events: list[Event]) -> None:
        self.facts.contact_every_days = args.contact_every_days
        self.facts.contact_method = args.contact_method
        self._letter("action_plan", "reporter", events)

    def _do_convert_to_case(self, args: Any, actor: Actor, now: datetime, events: list[Event]) -> None:
        self.facts.converted_at = now
        self._move("convert_to_case", events)
        self._letter("initial_letter_reported_person", "reported_person", events)

    def _do_close_enquiry(self, args: CloseWithReason, actor: Actor, now: datetime, events: list[Event]) -> None:
        self._close("close_enquiry", args.reason, now, events)
        self._letter("enquiry_closed", "reporter", events)

    def _do_escalate_risk(self, args: EscalateRisk, actor: Actor, now: datetime, events: list[Event]) -> None:
        self.facts.risk = args.risk
        events.append({"event": "risk", "risk": args.risk, "why": "escalated"})

    def _do_record_case_review(
        self, args: RecordCaseReview, actor: Actor, now: datetime, events: list[Event]
    ) -> None:
        self.facts.last_review_at = now
        self.facts.monitoring_since = now if args.decision == "consider_closure" else None
        events.append({"event": "case_review", "decision": args.decision})

    def _do_start_intervention(
        self, args: StartIntervention, actor: Actor, now: datetime, events: list[Event]
    ) -> None:
        if self.facts.converted_at is None:
            self.facts.converted_at = now
        self.facts.interventions.append(args.kind)
        self._move("start_intervention", events)
        events.append({"event": "intervention", "kind": args.kind})
        if args.kind in INTERVENTION_LETTERS:
            self._letter(INTERVENTION_LETTERS[args.kind], "reported_person", events)

    def _do_record_equality_assessment(self, args: Any, actor: Actor, now: datetime, events: list[Event]) -> None:
        self.facts.equality_assessed_at = now
        self.facts.incidents_at_equality = self.facts.incidents
        events.append({"event": "equality_assessment"})

    def legal_approver(self, kind: str) -> str:
        """The role that must approve a legal remedy (solicitors and eviction need a senior)."""
        approvals = self.profile.approvals
        roles = [approvals.legal_action]
        if kind in COURT_KINDS:
            roles.append(approvals.instruct_solicitors)
        if kind in EVICTION_KINDS:
            roles.append(approvals.eviction)
        return max(roles, key=lambda r: ROLE_RANK[r])

    def _do_propose_legal_action(
        self, args: ProposeLegalAction, actor: Actor, now: datetime, events: list[Event]
    ) -> None:
        facts = self.facts
        # Where the case returns if the action is rejected: an urgent enquiry that went to legal
        # action is a case from then on, so it returns to investigation, not to an expiring enquiry.
        back = {"enquiry": "investigation", "legal": "interventions"}.get(facts.stage, facts.stage)
        action = LegalAction(
            id=facts.next_id("legal"), kind=args.kind, emergency=args.emergency, stage_before=cast(Any, back),
        )
        facts.legal_actions.append(action)
        role = self.legal_approver(args.kind)
        approval = PendingApproval(
            id=facts.next_id("approval"), kind="legal_approval", role=cast(Any, role),
            requested_by=actor.id, requested_at=now, legal_action_id=action.id,
        )
        facts.pending.append(approval)
        events.append({"event": "legal_action", "kind": args.kind, "status": "proposed",
                       "emergency": args.emergency})
        self._task("legal_approval", role, events, after_the_event=args.emergency, approval=approval.id)
        if args.emergency:
            if facts.converted_at is None:
                facts.converted_at = now
            self._move("enter_legal", events)

    def _decide_legal(self, approve: bool, now: datetime, events: list[Event]) -> None:
        facts = self.facts
        pending = facts.pending_of("legal_approval")
        assert pending is not None  # guarded
        facts.pending.remove(pending)
        action = next(a for a in facts.legal_actions if a.id == pending.legal_action_id)
        action.status = "approved" if approve else "rejected"
        events.append({"event": "legal_action", "kind": action.kind, "status": action.status,
                       "emergency": action.emergency})
        if approve:
            if facts.converted_at is None:
                facts.converted_at = now
            self._move("enter_legal", events)
            template = "legal_warning" if action.kind == "legal_warning" else "letter_before_action"
            self._letter(template, "reported_person", events)
        elif facts.stage == "legal" and not facts.open_legal_actions:
            self._move("withdraw_legal", events, target=action.stage_before)

    def _do_approve_legal_action(self, args: Any, actor: Actor, now: datetime, events: list[Event]) -> None:
        self._decide_legal(True, now, events)

    def _do_reject_legal_action(self, args: Any, actor: Actor, now: datetime, events: list[Event]) -> None:
        self._decide_legal(False, now, events)

    def _do_conclude_legal_action(
        self, args: ConcludeLegalAction, actor: Actor, now: datetime, events: list[Event]
    ) -> None:
        action = next(a for a in reversed(self.facts.legal_actions) if a.status == "approved")
        action.status = "concluded"
        action.outcome = args.outcome_ref or "recorded"
        events.append({"event": "legal_action", "kind": action.kind, "status": "concluded"})

    def _do_request_asb_case_review(self, args: Any, actor: Actor, now: datetime, events: list[Event]) -> None:
        self.facts.asb_case_review_since = now
        events.append({"event": "asb_case_review", "applicant": args.applicant, "status": "requested"})
        self._task("asb_case_review", self.profile.approvals.closure, events)

    def on_task_resolved(self, kind: str) -> None:
        if kind == "asb_case_review":
            self.facts.asb_case_review_since = None

    def _do_request_closure(self, args: CloseWithReason, actor: Actor, now: datetime, events: list[Event]) -> None:
        role = self.profile.approvals.closure
        approval = PendingApproval(
            id=self.facts.next_id("approval"), kind="closure_approval", role=role,
            requested_by=actor.id, requested_at=now, reason=args.reason,
        )
        self.facts.pending.append(approval)
        self._task("closure_approval", role, events, reason=args.reason, approval=approval.id)

    def _do_approve_closure(self, args: Any, actor: Actor, now: datetime, events: list[Event]) -> None:
        pending = self.facts.pending_of("closure_approval")
        assert pending is not None and pending.reason is not None  # guarded
        events.append({"event": "decision", "kind": "closure_approval", "decision": "approved"})
        self._close("approve_closure", pending.reason, now, events)
        self._letter("case_closed_reporter", "reporter", events)
        self._letter("satisfaction_survey", "reporter", events)
        self._letter("case_closed_reported_person", "reported_person", events)

    def _do_reject_closure(self, args: Any, actor: Actor, now: datetime, events: list[Event]) -> None:
        pending = self.facts.pending_of("closure_approval")
        assert pending is not None  # guarded
        self.facts.pending.remove(pending)
        events.append({"event": "decision", "kind": "closure_approval", "decision": "rejected"})

    # ------------------------------------------------------------------ time

    def on_deadline(self, kind: str, now: datetime) -> Decision:
        """A deadline passed without what it required: say so, and act where the policy says."""
        facts = self.facts
        events: list[Event] = []
        first_role = self.profile.approvals.escalation_chain[0]
        if kind in BREACH_DEADLINES:
            events.append({"event": "breach", "kind": kind})
            self._task("overdue", first_role, events, deadline=kind)
        elif kind == "enquiry_expiry" and facts.stage == "enquiry":
            self._close("expire_enquiry", "enquiry_expired", now, events)
            self._letter("enquiry_closed", "reporter", events)
        elif kind == "unable_to_contact" and facts.stage == "enquiry":
            self._close("close_unreachable", "unable_to_contact", now, events)
            self._letter("enquiry_closed", "reporter", events)
        elif kind == "investigation_end" and facts.stage == "investigation":
            self._move("begin_review", events)
        elif kind in ("inactivity", "monitoring"):
            self._task("consider_closure", "officer", events, why=kind)
        return Decision(events)

    def task_terms(self, kind: str) -> tuple[list[str], Period]:
        """Who a task goes to next when undecided, and how long each holder has (from the profile)."""
        chain = ["officer", *[r for r in self.profile.approvals.escalation_chain if r != "officer"]]
        if kind == "asb_case_review":
            return chain, self.profile.case_review.complete_within
        return chain, self.profile.approvals.decide_within

    def on_task_escalated(self, approval_id: str | None, task: str, kind: str, role: str, now: datetime) -> Decision:
        """A task was not decided in time and went up the chain; an approval now needs that role."""
        events: list[Event] = [{"event": "escalation", "task": task, "kind": kind, "role": role}]
        pending = next((p for p in self.facts.pending if p.id == approval_id), None)
        if pending is not None:
            pending.escalated_to = cast(Any, role)
            pending.escalated_at = now
        return Decision(events)

    # ------------------------------------------------------------------ start

    @classmethod
    def start(
        cls, reference: str, report: ReportArgs, profile: Profile, now: datetime
    ) -> tuple[Lifecycle, Decision]:
        """A report arrives: triage it and open an enquiry, or give it its outcome."""
        result = triage(report, profile)
        reporter = Party(id=report.reporter.id, anonymous=report.reporter.anonymous,
                         contact_method=report.reporter.contact.method)
        reported = (Party(id=report.reported_person.id) if report.reported_person else None)
        facts = CaseFacts(
            reference=reference, profile=profile.name, outcome=result.outcome, risk=result.risk,
            category=result.category, hate=report.hate, channel=report.channel, officer=report.officer,
            reporter=reporter, reported_person=reported, received_at=now, last_incident_at=now,
            incidents=max(1, report.incidents_last_month),
        )
        lifecycle = cls(facts, profile)
        events: list[Event] = [
            {"event": "triage", "outcome": result.outcome, "risk": result.risk, "category": result.category},
            {"event": "stage", "stage": "enquiry"} if result.outcome == "enquiry" else {},
        ]
        events = [e for e in events if e]
        if result.outcome == "enquiry":
            lifecycle._letter("acknowledgement", "reporter", events)
        else:
            template = "not_asb_outcome" if result.outcome == "not_asb" else "early_support"
            extra = {"routed_to": result.routed_to} if result.routed_to else {}
            lifecycle._close("close_enquiry", result.outcome, now, events)
            events[-1].update(extra)
            lifecycle._letter(template, "reporter", events)
        return lifecycle, Decision(events)


def command_names() -> list[str]:
    return list(ARGS)
