"""A case's chronology: incidents, contacts, actions, notes and letters in time order, for a court
bundle or a case conference, with nobody outside the case named in it.

Reading's policy has the officer keep "the chronology of incidents, actions set and taken by the
officer and other agencies, including any multi agency meetings, referrals to agencies for support,
requests for information and the risk assessments", with "forthcoming actions ... e.g. when contact
is due, when a new risk assessment is due" (003 stage 1). When a case goes to court the landlord
"must prove on the balance of probabilities, that the behaviour meets this threshold and provide
supporting evidence" and "demonstrate that any action we take is proportionate" (004 §2.1); legal
action is decided at a case review meeting weighing "any vulnerabilities of any parties involved"
and "what evidence is available" (004 §3.12). So there are two audiences:

- ``case_conference`` (the case review meeting, the multi-agency panel, 003 stage 5, 004 §3.11-3.12):
  everything, with the risk and vulnerability assessments, missed deadlines, and the forthcoming
  actions and deadlines;
- ``court`` (a bundle served on the reported person): what happened and what the landlord did, in
  order. Risk and vulnerability assessments of the reporter (000 "vulnerability risk assessment to
  understand your needs"; 004 §3.4) and the landlord's internal deadlines are left out, as are
  forthcoming actions: a court is shown facts, not plans.

Each entry comes from one row of the case file, named in its ``source`` ("incident 12"), so anyone
checking the bundle can find the record it came from. Entries are built by *sources*: one function
per kind of record, registered with ``@source``. Adding a kind of record (the evidence register) is
one such function. All free text, whichever source it came from, is redacted at the end
(casefile/redaction.py): a source cannot forget to. Nobody is called a victim or a perpetrator
(002 §4.1): people are "the reporter" and "the reported person".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from casefile import access, audit
from casefile.models import (
    ActionPlanItemRow,
    ActionPlanVersionRow,
    AuditRow,
    CaseNoteRow,
    CaseRow,
    ContactRow,
    EqualityAssessmentRow,
    EventRow,
    IncidentRow,
    InterventionRow,
    LegalActionRow,
    MessageRow,
    PartyRow,
    PersonRow,
    ReferralRow,
    RiskAssessmentRow,
)
from casefile.redaction import REDACTED, Identity, Redactor
from statemachine.commands import OPEN_OUTCOMES

Audience = Literal["court", "case_conference"]
AUDIENCES: tuple[Audience, ...] = get_args(Audience)
Kind = Literal["incident", "contact", "note", "action", "risk", "legal", "letter", "decision", "evidence"]
KINDS: tuple[Kind, ...] = get_args(Kind)
#: Who may produce a chronology: the people who prepare court bundles and case reviews (004 §3.1, §3.12).
MAY_GENERATE = frozenset({"officer", "manager", "senior_manager"})
SYSTEM = "system"


class ChronologyEntry(BaseModel):
    """One line of a chronology: when, what kind, what happened, who recorded it, and where it is kept."""

    model_config = ConfigDict(frozen=True)

    when: datetime
    kind: Kind
    #: One line saying what happened ("Warning letter sent to the reported person by post").
    summary: str
    #: What was written about it (a note, an incident's description), redacted.
    detail: str | None = None
    #: The member of staff's id, "system" for what the case system did by itself, or a party's role.
    recorded_by: str | None = None
    #: When it was written down, where that differs from when it happened (an incident reported later).
    recorded_at: datetime | None = None
    #: The record it came from: "incident 12", "note N-1f2e...", "event 41".
    source: str


class ChronologyParty(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: str
    #: None for an anonymous party: they are in the case, but the document does not name them.
    name: str | None
    anonymous: bool = False


class Chronology(BaseModel):
    """A case's chronology for one audience, redacted and in order."""

    reference: str
    profile: str
    audience: Audience
    generated_at: datetime
    category: str
    stage: str
    opened_at: datetime
    closed_at: datetime | None
    officer: str | None
    hate: bool
    parties: list[ChronologyParty]
    entries: list[ChronologyEntry]
    #: Actions and deadlines still to come (case conference only; 003 stage 1 "forthcoming actions").
    forthcoming: list[ChronologyEntry]


# ---------------------------------------------------------------------- words

ROLES = {"reporter": "the reporter", "reported_person": "the reported person", "witness": "a witness",
         "representative": "a representative"}
STAGES = {  # 003 §8
    "enquiry": "Stage 1: initial enquiry and assessment", "investigation": "Stage 2: case investigation",
    "review": "Stage 3: case review", "interventions": "Stage 4: interventions",
    "legal": "Stage 5: legal remedies", "closed": "Stage 6: case closed",
}
INTERVENTIONS = {
    "verbal_warning": "Verbal warning", "warning_letter": "Warning letter", "mediation": "Mediation",
    "acceptable_behaviour_contract": "Acceptable behaviour contract",
    "good_neighbour_agreement": "Good neighbour agreement",
    "community_protection_warning": "Community protection warning",
    "community_protection_notice": "Community protection notice", "support_referral": "Referral for support",
}
LEGAL = {
    "legal_warning": "legal warning", "injunction": "civil injunction", "closure_order": "closure order",
    "community_protection_notice": "community protection notice",
    "criminal_behaviour_order": "criminal behaviour order", "undertaking": "undertaking",
    "demotion": "demotion order", "notice_seeking_possession": "notice of seeking possession",
    "possession_order": "possession order", "absolute_ground": "possession order on an absolute ground",
}
LETTERS = {
    "acknowledgement": "Acknowledgement of the report", "early_support": "Early support letter",
    "not_asb_outcome": "Outcome letter (not anti-social behaviour)", "action_plan": "Action plan",
    "unable_to_contact": "Unable to contact letter", "enquiry_closed": "Enquiry closure letter",
    "initial_letter_reported_person": "Initial letter", "warning_letter": "Warning letter",
    "acceptable_behaviour_contract": "Acceptable behaviour contract",
    "good_neighbour_agreement": "Good neighbour agreement", "legal_warning": "Legal warning",
    "letter_before_action": "Letter before action", "case_closed_reporter": "Case closure letter",
    "satisfaction_survey": "Satisfaction survey", "case_closed_reported_person": "Case closure letter",
}
CHANNELS = {"letter": "by post", "email": "by email", "sms": "by text message"}
REASONS = {
    "unable_to_contact": "the reporter could not be contacted", "enquiry_expired": "the enquiry period ended",
    "no_cooperation": "lack of co-operation", "did_not_happen": "the incidents did not happen as reported",
    "not_asb": "not anti-social behaviour", "insufficient_evidence": "not enough evidence",
    "asb_stopped": "the behaviour stopped and the risk is low", "no_reports": "no new reports",
    "declined_mediation": "recommended mediation declined", "no_breach": "no breach of tenancy",
    "interventions_succeeded": "the interventions succeeded", "early_support": "early support given",
}
EVIDENCE = {"noise_app": "Noise App recording", "diary_sheet": "diary sheet", "cctv": "CCTV",
            "photo": "photograph", "police_report": "police report", "statement": "statement"}
