"""What the people, parties and chronology endpoints do, apart from HTTP (issue 12 items 5 and 9).

Thin over the case file's own services: reading and editing a person (casefile/person_record.py),
adding and removing parties and merging people (casefile/people.py), and the chronology PDF
(casefile/chronology.py). The web pages call the same functions, so the rules, refusals and audit
rows are the API's whichever door is used. Their refusals become the API's answers here, in one place:

- 404 an unknown person, or one in a locked case the caller may not see (the same answer, as for cases);
- 409 the record refuses now: a stale version (naming the version it is at), a merge that cannot be
  right, a party change that would leave a case without its reporter, an erased record;
- 422 input no record could take, naming the field.

Idempotency-Key (POST parties and merges), as on the report doors (casefile/idempotency.py): the key is
stored hashed with the caller's scope and a hash of the request, in the same transaction as the change,
so a retry is recognised and answered without changing anything again, and a key reused with another
request is refused (422). A new person added with a key gets an id derived from it, so even a retry
after the key has been purged finds that person rather than writing them twice.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from api.auth import AuthError, Principal
from api.people_schemas import MatchesOut, MergeIn, MergeOut, PartyIn, PartyOut, PartyRemoved, PersonEdit
from api.service import InputError, Refused, Service
from casefile.access import NotAllowed, open_case
from casefile.chronology import Audience, chronology_pdf
from casefile.editing import ConflictError
from casefile.idempotency import key_hash, request_hash
from casefile.intake import live_person
from casefile.models import IdempotencyKeyRow, PartyRow, PersonRow
from casefile.people import MergeRefused, PersonNotFound, add_party, merge_people, remove_party
from casefile.person_record import (
    EditInvalid,
    EditRefused,
    PersonRecord,
    edit_person,
    person_matches,
    read_person,
    record_of,
    visible_person,
)


class _Replay(Exception):
    """Another send with the same Idempotency-Key committed first."""


@contextmanager
def refusals(field: str | None = None) -> Iterator[None]:
    """The case file's refusals as the API's errors. A plain ValueError left over is the record refusing
    (409), unless `field` names the input it can only be about (422)."""
    try:
        yield
    except InputError:
        raise
    except PersonNotFound as exc:
        raise HTTPException(404, f"no person {exc.person_id}") from exc
    except NotAllowed as exc:
        raise AuthError(403, str(exc)) from exc
    except EditInvalid as exc:
        raise InputError(exc.field, exc.message) from exc
    except (ConflictError, MergeRefused, EditRefused) as exc:
        raise Refused(str(exc)) from exc
    except StaleDataError as exc:
        raise Refused("the record was changed by someone else meanwhile; reload it and try again") from exc
    except ValueError as exc:
        if field is not None:
            raise InputError(field, f"{field}: {exc}") from exc
        raise Refused(str(exc)) from exc


def derived_person_id(hashed_key: str) -> str:
    """The id of a person added with an Idempotency-Key: the same key always names the same person."""
    return "P-" + hashlib.sha256(f"person\n{hashed_key}".encode()).hexdigest()[:12]


class PeopleDoor:
    """The people, parties and chronology endpoints over the API's Service (its store and settings)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.store = service.store

    # ------------------------------------------------------------------------------------ keys

    def _claim(self, session: Session, door: str, hashed: str, fingerprint: str, case_ref: str) -> None:
        """Write the key row in this transaction; _Replay if another send with it committed first (the
        insert waits for that one on the unique key, then finds its row)."""
        inserted = session.execute(
            self.store.insert_ignoring_duplicates(IdempotencyKeyRow.__table__).values(
                key_hash=hashed, door=door, request_hash=fingerprint, case_ref=case_ref,
                created_at=datetime.now(UTC),
            ).returning(IdempotencyKeyRow.__table__.c.id)
        ).first()
        if inserted is not None:
            return
        row = session.scalars(select(IdempotencyKeyRow).where(IdempotencyKeyRow.key_hash == hashed)).one()
        if row.request_hash != fingerprint or row.door != door:
            raise InputError("Idempotency-Key", "Idempotency-Key: this key was already used with a different "
                                                "request; use a new key for a new request")
        raise _Replay

    # ------------------------------------------------------------------------------------ people

    def _person(self, principal: Principal, person_id: str) -> PersonRecord:
        with self.store.session() as session, session.begin(), refusals():
            return read_person(session, person_id, principal.actor)

    async def person(self, principal: Principal, person_id: str) -> PersonRecord:
        return await asyncio.to_thread(self._person, principal, person_id)

    def _edit(self, principal: Principal, person_id: str, body: PersonEdit) -> PersonRecord:
        with self.store.session() as session, refusals():
            with session.begin():
                consents = {str(kind): given for kind, given in body.consents.items()}
                kept_id = edit_person(session, person_id, body.changes(), expected_version=body.expected_version,
                                      actor=principal.actor, consents=consents, consent_case=body.consent_case).id
            with session.begin():
                person = session.get(PersonRow, kept_id)
                assert person is not None  # people are never deleted, only emptied
                return record_of(session, person)

    async def edit(self, principal: Principal, person_id: str, body: PersonEdit) -> PersonRecord:
        return await asyncio.to_thread(self._edit, principal, person_id, body)

    def _matches(self, principal: Principal, person_id: str) -> MatchesOut:
        with self.store.session() as session, session.begin(), refusals():
            person, found = person_matches(session, person_id, principal.actor)
            return MatchesOut(person_id=person.id, version=person.version, matches=found)

    async def matches(self, principal: Principal, person_id: str) -> MatchesOut:
        return await asyncio.to_thread(self._matches, principal, person_id)

    def _merge(self, principal: Principal, keep_id: str, body: MergeIn, idempotency_key: str | None) -> MergeOut:
        scope = f"merge:{principal.role}:{principal.id}"  # a merge is of no one case: its key row's case_ref is ""
        fingerprint = request_hash({"keep_id": keep_id, **body.model_dump(mode="json")})
        with self.store.session() as session, refusals("reason"):
            try:
                with session.begin():
                    if idempotency_key is not None:
                        self._claim(session, "merge", key_hash(scope, idempotency_key), fingerprint, "")
                    return self._merged(session, principal, keep_id, body)
            except _Replay:
                pass
            with session.begin():  # the first send's merge is made: merging again changes nothing
                return self._merged(session, principal, keep_id, body)

    def _merged(self, session: Session, principal: Principal, keep_id: str, body: MergeIn) -> MergeOut:
        result = merge_people(session, keep_id, body.merge_id, actor=principal.actor, reason=body.reason,
                              keep_version=body.versions.keep, merge_version=body.versions.merge)
        keep = session.get(PersonRow, result.keep_id)
        return MergeOut(keep_id=result.keep_id, merged_id=result.merged_id, moved=result.moved,
                        filled=list(result.filled), already_merged=result.already_merged,
                        version=keep.version if keep is not None else 0)

    async def merge(self, principal: Principal, keep_id: str, body: MergeIn, idempotency_key: str | None
                    ) -> MergeOut:
        return await asyncio.to_thread(self._merge, principal, keep_id, body, idempotency_key)

    # ------------------------------------------------------------------------------------ parties

    def _add_party(self, principal: Principal, reference: str, body: PartyIn, idempotency_key: str | None
                   ) -> PartyOut:
        details = body.details
        if details is not None and not (details.name or details.description or details.address or details.email
                                        or details.phone):
            raise InputError("details", "details: give a name, or a description of an unknown person (e.g. "
                                        "unknown male, flat 3)")
        hashed = key_hash(f"parties:{principal.role}:{principal.id}", idempotency_key) if idempotency_key else None
        fingerprint = request_hash({"case_ref": reference, **body.model_dump(mode="json")})
        with self.store.session() as session, refusals():
            try:
                with session.begin():
                    open_case(session, reference, principal.role, principal.id, purpose="parties")
                    if hashed is not None:
                        self._claim(session, "parties", hashed, fingerprint, reference)
                    return self._added(session, principal, reference, body, hashed)
            except _Replay:
                pass
            except IntegrityError as exc:  # the derived person was written by a send whose key was purged
                raise Refused("this person was being added by another request at the same time; try again") \
                    from exc
            with session.begin():  # the first send added them: say so, change nothing
                open_case(session, reference, principal.role, principal.id, purpose="parties")
                person_id = body.person_id or derived_person_id(hashed or "")
                person = live_person(session, person_id)
                kept = person.id if person is not None else person_id
                party = session.scalars(select(PartyRow).where(
                    PartyRow.case_ref == reference, PartyRow.person_id == kept, PartyRow.role == body.role)).first()
                return PartyOut(case_ref=reference, person_id=kept, role=body.role,
                                anonymous=party.anonymous if party is not None else body.anonymous, created=False)

    def _added(self, session: Session, principal: Principal, reference: str, body: PartyIn, hashed: str | None
               ) -> PartyOut:
        actor = principal.actor
        person_id = body.person_id
        details: Any = body.details
        if details is not None and hashed is not None:
            derived = derived_person_id(hashed)
            if session.get(PersonRow, derived) is not None:  # written by a send whose key has since been purged
                person_id, details = derived, None
            else:
                details = details.model_copy(update={"id": derived})
        if person_id is not None:
            person_id = visible_person(session, person_id, actor, purpose="party").id
        before = None
        if person_id is not None:
            before = session.scalars(select(PartyRow.id).where(
                PartyRow.case_ref == reference, PartyRow.person_id == person_id, PartyRow.role == body.role)).first()
        party = add_party(session, reference, body.role, actor=actor, person_id=person_id, details=details,
                          anonymous=body.anonymous)
        return PartyOut(case_ref=reference, person_id=party.person_id, role=party.role,
                        anonymous=bool(party.anonymous), created=before is None)

    async def add_party(self, principal: Principal, reference: str, body: PartyIn, idempotency_key: str | None
                        ) -> PartyOut:
        return await asyncio.to_thread(self._add_party, principal, reference, body, idempotency_key)

    def _remove_party(self, principal: Principal, reference: str, person_id: str, role: str) -> PartyRemoved:
        with self.store.session() as session, session.begin(), refusals():
            open_case(session, reference, principal.role, principal.id, purpose="parties")
            kept = visible_person(session, person_id, principal.actor, purpose="party").id
            removed = remove_party(session, reference, kept, role, actor=principal.actor)
            return PartyRemoved(case_ref=reference, person_id=kept, role=role, removed=removed)

    async def remove_party(self, principal: Principal, reference: str, person_id: str, role: str) -> PartyRemoved:
        return await asyncio.to_thread(self._remove_party, principal, reference, person_id, role)

    # ------------------------------------------------------------------------------------ chronology

    def _chronology(self, principal: Principal, reference: str, audience: Audience) -> bytes:
        """The PDF, handed out only after the transaction holding its audit row has committed."""
        with self.store.session() as session, refusals(), session.begin():
            pdf = chronology_pdf(session, reference, role=principal.role, actor_id=principal.id, audience=audience)
        return pdf

    async def chronology(self, principal: Principal, reference: str, audience: Audience) -> bytes:
        return await asyncio.to_thread(self._chronology, principal, reference, audience)


def chronology_filename(reference: str, audience: Audience) -> str:
    """The download's name: the case reference (already matched to its pattern) and the audience (one of
    two fixed words), never anything else the request carried."""
    return f"{reference}-chronology-{audience.replace('_', '-')}.pdf"
