"""Cases: lists, one case's view, its commands (from the case catalogue) and locking."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import JSONResponse

from api.deps import ACTORS, DECIDERS, LOCKERS, STAFF, Caller, IdempotencyKey, Ref, Work, allow, errors
from api.schemas import (
    AttachIn,
    AttachOut,
    CaseList,
    CaseView,
    CommandIn,
    CommandOut,
    LockIn,
    LockOut,
    NoteCreated,
    NoteIn,
)
from statemachine.catalogue import COMMANDS
from statemachine.commands import STAGES

router = APIRouter(tags=["cases"])


@router.get("/cases", dependencies=[allow(*STAFF)], operation_id="listCases", response_model=CaseList,
            responses=errors(401, 403, 422), summary="List cases")
async def list_cases(
    who: Caller,
    service: Work,
    stage: Annotated[Literal[STAGES] | None, Query()] = None,  # type: ignore[valid-type]
    risk: Annotated[Literal["high", "medium", "low"] | None, Query()] = None,
    officer: Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00]+$")] = None,
    overdue: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CaseList:
    """From the case file (kept current by the workflows), newest first; locked cases only for those
    who may see them."""
    return await service.list_cases(who, stage=stage, risk=risk, officer=officer, overdue=overdue,
                                    limit=limit, offset=offset)


@router.get("/cases/{ref}", dependencies=[allow(*STAFF)], operation_id="getCase", response_model=CaseView,
            responses=errors(401, 403, 404, 422), summary="View a case")
async def get_case(ref: Ref, who: Caller, service: Work) -> CaseView:
    """The case file (parties, incidents, notes, action plan, Equality Act assessments, timeline) with the
    workflow's status: stage, deadlines, allowed commands, pending approvals."""
    return await service.case_view(who, ref)


@router.post("/cases/{ref}/commands/{command}", dependencies=[allow(*ACTORS)], operation_id="sendCaseCommand",
             response_model=CommandOut, responses=errors(401, 403, 404, 409, 422, 503, 504),
             summary="Issue a case command")
async def case_command(
    ref: Ref,
    command: Annotated[str, Path(max_length=40, json_schema_extra={"enum": list(COMMANDS)},
                                 description="the command (GET /commands lists them with their arguments)")],
    who: Caller,
    service: Work,
    body: Annotated[CommandIn | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandOut:
    """Validated here (422 naming the field), then judged by the case (409 with its reason). 504: not yet
    applied; check the case before retrying. A retry with the same `Idempotency-Key` (same caller, case
    and command) is the same Temporal Update, so it is applied at most once."""
    return await service.command(who, ref, command, body.args if body else {}, idempotency_key)


@router.post("/cases/{ref}/notes", dependencies=[allow(*DECIDERS)], operation_id="addCaseNote",
             response_model=NoteCreated, status_code=201,
             responses={200: {"model": NoteCreated, "description": "a resend with the same Idempotency-Key: the note "
                              "already written, nothing new"}, **errors(401, 403, 404, 422)},
             summary="Write a case note: a call, visit, interview, meeting or request for information")
async def add_note(ref: Ref, body: NoteIn, who: Caller, service: Work, idempotency_key: IdempotencyKey = None
                   ) -> JSONResponse:
    """A typed note (004 §3.7): its kind, when it happened, the text, and the people involved (people on the
    case by `person_id`, others by name and organisation). Kept in the case file and audited; it changes
    nothing in the case's lifecycle, so it is not a command (a contact with the reporter is: record_contact,
    which takes a `note` too)."""
    out = await service.add_note(who, ref, body, idempotency_key)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if out.created else 200)


@router.post("/cases/{ref}/attach", dependencies=[allow(*DECIDERS)], operation_id="attachCaseReport",
             response_model=AttachOut, responses=errors(401, 403, 404, 409, 422, 503, 504),
             summary="Attach this case's report to the open case it is about, as an incident")
async def attach_case(ref: Ref, body: AttachIn, who: Caller, service: Work, idempotency_key: IdempotencyKey = None
                      ) -> AttachOut:
    """For a report that opened a case of its own but is about a matter an open case already deals with (an
    offered match of POST /reports, the Regulator's NM01 rule): its incidents are recorded on the open case
    `to`, its reporter and witnesses join it and the reporter is told, and this case closes as a duplicate,
    with no closure letter (an enquiry at once; a case by asking for closure, approved as any closure)."""
    return await service.attach(who, ref, body.to, idempotency_key)


@router.post("/cases/{ref}/lock", dependencies=[allow(*LOCKERS)], operation_id="setCaseLock",
             response_model=LockOut, responses=errors(401, 403, 404, 409, 422),
             summary="Lock or unlock a case (managers)")
async def lock_case(ref: Ref, body: LockIn, who: Caller, service: Work) -> LockOut:
    """A locked case is visible only to its officer and managers, and every read of it is audited."""
    return await service.lock(who, ref, body.locked, body.reason, body.expected_version)
