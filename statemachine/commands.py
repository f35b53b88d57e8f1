"""The case commands' argument models, and the names every door shares (stages, roles, kinds).

Which command takes which model, and everything else about it, is its spec in statemachine/catalogue.py.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from policy.model import AGENCY_ID_PATTERN, AgencyKind, Risk, Role
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
    "possession_order", "absolute_ground", "warrant_of_eviction",
]
#: Where an incident was reported: to this service (the case), or by the applicant to the police, the
#: council (its environmental health or housing) or another social landlord. 003 §10 counts reports
#: "made to either, the police, local authority (including Environmental Health or Housing) or a
#: registered social landlord" toward the ASB Case Review thresholds.
IncidentSource = Literal["case", "police", "council", "landlord"]
#: Legal remedies that go to court, so need solicitors instructed (004 §3.1, §3.12).
COURT_KINDS: frozenset[str] = frozenset(
    {"injunction", "closure_order", "criminal_behaviour_order", "demotion", "possession_order", "absolute_ground",
     "warrant_of_eviction"}
)
#: Legal remedies that can end in eviction (004 §3.1: senior authority to evict).
EVICTION_KINDS: frozenset[str] = frozenset({"possession_order", "absolute_ground", "warrant_of_eviction"})
#: The remedies after which a warrant of eviction may be applied for.
POSSESSION_KINDS: frozenset[str] = frozenset({"possession_order", "absolute_ground"})

#: The legal steps before each of which an Equality Act assessment is made (004 §6.4: "before legal
#: proceedings are commenced (service of notice)", "before an application to court is made", "before a
#: warrant of eviction is applied for"), and `new_information`: one made "upon receipt of new and
#: relevant information", which covers whichever step comes next.
LegalStep = Literal["notice", "court_application", "warrant"]
EqualityStep = Literal["notice", "court_application", "warrant", "new_information"]


def legal_step(kind: str) -> LegalStep:
    """The step a legal remedy is: a warrant of eviction, a court application, or a notice (a remedy
    served or agreed without applying to the court: a notice seeking possession, a community protection
    notice, a legal warning, an undertaking)."""
    if kind == "warrant_of_eviction":
        return "warrant"
    return "court_application" if kind in COURT_KINDS else "notice"


#: What an Equality Act assessment considered: the nine protected characteristics of the Equality Act
#: 2010 (s.4; 003 §16, 004 §6.4) and the vulnerabilities 003 §11 names, or that none was identified.
#: Personal (special category) data: a door keeps them in the case file, never in the workflow.
Consideration = Literal[
    "age", "disability", "gender_reassignment", "marriage_civil_partnership", "pregnancy_maternity", "race",
    "religion_belief", "sex", "sexual_orientation", "mental_health", "learning_difficulty", "substance_misuse",
    "other_vulnerability", "none_identified",
]
#: Whether the action is "a proportionate means of achieving a legitimate aim" (003 §16).
EqualityConclusion = Literal["proportionate", "proportionate_with_adjustments", "not_proportionate"]

ROLE_RANK: dict[str, int] = {
    "intake": 0, "officer": 1, "manager": 2, "senior_manager": 3, "ops": -1, "auditor": -1, "partner": -1,
}

#: What a referral to a partner agency is made on: the person's consent (003 §15 "consent ... to refer to
#: any support services"; 004 §3.3), or a basis the law gives without it: a safeguarding concern (004 §2.2
#: "a duty of care to share any information that we feel represents a safeguarding risk"; §4.4 "a referral
#: must be made"; 003 §9 safeguarding referrals) or the prevention and detection of crime (Crime and
#: Disorder Act 1998 s.115, 003 §3 "must work in partnership with the police"; 004 §3.5 "make sure the
#: Police are aware", §4.5 information sharing with the police).
ReferralBasis = Literal["consent", "safeguarding", "crime"]
#: The agencies a referral may go to without consent, and on which basis: safeguarding teams on a
#: safeguarding concern, the police on a safeguarding concern or a crime. Every other kind needs consent.
WITHOUT_CONSENT: dict[AgencyKind, frozenset[str]] = {
    "safeguarding_adults": frozenset({"safeguarding"}),
    "safeguarding_children": frozenset({"safeguarding"}),
    "police": frozenset({"safeguarding", "crime"}),
}
#: A referral's outcome: `accepted` and `no_response` leave it open (a further follow-up may be set);
#: the others close it.
ReferralOutcomeKind = Literal["accepted", "no_response", "declined", "completed", "withdrawn"]
OPEN_OUTCOMES: frozenset[str] = frozenset({"accepted", "no_response"})


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
    #: The person carries a vulnerability flag in the case file (which flags stays there: 004 §3.4, §3.5).
    vulnerable: bool = False


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
    #: Why a case with an officer is given another (required then): free text, kept in the case file; the
    #: workflow gets `reason_ref` (CommandSpec.free_text).
    reason: str | None = Field(None, min_length=1, max_length=10000)
    reason_ref: str | None = Field(None, max_length=40)


#: An incident's details that are free text or references: the doors keep them in the case file as one
#: pending incident row and send `incident_ref` (CommandSpec.details), never these to the workflow.
INCIDENT_TEXT: tuple[str, ...] = ("location", "description", "impact", "injuries", "police_reference",
                                     "partner_reference", "feed", "feed_id")


class RecordIncident(_Args):
    """A further incident on an open case (003 §12: when, where, what, who reported it, references, and
    how it affected the person, injuries included). The workflow gets the categories and flags; the text
    and references are written to the case file by the door, which sends `incident_ref` in their place.

    Two different facts about its reporting: `reported_by` is who told this service (the reporter, a
    witness, a partner, the police, an app feed: 003 §12), and `source` is where the applicant reported it
    (to this service, or to the police, the council or another landlord), which the ASB Case Review
    thresholds count (003 §10). A police officer telling us of an incident is `reported_by="police"` with
    `source="case"`; the applicant saying they rang the police is `source="police"`."""

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
    #: Where it was reported (an allow-list): the applicant's reports to other agencies count toward the
    #: ASB Case Review thresholds (003 §10), and may be recorded on a closed case while it takes applications.
    source: IncidentSource = "case"


class RecordContact(_Args):
    outcome: Literal["made", "failed"]
    method: str = Field("phone", min_length=1, max_length=16)
    #: What was said (004 §3.7): a door keeps it in the case file and sends `note_ref`.
    note: str | None = Field(None, min_length=1, max_length=10000)
    note_ref: str | None = Field(None, max_length=40)


class RecordMilestone(_Args):
    """A response milestone of the landlord's standard was met (issue 16 item 2): its id in the profile."""

    milestone: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")


