"""The case file's tables (SQLAlchemy 2, typed).

Rows a workflow writes carry a key derived from the case reference and the event's sequence number,
enforced by a unique constraint, so a retried or replayed activity never writes twice. Rows people
edit carry a version number, so two officers editing at once never lose an update. Columns that hold
personal data are listed in PERSONAL, which the audit log, retention and subject access read.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from casefile.normalise import address_key, check_uprn, email_key, name_key, phone_key, postcode_key
from casefile.types import UTCDateTime, check_date_of_birth, check_language, check_vulnerabilities

#: How each matched detail of a person becomes the key stored beside it.
KEYS = {"name": name_key, "address": address_key, "postcode": postcode_key, "email": email_key,
        "phone": phone_key}


class Base(DeclarativeBase):
    pass


class CaseRow(Base):
    __tablename__ = "cases"

    reference: Mapped[str] = mapped_column(String(32), primary_key=True)
    profile: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    risk: Mapped[str | None] = mapped_column(String(8), index=True)
    category: Mapped[str] = mapped_column(String(64))
    hate: Mapped[bool] = mapped_column(Boolean, default=False)
    officer: Mapped[str | None] = mapped_column(String(64), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    closure_reason: Mapped[str | None] = mapped_column(String(32))
    next_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    #: The newest workflow event projected: a late write never moves a case backwards.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    #: Restricted to its officer and managers (004 §3.7); every read of it is audited.
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    lock_reason: Mapped[str | None] = mapped_column(String(200))
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: What starts the case workflow, ids only (ReportArgs, profile snapshot, received): the case row is
    #: the durable intent to run a case, so a start that failed is made later by the reconciler.
    start_args: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: When the workflow was known to be running; NULL until then (activities/reconcile.py).
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class EventRow(Base):
    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_ref", "seq", name="uq_case_events_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(String(32), index=True)
    #: Workflow events are numbered; refusals recorded by a client are not (they never reach the workflow).
    seq: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class TaskRow(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    case_ref: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    assignee: Mapped[str | None] = mapped_column(String(64))
    due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    #: The task workflow's change counter: an older update never overwrites a newer one.
    revision: Mapped[int] = mapped_column(Integer, default=0)


class MessageRow(Base):
    """A letter or a notification, one row per (case, event, recipient, channel)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    case_ref: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    template: Mapped[str] = mapped_column(String(64))
    recipient_role: Mapped[str] = mapped_column(String(32))
    recipient_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    path: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(120))


class StaffNoticeRow(Base):
    """A notice to a member of staff or a role's mailbox: a task's event or a daily digest (issue 14 item 1).

    Apart from the letters (`messages`): it is about the service's own work, not a party, so it is never
    in a case's chronology, letters or a subject access export. One row per key (a task's id and event,
    or a digest's landlord, person and day), so a retry or a restarted worker finds it and sends nothing
    twice. It holds ids and a reason, never an address (the address is looked up at send time)."""

    __tablename__ = "staff_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    #: task_created, task_reminded, task_escalated, task_breached or digest
    kind: Mapped[str] = mapped_column(String(32))
    case_ref: Mapped[str | None] = mapped_column(String(32), index=True)
    task_id: Mapped[str | None] = mapped_column(String(80), index=True)
    #: A staff id, or "mailbox:<role>"
    recipient: Mapped[str | None] = mapped_column(String(80), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    path: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(120))


