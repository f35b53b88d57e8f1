"""Who a letter reaches and how (letters/recipients.py), without rendering or sending anything.

tests/test_letters.py checks the same rules on real letters; these pin each rule on its own, fast enough
for the mutation run (scripts/mutate). Reporter's choices: 003 §9, §15; 004 §3.8, §6.5.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from casefile.audit import act_as
from casefile.db import Store
from casefile.models import CaseRow, ConsentRow, PartyRow, PersonRow
from letters.recipients import (
    PLACEHOLDER_ADDRESS,
    Recipient,
    Skip,
    find_recipient,
    latest_consents,
    normalise_language,
    notification_decision,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _case(store: Store, people: list[tuple[str, str, bool, dict[str, Any] | None]]) -> str:
    """A case with (person id, role, anonymous, person fields) parties."""
    ref = _id("ASB-R")
    with store.session() as session, session.begin():
        act_as(session, "officer", "test")
        session.add(CaseRow(reference=ref, profile="reading", stage="enquiry", outcome="enquiry", category="noise",
                            opened_at=NOW))
        for person_id, role, anonymous, fields in people:
            if fields is not None and session.get(PersonRow, person_id) is None:
                session.add(PersonRow(id=person_id, **fields))
            session.flush()
            session.add(PartyRow(case_ref=ref, person_id=person_id, role=role, anonymous=anonymous))
    return ref


def _consent(store: Store, person: str, kind: str, given: bool, case_ref: str | None, minutes: int = 0) -> None:
    with store.session() as session, session.begin():
        session.add(ConsentRow(person_id=person, case_ref=case_ref, kind=kind, given=given,
                               recorded_at=NOW + timedelta(minutes=minutes), recorded_by="o1"))


def _find(store: Store, ref: str, role: str, person: str | None) -> Recipient | Skip:
    with store.session() as session:
        return find_recipient(session, ref, role, person)


@pytest.mark.parametrize(("given", "wanted"), [
    (None, None), ("", None), ("en", "en"), ("EN-gb", "en"), ("cy_GB", "cy"), ("wls", "cy"), ("Welsh", "cy"),
    ("cymraeg", "cy"), ("eng", "en"), ("english", "en"), (" pl ", "pl"), ("-", None),
])
def test_languages_are_normalised_to_template_folders(given: str | None, wanted: str | None) -> None:
    assert normalise_language(given) == wanted


def test_a_person_is_written_to_with_their_own_details_and_adjustments(store: Store) -> None:
    amy = _id("P")
    ref = _case(store, [(amy, "reporter", False, {
        "name": "Amy Post", "address": "4 Mill Lane,\n Reading ", "postcode": " rg1 2ab ", "email": "amy@example.org",
        "phone": "07700 900100", "contact_method": "letter", "contact_every_days": 14, "large_print": True,
        "language": "cy-GB"})])
    found = _find(store, ref, "reporter", None)
    assert isinstance(found, Recipient)
    assert (found.person_id, found.role, found.name) == (amy, "reporter", "Amy Post")
    assert found.address_lines == ("4 Mill Lane", "Reading", "RG1 2AB")
    assert (found.email, found.phone, found.contact_method, found.contact_every_days) == (
        "amy@example.org", "07700 900100", "letter", 14)
    assert (found.large_print, found.easy_read, found.language, found.variant) == (True, False, "cy", "large-print")
    assert found.has_postal_address and found.known and found.on_behalf_of is None
    assert found.consents == {} and not found.may_email() and not found.may_text()
    assert found.letter_route() == "post"


def test_a_postcode_already_in_the_address_is_not_repeated(store: Store) -> None:
    ben = _id("P")
    ref = _case(store, [(ben, "reporter", False, {"name": "Ben", "address": "1 Elm Row, Reading RG2, RG2 7XY",
                                                  "postcode": "rg2 7xy", "easy_read": True})])
    found = _find(store, ref, "reporter", ben)
    assert isinstance(found, Recipient)
    assert found.address_lines == ("1 Elm Row", "Reading RG2", "RG2 7XY") and found.variant == "easy-read"


def test_no_address_on_record_falls_back_to_the_placeholder(store: Store) -> None:
    cat = _id("P")
    ref = _case(store, [(cat, "reporter", False, {"name": None})])
    found = _find(store, ref, "reporter", cat)
    assert isinstance(found, Recipient)
    assert found.name == cat and found.address_lines == (PLACEHOLDER_ADDRESS,) and not found.has_postal_address


def test_an_anonymous_reporter_gets_nothing(store: Store) -> None:
    dan = _id("P")
    ref = _case(store, [(dan, "reporter", True, {"name": "Dan"})])
    assert _find(store, ref, "reporter", None) == Skip("anonymous")
    assert _find(store, ref, "reporter", dan) == Skip("anonymous")


def test_someone_the_case_file_does_not_know_is_written_to_by_id(store: Store) -> None:
    ref = _case(store, [])
    for role, person, label in (("reporter", "r9", "r9"), ("reporter", None, "the reporter"),
                                ("reported_person", None, "the occupier")):
        found = _find(store, ref, role, person)
        assert isinstance(found, Recipient)
        assert (found.name, found.address_lines, found.known, found.person_id, found.role) == (
            label, (PLACEHOLDER_ADDRESS,), False, person, role)
        assert not found.has_postal_address


def test_the_right_party_is_found_by_role_and_id(store: Store) -> None:
    eve, fin, gus = _id("P"), _id("P"), _id("P")
    ref = _case(store, [(eve, "reporter", False, {"name": "Eve"}), (fin, "reported_person", False, {"name": "Fin"}),
                        (gus, "reported_person", False, {"name": "Gus"})])
    assert _find(store, ref, "reported_person", gus).name == "Gus"  # type: ignore[union-attr]
    assert _find(store, ref, "reporter", None).name == "Eve"  # type: ignore[union-attr]
    assert _find(store, ref, "reported_person", None).name == "Fin"  # type: ignore[union-attr]


def test_the_latest_consent_wins_and_only_this_case_or_none_counts(store: Store) -> None:
    hal = _id("P")
    ref = _case(store, [(hal, "reporter", False, {"name": "Hal", "email": "hal@example.org", "phone": "07700 900200",
                                                  "contact_method": "email"})])
    other = _case(store, [(hal, "reporter", False, None)])
    _consent(store, hal, "email", True, ref, 1)
    _consent(store, hal, "sms", True, None, 1)  # given for every case
    _consent(store, hal, "email", False, other, 5)  # another case's withdrawal does not count here
    with store.session() as session:
        assert latest_consents(session, hal, ref) == {"email": True, "sms": True}
    _consent(store, hal, "email", False, ref, 9)  # withdrawn later on this case: takes effect at once
    with store.session() as session:
        assert latest_consents(session, hal, ref) == {"email": False, "sms": True}
    _consent(store, hal, "email", True, ref, 9)  # the same moment: the later row wins
    with store.session() as session:
        assert latest_consents(session, hal, ref) == {"email": True, "sms": True}
    _consent(store, hal, "sms", False, ref, -5)  # entered late, dated earlier: the earlier date loses
    with store.session() as session:
        assert latest_consents(session, hal, ref) == {"email": True, "sms": True}


def _recipient(**fields: Any) -> Recipient:
    base: dict[str, Any] = {"person_id": "p", "role": "reporter", "name": "N", "address_lines": ("1 A St",)}
    return Recipient(**{**base, **fields})


@pytest.mark.parametrize(("fields", "route", "email", "sms"), [
    ({"contact_method": "email", "consents": {"email": True}, "email": "a@b"}, "email",
     "sent with the letter: the letter itself went by email", "no consent to SMS: the letter goes by post instead"),
    ({"contact_method": "email", "consents": {"email": True}}, "post",
     "no email address on file: the letter goes by post instead", "no consent to SMS: the letter goes by post instead"),
    ({"contact_method": "email", "consents": {"email": False}, "email": "a@b"}, "post",
     "no consent to email: the letter goes by post instead", "no consent to SMS: the letter goes by post instead"),
    ({"contact_method": "sms", "consents": {"email": True, "sms": True}, "email": "a@b", "phone": "077"}, "post",
     None, None),
    ({"contact_method": "sms", "consents": {"sms": True}}, "post",
     "no consent to email: the letter goes by post instead",
     "no mobile number on file: the letter goes by post instead"),
])
def test_channels_need_consent_and_an_address(fields: dict[str, Any], route: str, email: str | None,
                                              sms: str | None) -> None:
    recipient = _recipient(**fields)
    assert recipient.letter_route() == route
    assert notification_decision(recipient, "email") == (Skip(email) if email else None)
    assert notification_decision(recipient, "sms") == (Skip(sms) if sms else None)
    assert notification_decision(recipient, "fax") == Skip("unknown channel 'fax'")
    assert recipient.may_email() is bool(fields.get("consents", {}).get("email") and fields.get("email"))
    assert recipient.may_text() is bool(fields.get("consents", {}).get("sms") and fields.get("phone"))


def test_variants_and_postal_address() -> None:
    assert _recipient().variant == "standard"
    assert _recipient(large_print=True, easy_read=True).variant == "easy-read"
    assert _recipient().has_postal_address
    assert not _recipient(address_lines=()).has_postal_address
    assert not _recipient(address_lines=(PLACEHOLDER_ADDRESS,)).has_postal_address
    assert not _recipient(known=False).has_postal_address


def test_a_consenting_persons_representative_receives_their_letters(store: Store) -> None:
    ida, rep = _id("P"), _id("P")
    with store.session() as session, session.begin():
        session.add(PersonRow(id=rep, name="Rita Rep", address="2 Court St", email="rita@example.org",
                              contact_method="email"))
    ref = _case(store, [(ida, "reporter", False, {"name": "Ida", "address": "8 Bank Rd", "representative_id": rep})])
    found = _find(store, ref, "reporter", ida)
    assert isinstance(found, Recipient) and found.name == "Ida"  # no third-party consent yet: Ida herself
    _consent(store, ida, "third_party", True, ref)
    _consent(store, rep, "email", True, ref)
    found = _find(store, ref, "reporter", ida)
    assert isinstance(found, Recipient)
    assert (found.person_id, found.name, found.on_behalf_of, found.role) == (rep, "Rita Rep", "Ida", "reporter")
    assert found.address_lines == ("2 Court St",) and found.consents == {"email": True}
    assert found.letter_route() == "email"
    with store.session() as session, session.begin():
        gone = session.get(PersonRow, rep)
        assert gone is not None
        gone.anonymised_at = NOW
    found = _find(store, ref, "reporter", ida)
    assert isinstance(found, Recipient) and found.person_id == ida  # an erased representative gets nothing


def test_an_anonymised_person_gets_nothing(store: Store) -> None:
    jo = _id("P")
    ref = _case(store, [(jo, "reporter", False, {"name": None, "anonymised_at": NOW})])
    assert _find(store, ref, "reporter", jo) == Skip(
        "anonymised: the person's details were erased under the retention policy")
