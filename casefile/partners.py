"""Partner agencies: what a case shares with them, and the one view of a case their staff get.

Data partitions in the manner of Sentinel's: a partner's token names its agency (api/auth.py), and
that agency's staff see nothing but the cases shared with it, and of each only:

- a headline: reference, category, whether it is a hate case, whether it is open, its officer (their
  contact), when it was shared;
- the referrals made to *their* agency, and the people those referrals name, with what is needed to
  reach them (name, address, phone, email, how they want to be contacted, language, large print or
  easy read). Nobody else: a reporter is shown only when a referral to the agency names them, which
  needs their consent unless the law allows a safeguarding or police referral without it (003 §15;
  004 §2.2, §4.4); the reported person and witnesses likewise;
- the incidents, notes and evidence files an officer marked shareable (`SHAREABLE` is the one list of
  what can be marked): a file's description and facts, not its bytes, nor who gave it.

Never: other cases, unmarked items, the timeline, the workflow's status, deadlines or tasks, parties
no referral names. Sharing is an officer's decision under the information sharing protocol (003 §14-15
"legal and safe sharing of information"; 004 §4.5), separate from the referral: consent to be referred
is not consent to share the case record. The case's own officer or a manager shares (and unshares),
as for its commands; a locked case only by those who may see it.

Every partner read is audited: a view with the ids of the referrals, people, incidents and notes it
showed; a list with each case listed; a refusal (a case not shared, or none) as `read_refused`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from casefile import audit, evidence
from casefile.access import MANAGERS, open_case
from casefile.models import (
    Base,
    CaseNoteRow,
    CaseRow,
    CaseShareRow,
    EvidenceRow,
    IncidentRow,
    PartyRow,
    PersonRow,
    ReferralRow,
)
from policy.model import Agency

#: Who shares a case and marks its items: its officer, or a manager.
SHARERS = frozenset({"officer", *MANAGERS})
#: What an officer may mark shareable, by the name the doors use (each row type has a `shareable` column).
SHAREABLE: dict[str, type[Base]] = {"incident": IncidentRow, "note": CaseNoteRow, "evidence": EvidenceRow}
ShareableItem = Literal["incident", "note", "evidence"]


class NotTheirs(PermissionError):
    """Another officer's case: a 409 naming its officer, as for its commands."""


class UnknownAgency(ValueError):
    """An agency the profile does not name (a 422), or a partner token's agency it does not know (403)."""


class ItemNotFound(LookupError):
    pass


# ---------------------------------------------------------------------------------------------- shapes


class ShareView(BaseModel):
    """A case's sharing with one agency, as staff see it."""

    agency: str
    shared: bool
    changed_at: datetime
    changed_by: str


class ReferralView(BaseModel):
    """A referral, as staff see it on the case."""

    referral_id: str
    agency: str
    purpose: str
    person_id: str | None
    basis: str
    consent_id: int | None
    made_at: datetime
    made_by: str
    follow_up: date | None
    outcome: str | None
    outcome_at: datetime | None
    outcome_by: str | None


class PartnerReferral(BaseModel):
    """A referral to the partner's own agency."""

    referral_id: str
    purpose: str
    basis: str
    person_id: str | None
    made_at: datetime
    follow_up: date | None
    outcome: str | None
    outcome_at: datetime | None


class PartnerPerson(BaseModel):
    """A person a referral to the agency names: what the agency needs to reach them."""

    person_id: str
    roles: list[str]
    name: str | None
    address: str | None
    postcode: str | None
    phone: str | None
    email: str | None
    contact_method: str | None
    language: str | None
    large_print: bool
    easy_read: bool


class PartnerIncident(BaseModel):
    id: int
    occurred_at: datetime
    location: str | None
    category: str
    hate_strand: str | None
    description: str | None
    police_reference: str | None


class PartnerNote(BaseModel):
    id: int
    at: datetime
    command: str
    text: str | None


class PartnerEvidence(BaseModel):
    """An evidence file marked shareable: what it is, never who gave it (casefile/evidence.py)."""

    id: int
    incident_id: int | None
    kind: str
    media_type: str
    size: int
    sha256: str
    filename: str
    description: str | None
    added_at: datetime


class PartnerCaseSummary(BaseModel):
    reference: str
    category: str
    hate: bool
    open: bool
    shared_at: datetime
    referrals: int


class PartnerCase(PartnerCaseSummary):
    """Everything a partner agency's staff see of a case shared with it."""

    agency: str
    officer: str | None
    referrals_to_you: list[PartnerReferral]
    people: list[PartnerPerson]
    incidents: list[PartnerIncident]
    notes: list[PartnerNote]
    evidence: list[PartnerEvidence]