class PersonRow(Base):
    """Anyone named in a case: reporter, reported person, witness or representative.

    A person may be unknown: no name, only a description ("unknown male, flat 3"). The `*_key`
    columns are the normal forms matching compares (casefile/normalise.py), set whenever the detail
    they come from is set, so no writer can leave them stale. A person merged into another keeps
    only its id and `merged_into` (casefile/people.py): workflows and old letters still name the id.
    """

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    #: For someone whose name is not known: who they are as the reporter describes them.
    description: Mapped[str | None] = mapped_column(String(300))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    address: Mapped[str | None] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(String(16))
    #: The address's Unique Property Reference Number, when one was given: digits, at most 12.
    uprn: Mapped[str | None] = mapped_column(String(12), index=True)
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    name_key: Mapped[str | None] = mapped_column(String(200), index=True)
    address_key: Mapped[str | None] = mapped_column(Text)  # hash-indexed (0006): addresses outgrow a b-tree
    postcode_key: Mapped[str | None] = mapped_column(String(16))
    email_key: Mapped[str | None] = mapped_column(String(200), index=True)
    phone_key: Mapped[str | None] = mapped_column(String(40), index=True)
    #: The person this record was merged into (by an officer, never automatically); NULL for a live record.
    merged_into: Mapped[str | None] = mapped_column(String(64), index=True)
    #: letter, email, sms or phone: how this person asked to be contacted.
    contact_method: Mapped[str | None] = mapped_column(String(16))
    contact_every_days: Mapped[int | None] = mapped_column(Integer)
    #: Reasonable adjustments (003 §9, 004 §6.5): large_print, easy_read, language, representative.
    large_print: Mapped[bool] = mapped_column(Boolean, default=False)
    easy_read: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(8))
    representative_id: Mapped[str | None] = mapped_column(String(64))
    #: Linked to an employee: a reason to lock their cases (004 §3.7).
    is_employee: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Vulnerability flags, categories of policy.risk.VULNERABILITIES (003 §11; 004 §3.4, §3.5, §6.5): shown
    #: on every view of their cases; the workflow learns only whether a reporter carries any. NULL: none.
    vulnerabilities: Mapped[list[str] | None] = mapped_column(JSON)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    @validates("language")
    def _language(self, key: str, value: str | None) -> str | None:
        # Every path that writes a person (intake, the edit path, imports) gets the same allow-list: the
        # language later picks a letters folder when a letter is rendered (issue 9 item 1).
        return check_language(value, "language")

    @validates("date_of_birth")
    def _born(self, key: str, value: date | str | None) -> date | None:
        return check_date_of_birth(value)

    @validates("name", "address", "postcode", "email", "phone", "uprn")
    def _match_keys(self, key: str, value: str | None) -> str | None:
        # Every writer (intake, the edit path, retention, merging) keeps the keys in step with the detail.
        if key == "uprn":
            return check_uprn(value)
        setattr(self, f"{key}_key", KEYS[key](value))
        return value


    @validates("vulnerabilities")
    def _vulnerabilities(self, key: str, value: list[str] | None) -> list[str] | None:
        # The same allow-list on every path that writes a person: categories only, never free text.
        return check_vulnerabilities(value)


#: The parts a person can have in a case (issue 12 item 5): any number of each, people known or not.
PARTY_ROLES = ("reporter", "reported_person", "witness", "representative")


