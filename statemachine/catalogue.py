"""The case catalogue: one spec per command and one per deadline kind, the single place each is defined.

A command's spec says everything about it: its argument model, the stages where it is allowed, the
roles that may send it, its free-text field, the approval it asks for or decides, its guard (why it
would be refused now) and its effect (what changes, as timeline events). A deadline kind's spec says
where it runs, the profile setting it reads, how its due time is computed, what happens when it
fires, whether missing it is a breach, and who is told.

Everything else is built from these tables: the lifecycle's checks and effects
(statemachine/lifecycle.py), `open_deadlines` and `on_deadline`, the diagram's timers
(diagrams/lifecycle.py), the API's `GET /commands` and its 403 rule, the CLI's help, the task inbox's
approval commands, and the command tables of the README and docs/scenarios.md (`command_table`).
tests/test_catalogue.py fails when a command or a deadline kind appears anywhere without a spec.

To add a command: its argument model in statemachine/commands.py, its spec (with its guard and
effect) here. To add a deadline kind: its spec here, and the profile setting it reads in
policy/model.py. Guards and effects receive the `Lifecycle` (the facts, the profile, and the helpers
that issue letters, tasks and stage moves); they are pure like it: time arrives as an argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol, cast
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from policy.calendar import WorkingCalendar
from policy.model import REPORT, RISK_ORDER, Milestone, Profile, Risk, Role
from policy.periods import Period
from policy.risk import ScoreError, assess, check_scores, next_assessment_on, with_vulnerable_floor
from statemachine.commands import (
    CASE_STAGES,
    DUPLICATE,
    INCIDENT_TEXT,
    OPEN_OUTCOMES,
    OPEN_STAGES,
    POSSESSION_KINDS,
    ROLE_RANK,
    WITHOUT_CONSENT,
    Actor,
    AddAction,
    AgreeActionPlan,
    AssignOfficer,
    ChangeAction,
    CloseWithReason,
    CommandError,
    CompleteAction,
    ConcludeLegalAction,
    EscalateRisk,
    LegalDecision,
    MakeReferral,
    NoArgs,
    Note,
    ProposeLegalAction,
    RecordCaseReview,
    RecordContact,
    RecordEqualityAssessment,
    RecordIncident,
    RecordMilestone,
    RecordPoliceReport,
    RecordReferralOutcome,
    RecordRiskAssessment,
    ReopenCase,
    ReportArgs,
    RequestAsbCaseReview,
    Stage,
    StartIntervention,
    legal_step,
)
from statemachine.events import (
    ActionChanged,
    ActionPlanAgreed,
    AsbCaseReviewRequested,
    Breach,
    CaseEvent,
    CaseReviewed,
    ContactRecorded,
    Decided,
    EnquiryExpired,
    EqualityAssessed,
    IncidentRecorded,
    InterventionStarted,
    LegalActionChanged,
    Notice,
    OfficerAssigned,
    PoliceInformed,
    Referral,
    ReferralOutcome,
    Reopened,
    RiskAssessed,
    RiskChanged,
)
from statemachine.facts import CaseFacts, LegalAction, PendingApproval, PlannedAction, ReferralFact
from statemachine.patches import (
    ACTION_OVERDUE,
    ACTION_PLAN_VERSIONS,
    ALLOCATION,
    ALLOCATION_TASK,
    CONSIDER_CLOSURE,
    CONTACT_FROM_CONVERSION,
    ENQUIRY_DECISION,
    ENQUIRY_EXPIRY_DECISION,
    EQUALITY_AT_EACH_STEP,
    EQUALITY_REVIEW,
    INCIDENT_DETAILS,
    INCIDENT_SOURCES,
    INDEPENDENT_REVIEWER,
    LINKED_REPORTS,
    OFFICER_PROMPTS,
    REFERRAL_FOLLOW_UP,
    REFERRALS_RECORDED,
    RISK_MATRIX,
    RISK_REVIEW,
    SUPPORT_MOVES_NOTHING,
    TELL_POLICE,
    TELL_THE_POLICE,
    WORKING_DAYS_ONCE,
    action_task_id,
    follow_up_approval,
)
from statemachine.views import TargetStanding

#: A timeline event (statemachine/events.py): effects append them, in the order they happen.
Event = CaseEvent


class Lifecycle(Protocol):
    """What guards and effects may use of the case (statemachine.lifecycle.Lifecycle provides it):
    its facts and profile, the time of the command being checked, and the helpers that issue letters
    and tasks, close the case and move its stage. Named here so the catalogue needs no import of the
    class that reads it."""

    facts: CaseFacts
    profile: Profile
    clock: datetime | None
    #: The behaviour changes in force for this case (statemachine/patches.py).
    patches: frozenset[str]
    #: The bank holidays the workflow holds (None outside workflows: the holidays package).
    holidays: dict[int, frozenset[date]] | None

    def letter(self, template: str, to: str, events: list[Event], version: int | None = None,
               recipient: str | None = None) -> None: ...
    def task(self, kind: str, role: str, events: list[Event], **extra: Any) -> None: ...
    def close(self, trigger: str, reason: str, now: datetime, events: list[Event],
              merged_into: str | None = None) -> None: ...
    def reopen_until(self) -> datetime | None: ...
    def move(self, trigger: str, events: list[Event], target: str | None = None) -> None: ...
    def legal_approver(self, kind: str, instruct_solicitor: bool = False) -> str: ...


ApprovalKind = Literal["closure_approval", "legal_approval"]
Guard = Callable[[Lifecycle, Any, Actor | None], str | None]
Effect = Callable[[Lifecycle, Any, Actor, datetime, list[Event]], None]
Due = Callable[[CaseFacts, Profile, WorkingCalendar, frozenset[str]], datetime | None]
Fire = Callable[[Lifecycle, datetime, list[Event]], None]

#: Everyone who acts on cases; intake staff log reports and incidents only, ops and auditors only read.
OFFICERS: tuple[Role, ...] = ("officer", "manager", "senior_manager")
MANAGERS: tuple[Role, ...] = ("manager", "senior_manager")
INTAKE_AND_OFFICERS: tuple[Role, ...] = ("intake", *OFFICERS)
#: A partner agency's staff record what became of a referral to their agency, and nothing else (which
#: referral is theirs is the door's rule, from the agency their token names: casefile/partners.py).
OFFICERS_AND_PARTNERS: tuple[Role, ...] = (*OFFICERS, "partner")


@dataclass(frozen=True)
class CommandSpec:
    """Everything about one case command."""

    name: str
    #: One line, for the CLI's help, GET /commands and the command tables.
    summary: str
    args: type[BaseModel]
    stages: tuple[Stage, ...]
    effect: Effect
    guard: Guard | None = None
    roles: tuple[Role, ...] = OFFICERS
    #: Whether any officer may send it, not only the case's own (an incident is logged by whoever hears it).
    any_officer: bool = False
    #: Also accepted about a closed case, while it takes ASB Case Review applications (the profile's
    #: `case_review.apply_within_after_closure` after its closure; its guard says what else): the
    #: application, and the applicant's reports to other agencies it rests on (003 §10; issue 11 item 10).
    after_closure: bool = False
    #: The argument holding free text: the doors keep it in the case file and pass `<field>_ref`.
    free_text: str | None = None
    #: Arguments kept in the case file together, as one pending incident row the door writes first (an
    #: incident's place, account, impact and references); the door passes `details_ref` in their place.
    details: tuple[str, ...] = ()
    details_ref: str | None = None
    #: Further arguments that are personal (the protected characteristics an Equality Act assessment
    #: considered): the doors keep them in the case file with the free text's note, never in the workflow.
    kept: tuple[str, ...] = ()
    #: The approval this command asks for, and the approval (with its verdict) it decides.
    asks: ApprovalKind | None = None
    decides: ApprovalKind | None = None
    verdict: Literal["approved", "rejected"] | None = None
    #: Old names scenario files may still use (docs/scenarios.md "Compatibility").
    aliases: tuple[str, ...] = ()
    #: What the web pages call it (its form's heading); else its name, humanised.
    title: str = ""
    #: Valid arguments, for the property tests that play random commands (tests/test_lifecycle_properties.py).
    examples: tuple[dict[str, Any], ...] = ({},)
    clause: str = ""


@dataclass(frozen=True)
class DeadlineSpec:
    """Everything about one kind of deadline."""

    kind: str
    summary: str
    #: Stages in which it runs (its due time is computed only there).
    stages: tuple[Stage, ...]
    #: The profile setting it reads, dotted (`enquiry.length`); shown on the diagram and in the docs.
    setting: str
    #: When it falls due, from the facts, the profile and the working-day calendar; None: not running.
    due: Due | None
    #: What happens when it fires, in words (diagram, docs), and in code (after any breach).
    fires: str
    on_fire: Fire | None = None
    #: Missing it is a breach: recorded, and an `overdue` task for the first of the escalation chain.
    breach: bool = False
    #: Who is told when it fires.
    tells: str = "nobody"
    #: The stage move an interrupting timer fires (its destination is read from STAGE_MOVES).
    trigger: str | None = None
    #: How the timeline names it, when not by its kind (SCENARIOS.md deadline kinds).
    timeline_kind: str | None = None
    #: Letters that promise this date to the reporter (MessageRequest.due).
    promised_by: tuple[str, ...] = ()
    #: Kept by a task's own workflow (workflows/tasks.py), not the case's: drawn, not computed here.
    on_task: bool = False
    clause: str = ""


#: Stage moves: (trigger, sources, destination), the `transitions` Machine's declared triggers.
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
    # A manager reopens a closed case to the stage it closed from (issue 12 item 6).
    *[("reopen_case", ["closed"], stage) for stage in OPEN_STAGES],
]

INTERVENTION_LETTERS = {
    "warning_letter": "warning_letter",
    "acceptable_behaviour_contract": "acceptable_behaviour_contract",
    "good_neighbour_agreement": "good_neighbour_agreement",
}


# =============================================================================================== guards


def _higher(a: str, b: str) -> bool:
    return RISK_ORDER[cast(Any, a)] > RISK_ORDER[cast(Any, b)]


def _urgent_jump_refusal(lc: Lifecycle, where: str) -> str | None:
    if lc.facts.risk != "high":
        return f"only an urgent (high-risk) enquiry may go straight to {where}; convert it to a case first"
    if not lc.facts.officer:
        return "assign an officer first: the reporter needs one point of contact"
    return None


def _legal_open_refusal(lc: Lifecycle) -> str | None:
    open_actions = lc.facts.open_legal_actions
    if open_actions:
        kinds = ", ".join(a.kind for a in open_actions)
        return f"legal action is still open ({kinds}): a case stays open until it has concluded"
    return None


def guard_assign_officer(lc: Lifecycle, args: AssignOfficer | None, actor: Actor | None) -> str | None:
    """Allocating a case and moving it to another officer are the team manager's decisions (003 §8 "allocated
    to the appropriate Team and Officer"; 004 §3.1 a case escalated to red "can be escalated to an ASB &
    Enforcement Officer"), and the reporter keeps one point of contact "throughout" (003 §9), so an officer
    asks their manager rather than handing a case on themselves. A reassignment says why (kept in the case
    file). Before the allocation-task change any officer could assign a case without one, or hand on their own."""
    if ALLOCATION_TASK not in lc.patches:
        return None
    by = lc.profile.allocation.by
    if actor is not None and ROLE_RANK.get(actor.role, -1) < ROLE_RANK[by]:
        who = by.replace("_", " ")
        return f"allocating or reassigning a case is a {who}'s decision: ask your {who}"
    if args is None:
        return None
    current = lc.facts.officer
    if current == args.officer:
        return f"{args.officer} is already the case's officer"
    if current and not (args.reason or args.reason_ref):
        return f"say why the case moves from {current} to {args.officer} (reason, kept in the case file)"
    return None


def guard_record_contact(lc: Lifecycle, args: RecordContact | None, actor: Actor | None) -> str | None:
    if lc.facts.reporter.anonymous:
        return "the reporter is anonymous: there is nobody to contact"
    return None


def guard_agree_action_plan(lc: Lifecycle, args: AgreeActionPlan | None, actor: Actor | None) -> str | None:
    if lc.facts.reporter.anonymous:
        return "the reporter is anonymous: an action plan cannot be agreed or shared"
    rules = lc.profile.contact
    least = rules.least_frequent
    if args is not None and args.contact_every_days > least.longest_days:
        floor = rules.reporter_least_frequent
        if args.reporters_choice and rules.reporter_may_choose_less and floor is not None \
                and args.contact_every_days > floor.longest_days:
            # "unless you agree otherwise", within the standard's own limit (issue 16 item 5)
            return (f"contact every {args.contact_every_days} days is less often than a reporter may choose "
                    f"under this standard (at least every {floor})")
        if args.reporters_choice and rules.reporter_may_choose_less:
            return None  # 001 rec. 3: the reporter chose it, and it is recorded as theirs
        choice = (" unless the reporter chooses it (record it as their choice: reporters_choice)"
                  if rules.reporter_may_choose_less else "")
        return (
            f"contact every {args.contact_every_days} days is less often than this standard allows "
            f"(at least every {least}){choice}"
        )
    return None


def case_review_applications_close(facts: CaseFacts, profile: Profile) -> datetime | None:
    """Until when a closed case takes applications for an ASB Case Review about it (None: not closed).

    The closure letters invite one, and 003 §10 accepts an application "at any time" where the last
    reported incident is within 1 month of it; the profile's `case_review.apply_within_after_closure`
    says for how long after closure (a calendar period: the pure lifecycle has no working-day calendar).
    The case workflow waits this long after closure before it finishes (workflows/case.py)."""
    if facts.closed_at is None:
        return None
    return cast(datetime, profile.case_review.apply_within_after_closure.add_calendar(facts.closed_at))


def _closed_case_refusal(lc: Lifecycle) -> str | None:
    """Why a closed case no longer takes an ASB Case Review application (or the reports it rests on)."""
    facts = lc.facts
    until = case_review_applications_close(facts, lc.profile)
    if not facts.is_closed or until is None or lc.clock is None or lc.clock <= until:
        return None
    assert facts.closed_at is not None
    return (f"the case closed on {facts.closed_at.date():%d %B %Y}: an ASB Case Review about it could be applied "
            f"for within {lc.profile.case_review.apply_within_after_closure} of its closure "
            f"(until {until.date():%d %B %Y})")


def _local_date(lc: Lifecycle, moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(lc.profile.calendar.timezone)).date()


#: The most actions a plan holds: the workflow carries them, so a plan stays small (done ones included).
MAX_ACTIONS = 100


def _plan_refusal(lc: Lifecycle) -> str | None:
    if ACTION_PLAN_VERSIONS not in lc.patches:
        return "this case keeps the rules it started with: its action plan is a contact frequency and method only"
    return None


def _action_date_refusal(lc: Lifecycle, due: date | None) -> str | None:
    """An action's date is from today to a year ahead: a plan is reviewed at least monthly (004 §3.11), and
    the case keeps the working-day calendar that far ahead."""
    if due is None or lc.clock is None:
        return None
    today = _local_date(lc, lc.clock)
    if due < today:
        return f"the action's date {due.isoformat()} has passed: give a date from today"
    if due > today + timedelta(days=366):
        return f"the action's date {due.isoformat()} is more than a year ahead: plan it at a later review"
    return None


def _open_action(lc: Lifecycle, action_id: str) -> PlannedAction | None:
    return next((a for a in lc.facts.actions if a.id == action_id and not a.done), None)


def _open_action_refusal(lc: Lifecycle, action_id: str | None) -> str | None:
    reason = _plan_refusal(lc)
    if reason:
        return reason
    if action_id is None:
        return None if any(not a.done for a in lc.facts.actions) else "the action plan has no open action"
    if _open_action(lc, action_id) is None:
        known = any(a.id == action_id for a in lc.facts.actions)
        return f"action {action_id} is already done" if known else f"the action plan has no action {action_id}"
    return None


def guard_add_action(lc: Lifecycle, args: AddAction | None, actor: Actor | None) -> str | None:
    reason = _plan_refusal(lc)
    if reason:
        return reason
    if len(lc.facts.actions) >= MAX_ACTIONS:
        return f"the action plan has {MAX_ACTIONS} actions: it is time to review it with the reporter"
    return _action_date_refusal(lc, args.due if args else None)


def guard_change_action(lc: Lifecycle, args: ChangeAction | None, actor: Actor | None) -> str | None:
    return _open_action_refusal(lc, args.action if args else None) or _action_date_refusal(
        lc, args.due if args else None)


def guard_complete_action(lc: Lifecycle, args: CompleteAction | None, actor: Actor | None) -> str | None:
    return _open_action_refusal(lc, args.action if args else None)


def guard_record_incident(lc: Lifecycle, args: RecordIncident | None, actor: Actor | None) -> str | None:
    if lc.facts.is_closed:
        closed = _closed_case_refusal(lc)
        if closed:
            return closed
        if args is not None and args.source == "case":
            return ("the case is closed: a new incident is a new report; on a closed case only the applicant's "
                    "reports to the police, the council or another landlord are recorded (source), for an ASB "
                    "Case Review")
    strands = lc.profile.categories.hate_strands
    if args is not None and args.hate_strand is not None and args.hate_strand not in strands:
        return f"unknown hate strand {args.hate_strand!r}; known: {', '.join(strands)}"
    if args is not None:
        given = [name for name in INCIDENT_TEXT if getattr(args, name) is not None]
        if given:  # a door keeps these in the case file; Temporal history must never hold them
            return (f"{given[0]}: an incident's details are kept in the case file: send them through the API "
                    "or the CLI, which pass incident_ref")
    return None


def _duplicate_refusal(lc: Lifecycle, args: CloseWithReason | None) -> str | None:
    if args is None or args.reason != DUPLICATE:
        return None
    if LINKED_REPORTS not in lc.patches:
        return "this case predates closing as a duplicate: close it with another reason"
    if args.merged_into is not None and args.merged_into == lc.facts.reference:
        return "a case cannot be a duplicate of itself: merged_into names the live case"
    return None


def guard_close_enquiry(lc: Lifecycle, args: CloseWithReason | None, actor: Actor | None) -> str | None:
    return _duplicate_refusal(lc, args)
def guard_record_risk_assessment(lc: Lifecycle, args: RecordRiskAssessment | None, actor: Actor | None
                                 ) -> str | None:
    """The scores answer the profile's matrix (every factor, nothing else, each in its range), and the
    next assessment is a date to come, within a year."""
    if args is None:
        return None
    if args.scores is not None:
        try:
            check_scores(lc.profile.risk_matrix, args.scores)
        except ScoreError as exc:
            return str(exc)
    if args.next_assessment_due is not None and lc.clock is not None:
        return next_assessment_refusal(lc.profile, args.next_assessment_due, lc.clock)
    return None


def next_assessment_refusal(profile: Profile, due: date, now: datetime) -> str | None:
    """Why a next-assessment date is refused: it must be after today, and within a year."""
    today = local_date(profile, now)
    if due <= today:
        return f"next_assessment_due {due} is not after today ({today})"
    if due > today + timedelta(days=366):
        return f"next_assessment_due {due} is more than a year away"
    return None


def local_date(profile: Profile, moment: datetime) -> date:
    """The day a moment falls on where the landlord is (the profile's time zone)."""
    return moment.astimezone(ZoneInfo(profile.calendar.timezone)).date()


def guard_convert_to_case(lc: Lifecycle, args: Any, actor: Actor | None) -> str | None:
    if not lc.facts.officer:
        return "assign an officer first: the reporter needs one point of contact"
    if lc.facts.risk_assessed_at is None:
        return "record a risk assessment first"
    return None


def guard_escalate_risk(lc: Lifecycle, args: EscalateRisk | None, actor: Actor | None) -> str | None:
    if args is not None and lc.facts.risk and not _higher(args.risk, lc.facts.risk):
        return f"risk is already {lc.facts.risk}: escalation must raise it"
    return None


def guard_start_intervention(lc: Lifecycle, args: StartIntervention | None, actor: Actor | None) -> str | None:
    # A support referral is a referral, with its agency, consent and follow-up (issue 12 item 8): one
    # concept, recorded by make_referral. Before that change it was an intervention kind with neither.
    referrals = REFERRALS_RECORDED in lc.patches
    if referrals and args is not None and args.kind == "support_referral":
        return ("a support referral is recorded with make_referral: the agency, the consent it is made with "
                "and a follow-up date (003 §9, §15)")
    # Support is offered at any stage and is not escalation (003 §9; 004 §3.3): a support referral
    # may be started even at the legal stage, and from an enquiry without converting it.
    support = (SUPPORT_MOVES_NOTHING in lc.patches and not referrals
               and (args is None or args.kind == "support_referral"))
    if lc.facts.stage == "legal" and not support:
        where = "make_referral" if referrals else "a support referral"
        return ("not allowed at the legal stage (allowed at: enquiry, investigation, review, interventions; "
                f"{where} at any stage)")
    if lc.facts.stage == "enquiry" and not support:
        return _urgent_jump_refusal(lc, "interventions")
    return None


def guard_propose_legal_action(lc: Lifecycle, args: ProposeLegalAction | None, actor: Actor | None) -> str | None:
    facts = lc.facts
    if facts.stage == "enquiry":
        reason = _urgent_jump_refusal(lc, "legal action")
        if reason:
            return reason
    if facts.equality_assessed_at is None:
        return "record an Equality Act assessment first"
    if EQUALITY_AT_EACH_STEP in lc.patches:
        reason = _equality_refusal(facts, args.kind if args is not None else None)
        if reason:
            return reason
    elif facts.incidents > facts.incidents_at_equality:
        return "new incidents since the Equality Act assessment: record a new one first"
    if facts.pending_of("legal_approval"):
        return "a legal action is already awaiting approval"
    if args is not None and args.kind == "warrant_of_eviction" and not any(
            a.kind in POSSESSION_KINDS and a.status in ("approved", "concluded") for a in facts.legal_actions):
        return "a warrant of eviction follows a possession order, and none was approved on this case"
    return None


#: What the lifecycle counts as new information for the Equality Act assessment, which is "updated at
#: pertinent points including ... upon receipt of new and relevant information, for example a psychiatric
#: report" (004 §6.4; 003 §16 "any protected characteristic the perpetrator(s) may have, whether they have
#: any support services in place"): a new incident (004 §3.8 updates the plan "following new incidents"),
#: a change of the case's risk, a new (vulnerability) risk assessment (000 "a vulnerability risk
#: assessment"; 003 §7), and a support referral, which records a support need or vulnerability (003 §11).
NEW_INFORMATION: dict[str, str] = {
    "new_incident": "a new incident",
    "risk_changed": "a change of risk",
    "risk_assessment": "a new risk assessment",
    "support_referral": "a support referral",
}
#: A legal step was taken (approved, or an emergency action begun): the next step needs its own assessment.
LEGAL_STEP_TAKEN = "legal_step"
STEP_WORDS: dict[str, str] = {"notice": "a notice", "court_application": "a court application",
                              "warrant": "a warrant of eviction"}


def _equality_refusal(facts: CaseFacts, kind: str | None) -> str | None:
    """An Equality Act assessment is made before each legal step (notice, court application, warrant) and
    after new information (004 §6.4 "at pertinent points"; 003 §16): the latest must postdate both, must
    not have found legal action disproportionate, and, if it was made for a step, be for this one."""
    needed = facts.equality_needed
    if needed == LEGAL_STEP_TAKEN:
        return ("a legal step was taken since the last Equality Act assessment: record a new one for this step "
                "(004 §6.4)")
    if needed:
        return (f"new information since the Equality Act assessment ({NEW_INFORMATION.get(needed, needed)}): "
                "record a new one first (004 §6.4)")
    if facts.equality_conclusion == "not_proportionate":
        return "the Equality Act assessment found legal action not proportionate: record a new one first"
    made_for = facts.equality_step
    if kind is not None and made_for in STEP_WORDS and made_for != legal_step(kind):
        return (f"the Equality Act assessment was made for {STEP_WORDS[made_for]}, and {kind} is "
                f"{STEP_WORDS[legal_step(kind)]}: record one for this step")
    return None


def guard_decide_legal_action(lc: Lifecycle, args: Any, actor: Actor | None) -> str | None:
    if lc.facts.pending_of("legal_approval") is None:
        return "no legal action is awaiting approval"
    return None


def guard_conclude_legal_action(lc: Lifecycle, args: Any, actor: Actor | None) -> str | None:
    if not any(a.status == "approved" for a in lc.facts.legal_actions):
        return "no approved legal action is open"
    return None


def guard_request_asb_case_review(lc: Lifecycle, args: RequestAsbCaseReview | None, actor: Actor | None
                                  ) -> str | None:
    closed = _closed_case_refusal(lc)
    if closed:
        return closed
    if lc.facts.asb_case_review_since is not None:
        return "an ASB Case Review is already under way"
    if args is None:
        return None
    return _case_review_threshold_refusal(lc, args.applicant, lc.clock)


def _case_review_threshold_refusal(lc: Lifecycle, applicant: str, now: datetime | None) -> str | None:
    """The ASB Case Review thresholds (003 §10, 004 §4.1), from the profile: the last incident
    within a month of the application, and enough incidents in the window."""
    rules = lc.profile.case_review
    facts = lc.facts
    now = now or facts.last_incident_at
    log = [(facts.received_at, facts.hate), *facts.incident_log]
    last = max(when for when, _ in log)
    if rules.last_incident_within.add_calendar(last) < now:
        return f"the last incident was more than {rules.last_incident_within} before the application"
    # 003 §10 counts the incidents "reported from one person within a 3-to-6-month period of the first
    # report that have been made to either, the police, local authority ... or a registered social
    # landlord": the first may be the applicant's report to the police, before this case was opened.
    # Before that change (unpatched histories) the period began at this case's own report.
    first = min(when for when, _ in log) if INCIDENT_SOURCES in lc.patches else facts.received_at
    window_end = rules.window.add_calendar(first)
    in_window = sum(1 for when, _ in log if first <= when <= window_end)
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


def _follow_up_refusal(lc: Lifecycle, follow_up: date | None) -> str | None:
    """A follow-up date is a day after today and within a year (the working-day calendar a deadline
    uses holds the bank holidays of the next two years)."""
    if follow_up is None or lc.clock is None:
        return None
    today = local_date(lc.profile, lc.clock)
    if follow_up <= today:
        return f"the follow-up date {follow_up.isoformat()} must be after today ({today.isoformat()})"
    if follow_up > today + timedelta(days=366):
        return f"the follow-up date {follow_up.isoformat()} is more than a year away"
    return None


def guard_make_referral(lc: Lifecycle, args: MakeReferral | None, actor: Actor | None) -> str | None:
    """A referral goes to an agency the service works with, about a person who can be named, on their
    consent, or without it only where the law allows: a safeguarding concern (to a safeguarding team or
    the police) or a crime (to the police) (003 §9, §15; 004 §2.2, §3.3, §4.4, §4.5)."""
    if args is None:
        return None
    agencies = lc.profile.referrals.agencies
    agency = agencies.get(args.agency)
    if agency is None:
        return f"unknown agency {args.agency!r}; this service refers to: {', '.join(agencies)}"
    reporter = lc.facts.reporter
    if args.person_id is None and (reporter.anonymous or not reporter.id):
        return "the reporter is anonymous: name the person referred (person_id)"
    without = WITHOUT_CONSENT.get(agency.kind, frozenset())
    if args.basis == "consent" and not args.consent_ref:
        other = f", or refer on a {' or '.join(sorted(without))} basis (004 §2.2, §4.4)" if without else ""
        return (f"no referral consent is recorded for the person (or they withdrew it): ask them and record "
                f"their consent first (003 §15){other}")
    if args.basis != "consent" and args.basis not in without:
        return (f"a referral to {args.agency} ({agency.kind}) needs the person's consent: only safeguarding "
                f"teams and the police are referred to without it (004 §2.2, §4.4)")
    return _follow_up_refusal(lc, args.follow_up)


def _referral(lc: Lifecycle, referral_id: str) -> ReferralFact | None:
    return next((r for r in lc.facts.referrals if r.id == referral_id), None)


def guard_record_referral_outcome(lc: Lifecycle, args: RecordReferralOutcome | None, actor: Actor | None
                                  ) -> str | None:
    if args is None:
        return None if any(r.open for r in lc.facts.referrals) else "no referral is open on this case"
    referral = _referral(lc, args.referral)
    if referral is None:
        known = ", ".join(r.id for r in lc.facts.referrals) or "none"
        return f"no referral {args.referral} on this case (referrals: {known})"
    if not referral.open:
        return f"{referral.id} (to {referral.agency}) already has its final outcome"
    return _follow_up_refusal(lc, args.follow_up)


def guard_request_closure(lc: Lifecycle, args: CloseWithReason | None, actor: Actor | None) -> str | None:
    if lc.facts.pending_of("closure_approval"):
        return "closure is already awaiting approval"
    return _duplicate_refusal(lc, args) or _legal_open_refusal(lc)


def guard_approve_closure(lc: Lifecycle, args: Any, actor: Actor | None) -> str | None:
    if lc.facts.pending_of("closure_approval") is None:
        return "no closure is awaiting approval: request_closure first"
    return _legal_open_refusal(lc)


def guard_reject_closure(lc: Lifecycle, args: Any, actor: Actor | None) -> str | None:
    if lc.facts.pending_of("closure_approval") is None:
        return "no closure is awaiting approval"
    return None


def guard_reopen_case(lc: Lifecycle, args: ReopenCase | None, actor: Actor | None) -> str | None:
    """Only within the profile's period after closing (`case.reopen_within`); after that a recurrence is a
    new report. The workflow of a case closed before reopening existed has ended with it."""
    until = lc.reopen_until()
    if until is None:
        return "this case closed before cases could be reopened: log a new report"
    if lc.clock is not None and lc.clock > until:
        return (f"the case closed more than {lc.profile.case.reopen_within} ago: it can no longer be reopened; "
                "log a new report")
    return None


# =============================================================================================== effects


def do_assign_officer(lc: Lifecycle, args: AssignOfficer, actor: Actor, now: datetime, events: list[Event]) -> None:
    """The case gets its officer, or a new one; the letters from then on name them (letters/compose.py reads
    the case row's officer, which this step's projection writes). Answers the allocation task."""
    facts = lc.facts
    previous = facts.officer
    facts.officer = args.officer
    if ALLOCATION_TASK not in lc.patches:
        events.append(OfficerAssigned(officer=args.officer))
        return
    given: dict[str, Any] = {"previous": previous} if previous else {}
    if args.reason_ref:
        given["reason_ref"] = args.reason_ref
    events.append(OfficerAssigned(officer=args.officer, **given))
    if facts.allocation_task_open:
        facts.allocation_task_open = False
        events.append(Decided(kind=ALLOCATION, decision="allocated"))


def allocate(lc: Lifecycle, events: list[Event]) -> None:
    """A new report without an officer: a task for the team's manager to allocate it, due within the
    first-response period (Lifecycle.task_terms), naming the team its risk goes to (003 §8; 004 §3.1).
    Answered on the case by assign_officer; undecided, it goes up the escalation chain."""
    facts = lc.facts
    if ALLOCATION_TASK not in lc.patches or facts.officer or facts.is_closed:
        return
    rules = lc.profile.allocation
    facts.allocation_task_open = True
    lc.task(ALLOCATION, rules.by, events, approval=ALLOCATION, team=rules.team_for(facts.risk))


def do_record_incident(lc: Lifecycle, args: RecordIncident, actor: Actor, now: datetime, events: list[Event]) -> None:
    facts = lc.facts
    facts.incidents += 1
    facts.last_incident_at = max(args.occurred_at or now, facts.last_incident_at)
    hate = args.hate or args.hate_strand is not None
    # Every incident counts towards the ASB Case Review thresholds (003 §10), an attached report's too.
    facts.incident_log.append((args.occurred_at or now, hate))
    recorded = IncidentRecorded(count=facts.incidents, hate=hate, occurred_at=(args.occurred_at or now).isoformat(),
                                category=args.category or facts.category,
                                **({"hate_strand": args.hate_strand} if args.hate_strand else {}),
                                **_incident_facts(args),
                                **({"source": args.source} if args.source != "case" else {}))
    if facts.is_closed:
        # The applicant's report to another agency, recorded for an ASB Case Review about the closed case
        # (003 §10): it counts toward the thresholds and changes nothing else of the case as it closed.
        events.append(recorded)
        return
    facts.monitoring_since = None
    # A later hate incident marks the case as hate, and its strand is the case's latest: both feed
    # reporting of hate-related cases (004 §6.4; issue 11 item 15), not only the first report's.
    if hate:
        facts.hate = True
    if args.hate_strand is not None:
        facts.hate_strand = args.hate_strand
    # Who reported it and where its details are go on the event whatever the case's patches: arguments a
    # recorded history never carried add nothing to its replay, and a case opened before this change still
    # confirms the details its door wrote. What the incident *does* (the risk it raises) is the patch's.
    events.append(recorded)
    # An incident the applicant reported to the police is one the police already know of (004 §3.5).
    if hate and not (args.source == "police" and INCIDENT_SOURCES in lc.patches):
        tell_the_police(lc, events)
    if hate and facts.risk != "high":
        facts.risk = "high"
        events.append(RiskChanged(risk="high", why="hate incident"))
    elif INCIDENT_DETAILS in lc.patches and facts.risk != "high" and _raises_to_high(lc, args):
        # Violence, threats or an injury make the case urgent, as they would a first report (003 §8 table).
        facts.risk = "high"
        events.append(RiskChanged(risk="high", why=_raises_to_high(lc, args)))
    if LINKED_REPORTS in lc.patches and args.acknowledge and args.reporter_id:
        # A report attached to this open case, not a new one: its reporter is told so (issue 12 item 6).
        lc.letter("acknowledgement_attached", "reporter", events, recipient=args.reporter_id)
    new_information(lc, "new_incident", events)


def new_information(lc: Lifecycle, why: str, events: list[Event]) -> None:
    """New and relevant information (NEW_INFORMATION): the Equality Act assessment must be made again before
    the next legal step, and, while legal action is open, the officer gets a task to make it now (004 §6.4)."""
    facts = lc.facts
    if facts.equality_assessed_at is None:
        return  # nothing to update: the first assessment comes before the first legal step anyway
    facts.equality_needed = why
    if EQUALITY_AT_EACH_STEP in lc.patches and facts.open_legal_actions and not facts.equality_task_open:
        facts.equality_task_open = True
        lc.task(EQUALITY_REVIEW, "officer", events, approval=EQUALITY_REVIEW, why=why)


def _incident_facts(args: RecordIncident) -> dict[str, Any]:
    """What the timeline carries of an incident besides its moment and category: ids and flags only."""
    out: dict[str, Any] = {}
    for name in ("reported_by", "incident_ref", "reporter_id"):
        if getattr(args, name) is not None:
            out[name] = getattr(args, name)
    for name in ("violence_or_threats", "injured"):
        if getattr(args, name):
            out[name] = True
    return out


def _raises_to_high(lc: Lifecycle, args: RecordIncident) -> str:
    """Why this incident makes the case high risk (empty if it does not): as triage would for a report."""
    if args.violence_or_threats:
        return "violence or threats"
    if args.injured:
        return "someone was injured"
    if args.category is not None and args.category in lc.profile.triage.high_risk:
        words = args.category.replace("_", " ")
        return f"{'an' if words[:1] in 'aeiou' else 'a'} {words} incident"
    return ""


def tell_the_police(lc: Lifecycle, events: list[Event]) -> None:
    """A hate incident: the reporter is told "we will tell the police" (the acknowledgement), so the
    officer gets a task to do it (004 §3.5 "make sure the Police are aware"; 003 §5), answered by
    record_police_report with the police's reference (issue 11 item 11)."""
    facts = lc.facts
    if TELL_THE_POLICE in lc.patches and facts.police_told_at is None and not facts.police_task_open:
        facts.police_task_open = True
        lc.task(TELL_POLICE, "officer", events, approval=TELL_POLICE)


def do_record_police_report(lc: Lifecycle, args: RecordPoliceReport, actor: Actor, now: datetime,
                            events: list[Event]) -> None:
    lc.facts.police_told_at = now
    events.append(PoliceInformed(reference_ref=args.police_reference_ref) if args.police_reference_ref
                  else PoliceInformed())
    if lc.facts.police_task_open:
        lc.facts.police_task_open = False
        events.append(Decided(kind=TELL_POLICE, decision="done"))


def do_record_contact(lc: Lifecycle, args: RecordContact, actor: Actor, now: datetime, events: list[Event]) -> None:
    facts = lc.facts
    if facts.first_response_at is None:
        facts.first_response_at = now
    events.append(ContactRecorded(outcome=args.outcome, method=args.method))  # its note is on the command event
    if args.outcome == "made":
        facts.last_contact_at = now
        facts.failed_contacts = 0
        facts.unable_letter_at = None
        return
    facts.failed_contacts += 1
    threshold = lc.profile.enquiry.failed_contacts_before_letter
    if facts.stage == "enquiry" and facts.failed_contacts == threshold and facts.unable_letter_at is None:
        facts.unable_letter_at = now
        lc.letter("unable_to_contact", "reporter", events)


def do_record_risk_assessment(
    lc: Lifecycle, args: RecordRiskAssessment, actor: Actor, now: datetime, events: list[Event]
) -> None:
    """The level comes from the profile's matrix (004 §3.4 "a risk assessment matrix"; 003 §8 stage 3
    "assess level of risk, persistence and impact"), or is the level an older scenario file gives. A
    vulnerable reporter's case is at least the matrix's floor (003 §10 "the victim's vulnerability";
    004 §3.5), a higher level raises the case's risk, and the next assessment is set: the date given, or
    the profile's interval for the level (003 §8 stage 1 "when a new risk assessment is due"). Before
    that change (unpatched histories) only the level was recorded."""
    facts = lc.facts
    matrix = lc.profile.risk_matrix
    facts.risk_assessed_at = now
    if RISK_MATRIX not in lc.patches:
        level = args.level or assess(matrix, scores=args.scores, level=None, reporter_vulnerable=False).level
        facts.risk_assessment = level
        events.append(RiskAssessed(level=level))
        new_information(lc, "risk_assessment", events)
        return
    vulnerable = facts.reporter.vulnerable if args.reporter_vulnerable is None else args.reporter_vulnerable
    facts.reporter.vulnerable = vulnerable
    found = assess(matrix, scores=args.scores, level=args.level, reporter_vulnerable=vulnerable)
    facts.risk_assessment = found.level
    facts.risk_review_on = args.next_assessment_due or next_assessment_on(matrix, found.level,
                                                                          local_date(lc.profile, now))
    extra: dict[str, Any] = {}
    if args.scores is not None:
        extra.update(scores=dict(args.scores), total=found.total)
    if found.scored != found.level:
        extra["scored"] = found.scored
    if vulnerable:
        extra["vulnerable"] = True
    events.append(RiskAssessed(level=found.level, next_due=facts.risk_review_on.isoformat(), **extra))
    if facts.risk is None or _higher(found.level, facts.risk):
        facts.risk = found.level
        events.append(RiskChanged(risk=found.level, why="risk assessment"))
    if facts.risk_review_task_open:
        facts.risk_review_task_open = False
        events.append(Decided(kind=RISK_REVIEW, decision="done"))
    new_information(lc, "risk_assessment", events)


def raise_for_vulnerable_reporter(lc: Lifecycle, events: list[Event]) -> None:
    """A report from a reporter who carries a vulnerability flag: the case is at least the matrix's floor
    (003 §10 "the victim's vulnerability and/or the potential for harm"; 004 §3.4-3.5, the reporter's
    support needs and risk of harm decide the priority)."""
    facts = lc.facts
    if RISK_MATRIX not in lc.patches or facts.risk is None:
        return
    raised = with_vulnerable_floor(lc.profile.risk_matrix, facts.risk, facts.reporter.vulnerable)
    if raised != facts.risk:
        facts.risk = raised
        events.append(RiskChanged(risk=raised, why="vulnerable reporter"))


def do_agree_action_plan(lc: Lifecycle, args: AgreeActionPlan, actor: Actor, now: datetime, events: list[Event]
                         ) -> None:
    facts = lc.facts
    facts.contact_every_days = args.contact_every_days
    facts.contact_method = args.contact_method
    if ACTION_PLAN_VERSIONS not in lc.patches:
        events.append(ActionPlanAgreed(contact_every_days=args.contact_every_days,
                                       contact_method=args.contact_method, reporters_choice=args.reporters_choice))
        lc.letter("action_plan", "reporter", events)
        return
    # Agreeing the plan (or agreeing it again) is a new version, and the reporter's letter states exactly
    # that version: its actions and this frequency and method (004 §3.2 "agree a written action plan, which
    # will be shared with the reporter"; 000 "You'll receive a copy").
    facts.plan_version += 1
    events.append(ActionPlanAgreed(contact_every_days=args.contact_every_days, contact_method=args.contact_method,
                                   reporters_choice=args.reporters_choice, version=facts.plan_version))
    lc.letter("action_plan", "reporter", events, version=facts.plan_version)


def _new_version(lc: Lifecycle) -> int | None:
    """A change to an agreed plan is its next version (None: the plan is still being drawn up, not agreed)."""
    if lc.facts.plan_version == 0:
        return None
    lc.facts.plan_version += 1
    return lc.facts.plan_version


def _share(lc: Lifecycle, version: int | None, events: list[Event]) -> None:
    """004 §3.8: an action "should always be shared with the reporting customer": each new version of an
    agreed plan goes to the reporter, stating that version."""
    if version is not None:
        lc.letter("action_plan", "reporter", events, version=version)


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def do_add_action(lc: Lifecycle, args: AddAction, actor: Actor, now: datetime, events: list[Event]) -> None:
    facts = lc.facts
    action = PlannedAction(id=f"A{len(facts.actions) + 1}", who=args.who, due=args.due)
    facts.actions.append(action)
    version = _new_version(lc)
    events.append(ActionChanged(action=action.id, change="added", who=action.who, due=action.due.isoformat(),
                                **_given(what_ref=args.what_ref, version=version)))
    _share(lc, version, events)


def do_change_action(lc: Lifecycle, args: ChangeAction, actor: Actor, now: datetime, events: list[Event]) -> None:
    action = _open_action(lc, args.action)
    assert action is not None  # guarded
    moved = args.due is not None and args.due != action.due
    action.who = args.who or action.who
    action.due = args.due or action.due
    version = _new_version(lc)
    events.append(ActionChanged(action=action.id, change="changed",
                                **_given(who=args.who, due=args.due.isoformat() if args.due else None,
                                         what_ref=args.what_ref, version=version)))
    if moved and action.chased:  # a new date agreed answers the overdue task
        action.chased = False
        events.append(Decided(kind=ACTION_OVERDUE, decision="rescheduled", approval=action_task_id(action.id)))
    _share(lc, version, events)


def do_complete_action(lc: Lifecycle, args: CompleteAction, actor: Actor, now: datetime, events: list[Event]
                       ) -> None:
    action = _open_action(lc, args.action)
    assert action is not None  # guarded
    action.done = True
    version = _new_version(lc)
    events.append(ActionChanged(action=action.id, change="done", **_given(version=version)))
    if action.chased:
        events.append(Decided(kind=ACTION_OVERDUE, decision="done", approval=action_task_id(action.id)))
    _share(lc, version, events)


def decide_enquiry(lc: Lifecycle, decision: str, events: list[Event]) -> None:
    """An enquiry awaiting the officer's decision at expiry is decided by converting or closing it
    (003 stage 1; issue 11 item 4): its decision task is answered on the case."""
    if lc.facts.enquiry_decision_since is not None:
        lc.facts.enquiry_decision_since = None
        events.append(Decided(kind=ENQUIRY_DECISION, decision=decision))


def do_convert_to_case(lc: Lifecycle, args: Any, actor: Actor, now: datetime, events: list[Event]) -> None:
    lc.facts.converted_at = now
    lc.move("convert_to_case", events)
    lc.letter("initial_letter_reported_person", "reported_person", events)


def do_close_enquiry(lc: Lifecycle, args: CloseWithReason, actor: Actor, now: datetime, events: list[Event]) -> None:
    decide_enquiry(lc, "closed", events)
    lc.close("close_enquiry", args.reason, now, events, merged_into=args.merged_into)
    if not _silent_duplicate(lc, args.reason):
        lc.letter("enquiry_closed", "reporter", events)


def _silent_duplicate(lc: Lifecycle, reason: str) -> bool:
    """A duplicate of a live case is closed without a closure letter: its matter is not closed, and a
    letter saying "your case is closed" (or why) would contradict the live case (issue 12 item 6)."""
    return reason == DUPLICATE and LINKED_REPORTS in lc.patches


def do_escalate_risk(lc: Lifecycle, args: EscalateRisk, actor: Actor, now: datetime, events: list[Event]) -> None:
    """A case raised to high risk is assessed again that day: "we will complete a risk assessment
    (Appendix 2) on all cases that fall within a red category" (004 §3.5, §3.4). Before that change
    (unpatched histories) escalation moved no assessment."""
    facts = lc.facts
    facts.risk = args.risk
    events.append(RiskChanged(risk=args.risk, why="escalated"))
    if RISK_MATRIX in lc.patches and args.risk == "high":
        today = local_date(lc.profile, now)
        if facts.risk_review_on is None or facts.risk_review_on > today:
            facts.risk_review_on = today
    new_information(lc, "risk_changed", events)


def do_record_case_review(lc: Lifecycle, args: RecordCaseReview, actor: Actor, now: datetime, events: list[Event]
                          ) -> None:
    lc.facts.last_review_at = now
    lc.facts.monitoring_since = now if args.decision == "consider_closure" else None
    events.append(CaseReviewed(decision=args.decision, reason_ref=args.reason_ref) if args.reason_ref
                  else CaseReviewed(decision=args.decision))
    if args.reason or args.reason_ref or args.decision == "consider_closure":
        answer_closure_prompt(lc, "kept_open" if args.decision == "continue" else "monitoring", events)


def answer_closure_prompt(lc: Lifecycle, decision: str, events: list[Event]) -> None:
    """The officer answered "consider closure": by requesting closure, or by a recorded decision to
    keep the case open (with a reason) or to monitor it further (003 stage 3; 004 §3.13)."""
    if lc.facts.closure_prompt_since is not None:
        lc.facts.closure_prompt_since = None
        events.append(Decided(kind=CONSIDER_CLOSURE, decision=decision))


def do_start_intervention(lc: Lifecycle, args: StartIntervention, actor: Actor, now: datetime, events: list[Event]
                          ) -> None:
    if args.kind == "support_referral" and SUPPORT_MOVES_NOTHING in lc.patches:
        # Support is offered at any stage and is not escalation: the case stays where it is
        # (003 §9 "referrals to other support agencies, as and when required"; 004 §3.3).
        lc.facts.interventions.append(args.kind)
        events.append(InterventionStarted(kind=args.kind))
        new_information(lc, "support_referral", events)
        return
    if lc.facts.converted_at is None:
        lc.facts.converted_at = now
    lc.facts.interventions.append(args.kind)
    lc.move("start_intervention", events)
    events.append(InterventionStarted(kind=args.kind))
    if args.kind in INTERVENTION_LETTERS:
        lc.letter(INTERVENTION_LETTERS[args.kind], "reported_person", events)


def do_make_referral(lc: Lifecycle, args: MakeReferral, actor: Actor, now: datetime, events: list[Event]) -> None:
    """Record the referral; the case stays where it is (support is not escalation: 003 §9, 004 §3.3)
    and its follow-up date starts the referral_follow_up deadline."""
    facts = lc.facts
    agency = lc.profile.referrals.agencies[args.agency]
    follow_up = args.follow_up or lc.profile.referrals.follow_up_after.add_calendar(local_date(lc.profile, now))
    referral = ReferralFact(id=facts.next_id("referral"), agency=args.agency, kind=agency.kind, follow_up=follow_up)
    facts.referrals.append(referral)
    given: dict[str, Any] = {"consent_ref": args.consent_ref} if args.consent_ref else {}
    events.append(Referral(to=args.agency, reason=agency.kind, id=referral.id,
                           person_id=args.person_id or facts.reporter.id, basis=args.basis, **given,
                           follow_up=follow_up.isoformat()))
    # A referral for support is new information for the Equality Act assessment (004 §6.4).
    new_information(lc, "support_referral", events)


def do_record_referral_outcome(lc: Lifecycle, args: RecordReferralOutcome, actor: Actor, now: datetime,
                               events: list[Event]) -> None:
    """An open outcome keeps the referral open: no response is chased again (on the date given, or
    after the profile's follow_up_after); an accepted one is followed up only on a date given. A final
    outcome closes it. Either answers its follow-up task, if one is open."""
    referral = _referral(lc, args.referral)
    assert referral is not None  # guarded
    tasked = referral.tasked
    referral.open = args.outcome in OPEN_OUTCOMES
    follow_up = args.follow_up
    if follow_up is None and args.outcome == "no_response":
        follow_up = lc.profile.referrals.follow_up_after.add_calendar(local_date(lc.profile, now))
    referral.follow_up = follow_up if referral.open else None
    referral.tasked = False
    events.append(ReferralOutcome(id=referral.id, outcome=args.outcome, follow_up=follow_up.isoformat())
                  if follow_up is not None and referral.open else ReferralOutcome(id=referral.id, outcome=args.outcome))
    if tasked:
        events.append(Decided(kind=REFERRAL_FOLLOW_UP, decision=args.outcome, approval=follow_up_approval(referral.id)))


def do_record_equality_assessment(lc: Lifecycle, args: RecordEqualityAssessment, actor: Actor, now: datetime,
                                  events: list[Event]) -> None:
    facts = lc.facts
    facts.equality_assessed_at = now
    facts.incidents_at_equality = facts.incidents
    if EQUALITY_AT_EACH_STEP not in lc.patches:
        events.append(EqualityAssessed())
        return
    facts.equality_step = args.step
    facts.equality_conclusion = args.conclusion
    facts.equality_needed = None
    events.append(EqualityAssessed(**_given(step=args.step, conclusion=args.conclusion,
                                            assessment_ref=args.note_ref)))
    if facts.equality_task_open:
        facts.equality_task_open = False
        events.append(Decided(kind=EQUALITY_REVIEW, decision="assessed"))


def _legal_step_taken(lc: Lifecycle) -> None:
    """A legal step was taken: the next one needs an assessment of its own (004 §6.4)."""
    lc.facts.equality_needed = lc.facts.equality_needed or LEGAL_STEP_TAKEN


def do_propose_legal_action(
    lc: Lifecycle, args: ProposeLegalAction, actor: Actor, now: datetime, events: list[Event]
) -> None:
    facts = lc.facts
    # Where the case returns if the action is rejected: an urgent enquiry that went to legal
    # action is a case from then on, so it returns to investigation, not to an expiring enquiry.
    back = {"enquiry": "investigation", "legal": "interventions"}.get(facts.stage, facts.stage)
    action = LegalAction(
        id=facts.next_id("legal"), kind=args.kind, emergency=args.emergency, stage_before=cast(Any, back),
        instruct_solicitor=args.instruct_solicitor, case_review_meeting=args.case_review_meeting,
    )
    facts.legal_actions.append(action)
    role = lc.legal_approver(args.kind, args.instruct_solicitor)
    approval = PendingApproval(
        id=facts.next_id("approval"), kind="legal_approval", role=cast(Any, role),
        requested_by=actor.id, requested_at=now, legal_action_id=action.id,
    )
    facts.pending.append(approval)
    events.append(LegalActionChanged(kind=args.kind, status="proposed", emergency=args.emergency,
                                     **_legal_facts(action)))
    lc.task("legal_approval", role, events, after_the_event=args.emergency, approval=approval.id)
    if args.emergency:
        if facts.converted_at is None:
            facts.converted_at = now
        lc.move("enter_legal", events)
        _legal_step_taken(lc)


def _legal_facts(action: LegalAction) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if action.instruct_solicitor:
        out["instruct_solicitor"] = True
    if action.case_review_meeting is not None:
        out["case_review_meeting"] = action.case_review_meeting.isoformat()
    return out


def _decide_legal(lc: Lifecycle, approve: bool, now: datetime, events: list[Event],
                  meeting: datetime | None = None) -> None:
    facts = lc.facts
    pending = facts.pending_of("legal_approval")
    assert pending is not None  # guarded
    facts.pending.remove(pending)
    action = next(a for a in facts.legal_actions if a.id == pending.legal_action_id)
    action.status = "approved" if approve else "rejected"
    if meeting is not None:  # e.g. the review held after an emergency action (004 §3.12)
        action.case_review_meeting = meeting
    events.append(LegalActionChanged(kind=action.kind, status=action.status, emergency=action.emergency,
                                     **_legal_facts(action)))
    if approve:
        if facts.converted_at is None:
            facts.converted_at = now
        lc.move("enter_legal", events)
        if not action.emergency:  # an emergency action's step was taken when it began
            _legal_step_taken(lc)
        template = "legal_warning" if action.kind == "legal_warning" else "letter_before_action"
        lc.letter(template, "reported_person", events)
    elif facts.stage == "legal" and not facts.open_legal_actions:
        lc.move("withdraw_legal", events, target=action.stage_before)


def do_approve_legal_action(lc: Lifecycle, args: LegalDecision, actor: Actor, now: datetime, events: list[Event]
                            ) -> None:
    _decide_legal(lc, True, now, events, args.case_review_meeting)


def do_reject_legal_action(lc: Lifecycle, args: LegalDecision, actor: Actor, now: datetime, events: list[Event]
                           ) -> None:
    _decide_legal(lc, False, now, events, args.case_review_meeting)


def do_conclude_legal_action(
    lc: Lifecycle, args: ConcludeLegalAction, actor: Actor, now: datetime, events: list[Event]
) -> None:
    action = next(a for a in reversed(lc.facts.legal_actions) if a.status == "approved")
    action.status = "concluded"
    action.outcome = args.outcome_ref or "recorded"
    events.append(LegalActionChanged(kind=action.kind, status="concluded"))


def do_request_asb_case_review(lc: Lifecycle, args: RequestAsbCaseReview, actor: Actor, now: datetime,
                               events: list[Event]) -> None:
    lc.facts.asb_case_review_since = now
    events.append(AsbCaseReviewRequested(applicant=args.applicant, status="requested"))
    # The review is independent (004 §8 "an independent ASB expert"; 003 §10 "not a complaints process"
    # about those who worked the case): the manager who approved the closure under review may not decide
    # it (its task workflow refuses them, workflows/tasks.py `refusal`).
    approver = lc.facts.closure_approved_by if INDEPENDENT_REVIEWER in lc.patches else None
    lc.task("asb_case_review", lc.profile.approvals.closure, events, **({"not_by": approver} if approver else {}))


def do_request_closure(lc: Lifecycle, args: CloseWithReason, actor: Actor, now: datetime, events: list[Event]
                       ) -> None:
    answer_closure_prompt(lc, "closure", events)
    role = lc.profile.approvals.closure
    approval = PendingApproval(
        id=lc.facts.next_id("approval"), kind="closure_approval", role=role,
        requested_by=actor.id, requested_at=now, reason=args.reason, merged_into=args.merged_into,
    )
    lc.facts.pending.append(approval)
    lc.task("closure_approval", role, events, reason=args.reason, approval=approval.id)


def do_approve_closure(lc: Lifecycle, args: Any, actor: Actor, now: datetime, events: list[Event]) -> None:
    pending = lc.facts.pending_of("closure_approval")
    assert pending is not None and pending.reason is not None  # guarded
    events.append(Decided(kind="closure_approval", decision="approved"))
    if INDEPENDENT_REVIEWER in lc.patches:
        lc.facts.closure_approved_by = actor.id  # who may not review it (004 §8)
    lc.close("approve_closure", pending.reason, now, events, merged_into=pending.merged_into)
    if _silent_duplicate(lc, pending.reason):
        return
    lc.letter("case_closed_reporter", "reporter", events)
    lc.letter("satisfaction_survey", "reporter", events)
    lc.letter("case_closed_reported_person", "reported_person", events)


def do_reject_closure(lc: Lifecycle, args: Any, actor: Actor, now: datetime, events: list[Event]) -> None:
    pending = lc.facts.pending_of("closure_approval")
    assert pending is not None  # guarded
    lc.facts.pending.remove(pending)
    events.append(Decided(kind="closure_approval", decision="rejected"))


def do_reopen_case(lc: Lifecycle, args: ReopenCase, actor: Actor, now: datetime, events: list[Event]) -> None:
    """Back to the stage it closed from, with its reference, history and counts; its clocks (first
    response, enquiry length, reviews, contact, inactivity) count from now, so nothing falls due at once
    for the time it was closed (issue 12 item 6)."""
    facts = lc.facts
    target = facts.closed_from or "enquiry"
    facts.closed_at = None
    facts.closure_reason = None
    facts.closure_approved_by = None  # a later closure has its own approver
    facts.reopened_at = now
    facts.outcome = "enquiry"  # a report closed at triage and reopened is worked as an enquiry
    for moment in ("monitoring_since", "closure_prompt_since", "unable_letter_at", "enquiry_decision_since"):
        setattr(facts, moment, None)
    events.append(Reopened(stage=target, by=actor.id, reason_ref=args.reason_ref) if args.reason_ref
                  else Reopened(stage=target, by=actor.id))
    lc.move("reopen_case", events, target=target)


# =============================================================================================== commands

def _milestones(facts: CaseFacts, profile: Profile) -> dict[str, Milestone]:
    """The milestones of the case's priority (none without the landlord's own priorities)."""
    priority = profile.priority_for(facts.category, facts.risk)
    return dict(profile.priorities[priority].milestones) if priority is not None else {}


def milestone_due(facts: CaseFacts, profile: Profile, calendar: WorkingCalendar) -> dict[str, datetime]:
    """When each milestone not yet met nor missed falls due: its `within` from the report (or the case's
    reopening) or from the earlier milestone it follows, once that is met; one that follows a milestone
    not yet met is not running."""
    found: dict[str, datetime] = {}
    for name, milestone in _milestones(facts, profile).items():
        if name in facts.milestones_met or name in facts.milestones_missed:
            continue
        if milestone.after == REPORT:
            since: datetime | None = _latest(facts.received_at, facts.reopened_at) or facts.received_at
        else:
            since = facts.milestones_met.get(milestone.after)
        if since is not None:
            found[name] = calendar.due_after(since, milestone.within)
    return found


def due_milestone(facts: CaseFacts, profile: Profile, calendar: WorkingCalendar,
                  patches: frozenset[str]) -> datetime | None:
    due = milestone_due(facts, profile, calendar)
    return min(due.values()) if due else None


def fire_milestone(lc: Lifecycle, now: datetime, events: list[Event]) -> None:
    """Each milestone whose deadline has passed unmet is missed once: a breach named after it (unless the
    profile says it is none) and an overdue task for its `tells` role (issue 16 item 2), by the bank holidays
    the workflow handed the lifecycle (`Lifecycle.holidays`)."""
    milestones = _milestones(lc.facts, lc.profile)
    calendar = WorkingCalendar.from_rules(lc.profile.calendar, holidays_by_year=lc.holidays)
    for name, due in milestone_due(lc.facts, lc.profile, calendar).items():
        if due <= now:
            lc.facts.milestones_missed.append(name)
            if milestones[name].breach:
                events.append(Breach(kind=f"milestone:{name}"))
            lc.task("overdue", milestones[name].tells, events, deadline=f"milestone:{name}")
            if milestones[name].notify is not None:
                events.append(Notice(role=milestones[name].notify, about="breach", kind=f"milestone:{name}"))


def guard_record_milestone(lc: Lifecycle, args: RecordMilestone | None, actor: Actor | None) -> str | None:
    milestones = _milestones(lc.facts, lc.profile)
    if not milestones:
        return "this standard sets no milestones for the case's priority"
    if args is None:
        return None
    if args.milestone not in milestones:
        return f"{args.milestone!r} is not a milestone of the case's priority; its milestones: {', '.join(milestones)}"
    if args.milestone in lc.facts.milestones_met:
        return f"{milestones[args.milestone].title} was already recorded"
    after = milestones[args.milestone].after
    if after != REPORT and after not in lc.facts.milestones_met:
        return f"{milestones[args.milestone].title} follows {milestones[after].title}: record that first"
    return None


def do_record_milestone(lc: Lifecycle, args: RecordMilestone, actor: Actor, now: datetime,
                        events: list[Event]) -> None:
    """A milestone met: the next one measured from it starts (issue 16 item 2). Met late, it still counts
    as met; its breach, if any, was recorded when it was missed."""
    lc.facts.milestones_met[args.milestone] = now
    events.append(Decided(kind=f"milestone:{args.milestone}", decision="met"))


_LEGAL_STAGES: tuple[Stage, ...] = ("legal",)

_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("assign_officer", "give the case its officer (the reporter's one point of contact), or move it to "
                "another with a reason: the team manager's decision (profile `allocation.by`)",
                AssignOfficer, OPEN_STAGES, do_assign_officer, guard_assign_officer, free_text="reason",
                examples=({"officer": "o1"}, {"officer": "o2", "reason_ref": "N-3"}),
                title="Assign or reassign the officer", clause="003 §8, §9; 004 §3.1"),
    CommandSpec("record_incident", "log a further incident: when, where, what, who reported it, its impact "
                "(hate, violence, threats or an injury make the case high risk); or the applicant's report to "
                "the police, the council or another landlord (source)",
                RecordIncident, OPEN_STAGES, do_record_incident, guard_record_incident, roles=INTAKE_AND_OFFICERS,
                any_officer=True, after_closure=True, details=INCIDENT_TEXT, details_ref="incident_ref",
                examples=({}, {"hate": True}, {"reported_by": "police", "incident_ref": "I-1"},
                          {"reported_by": "witness", "violence_or_threats": True}, {"source": "police"}),
                title="Record an incident", clause="003 §10, §12; 004 §6.4"),
    CommandSpec("record_contact", "record a contact with the reporter, made or failed, with a note of it",
                RecordContact, OPEN_STAGES, do_record_contact, guard_record_contact, free_text="note",
                examples=({"outcome": "made", "method": "phone"}, {"outcome": "failed", "method": "phone"},
                          {"outcome": "made", "method": "visit", "note_ref": "N-1"}),
                title="Record a contact", clause="003 §8 stage 1"),
    CommandSpec("record_milestone", "record that a response milestone of the standard was met (an interview, "
                "an assessment, the lead officer's call): the next one counts from it", RecordMilestone,
                OPEN_STAGES, do_record_milestone, guard_record_milestone,
                examples=({"milestone": "interview"},), title="Record a milestone met", clause="issue 16 item 2"),
    CommandSpec("record_risk_assessment", "score the profile's risk matrix: the level follows, and the next "
                "assessment is set", RecordRiskAssessment, OPEN_STAGES, do_record_risk_assessment,
                guard_record_risk_assessment,
                examples=({"level": "high"}, {"scores": {"persistence": 1, "impact": 1, "vulnerability": 0}},
                          {"scores": {"persistence": 3, "impact": 3, "vulnerability": 2},
                           "reporter_vulnerable": True}),
                title="Record a risk assessment", clause="004 §3.4; 003 §8 stage 3"),
    CommandSpec("agree_action_plan", "agree how often, and how, the reporter is contacted", AgreeActionPlan,
                OPEN_STAGES, do_agree_action_plan, guard_agree_action_plan,
                examples=({"contact_every_days": 14}, {"contact_every_days": 60}),
                title="Agree an action plan", clause="003 §9"),
    CommandSpec("add_action", "add an action to the reporter's action plan: what, who (officer, reporter or a "
                "partner agency) and by when", AddAction, OPEN_STAGES, do_add_action, guard_add_action,
                free_text="what",
                examples=({"what_ref": "N-1", "who": "officer", "due": "2026-03-20"},
                          {"what_ref": "N-2", "who": "police", "due": "2026-04-30"}),
                title="Add an action to the plan", clause="003 stage 1; 004 §3.8"),
    CommandSpec("change_action", "change an open action of the plan: its date, who does it, or what it is",
                ChangeAction, OPEN_STAGES, do_change_action, guard_change_action, free_text="what",
                examples=({"action": "A1", "due": "2026-05-01"}, {"action": "A1", "who": "reporter"}),
                title="Change an action of the plan", clause="004 §3.8"),
    CommandSpec("complete_action", "mark an action of the plan done", CompleteAction, OPEN_STAGES,
                do_complete_action, guard_complete_action, examples=({"action": "A1"}, {"action": "A2"}),
                title="Mark an action done", clause="004 §3.8"),
    CommandSpec("convert_to_case", "turn the enquiry into a case (investigation)", NoArgs, ("enquiry",),
                do_convert_to_case, guard_convert_to_case, examples=({},),
                title="Convert the enquiry to a case", clause="003 §8 stage 1"),
    CommandSpec("close_enquiry", "close the enquiry with a reason (a duplicate of a live case: no letter)",
                CloseWithReason, ("enquiry",), do_close_enquiry, guard_close_enquiry,
                examples=({"reason": "not_asb"}, {"reason": "duplicate", "merged_into": "ASB-2026-000001"}),
                title="Close the enquiry", clause="003 §8 stage 1"),
    CommandSpec("escalate_risk", "raise the case's risk (to high: the risk is assessed again that day)",
                EscalateRisk, OPEN_STAGES, do_escalate_risk,
                guard_escalate_risk, examples=({"risk": "high"}, {"risk": "medium"}),
                title="Escalate the risk", clause="003 §7; 004 §3.5"),
    CommandSpec("record_case_review", "record a case review: continue, or consider closure", RecordCaseReview,
                CASE_STAGES, do_record_case_review, free_text="reason",
                examples=({"decision": "continue"}, {"decision": "consider_closure"},
                          {"decision": "continue", "reason_ref": "N-2"}),
                title="Record a case review", clause="003 §8 stage 3"),
    # At legal, only a support referral (the guard says so): support is offered at any stage.
    CommandSpec("start_intervention", "start an intervention (a warning letter, an ABC, mediation, ...)",
                StartIntervention, OPEN_STAGES, do_start_intervention, guard_start_intervention,
                examples=({"kind": "warning_letter"}, {"kind": "mediation"}, {"kind": "support_referral"}),
                title="Start an intervention", clause="003 §8 stage 4"),
    CommandSpec("record_equality_assessment", "record an Equality Act assessment: what was considered, the "
                "adjustments offered, the conclusion, the legal step", RecordEqualityAssessment, OPEN_STAGES,
                do_record_equality_assessment, free_text="note", kept=("considered", "adjustments"),
                examples=({}, {"step": "court_application", "conclusion": "proportionate", "note_ref": "N-3"},
                          {"step": "notice", "conclusion": "not_proportionate"}),
                title="Record an Equality Act assessment", clause="004 §6.4; 003 §16"),
    CommandSpec("propose_legal_action", "propose a legal remedy; it needs approval (an emergency acts at once)",
                ProposeLegalAction, OPEN_STAGES, do_propose_legal_action, guard_propose_legal_action,
                asks="legal_approval", examples=({"kind": "legal_warning"}, {"kind": "possession_order"},
                          {"kind": "injunction", "emergency": True},
                          {"kind": "injunction", "instruct_solicitor": True,
                           "case_review_meeting": "2026-01-05T10:00:00+00:00"}),
                title="Propose legal action", clause="004 §3.12"),
    CommandSpec("approve_legal_action", "approve the legal action awaiting approval", LegalDecision, OPEN_STAGES,
                do_approve_legal_action, guard_decide_legal_action, free_text="note", decides="legal_approval",
                verdict="approved", examples=({},),
                title="Approve the legal action", clause="004 §3.12"),
    CommandSpec("reject_legal_action", "reject the legal action awaiting approval", LegalDecision, OPEN_STAGES,
                do_reject_legal_action, guard_decide_legal_action, free_text="note", decides="legal_approval",
                verdict="rejected", examples=({},),
                title="Reject the legal action", clause="004 §3.12"),
    CommandSpec("conclude_legal_action", "record the outcome of the approved legal action", ConcludeLegalAction,
                _LEGAL_STAGES, do_conclude_legal_action, guard_conclude_legal_action, free_text="outcome",
                examples=({"outcome": "order granted"},),
                title="Conclude the legal action", clause="003 §8 stage 5"),
    CommandSpec("record_police_report", "record that the police were told of a hate incident, with their reference",
                RecordPoliceReport, OPEN_STAGES, do_record_police_report, free_text="police_reference",
                examples=({}, {"police_reference_ref": "N-1"}),
                title="Record that the police were told", clause="004 §3.5"),
    CommandSpec("make_referral", "refer a person to a partner agency, on their consent (or a safeguarding or "
                "police basis), with a follow-up date", MakeReferral, OPEN_STAGES, do_make_referral,
                guard_make_referral, free_text="note",
                examples=({"agency": "victim_support", "consent_ref": "C-1"},
                          {"agency": "police", "basis": "crime"},
                          {"agency": "victim_support", "basis": "safeguarding"}),
                title="Refer to a partner agency", clause="003 §9"),
    CommandSpec("record_referral_outcome", "record what became of a referral (a partner may, for its own)",
                RecordReferralOutcome, OPEN_STAGES, do_record_referral_outcome, guard_record_referral_outcome,
                roles=OFFICERS_AND_PARTNERS, free_text="note",
                examples=({"referral": "referral-1", "outcome": "accepted"},
                          {"referral": "referral-1", "outcome": "no_response"},
                          {"referral": "referral-2", "outcome": "completed"}),
                title="Record a referral's outcome", clause="004 §3.3"),
    # The victim applies; whoever hears the application records it: intake, any officer, a manager.
    CommandSpec("request_asb_case_review", "a reporter applies for an ASB Case Review (also about a closed case)",
                RequestAsbCaseReview, OPEN_STAGES, do_request_asb_case_review, guard_request_asb_case_review,
                roles=INTAKE_AND_OFFICERS, any_officer=True, after_closure=True,
                examples=({"applicant": "individual"}, {"applicant": "group"}),
                title="Record an ASB Case Review application", clause="003 §10"),
    CommandSpec("request_closure", "ask for the case to be closed, with a reason", CloseWithReason, CASE_STAGES,
                do_request_closure, guard_request_closure, asks="closure_approval",
                examples=({"reason": "asb_stopped"}, {"reason": "no_reports"},
                          {"reason": "duplicate", "merged_into": "ASB-2026-000001"}),
                title="Ask a manager to close the case", clause="003 §8 stage 6"),
    CommandSpec("approve_closure", "approve the closure awaiting approval: the case closes", Note, CASE_STAGES,
                do_approve_closure, guard_approve_closure, free_text="note", decides="closure_approval",
                verdict="approved", examples=({},),
                title="Approve the closure", clause="003 §8 stage 6"),
    CommandSpec("reject_closure", "reject the closure awaiting approval", Note, CASE_STAGES, do_reject_closure,
                guard_reject_closure, free_text="note", decides="closure_approval", verdict="rejected",
                examples=({},),
                title="Reject the closure", clause="003 §8 stage 6"),
    CommandSpec("reopen_case", "reopen a closed case within the profile's period, with a reason; it keeps its "
                "reference and history", ReopenCase, ("closed",), do_reopen_case, guard_reopen_case, roles=MANAGERS,
                any_officer=True, free_text="reason", examples=({"reason_ref": "N-1"},),
                title="Reopen the case", clause="003 §8 stage 6"),
)

