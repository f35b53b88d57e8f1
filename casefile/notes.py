"""Typed case notes: calls, visits, interviews, meetings (multi-agency meetings included) and requests
for information, each with its kind, who wrote it, when it happened and the people involved (004 §3.7;
issue 12 item 3).

Why a note is the case file's alone, not a workflow command: a note changes no lifecycle fact. No
deadline, stage, approval or letter depends on it, so sending it through the case workflow would only
add a round trip that can time out and put one more event in Temporal history, whose notes would then
have to be kept out of it anyway. It is written here, in one transaction, and audited like every change
(casefile/audit.py). A contact with the reporter is different: it moves the contact clock (003 §9), so
it stays the `record_contact` command, and its note travels with it (`note` -> `note_ref`).

Notes are concise and factual and may be disclosed under a subject access request (004 §3.7): they are
personal data (models.PERSONAL), anonymised by retention and exported, other people redacted.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from casefile import audit
from casefile.access import NotAllowed, open_case
from casefile.intake import CaseFileInput, live_person
from casefile.models import CaseNoteRow, PartyRow
from casefile.types import TIME_BOUNDS, check_time
from statemachine.commands import Actor

NoteKind = Literal["call", "visit", "interview", "meeting", "multi_agency_meeting", "request_for_information",
                   "other"]
#: Who may write a note: officers and managers (intake logs reports and incidents; ops and auditors read).
MAY_NOTE = frozenset({"officer", "manager", "senior_manager"})
#: The command name typed notes are filed under (a command's own notes carry its name).
NOTE_COMMAND = "case_note"


class NoteRefused(ValueError):
    """A note that cannot be written as given; `field` names the part at fault."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotePerson(CaseFileInput):
    """Someone involved: a person on the case (`person_id`), or someone else by name and organisation
    (a police officer, a social worker, a housing officer of another landlord)."""

    person_id: str | None = Field(None, min_length=1, max_length=64, description="a person on this case")
    name: str | None = Field(None, min_length=1, max_length=200)
    organisation: str | None = Field(None, min_length=1, max_length=200,
                                     description="e.g. Thames Valley Police, Adult Social Care")
    role: str | None = Field(None, min_length=1, max_length=64, description="e.g. PCSO, social worker")

    @model_validator(mode="after")
    def _someone(self) -> NotePerson:
        if not (self.person_id or self.name or self.organisation):
            raise ValueError("give person_id (someone on the case), or a name or an organisation")
        return self


class NoteInput(CaseFileInput):
    """A typed note as a door gives it."""

    kind: NoteKind = Field(description="call, visit, interview, meeting, multi_agency_meeting, "
                           "request_for_information or other")
    text: str = Field(min_length=1, max_length=10000, description="concise and factual (004 §3.7)")
    at: AwareDatetime | None = Field(None, description="when it happened (default: now). " + TIME_BOUNDS)
    people: list[NotePerson] = Field([], max_length=50, description="the people involved")

    @field_validator("at")
    @classmethod
    def _plausible(cls, value: datetime | None) -> datetime | None:
        if value is not None:
            check_time(value, "at")
        return value


def note_ref(case_ref: str, caller: str, key: str | None) -> str:
    """A typed note's reference: from the caller's idempotency key (a retry finds the same note), else fresh."""
    if not key:
        return f"N-{uuid.uuid4().hex[:16]}"
    return "N-" + hashlib.sha256("\x1f".join(("note", case_ref, caller, key)).encode()).hexdigest()[:16]


def write_note(session: Session, case_ref: str, note: NoteInput, actor: Actor, now: datetime, ref: str
               ) -> tuple[CaseNoteRow, bool]:
    """Write a typed note (audited); a second write with the same `ref` returns the first and False."""
    if actor.role not in MAY_NOTE:
        raise NotAllowed(f"the {actor.role} role may not write case notes (officers and managers do)")
    case = open_case(session, case_ref, actor.role, actor.id, purpose="note")
    existing = session.scalars(select(CaseNoteRow).where(CaseNoteRow.ref == ref)).first()
    if existing is not None:
        if existing.case_ref != case_ref:
            raise NoteRefused("Idempotency-Key", "this key was already used for a note on another case")
        return existing, False
    if case.anonymised_at is not None:
        raise NoteRefused(None, f"case {case_ref} was anonymised under the retention policy: no new notes")
    parties = set(session.scalars(select(PartyRow.person_id).where(PartyRow.case_ref == case_ref)))
    people: list[dict[str, str]] = []
    for index, person in enumerate(note.people):
        entry = person.model_dump(exclude_none=True)
        if person.person_id is not None:
            live = live_person(session, person.person_id)
            if live is None or (live.id not in parties and person.person_id not in parties):
                raise NoteRefused(f"people.{index}.person_id",
                                  f"people.{index}.person_id: {person.person_id!r} is not a person on case {case_ref}")
            entry["person_id"] = live.id
        people.append(entry)
    audit.act_as(session, actor.role, actor.id)
    row = CaseNoteRow(ref=ref, case_ref=case_ref, at=note.at or now, by=actor.id, command=NOTE_COMMAND, field="text",
                      text=note.text, status="confirmed", kind=note.kind, people=people)
    session.add(row)
    session.flush()
    return row, True
