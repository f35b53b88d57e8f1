"""A person's record as staff see and edit it (issue 12 item 5): the one place the doors (API, CLI,
web) read a person, edit their contact details, consents, reasonable adjustments and representative,
and ask which records may be the same person.

Who may see a person follows who may see their cases (casefile/access.py): someone in a locked case
(004 §3.7) is visible only to those who may see that case, and to anyone else does not exist (the same
`PersonNotFound` as an unknown id, so a locked case's people leak nothing). Every read of a person is
personal data shown to someone, so it is audited, as is every read of a locked case it passes through.

Edits go through the versioned edit (casefile/editing.py): the caller says which version of the person
they saw, and an edit made against an older one is refused with the version it is now at, never
silently overwriting someone else's change. Consents are not columns of the person but a log
(ConsentRow, 003 §15: consent to action, referral, a third party acting, email, text); a new consent is
a new row, the latest winning (letters/recipients.py), and it moves the person's version too, so a
consent recorded meanwhile is not lost from view of the next editor either.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from casefile import audit
from casefile.access import NotAllowed, may_see, open_case
from casefile.editing import EDITABLE_PERSON_FIELDS, ConflictError, check_version, update_person
from casefile.intake import live_person
from casefile.matching import PersonMatch, find_person_matches
from casefile.models import PARTY_ROLES, CaseRow, ConsentRow, PartyRow, PersonRow
from casefile.people import MAY_MERGE, PersonNotFound
from statemachine.commands import Actor

#: Who may edit a person: officers and managers (issue 12 item 5); intake logs people with a report.
MAY_EDIT = MAY_MERGE
#: The kinds of consent a person gives (003 §15), as intake records them.
CONSENT_KINDS = ("action", "referral", "third_party", "email", "sms")


class EditInvalid(ValueError):
    """An edit that cannot be right whatever the record's state: bad input, naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class EditRefused(ValueError):
    """The record refuses the edit now (it was erased under retention); nothing was changed."""


class PersonCase(BaseModel):
    """A case the person is in, and their part in it."""

    model_config = ConfigDict(frozen=True)

    case_ref: str
    role: str
    anonymous: bool
    stage: str
    locked: bool


class ConsentOut(BaseModel):
    """The latest consent of one kind, for one case or (case_ref null) for every case."""

    model_config = ConfigDict(frozen=True)

    kind: str
    given: bool
    case_ref: str | None
    recorded_at: datetime
    recorded_by: str


class PersonRecord(BaseModel):
    """A person as staff see them: how to reach them, the adjustments letters make for them, their
    representative, their consents and their cases. `version` is what an edit or a merge names."""

    model_config = ConfigDict(frozen=True)

    id: str
    version: int
    name: str | None
    description: str | None
    date_of_birth: date | None
    address: str | None
    postcode: str | None
    uprn: str | None
    email: str | None
    phone: str | None
    contact_method: str | None
    contact_every_days: int | None
    large_print: bool
    easy_read: bool
    language: str | None
    representative_id: str | None
    is_employee: bool
    #: Set when retention erased the details (they are then all null).
    anonymised_at: datetime | None
    consents: list[ConsentOut]
    cases: list[PersonCase]


class MatchCandidate(BaseModel):
    """A record that may be the same person, with what an officer needs to judge it (never merged
    by matching: casefile/matching.py)."""

    model_config = ConfigDict(frozen=True)

    match: PersonMatch
    name: str | None
    description: str | None
    date_of_birth: date | None
    address: str | None
    postcode: str | None
    cases: list[PersonCase]


def _locked_cases(session: Session, person_id: str) -> list[CaseRow]:
    cases = session.scalars(
        select(CaseRow).join(PartyRow, PartyRow.case_ref == CaseRow.reference)
        .where(PartyRow.person_id == person_id, CaseRow.locked.is_(True)).order_by(CaseRow.reference)
    )
    return list({case.reference: case for case in cases}.values())  # one each, if in a case in two roles


