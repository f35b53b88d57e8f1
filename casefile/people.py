"""People and their parts in cases (issue 12 item 5): adding and removing parties, and merging two
records an officer has decided are one person.

A case has any number of reporters, witnesses, reported people and representatives (PARTY_ROLES),
known or unknown: an unknown person has no name, only a description ("unknown male, flat 3").

Merging is never automatic. Matching (casefile/matching.py) offers records that look alike; an
officer or manager who has checked calls `merge_people`, with a reason. The merged record is not
deleted: workflows, the timeline and letters already sent name its id, so it stays as an empty
record pointing at the person it became (`merged_into`), and `live_person` follows that pointer.
Everything else that named it (parties, consents, contacts, letters, incidents, representatives)
is moved to the kept record, and the merged record's own details are copied into a person_merges
row first, so nothing the officer did not choose is lost. Both people are versioned rows: a merge
made against a version someone has since edited is refused, like any other edit (editing.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.exc import StaleDataError

from casefile import audit
from casefile.access import NotAllowed, may_see, open_case
from casefile.editing import ConflictError, check_version
from casefile.intake import PersonDetails, contains_nul, live_person, write_person
from casefile.models import (
    PARTY_ROLES,
    PERSONAL,
    CaseRow,
    ConsentRow,
    ContactRow,
    IncidentRow,
    MessageRow,
    PartyRow,
    PersonMergeRow,
    PersonRow,
    ReferralRow,
)
from statemachine.commands import Actor

#: Who may change a case's parties: intake logs people with a report, officers and managers later.
MAY_EDIT_PARTIES = frozenset({"intake", "officer", "manager", "senior_manager"})
#: Who may decide that two records are one person.
MAY_MERGE = frozenset({"officer", "manager", "senior_manager"})
#: Parties a case may not be left without once it has one: letters and the workflow address them.
KEPT_ROLES = frozenset({"reporter", "reported_person"})
MAX_REASON = 1000

#: Details copied from the merged record where the kept one has none. The address, postcode and UPRN
#: travel together: a postcode from one home beside the address of another would name neither.
FILLED = ("name", "description", "date_of_birth", "email", "phone", "contact_method", "contact_every_days",
          "language", "representative_id")
ADDRESS = ("address", "postcode", "uprn")
#: Adjustments and flags kept if either record had them: losing a large-print need or an employee link
#: (a reason to lock, 004 §3.7) in a merge would be a silent change nobody asked for.
EITHER = ("large_print", "easy_read", "is_employee")
#: What a merged record keeps: its id, version, merge pointer and nothing that says who it was.
CLEARED = tuple(sorted(PERSONAL["people"] | {"contact_method", "contact_every_days", "representative_id"}))
#: The rows that belong to the person, not to the record, and so move to the kept one (the count's key,
#: and the column naming the person). A referral is about the person (issue 12 item 8).
MOVED_WITH_THE_PERSON: tuple[tuple[str, InstrumentedAttribute[Any]], ...] = (
    ("consents", ConsentRow.person_id), ("contacts", ContactRow.person_id), ("messages", MessageRow.recipient_id),
    ("incidents", IncidentRow.reported_by), ("referrals", ReferralRow.person_id))


class MergeRefused(ValueError):
    """The two records cannot be merged as asked; nothing was changed."""


class PersonNotFound(LookupError):
    def __init__(self, person_id: str) -> None:
        super().__init__(f"no person {person_id}")
        self.person_id = person_id


class MergeResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    keep_id: str
    merged_id: str
    #: Rows moved to the kept person, by kind (counts only).
    moved: dict[str, int]
    #: Details of the kept person filled in from the merged one.
    filled: tuple[str, ...]
    #: True when this merge had already been made (a repeated call changes nothing).
    already_merged: bool


def _case(session: Session, case_ref: str, actor: Actor) -> CaseRow:
    if actor.role not in MAY_EDIT_PARTIES:
        raise NotAllowed(f"a {actor.role} may not change a case's people")
    case = open_case(session, case_ref, actor.role, actor.id, purpose="parties")
    if case.anonymised_at is not None:
        raise ValueError(f"case {case_ref} was anonymised under the retention policy: its people cannot change")
    return case


def add_party(
    session: Session, case_ref: str, role: str, *, actor: Actor, person_id: str | None = None,
    details: PersonDetails | None = None, anonymous: bool = False, now: datetime | None = None,
) -> PartyRow:
    """Add a person to a case in `role`: someone on file (`person_id`) or a new person (`details`;
    an unknown person is details with a description and no name). Adding the same person in the
    same role again returns the existing party and changes nothing."""
    if role not in PARTY_ROLES:
        raise ValueError(f"role must be one of {', '.join(PARTY_ROLES)}")
    if (person_id is None) == (details is None):
        raise ValueError("give either person_id (someone on file) or details (a new person), not both")
    if details is not None and not (details.id or details.name or details.description or details.address
                                    or details.email or details.phone):
        raise ValueError("give a name, or a description of an unknown person (e.g. unknown male, flat 3)")
    case = _case(session, case_ref, actor)
    audit.act_as(session, actor.role, actor.id)
    if person_id is not None:
        person = live_person(session, person_id)
        if person is None:
            raise PersonNotFound(person_id)
    else:
        assert details is not None
        person = write_person(session, details, now or datetime.now(UTC), actor.id, case.reference)
    if person.anonymised_at is not None:
        raise ValueError(f"person {person.id} was anonymised under the retention policy")
    parties = session.scalars(select(PartyRow).where(PartyRow.case_ref == case.reference,
                                                     PartyRow.person_id == person.id)).all()
    for party in parties:
        if party.role == role:
            return party
    if {party.role for party in parties} | {role} >= KEPT_ROLES:
        raise ValueError("one person cannot be both a reporter and a reported person in one case")
    party = PartyRow(case_ref=case.reference, person_id=person.id, role=role, anonymous=anonymous)
    session.add(party)
    session.flush()
    return party


def remove_party(session: Session, case_ref: str, person_id: str, role: str, *, actor: Actor) -> bool:
    """Take a person out of a case in `role`; False when they were not in it (nothing to do).

    The last reporter or reported person is refused: letters and the case workflow address them, so
    the right person is added first and then the wrong one removed. The person's record stays."""
    if role not in PARTY_ROLES:
        raise ValueError(f"role must be one of {', '.join(PARTY_ROLES)}")
    case = _case(session, case_ref, actor)
    person = live_person(session, person_id)
    if person is None:
        raise PersonNotFound(person_id)
    party = session.scalars(select(PartyRow).where(PartyRow.case_ref == case.reference,
                                                   PartyRow.person_id == person.id, PartyRow.role == role)).first()
    if party is None:
        return False
    if role in KEPT_ROLES:
        others = session.scalars(select(PartyRow.id).where(PartyRow.case_ref == case.reference,
                                                           PartyRow.role == role, PartyRow.id != party.id)).first()
        if others is None:
            raise ValueError(f"this is the case's only {role.replace('_', ' ')}: add the right person first")
    audit.act_as(session, actor.role, actor.id)
    session.delete(party)
    session.flush()
    return True


