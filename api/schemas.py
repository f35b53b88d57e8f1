"""What goes in and out of the API, as the OpenAPI document shows it.

Input models are stricter than the case file's own: everything a caller sends ends up in a database
column or a workflow, and a value either cannot store (too long, a NUL character, a time with no zone)
must be refused here with a 422 naming the field, not discovered later as a failed activity that
retries forever while the caller waits.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from casefile.evidence import EvidenceInfo
from casefile.intake import CaseFileInput, ContactDetails, IncidentBasics, IncidentDetails, IntakeReport, PersonDetails
from casefile.matching import CaseMatch
from casefile.notes import NoteInput, NotePerson
from casefile.partners import (
    PartnerCase,
    PartnerCaseSummary,
    PartnerReferral,
    ReferralView,
    ShareView,
)
from casefile.types import TIME_BOUNDS
from clients.taskclient import TaskView
from policy.model import AGENCY_ID_PATTERN, AgencyKind
from policy.triage import ReportFacts
from statemachine.commands import ReferralBasis, ReferralOutcomeKind
from statemachine.views import CaseRecord, CaseStatus

#: Case references as issued (ASB-2026-000123); tests and other prefixes use the same shape.
REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"
#: Task ids are the task rows' keys, e.g. ASB-2026-000123/14.
TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9/_:.-]{0,79}$"
TIME_OF_DAY_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"


class ReportIn(IntakeReport):
    """A report logged by staff: what happened, who is involved, and how to reach the reporter."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "category": "noise", "channel": "phone", "officer": "o1", "incidents_last_month": 3,
        "reporter": {"name": "Alice Example", "phone": "07700 900123", "contact_method": "phone"},
        "reported_person": {"name": "Bob Neighbour", "address": "3 High Street"},
        "incident": {"occurred_at": "2026-03-01T23:10:00+00:00", "location": "stairwell",
                     "description": "loud music until 3am"},
    }]})

    category: str = Field(min_length=1, max_length=64, description="a category id of the profile's taxonomy")
    hate_strand: str | None = Field(None, min_length=1, max_length=32,
                                    description="one of the profile's hate strands (race, religion, ...)")
    incidents_last_month: int = Field(1, ge=0, le=1000)
    time_of_day: str | None = Field(None, pattern=TIME_OF_DAY_PATTERN, description="HH:MM, local time")
    channel: str = Field("phone", pattern=r"^[a-z][a-z0-9_]{0,31}$")
    officer: str | None = Field(None, min_length=1, max_length=64, description="id of the officer to assign")
    witnesses: list[PersonDetails] = Field([], max_length=20)



class PublicPerson(ContactDetails):
    """The person filling in the form. Anonymous reports are accepted but cannot be updated."""

    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=40, pattern=r"^[0-9+() -]{6,40}$")


class PublicOther(CaseFileInput):
    """Someone else involved, as the reporter knows them: a name or a description, maybe an address."""

    name: str | None = Field(None, max_length=200)
    address: str | None = Field(None, max_length=1000)
    postcode: str | None = Field(None, max_length=16)


class PublicIncident(IncidentBasics):
    """The incident as the public form gives it (no evidence: staff add that)."""