# ---------------------------------------------------------------------------------------------- staff


def _may_change(case: CaseRow, role: str, actor_id: str) -> None:
    if role not in SHARERS:
        raise PermissionError(f"the {role} role may not share a case or mark what is shareable")
    if role == "officer" and case.officer and case.officer != actor_id:
        raise NotTheirs(f"the case belongs to officer {case.officer}")


def share_with_agency(session: Session, reference: str, agency: str, shared: bool, *, role: str, actor_id: str,
                      agencies: Mapping[str, Agency], now: datetime) -> ShareView:
    """Share a case with a partner agency, or stop sharing it; audited like every change."""
    if agency not in agencies:
        raise UnknownAgency(f"agency: unknown agency {agency!r}; this service works with: {', '.join(agencies)}")
    case = open_case(session, reference, role, actor_id, purpose="share")
    _may_change(case, role, actor_id)
    audit.act_as(session, role, actor_id)
    row = session.scalars(select(CaseShareRow).where(CaseShareRow.case_ref == reference,
                                                     CaseShareRow.agency == agency).with_for_update()).first()
    if row is None:
        row = CaseShareRow(case_ref=reference, agency=agency, shared=shared, changed_at=now, changed_by=actor_id)
        session.add(row)
    elif row.shared != shared:
        row.shared, row.changed_at, row.changed_by = shared, now, actor_id
    session.flush()
    return _share(row)


def set_shareable(session: Session, reference: str, item: ShareableItem, item_id: int, shareable: bool, *,
                  role: str, actor_id: str) -> bool:
    """Mark one incident, note or evidence file of the case as shareable with the agencies it is shared
    with (or not). An evidence file's flag is evidence's own (casefile/evidence.py `set_shareable`)."""
    case = open_case(session, reference, role, actor_id, purpose="mark shareable")
    _may_change(case, role, actor_id)
    row: Any = session.get(SHAREABLE[item], item_id)
    if row is None or row.case_ref != reference or (isinstance(row, CaseNoteRow) and row.status == "discarded"):
        raise ItemNotFound(f"no {item} {item_id} in case {reference}")
    if isinstance(row, EvidenceRow):
        return evidence.set_shareable(session, item_id, shareable, role=role, actor_id=actor_id).shareable
    audit.act_as(session, role, actor_id)
    if bool(row.shareable) != shareable:
        row.shareable = shareable
    session.flush()
    return shareable


def shares_of(session: Session, reference: str) -> list[ShareView]:
    rows = session.scalars(select(CaseShareRow).where(CaseShareRow.case_ref == reference)
                           .order_by(CaseShareRow.agency)).all()
    return [_share(row) for row in rows]


def referrals_of(session: Session, reference: str) -> list[ReferralView]:
    rows = session.scalars(select(ReferralRow).where(ReferralRow.case_ref == reference)
                           .order_by(ReferralRow.made_at, ReferralRow.id)).all()
    return [ReferralView.model_validate(row, from_attributes=True) for row in rows]


def _share(row: CaseShareRow) -> ShareView:
    return ShareView(agency=row.agency, shared=bool(row.shared), changed_at=row.changed_at, changed_by=row.changed_by)


# ---------------------------------------------------------------------------------------------- partners


def _shared(session: Session, reference: str, agency: str) -> CaseShareRow | None:
    return session.scalars(select(CaseShareRow).where(CaseShareRow.case_ref == reference,
                                                      CaseShareRow.agency == agency,
                                                      CaseShareRow.shared.is_(True))).first()


def _refused(session: Session, reference: str, agency: str, purpose: str) -> None:
    audit.record(session, "read_refused", "cases", reference, reference,
                 after={"purpose": purpose, "agency": agency})


def partner_cases(session: Session, agency: str, actor_id: str) -> list[PartnerCaseSummary]:
    """The cases shared with the agency, newest share first; each one listed is an audited read."""
    audit.act_as(session, "partner", actor_id)
    rows = session.execute(
        select(CaseRow, CaseShareRow).join(CaseShareRow, CaseShareRow.case_ref == CaseRow.reference)
        .where(CaseShareRow.agency == agency, CaseShareRow.shared.is_(True))
        .order_by(CaseShareRow.changed_at.desc(), CaseRow.reference)
    ).all()
    out: list[PartnerCaseSummary] = []
    for case, share in rows:
        count = len(session.scalars(select(ReferralRow.id).where(ReferralRow.case_ref == case.reference,
                                                                 ReferralRow.agency == agency)).all())
        out.append(PartnerCaseSummary(reference=case.reference, category=case.category, hate=bool(case.hate),
                                      open=case.closed_at is None, shared_at=share.changed_at, referrals=count))
        audit.record(session, "read", "cases", case.reference, case.reference,
                     after={"purpose": "partner list", "agency": agency})
    return out


