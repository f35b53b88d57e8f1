"""Logging a report: the people and the incident go into the case file; the workflow gets ids.

This is the seam that keeps personal data out of Temporal: names, addresses, contact details and
descriptions are written here, and what starts the case workflow is a ReportArgs of ids and
categories only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.orm import Session

from casefile.models import CaseRow, ConsentRow, IncidentRow, PartyRow, PersonRow
from casefile.normalise import Uprn
from casefile.types import FUTURE_SKEW, LANGUAGE_PATTERN, TIME_BOUNDS, DateOfBirth, check_time
from policy.risk import VULNERABILITIES, Vulnerability
from policy.triage import ReportFacts
from statemachine.commands import ReportArgs

ContactMethod = Literal["letter", "email", "sms", "phone"]


def contains_nul(value: Any) -> bool:
    """Whether any text in a (nested) value holds a NUL character, which PostgreSQL text cannot store.

    Walked with a stack, not recursion: a body nested hundreds of levels deep must get its 422, not a
    RecursionError (issue 9 item 13; the API also bounds depth before parsing)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


class CaseFileInput(BaseModel):
    """Input the case file will store: unknown fields and NUL characters are refused."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        # Refused here, where the case file is written, so every door gets a clear error, not a 500.
        if contains_nul(data):
            raise ValueError("text may not contain NUL characters")
        return data


class ContactDetails(CaseFileInput):
    """A person as a report gives them: how to reach them and the adjustments letters make for them."""

    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=300,
                                    description="for someone whose name is not known, e.g. unknown male, flat 3")
    date_of_birth: DateOfBirth = Field(None, description="YYYY-MM-DD; used to match people, never guessed")
    address: str | None = Field(None, max_length=1000)
    postcode: str | None = Field(None, max_length=16)
    uprn: Uprn = None
    email: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)
    contact_method: ContactMethod | None = None
    anonymous: bool = False
    large_print: bool = False
    easy_read: bool = False
    language: str | None = Field(None, max_length=6, pattern=LANGUAGE_PATTERN,
                                 description="the language letters should be in: a code such as cy or en-GB")
    #: e.g. {"email": true, "sms": false, "action": true, "referral": false}
    consents: dict[Literal["action", "referral", "third_party", "email", "sms"], bool] = {}
    #: Vulnerability flags, as categories (never free text): a vulnerable reporter raises the case's risk
    #: (003 §10, §11; 004 §3.4, §3.5). Left out, a known person's flags stay as they are.
    vulnerabilities: list[Vulnerability] | None = Field(None, max_length=len(VULNERABILITIES), description=(
        "support needs that make the person vulnerable: " + ", ".join(VULNERABILITIES)))



class PersonDetails(ContactDetails):
    """A person as staff log them: with the id of a person already known, and whether they are staff."""

    id: str | None = Field(None, max_length=64)
    is_employee: bool = False


class Evidence(CaseFileInput):
    kind: Literal["noise_app", "diary_sheet", "cctv", "photo", "police_report", "statement", "other"]
    ref: str = Field(max_length=200)


class IncidentBasics(CaseFileInput):
    """What happened, as the public form gives it; staff add evidence (IncidentDetails)."""

    occurred_at: AwareDatetime = Field(description=TIME_BOUNDS)
    location: str | None = Field(None, max_length=300)
    description: str | None = Field(None, max_length=10000)
    police_reference: str | None = Field(None, max_length=64)
    #: How it affected the person, and any injuries (003 §12: "how it made you feel", "any injuries").
    impact: str | None = Field(None, max_length=10000)
    injuries: str | None = Field(None, max_length=2000)

    @field_validator("occurred_at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        check_time(value, "occurred_at")
        return value


class IncidentDetails(IncidentBasics):
    evidence: list[Evidence] = Field([], max_length=50)


class IntakeReport(ReportFacts, CaseFileInput):
    """A report as a door logs it: the facts triage reads, the people and the incident."""

    model_config = ConfigDict(extra="forbid")

    hate_strand: str | None = None
    channel: str = Field("phone", min_length=1, max_length=32)
    officer: str | None = None
    reporter: PersonDetails = PersonDetails()
    reported_person: PersonDetails | None = None
    witnesses: list[PersonDetails] = []
    incident: IncidentDetails | None = None


#: A merged-away record points at a live one directly (merges re-point older ones); this bounds a walk
#: over records written before that rule, or by hand.
MAX_MERGE_CHAIN = 16


def live_person(session: Session, person_id: str) -> PersonRow | None:
    """The person an id names now: the record itself, or the one it was merged into."""
    person = session.get(PersonRow, person_id)
    for _ in range(MAX_MERGE_CHAIN):
        if person is None or person.merged_into is None:
            return person
        person = session.get(PersonRow, person.merged_into)
    return None


def write_person(session: Session, details: PersonDetails, now: datetime, actor: str, case_ref: str) -> PersonRow:
    """The person `details` names: the record with its id (updated with what was given), else a new one.

    Never a match: a report's people are always written as given, and matching only offers merges."""
    person = session.get(PersonRow, details.id) if details.id else None
    if person is not None and person.merged_into is not None:
        person = live_person(session, person.id)  # a merged record's id still names its person
    if person is None:
        person = PersonRow(id=details.id or f"P-{uuid.uuid4().hex[:12]}", large_print=False, easy_read=False,
                           is_employee=False)
        session.add(person)
    values: dict[str, Any] = details.model_dump(exclude={"id", "anonymous", "consents"}, exclude_none=True)
    for name, value in values.items():
        if getattr(person, name) != value:
            setattr(person, name, value)
    session.flush()  # the person exists before anything refers to them
    for kind, given in details.consents.items():
        session.add(ConsentRow(person_id=person.id, case_ref=case_ref, kind=kind, given=given, recorded_at=now,
                               recorded_by=actor))
    return person


