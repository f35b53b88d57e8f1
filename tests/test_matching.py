"""People, places and parties, and linked reports (issue 12 items 5 and 6), on PostgreSQL.

Matching offers; only an officer merges. A further report about an open case's reported person or
address is offered for attaching, and only an exact match (casefile/matching.py) may attach by itself.
Every test writes people with details of its own, so what other tests left in the shared database
never matches.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import make_url

from casefile.access import NotAllowed
from casefile.audit import act_as
from casefile.db import Store
from casefile.editing import ConflictError, update_person
from casefile.intake import IntakeReport, PersonDetails, record_report
from casefile.matching import auto_attach_target, find_open_case_matches, find_person_matches
from casefile.models import (
    AuditRow,
    CaseRow,
    ConsentRow,
    ContactRow,
    IncidentRow,
    PartyRow,
    PersonMergeRow,
    PersonRow,
)
from casefile.normalise import address_key, check_uprn, email_key, name_key, phone_key, postcode_key
from casefile.people import (
    MergeRefused,
    PersonNotFound,
    add_party,
    live_person,
    merge_people,
    remove_party,
)
from casefile.retention import run_retention
from letters.recipients import Recipient, find_recipient
from statemachine.commands import Actor

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
OFFICER = Actor(role="officer", id="o-match")
MANAGER = Actor(role="manager", id="m-match")


class Who:
    """Details nobody else in the database has: a name, phone, email, address and UPRN of this test's own."""

    def __init__(self) -> None:
        token = uuid.uuid4().hex
        self.tag = token[:8]
        self.surname = "Q" + token[:8]
        self.phone = f"07911 {int(token[8:16], 16) % 1_000_000:06d}"
        self.email = f"{token[:10]}@example.org"
        self.street = f"{int(token[16:20], 16) % 900 + 10} {token[20:26]} Street"
        self.uprn = str(int(token[26:36], 16) % 10**11 + 10**11)
        self.postcode = "RG1 1AA"


def _report(reported: dict[str, Any] | None, reporter: dict[str, Any] | None = None, **extra: Any) -> IntakeReport:
    data: dict[str, Any] = {"category": "noise", "officer": OFFICER.id,
                            "reporter": reporter or {"name": f"Reporter {uuid.uuid4().hex[:8]}"},
                            "reported_person": reported, **extra}
    return IntakeReport.model_validate(data)


def _open_case(store: Store, reported: dict[str, Any] | None, reporter: dict[str, Any] | None = None,
               **extra: Any) -> tuple[str, str, str | None]:
    """A case logged at intake: its reference, the reporter's id and the reported person's id."""
    ref = f"MT-{uuid.uuid4().hex[:12]}"
    with store.session() as session, session.begin():
        act_as(session, "intake", "i-match")
        args = record_report(session, ref, "reading", _report(reported, reporter, **extra), NOW, "i-match")
    assert args.reporter.id is not None
    return ref, args.reporter.id, args.reported_person.id if args.reported_person else None


def _close(store: Store, ref: str) -> None:
    with store.session() as session, session.begin():
        case = session.get(CaseRow, ref)
        assert case is not None
        case.stage, case.closed_at, case.closure_reason = "closed", NOW + timedelta(days=30), "resolved"