def visible_person(session: Session, person_id: str, actor: Actor, *, purpose: str) -> PersonRow:
    """The live record `person_id` names (following a merge), if `actor` may see every locked case it is
    in; the read is audited, with a read of each locked case it passes through (casefile.access)."""
    person = live_person(session, person_id)
    if person is None:
        raise PersonNotFound(person_id)
    locked = _locked_cases(session, person.id)
    if not all(may_see(case, actor.role, actor.id) for case in locked):
        raise PersonNotFound(person_id)
    audit.act_as(session, actor.role, actor.id)
    audit.record(session, "read", "people", person.id, None, after={"purpose": purpose})
    for case in locked:
        audit.record(session, "read", "cases", case.reference, case.reference, after={"purpose": f"person:{purpose}"})
    return person


def _cases(session: Session, person_id: str) -> list[PersonCase]:
    rows = session.execute(
        select(PartyRow, CaseRow).join(CaseRow, CaseRow.reference == PartyRow.case_ref)
        .where(PartyRow.person_id == person_id).order_by(CaseRow.opened_at, PartyRow.id)
    ).all()
    return [PersonCase(case_ref=case.reference, role=party.role, anonymous=bool(party.anonymous), stage=case.stage,
                       locked=bool(case.locked)) for party, case in rows]


def _consents(session: Session, person_id: str) -> list[ConsentOut]:
    latest: dict[tuple[str, str | None], ConsentRow] = {}
    for row in session.scalars(select(ConsentRow).where(ConsentRow.person_id == person_id)
                               .order_by(ConsentRow.recorded_at, ConsentRow.id)):
        latest[(row.kind, row.case_ref)] = row
    return [ConsentOut(kind=row.kind, given=bool(row.given), case_ref=row.case_ref, recorded_at=row.recorded_at,
                       recorded_by=row.recorded_by)
            for row in sorted(latest.values(), key=lambda r: (r.case_ref or "", r.kind))]


def record_of(session: Session, person: PersonRow) -> PersonRecord:
    """The person as staff see them (read it through `visible_person` first)."""
    return PersonRecord(
        id=person.id, version=person.version, name=person.name, description=person.description,
        date_of_birth=person.date_of_birth, address=person.address, postcode=person.postcode, uprn=person.uprn,
        email=person.email, phone=person.phone, contact_method=person.contact_method,
        contact_every_days=person.contact_every_days, large_print=bool(person.large_print),
        easy_read=bool(person.easy_read), language=person.language, representative_id=person.representative_id,
        is_employee=bool(person.is_employee), anonymised_at=person.anonymised_at,
        consents=_consents(session, person.id), cases=_cases(session, person.id),
    )


def read_person(session: Session, person_id: str, actor: Actor) -> PersonRecord:
    """A person's record for someone who may see it; audited."""
    return record_of(session, visible_person(session, person_id, actor, purpose="view"))