def record_report(
    session: Session, reference: str, profile: str, report: IntakeReport, received_at: datetime, actor: str
) -> ReportArgs:
    """Write the report's people and incident; return what the workflow may know.

    An incident cannot have happened after the report of it arrived (beyond the sender's clock skew):
    refused before anything is written, whichever door the report came through."""
    if report.incident is not None and report.incident.occurred_at > received_at + FUTURE_SKEW:
        raise ValueError("incident.occurred_at is in the future: after the report was received")
    session.add(CaseRow(
        reference=reference, profile=profile, stage="enquiry", outcome="enquiry", risk=None,
        category=report.category, hate=report.hate, officer=report.officer, opened_at=received_at,
        overdue=False, last_seq=0, locked=False,
    ))
    session.flush()
    parties: dict[str, Any] = {}
    reporter = None
    if not report.reporter.anonymous or report.reporter.name or report.reporter.id:
        reporter = write_person(session, report.reporter, received_at, actor, reference)
        session.add(PartyRow(case_ref=reference, person_id=reporter.id, role="reporter",
                             anonymous=report.reporter.anonymous))
    parties["reporter"] = {
        "id": reporter.id if reporter else None, "anonymous": report.reporter.anonymous,
        "contact": {"method": report.reporter.contact_method},
        # Only whether the reporter carries a flag reaches the workflow; which flags stays here.
        "vulnerable": bool(reporter.vulnerabilities if reporter else report.reporter.vulnerabilities),
    }
    if report.reported_person is not None:
        reported = write_person(session, report.reported_person, received_at, actor, reference)
        session.add(PartyRow(case_ref=reference, person_id=reported.id, role="reported_person", anonymous=False))
        parties["reported_person"] = {"id": reported.id}
    for witness in report.witnesses:
        row = write_person(session, witness, received_at, actor, reference)
        session.add(PartyRow(case_ref=reference, person_id=row.id, role="witness", anonymous=witness.anonymous))
    if report.incident is not None:
        incident = report.incident
        session.add(IncidentRow(
            case_ref=reference, occurred_at=incident.occurred_at, location=incident.location,
            category=report.category, hate_strand=report.hate_strand, description=incident.description,
            reported_by=reporter.id if reporter else None, police_reference=incident.police_reference,
            impact=incident.impact, injuries=incident.injuries,
            reported_by_kind="reporter" if reporter else None,
            evidence=[e.model_dump() for e in incident.evidence], recorded_at=received_at,
        ))
    return ReportArgs.model_validate({
        "category": report.category, "hate": report.hate, "hate_strand": report.hate_strand,
        "violence_or_threats": report.violence_or_threats, "risk_of_harm": report.risk_of_harm,
        "tried_to_resolve": report.tried_to_resolve, "incidents_last_month": report.incidents_last_month,
        "time_of_day": report.time_of_day, "channel": report.channel, "officer": report.officer, **parties,
    })
