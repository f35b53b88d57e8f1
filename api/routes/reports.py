"""Logging reports: staff, the public online form, and app feeds."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.deps import REPORTERS, Caller, Work, allow, errors, rate_limited
from api.schemas import AppReportIn, PublicReportIn, PublicReportOut, ReportIn, ReportOut

router = APIRouter(tags=["reports"])


@router.post("/reports", dependencies=[allow(*REPORTERS)], operation_id="logReport", status_code=201,
             response_model=ReportOut, responses=errors(401, 403, 422, 503), summary="Log a report (staff)")
async def log_report(body: ReportIn, who: Caller, service: Work) -> ReportOut:
    """Writes the people and the incident to the case file and opens the case; answers with its
    reference and the case after triage."""
    return await service.log_report(who, body)


@router.post("/public/reports", operation_id="submitPublicReport", status_code=201,
             response_model=PublicReportOut, responses=errors(422, 429, 503),
             dependencies=[Depends(rate_limited)], summary="Report ASB online (no sign-in)")
async def public_report(body: PublicReportIn, service: Work) -> PublicReportOut:
    """The public online form. Limited per address; the answer is the reference to quote."""
    reference = await service.log_public_report(body.to_intake())
    return PublicReportOut(reference=reference,
                           message=f"Thank you. Your report is {reference}; quote it when you contact us.")


@router.post("/feeds/app-reports", dependencies=[allow(*REPORTERS)], operation_id="receiveAppReport",
             response_model=ReportOut, status_code=201,
             responses={200: {"model": ReportOut, "description": "a resent report: its case"},
                        **errors(401, 403, 422, 503)},
             summary="Receive a report from an app feed (e.g. the Noise App)")
async def app_report(body: AppReportIn, who: Caller, service: Work) -> JSONResponse:
    """Idempotent by (source, external_id): a resent report answers 200 with the case the first opened."""
    out = await service.log_app_report(who, body)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if out.created else 200)