NOTES = {  # statemachine.commands.FREE_TEXT: the command each note was written with
    "record_equality_assessment": "Equality Act assessment: note",
    "approve_legal_action": "Legal action approved: note", "reject_legal_action": "Legal action rejected: note",
    "approve_closure": "Closure approved: note", "reject_closure": "Closure rejected: note",
    "conclude_legal_action": "Outcome of the legal action", "record_case_review": "Case review: reason",
    "record_police_report": "Police reference recorded",
    "make_referral": "Referral: note", "record_referral_outcome": "Referral outcome: note",
}
#: Notes of the case conference only: a referral to a support, health or safeguarding agency tells the
#: person's needs, which a court bundle served on the reported person leaves out (like risk assessments).
CONFERENCE_ONLY_NOTES = frozenset({"make_referral", "record_referral_outcome"})
BASES = {"consent": "with their consent", "safeguarding": "on a safeguarding concern, without consent",
         "crime": "to report a crime, without consent"}
DECISIONS = {
    ("closure_approval", "approved"): "Closure approved",
    ("closure_approval", "rejected"): "Closure request rejected",
    ("enquiry_decision", "converted"): "Enquiry converted to a case investigation",
    ("enquiry_decision", "closed"): "Enquiry closed",
    ("consider_closure", "kept_open"): "Decided to keep the case open",
    ("consider_closure", "monitoring"): "Decided to monitor the case before closing it",
    ("consider_closure", "closure"): "Decided to ask for the case to be closed",
}
DEADLINES = {
    "first_response": "First response due", "contact": "Contact with the reporter due",
    "case_review": "Case review due", "case_review_stage": "Initial case review due",
    "enquiry_expiry": "Enquiry period ends", "unable_to_contact": "Reply to the unable-to-contact letter due",
    "inactivity": "No incidents for the inactivity period: closure to be considered",
    "monitoring": "Monitoring period ends", "asb_case_review": "ASB Case Review to be completed",
    "referral_follow_up": "Referral follow-up due",
}


def words(code: str | None, table: dict[str, str] | None = None) -> str:
    """A code as words: from the table, else with spaces for underscores ("street_drinking")."""
    if not code:
        return ""
    return (table or {}).get(code, code.replace("_", " "))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------------- the records a source reads

@dataclass
class CaseRecords:
    """What every source may read: the case, its audience, who its parties are, and who did what when."""

    session: Session
    case: CaseRow
    audience: Audience
    now: datetime
    #: person id -> their roles in this case, and whether they asked not to be named.
    roles: dict[str, list[str]]
    anonymous: set[str]
    names: dict[str, str]
    events: list[EventRow]
    #: A step's moment -> who sent the command that step carried out (the workflow's events share it).
    by_moment: dict[datetime, str] = field(default_factory=dict)
    #: Confirmed notes by their ref, and the refs an entry has already told (so no note is told twice).
    notes: dict[str, CaseNoteRow] = field(default_factory=dict)
    told: set[str] = field(default_factory=set)
    #: Staff ids -> names, where the landlord's settings know them (letters/config.py officers).
    staff: Mapping[str, str] = field(default_factory=dict)
    #: The landlord's time zone (its profile's calendar), for dates written into text.
    zone: str = "Europe/London"

    def person(self, person_id: str | None) -> str:
        """How an entry refers to someone: a party by role and name, an anonymous party by role only,
        anyone else not at all."""
        if not person_id or person_id not in self.roles:
            return REDACTED
        role = words(self.roles[person_id][0], ROLES)
        if person_id in self.anonymous or not self.names.get(person_id):
            return f"{role} (anonymous)" if person_id in self.anonymous else role
        return f"{role}, {self.names[person_id]}"

    def by(self, at: datetime) -> str:
        return self.staff_name(self.by_moment.get(at, SYSTEM))

    def staff_name(self, staff_id: str) -> str:
        """A member of staff by name where known; a bare id otherwise (never guessed)."""
        return self.staff.get(staff_id, staff_id)

    def note(self, ref: Any) -> str | None:
        """A confirmed note's text, told with the entry it explains (and then not again on its own)."""
        row = self.notes.get(str(ref)) if ref else None
        if row is None or not row.text:
            return None
        self.told.add(row.ref)
        return row.text

    def note_at(self, at: datetime) -> str | None:
        """The note sent with the command carried out at `at` (its event names it: `note_ref`)."""
        for event in self.events:
            if event.at == at and event.kind == "command" and event.data.get("note_ref"):
                return self.note(event.data["note_ref"])
        return None

    def created(self, table: type[Any], ids: list[int]) -> dict[int, tuple[datetime, str]]:
        """When each row of `table` (ids of this case's rows, all of them) was written, and by whom.

        The audit log records a new row before the database numbers it, so its create rows say "new";
        rows are numbered in the order they were written, so the k-th create row of this case's table
        is its k-th id, counting rows deleted since (their delete rows carry their ids). If the counts
        disagree (rows written around the ORM), nothing is claimed."""
        name = table.__tablename__
        audited = self.session.scalars(select(AuditRow).where(
            AuditRow.case_ref == self.case.reference, AuditRow.entity == name,
            AuditRow.action.in_(("create", "delete"))).order_by(AuditRow.at, AuditRow.id)).all()
        creates = [row for row in audited if row.action == "create"]
        gone = {int(row.entity_id) for row in audited if row.action == "delete" and row.entity_id.isdigit()}
        every = sorted(set(ids) | gone)
        if len(creates) != len(every):
            return {}
        return {row_id: (row.at, self._actor(row)) for row_id, row in zip(every, creates, strict=True)}

    @staticmethod
    def _actor(row: AuditRow) -> str:
        """Who wrote a row: the person acting, or "system" for the workflow's projection (whose rows
        say who sent the command themselves)."""
        return SYSTEM if row.actor_role == "system" else row.actor_id

    def local(self, moment: datetime) -> str:
        """A moment as a date in the landlord's zone, for text ("04/02/2026")."""
        return f"{moment.astimezone(ZoneInfo(self.zone)):%d/%m/%Y}"