class PublicReportIn(ReportFacts, CaseFileInput):
    """The online form: what happened and how to reach you. No ids, officers or channels: staff set those."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "category": "noise", "incidents_last_month": 4,
        "reporter": {"name": "Alice Example", "email": "alice@example.org", "contact_method": "email"},
        "reported_person": {"address": "Flat 3"},
        "incident": {"occurred_at": "2026-03-01T23:10:00+00:00", "description": "music until 3am"},
    }]})

    hate_strand: str | None = Field(None, min_length=1, max_length=32)
    incidents_last_month: int = Field(1, ge=0, le=1000)
    time_of_day: str | None = Field(None, pattern=TIME_OF_DAY_PATTERN)
    reporter: PublicPerson = PublicPerson(anonymous=True)
    reported_person: PublicOther | None = None
    witnesses: list[PublicOther] = Field([], max_length=10)
    incident: PublicIncident

    @model_validator(mode="after")
    def _reachable(self) -> PublicReportIn:
        person = self.reporter
        if person.anonymous:
            return self
        if not person.name:
            raise ValueError("reporter.name is required unless the report is anonymous")
        needs = {"email": person.email, "sms": person.phone, "phone": person.phone, "letter": person.address}
        if person.contact_method and not needs[person.contact_method]:
            field = {"email": "email", "sms": "phone", "phone": "phone", "letter": "address"}[person.contact_method]
            raise ValueError(f"reporter.{field} is required to be contacted by {person.contact_method}")
        if not (person.email or person.phone or person.address):
            raise ValueError("give an email, phone number or address so the officer can reach you")
        return self

    def to_intake(self) -> IntakeReport:
        reporter = PersonDetails.model_validate(self.reporter.model_dump())
        others = [PersonDetails.model_validate(p.model_dump()) for p in self.witnesses]
        reported = PersonDetails.model_validate(self.reported_person.model_dump()) if self.reported_person else None
        return IntakeReport(
            category=self.category, hate=self.hate, hate_strand=self.hate_strand,
            violence_or_threats=self.violence_or_threats, risk_of_harm=self.risk_of_harm,
            tried_to_resolve=self.tried_to_resolve, incidents_last_month=self.incidents_last_month,
            time_of_day=self.time_of_day, channel="online_form", reporter=reporter, reported_person=reported,
            witnesses=others, incident=IncidentDetails.model_validate(self.incident.model_dump()),
        )


class AppReportIn(CaseFileInput):
    """A report from an app feed. Apps resend when unsure; the same (source, external_id) is one case, or
    one incident on the open case it was about."""

    source: str = Field("noise_app", pattern=r"^[a-z][a-z0-9_]{0,31}$", description="the sending app")
    external_id: str = Field(min_length=1, max_length=128, pattern=r"^[!-~]+$",
                             description="the app's own id for the report")
    case_ref: str | None = Field(None, pattern=REF_PATTERN, max_length=32, description=(
        "the open case this report is about (the reference the reporter was given): it is recorded there "
        "as an incident, not opened as a new case; a closed case's report opens a new one"))
    report: ReportIn


class CommandIn(CaseFileInput):
    args: dict[str, Any] = Field({}, max_length=20, description=(
        "the command's arguments (GET /commands lists them); a time argument such as occurred_at: " + TIME_BOUNDS))


class EvidenceShareIn(CaseFileInput):
    shareable: bool = Field(description="whether the file may be shared with partner agencies (004 §4.5)")


class DecideIn(CaseFileInput):
    decision: Literal["approve", "reject", "done"]
    reason: str | None = Field(None, min_length=1, max_length=10000,
                               description="why: kept in the case file, never in the workflow's history")


#: A typed note as a door sends it (casefile/notes.py): kind, text, when, and the people involved.
NoteIn = NoteInput


class AttachIn(CaseFileInput):
    to: str = Field(pattern=REF_PATTERN, max_length=32, description="the open case this case's report is about")


class LockIn(CaseFileInput):
    locked: bool
    reason: str | None = Field(None, min_length=1, max_length=200,
                               description="required to lock (e.g. a party is linked to an employee)")
    expected_version: int | None = Field(None, ge=1, le=2**31 - 1,
                                         description="the case version you saw; refused (409) if it changed")

    @model_validator(mode="after")
    def _reason_to_lock(self) -> LockIn:
        if self.locked and not self.reason:
            raise ValueError("reason is required to lock a case")
        return self


class ShareIn(CaseFileInput):
    agency: str = Field(min_length=1, max_length=32, pattern=AGENCY_ID_PATTERN,
                        description="an agency id of the profile (GET /agencies)")
    shared: bool = Field(True, description="false stops sharing the case with the agency")


class ShareableIn(CaseFileInput):
    item: Literal["incident", "note", "evidence"] = Field(
        description="what to mark: an incident, a note or an evidence file of the case")
    id: int = Field(ge=1, le=2**31 - 1, description="its id, as the case view lists it")
    shareable: bool = Field(True, description="false: no longer shown to partner agencies")


class PartnerOutcomeIn(CaseFileInput):
    """What became of a referral to your agency."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"outcome": "accepted", "follow_up": "2026-05-01", "note": "first appointment booked"}]})

    outcome: ReferralOutcomeKind
    follow_up: date | None = Field(None, description="when the officer should check again (open outcomes only)")
    note: str | None = Field(None, min_length=1, max_length=10000,
                             description="kept in the case file, never in the workflow's history")


# ---------------------------------------------------------------------------------------------- out


class Problem(BaseModel):
    """Every error: one sentence for a person, and the field it is about when there is one."""

    detail: str
    field: str | None = None


#: The case workflow's own view (its status query, the answer to every command): one shape, defined once.
CaseStatusOut = CaseStatus