class PartyRow(Base):
    """A person's part in a case."""

    __tablename__ = "case_parties"
    __table_args__ = (UniqueConstraint("case_ref", "person_id", "role", name="uq_case_party"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(String(24))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)

    @validates("role")
    def _role(self, key: str, value: str) -> str:
        if value not in PARTY_ROLES:
            raise ValueError(f"role must be one of {', '.join(PARTY_ROLES)}")
        return value


class ConsentRow(Base):
    """Consent recorded for action, referral, a third party acting, or a contact channel (003 §15)."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    case_ref: Mapped[str | None] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # action, referral, third_party, email, sms
    given: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(64))


class IncidentRow(Base):
    """One incident (003 §12): when and where, what happened, who reported it, references, and its impact.

    A report's own incident is written by intake; a further one by the door that sent `record_incident`,
    *pending* under `ref` before the command goes (the workflow gets only the ref), and confirmed by the
    projection when the case records the incident, like a command's note. `command` keeps, for an
    incident a report brought to an open case, the ids-only command that records it, so a resend or the
    reconciler can send it again until it is on the timeline (activities/reconcile.py).
    """

    __tablename__ = "incidents"
    __table_args__ = (UniqueConstraint("ref", name="uq_incidents_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    location: Mapped[str | None] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(64))
    hate_strand: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    #: The person on file who reported it (a person id), when known.
    reported_by: Mapped[str | None] = mapped_column(String(64))
    #: Who reported it: reporter, witness, partner, police or app_feed (statemachine.commands.ReportedBy).
    reported_by_kind: Mapped[str | None] = mapped_column(String(16))
    police_reference: Mapped[str | None] = mapped_column(String(64))
    partner_reference: Mapped[str | None] = mapped_column(String(64))
    #: How it affected the person, and any injuries (003 §12).
    impact: Mapped[str | None] = mapped_column(Text)
    injuries: Mapped[str | None] = mapped_column(Text)
    #: The app feed that sent it and that app's own id for it (the Noise App).
    feed: Mapped[str | None] = mapped_column(String(32))
    feed_id: Mapped[str | None] = mapped_column(String(128))
    #: e.g. [{"kind": "noise_app", "ref": "NA-123"}, {"kind": "diary_sheet", "ref": "..."}, {"kind": "cctv", ...}]
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The reference `record_incident` carried in place of the details (NULL for a report's own incident).
    ref: Mapped[str | None] = mapped_column(String(40))
    #: pending (written, its command not yet on the timeline), confirmed, or discarded (never recorded).
    status: Mapped[str] = mapped_column(String(12), default="confirmed", server_default="confirmed", index=True)
    #: The reference a report attached to this case was given (when it had its own), so it can be found.
    report_ref: Mapped[str | None] = mapped_column(String(32), index=True)
    #: Until recorded: the ids-only command that records an attached report's incident ({args, actor, update_id}).
    command: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # None is SQL NULL, not 'null'
    #: Where it was reported: "case" (this service), or by the applicant to the "police", the "council" or
    #: another "landlord" (003 §10: all count toward the ASB Case Review thresholds). Not who told us
    #: (`reported_by_kind`): the police telling us of an incident is reported_by_kind "police", source "case".
    source: Mapped[str] = mapped_column(String(16), default="case", server_default="case")
    #: Marked by the officer as shareable with the partner agencies the case is shared with (casefile/partners.py).
    shareable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false(), nullable=False)


class ContactRow(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    person_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(8))
    method: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


class ActionPlanItemRow(Base):
    """One action of a case's action plan as it stands now (003 stage 1; 004 §3.8); each version shared with
    the reporter is kept whole in action_plan_versions."""

    __tablename__ = "action_plan_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    description: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(64))  # officer, reporter, or a partner agency
    due: Mapped[date | None] = mapped_column(Date)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    #: The action's id in the workflow ("A1"): the commands that change it name it.
    key: Mapped[str | None] = mapped_column(String(16))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __mapper_args__ = {"version_id_col": version}


class ActionPlanVersionRow(Base):
    """A copy of the action plan as shared with the reporter (000, 004 §3.2)."""

    __tablename__ = "action_plan_versions"
    __table_args__ = (UniqueConstraint("case_ref", "number", name="uq_plan_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    shared_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The actions as they stood: [{"key", "description", "owner", "due", "done"}].
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: The contact agreed with the reporter in this version (004 §3.8 "the method and frequency that has
    #: been agreed"): the letter states these, never the person record.
    contact_every_days: Mapped[int | None] = mapped_column(Integer)
    contact_method: Mapped[str | None] = mapped_column(String(16))


class RiskAssessmentRow(Base):
    __tablename__ = "risk_assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    level: Mapped[str] = mapped_column(String(8))
    #: The total of the matrix's scores (None: a level given without scores, by an older scenario file).
    score: Mapped[int | None] = mapped_column(Integer)
    #: The score of each factor of the profile's matrix, e.g. {"persistence": 2, "impact": 1, ...}.
    scores: Mapped[dict[str, int] | None] = mapped_column(JSON)
    #: Whether the reporter carried a vulnerability flag when it was assessed (it raises the level).
    reporter_vulnerable: Mapped[bool | None] = mapped_column(Boolean)
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When the next assessment is due (the `risk_review` deadline falls at the end of that working day).
    next_due: Mapped[date | None] = mapped_column(Date)
    by: Mapped[str] = mapped_column(String(64))


class InterventionRow(Base):
    __tablename__ = "interventions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


class LegalActionRow(Base):
    __tablename__ = "legal_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(Text)


class EqualityAssessmentRow(Base):
    """Equality Act assessments: before notice, court, warrant, and on new information (004 §6.4), each
    structured as 003 §16 asks: the protected characteristics or vulnerabilities considered, the adjustments
    or support offered, and whether the action is proportionate."""

    __tablename__ = "equality_assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    #: notice, court_application, warrant, or new_information (statemachine.commands.EqualityStep).
    step: Mapped[str | None] = mapped_column(String(24))
    #: proportionate, proportionate_with_adjustments, not_proportionate.
    conclusion: Mapped[str | None] = mapped_column(String(32))
    #: The characteristics and vulnerabilities considered (special category data).
    considered: Mapped[list[str] | None] = mapped_column(JSON)
    adjustments: Mapped[str | None] = mapped_column(Text)


#: The kinds of case note (004 §3.7: incidents, interviews, phone calls, decisions, reviews, meetings,
#: referrals; issue 12 item 3): what a typed note records.
NOTE_KINDS = ("call", "visit", "interview", "meeting", "multi_agency_meeting", "request_for_information", "other")


class CaseNoteRow(Base):
    """A note on the case. Either free text given with a command (a note, a legal outcome), kept here,
    not in the workflow: the command that carried it passes only `ref`, so no free text reaches Temporal
    history; or a typed note an officer writes directly (a call, a visit, an interview, a meeting, a
    request for information: `kind`, when it happened `at`, who wrote it `by`, and the `people` involved),
    which changes no lifecycle fact and so is the case file's alone (casefile/notes.py)."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(40), unique=True)
    case_ref: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(64))
    command: Mapped[str] = mapped_column(String(40))
    field: Mapped[str] = mapped_column(String(24))
    text: Mapped[str | None] = mapped_column(Text)
    #: Further personal arguments given with the text (CommandSpec.kept), e.g. what an Equality Act
    #: assessment considered: {"considered": [...], "adjustments": "..."}.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: pending: written before the command was sent; confirmed: its event is on the timeline;
    #: discarded: never accepted within the grace period (hidden; a late event still confirms it).
    status: Mapped[str] = mapped_column(String(12), default="confirmed", server_default="confirmed", index=True)
    #: A typed note's kind (NOTE_KINDS); NULL for a command's free text.
    kind: Mapped[str | None] = mapped_column(String(32))
    #: The people involved: [{"person_id": ...} for people on file, {"name": ..., "organisation": ...} for others].
    people: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    #: Marked by the officer as shareable with the partner agencies the case is shared with (casefile/partners.py).
    shareable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false(), nullable=False)