class RecordRiskAssessment(_Args):
    """A risk assessment: a score for each factor of the profile's matrix (policy/model.py RiskMatrix;
    004 §3.4 "a risk assessment matrix"), from which the level is computed, and when the next one is due.

    `level` alone is what older scenario files give (docs/scenarios.md "Compatibility"): still accepted,
    as the assessed level. `reporter_vulnerable` is set by the door from the reporter's vulnerability
    flags in the case file (clients/caseclient.py); the workflow learns only that yes or no.
    """

    level: Risk | None = None
    scores: dict[str, Annotated[int, Field(ge=0, le=10)]] | None = Field(
        None, min_length=1, max_length=12, validate_default=True,
        description="a score for every factor of the profile's risk matrix (risk_matrix.factors), 0 to its max")
    next_assessment_due: date | None = Field(None, description=(
        "the date the next assessment is due (after today, within a year); by default the profile's "
        "risk_matrix.review_every for the level found"))
    reporter_vulnerable: bool | None = Field(None, description=(
        "whether the reporter carries a vulnerability flag: set by the API and the pages from the case file; "
        "a scenario file may give it"))

    @field_validator("scores")
    @classmethod
    def _scores_or_level(cls, value: dict[str, int] | None, info: ValidationInfo) -> dict[str, int] | None:
        # On `scores` (validated after `level`), so the error names the argument to give.
        level = info.data.get("level")
        if value is None and level is None:
            raise ValueError("give the factor scores (the level is computed from them)")
        if value is not None and level is not None:
            raise ValueError("give the factor scores or a level, not both: the level is computed from the scores")
        return value


class AgreeActionPlan(_Args):
    contact_every_days: int = Field(ge=1, le=366)
    contact_method: str = Field("phone", min_length=1, max_length=16)
    #: The frequency is the reporter's own recorded choice (001 rec. 3): only then may it be less often
    #: than the standard the landlord offers, and only where the profile allows it.
    reporters_choice: bool = False


#: Who does an action: the officer, the reporter, or a partner agency by its short code (`police`,
#: `environmental_health`, ...; the letters name it, letters/templates/<language>/labels.toml `partners`).
#: A code, never a person's name: the workflow carries it.
ACTION_OWNER_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
ACTION_ID_PATTERN = r"^A[1-9][0-9]{0,3}$"