def _visible(session: Session, person: PersonRow, actor: Actor) -> bool:
    cases = session.scalars(select(CaseRow).join(PartyRow, PartyRow.case_ref == CaseRow.reference)
                            .where(PartyRow.person_id == person.id, CaseRow.locked.is_(True))).all()
    return all(may_see(case, actor.role, actor.id) for case in cases)


def _snapshot(person: PersonRow) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in (*CLEARED, *EITHER):
        value = getattr(person, name)
        if value is not None and not name.endswith("_key"):
            values[name] = value.isoformat() if isinstance(value, date) else value
    return values


def _check_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValueError("give a reason for the merge (how you know they are one person)")
    if len(text) > MAX_REASON or contains_nul(text):
        raise ValueError(f"the reason must be at most {MAX_REASON} characters of text")
    return text


def merge_people(
    session: Session, keep_id: str, merge_id: str, *, actor: Actor, reason: str,
    keep_version: int | None = None, merge_version: int | None = None, now: datetime | None = None,
) -> MergeResult:
    """Merge the record `merge_id` into `keep_id`, as an officer or manager decided (never matching).

    Refused, with nothing changed: merging a person into themself; records whose dates of birth
    differ; a reporter and the reported person of one case; an erased or already merged-away record;
    either record at a version other than the one the officer saw. Merging again what is already
    merged returns the first merge's result and changes nothing."""
    if actor.role not in MAY_MERGE:
        raise NotAllowed(f"a {actor.role} may not merge people: an officer or manager decides")
    text = _check_reason(reason)
    if keep_id == merge_id:
        raise MergeRefused("a person cannot be merged into themself")
    done = session.scalars(select(PersonMergeRow).where(PersonMergeRow.merged_id == merge_id)).first()
    keep = session.get(PersonRow, keep_id)
    merge = session.get(PersonRow, merge_id)
    for person_id, person in ((keep_id, keep), (merge_id, merge)):
        if person is None or not _visible(session, person, actor):
            raise PersonNotFound(person_id)
    assert keep is not None and merge is not None
    if done is not None:
        target = live_person(session, done.keep_id)
        if target is not None and target.id == keep.id:
            return MergeResult(keep_id=keep.id, merged_id=merge_id, moved=dict(done.moved), filled=(),
                               already_merged=True)
        raise MergeRefused(f"{merge_id} was already merged into {done.keep_id}")
    if keep.merged_into is not None:
        raise MergeRefused(f"{keep_id} was merged into {keep.merged_into}: merge into that record instead")
    if merge.merged_into is not None:
        raise MergeRefused(f"{merge_id} was already merged into {merge.merged_into}")
    if keep.anonymised_at is not None or merge.anonymised_at is not None:
        raise MergeRefused("an anonymised record cannot be merged: its details were erased under retention")
    check_version("person", keep_id, keep.version, keep_version)
    check_version("person", merge_id, merge.version, merge_version)
    if keep.date_of_birth is not None and merge.date_of_birth is not None \
            and keep.date_of_birth != merge.date_of_birth:
        # The values are not named: this message may be logged, and a date of birth is personal data.
        raise MergeRefused("their dates of birth differ: if they are one person, correct the wrong one first")
    keep_parties = session.scalars(select(PartyRow).where(PartyRow.person_id == keep.id)).all()
    merge_parties = session.scalars(select(PartyRow).where(PartyRow.person_id == merge.id)).all()
    roles: dict[str, set[str]] = {}
    for party in (*keep_parties, *merge_parties):
        roles.setdefault(party.case_ref, set()).add(party.role)
    opposed = sorted(ref for ref, held in roles.items() if held >= KEPT_ROLES)
    if opposed:
        raise MergeRefused(f"one is the reporter and the other the reported person in {', '.join(opposed)}")

    audit.act_as(session, actor.role, actor.id)
    at = now or datetime.now(UTC)
    snapshot = _snapshot(merge)
    filled: list[str] = []
    for name in FILLED:
        if getattr(keep, name) is None and getattr(merge, name) is not None \
                and not (name == "representative_id" and merge.representative_id == keep.id):
            setattr(keep, name, getattr(merge, name))
            filled.append(name)
    if all(getattr(keep, name) is None for name in ADDRESS) and any(getattr(merge, name) for name in ADDRESS):
        for name in ADDRESS:
            if getattr(merge, name) is not None:
                setattr(keep, name, getattr(merge, name))
                filled.append(name)
    for name in EITHER:
        if getattr(merge, name) and not getattr(keep, name):
            setattr(keep, name, True)
            filled.append(name)

    moved = {"parties": 0, **{key: 0 for key, _ in MOVED_WITH_THE_PERSON}, "represented": 0, "merged_records": 0}
    held = {(party.case_ref, party.role): party for party in keep_parties}
    for party in merge_parties:
        twin = held.get((party.case_ref, party.role))
        if twin is not None:  # both were in this case in this role: one party, anonymous if either asked
            twin.anonymous = twin.anonymous or party.anonymous
            session.delete(party)
        else:
            party.person_id = keep.id
        moved["parties"] += 1
    for key, column in MOVED_WITH_THE_PERSON:
        for row in session.scalars(select(column.class_).where(column == merge.id)):
            setattr(row, column.key, keep.id)  # through the ORM, so the audit log sees each row change
            moved[key] += 1
    for client in session.scalars(select(PersonRow).where(PersonRow.representative_id == merge.id)):
        client.representative_id = None if client.id == keep.id else keep.id
        moved["represented"] += 1
    for older in session.scalars(select(PersonRow).where(PersonRow.merged_into == merge.id)):
        older.merged_into = keep.id  # every merged-away record points at a live one
        moved["merged_records"] += 1
    for earlier in session.scalars(select(PersonMergeRow).where(PersonMergeRow.keep_id == merge.id)):
        earlier.keep_id = keep.id  # so retention clears its details with the person it now belongs to

    for name in CLEARED:
        if getattr(merge, name) is not None:
            setattr(merge, name, None)
    for name in EITHER:
        setattr(merge, name, False)
    merge.merged_into = keep.id
    session.add(PersonMergeRow(keep_id=keep.id, merged_id=merge.id, at=at, by_role=actor.role, by=actor.id,
                               reason=text, merged_values=snapshot, moved=moved))
    audit.record(session, "merge", "people", merge.id, None, after={"into": keep.id, "moved": moved})
    for case_ref in sorted({party.case_ref for party in merge_parties}):
        audit.record(session, "merge", "case_parties", merge.id, case_ref, after={"into": keep.id})
    try:
        session.flush()
    except (StaleDataError, IntegrityError) as exc:  # another merge or edit of either record got there first
        raise ConflictError(
            f"person {keep_id} or {merge_id} was changed or merged by someone else meanwhile; reload them and "
            "decide again"
        ) from exc
    return MergeResult(keep_id=keep.id, merged_id=merge.id, moved=moved, filled=tuple(filled), already_merged=False)