class ReferralRow(Base):
    """A referral: a report routed to another service by triage (003 §4), or a person referred to a
    partner agency (003 §9; 004 §3.3, §4.4), with the basis and consent it was made on, its follow-up
    date and its outcome. Written from the timeline's `referral` and `referral_outcome` events; ids,
    categories and dates only (its notes are case notes, by reference)."""

    __tablename__ = "referrals"
    __table_args__ = (UniqueConstraint("case_ref", "referral_id", name="uq_referral"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    #: The case's own id for it (`referral-3`); a triage routing is `routed-<event seq>`.
    referral_id: Mapped[str] = mapped_column(String(32))
    #: The agency's id in the profile (`referrals.agencies`), or the service a report was routed to.
    agency: Mapped[str] = mapped_column(String(32), index=True)
    #: What for: the agency's kind (victim_support, safeguarding_adults, ...) or `not_asb`.
    purpose: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[str | None] = mapped_column(String(64), index=True)
    #: consent, safeguarding, crime; `routed` for a report passed on by triage.
    basis: Mapped[str] = mapped_column(String(16))
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))
    made_at: Mapped[datetime] = mapped_column(UTCDateTime())
    made_by: Mapped[str] = mapped_column(String(64))
    follow_up: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome_by: Mapped[str | None] = mapped_column(String(64))
    #: The case notes given with it and with its latest outcome (case_notes.ref).
    note_ref: Mapped[str | None] = mapped_column(String(40))
    outcome_note_ref: Mapped[str | None] = mapped_column(String(40))


