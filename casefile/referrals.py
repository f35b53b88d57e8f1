"""Referrals in the case file: the consent a referral is made with, and the referrals of a case.

The workflow judges a referral (statemachine/catalogue.py `guard_make_referral`) but holds no personal
data, so it cannot read consents. A door therefore sends `make_referral` through `prepare_referral`:
the person referred must be one of the case's parties (the reporter if none is named), and when the
referral is made on consent, the person's latest referral consent (003 §15 "consent ... to refer to any
support services") is named by reference (`consent_ref`, `C-<row id>`). A consent withdrawn later
than it was given is no consent: nothing is named, and the case refuses the referral (409).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from casefile.models import ConsentRow, PartyRow, ReferralRow


class ReferralInputError(ValueError):
    """A make_referral argument the case file refuses (a 422 naming `field`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def latest_referral_consent(session: Session, person_id: str, case_ref: str) -> ConsentRow | None:
    """The person's latest referral consent for this case (or for any case), given or withdrawn."""
    return session.scalars(
        select(ConsentRow)
        .where(ConsentRow.person_id == person_id, ConsentRow.kind == "referral",
               or_(ConsentRow.case_ref == case_ref, ConsentRow.case_ref.is_(None)))
        .order_by(ConsentRow.recorded_at.desc(), ConsentRow.id.desc())
    ).first()


def prepare_referral(session: Session, case_ref: str, args: dict[str, Any]) -> dict[str, Any]:
    """make_referral's arguments as the case is sent them: the person checked against the case's
    parties, and `consent_ref` set from the case file (a caller may not give it)."""
    if "consent_ref" in args:
        raise ReferralInputError("args.consent_ref", "make_referral: consent_ref: set from the person's recorded "
                                 "consent, not given (record the consent, then refer)")
    parties = session.execute(select(PartyRow.person_id, PartyRow.role).where(PartyRow.case_ref == case_ref)
                              .order_by(PartyRow.id)).all()
    person_id = args.get("person_id")
    if person_id is None:
        person_id = next((pid for pid, role in parties if role == "reporter"), None)
        if person_id is None:
            return args  # nobody to consent: the case refuses it, saying why
    elif person_id not in {pid for pid, _role in parties}:
        raise ReferralInputError("args.person_id", f"make_referral: person_id: {person_id!r} is not a person "
                                 f"in case {case_ref}")
    if args.get("basis", "consent") != "consent":
        return args
    consent = latest_referral_consent(session, str(person_id), case_ref)
    if consent is None or not consent.given:
        return args
    return {**args, "consent_ref": f"C-{consent.id}"}


def case_referrals(session: Session, case_ref: str) -> list[ReferralRow]:
    return list(session.scalars(select(ReferralRow).where(ReferralRow.case_ref == case_ref)
                                .order_by(ReferralRow.made_at, ReferralRow.id)).all())