def partner_case(session: Session, reference: str, agency: str, actor_id: str) -> PartnerCase | None:
    """The case as the agency may see it, or None (not shared with it, or no such case: one answer).
    Audited either way, with the ids of everything shown."""
    audit.act_as(session, "partner", actor_id)
    case = session.get(CaseRow, reference)
    share = _shared(session, reference, agency) if case is not None else None
    if case is None or share is None:
        _refused(session, reference, agency, "partner view")
        return None
    referrals = session.scalars(select(ReferralRow).where(ReferralRow.case_ref == reference,
                                                          ReferralRow.agency == agency)
                                .order_by(ReferralRow.made_at, ReferralRow.id)).all()
    named = sorted({r.person_id for r in referrals if r.person_id})
    roles: dict[str, list[str]] = {}
    for person_id, role in session.execute(select(PartyRow.person_id, PartyRow.role).where(
            PartyRow.case_ref == reference, PartyRow.person_id.in_(named)).order_by(PartyRow.id)).all():
        roles.setdefault(person_id, []).append(role)
    people = [person for person in session.scalars(select(PersonRow).where(PersonRow.id.in_(named))).all()
              if person.id in roles]  # a referral names a person of this case, or nobody is shown
    incidents = session.scalars(select(IncidentRow).where(IncidentRow.case_ref == reference,
                                                          IncidentRow.shareable.is_(True))
                                .order_by(IncidentRow.occurred_at, IncidentRow.id)).all()
    notes = session.scalars(select(CaseNoteRow).where(CaseNoteRow.case_ref == reference,
                                                      CaseNoteRow.shareable.is_(True),
                                                      CaseNoteRow.status == "confirmed")
                            .order_by(CaseNoteRow.at, CaseNoteRow.id)).all()
    files = [PartnerEvidence(id=f.id, incident_id=f.incident_id, kind=f.kind, media_type=f.media_type, size=f.size,
                             sha256=f.digest, filename=f.original_name, description=f.description,
                             added_at=f.added_at)
             for f in session.scalars(select(EvidenceRow).where(EvidenceRow.case_ref == reference,
                                                                EvidenceRow.shareable.is_(True))
                                      .order_by(EvidenceRow.added_at, EvidenceRow.id))]
    view = PartnerCase(
        reference=reference, agency=agency, category=case.category, hate=bool(case.hate),
        open=case.closed_at is None, officer=case.officer, shared_at=share.changed_at, referrals=len(referrals),
        referrals_to_you=[PartnerReferral.model_validate(r, from_attributes=True) for r in referrals],
        people=[PartnerPerson(
            person_id=p.id, roles=roles[p.id], name=p.name, address=p.address, postcode=p.postcode, phone=p.phone,
            email=p.email, contact_method=p.contact_method, language=p.language, large_print=bool(p.large_print),
            easy_read=bool(p.easy_read)) for p in people],
        incidents=[PartnerIncident.model_validate(i, from_attributes=True) for i in incidents],
        notes=[PartnerNote.model_validate(n, from_attributes=True) for n in notes],
        evidence=files,
    )
    audit.record(session, "read", "cases", reference, reference, after={
        "purpose": "partner view", "agency": agency,
        "shown": {"referrals": [r.referral_id for r in referrals], "people": [p.person_id for p in view.people],
                  "incidents": [i.id for i in view.incidents], "notes": [n.id for n in view.notes],
                  "evidence": [e.id for e in files]},
    })
    return view


def partner_referral(session: Session, reference: str, agency: str, referral_id: str, actor_id: str
                     ) -> ReferralRow | None:
    """A referral to the agency on a case shared with it, or None (audited as a refused read): a partner
    records outcomes of its own referrals only."""
    audit.act_as(session, "partner", actor_id)
    row = None
    if _shared(session, reference, agency) is not None:
        row = session.scalars(select(ReferralRow).where(ReferralRow.case_ref == reference,
                                                        ReferralRow.referral_id == referral_id,
                                                        ReferralRow.agency == agency)).first()
    if row is None:
        _refused(session, reference, agency, f"partner outcome {referral_id}")
    return row