class CaseShareRow(Base):
    """A case shared with a partner agency (003 §14-15; 004 §4.5): that agency's staff may then read the
    case's shareable items and their own referrals (casefile/partners.py). Unsharing keeps the row (with
    `shared` false); who changed it and when is in the audit log."""

    __tablename__ = "case_shares"
    __table_args__ = (UniqueConstraint("case_ref", "agency", name="uq_case_share"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    agency: Mapped[str] = mapped_column(String(32), index=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_by: Mapped[str] = mapped_column(String(64))


class AuditRow(Base):
    """Append-only (database triggers refuse UPDATE and DELETE): who did or read what, and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # create, update, delete, read, export, anonymise
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(80))
    case_ref: Mapped[str | None] = mapped_column(String(32), index=True)
    #: Values of changed columns; personal columns appear by name only, never by value, so this
    #: append-only log holds no personal data that retention would have to erase.
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ReferenceCounterRow(Base):
    """The last case number issued each year, for references such as ASB-2026-000123."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


#: Columns derived from others in the same row (the match keys): the audit log records the change to
#: the detail they come from, so listing them too would only repeat it.
DERIVED: dict[str, frozenset[str]] = {
    "people": frozenset({"name_key", "address_key", "postcode_key", "email_key", "phone_key"}),
}

#: Columns holding personal data, by table: redacted in the audit log, anonymised by retention,
#: redacted for other people in a subject access export.
PERSONAL: dict[str, frozenset[str]] = {
    "cases": frozenset({"lock_reason"}),
    "people": frozenset({"name", "description", "date_of_birth", "address", "postcode", "uprn", "email", "phone",
                         "language", "vulnerabilities", "name_key", "address_key", "postcode_key", "email_key",
                         "phone_key"}),
    "person_merges": frozenset({"reason", "merged_values"}),
    "incidents": frozenset({"location", "description", "police_reference", "evidence", "partner_reference",
                            "impact", "injuries"}),
    "action_plan_versions": frozenset({"items"}),
    "messages": frozenset({"last_error"}),
    "contacts": frozenset({"note"}),
    "action_plan_items": frozenset({"description"}),
    "interventions": frozenset({"note"}),
    "equality_assessments": frozenset({"note", "considered", "adjustments"}),
    "legal_actions": frozenset({"outcome"}),
    "tasks": frozenset({"reason"}),
    "case_notes": frozenset({"text", "data", "people"}),
    "evidence": frozenset({"original_name", "description"}),
}


class ExternalReportRow(Base):
    """A report that arrived from another system (the Noise App feed), by that system's own id.

    Apps resend a report when they miss the answer; the unique (source, external_id) key is what makes
    a resent report find the case the first delivery opened instead of opening a second one, even when
    both deliveries arrive at once. `report_args` is the ids-only report the case workflow was started
    with (no personal data), kept so a resend can still start a case whose first start failed.
    """

    __tablename__ = "external_reports"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_external_report"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    report_args: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class IdempotencyKeyRow(Base):
    """A report's Idempotency-Key and the case it opened, so a resend finds that case, not a new one.

    `key_hash` is sha256 of the caller's scope and the key (a key is only ever matched for the caller
    who sent it); its unique constraint is what makes five concurrent sends open one case. Kept for at
    least KEY_RETENTION (casefile/idempotency.py), then purged by the reconciler.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("key_hash", name="uq_idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    door: Mapped[str] = mapped_column(String(16))
    request_hash: Mapped[str] = mapped_column(String(64))
    case_ref: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class PersonMergeRow(Base):
    """An officer's decision that two records are one person (issue 12 item 5): never made by matching.

    One row per merged record (the unique key makes a repeated merge find this row, not merge twice).
    `merged_values` keeps the merged record's own details, so nothing the officer did not choose is lost
    and a wrong merge can be undone by hand; it is cleared with the kept person by retention.
    """

    __tablename__ = "person_merges"
    __table_args__ = (UniqueConstraint("merged_id", name="uq_person_merge"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    keep_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    merged_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_role: Mapped[str] = mapped_column(String(32))
    by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    merged_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: What was moved: {"parties": n, "consents": n, ...}, counts only.
    moved: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class EvidenceObjectRow(Base):
    """One stored file, by the SHA-256 digest of its bytes, shared by every evidence row with those bytes.

    The row is also the lock that keeps an upload and a purge of the same bytes apart: an upload takes it
    (FOR UPDATE) before it stores the bytes and adds its evidence row, and a purge takes it before it
    deletes the bytes, so a file is never deleted from the store while a row refers to it
    (casefile/evidence.py). No personal data: the digest, the size and the sniffed media type only.
    """

    __tablename__ = "evidence_objects"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Set when the last evidence row referring to it went (deleted, or removed by retention): the bytes
    #: are then deleted from the store once that transaction has committed, or by the next purge.
    orphaned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


class EvidenceRow(Base):
    """A file added to a case (a recording, photo, diary sheet, letter, CCTV still...), optionally about
    one incident. The bytes live in the evidence store under their digest (never under the name the
    uploader gave, which is kept, sanitised, for display only). One row per (case, bytes): adding the
    same file to a case again finds this row."""

    __tablename__ = "evidence"
    __table_args__ = (
        UniqueConstraint("case_ref", "digest", name="uq_evidence_case_digest"),
        UniqueConstraint("idempotency_key_hash", name="uq_evidence_idempotency_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    digest: Mapped[str] = mapped_column(ForeignKey("evidence_objects.digest"), index=True)
    #: recording, photo, diary_sheet, letter, cctv_still, document or other (casefile/evidence.py KINDS).
    kind: Mapped[str] = mapped_column(String(16))
    #: Sniffed from the bytes and matched against what the uploader declared.
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    #: The uploader's file name, sanitised: shown to people, never used as a path.
    original_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    #: The person (a party to the case) who gave the file, if any: theirs in a subject access export.
    provided_by: Mapped[str | None] = mapped_column(String(64))
    #: May be shared with partner agencies; no by default.
    shareable: Mapped[bool] = mapped_column(Boolean, default=False)
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: sha256 of the adder's scope and their Idempotency-Key (casefile/idempotency.py key_hash).
    idempotency_key_hash: Mapped[str | None] = mapped_column(String(64))


#: The closure survey's answer to "How satisfied or dissatisfied are you with how we handled your case?",
#: on the Regulator's five-point scale for TP12 (the Tenant Satisfaction Measures' ASB question).
SATISFACTION = ("very_satisfied", "fairly_satisfied", "neither", "fairly_dissatisfied", "very_dissatisfied")


class SurveyAnswerRow(Base):
    """An answer to the closure survey (003 §13 "Close Case Surveys"; 002 §3.3 "an ASB transactional
    satisfaction survey on case closure"; 000 "invite you to share feedback"), counted by the TP12 report.

    One answer per case and person: the link in the survey letter carries a signed token naming both,
    and the unique key is what makes the link single-use (casefile/surveys.py). Staff record answers
    given by phone or on the paper form through the same service (`channel` says which). No free text:
    the answer is one of SATISFACTION, so nothing here is personal beyond the person's id.
    """

    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("case_ref", "person_id", name="uq_survey_answer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    #: The person answering (the case's reporter), by id; "" when staff recorded it for an unnamed reporter.
    person_id: Mapped[str] = mapped_column(String(64))
    satisfaction: Mapped[str] = mapped_column(String(24))
    #: link (the survey letter's link), phone, paper or in_person (recorded by staff).
    channel: Mapped[str] = mapped_column(String(12))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    #: The staff member who recorded it; NULL for an answer through the link.
    recorded_by: Mapped[str | None] = mapped_column(String(64))


class CaseReviewOutcomeRow(Base):
    """The outcome of an ASB Case Review held (004 §8; 003 §10): whether the review panel made
    recommendations. The yearly register the 2014 Act requires the review's lead agency to publish counts
    applications, those that met the threshold, reviews held and reviews that led to recommendations; the
    first three come from the case's own timeline, this last one only from the person who recorded it."""

    __tablename__ = "asb_case_review_outcomes"
    __table_args__ = (UniqueConstraint("case_ref", "held_on", name="uq_case_review_outcome"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.reference"), index=True)
    held_on: Mapped[date] = mapped_column(Date, index=True)
    recommendations: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(64))