Source = Callable[[CaseRecords], Iterable[ChronologyEntry]]
#: Every source, in the order their entries stand when two happened at the same moment.
SOURCES: list[Source] = []
#: Sources of forthcoming actions and deadlines (case conference only).
FORTHCOMING: list[Source] = []


def source(fn: Source) -> Source:
    """Register a source of chronology entries: a function from the case's records to entries.

    Adding a kind of record is one such function, e.g. for an evidence register (table `evidence`)::

        @source
        def evidence(r: CaseRecords) -> Iterable[ChronologyEntry]:
            rows = r.session.scalars(select(EvidenceRow).where(EvidenceRow.case_ref == r.case.reference)
                                     .order_by(EvidenceRow.obtained_at, EvidenceRow.id))
            for row in rows:
                yield ChronologyEntry(when=row.obtained_at, kind="evidence", summary=f"Evidence: {row.kind}",
                                      detail=row.description, recorded_by=r.staff_name(row.by),
                                      source=f"evidence {row.id}")

    Its text is redacted with everyone else's, and the PDF already has a label for the kind. A source
    that is only for one audience returns nothing for the other (see risk_assessments)."""
    SOURCES.append(fn)
    return fn


def forthcoming(fn: Source) -> Source:
    FORTHCOMING.append(fn)
    return fn


# ---------------------------------------------------------------------- sources

#: Who told the service of an incident, when not a person on file (003 §12).
REPORTED_BY = {"reporter": "the reporter", "witness": "a witness", "partner": "a partner agency",
               "police": "the police", "app_feed": "an app feed"}
#: App feeds by name (the profile's app feeds send their own ids with each report).
FEEDS = {"noise_app": "the Noise App"}


@source
def incidents(r: CaseRecords) -> Iterable[ChronologyEntry]:
    """Each incident at the moment it happened, with where, what, the police reference and the
    evidence gathered for it (003 stage 2: Noise App recordings, diary sheets, CCTV)."""
    rows = r.session.scalars(select(IncidentRow).where(IncidentRow.case_ref == r.case.reference)
                             .order_by(IncidentRow.occurred_at, IncidentRow.id)).all()
    written = r.created(IncidentRow, [row.id for row in rows])
    for row in rows:
        what = f"Incident: {words(row.category)}"
        if row.hate_strand:
            what += f" (hate incident, perceived as motivated by {words(row.hate_strand)})"
        if row.reported_by:
            what += f", reported by {r.person(row.reported_by)}"
        elif row.reported_by_kind:
            what += f", reported by {REPORTED_BY.get(row.reported_by_kind, words(row.reported_by_kind))}"
        parts = []
        if row.feed:
            feed = FEEDS.get(row.feed, words(row.feed))
            parts.append(f"Sent by {feed}" + (f" (its report {row.feed_id})." if row.feed_id else "."))
        if row.location:
            parts.append(f"Where: {row.location}.")
        if row.description:
            parts.append(row.description)
        if row.impact:
            parts.append(f"Impact: {row.impact}")
        if row.injuries:
            parts.append(f"Injuries: {row.injuries}")
        if row.police_reference:
            parts.append(f"Police reference: {row.police_reference}.")
        if row.partner_reference:
            parts.append(f"Partner reference: {row.partner_reference}.")
        evidence = [f"{words(str(item.get('kind') or 'other'), EVIDENCE)} {item.get('ref') or ''}".strip()
                    for item in row.evidence or [] if isinstance(item, dict)]
        if evidence:
            parts.append("Evidence: " + "; ".join(evidence) + ".")
        who = written[row.id][1] if row.id in written else SYSTEM
        if who == SYSTEM:  # recorded by the workflow: the command's sender, at the same moment
            who = r.by_moment.get(row.recorded_at, SYSTEM)
        who = r.staff_name(who)
        late = row.recorded_at if row.recorded_at.date() != row.occurred_at.date() else None
        yield ChronologyEntry(when=row.occurred_at, kind="incident", summary=what, detail=" ".join(parts) or None,
                              recorded_by=who, recorded_at=late, source=f"incident {row.id}")


#: Evidence files by their kind (casefile/evidence.py KINDS), as a chronology names them.
EVIDENCE_FILES = {"recording": "recording", "photo": "photograph", "diary_sheet": "diary sheet", "letter": "letter",
                  "cctv_still": "CCTV still", "document": "document", "other": "file"}


