"""The case commands' argument models, and the names every door shares (stages, roles, kinds).

Which command takes which model, and everything else about it, is its spec in statemachine/catalogue.py.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from policy.model import Risk, Role
from policy.triage import ReportFacts

Stage = Literal["enquiry", "investigation", "review", "interventions", "legal", "closed"]
STAGES: tuple[Stage, ...] = ("enquiry", "investigation", "review", "interventions", "legal", "closed")
OPEN_STAGES: tuple[Stage, ...] = STAGES[:-1]
CASE_STAGES: tuple[Stage, ...] = ("investigation", "review", "interventions", "legal")

ClosureReason = Literal[
    "no_cooperation", "did_not_happen", "not_asb", "insufficient_evidence", "asb_stopped",
    "no_reports", "declined_mediation", "no_breach", "interventions_succeeded", "duplicate",
]
#: Closing a case as a duplicate of a live one is not an outcome: no letter tells anyone it ended
#: (issue 12 item 6, the Regulator's NM01 counting rule), so none contradicts the live case.
DUPLICATE = "duplicate"
#: Who reported an incident (003 §12: victims, witnesses, partner agencies, the police, the Noise App).
ReportedBy = Literal["reporter", "witness", "partner", "police", "app_feed"]
REPORTED_BY: tuple[str, ...] = ("reporter", "witness", "partner", "police", "app_feed")
#: Case references as issued (ASB-2026-000123): how one case names another (a duplicate's live case).
CASE_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"
InterventionKind = Literal[
    "verbal_warning", "warning_letter", "mediation", "acceptable_behaviour_contract",
    "good_neighbour_agreement", "community_protection_warning", "community_protection_notice",
    "support_referral",
]
LegalKind = Literal[
    "legal_warning", "injunction", "closure_order", "community_protection_notice",
    "criminal_behaviour_order", "undertaking", "demotion", "notice_seeking_possession",
    "possession_order", "absolute_ground",
]
#: Legal remedies that go to court, so need solicitors instructed (004 §3.1, §3.12).
COURT_KINDS: frozenset[str] = frozenset(
    {"injunction", "closure_order", "criminal_behaviour_order", "demotion", "possession_order", "absolute_ground"}
)
#: Legal remedies that can end in eviction (004 §3.1: senior authority to evict).
EVICTION_KINDS: frozenset[str] = frozenset({"possession_order", "absolute_ground"})

ROLE_RANK: dict[str, int] = {
    "intake": 0, "officer": 1, "manager": 2, "senior_manager": 3, "ops": -1, "auditor": -1,
}


class CommandError(ValueError):
    """A command's arguments are malformed; the message names the field."""


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role = "officer"
    id: str = Field(min_length=1)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoArgs(_Args):
    pass


class ContactPref(_Args):
    method: str | None = Field(None, max_length=16)


class PartyArgs(_Args):
    id: str | None = Field(None, min_length=1, max_length=64)
    anonymous: bool = False
    contact: ContactPref = ContactPref()


