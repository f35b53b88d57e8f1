"""What goes in and out of the people, parties and chronology doors (issue 12 items 5 and 9).

The person views are the case file's own (casefile/person_record.py): one shape per concept. The input
models are stricter than the case file, as in api/schemas.py: a value that cannot be stored is a 422
naming the field, before anything is looked up.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from casefile.intake import CaseFileInput, ContactMethod, PersonDetails
from casefile.matching import PersonMatch
from casefile.normalise import Uprn
from casefile.person_record import MatchCandidate, PersonRecord
from casefile.types import LANGUAGE_PATTERN, DateOfBirth

#: Person ids as issued (P-1a2b3c4d5e6f) or given by intake (r1): letters, digits and . _ : @ -.
PERSON_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$"
PartyRole = Literal["reporter", "reported_person", "witness", "representative"]
ConsentKind = Literal["action", "referral", "third_party", "email", "sms"]
MAX_VERSION = 2**31 - 1

#: A person's record, as GET and PATCH /people/{id} answer.
PersonOut = PersonRecord
MatchOut = MatchCandidate


class PersonEdit(CaseFileInput):
    """A versioned edit of a person: only the fields given change (null clears one)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"expected_version": 1, "phone": "07700 900456", "contact_method": "phone"},
        {"expected_version": 2, "large_print": True, "language": "cy", "consents": {"sms": False}},
    ]})

    expected_version: int = Field(ge=1, le=MAX_VERSION, description="the person's version you saw (GET "
                                  "/people/{id}); refused (409) with the current one if it has changed")
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, min_length=1, max_length=300,
                                    description="for someone whose name is not known, e.g. unknown male, flat 3")
    date_of_birth: DateOfBirth = Field(None, description="YYYY-MM-DD")
    address: str | None = Field(None, min_length=1, max_length=1000)
    postcode: str | None = Field(None, min_length=1, max_length=16)
    uprn: Uprn = None
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=40, pattern=r"^[0-9+() -]{6,40}$")
    contact_method: ContactMethod | None = None
    contact_every_days: int | None = Field(None, ge=1, le=365, description="how often they asked to be contacted")
    large_print: bool | None = Field(None, description="a reasonable adjustment (003 §9): letters in large print")
    easy_read: bool | None = Field(None, description="a reasonable adjustment: letters in easy read")
    language: str | None = Field(None, max_length=6, pattern=LANGUAGE_PATTERN,
                                 description="the language letters should be in: a code such as cy or en-GB")
    representative_id: str | None = Field(None, max_length=64, pattern=PERSON_ID_PATTERN,
                                          description="the person on file who acts for them (null: nobody)")
    consents: dict[ConsentKind, bool] = Field({}, description="consents given (true) or withdrawn (false), "
                                              "recorded now; the latest of each kind counts (003 §15)")
    consent_case: str | None = Field(None, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$",
                                     description="the case the consents are for (a case the person is in); "
                                                 "without it they are for every case")


    def changes(self) -> dict[str, object]:
        """The person's columns the caller gave, with their values (None clears one)."""
        return {name: getattr(self, name) for name in self.model_fields_set
                if name not in ("expected_version", "consents", "consent_case")}


class MatchesOut(BaseModel):
    person_id: str
    version: int = Field(description="the person's version, for a merge into them")
    matches: list[MatchOut] = Field(description="records that may be the same person, best first: offered, "
                                    "never merged by matching")


class MergeVersions(CaseFileInput):
    keep: int = Field(ge=1, le=MAX_VERSION, description="the kept person's version you saw")
    merge: int = Field(ge=1, le=MAX_VERSION, description="the merged person's version you saw")


class MergeIn(CaseFileInput):
    """An officer's or manager's decision that two records are one person."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"merge_id": "P-0a1b2c3d4e5f", "reason": "same phone and date of birth; confirmed with her by phone",
         "versions": {"keep": 3, "merge": 1}},
    ]})

    merge_id: str = Field(max_length=64, pattern=PERSON_ID_PATTERN, description="the record merged away")
    reason: str = Field(min_length=1, max_length=1000, description="how you know they are one person")
    versions: MergeVersions


class MergeOut(BaseModel):
    keep_id: str
    merged_id: str
    moved: dict[str, int] = Field(description="rows moved to the kept person, by kind (counts only)")
    filled: list[str] = Field(description="details of the kept person filled in from the merged one")
    already_merged: bool = Field(description="true when this merge had already been made: nothing changed")
    version: int = Field(description="the kept person's version now")


class PartyIn(CaseFileInput):
    """A person added to a case in a role: someone on file (person_id) or a new person (details)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"role": "witness", "person_id": "P-0a1b2c3d4e5f"},
        {"role": "reported_person", "details": {"description": "unknown male, flat 3"}},
    ]})

    role: PartyRole
    person_id: str | None = Field(None, max_length=64, pattern=PERSON_ID_PATTERN)
    details: PersonDetails | None = Field(None, description="a new person: a name, or a description of someone "
                                          "unknown (details.id is set by the service)")
    anonymous: bool = Field(False, description="a reporter or witness who asked not to be named to others")

    @model_validator(mode="after")
    def _one_person(self) -> PartyIn:
        if (self.person_id is None) == (self.details is None):
            raise ValueError("give either person_id (someone on file) or details (a new person), not both")
        if self.details is not None and self.details.id is not None:
            raise ValueError("details.id: set by the service; give person_id for someone on file")
        return self


class PartyOut(BaseModel):
    case_ref: str
    person_id: str
    role: str
    anonymous: bool
    created: bool = Field(description="false when the person was already in the case in this role")


class PartyRemoved(BaseModel):
    case_ref: str
    person_id: str
    role: str
    removed: bool = Field(description="false when they were not in the case in this role (nothing to do)")


__all__ = ["PERSON_ID_PATTERN", "MatchOut", "MatchesOut", "MergeIn", "MergeOut", "PartyIn", "PartyOut",
           "PartyRemoved", "PartyRole", "PersonEdit", "PersonMatch", "PersonOut"]
