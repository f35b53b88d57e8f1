"""Who a letter reaches and how: the reporter's choices, read from the case file at send time.

The rules (DOMAIN "The service promised during a case"; 003 §9, §15; 004 §3.8, §6.5; 001 rec. 3):

- an anonymous reporter gets nothing: a letter would name them to whoever opens the post;
- email and SMS need the person's consent to that channel (the latest consent recorded wins, so a
  withdrawal takes effect at once) and an address or number to use; otherwise the letter goes by post;
- a person who chose email gets the letter itself by email (the PDF attached), not a paper copy as well;
- reasonable adjustments come from the person's record: large print, easy read, a language;
- a representative acting with the person's consent (third_party) receives the letters in their place.

A person the case file does not know (a case started without intake, e.g. by `asb simulate`) still
gets a letter, addressed by id with a placeholder address, so nothing a case promises goes missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from casefile.models import ConsentRow, PartyRow, PersonRow
from casefile.people import live_person

PLACEHOLDER_ADDRESS = "Address held on file"
Route = Literal["post", "email"]

#: Language codes people give, mapped to the template folder names (ISO 639-1).
LANGUAGE_ALIASES = {"wls": "cy", "cym": "cy", "welsh": "cy", "cymraeg": "cy", "eng": "en", "english": "en"}


@dataclass(frozen=True)
class Skip:
    """Nothing is sent; `reason` is recorded on the message so the decision is visible to staff."""

    reason: str


@dataclass(frozen=True)
class Recipient:
    person_id: str | None
    role: str
    name: str
    address_lines: tuple[str, ...]
    email: str | None = None
    phone: str | None = None
    contact_method: str | None = None
    contact_every_days: int | None = None
    large_print: bool = False
    easy_read: bool = False
    language: str | None = None
    consents: dict[str, bool] = field(default_factory=dict)
    #: The name of the person this representative acts for (None when writing to the person).
    on_behalf_of: str | None = None
    #: False when the case file has no record of this person: the address is a placeholder.
    known: bool = True

    @property
    def has_postal_address(self) -> bool:
        return self.known and bool(self.address_lines) and self.address_lines != (PLACEHOLDER_ADDRESS,)

    @property
    def variant(self) -> str:
        if self.easy_read:
            return "easy-read"
        return "large-print" if self.large_print else "standard"

    def may_email(self) -> bool:
        return bool(self.consents.get("email")) and bool(self.email)

    def may_text(self) -> bool:
        return bool(self.consents.get("sms")) and bool(self.phone)

    def letter_route(self) -> Route:
        """A letter goes by email only to someone who chose email, consented to it and gave an address."""
        return "email" if self.contact_method == "email" and self.may_email() else "post"


def normalise_language(code: str | None) -> str | None:
    if not code:
        return None
    primary = code.strip().lower().replace("_", "-").split("-")[0]
    return LANGUAGE_ALIASES.get(primary, primary) or None


def latest_consents(session: Session, person_id: str, case_ref: str) -> dict[str, bool]:
    """Consent by kind, the latest recorded winning; consent given for another case does not count."""
    rows = session.scalars(
        select(ConsentRow)
        .where(ConsentRow.person_id == person_id, or_(ConsentRow.case_ref == case_ref, ConsentRow.case_ref.is_(None)))
        .order_by(ConsentRow.recorded_at, ConsentRow.id)
    ).all()
    found: dict[str, bool] = {}
    for row in rows:
        found[row.kind] = bool(row.given)
    return found


def _address_lines(person: PersonRow) -> tuple[str, ...]:
    lines = [line.strip() for line in (person.address or "").replace(",", "\n").splitlines() if line.strip()]
    if person.postcode and person.postcode.strip().upper() not in (line.upper() for line in lines):
        lines.append(person.postcode.strip().upper())
    return tuple(lines)


def _from_person(person: PersonRow, role: str, consents: dict[str, bool], on_behalf_of: str | None) -> Recipient:
    return Recipient(
        person_id=person.id, role=role, name=person.name or person.id, address_lines=_address_lines(person)
        or (PLACEHOLDER_ADDRESS,), email=person.email or None, phone=person.phone or None,
        contact_method=person.contact_method, contact_every_days=person.contact_every_days,
        large_print=bool(person.large_print), easy_read=bool(person.easy_read),
        language=normalise_language(person.language), consents=consents, on_behalf_of=on_behalf_of,
    )


def find_recipient(session: Session, case_ref: str, role: str, recipient_id: str | None) -> Recipient | Skip:
    """The person a letter for `role` on this case reaches, or why nobody does.

    With no id, the first party recorded in that role: the order they were added, never the database's whim
    (PostgreSQL returns unordered rows in any order, so a second reported person could get the first's letter).
    """
    if recipient_id is not None:
        # The workflow keeps the id it was started with; an officer may since have merged that record.
        live = live_person(session, recipient_id)
        recipient_id = live.id if live is not None else recipient_id
    parties = session.scalars(
        select(PartyRow).where(PartyRow.case_ref == case_ref, PartyRow.role == role).order_by(PartyRow.id)
    ).all()
    party = next((p for p in parties if recipient_id is None or p.person_id == recipient_id), None)
    if party is not None and party.anonymous:
        return Skip("anonymous")
    person_id = recipient_id or (party.person_id if party else None)
    person = session.get(PersonRow, person_id) if person_id else None
    if person is None:
        label = person_id or ("the reporter" if role == "reporter" else "the occupier")
        return Recipient(person_id=person_id, role=role, name=label, address_lines=(PLACEHOLDER_ADDRESS,),
                         known=False)
    if person.anonymised_at is not None:
        return Skip("anonymised: the person's details were erased under the retention policy")
    consents = latest_consents(session, person.id, case_ref)
    if person.representative_id and consents.get("third_party"):
        representative = session.get(PersonRow, person.representative_id)
        if representative is not None and representative.anonymised_at is None:
            rep_consents = latest_consents(session, representative.id, case_ref)
            return _from_person(representative, role, rep_consents, on_behalf_of=person.name or person.id)
    return _from_person(person, role, consents, on_behalf_of=None)


def notification_decision(recipient: Recipient, channel: str) -> Skip | None:
    """None when a notification by `channel` may go; otherwise why it does not (the letter covers it)."""
    if channel == "email":
        if recipient.letter_route() == "email":
            return Skip("sent with the letter: the letter itself went by email")
        if not recipient.consents.get("email"):
            return Skip("no consent to email: the letter goes by post instead")
        if not recipient.email:
            return Skip("no email address on file: the letter goes by post instead")
        return None
    if channel == "sms":
        if not recipient.consents.get("sms"):
            return Skip("no consent to SMS: the letter goes by post instead")
        if not recipient.phone:
            return Skip("no mobile number on file: the letter goes by post instead")
        return None
    return Skip(f"unknown channel {channel!r}")