class ReportArgs(ReportFacts, _Args):
    """What starts a case: the facts triage reads, and the parties as ids only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hate_strand: str | None = Field(None, max_length=32)
    channel: str = Field("phone", min_length=1, max_length=32)
    reporter: PartyArgs = PartyArgs()
    reported_person: PartyArgs | None = None
    officer: str | None = Field(None, min_length=1, max_length=64)


class AssignOfficer(_Args):
    #: Bounded like the case file's columns, so what the workflow accepts the case file can record.
    officer: str = Field(min_length=1, max_length=64)


#: An incident's details that are free text or references: the doors keep them in the case file as one
#: pending incident row and send `incident_ref` (CommandSpec.details), never these to the workflow.
INCIDENT_TEXT: tuple[str, ...] = ("location", "description", "impact", "injuries", "police_reference",
                                     "partner_reference", "feed", "feed_id")


class RecordIncident(_Args):
    """A further incident on an open case (003 §12: when, where, what, who reported it, references, and
    how it affected the person, injuries included). The workflow gets the categories and flags; the text
    and references are written to the case file by the door, which sends `incident_ref` in their place."""

    #: Must carry a zone: a bare "22:00" could be either side of a clock change.
    occurred_at: AwareDatetime | None = None
    category: str | None = Field(None, max_length=64)
    hate: bool = False
    #: The prejudice the incident is perceived to be motivated by (a strand of the profile); implies hate.
    hate_strand: str | None = Field(None, min_length=1, max_length=32)
    #: Who reported it: the reporter, a witness, a partner agency, the police, or an app feed.
    reported_by: ReportedBy | None = None
    #: Violence or threats, or someone hurt: like a hate incident, makes the case high risk (003 §8 table).
    violence_or_threats: bool = False
    injured: bool = False
    #: Kept in the case file (the door writes them and sends `incident_ref`): where it happened, what
    #: happened, how it affected the person, their injuries, a police or partner reference, and the app
    #: feed that sent it with that app's own id for it.
    location: str | None = Field(None, min_length=1, max_length=300)
    description: str | None = Field(None, min_length=1, max_length=10000)
    impact: str | None = Field(None, min_length=1, max_length=10000)
    injuries: str | None = Field(None, min_length=1, max_length=2000)
    police_reference: str | None = Field(None, min_length=1, max_length=64)
    partner_reference: str | None = Field(None, min_length=1, max_length=64)
    feed: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,31}$")
    feed_id: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[!-~]+$")
    incident_ref: str | None = Field(None, max_length=40)
    #: The person on file who reported it (an id), and whether to send them an acknowledgement: a report
    #: attached to this open case instead of opening a new one is acknowledged as such (issue 12 item 6).
    reporter_id: str | None = Field(None, min_length=1, max_length=64)
    acknowledge: bool = False


class RecordContact(_Args):
    outcome: Literal["made", "failed"]
    method: str = Field("phone", min_length=1, max_length=16)
    #: What was said (004 §3.7): a door keeps it in the case file and sends `note_ref`.
    note: str | None = Field(None, min_length=1, max_length=10000)
    note_ref: str | None = Field(None, max_length=40)


class RecordRiskAssessment(_Args):
    level: Risk


class AgreeActionPlan(_Args):
    contact_every_days: int = Field(ge=1, le=366)
    contact_method: str = Field("phone", min_length=1, max_length=16)
    #: The frequency is the reporter's own recorded choice (001 rec. 3): only then may it be less often
    #: than the standard the landlord offers, and only where the profile allows it.
    reporters_choice: bool = False


class CloseWithReason(_Args):
    reason: ClosureReason
    #: For a duplicate: the live case it duplicates, whose work goes on (issue 12 item 6).
    merged_into: str | None = Field(None, pattern=CASE_REF_PATTERN)

    @model_validator(mode="after")
    def _merged_only_into_a_duplicate(self) -> CloseWithReason:
        if self.merged_into is not None and self.reason != DUPLICATE:
            raise ValueError("merged_into is given only with reason duplicate")
        return self


class ReopenCase(_Args):
    """A manager reopens a closed case within the profile's period (`case.reopen_within`), giving why;
    it keeps its reference and its history. The reason is kept in the case file (`reason_ref`)."""

    reason: str | None = Field(None, min_length=1, max_length=10000)
    reason_ref: str | None = Field(None, max_length=40)

    @model_validator(mode="after")
    def _has_reason(self) -> ReopenCase:
        if not self.reason and not self.reason_ref:
            raise ValueError("reason is required")
        return self


class EscalateRisk(_Args):
    risk: Risk


class RecordCaseReview(_Args):
    decision: Literal["continue", "consider_closure"]
    #: Why the case stays open: required when it answers a "consider closure" prompt (free text,
    #: kept in the case file; the workflow gets `reason_ref`).
    reason: str | None = Field(None, min_length=1, max_length=10000)
    reason_ref: str | None = Field(None, max_length=40)


class StartIntervention(_Args):
    kind: InterventionKind


class Note(_Args):
    #: Free text: a door stores it in the case file and sends `note_ref` instead (CommandSpec.free_text).
    note: str | None = Field(None, max_length=10000)
    note_ref: str | None = Field(None, max_length=40)


class RequestAsbCaseReview(_Args):
    """A reporter (or a group of reporters) applies for an ASB Case Review (003 §10, 004 §4.1)."""

    applicant: Literal["individual", "group"] = "individual"


class ProposeLegalAction(_Args):
    kind: LegalKind
    emergency: bool = False
    #: Instructing a solicitor or barrister (a complex defended case) is a fact of the proposal, not
    #: of the remedy: it needs the profile's senior approver (004 §3.12, "approved by the Regional Manager").
    instruct_solicitor: bool = False
    #: When the decision was considered at a case review meeting (004 §3.12; 003 stage 5). An emergency
    #: action enters legal at once and its review follows, recorded when it is approved.
    case_review_meeting: AwareDatetime | None = None


class LegalDecision(Note):
    """A manager's decision on a proposed legal action; an emergency action's review meeting, held
    after the event, is recorded with it (004 §3.12)."""

    case_review_meeting: AwareDatetime | None = None


class RecordPoliceReport(_Args):
    """The police were told of a hate incident (004 §3.5 "make sure the Police are aware"). The police's
    reference is kept in the case file (a door sends `police_reference_ref`)."""

    police_reference: str | None = Field(None, min_length=1, max_length=64)
    police_reference_ref: str | None = Field(None, max_length=40)


class ConcludeLegalAction(_Args):
    outcome: str | None = Field(None, min_length=1, max_length=10000)
    outcome_ref: str | None = Field(None, max_length=40)

    @model_validator(mode="after")
    def _has_outcome(self) -> ConcludeLegalAction:
        if not self.outcome and not self.outcome_ref:
            raise ValueError("outcome is required")
        return self