#: Every case command, by name, in the order people see them.
COMMANDS: dict[str, CommandSpec] = {spec.name: spec for spec in _COMMANDS}

#: What starts a case (not a command on one): `report`, with its own argument model.
REPORT_COMMAND = "report"

#: Old names still accepted by scenario files, mapped to today's.
ALIASES: dict[str, str] = {alias: spec.name for spec in _COMMANDS for alias in spec.aliases}


def canonical(name: str) -> str:
    """A command's name today, whatever name (or alias) it was given."""
    return ALIASES.get(name, name)


def args_model(name: str) -> type[BaseModel] | None:
    """The argument model of a command (or of `report`), by name or alias."""
    if name == REPORT_COMMAND:
        return ReportArgs
    spec = COMMANDS.get(canonical(name))
    return spec.args if spec is not None else None


def parse_args(command: str, args: dict[str, Any] | None) -> BaseModel:
    """Validate a command's arguments against its own model, naming the first bad field."""
    model = args_model(command)
    if model is None:
        raise CommandError(f"unknown command {command!r}; commands: {', '.join([REPORT_COMMAND, *COMMANDS])}")
    try:
        return model.model_validate(args or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(arguments)"
        message = "unknown argument" if first["type"] == "extra_forbidden" else first["msg"]
        raise CommandError(f"{command}: {field}: {message}") from exc


def approval_commands() -> dict[str, dict[str, str]]:
    """For each approval kind, the commands that decide it: {"closure_approval": {"approve": ..., "reject": ...}}."""
    found: dict[str, dict[str, str]] = {}
    for spec in _COMMANDS:
        if spec.decides is not None and spec.verdict is not None:
            found.setdefault(spec.decides, {})["approve" if spec.verdict == "approved" else "reject"] = spec.name
    return found


# =============================================================================================== deadlines


def _due_after(calendar: WorkingCalendar, start: datetime, period: Period, patches: frozenset[str]) -> datetime:
    """The deadline `period` after `start` gives, by the convention of policy/calendar.py (the receipt
    convention once, to the start). Before WORKING_DAYS_ONCE a working-day period's end (17:00) was
    counted as after hours and moved to the next working day: one working day late (issue 16 item 1)."""
    if WORKING_DAYS_ONCE in patches:
        return calendar.due_after(start, period)
    return calendar.due_on(calendar.add_period(start, period))


def _latest(*moments: datetime | None) -> datetime | None:
    """The latest of the moments given; a reopened case's clocks count from its reopening (`reopened_at`
    is set only by reopen_case, so a case never reopened counts exactly as before)."""
    given = [m for m in moments if m is not None]
    return max(given) if given else None


def due_first_response(facts: CaseFacts, profile: Profile, calendar: WorkingCalendar,
                       patches: frozenset[str]) -> datetime | None:
    if facts.first_response_at is not None or facts.risk is None:
        return None
    since = _latest(facts.received_at, facts.reopened_at) or facts.received_at
    return calendar.due_after(since, first_response_within(facts, profile))


def first_response_within(facts: CaseFacts, profile: Profile) -> Period:
    """How long the first response may take: the landlord's own priority's `respond_within` when the
    profile lists priorities (issue 16 item 3), else `first_response.<risk>` working days (003 §8 table).
    The same period bounds the allocation task (Lifecycle.task_terms)."""
    return first_response_period(profile, facts.category, facts.risk)


def first_response_period(profile: Profile, category: str, risk: Risk | None) -> Period:
    """first_response_within for a report's category and risk (`asb deadline` asks without a case)."""
    priority = profile.priority_for(category, risk)
    if priority is not None:
        return profile.priorities[priority].respond_within
    return Period(profile.first_response.for_risk(risk or "low"), "working_days")


def due_enquiry_expiry(facts: CaseFacts, profile: Profile, calendar: WorkingCalendar,
                       patches: frozenset[str]) -> datetime | None:
    return calendar.add_period(_latest(facts.received_at, facts.reopened_at) or facts.received_at,
                               profile.enquiry.length)


def due_unable_to_contact(facts: CaseFacts, profile: Profile, calendar: WorkingCalendar,
                          patches: frozenset[str]) -> datetime | None:
    if facts.unable_letter_at is None:
        return None
    return calendar.add_period(facts.unable_letter_at, profile.enquiry.unable_to_contact_window)


def due_investigation_end(facts: CaseFacts, profile: Profile, calendar: WorkingCalendar,
                          patches: frozenset[str]) -> datetime | None:
    if facts.converted_at is None:
        return None
    return calendar.add_period(_latest(facts.converted_at, facts.reopened_at) or facts.converted_at,
                               profile.case.investigation)


def due_case_review(facts: CaseFacts, profile: Profile, calendar: WorkingCalendar,
                    patches: frozenset[str]) -> datetime | None:
    if facts.converted_at is None:
        return None
    if facts.last_review_at is None:  # the initial review ends the investigation (from reopening, if later)
        since, period = _latest(facts.converted_at, facts.reopened_at) or facts.converted_at, profile.case.investigation
    elif facts.reopened_at is not None and facts.reopened_at > facts.last_review_at:
        since, period = facts.reopened_at, profile.case.review_interval
    else:
        since, period = facts.last_review_at, profile.case.review_interval
    return _due_after(calendar, since, period, patches)


def due_inactivity(facts: CaseFacts, profile: Profile, calendar: WorkingCalendar,
                   patches: frozenset[str]) -> datetime | None:
    if facts.converted_at is None:
        return None
    quiet_since = _latest(facts.last_incident_at, facts.converted_at, facts.reopened_at) or facts.converted_at
    return calendar.add_period(quiet_since, profile.case.inactivity)


def due_monitoring(facts: CaseFacts, profile: Profile, calendar: WorkingCalendar,
                   patches: frozenset[str]) -> datetime | None:
    if facts.converted_at is None or facts.monitoring_since is None:
        return None
    return calendar.add_period(facts.monitoring_since, profile.case.extra_monitoring)


def due_contact(facts: CaseFacts, profile: Profile, calendar: WorkingCalendar,
                patches: frozenset[str]) -> datetime | None:
    since = contact_clock(facts, CONTACT_FROM_CONVERSION in patches)
    if facts.reporter.anonymous or since is None:
        return None
    every = Period(facts.contact_every_days, "days") if facts.contact_every_days else profile.contact.default_every
    return _due_after(calendar, since, every, patches)


def contact_clock(facts: CaseFacts, from_conversion: bool = True) -> datetime | None:
    """Since when the next contact with the reporter is counted.

    003 §9 promises contact "at least once a month" for the life of the case, whatever the outcome of
    the officer's calls, so the clock starts at the first response (the first contact attempt) or at
    conversion, and a contact that gets through restarts it; a failed one does not (issue 11 item 5).
    Before that change it started only with a successful contact, so a case converted without one
    ran with no contact deadline at all.
    """
    if not from_conversion:
        return facts.last_contact_at
    return _latest(facts.last_contact_at, facts.converted_at, facts.first_response_at, facts.reopened_at)


def due_risk_review(facts: CaseFacts, profile: Profile, calendar: WorkingCalendar,
                    patches: frozenset[str]) -> datetime | None:
    """The end of the working day on which the next risk assessment falls (the next working day if
    that date is not one)."""
    if RISK_MATRIX not in patches or facts.risk_review_on is None:
        return None
    day = facts.risk_review_on
    if not calendar.is_working_day(day):
        day = calendar.next_working_day(day)
    return calendar.end_of(day)


def fire_risk_review(lc: Lifecycle, now: datetime, events: list[Event]) -> None:
    """The next risk assessment is due: a task for the officer, answered by recording it (003 §8 stage 1
    "when a new risk assessment is due to be carried out"; 004 §3.4). Not a breach of the deadline itself:
    left undone, the task goes up the escalation chain (and breaches at its top) like any other task."""
    if not lc.facts.risk_review_task_open:
        lc.facts.risk_review_task_open = True
        lc.task(RISK_REVIEW, "officer", events, approval=RISK_REVIEW)


def _action_due_at(calendar: WorkingCalendar, day: date) -> datetime:
    """An action is late when the working day of its date has ended (the next working day's end, if its
    date is not one): deadlines end with the working day, as officers count them."""
    return calendar.end_of(day if calendar.is_working_day(day) else calendar.next_working_day(day))


def due_action(facts: CaseFacts, profile: Profile, calendar: WorkingCalendar,
               patches: frozenset[str]) -> datetime | None:
    waiting = [a.due for a in facts.actions if not a.done and not a.chased]
    return _action_due_at(calendar, min(waiting)) if waiting else None


def fire_action_due(lc: Lifecycle, now: datetime, events: list[Event]) -> None:
    """Each action whose date has passed undone gives the officer a task: chase it, or agree a new date
    (003 stage 1 "Action Plan": actions set and taken; 004 §3.8 "It is important to complete actions as
    agreed on the plan"; 001 rec. 3). Answered on the case by complete_action or change_action."""
    rules = lc.profile.calendar
    local = now.astimezone(ZoneInfo(rules.timezone))
    ended = local.date() if local.time() >= rules.end_of_working_day else local.date() - timedelta(days=1)
    for action in lc.facts.actions:
        if not action.done and not action.chased and action.due <= ended:
            action.chased = True
            lc.task(ACTION_OVERDUE, "officer", events, approval=action_task_id(action.id), action=action.id)


def fire_overdue(kind: str) -> Fire:
    """A missed deadline is a breach (recorded by `on_deadline`), with an overdue task for the first
    role of the escalation chain (004 §3.12)."""
    def fire(lc: Lifecycle, now: datetime, events: list[Event]) -> None:
        lc.task("overdue", lc.profile.approvals.escalation_chain[0], events, deadline=kind)

    return fire


def fire_contact_missed(lc: Lifecycle, now: datetime, events: list[Event]) -> None:
    """A missed contact is the officer's to put right first; their manager is told, and the task goes
    up the chain only if it stays undone (003 §9; issue 11 item 14). Before that change the overdue
    task went straight to the first role of the chain."""
    if OFFICER_PROMPTS not in lc.patches:
        fire_overdue("contact")(lc, now, events)
        return
    lc.task("overdue", "officer", events, deadline="contact")
    events.append(Notice(role=lc.profile.approvals.escalation_chain[0], about="breach", kind="contact"))


def fire_enquiry_expiry(lc: Lifecycle, now: datetime, events: list[Event]) -> None:
    if lc.facts.stage != "enquiry":
        return
    if ENQUIRY_EXPIRY_DECISION in lc.patches and _expiry_needs_a_decision(lc.facts):
        lc.facts.enquiry_decision_since = now
        events.append(EnquiryExpired(decision="needed"))
        lc.task(ENQUIRY_DECISION, "officer", events, approval=ENQUIRY_DECISION)
        return
    lc.close("expire_enquiry", "enquiry_expired", now, events)
    lc.letter("enquiry_closed", "reporter", events)


def _expiry_needs_a_decision(facts: CaseFacts) -> bool:
    """Whether an enquiry at its 4 weeks needs the officer's decision rather than closing itself.

    003 stage 1 closes an enquiry when *insufficient information* was provided to meet the
    threshold: that presumes an enquiry that was worked, with the reporter reached. A high-risk or
    hate enquiry (003 §5, §8: the highest priority), or one whose reporter was never reached, is
    not closed by a timer: the officer converts it or closes it with a reason (issue 11 item 4).
    """
    return facts.risk == "high" or facts.hate or facts.last_contact_at is None


def fire_unable_to_contact(lc: Lifecycle, now: datetime, events: list[Event]) -> None:
    if lc.facts.stage == "enquiry":
        lc.close("close_unreachable", "unable_to_contact", now, events)
        lc.letter("enquiry_closed", "reporter", events)


def fire_investigation_end(lc: Lifecycle, now: datetime, events: list[Event]) -> None:
    if lc.facts.stage == "investigation":
        lc.move("begin_review", events)


def fire_consider_closure(kind: str) -> Fire:
    def fire(lc: Lifecycle, now: datetime, events: list[Event]) -> None:
        if OFFICER_PROMPTS not in lc.patches:
            lc.task(CONSIDER_CLOSURE, "officer", events, why=kind)
            return
        # A prompt for the officer, not a breach: answered by requesting closure, or by a recorded
        # decision to keep the case open with a reason (003 stage 3; 004 §3.13; issue 11 item 14).
        if lc.facts.closure_prompt_since is None:
            lc.facts.closure_prompt_since = now
            lc.task(CONSIDER_CLOSURE, "officer", events, why=kind, approval=CONSIDER_CLOSURE, prompt=True)

    return fire


def due_referral_follow_up(facts: CaseFacts, profile: Profile, calendar: WorkingCalendar,
                           patches: frozenset[str]) -> datetime | None:
    """The end of the working day of the earliest follow-up date of an open referral not yet tasked."""
    dates = [r.follow_up for r in facts.referrals if r.open and not r.tasked and r.follow_up is not None]
    if not dates:
        return None
    day = min(dates)
    return calendar.end_of(day if calendar.is_working_day(day) else calendar.next_working_day(day))


def fire_referral_follow_up(lc: Lifecycle, now: datetime, events: list[Event]) -> None:
    """Each referral whose follow-up date has come gets a task for the officer: find out what became of
    it, answered by record_referral_outcome (003 §9; 004 §3.3 "recorded on our internal systems")."""
    today = local_date(lc.profile, now)
    for referral in lc.facts.referrals:
        if referral.open and not referral.tasked and referral.follow_up is not None and referral.follow_up <= today:
            referral.tasked = True
            lc.task(REFERRAL_FOLLOW_UP, "officer", events, approval=follow_up_approval(referral.id))


_FIRST_OF_CHAIN = "the first role of approvals.escalation_chain (an overdue task)"

_DEADLINES: tuple[DeadlineSpec, ...] = (
    # In the order the timeline announces deadlines falling due at the same moment.
    DeadlineSpec("first_response", "first contact with the reporter, by risk", OPEN_STAGES,
                 "first_response.<risk>", due_first_response, "breach + overdue task", fire_overdue("first_response"),
                 breach=True,
                 tells=_FIRST_OF_CHAIN, promised_by=("acknowledgement",), clause="003 §8 stage 1"),
    DeadlineSpec("enquiry_expiry", "an enquiry not converted closes, or (high risk, hate, never reached) "
                 "needs the officer's decision", ("enquiry",), "enquiry.length", due_enquiry_expiry,
                 "enquiry closes (expired), or an enquiry_decision task", fire_enquiry_expiry,
                 tells="the reporter (letter), or the officer (a decision task)",
                 trigger="expire_enquiry", clause="003 §8 stage 1"),
    DeadlineSpec("unable_to_contact", "after the unable-to-contact letter, the enquiry closes", ("enquiry",),
                 "enquiry.unable_to_contact_window", due_unable_to_contact, "enquiry closes (reporter unreachable)",
                 fire_unable_to_contact, tells="the reporter (letter)", trigger="close_unreachable",
                 promised_by=("unable_to_contact",), clause="003 §8 stage 1"),
    DeadlineSpec("investigation_end", "the investigation ends in the initial case review", ("investigation",),
                 "case.investigation", due_investigation_end, "initial case review", fire_investigation_end,
                 trigger="begin_review", timeline_kind="case_review_stage", clause="003 §8 stage 2"),
    DeadlineSpec("case_review", "the two-month review, then monthly reviews", CASE_STAGES, "case.review_interval",
                 due_case_review, "breach + overdue task", fire_overdue("case_review"), breach=True,
                 tells=_FIRST_OF_CHAIN, clause="003 §8 stage 3"),
    DeadlineSpec("inactivity", "28 quiet days: the officer is prompted to consider closure", CASE_STAGES,
                 "case.inactivity", due_inactivity, "consider_closure prompt", fire_consider_closure("inactivity"),
                 tells="the officer (a consider_closure prompt, answered on the case)", clause="003 §8 stage 6"),
    DeadlineSpec("monitoring", "after a review decided to consider closure, the monitoring period ends",
                 CASE_STAGES, "case.extra_monitoring", due_monitoring, "consider_closure prompt",
                 fire_consider_closure("monitoring"), tells="the officer (a consider_closure prompt)",
                 clause="003 §8 stage 6"),
    DeadlineSpec("contact", "contact with the reporter at the agreed (or default) frequency", OPEN_STAGES,
                 "contact.default_every", due_contact, "breach + overdue task for the officer; manager told",
                 fire_contact_missed, breach=True, tells="the officer (overdue task) and their manager (a notice)",
                 clause="003 §9"),
    DeadlineSpec("milestone", "a response milestone of the landlord's standard for the case's priority (from "
                 "the report or an earlier milestone met)", OPEN_STAGES, "priorities", due_milestone,
                 "breach (unless the milestone says none) + overdue task for its `tells` role", fire_milestone,
                 tells="the milestone's `tells` role (an overdue task)", clause="issue 16 item 2"),
    DeadlineSpec("referral_follow_up", "a referral's follow-up date: the officer checks what became of it",
                 OPEN_STAGES, "referrals.follow_up_after", due_referral_follow_up, "referral_follow_up task",
                 fire_referral_follow_up, tells="the officer (a referral_follow_up task, answered by "
                 "record_referral_outcome)", clause="003 §9; 004 §3.3"),
    DeadlineSpec("allocation", "a report without an officer is allocated by the team's manager within the "
                 "first-response period", ("enquiry",), "first_response.<risk>", None,
                 "allocation task for the next role; at the top of the chain, a breach",
                 tells="the `allocation.by` role (the team the profile routes its risk to), then up the chain",
                 on_task=True, clause="003 §8; 004 §3.1"),
    DeadlineSpec("risk_review", "the next risk assessment falls due: the officer is tasked to repeat it",
                 OPEN_STAGES, "risk_matrix.review_every.<risk>", due_risk_review, "risk_review task",
                 fire_risk_review, tells="the officer (a risk_review task, answered by record_risk_assessment)",
                 clause="003 §8 stage 1; 004 §3.4"),
    DeadlineSpec("action_due", "an action of the plan whose date passes undone", OPEN_STAGES,
                 "calendar.end_of_working_day", due_action, "action_overdue task for the officer", fire_action_due,
                 tells="the officer (an action_overdue task, answered by completing the action or a new date)",
                 clause="003 stage 1; 004 §3.8"),
    DeadlineSpec("approval", "an approval or task undecided moves up the escalation chain",
                 OPEN_STAGES, "approvals.decide_within", None,
                 "approval task for the next role", tells="the next role of the escalation chain", on_task=True,
                 clause="004 §3.12"),
)

#: Every deadline kind, by kind.
DEADLINES: dict[str, DeadlineSpec] = {spec.kind: spec for spec in _DEADLINES}
#: Deadlines whose miss is a breach.
BREACH_DEADLINES: frozenset[str] = frozenset(spec.kind for spec in _DEADLINES if spec.breach)
#: How each deadline appears on the timeline, where its name there differs.
TIMELINE_KIND: dict[str, str] = {s.kind: s.timeline_kind for s in _DEADLINES if s.timeline_kind}
#: Which deadline a letter promises (MessageRequest.due).
LETTER_DUE: dict[str, str] = {letter: spec.kind for spec in _DEADLINES for letter in spec.promised_by}


# =============================================================================================== targets


def resolution_target(profile: Profile, calendar: WorkingCalendar, received_at: datetime,
                      closed_at: datetime | None, now: datetime) -> TargetStanding | None:
    """A case's age against the profile's `targets.resolve_within` (None: the profile sets none). A target,
    not a deadline: no breach and no task (issue 16 item 4; "we aim to resolve the majority of cases within
    45 working days"). The age counts the working days after the day the report counts as received, up to
    the day it closed (or today), by the receipt convention of policy/calendar.py."""
    target = profile.targets.resolve_within
    if target is None:
        return None
    due = calendar.due_after(received_at, target)
    end = closed_at or now
    first = calendar.receipt_day(received_at)
    last = end.astimezone(calendar.tz).date()
    age = 0
    day = first
    while day < last:
        day = calendar.next_working_day(day)
        if day <= last:
            age += 1
    return TargetStanding(target=str(target), share_percent=profile.targets.resolve_share_percent, due=due,
                          age_working_days=age, resolved=closed_at is not None, within=end <= due)


def target_report(profile: Profile, standings: list[TargetStanding]) -> dict[str, Any]:
    """The resolution target reported over cases: how many were resolved, how many within the target, the
    share, and whether the promised share was reached (issue 16 item 4). Open cases already past it are
    counted too: they can no longer be resolved within it."""
    resolved = [s for s in standings if s.resolved]
    within = [s for s in resolved if s.within]
    overdue_open = [s for s in standings if not s.resolved and not s.within]
    counted = len(resolved) + len(overdue_open)
    share = round(100 * len(within) / counted, 1) if counted else None
    return {
        "profile": profile.name,
        "target": str(profile.targets.resolve_within) if profile.targets.resolve_within else None,
        "share_promised_percent": profile.targets.resolve_share_percent,
        "cases": len(standings), "resolved": len(resolved), "resolved_within": len(within),
        "open_past_target": len(overdue_open),
        "share_within_percent": share,
        "met": share is not None and share >= profile.targets.resolve_share_percent,
    }


# =============================================================================================== tables


def command_table() -> str:
    """The command table of the README and docs/scenarios.md, as Markdown (tests keep both in step)."""
    rows = ["| command | allowed at | who | arguments | what it does |", "|---|---|---|---|---|"]
    for spec in _COMMANDS:
        door_set = {f"{spec.free_text}_ref", spec.details_ref}  # the door sets these references
        given = [name for name in spec.args.model_fields if name not in door_set]
        fields = ", ".join(f"`{name}`" for name in given) or "none"
        stages = "any open stage" if spec.stages == OPEN_STAGES else ", ".join(spec.stages)
        if spec.after_closure:
            stages += "; closed: within `case_review.apply_within_after_closure`"
        who = ", ".join(spec.roles)
        if spec.decides is not None:
            who = "the role the approval needs (profile `approvals`), never its requester"
        rows.append(f"| `{spec.name}` | {stages} | {who} | {fields} | {spec.summary} |")
    return "\n".join(rows)


def deadline_table() -> str:
    """The deadline table of docs/scenarios.md, as Markdown."""
    rows = ["| deadline | runs in | profile setting | when it fires | breach | who is told |",
            "|---|---|---|---|---|---|"]
    for spec in _DEADLINES:
        stages = "any open stage" if spec.stages == OPEN_STAGES else ", ".join(spec.stages)
        name = f"`{spec.kind}`" + (f" (timeline: `{spec.timeline_kind}`)" if spec.timeline_kind else "")
        rows.append(f"| {name} | {stages} | `{spec.setting}` | {spec.fires} | {'yes' if spec.breach else 'no'} "
                    f"| {spec.tells} |")
    return "\n".join(rows)