class ReportOut(BaseModel):
    reference: str | None = Field(None, description="the case's reference; left out of an app resend's answer when "
                                  "the case is locked and the caller may not see it")
    created: bool = Field(description="false for a resend (same Idempotency-Key, or an app's same external_id): "
                          "the case the first send opened")
    accepted: bool = Field(True, description="the report is held (always true in a 200, 201 or 202)")
    started: bool = Field(True, description="false (with status 202) when the case is logged but its workflow is "
                          "still to be started: accepted, starting; the reconciler starts it within minutes")
    status: CaseStatusOut | None = Field(None, description="the case after triage (null if not yet known, or "
                                         "not the caller's to see)")
    attached_to: str | None = Field(None, description=(
        "the open case this report was recorded on as an incident instead of opening a new case: it matched "
        "that case's reported person or address exactly (the Regulator's NM01 rule); `reference` is then that "
        "case, and `status` its status"))
    matches: list[CaseMatch] = Field([], description=(
        "open cases this report may be a further report about (same reported person or address), offered "
        "for attaching with POST /cases/{ref}/attach; never attached without an exact match"))


class PublicReportOut(BaseModel):
    reference: str
    message: str


class CaseSummary(CaseRecord):
    """A case as lists show it: the case file's row, with what only the case file knows."""

    reference: str
    hate: bool
    locked: bool
    version: int


class CaseList(BaseModel):
    cases: list[CaseSummary]
    limit: int
    offset: int


class PartyOut(BaseModel):
    role: str
    person_id: str
    anonymous: bool
    name: str | None
    contact_method: str | None
    large_print: bool
    easy_read: bool
    language: str | None
    vulnerabilities: list[str] = Field([], description="the person's vulnerability flags (categories)")


class RiskAssessmentOut(BaseModel):
    """A risk assessment as the case file holds it: the level, the matrix's scores, and the next one's date."""

    assessed_at: datetime
    by: str
    level: str
    label: str = Field(description="the level as the landlord names it (LiveWest: red or amber)")
    scores: dict[str, int] | None = Field(None, description="each factor's score; null for a level given alone")
    total: int | None = None
    reporter_vulnerable: bool | None = None
    next_due: date | None = Field(None, description="when the next assessment is due (the risk_review deadline)")


class IncidentOut(BaseModel):
    """One incident (003 §12): when, where, what, who reported it, references and its impact."""

    id: int = Field(description="the incident's id, e.g. to add evidence about it (incident_id)")
    shareable: bool = Field(description="shown to the partner agencies the case is shared with")
    occurred_at: datetime
    location: str | None
    category: str
    hate_strand: str | None
    description: str | None
    police_reference: str | None
    evidence: list[dict[str, Any]]
    recorded_at: datetime
    reported_by: str | None = Field(None, description="who told us: reporter, witness, partner, police or app_feed")
    reporter_id: str | None = Field(None, description="the person on file who reported it")
    partner_reference: str | None = None
    impact: str | None = Field(None, description="how it affected the person")
    injuries: str | None = None
    feed: str | None = Field(None, description="the app feed that sent it")
    feed_id: str | None = Field(None, description="that app's own id for it")
    report_ref: str | None = Field(None, description="the reference of the report it came from, when that report "
                                   "was attached to this case")
    status: Literal["confirmed", "pending"] = Field(
        "confirmed", description="pending: sent to the case, not yet recorded (a command that timed out)")
    #: Where it was reported: "case" (this service), or by the applicant to the "police", the "council" or
    #: another "landlord" (003 §10).
    source: str = Field("case", description="where the applicant reported it: case (this service), police, council "
                        "or landlord; counted for the ASB Case Review thresholds")


class NoteOut(BaseModel):
    id: int
    shareable: bool = Field(description="shown to the partner agencies the case is shared with")
    at: datetime = Field(description="when it happened (a typed note), or when the command was sent")
    by: str
    command: str = Field(description="the command it came with, or case_note for a typed note")
    field: str
    text: str | None
    status: Literal["confirmed", "pending"] = Field(
        "confirmed", description="confirmed: the command is on the case's timeline; pending: sent, its answer "
        "not yet recorded (a command that timed out); notes of refused commands are not kept")
    kind: str | None = Field(None, description="a typed note's kind: call, visit, interview, meeting, "
                             "multi_agency_meeting, request_for_information or other")
    people: list[NotePerson] = Field([], description="the people involved")


class ActionOut(BaseModel):
    """An action of the reporter's action plan as it stands (003 stage 1; 004 §3.8)."""

    action: str | None = Field(description="its id on the plan (A1), which complete_action and change_action name")
    what: str
    who: str = Field(description="officer, reporter, or a partner agency's code")
    due: date | None
    done: bool