class AddAction(_Args):
    """One action of the reporter's action plan (003 stage 1 "Action Plan"; 004 §3.8: actions "for the case
    officer, the victim, or others"): what (free text, kept in the case file; the workflow gets `what_ref`),
    who does it, and by when."""

    what: str | None = Field(None, min_length=1, max_length=2000)
    what_ref: str | None = Field(None, max_length=40)
    who: str = Field("officer", pattern=ACTION_OWNER_PATTERN)
    due: date

    @model_validator(mode="after")
    def _has_what(self) -> AddAction:
        if not self.what and not self.what_ref:
            raise ValueError("what is required: the action itself")
        return self


class ChangeAction(_Args):
    """A new date, owner or wording for an open action of the plan; the plan gets a new version."""

    action: str = Field(pattern=ACTION_ID_PATTERN)
    what: str | None = Field(None, min_length=1, max_length=2000)
    what_ref: str | None = Field(None, max_length=40)
    who: str | None = Field(None, pattern=ACTION_OWNER_PATTERN)
    due: date | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> ChangeAction:
        if not (self.what or self.what_ref or self.who or self.due):
            raise ValueError("give what changes: what, who or due")
        return self


class CompleteAction(_Args):
    """An action of the plan was done."""

    action: str = Field(pattern=ACTION_ID_PATTERN)


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


class RecordEqualityAssessment(Note):
    """An Equality Act assessment (003 §16; 004 §6.4, Appendix 11): the protected characteristics or
    vulnerabilities considered, the adjustments or support offered, the proportionality conclusion, and the
    legal step it was made for. `considered` and `adjustments` are personal: a door keeps them in the case
    file with the note (CommandSpec.kept) and the workflow gets `note_ref`. A bare `note` is still accepted
    (docs/scenarios.md "Compatibility")."""

    step: EqualityStep | None = None
    considered: list[Consideration] | None = Field(None, min_length=1, max_length=14)
    adjustments: str | None = Field(None, min_length=1, max_length=10000)
    conclusion: EqualityConclusion | None = None

    @model_validator(mode="after")
    def _whole(self) -> RecordEqualityAssessment:
        if self.considered and "none_identified" in self.considered and len(set(self.considered)) > 1:
            raise ValueError("considered: none_identified cannot be given with a characteristic or vulnerability")
        if (self.considered or self.adjustments) and self.conclusion is None:
            raise ValueError("conclusion is required: a structured assessment states whether the action is "
                             "proportionate")
        return self


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


class MakeReferral(_Args):
    """A referral to a partner agency (003 §9; 004 §3.3, §4.4, §4.5): the agency (an id of the profile's
    `referrals.agencies`), the person referred (a person id; the reporter if not given), the basis it is
    made on, a follow-up date and a note. `consent_ref` names the consent it was made with (a row of the
    case file's consents, `C-<id>`): a door sets it from the person's latest recorded referral consent,
    never the caller (the workflow sees no personal data, only that reference)."""

    agency: str = Field(min_length=1, max_length=32, pattern=AGENCY_ID_PATTERN)
    person_id: str | None = Field(None, min_length=1, max_length=64)
    basis: ReferralBasis = "consent"
    consent_ref: str | None = Field(None, min_length=1, max_length=40)
    #: When to check what became of it; the profile's `referrals.follow_up_after` if not given.
    follow_up: date | None = None
    note: str | None = Field(None, max_length=10000)
    note_ref: str | None = Field(None, max_length=40)


class RecordReferralOutcome(_Args):
    """What became of a referral: accepted, declined, no response, completed or withdrawn; an open one
    (accepted, no response) may be given a further follow-up date."""

    referral: str = Field(min_length=1, max_length=32, pattern=r"^referral-[0-9]{1,9}$")
    outcome: ReferralOutcomeKind
    follow_up: date | None = None
    note: str | None = Field(None, max_length=10000)
    note_ref: str | None = Field(None, max_length=40)

    @model_validator(mode="after")
    def _follow_up_only_when_open(self) -> RecordReferralOutcome:
        if self.follow_up is not None and self.outcome not in OPEN_OUTCOMES:
            raise ValueError(f"a {self.outcome} referral is finished: a follow-up date needs an open outcome "
                             f"({', '.join(sorted(OPEN_OUTCOMES))})")
        return self
