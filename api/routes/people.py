"""People, a case's parties, and its chronology (issue 12 items 5 and 9).

403 by role before anything is looked up (api/deps.py): anyone on the staff may read a person; officers
and managers edit, look for duplicates, merge and download a chronology; intake also adds and removes
parties, as it logs people with a report. 404 for an unknown person or case, and for one the caller may
not see because of a locked case (004 §3.7), the same answer.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from api.deps import ACTORS, DECIDERS, STAFF, Caller, IdempotencyKey, Ref, allow, errors, get_service
from api.people_schemas import (
    PERSON_ID_PATTERN,
    MatchesOut,
    MergeIn,
    MergeOut,
    PartyIn,
    PartyOut,
    PartyRemoved,
    PartyRole,
    PersonEdit,
    PersonOut,
)
from api.people_service import PeopleDoor, chronology_filename

router = APIRouter()


def get_people(request: Request) -> PeopleDoor:
    return PeopleDoor(get_service(request))


People = Annotated[PeopleDoor, Depends(get_people)]
PersonId = Annotated[str, Path(pattern=PERSON_ID_PATTERN, max_length=64,
                               description="a person's id, e.g. P-0a1b2c3d4e5f (a merged record's id names the "
                                           "person it was merged into)")]


@router.get("/people/{person_id}", tags=["people"], dependencies=[allow(*STAFF)], operation_id="getPerson",
            response_model=PersonOut, responses=errors(401, 403, 404, 422), summary="View a person")
async def get_person(person_id: PersonId, who: Caller, people: People) -> PersonOut:
    """Their contact details, reasonable adjustments, representative, consents and cases, with the
    `version` an edit names. Every read is audited; someone in a locked case the caller may not see is a
    404, as an unknown id is."""
    return await people.person(who, person_id)


@router.patch("/people/{person_id}", tags=["people"], dependencies=[allow(*DECIDERS)], operation_id="editPerson",
              response_model=PersonOut, responses=errors(401, 403, 404, 409, 422),
              summary="Edit a person's contact details, consents and adjustments")
async def edit_person(person_id: PersonId, body: PersonEdit, who: Caller, people: People) -> PersonOut:
    """The versioned edit: only the fields given change (null clears one), and consents are recorded as
    given now. `expected_version` is the version you saw: if someone else has saved since, nothing is
    changed and the answer is 409 naming the version the person is now at; reload and edit again."""
    return await people.edit(who, person_id, body)


@router.get("/people/{person_id}/matches", tags=["people"], dependencies=[allow(*DECIDERS)],
            operation_id="listPersonMatches", response_model=MatchesOut, responses=errors(401, 403, 404, 422),
            summary="Records that may be the same person")
async def person_matches(person_id: PersonId, who: Caller, people: People) -> MatchesOut:
    """Records sharing a name, email, phone, UPRN or address with this person, best first, each with the
    details that agree and disagree: offered for merging, never merged by matching. People in locked
    cases you may not see are left out."""
    return await people.matches(who, person_id)


@router.post("/people/{person_id}/merge", tags=["people"], dependencies=[allow(*DECIDERS)],
             operation_id="mergePeople", response_model=MergeOut, responses=errors(401, 403, 404, 409, 422),
             summary="Merge another record into this person")
async def merge_people(person_id: PersonId, body: MergeIn, who: Caller, people: People,
                       idempotency_key: IdempotencyKey = None) -> MergeOut:
    """An officer's or manager's decision, with a reason, that `merge_id` is this person: everything that
    named it moves here, and it stays as an empty record pointing at this one. Refused (409), with
    nothing changed: different dates of birth, a reporter and the reported person of one case, an
    erased record, or either record at a version other than the one you saw. Merging again what is
    already merged changes nothing (`already_merged`)."""
    return await people.merge(who, person_id, body, idempotency_key)


@router.post("/cases/{ref}/parties", tags=["cases"], dependencies=[allow(*ACTORS)], operation_id="addCaseParty",
             response_model=PartyOut, status_code=201,
             responses={200: {"model": PartyOut, "description": "already in the case in this role, or a resend with "
                              "the same Idempotency-Key: nothing changed"},
                        **errors(401, 403, 404, 409, 422)},
             summary="Add a reporter, witness, reported person or representative to a case")
async def add_party(ref: Ref, body: PartyIn, who: Caller, people: People,
                    idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Someone on file (`person_id`) or a new person (`details`: a name, or a description of someone
    unknown). A case may have any number of each. Refused (409): one person as both the reporter and the
    reported person."""
    out = await people.add_party(who, ref, body, idempotency_key)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if out.created else 200)


@router.delete("/cases/{ref}/parties/{person_id}/{role}", tags=["cases"], dependencies=[allow(*ACTORS)],
               operation_id="removeCaseParty", response_model=PartyRemoved,
               responses=errors(401, 403, 404, 409, 422), summary="Take a person out of a case in a role")
async def remove_party(ref: Ref, person_id: PersonId, role: Annotated[PartyRole, Path()], who: Caller,
                       people: People) -> PartyRemoved:
    """The person's record stays. Refused (409): the case's only reporter or reported person (add the right
    person first). `removed` is false when they were not in the case in that role."""
    return await people.remove_party(who, ref, person_id, role)


PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}


@router.get("/cases/{ref}/chronology", tags=["cases"], dependencies=[allow(*DECIDERS)],
            operation_id="getCaseChronology", response_class=Response,
            responses={200: {"content": PDF, "description": "the chronology as a PDF (an attachment)",
                             "headers": {"Content-Disposition": {"description": "attachment; filename=REF-"
                                                                 "chronology-AUDIENCE.pdf",
                                                                 "schema": {"type": "string"}}}},
                       **errors(401, 403, 404, 422)},
            summary="Download a case's chronology (PDF)")
async def chronology(ref: Ref, who: Caller, people: People,
                     audience: Annotated[Literal["court", "case_conference"], Query(
                         description="court: what happened and what was done, for a bundle served on the "
                                     "reported person; case_conference: also risk, vulnerability and what "
                                     "is next")] = "court") -> Response:
    """Incidents, contacts, actions, notes, letters and evidence in time order, with people outside the case
    redacted. Making it is audited (who, when, for which audience, and the PDF's SHA-256)."""
    pdf = await people.chronology(who, ref, audience)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{chronology_filename(ref, audience)}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