class EqualityAssessmentOut(BaseModel):
    """An Equality Act assessment (004 §6.4; 003 §16)."""

    at: datetime
    by: str
    step: str | None
    conclusion: str | None
    considered: list[str] | None
    adjustments: str | None
    note: str | None


class CaseView(BaseModel):
    """The case file joined with the workflow's status: everything an officer needs on one page."""

    case: CaseSummary
    status: CaseStatusOut | None = Field(description="null if the case's workflow did not answer")
    status_error: str | None = None
    vulnerable_reporter: bool = Field(False, description="a reporter of the case carries a vulnerability flag "
                                      "(003 §10; 004 §3.4-3.5): shown on every view of the case")
    reporter_vulnerabilities: list[str] = Field([], description="the reporters' vulnerability flags")
    risk_assessments: list[RiskAssessmentOut] = Field([], description="newest first")
    parties: list[PartyOut]
    incidents: list[IncidentOut]
    notes: list[NoteOut]
    action_plan: list[ActionOut] = []
    equality_assessments: list[EqualityAssessmentOut] = []
    referrals: list[ReferralView] = Field([], description="referrals to partner agencies and reports routed elsewhere")
    shared_with: list[ShareView] = Field([], description="partner agencies the case is (or was) shared with")
    timeline: list[dict[str, Any]]


class CommandOut(BaseModel):
    command: str
    status: CaseStatusOut


class NoteCreated(BaseModel):
    reference: str
    note: NoteOut
    created: bool = Field(description="false for a resend with the same Idempotency-Key: the note already written")


class AttachOut(BaseModel):
    reference: str = Field(description="the case whose report was attached")
    attached_to: str = Field(description="the open case it is now an incident of")
    incidents: int = Field(description="how many incidents were recorded there")
    recorded: bool = Field(description="false when the open case did not answer in time: the incidents are held "
                           "and recorded by the reconciler within minutes")
    closure: str = Field(description="what became of this case: closed as a duplicate (no closure letter), a "
                         "closure as a duplicate awaiting approval, or why it stays open")
    status: CaseStatusOut | None = Field(None, description="the open case's status after the attachment")


#: A task as the inbox shows it: the task client's own view.
TaskOut = TaskView


class TaskList(BaseModel):
    tasks: list[TaskOut]


class DecideOut(BaseModel):
    task: TaskOut
    result: dict[str, Any]


class LockOut(BaseModel):
    reference: str
    locked: bool
    version: int


class Me(BaseModel):
    role: str
    id: str


class CommandSpec(BaseModel):
    """One case command, as the catalogue (statemachine/catalogue.py) defines it."""

    name: str
    summary: str = Field("", description="what it does")
    arguments: dict[str, Any] = Field(description="JSON schema of the command's arguments")
    free_text: str | None = Field(None, description="the argument kept in the case file, not the workflow")
    kept: list[str] = Field([], description="further personal arguments kept in the case file with the free text")
    stages: list[str] = Field([], description="the stages where it is allowed")
    roles: list[str] = Field([], description="the roles that may send it")
    asks: str | None = Field(None, description="the approval it asks for")
    decides: str | None = Field(None, description="the approval it decides")


class CommandCatalogue(BaseModel):
    commands: list[CommandSpec]


class Jwks(BaseModel):
    keys: list[dict[str, Any]]


class EvidenceOut(EvidenceInfo):
    """A file added to a case (no bytes: GET /cases/{ref}/evidence/{id} gives them)."""

    created: bool = Field(True, description="false when the case already had these bytes, or the Idempotency-Key "
                          "named an earlier upload: the first upload's row, nothing new")


class EvidenceList(BaseModel):
    evidence: list[EvidenceInfo] = Field(description="the case's files, oldest first")


class AgencyOut(BaseModel):
    """A partner agency this service refers to (the profile's `referrals.agencies`)."""

    id: str
    kind: AgencyKind
    title: str
    without_consent: list[ReferralBasis] = Field(
        description="bases a referral to it may be made on without the person's consent (004 §2.2, §4.4)")


class AgencyList(BaseModel):
    agencies: list[AgencyOut]


ShareOut = ShareView


class ShareableOut(BaseModel):
    reference: str
    item: Literal["incident", "note", "evidence"]
    id: int
    shareable: bool


#: What a partner agency's staff see: their own partition of a shared case (casefile/partners.py).
PartnerCaseOut = PartnerCase
PartnerReferralOut = PartnerReferral


class PartnerCaseList(BaseModel):
    agency: str
    cases: list[PartnerCaseSummary]