@source
def evidence(r: CaseRecords) -> Iterable[ChronologyEntry]:
    """The evidence register: each file when it was added, what it is, who provided it, the incident it
    supports, and its SHA-256 digest, so whoever reads the bundle can check that the copy they hold is
    the file the landlord relies on (004 §2.1 "provide supporting evidence"; 003 stage 2: Noise App
    recordings, diary sheets, CCTV, photos)."""
    from casefile.evidence import _size
    from casefile.models import EvidenceRow
    from casefile.sniff import TYPES

    rows = r.session.scalars(select(EvidenceRow).where(EvidenceRow.case_ref == r.case.reference)
                             .order_by(EvidenceRow.added_at, EvidenceRow.id)).all()
    incidents = {row.id: row.occurred_at for row in r.session.scalars(
        select(IncidentRow).where(IncidentRow.case_ref == r.case.reference))}
    zone = ZoneInfo(r.zone)
    for row in rows:
        what = f"Evidence added: {words(row.kind, EVIDENCE_FILES)}"
        if row.provided_by:
            what += f", provided by {r.person(row.provided_by)}"
        label = TYPES[row.media_type].label if row.media_type in TYPES else row.media_type
        said = _sentence(row.description or "").rstrip()
        said = f": {said}" + ("" if said.endswith((".", "!", "?")) else ".") if said else "."
        parts = [f"{row.original_name} ({label}, {_size(row.size)}){said}"]
        occurred = incidents.get(row.incident_id) if row.incident_id is not None else None
        if occurred is not None:
            parts.append(f"For the incident of {occurred.astimezone(zone):%-d %B %Y at %H:%M} "
                         f"(incident {row.incident_id}).")
        parts.append(f"SHA-256 {row.digest}.")
        yield ChronologyEntry(when=row.added_at, kind="evidence", summary=what, detail=" ".join(parts),
                              recorded_by=r.staff_name(row.added_by), source=f"evidence {row.id}")


@source
def contacts(r: CaseRecords) -> Iterable[ChronologyEntry]:
    rows = r.session.scalars(select(ContactRow).where(ContactRow.case_ref == r.case.reference)
                             .order_by(ContactRow.at, ContactRow.id)).all()
    for row in rows:
        with_whom = r.person(row.person_id) if row.person_id else "the reporter"
        how = words(row.method, {"phone": "by phone", "visit": "by a visit", "email": "by email",
                                 "letter": "by letter", "sms": "by text message"})
        what = (f"Contact made {how} with {with_whom}" if row.outcome == "made"
                else f"Attempted contact {how} with {with_whom}: not reached")
        yield ChronologyEntry(when=row.at, kind="contact", summary=what, detail=row.note,
                              recorded_by=r.staff_name(row.by), source=f"contact {row.id}")


@source
def risk_assessments(r: CaseRecords) -> Iterable[ChronologyEntry]:
    """Risk and vulnerability assessments (000; 004 §3.4): for the case conference, which weighs the
    parties' vulnerabilities (004 §3.12); not for a bundle served on the reported person."""
    if r.audience == "court":
        return
    rows = r.session.scalars(select(RiskAssessmentRow).where(RiskAssessmentRow.case_ref == r.case.reference)
                             .order_by(RiskAssessmentRow.assessed_at, RiskAssessmentRow.id)).all()
    for row in rows:
        what = f"Risk assessment: {row.level}" + (f" (score {row.score})" if row.score is not None else "")
        yield ChronologyEntry(when=row.assessed_at, kind="risk", summary=what, recorded_by=r.staff_name(row.by),
                              source=f"risk {row.id}")


@source
def interventions(r: CaseRecords) -> Iterable[ChronologyEntry]:
    rows = r.session.scalars(select(InterventionRow).where(InterventionRow.case_ref == r.case.reference)
                             .order_by(InterventionRow.started_at, InterventionRow.id)).all()
    for row in rows:
        yield ChronologyEntry(when=row.started_at, kind="action",
                              summary=f"Intervention: {words(row.kind, INTERVENTIONS)}", detail=row.note,
                              recorded_by=r.staff_name(row.by), source=f"intervention {row.id}")


def _words(value: str | None) -> str | None:
    """An id as words (`court_application` -> "court application")."""
    return value.replace("_", " ") if value else None


@source
def equality_assessments(r: CaseRecords) -> Iterable[ChronologyEntry]:
    """Made before notice, a court application and a warrant (004 §6.4): the court's proportionality."""
    rows = r.session.scalars(select(EqualityAssessmentRow).where(EqualityAssessmentRow.case_ref == r.case.reference)
                             .order_by(EqualityAssessmentRow.at, EqualityAssessmentRow.id)).all()
    for row in rows:
        # The structured assessment (issue 11 item 9), then its note: kept on the row and named by the
        # command's event, the same text once.
        lines = [f"{label}: {value}" for label, value in (
            ("For", _words(row.step)),
            ("Considered", ", ".join(c.replace("_", " ") for c in row.considered or []) or None),
            ("Adjustments or support offered", row.adjustments), ("Conclusion", _words(row.conclusion))) if value]
        for text in (row.note, r.note_at(row.at)):
            if text and text not in lines:
                lines.append(text)
        detail = "\n".join(lines) or None
        yield ChronologyEntry(when=row.at, kind="action", summary="Equality Act assessment made", detail=detail,
                              recorded_by=r.staff_name(row.by), source=f"equality {row.id}")


