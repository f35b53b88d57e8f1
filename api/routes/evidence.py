"""Evidence: the files on a case (recordings, photos, diary sheets, letters, CCTV stills) added, listed,
downloaded, marked shareable and removed. What is accepted, how it is kept and who may remove a file:
casefile/evidence.py; the doors here and on the case page (web/pages.py) call the same Service.

A stored file is never served as a page of this origin: it always comes back as an attachment under
its sanitised name, with its stored (sniffed and checked) media type, `nosniff`, and a
Content-Security-Policy that forbids everything (`sandbox`), so an HTML or SVG file smuggled in under
an image's name could not run here even if it were opened in the browser.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, UploadFile
from fastapi.responses import JSONResponse, Response

from api.deps import STAFF, Caller, IdempotencyKey, Ref, Work, allow, errors
from api.schemas import EvidenceList, EvidenceOut, EvidenceShareIn, Problem
from api.service import EVIDENCE_ADDERS, EVIDENCE_REMOVERS, EVIDENCE_SHARERS
from casefile.evidence import DESCRIPTION_MAX, EvidenceInfo, Kind, OpenedEvidence
from casefile.sniff import TYPES

router = APIRouter(tags=["evidence"])

EvidenceId = Annotated[int, Path(ge=1, le=2**31 - 1,
                                 description="the file's id (GET /cases/{ref}/evidence lists them)")]

#: What a download always carries: never rendered as a page of this origin, never cached.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'none'",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Referrer-Policy": "no-referrer",
}


def content_disposition(name: str) -> str:
    """`attachment` with the sanitised name: plain ASCII for old clients, and the exact name (RFC 5987)."""
    plain = "".join(ch if " " <= ch <= "~" and ch not in '"\\;%' else "_" for ch in name).strip() or "file"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def download(opened: OpenedEvidence) -> Response:
    """A stored file as an attachment (the one way every door serves one)."""
    info = opened.evidence
    headers = {
        **DOWNLOAD_HEADERS,
        "Content-Disposition": content_disposition(info.filename),
        "ETag": f'"{info.sha256}"',
        "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(info.sha256)).decode('ascii')}:",
    }
    return Response(opened.content, media_type=info.media_type, headers=headers)


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


_DOWNLOAD_DOC: dict[int | str, dict[str, Any]] = {200: {
    "description": "the file's bytes, as stored (checked against its SHA-256 digest)",
    "content": {media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in sorted(TYPES)},
    "headers": {
        "Content-Disposition": _header("attachment, with the uploader's file name (sanitised)"),
        "X-Content-Type-Options": _header("nosniff"),
        "Content-Security-Policy": _header("sandbox: never rendered as a page of this origin"),
        "ETag": _header("the SHA-256 digest of the bytes, in quotes"),
        "Repr-Digest": _header("sha-256 of the bytes (RFC 9530)"),
    },
}}


@router.post(
    "/cases/{ref}/evidence", dependencies=[allow(*EVIDENCE_ADDERS)], operation_id="addEvidence", status_code=201,
    response_model=EvidenceOut, summary="Add a file to a case",
    responses={200: {"model": EvidenceOut, "description": "a resend: the case already has these bytes, or the "
                     "Idempotency-Key named an earlier upload; its row, `created: false`, nothing new"},
               413: {"model": Problem, "description": "The file is larger than the deployment "
                     "accepts (ASB_EVIDENCE_MAX_BYTES, 25 MiB by default); `field` is `file`"},
               **errors(401, 403, 404, 422)},
)
async def add_evidence(
    ref: Ref,
    who: Caller,
    service: Work,
    file: Annotated[UploadFile, File(description="the file: its bytes must be what its name and type say "
                                     "(a program called photo.jpg is refused)")],
    kind: Annotated[Kind, Form(description="what it is; a kind narrows the media types it may have")],
    incident_id: Annotated[int | None, Form(ge=1, le=2**31 - 1, description="an incident of this case it is "
                                            "about (GET /cases/{ref} lists them)")] = None,
    description: Annotated[str | None, Form(max_length=DESCRIPTION_MAX, description="what it shows")] = None,
    provided_by: Annotated[str | None, Form(pattern=r"^[!-~]{1,64}$", description="the person id of the "
                                            "party who gave it (theirs in a subject access export)")] = None,
    shareable: Annotated[bool, Form(description="may be shared with partner agencies")] = False,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """multipart/form-data. The file is checked before anything is stored: its size (413), its declared type
    against the deployment's list and its bytes against that type (422 naming the field). It is kept under
    the SHA-256 of its bytes, never under the name given (kept, cleaned, for display). The same bytes on the
    same case, or a resend with the same `Idempotency-Key`, answer 200 with the first row; the key with
    another file is refused (422, `field` `Idempotency-Key`)."""
    added = await service.add_evidence(
        who, ref, await file.read(), filename=file.filename, media_type=file.content_type, kind=kind,
        incident_id=incident_id, description=description, provided_by=provided_by, shareable=shareable,
        idempotency_key=idempotency_key)
    out = EvidenceOut(**added.evidence.model_dump(), created=added.created)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if added.created else 200)


@router.get("/cases/{ref}/evidence", dependencies=[allow(*STAFF)], operation_id="listEvidence",
            response_model=EvidenceList, responses=errors(401, 403, 404, 422), summary="A case's files")
async def list_evidence(ref: Ref, who: Caller, service: Work) -> EvidenceList:
    """Every file on the case, oldest first, without their bytes. A locked case's list is audited like any
    read of it; 404 for a case the caller may not see."""
    return EvidenceList(evidence=await service.list_evidence(who, ref))


@router.get("/cases/{ref}/evidence/{evidence_id}", dependencies=[allow(*STAFF)], operation_id="downloadEvidence",
            response_class=Response, responses={**_DOWNLOAD_DOC, **errors(401, 403, 404, 422, 503)},
            summary="Download a file")
async def download_evidence(ref: Ref, evidence_id: EvidenceId, who: Caller, service: Work) -> Response:
    """The file as an attachment, with its stored media type; every download is audited. 503 (with
    Retry-After) if the store is unreachable or its bytes are missing or no longer match their digest:
    a damaged file is never served as evidence."""
    return download(await service.open_evidence(who, ref, evidence_id))


@router.get("/evidence/{evidence_id}", dependencies=[allow(*STAFF)], operation_id="getEvidence",
            response_model=EvidenceInfo, responses=errors(401, 403, 404, 422), summary="One file's details")
async def evidence_details(evidence_id: EvidenceId, who: Caller, service: Work) -> EvidenceInfo:
    """A file's details by its id alone (its case among them), for clients that kept only the id."""
    return await service.evidence_info(who, evidence_id)


