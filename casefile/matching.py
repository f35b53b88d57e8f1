"""Matching people and reports against the case file (issue 12 items 5 and 6).

Two questions, asked when a report arrives:

- Is this someone already on file? `find_person_matches` lists the records that share a name,
  email, phone, UPRN or address with the candidate, each with a score and the details that agree.
  The list is an offer: records are merged only when an officer calls `casefile.people.merge_people`,
  never by matching (two neighbours with one surname, or a parent and child with one name at one
  address, must not become one person because a form was ambiguous).

- Is this report about an open case? The Regulator's NM01 measure counts ASB cases opened, and a
  further report about the same matter while a case is open is not a new case.
  `find_open_case_matches` lists the open cases whose reported person or address the report names.
  Each is offered for attaching as an incident; only an `exact` match may attach without an officer.

The exact-match rule (`CaseMatch.exact`), deliberately conservative because an automatic attach is
a decision nobody reviews before the reporter is told about it. A match is exact when one of:

1. `same_person`: the report names the case's reported person by id (a merged record counts as the
   person it was merged into);
2. `uprn`: the reported person's address has the case's reported person's UPRN;
3. `address`: the normalised address line AND postcode are both given and both equal (a first line
   alone is not enough: "Flat 3" recurs in every block on a street, and the same street name
   recurs in every town);
4. `name_and_dob`: the normalised name AND the date of birth are both given and both equal;

and nothing on the two records contradicts it (`blocked_by`):

- the dates of birth differ (a father and son at one address);
- for rules 2 and 3, both records carry a name and the names differ (another household member, a
  new tenant, a house in multiple occupation);
- for rule 4, both records carry an address and they differ (the same name and birthday elsewhere
  is a different matter for this landlord's neighbourhood, whoever it is);
- the report is hate-related and the case is not: NM01 counts hate incidents separately, so folding a
  hate report into a non-hate case silently drops it from that count; an officer decides.

Name alone, phone, email or postcode alone are never exact: they are offered. When more than one
open case matches exactly, none is attached automatically (`auto_attach_target` says which one, if
any): choosing between two live cases is an officer's call.

Closed, anonymised and merged-away records never match. Given a `viewer`, people and cases in a
locked case (004 §3.7) that the viewer may not see are left out, so matching reveals nothing the
case list would not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from casefile.access import may_see
from casefile.intake import IntakeReport
from casefile.models import CaseRow, PartyRow, PersonRow
from casefile.normalise import address_key, email_key, name_key, phone_key, postcode_in_address, postcode_key
from casefile.people import live_person
from statemachine.commands import Actor

MatchField = Literal["name", "date_of_birth", "address", "uprn", "postcode", "phone", "email", "same_person"]
ExactRule = Literal["same_person", "uprn", "address", "name_and_dob"]

#: What each agreeing detail adds to a score (0 to 100). Email and phone are personal to one person
#: more often than a name is; a date of birth counts only beside a name (thousands share a birthday);
#: a postcode covers a dozen homes, so it only ranks what matched on something else.
WEIGHTS: dict[str, int] = {"email": 35, "phone": 30, "name": 30, "date_of_birth": 20, "uprn": 25, "address": 20,
                           "postcode": 5, "same_person": 100}
#: Details that on their own make a record worth offering. Postcode and date of birth alone do not.
IDENTIFYING = frozenset({"name", "email", "phone", "uprn", "address", "same_person"})
#: Taken off a score for each detail both records give and disagree on.
CONFLICT_PENALTY = 10
#: How many records the indexed lookup reads before scoring: a very common name must not read them all.
CANDIDATE_LIMIT = 500


class PersonLike(Protocol):
    """What matching reads of a person: a report's PersonDetails and a PersonRow both are one."""

    @property
    def name(self) -> str | None: ...
    @property
    def date_of_birth(self) -> date | None: ...
    @property
    def address(self) -> str | None: ...
    @property
    def postcode(self) -> str | None: ...
    @property
    def uprn(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...


class PersonMatch(BaseModel):
    """A record on file that may be the candidate; offered for merging, never merged by matching."""

    model_config = ConfigDict(frozen=True)

    person_id: str
    #: The record's version, for the merge the officer may then ask for (a versioned edit).
    version: int
    score: int
    #: The details both give and agree on, strongest first.
    fields: tuple[MatchField, ...]
    #: Details both give that disagree (a date of birth never: those records are not offered).
    conflicts: tuple[MatchField, ...]
    #: Same name and (same date of birth, or the same UPRN, or the same address and postcode).
    exact: bool


class CaseMatch(BaseModel):
    """An open case the report may be a further report about (NM01)."""

    model_config = ConfigDict(frozen=True)

    case_ref: str
    #: The case's reported person whose details matched the report's.
    person_id: str
    score: int
    fields: tuple[MatchField, ...]
    conflicts: tuple[MatchField, ...]
    #: The exact rule the match meets (also when something blocks it), else None.
    rule: ExactRule | None
    #: Why a match meeting a rule may still not attach by itself (empty when exact).
    blocked_by: tuple[str, ...]
    #: Qualifies for automatic attachment (see the module's rule); otherwise only offered.
    exact: bool


@dataclass(frozen=True)
class _Keys:
    id: str | None
    name: str | None
    dob: date | None
    address: str | None
    postcode: str | None
    uprn: str | None
    email: str | None
    phone: str | None

    @classmethod
    def of(cls, person: PersonLike, person_id: str | None = None) -> _Keys:
        return cls(
            id=person_id, name=name_key(person.name), dob=person.date_of_birth, address=address_key(person.address),
            postcode=postcode_key(person.postcode) or postcode_in_address(person.address), uprn=person.uprn or None,
            email=email_key(person.email), phone=phone_key(person.phone),
        )

    def empty(self) -> bool:
        return not (self.id or self.name or self.address or self.uprn or self.email or self.phone)


@dataclass(frozen=True)
class _Comparison:
    fields: tuple[MatchField, ...]
    conflicts: tuple[MatchField, ...]

    @property
    def score(self) -> int:
        fields = set(self.fields)
        total = sum(WEIGHTS[field] for field in fields
                    if not (field == "date_of_birth" and "name" not in fields)
                    and not (field == "address" and "uprn" in fields)
                    and not (field == "postcode" and fields & {"address", "uprn"}))
        return max(1, min(100, total) - CONFLICT_PENALTY * len(self.conflicts))

    def has(self, *fields: str) -> bool:
        return all(field in self.fields for field in fields)

    @property
    def same_place(self) -> bool:
        return self.has("uprn") or self.has("address", "postcode")

    def offered(self) -> bool:
        identifying = set(self.fields) & IDENTIFYING
        if "date_of_birth" in self.conflicts:
            identifying.discard("name")  # same name, another birthday: another person
        return bool(identifying)


def _compare(a: _Keys, b: _Keys) -> _Comparison:
    fields: list[MatchField] = []
    conflicts: list[MatchField] = []

    def check(field: MatchField, left: object, right: object) -> None:
        if left is None or right is None:
            return
        (fields if left == right else conflicts).append(field)

    if a.id is not None and a.id == b.id:
        fields.append("same_person")
    check("email", a.email, b.email)
    check("phone", a.phone, b.phone)
    check("name", a.name, b.name)
    check("date_of_birth", a.dob, b.dob)
    check("uprn", a.uprn, b.uprn)
    check("postcode", a.postcode, b.postcode)
    if a.address is not None and b.address is not None and "uprn" not in fields:
        elsewhere = "postcode" in conflicts or "uprn" in conflicts
        (fields if a.address == b.address and not elsewhere else conflicts).append("address")
    if "uprn" in fields and "postcode" in conflicts:
        conflicts.remove("postcode")  # the UPRN names the property; a postcode typo does not move it
    return _Comparison(tuple(fields), tuple(conflicts))


def _lookup(keys: _Keys) -> list[ColumnElement[bool]]:
    """The indexed conditions that find every record `_compare` could offer (and a few more)."""
    conditions: list[ColumnElement[bool]] = []
    if keys.id is not None:
        conditions.append(PersonRow.id == keys.id)
    for column, value in ((PersonRow.name_key, keys.name), (PersonRow.email_key, keys.email),
                          (PersonRow.phone_key, keys.phone), (PersonRow.uprn, keys.uprn),
                          (PersonRow.address_key, keys.address)):
        if value is not None:
            conditions.append(column == value)
    return conditions


#: Records that can match: not merged into another, not erased by retention.
_LIVE = (PersonRow.merged_into.is_(None), PersonRow.anonymised_at.is_(None))


def _hidden_people(session: Session, person_ids: Iterable[str], viewer: Actor | None) -> set[str]:
    """People in a locked case the viewer may not see: matching must not reveal they are on file."""
    ids = list(person_ids)
    if viewer is None or not ids:
        return set()
    rows = session.execute(
        select(PartyRow.person_id, CaseRow).join(CaseRow, CaseRow.reference == PartyRow.case_ref)
        .where(PartyRow.person_id.in_(ids), CaseRow.locked.is_(True))
    ).all()
    return {person_id for person_id, case in rows if not may_see(case, viewer.role, viewer.id)}


def find_person_matches(
    session: Session, candidate: PersonLike, *, viewer: Actor | None = None, limit: int = 20,
) -> list[PersonMatch]:
    """Records on file that may be `candidate` (a report's PersonDetails, or a PersonRow to find its
    duplicates), best first: any that share a name, email, phone, UPRN or address. The candidate's own
    record is never in the list; nor is a record whose date of birth differs from the candidate's."""
    own_id = getattr(candidate, "id", None)
    keys = _Keys.of(candidate)
    conditions = _lookup(keys)
    if not conditions:
        return []
    query = select(PersonRow).where(or_(*conditions), *_LIVE)
    if own_id is not None:
        query = query.where(PersonRow.id != own_id)
    found: list[tuple[PersonRow, _Comparison]] = []
    for row in session.scalars(query.order_by(PersonRow.id).limit(CANDIDATE_LIMIT)):
        comparison = _compare(keys, _Keys.of(row))
        if comparison.offered() and "date_of_birth" not in comparison.conflicts:
            found.append((row, comparison))
    hidden = _hidden_people(session, (row.id for row, _ in found), viewer)
    matches = [
        PersonMatch(person_id=row.id, version=row.version, score=c.score, fields=c.fields, conflicts=c.conflicts,
                    exact=c.has("name") and (c.has("date_of_birth") or c.same_place))
        for row, c in found if row.id not in hidden
    ]
    matches.sort(key=lambda m: (-m.score, m.person_id))
    return matches[:limit]


def _exact(comparison: _Comparison, report: IntakeReport, case: CaseRow) -> tuple[ExactRule | None, list[str]]:
    """Which exact rule the match meets, and what blocks it (see the module docstring)."""
    rule: ExactRule | None = None
    if comparison.has("same_person"):
        rule = "same_person"
    elif comparison.has("uprn"):
        rule = "uprn"
    elif comparison.has("address", "postcode"):
        rule = "address"
    elif comparison.has("name", "date_of_birth"):
        rule = "name_and_dob"
    if rule is None:
        return None, []
    blocked: list[str] = []
    if rule != "same_person":
        if "date_of_birth" in comparison.conflicts:
            blocked.append("the dates of birth differ")
        if rule in ("uprn", "address") and "name" in comparison.conflicts:
            blocked.append("the names differ")
        if rule == "name_and_dob" and set(comparison.conflicts) & {"uprn", "address", "postcode"}:
            blocked.append("the addresses differ")
    if report.hate and not case.hate:
        blocked.append("the report is hate-related and the case is not (NM01 counts hate incidents separately)")
    return rule, blocked


def find_open_case_matches(
    session: Session, report: IntakeReport, *, viewer: Actor | None = None, exclude_case: str | None = None,
) -> list[CaseMatch]:
    """Open cases whose reported person or address the report's reported person matches, exact ones
    first, then by score and age. One entry per case (its best-matching reported person).

    `exclude_case` leaves out the case the report itself opened, when asked after intake."""
    wanted = report.reported_person
    if wanted is None:
        return []
    person_id = None
    if wanted.id:
        known = live_person(session, wanted.id)
        person_id = known.id if known is not None else None
    keys = _Keys.of(wanted, person_id)
    conditions = _lookup(keys)
    if keys.empty() or not conditions:
        return []
    query = (
        select(CaseRow, PersonRow)
        .join(PartyRow, PartyRow.case_ref == CaseRow.reference)
        .join(PersonRow, PersonRow.id == PartyRow.person_id)
        .where(PartyRow.role == "reported_person", CaseRow.closed_at.is_(None), CaseRow.stage != "closed",
               CaseRow.anonymised_at.is_(None), or_(*conditions), *_LIVE)
    )
    if exclude_case is not None:
        query = query.where(CaseRow.reference != exclude_case)
    best: dict[str, tuple[CaseRow, CaseMatch]] = {}
    for case, person in session.execute(query.order_by(CaseRow.reference).limit(CANDIDATE_LIMIT)):
        if viewer is not None and not may_see(case, viewer.role, viewer.id):
            continue
        comparison = _compare(keys, _Keys.of(person, person.id))
        if not comparison.offered():
            continue
        rule, blocked = _exact(comparison, report, case)
        match = CaseMatch(case_ref=case.reference, person_id=person.id, score=comparison.score,
                          fields=comparison.fields, conflicts=comparison.conflicts, rule=rule,
                          blocked_by=tuple(blocked), exact=rule is not None and not blocked)
        kept = best.get(case.reference)
        if kept is None or (match.exact, match.score) > (kept[1].exact, kept[1].score):
            best[case.reference] = (case, match)
    ordered = sorted(best.values(), key=lambda item: (not item[1].exact, -item[1].score, item[0].opened_at,
                                                      item[0].reference))
    return [match for _, match in ordered]


def auto_attach_target(matches: Sequence[CaseMatch]) -> str | None:
    """The one open case a report attaches to without an officer: the only exact match, else none
    (no exact match, or two live cases an officer must choose between)."""
    exact = {match.case_ref for match in matches if match.exact}
    return exact.pop() if len(exact) == 1 else None
