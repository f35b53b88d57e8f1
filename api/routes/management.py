"""Management reports, and the answers they count: thin over casefile/reports.py and casefile/surveys.py.

`GET /management/reports/{name}` gives any report (JSON, or CSV with `format=csv`) for a month, a
reporting year or two dates; each states its period and counting rules. The closure survey is answered
through `POST /survey/answers` with the signed single-use token from the survey letter's link (no sign-in,
rate limited, hostile input), or recorded by staff on the case. The outcome of an ASB Case Review held is
recorded on the case for the yearly register.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import DECIDERS, LOCKERS, Caller, Ref, Work, allow, errors, problem, rate_limited
from casefile import reports as reporting
from casefile import surveys
from casefile.models import SATISFACTION
from policy.model import Role

router = APIRouter(tags=["management"])

#: Who reads the reports: managers, and the auditor (aggregate figures only, no personal data).
READERS: tuple[Role, ...] = ("manager", "senior_manager", "auditor")

Satisfaction = Literal["very_satisfied", "fairly_satisfied", "neither", "fairly_dissatisfied", "very_dissatisfied"]
assert tuple(Satisfaction.__args__) == SATISFACTION  # type: ignore[attr-defined]


class ReportOut(BaseModel):
    report: str
    title: str
    profile: str
    period: dict[str, str]
    rules: list[str]
    columns: list[str]
    rows: list[list[str | int | float | None]]
    figures: dict[str, str | int | float | None]


class ReportList(BaseModel):
    reports: dict[str, str]


class LinkAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=surveys.TOKEN_MAX)
    satisfaction: Satisfaction


class StaffAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    satisfaction: Satisfaction
    channel: Literal["phone", "paper", "in_person"]
    #: The person who answered (a party to the case), by id; the reporter when left out.
    person_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$")


class AnswerOut(BaseModel):
    case_ref: str
    satisfaction: str
    channel: str
    answered_at: datetime


class ReviewOutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    held_on: date
    recommendations: bool


class ReviewOutcomeOut(BaseModel):
    case_ref: str
    held_on: date
    recommendations: bool


@router.get("/management/reports", dependencies=[allow(*READERS)], operation_id="listManagementReports",
            response_model=ReportList, responses=errors(401, 403))
async def list_reports(who: Caller) -> ReportList:
    """The reports there are, by name."""
    return ReportList(reports={name: title for name, (title, _) in reporting.REPORTS.items()})


@router.get("/management/reports/{name}", dependencies=[allow(*READERS)], operation_id="getManagementReport",
            response_model=ReportOut,
            responses={**errors(401, 403, 404, 422),
                       200: {"content": {"text/csv": {}}, "description": "the report (JSON, or CSV with format=csv)"}})
async def get_report(
    who: Caller, service: Work,
    name: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,40}$")],
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="the reporting year beginning 1 April")] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    format: Literal["json", "csv"] = "json",
) -> Response:
    """One report for a month, a reporting year (1 April to 31 March) or two dates (both included); with none,
    the reporting year so far (the yearly returns) or the last whole month. It says its period and rules."""
    if name not in reporting.REPORTS:
        return problem(404, f"no report {name!r}: see GET /management/reports")
    try:
        period = reporting.period_from(name, month=month, year=year, start=start.isoformat() if start else None,
                                       end=end.isoformat() if end else None, today=date.today())
        report = await asyncio.to_thread(_build, service, name, period)
    except reporting.ReportError as exc:
        return problem(422, str(exc), "period" if name in reporting.REPORTS else "name")
    if format == "csv":
        return Response(report.to_csv(), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{name}-{period.start}-{period.end}.csv"'})
    return JSONResponse(report.as_dict())


def _build(service: Work, name: str, period: reporting.Period) -> reporting.Report:
    with service.store.session() as session:
        return reporting.build(session, name, service.profile, period)


@router.post("/survey/answers", operation_id="answerSurvey", status_code=201, response_model=AnswerOut,
             dependencies=[Depends(rate_limited)], responses=errors(404, 409, 422, 429))
async def answer_survey(body: LinkAnswerIn, service: Work) -> JSONResponse:
    """The closure survey answered through the survey letter's link (no sign-in): the token names the case
    and person and is single-use; an altered, made-up or expired one is 404, a second answer 409."""
    valid = timedelta(days=service.profile.reporting.survey_link_valid_days)

    def write() -> AnswerOut:
        with service.store.session() as session, session.begin():
            row = surveys.answer_by_link(session, body.token, body.satisfaction,
                                         surveys.survey_key(service.settings.state_dir),
                                         datetime.now(UTC), valid)
            return AnswerOut(case_ref=row.case_ref, satisfaction=row.satisfaction, channel=row.channel,
                             answered_at=row.answered_at)

    try:
        out = await asyncio.to_thread(write)
    except surveys.SurveyError as exc:
        return problem(exc.status, str(exc), "token" if exc.status == 404 else None)
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@router.post("/cases/{ref}/survey-answers", dependencies=[allow(*DECIDERS)], operation_id="recordSurveyAnswer",
             status_code=201, response_model=AnswerOut, responses=errors(401, 403, 404, 409, 422))
async def record_survey_answer(ref: Ref, body: StaffAnswerIn, who: Caller, service: Work) -> JSONResponse:
    """An answer to the closure survey given by phone, on the paper form or in person, recorded by staff."""

    def write() -> AnswerOut:
        with service.store.session() as session, session.begin():
            row = surveys.record_answer(session, ref, body.person_id, body.satisfaction, body.channel,
                                        datetime.now(UTC), recorded_by=who.id, actor_role=who.role)
            return AnswerOut(case_ref=row.case_ref, satisfaction=row.satisfaction, channel=row.channel,
                             answered_at=row.answered_at)

    try:
        out = await asyncio.to_thread(write)
    except surveys.SurveyError as exc:
        return problem(exc.status, str(exc))
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@router.put("/cases/{ref}/asb-case-review-outcome", dependencies=[allow(*LOCKERS)],
            operation_id="recordAsbCaseReviewOutcome", response_model=ReviewOutcomeOut,
            responses=errors(401, 403, 404, 422))
async def record_review_outcome(ref: Ref, body: ReviewOutcomeIn, who: Caller, service: Work) -> JSONResponse:
    """Whether the ASB Case Review held on `held_on` led to recommendations (004 §8), for the register."""

    def write() -> ReviewOutcomeOut:
        with service.store.session() as session, session.begin():
            row = surveys.record_review_outcome(session, ref, body.held_on, body.recommendations,
                                                datetime.now(UTC), who.id, who.role)
            return ReviewOutcomeOut(case_ref=row.case_ref, held_on=row.held_on, recommendations=row.recommendations)

    try:
        out = await asyncio.to_thread(write)
    except surveys.SurveyError as exc:
        return problem(exc.status, str(exc))
    return JSONResponse(out.model_dump(mode="json"))