@source
def legal_actions(r: CaseRecords) -> Iterable[ChronologyEntry]:
    """Each legal action as proposed and as decided, with its case review meeting (004 §3.12)."""
    rows = r.session.scalars(select(LegalActionRow).where(LegalActionRow.case_ref == r.case.reference)
                             .order_by(LegalActionRow.proposed_at, LegalActionRow.id)).all()
    for row in rows:
        remedy = words(row.kind, LEGAL)
        emergency = " as an emergency" if row.emergency else ""
        yield ChronologyEntry(when=row.proposed_at, kind="legal", summary=f"Legal action proposed{emergency}: {remedy}",
                              recorded_by=r.by(row.proposed_at), source=f"legal {row.id}")
        if row.decided_at is not None and row.status in ("approved", "rejected", "concluded"):
            decided = "rejected" if row.status == "rejected" else "approved"
            facts = _event_data(r, "legal_action", row.decided_at, kind=row.kind, status=decided)
            detail = []
            if facts.get("case_review_meeting"):
                meeting = datetime.fromisoformat(str(facts["case_review_meeting"]))
                detail.append(f"Considered at a case review meeting on {r.local(meeting)}.")
            if facts.get("instruct_solicitor"):
                detail.append("A solicitor is to be instructed.")
            if note := r.note_at(row.decided_at):
                detail.append(note)
            yield ChronologyEntry(when=row.decided_at, kind="legal", summary=f"Legal action {decided}: {remedy}",
                                  detail="\n".join(detail) or None, recorded_by=r.by(row.decided_at),
                                  source=f"legal {row.id}")
        if row.outcome:
            concluded = _event_moment(r, "legal_action", kind=row.kind, status="concluded") or row.decided_at
            yield ChronologyEntry(when=concluded or row.proposed_at, kind="legal",
                                  summary=f"Legal action concluded: {remedy}", detail=row.outcome,
                                  recorded_by=r.by(concluded) if concluded else SYSTEM,
                                  source=f"legal {row.id}")


@source
def action_plan(r: CaseRecords) -> Iterable[ChronologyEntry]:
    """Actions set and taken (003 stage 1), when they were set and done (from the audit log), and each
    copy of the plan shared with the reporter (004 §3.8)."""
    rows = r.session.scalars(select(ActionPlanItemRow).where(ActionPlanItemRow.case_ref == r.case.reference)
                             .order_by(ActionPlanItemRow.id)).all()
    done_at = _done_moments(r, [row.id for row in rows])
    written = r.created(ActionPlanItemRow, [row.id for row in rows])
    for row in rows:
        owner = words(row.owner, {"officer": "the case officer", "reporter": "the reporter"})
        due = f", due {row.due:%d/%m/%Y}" if row.due else ""
        if row.id in written:  # when it was set is unknown otherwise: no date is better than a wrong one
            set_at, who = written[row.id]
            yield ChronologyEntry(when=set_at, kind="action", summary=f"Action set for {owner}{due}",
                                  detail=row.description, recorded_by=r.staff_name(who), source=f"action {row.id}")
        if row.done and row.id in done_at:
            when, who = done_at[row.id]
            yield ChronologyEntry(when=when, kind="action", summary=f"Action completed by {owner}",
                                  detail=row.description, recorded_by=r.staff_name(who), source=f"action {row.id}")
    versions = r.session.scalars(select(ActionPlanVersionRow).where(ActionPlanVersionRow.case_ref == r.case.reference)
                                 .order_by(ActionPlanVersionRow.shared_at, ActionPlanVersionRow.id)).all()
    shared = r.created(ActionPlanVersionRow, [version.id for version in versions])
    for version in versions:
        count = len(version.items or [])
        yield ChronologyEntry(when=version.shared_at, kind="action",
                              summary=f"Action plan (version {version.number}, {count} "
                                      f"action{'s' if count != 1 else ''}) shared with the reporter",
                              recorded_by=r.staff_name(shared[version.id][1] if version.id in shared else SYSTEM),
                              source=f"plan v{version.number}")


@source
def timeline(r: CaseRecords) -> Iterable[ChronologyEntry]:
    """What the case workflow decided: the report's triage, stage moves (003 §8), the officer, risk,
    the action plan agreed, case reviews, the police informed, closure decisions and the closure.
    Events that stand for a row read by another source (incidents, contacts, letters) are skipped."""
    for event in r.events:
        entry = _event(r, event)
        if entry is not None:
            yield entry


def _event(r: CaseRecords, event: EventRow) -> ChronologyEntry | None:
    data: dict[str, Any] = event.data or {}
    kind: Kind = "decision"
    summary: str | None = None
    detail: str | None = None
    if event.kind == "triage":
        summary = (f"Report received and triaged: {words(data.get('category'))}, "
                   f"outcome {words(data.get('outcome'))}, risk {data.get('risk') or 'not set'}")
    elif event.kind == "stage":
        summary = f"Case moved to {words(data.get('stage'), STAGES)}"
    elif event.kind == "officer":
        summary = f"Case officer assigned: {r.staff_name(str(data.get('officer')))}"
    elif event.kind == "risk":
        summary = f"Risk level set to {data.get('risk')}" + (f" ({words(data.get('why'))})" if data.get("why") else "")
    elif event.kind == "action_plan":
        every = data.get("contact_every_days")
        summary = (f"Action plan agreed: contact every {every} days by {words(data.get('contact_method'))}"
                   + (", as the reporter chose" if data.get("reporters_choice") else ""))
        kind = "action"
    elif event.kind == "police_informed":
        summary, kind = "Police informed", "action"
        if reference := r.note(data.get("reference_ref")):
            detail = f"Police reference: {reference}"
    elif event.kind == "case_review":
        summary = "Case review: " + ("the case continues" if data.get("decision") == "continue"
                                     else "closure to be considered")
        detail = r.note(data.get("reason_ref"))
    elif event.kind == "decision":
        summary = DECISIONS.get((str(data.get("kind")), str(data.get("decision"))))
        if summary and data.get("kind") == "closure_approval":
            detail = r.note_at(event.at)
    elif event.kind == "task" and data.get("kind") == "closure_approval":
        summary = f"Closure requested: {words(data.get('reason'), REASONS)}"
    elif event.kind == "closed":
        summary = f"Case closed: {words(data.get('reason'), REASONS)}"
        if data.get("routed_to"):
            summary += f"; passed to {words(data.get('routed_to'))}"
    elif event.kind == "referral" and data.get("id"):
        # A referral to a partner agency (003 stage 1 "referrals to agencies for support"): for the case
        # conference, which weighs the person's needs; a court bundle leaves it out (CONFERENCE_ONLY_NOTES).
        if r.audience == "case_conference":
            summary, kind = (f"Referral to {words(data.get('to'))} ({words(data.get('reason'))}) for "
                             f"{r.person(data.get('person_id'))}, {BASES.get(str(data.get('basis')), '')}"
                             .rstrip(", ")), "action"
            detail = r.note_at(event.at)
    elif event.kind == "referral":
        summary, kind = f"Report passed to {words(data.get('to'))}", "action"
    elif event.kind == "referral_outcome" and r.audience == "case_conference":
        summary, kind = f"Referral {data.get('id')}: {words(data.get('outcome'))}", "action"
        detail = r.note_at(event.at)
    elif event.kind == "asb_case_review":
        summary = f"ASB Case Review requested ({data.get('applicant') or 'individual'} application)"
    elif event.kind == "legal_action" and data.get("status") == "concluded" and not _has_outcome_row(r, data):
        summary, kind = f"Legal action concluded: {words(data.get('kind'), LEGAL)}", "legal"
        detail = r.note_at(event.at)
    elif event.kind == "communication_failed":
        summary, kind = f"{words(data.get('template'), LETTERS)} could not be delivered", "letter"
    elif event.kind == "breach" and r.audience == "case_conference":
        missed = words(data.get("kind"), DEADLINES).removesuffix(" due")
        summary = f"Deadline missed: {missed[:1].lower()}{missed[1:]}"
    if summary is None:
        return None
    return ChronologyEntry(when=event.at, kind=kind, summary=summary, detail=detail, recorded_by=r.by(event.at),
                           source=f"event {event.seq if event.seq is not None else event.id}")


