"""Logging reports: staff, the public online form, and app feeds."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.deps import REPORTERS, Caller, IdempotencyKey, Work, allow, errors, rate_limited
from api.schemas import AppReportIn, PublicReportIn, PublicReportOut, ReportIn, ReportOut

router = APIRouter(tags=["reports"])


def report_status(created: bool, started: bool) -> int:
    """201 a new case, started; 202 accepted, starting; 200 a resend (its case, started)."""
    if not started:
        return 202
    return 201 if created else 200


@router.post("/reports", dependencies=[allow(*REPORTERS)], operation_id="logReport", status_code=201,
             response_model=ReportOut,
             responses={200: {"model": ReportOut, "description": "a resend with the same Idempotency-Key: the "
                              "case the first send opened, nothing new"},
                        202: {"model": ReportOut, "description": "accepted, starting: the case is logged and its "
                              "reference final, but Temporal did not answer; the reconciler starts it"},
                        **errors(401, 403, 422, 503)},
             summary="Log a report (staff)")
async def log_report(body: ReportIn, who: Caller, service: Work, idempotency_key: IdempotencyKey = None
                     ) -> JSONResponse:
    """Writes the people and the incident to the case file and opens the case; answers 201 with its
    reference and the case after triage. The case row is written first and is what the case is: if
    Temporal cannot start it now, the answer is 202 and the reconciler starts it within minutes. With
    an `Idempotency-Key`, a resend answers 200 with the same reference (422 if the key came with
    another report)."""
    out = await service.log_report(who, body, idempotency_key)
    return JSONResponse(out.model_dump(mode="json"), status_code=report_status(out.created, out.started))


@router.post("/public/reports", operation_id="submitPublicReport", status_code=201,
             response_model=PublicReportOut,
             responses={200: {"model": PublicReportOut, "description": "a resend with the same Idempotency-Key: "
                              "the reference already given"},
                        202: {"model": PublicReportOut, "description": "accepted, starting (see POST /reports)"},
                        **errors(422, 429, 503)},
             dependencies=[Depends(rate_limited)], summary="Report ASB online (no sign-in)")
async def public_report(body: PublicReportIn, service: Work, idempotency_key: IdempotencyKey = None
                        ) -> JSONResponse:
    """The public online form. Limited per address; the answer is the reference to quote. A resend
    with the same `Idempotency-Key` gets the reference already given to that key, and nothing else."""
    reference, created, started = await service.log_public_report(body.to_intake(), idempotency_key)
    out = PublicReportOut(reference=reference,
                          message=f"Thank you. Your report is {reference}; quote it when you contact us.")
    return JSONResponse(out.model_dump(mode="json"), status_code=report_status(created, started))


@router.post("/feeds/app-reports", dependencies=[allow(*REPORTERS)], operation_id="receiveAppReport",
             response_model=ReportOut, status_code=201,
             responses={200: {"model": ReportOut, "description": "a resent report: its case, or only "
                              "that it was accepted if the case is locked from the caller"},
                        202: {"model": ReportOut, "description": "accepted, starting"},
                        **errors(401, 403, 422, 503)},
             summary="Receive a report from an app feed (e.g. the Noise App)")
async def app_report(body: AppReportIn, who: Caller, service: Work) -> JSONResponse:
    """Idempotent by (source, external_id): a resent report answers 200 with the case the first opened,
    if the caller may see it; of a locked case (004 §3.7) anyone else hears only
    `{"created": false, "accepted": true, "started": true}`, so a feed account learns nothing about it."""
    out = await service.log_app_report(who, body)
    hidden = out.reference is None  # acceptance only: nothing about the case, not even that nothing matched
    return JSONResponse(out.model_dump(mode="json", exclude_none=hidden, exclude={"matches"} if hidden else None),
                        status_code=report_status(out.created, out.started))