def edit_person(
    session: Session, person_id: str, changes: Mapping[str, Any], *, expected_version: int, actor: Actor,
    consents: Mapping[str, bool] | None = None, consent_case: str | None = None, now: datetime | None = None,
) -> PersonRow:
    """Edit a person as an officer or manager (issue 12 item 5), against the version they saw.

    `changes` are columns of the person (None clears one); `consents` are recorded as new consents, for
    `consent_case` (a case the person is in) or, without one, for every case. Refused with nothing
    changed: a stale version (ConflictError naming the current one), an erased record (EditRefused),
    and input no record could take (EditInvalid naming the field): an unknown or hidden representative,
    a person representing themself, a person left with neither a name nor a description."""
    if actor.role not in MAY_EDIT:
        raise NotAllowed(f"a {actor.role} may not edit a person's details: an officer or manager does")
    unknown = set(changes) - EDITABLE_PERSON_FIELDS
    if unknown:
        raise EditInvalid(sorted(unknown)[0], f"cannot edit {', '.join(sorted(unknown))} of a person")
    consents = dict(consents or {})
    for kind in consents:
        if kind not in CONSENT_KINDS:
            raise EditInvalid(f"consents.{kind}", f"consents: {kind!r} is not one of {', '.join(CONSENT_KINDS)}")
    if not changes and not consents:
        raise EditInvalid("(body)", "nothing to change: give at least one detail or consent")
    if consent_case is not None and not consents:
        raise EditInvalid("consent_case", "consent_case: give the consents it is for")
    person = visible_person(session, person_id, actor, purpose="edit")
    check_version("person", person.id, person.version, expected_version)
    if person.anonymised_at is not None:
        raise EditRefused(f"person {person.id} was anonymised under the retention policy: their details cannot "
                          "be edited")
    values = dict(changes)
    for name in ("large_print", "easy_read", "is_employee"):
        if name in values and values[name] is None:
            raise EditInvalid(name, f"{name}: give true or false")
    if "representative_id" in values and values["representative_id"] is not None:
        values["representative_id"] = _representative(session, person, str(values["representative_id"]), actor)
    if {"name", "description"} & set(values):
        name = str(values.get("name", person.name) or "")
        description = str(values.get("description", person.description) or "")
        if not name.strip() and not description.strip():
            raise EditInvalid("name", "a person needs a name, or a description if their name is not known "
                                      "(e.g. unknown male, flat 3)")
    if consent_case is not None:
        open_case(session, consent_case, actor.role, actor.id, purpose="consent")
        in_case = session.scalars(select(PartyRow.id).where(PartyRow.case_ref == consent_case,
                                                            PartyRow.person_id == person.id)).first()
        if in_case is None:
            raise EditInvalid("consent_case", f"consent_case: {person.id} is not a party to {consent_case}")
    version = person.version
    update_person(session, person.id, values, expected_version=version, role=actor.role, actor_id=actor.id)
    if consents:
        at = now or datetime.now(UTC)
        for kind, given in consents.items():
            session.add(ConsentRow(person_id=person.id, case_ref=consent_case, kind=kind, given=bool(given),
                                   recorded_at=at, recorded_by=actor.id))
        if person.version == version:  # consents only: the person moves on a version all the same
            flag_modified(person, "large_print")
        try:
            session.flush()
        except StaleDataError as exc:
            raise ConflictError(f"person {person.id} was changed by someone else while you were editing; reload "
                                "it and make your change again") from exc
    return person


def _representative(session: Session, person: PersonRow, representative_id: str, actor: Actor) -> str:
    try:
        representative = visible_person(session, representative_id, actor, purpose="representative")
    except PersonNotFound as exc:
        raise EditInvalid("representative_id", f"representative_id: no person {representative_id}") from exc
    if representative.id == person.id:
        raise EditInvalid("representative_id", "representative_id: a person cannot be their own representative")
    if representative.anonymised_at is not None:
        raise EditInvalid("representative_id", f"representative_id: person {representative.id} was anonymised")
    return representative.id


def person_matches(session: Session, person_id: str, actor: Actor, *, limit: int = 20) -> tuple[PersonRow,
                                                                                             list[MatchCandidate]]:
    """Records that may be the same person as `person_id`, for an officer or manager to judge and perhaps
    merge (casefile.people.merge_people); never merged here. People in locked cases the actor may not
    see are left out (casefile.matching), and each candidate shown is an audited read."""
    if actor.role not in MAY_MERGE:
        raise NotAllowed(f"a {actor.role} may not look for records to merge: an officer or manager does")
    person = visible_person(session, person_id, actor, purpose="matches")
    found: list[MatchCandidate] = []
    for match in find_person_matches(session, person, viewer=actor, limit=limit):
        row = session.get(PersonRow, match.person_id)
        if row is None:
            continue
        audit.record(session, "read", "people", row.id, None, after={"purpose": f"match:{person.id}"})
        found.append(MatchCandidate(match=match, name=row.name, description=row.description,
                                    date_of_birth=row.date_of_birth, address=row.address, postcode=row.postcode,
                                    cases=_cases(session, row.id)))
    return person, found


__all__ = ["CONSENT_KINDS", "MAY_EDIT", "PARTY_ROLES", "ConsentOut", "EditInvalid", "EditRefused", "MatchCandidate",
           "PersonCase", "PersonRecord", "edit_person", "person_matches", "read_person", "record_of",
           "visible_person"]