@source
def letters(r: CaseRecords) -> Iterable[ChronologyEntry]:
    """Letters, emails and texts actually sent, when they were sent."""
    rows = r.session.scalars(select(MessageRow).where(MessageRow.case_ref == r.case.reference,
                                                      MessageRow.status == "sent", MessageRow.sent_at.is_not(None))
                             .order_by(MessageRow.sent_at, MessageRow.id)).all()
    for row in rows:
        assert row.sent_at is not None
        to = r.person(row.recipient_id) if row.recipient_id else words(row.recipient_role, ROLES)
        yield ChronologyEntry(when=row.sent_at, kind="letter",
                              summary=f"{words(row.template, LETTERS)} sent {words(row.channel, CHANNELS)} to {to}",
                              recorded_by=SYSTEM, source=f"message {row.id}")


@source
def notes(r: CaseRecords) -> Iterable[ChronologyEntry]:
    """Free text given with a command that no other entry has told (a command's event names its note
    since the note-ref-on-command-event patch; older notes stand on their own, at the moment they were
    written). Only confirmed notes: a pending one belongs to a command not yet on the timeline, a
    discarded one to a command that was refused (casefile/models.py CaseNoteRow). Registered last, so
    every other source has taken the notes it explains."""
    for row in sorted(r.notes.values(), key=lambda note: (note.at, note.id)):
        if not row.text or row.ref in r.told:
            continue
        if r.audience != "case_conference" and row.command in CONFERENCE_ONLY_NOTES:
            continue
        yield ChronologyEntry(when=row.at, kind="note", summary=NOTES.get(row.command, "Note"), detail=row.text,
                              recorded_by=r.staff_name(row.by), source=f"note {row.ref}")


@forthcoming
def open_actions(r: CaseRecords) -> Iterable[ChronologyEntry]:
    rows = r.session.scalars(select(ActionPlanItemRow).where(ActionPlanItemRow.case_ref == r.case.reference,
                                                             ActionPlanItemRow.done.is_(False))
                             .order_by(ActionPlanItemRow.due, ActionPlanItemRow.id)).all()
    for row in rows:
        owner = words(row.owner, {"officer": "the case officer", "reporter": "the reporter"})
        due = _start_of(row.due) if row.due else r.now
        late = " (overdue)" if row.due and due < r.now else ""
        yield ChronologyEntry(when=due, kind="action", summary=f"Action due for {owner}{late}", detail=row.description,
                              source=f"action {row.id}")


@forthcoming
def next_risk_assessment(r: CaseRecords) -> Iterable[ChronologyEntry]:
    latest = r.session.scalars(select(RiskAssessmentRow).where(RiskAssessmentRow.case_ref == r.case.reference)
                               .order_by(RiskAssessmentRow.assessed_at.desc(), RiskAssessmentRow.id.desc())).first()
    if latest is not None and latest.next_due is not None:
        yield ChronologyEntry(when=_start_of(latest.next_due), kind="risk", summary="Next risk assessment due",
                              source=f"risk {latest.id}")


@forthcoming
def referral_follow_ups(r: CaseRecords) -> Iterable[ChronologyEntry]:
    """Open referrals and when each is to be followed up (003 stage 1 "forthcoming actions")."""
    rows = r.session.scalars(select(ReferralRow).where(ReferralRow.case_ref == r.case.reference,
                                                       ReferralRow.follow_up.is_not(None))
                             .order_by(ReferralRow.follow_up, ReferralRow.id)).all()
    for row in rows:
        if (row.outcome is not None and row.outcome not in OPEN_OUTCOMES) or row.follow_up is None:
            continue
        yield ChronologyEntry(when=_start_of(row.follow_up), kind="action",
                              summary=f"Referral follow-up due: {words(row.agency)} ({row.referral_id})",
                              source=f"referral {row.id}")


@forthcoming
def next_deadline(r: CaseRecords) -> Iterable[ChronologyEntry]:
    """The case's next deadline (the workflow keeps it on the case row), named from its timeline."""
    due = r.case.next_deadline
    if due is None or r.case.closed_at is not None:
        return
    named = next((e for e in reversed(r.events) if e.kind == "deadline" and _same_moment(e.data.get("due"), due)),
                 None)
    what = words(str(named.data.get("kind")), DEADLINES) if named else "Next deadline"
    yield ChronologyEntry(when=due, kind="decision", summary=what,
                          source=f"event {named.seq}" if named is not None else "case")


