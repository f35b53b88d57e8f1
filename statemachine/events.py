"""The case's timeline events: one model per kind, told apart by `event` (SCENARIOS.md "Timeline").

Every event a case records is one of these, from the lifecycle (a command's consequences, a
deadline), from the workflow (deadlines announced, tasks telling the case) or from the case file (a
refused command). The projection into the case file (activities/case_file.py `PROJECTIONS`) maps each
kind to its rows through one table, and a test proves that every kind here has an entry, so a new or
misspelt kind is an error at the boundary, never a silently dropped row.

The wire shape is the dict the timeline has always had: `{"event": kind, ...fields}`, holding only
the fields that were given. An optional field left out stays out (a concluded legal action carries
no `emergency`), so recorded histories and stored timelines keep their exact shape. Ids, categories
and moments only: never names or free text (free text travels as a `*_ref`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, TypeAdapter, model_serializer


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_serializer(mode="wrap")
    def _as_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Only what was given, plus the kind: the timeline's shape, byte for byte, whatever the defaults.
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if k == "event" or k in self.model_fields_set}

    def payload(self) -> dict[str, Any]:
        """The event as the timeline and the case file store it."""
        return self.model_dump(mode="json")


# ---------------------------------------------------------------------------------------- commands


class CommandIssued(_Event):
    """A command was accepted; `by` is who issued it (the actor of the rows that follow)."""

    event: Literal["command"] = "command"
    command: str
    role: str
    by: str
    #: The command's free text, kept in the case file: recording this event confirms the note.
    note_ref: str | None = None


class Rejected(_Event):
    """A refused command: never in the workflow's history, written by the door to the case file."""

    event: Literal["rejected"] = "rejected"
    command: str
    reason: str
    role: str


class Triaged(_Event):
    event: Literal["triage"] = "triage"
    outcome: str
    risk: str | None
    category: str


class StageEntered(_Event):
    event: Literal["stage"] = "stage"
    stage: str


class Closed(_Event):
    event: Literal["closed"] = "closed"
    reason: str
    #: Where a report that is not ASB was routed (triage's `routed_to`), when known.
    routed_to: str | None = None
    #: A duplicate's live case (issue 12 item 6), when the closer named it.
    merged_into: str | None = None


class Reopened(_Event):
    """A closed case reopened by a manager, back to the stage it closed from; its reason is in the
    case file (`reason_ref`). The case keeps its reference and everything recorded before."""

    event: Literal["reopened"] = "reopened"
    stage: str
    by: str
    reason_ref: str | None = None


class OfficerAssigned(_Event):
    """The case's officer (the reporter's one point of contact, 003 §9), given or changed. A reassignment
    names the officer before and its reason (in the case file); older histories carry the officer only."""

    event: Literal["officer"] = "officer"
    officer: str
    previous: str | None = None
    reason_ref: str | None = None


class IncidentRecorded(_Event):
    """A further incident on the case. Its moment, category and hate strand are carried so the case
    file writes its incident row (older histories carry only the count and the flag); `incident_ref`
    names the details the door wrote first (where, what, the impact, references), which recording this
    event confirms, and `reported_by` who reported it (003 §12)."""

    event: Literal["incident"] = "incident"
    count: int
    hate: bool
    occurred_at: str | None = None
    category: str | None = None
    hate_strand: str | None = None
    reported_by: str | None = None
    violence_or_threats: bool | None = None
    injured: bool | None = None
    incident_ref: str | None = None
    #: The person on file who reported it (an id), when known.
    reporter_id: str | None = None
    #: Where it was reported, when not to this service: the police, the council or another landlord
    #: (003 §10: the applicant's reports to them count toward the ASB Case Review thresholds).
    source: str | None = None


class RiskChanged(_Event):
    event: Literal["risk"] = "risk"
    risk: str
    why: str


class ContactRecorded(_Event):
    event: Literal["contact"] = "contact"
    outcome: str
    method: str


class RiskAssessed(_Event):
    """A risk assessment: its level and, from the profile's matrix, the scores, their total and the level
    they gave before a vulnerable reporter's floor (`scored`, when it differs); the date the next one is
    due (ISO date). Older histories carry only the level."""

    event: Literal["risk_assessment"] = "risk_assessment"
    level: str
    scores: dict[str, int] | None = None
    total: int | None = None
    scored: str | None = None
    vulnerable: bool | None = None
    next_due: str | None = None