@router.patch("/cases/{ref}/evidence/{evidence_id}", dependencies=[allow(*EVIDENCE_SHARERS)],
              operation_id="shareEvidence", response_model=EvidenceInfo,
              responses=errors(401, 403, 404, 422), summary="Say whether a file may be shared")
async def share_evidence(ref: Ref, evidence_id: EvidenceId, body: EvidenceShareIn, who: Caller, service: Work
                         ) -> EvidenceInfo:
    """Whether the file may be shared with partner agencies (no by default); the change is audited."""
    return await service.share_evidence(who, ref, evidence_id, body.shareable)


@router.delete("/cases/{ref}/evidence/{evidence_id}", dependencies=[allow(*EVIDENCE_REMOVERS)],
               operation_id="removeEvidence", response_model=EvidenceInfo,
               responses=errors(401, 403, 404, 409, 422), summary="Remove a file from a case")
async def remove_evidence(ref: Ref, evidence_id: EvidenceId, who: Caller, service: Work) -> EvidenceInfo:
    """Managers may remove any file on a case they can see; anyone else only a file they added, within an
    hour of adding it (a wrong file, or the wrong case). Otherwise 409 with the reason: by then the file
    may have been relied on, so it is a manager's decision. The removal is audited; the bytes leave the
    store once it has committed, unless the same file is on another case. Answers with what was removed."""
    return await service.delete_evidence(who, ref, evidence_id)