def _people(store: Store, candidate: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    with store.session() as session:
        return {m.person_id: m for m in find_person_matches(session, PersonDetails.model_validate(candidate),
                                                            **kwargs)}


def _cases(store: Store, reported: dict[str, Any], **extra: Any) -> dict[str, Any]:
    with store.session() as session:
        return {m.case_ref: m for m in find_open_case_matches(session, _report(reported, **extra))}


# ---------------------------------------------------------------- normal forms


def test_details_are_compared_in_one_normal_form_each() -> None:
    assert {phone_key(v) for v in ("07700 900123", "+44 7700 900123", "+44 (0)7700 900-123", "0044 7700900123",
                                   "447700900123", "(07700) 900 123")} == {"07700900123"}
    assert phone_key("+33 1 23 45 67 89") == "+33123456789"  # a number from abroad keeps its country code
    assert phone_key("900123") is None  # a fragment would match too many people
    assert name_key("  Mr  BOB   Neighbour ") == name_key("bob neighbour") == "bob neighbour"
    assert name_key("Siân O\u2019Brien") == name_key("SIÂN O'BRIEN")
    assert email_key(" Bob.N@Example.ORG ") == "bob.n@example.org"
    assert postcode_key("rg1 1aa") == postcode_key("RG11AA") == "RG11AA"
    assert address_key("Flat 3,\n12 High Street, RG1 1AA") == address_key("flat 3 12 high st") == "flat 3 12 high st"
    assert address_key("Flat 3, 12 High St") != address_key("Flat 4, 12 High St")
    assert check_uprn(" 010023336956 ") == "10023336956"


def test_a_malformed_uprn_is_refused_wherever_it_is_written() -> None:
    for bad in ("12345678901234", "10002333695a", "0", "-1", "1e5"):
        with pytest.raises(ValidationError, match="uprn"):
            PersonDetails(uprn=bad)
        with pytest.raises(ValueError, match="UPRN"):
            PersonRow(id="P-bad", uprn=bad)
    with pytest.raises(ValidationError, match="date_of_birth"):
        PersonDetails(date_of_birth=date.today() + timedelta(days=1))
    for bad_date in ("1899-12-31", "2001-02-30", "yesterday"):
        with pytest.raises(ValueError, match="date_of_birth"):
            PersonRow(id="P-bad", date_of_birth=bad_date)


def test_a_uprn_and_a_date_of_birth_are_edited_through_the_versioned_edit_and_then_match(store: Store) -> None:
    who = Who()
    _, person_id, _ = _open_case(store, None, reporter={"name": f"Ida {who.surname}"})
    with store.session() as session, session.begin(), pytest.raises(ValueError, match="UPRN"):
        update_person(session, person_id, {"uprn": "12 High St"}, expected_version=1, role="officer", actor_id="o1")
    with store.session() as session, session.begin():
        update_person(session, person_id, {"uprn": who.uprn, "date_of_birth": "1990-09-09"}, expected_version=1,
                      role="officer", actor_id="o1")
    match = _people(store, {"name": f"Ida {who.surname}", "date_of_birth": "1990-09-09"})[person_id]
    assert match.exact and match.version == 2
    assert person_id in _people(store, {"uprn": who.uprn})


# ---------------------------------------------------------------- people


@pytest.mark.parametrize("field", ["name", "email", "phone", "uprn", "address"])
def test_a_person_on_file_is_offered_on_each_detail_alone(store: Store, field: str) -> None:
    who = Who()
    on_file = {"name": f"Dana {who.surname}", "email": who.email, "phone": who.phone, "uprn": who.uprn,
               "address": who.street, "postcode": who.postcode}
    _, reporter_id, _ = _open_case(store, None, reporter=on_file)
    other = Who()  # the candidate differs in everything else
    candidate: dict[str, Any] = {"name": f"Eli {other.surname}", "email": other.email, "phone": other.phone,
                                 "uprn": other.uprn, "address": other.street, "postcode": "SW1A 1AA"}
    candidate[field] = on_file[field]
    if field == "address":
        candidate["postcode"], candidate["uprn"] = who.postcode, None
    if field == "uprn":
        candidate["address"] = None

    matches = _people(store, candidate)

    assert list(matches) == [reporter_id]
    assert field in matches[reporter_id].fields
    assert matches[reporter_id].exact is False  # one detail alone is only ever an offer


def test_details_written_differently_still_match_and_name_with_dob_is_exact(store: Store) -> None:
    who = Who()
    _, person_id, _ = _open_case(store, None, reporter={
        "name": f"Dana {who.surname}", "date_of_birth": "1980-04-01", "phone": who.phone,
        "email": who.email.upper(), "address": f"Flat 3, {who.street}", "postcode": "rg1 1aa"})
    phone = "+44 (0)" + who.phone[1:]
    match = _people(store, {"name": f"  mrs DANA   {who.surname.lower()}", "date_of_birth": "1980-04-01",
                            "phone": phone, "email": who.email,
                            "address": f"flat 3 {who.street.replace('Street', 'St')}, RG1 1AA"})[person_id]
    assert set(match.fields) == {"name", "date_of_birth", "phone", "email", "address", "postcode"}
    assert match.exact and match.score == 100


def test_a_date_of_birth_or_postcode_alone_is_no_match_and_another_birthday_is_another_person(
    store: Store,
) -> None:
    who = Who()
    _, person_id, _ = _open_case(store, None, reporter={"name": f"Sam {who.surname}", "date_of_birth": "1961-02-03",
                                                        "address": who.street, "postcode": who.postcode,
                                                        "phone": who.phone})
    assert person_id not in _people(store, {"name": "Someone Else", "date_of_birth": "1961-02-03"})
    assert person_id not in _people(store, {"name": "Someone Else", "postcode": who.postcode})
    # Father and son: one name, one address, two birthdays. Not offered: a merge would be refused anyway.
    assert person_id not in _people(store, {"name": f"Sam {who.surname}", "date_of_birth": "1991-07-08"})
    assert person_id not in _people(store, {"name": f"Sam {who.surname}", "date_of_birth": "1991-07-08",
                                            "phone": who.phone, "address": who.street, "postcode": who.postcode})
    near = _people(store, {"name": f"Sam {who.surname}"})[person_id]
    assert near.fields == ("name",) and not near.exact


def test_people_in_a_locked_case_are_not_offered_to_someone_who_may_not_see_it(store: Store) -> None:
    who = Who()
    ref, person_id, _ = _open_case(store, None, reporter={"name": f"Lee {who.surname}", "email": who.email})
    with store.session() as session, session.begin():
        case = session.get(CaseRow, ref)
        assert case is not None
        case.locked, case.lock_reason, case.officer = True, "employee", "o-owner"
    candidate = {"email": who.email}
    assert person_id not in _people(store, candidate, viewer=OFFICER)
    assert person_id in _people(store, candidate, viewer=Actor(role="officer", id="o-owner"))
    assert person_id in _people(store, candidate, viewer=MANAGER)


# ---------------------------------------------------------------- linked reports (NM01)


def test_a_report_about_the_same_address_and_postcode_attaches_automatically(store: Store) -> None:
    who = Who()
    ref, _, _ = _open_case(store, {"description": "unknown male", "address": f"Flat 3, {who.street}",
                                   "postcode": who.postcode})
    matches = _cases(store, {"address": f"flat 3 {who.street}", "postcode": who.postcode.lower()})
    assert matches[ref].exact and matches[ref].rule == "address"
    assert auto_attach_target(list(matches.values())) == ref


@pytest.mark.parametrize("rule", ["uprn", "name_and_dob", "same_person"])
def test_each_exact_rule_qualifies_for_automatic_attachment(store: Store, rule: str) -> None:
    who = Who()
    ref, _, reported_id = _open_case(store, {"name": f"Bo {who.surname}", "date_of_birth": "1975-05-05",
                                             "address": who.street, "uprn": who.uprn})
    reports: dict[str, dict[str, Any]] = {
        "uprn": {"uprn": who.uprn},
        "name_and_dob": {"name": f"BO {who.surname}", "date_of_birth": "1975-05-05"},
        "same_person": {"id": reported_id},
    }
    again = reports[rule]
    match = _cases(store, again)[ref]
    assert (match.exact, match.rule, match.blocked_by) == (True, rule, ())


def test_a_near_match_is_offered_but_never_attached_by_itself(store: Store) -> None:
    who = Who()
    ref, _, _ = _open_case(store, {"name": f"Ray {who.surname}", "address": f"Flat 4, {who.street}",
                                   "postcode": who.postcode})
    # The name alone; the same address without its postcode; the same street and postcode but another flat.
    for near in ({"name": f"ray {who.surname}"}, {"address": f"Flat 4, {who.street}"},
                 {"address": f"Flat 5, {who.street}", "postcode": who.postcode, "name": f"Ray {who.surname}"}):
        matches = _cases(store, near)
        assert ref in matches and not matches[ref].exact, near
        assert auto_attach_target(list(matches.values())) is None


def test_an_exact_address_is_blocked_by_another_name_or_a_hate_report_on_a_plain_case(store: Store) -> None:
    who = Who()
    ref, _, _ = _open_case(store, {"name": f"Ann {who.surname}", "address": who.street, "postcode": who.postcode})
    other_tenant = _cases(store, {"name": "Zed Other", "address": who.street, "postcode": who.postcode})[ref]
    assert other_tenant.rule == "address" and not other_tenant.exact
    assert other_tenant.blocked_by == ("the names differ",)
    hate = _cases(store, {"address": who.street, "postcode": who.postcode}, hate=True, hate_strand="race")[ref]
    assert not hate.exact and "hate" in hate.blocked_by[0]


def test_a_closed_case_is_never_matched(store: Store) -> None:
    who = Who()
    ref, _, _ = _open_case(store, {"name": f"Cy {who.surname}", "address": who.street, "postcode": who.postcode,
                                   "uprn": who.uprn})
    same = {"name": f"Cy {who.surname}", "address": who.street, "postcode": who.postcode, "uprn": who.uprn}
    assert _cases(store, same)[ref].exact
    _close(store, ref)
    assert ref not in _cases(store, same)


def test_two_open_cases_matching_exactly_leave_the_choice_to_an_officer(store: Store) -> None:
    who = Who()
    place = {"address": who.street, "postcode": who.postcode}
    first, _, _ = _open_case(store, place)
    second, _, _ = _open_case(store, place)
    matches = list(_cases(store, place).values())
    assert {m.case_ref for m in matches if m.exact} == {first, second}
    assert auto_attach_target(matches) is None
    with store.session() as session:  # the case a report opened is left out when asked after intake
        after = find_open_case_matches(session, _report(place), exclude_case=second)
    assert auto_attach_target(after) == first


# ---------------------------------------------------------------- parties


def test_a_case_takes_any_number_of_witnesses_and_unknown_people_in_their_roles(store: Store) -> None:
    who = Who()
    ref, _, _ = _open_case(store, {"name": f"Di {who.surname}"})
    with store.session() as session, session.begin():
        unknown = add_party(session, ref, "reported_person", actor=OFFICER,
                            details=PersonDetails(description="unknown male, flat 3", address=f"Flat 3, {who.street}"))
        witness = add_party(session, ref, "witness", actor=OFFICER, details=PersonDetails(name=f"Wyn {who.surname}"))
        second = add_party(session, ref, "witness", actor=OFFICER, details=PersonDetails(name=f"Val {who.surname}"))
        again = add_party(session, ref, "witness", actor=OFFICER, person_id=witness.person_id)
        assert again.id == witness.id  # the same person in the same role is one party
    with store.session() as session:
        parties = session.execute(select(PartyRow.role, PersonRow.name, PersonRow.description)
                                  .join(PersonRow, PersonRow.id == PartyRow.person_id)
                                  .where(PartyRow.case_ref == ref)).all()
        roles = sorted(role for role, _, _ in parties)
        assert roles == ["reported_person", "reported_person", "reporter", "witness", "witness"]
        assert (None, "unknown male, flat 3") in {(name, text) for _, name, text in parties}
    with store.session() as session, session.begin():
        assert remove_party(session, ref, second.person_id, "witness", actor=OFFICER) is True
        assert remove_party(session, ref, second.person_id, "witness", actor=OFFICER) is False
    with store.session() as session:
        audited = session.execute(select(AuditRow.action, AuditRow.entity_id).where(
            AuditRow.case_ref == ref, AuditRow.entity == "case_parties", AuditRow.actor_id == OFFICER.id)).all()
        assert sorted(action for action, _ in audited) == ["create", "create", "create", "delete"]
        assert ("delete", str(second.id)) in audited
        assert session.get(PartyRow, unknown.id) is not None and session.get(PartyRow, second.id) is None


def test_party_changes_that_would_break_the_case_are_refused(store: Store) -> None:
    ref, reporter_id, reported_id = _open_case(store, {"name": "Ed Refused"})
    assert reported_id is not None
    refusals: list[tuple[type[Exception], str, Any]] = [
        (ValueError, "only reporter", lambda s: remove_party(s, ref, reporter_id, "reporter", actor=OFFICER)),
        (ValueError, "role must be", lambda s: add_party(s, ref, "suspect", actor=OFFICER, person_id=reporter_id)),
        (ValueError, "both a reporter", lambda s: add_party(s, ref, "reporter", actor=OFFICER, person_id=reported_id)),
        (ValueError, "description", lambda s: add_party(s, ref, "witness", actor=OFFICER, details=PersonDetails())),
        (NotAllowed, "may not", lambda s: add_party(s, ref, "witness", actor=Actor(role="auditor", id="a1"),
                                                    person_id=reporter_id)),
        (PersonNotFound, "no person", lambda s: add_party(s, ref, "witness", actor=OFFICER, person_id="P-none")),
    ]
    for error, message, call in refusals:
        with store.session() as session, session.begin(), pytest.raises(error, match=message):
            call(session)
    with store.session() as session:
        assert len(session.scalars(select(PartyRow).where(PartyRow.case_ref == ref)).all()) == 2


# ---------------------------------------------------------------- merging


def _two_records_of_one_person(store: Store) -> tuple[Who, str, str, str, str]:
    """One reporter, logged twice (two reports, two records): the second time with a phone number."""
    who = Who()
    first, keep_id, _ = _open_case(store, {"name": f"Nb {who.surname}"}, reporter={
        "name": f"Kit {who.surname}", "email": who.email, "consents": {"email": True}})
    second, merge_id, _ = _open_case(store, {"name": f"Nc {who.surname}"}, reporter={
        "name": f"kit {who.surname}", "phone": who.phone, "large_print": True, "address": who.street,
        "postcode": who.postcode, "consents": {"sms": True}})
    with store.session() as session, session.begin():
        session.add(ContactRow(case_ref=second, person_id=merge_id, at=NOW, outcome="made", method="phone",
                               by="o-match"))
        session.add(IncidentRow(case_ref=second, occurred_at=NOW, category="noise", reported_by=merge_id,
                                evidence=[], recorded_at=NOW))
    return who, first, second, keep_id, merge_id


def test_records_are_only_offered_and_an_officers_merge_moves_everything_and_is_audited(store: Store) -> None:
    who, first, second, keep_id, merge_id = _two_records_of_one_person(store)
    with store.session() as session:
        keep = session.get(PersonRow, keep_id)
        assert keep is not None
        offered = {m.person_id: m for m in find_person_matches(session, keep)}
        assert set(offered) == {merge_id} and offered[merge_id].fields == ("name",)
        versions = (keep.version, offered[merge_id].version)
    with store.session() as session:  # intake and matching merged nothing
        assert session.get(PersonRow, merge_id).merged_into is None  # type: ignore[union-attr]

    with store.session() as session, session.begin():
        result = merge_people(session, keep_id, merge_id, actor=OFFICER, reason="same email on both calls",
                              keep_version=versions[0], merge_version=versions[1])
    assert result.moved["parties"] == 1 and result.moved["consents"] == 1
    assert {"phone", "address", "postcode", "large_print"} <= set(result.filled)

    with store.session() as session:
        parties = session.scalars(select(PartyRow.case_ref).where(PartyRow.person_id == keep_id,
                                                                  PartyRow.role == "reporter")).all()
        assert sorted(parties) == sorted([first, second])
        assert not session.scalars(select(PartyRow).where(PartyRow.person_id == merge_id)).all()
        assert {c.kind for c in session.scalars(select(ConsentRow).where(ConsentRow.person_id == keep_id))} == {
            "email", "sms"}
        assert session.scalars(select(ContactRow.person_id).where(ContactRow.case_ref == second)).all() == [keep_id]
        assert session.scalars(select(IncidentRow.reported_by).where(IncidentRow.case_ref == second)).all() == [
            keep_id]
        kept, gone = session.get(PersonRow, keep_id), session.get(PersonRow, merge_id)
        assert kept is not None and gone is not None
        assert (kept.phone, kept.email, kept.large_print) == (who.phone, who.email, True)
        assert kept.version == versions[0] + 1  # a versioned edit of the kept record
        # The merged record keeps its id (workflows name it) and nothing that says who it was.
        assert (gone.merged_into, gone.name, gone.phone, gone.name_key, gone.phone_key) == (keep_id, None, None,
                                                                                           None, None)
        assert live_person(session, merge_id) is kept
        (merge_row,) = session.scalars(select(PersonMergeRow).where(PersonMergeRow.merged_id == merge_id)).all()
        assert merge_row.merged_values is not None and merge_row.merged_values["phone"] == who.phone
        audit = session.scalars(select(AuditRow).where(AuditRow.action == "merge",
                                                       AuditRow.entity_id == merge_id)).all()
        assert {(a.entity, a.case_ref) for a in audit} == {("people", None), ("case_parties", second)}
        assert all(a.actor_id == OFFICER.id for a in audit)
        logged = " ".join(str(row.after) for row in session.scalars(
            select(AuditRow).where(AuditRow.entity.in_(["people", "person_merges"]),
                                   AuditRow.entity_id.in_([keep_id, merge_id, str(merge_row.id)]))))
        assert who.phone not in logged and "same email" not in logged  # personal data and free text by name only
        # The merged record is never offered again; a letter the workflow addresses to its id reaches the person.
        assert merge_id not in {m.person_id for m in find_person_matches(session, kept)}
        found = find_recipient(session, second, "reporter", merge_id)
        assert isinstance(found, Recipient) and found.person_id == keep_id


def test_merging_again_changes_nothing(store: Store) -> None:
    _, _, _, keep_id, merge_id = _two_records_of_one_person(store)
    with store.session() as session, session.begin():
        first = merge_people(session, keep_id, merge_id, actor=OFFICER, reason="same person")
    with store.session() as session:
        audit_rows = session.scalar(select(sa.func.count()).select_from(AuditRow))
        version = session.get(PersonRow, keep_id).version  # type: ignore[union-attr]
    with store.session() as session, session.begin():
        again = merge_people(session, keep_id, merge_id, actor=MANAGER, reason="same person")
    assert again.already_merged and again.moved == first.moved and not first.already_merged
    with store.session() as session:
        assert session.scalar(select(sa.func.count()).select_from(AuditRow)) == audit_rows
        assert session.get(PersonRow, keep_id).version == version  # type: ignore[union-attr]


def test_merges_that_cannot_be_right_are_refused_and_change_nothing(store: Store) -> None:
    who = Who()
    case, reporter_id, reported_id = _open_case(store, {"name": f"Opp {who.surname}"},
                                                reporter={"name": f"Rep {who.surname}", "date_of_birth": "1970-01-01"})
    _, older_id, _ = _open_case(store, None, reporter={"name": f"Rep {who.surname}", "date_of_birth": "1950-01-01"})
    _, twin_id, _ = _open_case(store, None, reporter={"name": f"Rep {who.surname}"})
    assert reported_id is not None
    with store.session() as session, session.begin():
        merge_people(session, reporter_id, twin_id, actor=OFFICER, reason="same person")
    refusals: list[tuple[type[Exception], str, dict[str, Any]]] = [
        (MergeRefused, "themself", {"keep_id": reporter_id, "merge_id": reporter_id}),
        (MergeRefused, "dates of birth differ", {"keep_id": reporter_id, "merge_id": older_id}),
        (MergeRefused, "reported person in " + case, {"keep_id": reporter_id, "merge_id": reported_id}),
        (MergeRefused, "merged into", {"keep_id": twin_id, "merge_id": older_id}),
        (MergeRefused, "already merged into", {"keep_id": older_id, "merge_id": twin_id}),
        (PersonNotFound, "no person", {"keep_id": reporter_id, "merge_id": "P-nobody"}),
        (NotAllowed, "intake may not", {"keep_id": reporter_id, "merge_id": older_id,
                                        "actor": Actor(role="intake", id="i1")}),
        (ValueError, "reason", {"keep_id": reporter_id, "merge_id": older_id, "reason": "  "}),
        (ConflictError, "changed by someone else", {"keep_id": older_id, "merge_id": reported_id,
                                                    "merge_version": 0}),
    ]
    with store.session() as session:
        before = session.scalar(select(sa.func.count()).select_from(AuditRow))
    for error, message, kwargs in refusals:
        call = {"actor": OFFICER, "reason": "checked", **kwargs}
        with store.session() as session, session.begin(), pytest.raises(error, match=message):
            merge_people(session, **call)
    with store.session() as session:
        assert session.scalar(select(sa.func.count()).select_from(AuditRow)) == before
        assert session.get(PersonRow, older_id).merged_into is None  # type: ignore[union-attr]


def test_a_merge_against_a_version_someone_else_edited_is_refused(store: Store) -> None:
    _, _, _, keep_id, merge_id = _two_records_of_one_person(store)
    with store.session() as session:
        seen = {m.person_id: m.version for m in find_person_matches(session, session.get(PersonRow, keep_id))}  # type: ignore[arg-type]
    with store.session() as session, session.begin():
        update_person(session, merge_id, {"phone": "07911 000000"}, expected_version=seen[merge_id],
                      role="officer", actor_id="o-other")
    with store.session() as session, session.begin(), pytest.raises(ConflictError):
        merge_people(session, keep_id, merge_id, actor=OFFICER, reason="same", merge_version=seen[merge_id])


def test_retention_erases_a_merge_reason_and_the_merged_details_with_the_person(store: Store) -> None:
    _, first, second, keep_id, merge_id = _two_records_of_one_person(store)
    with store.session() as session, session.begin():
        merge_people(session, keep_id, merge_id, actor=OFFICER, reason="Kit confirmed on the phone")
        for ref in (first, second):
            case = session.get(CaseRow, ref)
            assert case is not None
            case.stage, case.closed_at = "closed", NOW - timedelta(days=365 * 10)
    with store.session() as session, session.begin():
        act_as(session, "system", "retention")
        report = run_retention(session, NOW)
    assert keep_id in report.people_anonymised
    with store.session() as session:
        (row,) = session.scalars(select(PersonMergeRow).where(PersonMergeRow.merged_id == merge_id)).all()
        assert (row.reason, row.merged_values) == (None, None)


# ---------------------------------------------------------------- migration


@pytest.fixture
def database_at_0004(postgres_url: str) -> Iterator[Store]:
    name = f"asb_match_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(make_url(postgres_url).set(drivername="postgresql", database="postgres")
                            .render_as_string(hide_password=False), autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    store = Store(make_url(postgres_url).set(database=name).render_as_string(hide_password=False))
    store.upgrade("0004")
    try:
        yield store
    finally:
        store.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_the_migration_keys_people_already_on_file_so_they_match(database_at_0004: Store) -> None:
    store = database_at_0004
    with store.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO people (id, name, phone, address, postcode, large_print, easy_read, is_employee, version) "
            "VALUES ('P-old', 'Old  Record', '+44 7911 123456', '9 Mill Road', 'rg1 1aa', false, false, false, 1)"))
    store.upgrade()
    with store.session() as session:
        old = session.get(PersonRow, "P-old")
        assert old is not None and (old.name_key, old.phone_key, old.address_key, old.postcode_key) == (
            "old record", "07911123456", "9 mill rd", "RG11AA")
        assert [m.person_id for m in find_person_matches(session, PersonDetails(phone="07911 123456"))] == ["P-old"]
    with store.engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
        connection.execute(sa.text("UPDATE people SET uprn = 'x1' WHERE id = 'P-old'"))