class CaseReviewed(_Event):
    event: Literal["case_review"] = "case_review"
    decision: str
    #: Why the case stays open (its text is in the case file).
    reason_ref: str | None = None


class ActionPlanAgreed(_Event):
    """The contact frequency and method agreed with the reporter; `reporters_choice` when a frequency
    less often than the standard was the reporter's own recorded choice (001 rec. 3). `version`: the plan's
    version this agreement made, shared with the reporter (older histories carry none)."""

    event: Literal["action_plan"] = "action_plan"
    contact_every_days: int
    contact_method: str
    reporters_choice: bool
    version: int | None = None


class ActionChanged(_Event):
    """An action of the plan added, changed or done (003 stage 1 "Action Plan"; 004 §3.8): who does it
    and by when (an ISO date); what it is stays in the case file (`what_ref`). `version`: the plan's new
    version, when the plan was already agreed (each change of an agreed plan is shared)."""

    event: Literal["action"] = "action"
    action: str
    change: Literal["added", "changed", "done"]
    who: str | None = None
    due: str | None = None
    what_ref: str | None = None
    version: int | None = None


class PoliceInformed(_Event):
    """The police were told of a hate incident (004 §3.5); their reference is in the case file."""

    event: Literal["police_informed"] = "police_informed"
    reference_ref: str | None = None


class EnquiryExpired(_Event):
    """An enquiry reached its length needing the officer's decision instead of closing (003 stage 1)."""

    event: Literal["enquiry_expired"] = "enquiry_expired"
    decision: str


class Referral(_Event):
    """A referral: the case (or a person in it) passed to another service or a partner agency.

    One concept with two sources. Triage routes a report that is not ASB to another service (003 §4):
    `to` is the service, `reason` is `not_asb`, and nothing else is given. An officer refers a person
    to a partner agency (`make_referral`; 003 §9, 004 §3.3): `to` is the agency's id, `reason` its kind
    (the need: `victim_support`, `safeguarding_adults`, ...), with the referral's id, the person, the
    basis (`consent`, `safeguarding`, `crime`), the consent it was made with and its follow-up date.
    """

    event: Literal["referral"] = "referral"
    to: str
    reason: str
    id: str | None = None
    person_id: str | None = None
    basis: str | None = None
    #: The consent row it was made with (`C-<id>`), when made on consent.
    consent_ref: str | None = None
    #: The date to follow it up (ISO date).
    follow_up: str | None = None


class ReferralOutcome(_Event):
    """What became of a referral (`record_referral_outcome`), and its next follow-up date if still open."""

    event: Literal["referral_outcome"] = "referral_outcome"
    id: str
    outcome: str
    follow_up: str | None = None


class Notice(_Event):
    """A role is told of something without a task of its own (a manager told of a missed contact)."""

    event: Literal["notice"] = "notice"
    role: str
    about: str
    kind: str


class InterventionStarted(_Event):
    event: Literal["intervention"] = "intervention"
    kind: str


class EqualityAssessed(_Event):
    """An Equality Act assessment: the legal step it was made for and its conclusion; what it considered
    and the adjustments offered are in the case file, with the note `assessment_ref` names (004 §6.4)."""

    event: Literal["equality_assessment"] = "equality_assessment"
    step: str | None = None
    conclusion: str | None = None
    assessment_ref: str | None = None


class LegalActionChanged(_Event):
    event: Literal["legal_action"] = "legal_action"
    kind: str
    status: Literal["proposed", "approved", "rejected", "concluded"]
    emergency: bool | None = None
    #: Solicitors are instructed (the senior approver's decision, 004 §3.12).
    instruct_solicitor: bool | None = None
    #: When the case review meeting considered it (ISO date-time).
    case_review_meeting: str | None = None


class AsbCaseReviewRequested(_Event):
    event: Literal["asb_case_review"] = "asb_case_review"
    applicant: str
    status: str