# ---------------------------------------------------------------------- helpers

def zone_of(profile: str) -> str:
    """The time zone of a landlord's profile; the shipped default's if the profile cannot be read."""
    from profiles import ProfileError, load

    for name in (profile, "default"):
        try:
            return load(name).calendar.timezone
        except ProfileError:
            continue
    return "Europe/London"


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def _same_moment(value: Any, moment: datetime) -> bool:
    try:
        return datetime.fromisoformat(str(value)) == moment
    except ValueError:
        return False


def _event_data(r: CaseRecords, event_kind: str, at: datetime, **match: str) -> dict[str, Any]:
    for event in r.events:
        if event.kind == event_kind and event.at == at and all(str(event.data.get(k)) == v for k, v in match.items()):
            return dict(event.data)
    return {}


def _event_moment(r: CaseRecords, event_kind: str, **match: str) -> datetime | None:
    for event in r.events:
        if event.kind == event_kind and all(str(event.data.get(k)) == v for k, v in match.items()):
            return event.at
    return None


def _has_outcome_row(r: CaseRecords, data: dict[str, Any]) -> bool:
    """A concluded legal action whose outcome the legal action row holds is told by legal_actions()."""
    return r.session.scalars(select(LegalActionRow.id).where(
        LegalActionRow.case_ref == r.case.reference, LegalActionRow.kind == data.get("kind"),
        LegalActionRow.outcome.is_not(None))).first() is not None


def _done_moments(r: CaseRecords, item_ids: list[int]) -> dict[int, tuple[datetime, str]]:
    """When each action plan item was marked done, and by whom: the audit log's update that set it."""
    if not item_ids:
        return {}
    rows = r.session.scalars(select(AuditRow).where(
        AuditRow.case_ref == r.case.reference, AuditRow.entity == "action_plan_items", AuditRow.action == "update",
        AuditRow.entity_id.in_([str(i) for i in item_ids])).order_by(AuditRow.at, AuditRow.id)).all()
    found: dict[int, tuple[datetime, str]] = {}
    for row in rows:
        if (row.after or {}).get("done") is True:
            found[int(row.entity_id)] = (row.at, row.actor_id)
    return found


def _records(session: Session, case: CaseRow, audience: Audience, now: datetime,
             staff: Mapping[str, str]) -> CaseRecords:
    parties = session.scalars(select(PartyRow).where(PartyRow.case_ref == case.reference).order_by(PartyRow.id)).all()
    roles: dict[str, list[str]] = {}
    anonymous: set[str] = set()
    for party in parties:
        roles.setdefault(party.person_id, []).append(party.role)
        if party.anonymous:
            anonymous.add(party.person_id)
    people = session.scalars(select(PersonRow).where(PersonRow.id.in_(list(roles)))).all() if roles else []
    names = {p.id: p.name for p in people if p.name and p.id not in anonymous}
    events = list(session.scalars(select(EventRow).where(EventRow.case_ref == case.reference)
                                  .order_by(EventRow.at, EventRow.seq, EventRow.id)).all())
    by_moment = {e.at: str(e.data.get("by")) for e in events if e.kind == "command" and e.data.get("by")}
    notes = {row.ref: row for row in session.scalars(select(CaseNoteRow).where(
        CaseNoteRow.case_ref == case.reference, CaseNoteRow.status == "confirmed"))}
    return CaseRecords(session=session, case=case, audience=audience, now=now, roles=roles, anonymous=anonymous,
                       names=names, events=events, by_moment=by_moment, notes=notes, staff=staff,
                       zone=zone_of(case.profile))


def _redactor(session: Session, r: CaseRecords, keep_contacts: Iterable[str], texts: list[str | None]) -> Redactor:
    """Everyone the case file holds who is not a named party of this case is outside it; only those
    with something in this case's `texts` are indexed."""
    inside_ids = set(r.roles) - r.anonymous
    people = session.execute(select(PersonRow.id, PersonRow.name, PersonRow.address, PersonRow.postcode,
                                    PersonRow.email, PersonRow.phone)).all()
    inside: list[Identity] = []
    outside: list[Identity] = []
    for row in people:
        identity = Identity(id=row.id, name=row.name, address=row.address, postcode=row.postcode, email=row.email,
                            phone=row.phone)
        (inside if row.id in inside_ids else outside).append(identity)
    # Staff names are written into entries ("Case officer assigned: Sam Patel") and are not the people
    # this protects; they are kept like a party's.
    inside += [Identity(id=f"staff:{staff_id}", name=name) for staff_id, name in r.staff.items()]
    redactor = Redactor(inside, outside, keep_contacts=keep_contacts, texts=texts)
    linked = set(r.anonymous)
    ref = r.case.reference
    linked |= {p for p in session.scalars(select(ContactRow.person_id).where(ContactRow.case_ref == ref)) if p}
    linked |= {p for p in session.scalars(select(MessageRow.recipient_id).where(MessageRow.case_ref == ref)) if p}
    linked |= {p for p in session.scalars(select(IncidentRow.reported_by).where(IncidentRow.case_ref == ref)) if p}
    linked |= {p.representative_id for p in session.scalars(select(PersonRow).where(PersonRow.id.in_(list(r.roles))))
               if p.representative_id}
    redactor.connect(linked - inside_ids)
    return redactor


def _redacted(entries: list[ChronologyEntry], redact: Redactor) -> list[ChronologyEntry]:
    # `recorded_by` is never free text: a member of staff, the system, or a party named by role.
    return [entry.model_copy(update={"summary": redact(entry.summary) or "", "detail": redact(entry.detail)})
            for entry in entries]