class Decided(_Event):
    """An approval was decided on the case (approve_closure, reject_closure, ...)."""

    event: Literal["decision"] = "decision"
    kind: str
    decision: str
    #: The task it answers, when more than one of its kind may be open (`action_overdue:A1`).
    approval: str | None = None


# ---------------------------------------------------------------------------------------- messages


class LetterSent(_Event):
    event: Literal["letter"] = "letter"
    template: str
    to: str
    #: The person written to, by id, when not the case's own reporter or reported person (the reporter of
    #: a report attached to this case, issue 12 item 6).
    recipient: str | None = None
    #: The action plan's version the letter states (the action_plan letter).
    version: int | None = None


class NotificationSent(_Event):
    event: Literal["notification"] = "notification"
    channel: str
    template: str
    version: int | None = None


class CommunicationFailed(_Event):
    event: Literal["communication_failed"] = "communication_failed"
    template: str
    channel: str
    to: str
    message_seq: int
    printing: bool


# ---------------------------------------------------------------------------------------- tasks


class TaskCreated(_Event):
    """A task for a role; its row and its TaskWorkflow share the id `<case>-T<seq>`."""

    event: Literal["task"] = "task"
    kind: str
    role: str
    #: An emergency legal action approved after the event (004 §3.6).
    after_the_event: bool | None = None
    #: The pending approval this task decides.
    approval: str | None = None
    reason: str | None = None
    #: The deadline an overdue task is about.
    deadline: str | None = None
    #: Why a consider_closure task was made (inactivity, monitoring), or an equality_review task (the
    #: new information: new_incident, risk_changed, ...).
    why: str | None = None
    #: The letter a communication_failed task is about, and its event.
    template: str | None = None
    message_seq: int | None = None
    #: A prompt (consider closure) stays with its holder: never a breach.
    prompt: bool | None = None
    #: Who may not decide it: the manager who approved the closure an ASB Case Review is about (004 §8).
    not_by: str | None = None
    #: The team an allocation task allocates for (the profile's `allocation`, by risk; 004 §3.1).
    team: str | None = None
    #: The plan's action an action_overdue task is about.
    action: str | None = None


class TaskReminded(_Event):
    event: Literal["reminder"] = "reminder"
    task: str
    kind: str
    role: str


class TaskEscalatedEvent(_Event):
    event: Literal["escalation"] = "escalation"
    task: str
    kind: str
    role: str


class TaskResolvedEvent(_Event):
    event: Literal["task_resolved"] = "task_resolved"
    task: str
    kind: str
    decision: str
    by: str


# ---------------------------------------------------------------------------------------- time


class DeadlineSet(_Event):
    """A deadline's due time, announced when it is first known and whenever it moves."""

    event: Literal["deadline"] = "deadline"
    kind: str
    due: str


class Breach(_Event):
    """A deadline (or a task at the top of its chain) passed without what it required."""

    event: Literal["breach"] = "breach"
    kind: str
    task: str | None = None


CaseEvent = Annotated[
    CommandIssued | Rejected | Triaged | StageEntered | Closed | OfficerAssigned | IncidentRecorded | RiskChanged
    | ContactRecorded | RiskAssessed | CaseReviewed | InterventionStarted | EqualityAssessed | LegalActionChanged
    | AsbCaseReviewRequested | Decided | LetterSent | NotificationSent | CommunicationFailed | TaskCreated
    | TaskReminded | TaskEscalatedEvent | TaskResolvedEvent | DeadlineSet | Breach | ActionPlanAgreed
    | PoliceInformed | EnquiryExpired | Referral | Notice | Reopened | ActionChanged | ReferralOutcome,
    Field(discriminator="event"),
]

_ADAPTER: TypeAdapter[CaseEvent] = TypeAdapter(CaseEvent)

#: Every kind, from the models themselves.
EVENT_KINDS: frozenset[str] = frozenset(
    model.model_fields["event"].default for model in _Event.__subclasses__()
)


def parse_event(data: dict[str, Any] | _Event) -> CaseEvent:
    """A timeline event from its stored shape; an unknown kind or a wrong field is an error, naming it."""
    if isinstance(data, _Event):
        return data  # type: ignore[return-value]
    return _ADAPTER.validate_python(data)