def build_chronology(
    session: Session, case_id: str, *, audience: Audience, now: datetime | None = None,
    staff: Mapping[str, str] | None = None, keep_contacts: Iterable[str] = (),
) -> Chronology:
    """The case's chronology for `audience`, in time order, with people outside the case redacted.

    Entries at the same moment keep the order of SOURCES, then each source's own (row) order, so the
    same case file always gives the same document. `staff` names members of staff by id (the landlord's
    officers); `keep_contacts` are phone numbers and email addresses that may stay in text although no
    party owns them: the landlord's and its officers'.
    This reads only: who may see the case and the audit of the read are chronology_pdf's (or the
    door's) to do.
    """
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}")
    case = session.get(CaseRow, case_id)
    if case is None:
        raise access.CaseNotFound(case_id)
    now = now or datetime.now(UTC)
    r = _records(session, case, audience, now, staff or {})
    found: list[tuple[datetime, int, int, ChronologyEntry]] = []
    for rank, make in enumerate(SOURCES):
        found += [(entry.when, rank, n, entry) for n, entry in enumerate(make(r))]
    entries = [entry for *_, entry in sorted(found, key=lambda item: item[:3])]
    upcoming: list[ChronologyEntry] = []
    if audience == "case_conference" and case.closed_at is None:
        upcoming = sorted((e for make in FORTHCOMING for e in make(r)), key=lambda e: e.when)
    texts = [text for e in [*entries, *upcoming] for text in (e.summary, e.detail)]
    redact = _redactor(session, r, keep_contacts, texts)
    redact.learn(texts)
    parties = []
    for person_id, person_roles in r.roles.items():
        for role in person_roles:
            parties.append(ChronologyParty(role=role, name=None if person_id in r.anonymous else r.names.get(person_id),
                                           anonymous=person_id in r.anonymous))
    parties.sort(key=lambda p: list(ROLES).index(p.role) if p.role in ROLES else len(ROLES))
    return Chronology(
        reference=case.reference, profile=case.profile, audience=audience, generated_at=now,
        category=case.category, stage=case.stage, opened_at=case.opened_at, closed_at=case.closed_at,
        officer=r.staff_name(case.officer) if case.officer else None, hate=bool(case.hate),
        parties=parties, entries=_redacted(entries, redact), forthcoming=_redacted(upcoming, redact),
    )


# ---------------------------------------------------------------------- the document

def chronology_pdf(
    session: Session, case_id: str, *, role: str, actor_id: str, audience: Audience = "court",
    now: datetime | None = None, settings: Any = None,
) -> bytes:
    """The chronology as a PDF, for someone who may see the case; the generation is audited to them.

    Call it inside a transaction and hand the bytes out only once that transaction has committed, so
    no chronology leaves without an audit row naming who made it, when, and for whom (004 §3.7: a
    locked case is read only by its officer and managers, and every read of it is audited).
    `settings` are the landlord's delivery settings (letters/config.py; loaded for the case's profile
    when not given): the letterhead, the officers' names, and the landlord's own templates folder.
    """
    from letters.config import load_settings
    from letters.pdf import build_pdf
    from letters.render import renderer

    if role not in MAY_GENERATE:
        raise access.NotAllowed(f"a {role} may not produce a case chronology")
    case = access.open_case(session, case_id, role, actor_id, purpose="chronology")
    settings = settings or load_settings(case.profile)
    keep = [c for c in (settings.landlord.phone, settings.landlord.email) if c]
    keep += [c for officer in settings.officers.values() for c in (officer.phone, officer.email) if c]
    staff = {officer_id: officer.name for officer_id, officer in settings.officers.items()}
    chronology = build_chronology(session, case_id, audience=audience, now=now, staff=staff, keep_contacts=keep)
    render = renderer(settings.templates)
    markup = render.render_document("chronology", chronology_context(chronology, settings, actor_id))
    pdf = build_pdf(markup)
    audit.act_as(session, role, actor_id)
    audit.record(session, "export", "cases", case_id, case_id,
                 after={"document": "chronology", "audience": audience, "entries": len(chronology.entries),
                        "sha256": _sha256(pdf)})
    session.flush()
    return pdf


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


KIND_LABELS = {"incident": "Incident", "contact": "Contact", "note": "Note", "action": "Action", "risk": "Risk",
               "legal": "Legal", "letter": "Letter", "decision": "Case", "evidence": "Evidence"}
AUDIENCE_LABELS = {"court": "Court bundle", "case_conference": "Case conference"}


def chronology_context(chronology: Chronology, settings: Any, actor_id: str) -> dict[str, Any]:
    """What the chronology template is given: the chronology, with staff ids as names where the
    landlord's settings know them (letters/config.py officers), and words for the codes."""
    zone = zone_of(chronology.profile)

    def rows(entries: list[ChronologyEntry]) -> list[dict[str, Any]]:
        return [{"no": n, "when": e.when, "kind": KIND_LABELS[e.kind], "summary": e.summary, "detail": e.detail,
                 "recorded_by": "Case system" if e.recorded_by == SYSTEM else e.recorded_by or "",
                 "recorded_at": e.recorded_at, "source": e.source}
                for n, e in enumerate(entries, start=1)]

    return {
        "landlord": settings.landlord,
        "zone": zone,
        "marking": "OFFICIAL-SENSITIVE",
        "chronology": chronology,
        "audience": AUDIENCE_LABELS[chronology.audience],
        "case": {
            "reference": chronology.reference, "category": words(chronology.category),
            "stage": words(chronology.stage, STAGES), "opened_at": chronology.opened_at,
            "closed_at": chronology.closed_at, "officer": chronology.officer,
            "hate": chronology.hate,
        },
        "parties": [{"role": _sentence(words(p.role, ROLES).removeprefix("the ").removeprefix("a ")),
                     "name": p.name or ("Not named (anonymous)" if p.anonymous else "Not recorded")}
                    for p in chronology.parties],
        "entries": rows(chronology.entries),
        "forthcoming": rows(chronology.forthcoming),
        "generated_at": chronology.generated_at,
        "generated_by": officer.name if (officer := settings.officer(actor_id)) is not None else actor_id,
        "redacted": REDACTED,
    }
