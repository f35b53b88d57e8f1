"""The FastAPI application: routes, who may call them, and how refusals become HTTP answers.

`create_app(settings, client, store)` takes the Temporal client and the case file as arguments rather
than building them, so `asb up`, a production deployment and the tests (time-skipping server, real
PostgreSQL) all run the very same app. Status codes, everywhere:

- 401 no token, or one that fails signature, expiry, issuer or audience checks;
- 403 the caller's role may never do this (decided before any case is looked up);
- 404 no such case or task, or a locked case the caller may not see (the same answer);
- 409 the case or task refused now, with its reason (stage, approvals, ownership, own request);
- 413 a body larger than the limit (64 KiB by default), refused before it is read;
- 422 bad input, naming the field (also a body nested too deep to be a report or a command);
- 429 the public form's per-address limit, with Retry-After;
- 500 `{"detail": "internal error", "field": null}`: a fault of ours, never with a traceback;
- 503/504 the case file, the case engine or the identity provider did not answer; 503 has Retry-After.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client

from api.auth import ROLES, AuthError, Principal, TokenVerifier, verifier_for
from api.guard import RETRY_AFTER_SECONDS, BodyLimits, LastResort
from api.ratelimit import RateLimiter
from api.schemas import (
    REF_PATTERN,
    TASK_ID_PATTERN,
    AppReportIn,
    CaseList,
    CaseView,
    CommandCatalogue,
    CommandIn,
    CommandOut,
    CommandSpec,
    DecideIn,
    DecideOut,
    Jwks,
    LockIn,
    LockOut,
    Me,
    Problem,
    PublicReportIn,
    PublicReportOut,
    ReportIn,
    ReportOut,
    TaskList,
    TaskOut,
)
from api.service import InputError, Refused, Service, Unavailable
from api.settings import ApiSettings
from casefile.access import CaseNotFound
from casefile.db import Store
from clients.taskclient import TaskNotFound
from policy.model import Profile, Role
from profiles import load
from statemachine.commands import ARGS, CASE_COMMANDS, FREE_TEXT, STAGES

STAFF: tuple[Role, ...] = ROLES
REPORTERS: tuple[Role, ...] = ("intake", "officer", "manager", "senior_manager")
ACTORS: tuple[Role, ...] = ("intake", "officer", "manager", "senior_manager")
DECIDERS: tuple[Role, ...] = ("officer", "manager", "senior_manager")
LOCKERS: tuple[Role, ...] = ("manager", "senior_manager")

_DESCRIPTIONS = {
    401: "No bearer token, or one that is invalid or expired",
    403: "The caller's role may not do this",
    404: "No such case or task, or a locked case the caller may not see",
    409: "The case or task refused now; `detail` says why and nothing was changed",
    422: "Bad input; `field` names it",
    429: "Too many reports from this address; try again after Retry-After seconds",
    503: "The case file, the case engine or the identity provider is unavailable; try again after Retry-After",
    504: "The case did not answer in time",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    responses: dict[int | str, dict[str, Any]] = {
        code: {"model": Problem, "description": _DESCRIPTIONS[code]} for code in codes
    }
    if 429 in codes:
        responses[429]["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
    if 401 in codes:
        responses[401]["headers"] = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}
    return responses


def _problem(status: int, detail: str, field: str | None = None, headers: dict[str, str] | None = None
             ) -> JSONResponse:
    if status == 503:  # every outage says when to try again (issue 9 item 11)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS), **(headers or {})}
    return JSONResponse(Problem(detail=detail, field=field).model_dump(), status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "(body)"


_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT",
                     description="An OIDC access token; locally, one printed by `asb up`")


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Who is calling, from a verified bearer token (401 without one)."""
    if credentials is None:
        raise AuthError(401, "a bearer token is required (Authorization: Bearer ...)")
    verifier: TokenVerifier = request.app.state.verifier
    return await verifier.verify(credentials.credentials)


Caller = Annotated[Principal, Depends(current_principal)]
Ref = Annotated[str, Path(pattern=REF_PATTERN, max_length=32, description="case reference, e.g. ASB-2026-000123")]
TaskId = Annotated[str, Path(pattern=TASK_ID_PATTERN, max_length=80, description="task id, e.g. ASB-2026-000123/14")]


def allow(*roles: Role) -> Any:
    """A route dependency refusing (403) every role not named, before the route looks anything up."""

    async def gate(who: Caller) -> None:
        if who.role not in roles:
            raise AuthError(403, f"the {who.role} role may not do this (allowed: {', '.join(roles)})")

    return Depends(gate)


def create_app(settings: ApiSettings, client: Client, store: Store) -> FastAPI:
    """The API around a connected Temporal client and a case file at head."""
    profile = load(settings.profile)
    verifier = verifier_for(settings)
    service = Service(settings, client, store, profile)
    limiter = RateLimiter(settings.public_reports_per_minute, 60.0)

    app = FastAPI(
        title="ASB casework API",
        version="1.0.0",
        summary="Reports, cases, commands and the manager task inbox for ASB and hate incident casework.",
        description=(
            "Staff authenticate with an OIDC bearer token (roles: " + ", ".join(ROLES) + "). "
            "403 depends only on the caller's role; 404 also hides locked cases from those who may not "
            "see them; 409 is the case refusing a command now, with its reason."
        ),
        openapi_tags=[
            {"name": "reports", "description": "Logging reports: staff, the public online form, app feeds"},
            {"name": "cases", "description": "Case views, lists, commands and locking"},
            {"name": "tasks", "description": "The task inbox: approvals and follow-ups"},
            {"name": "meta", "description": "Who am I, the command catalogue, signing keys"},
        ],
    )
    app.state.service = service
    app.state.verifier = verifier
    app.state.limiter = limiter
    # Outermost last: LastResort also answers for anything BodyLimits or the routes did not.
    app.add_middleware(BodyLimits, max_bytes=settings.max_body_bytes, max_depth=settings.max_body_depth)
    app.add_middleware(LastResort)

    def rate_limited(request: Request) -> None:
        client_address = request.client.host if request.client else "unknown"
        retry_after = limiter.check(client_address)
        if retry_after is not None:
            raise _RateLimited(int(retry_after))

    # ------------------------------------------------------------------------------ error answers

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if exc.status == 401 else None
        return _problem(exc.status, exc.reason, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request", "type": ""}
        field = _field(tuple(first.get("loc", ())))
        message = "unknown field" if first.get("type") == "extra_forbidden" else str(first.get("msg"))
        return _problem(422, f"{field}: {message.removeprefix('Value error, ')}", field)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return _problem(422, exc.message, exc.field)

    @app.exception_handler(CaseNotFound)
    async def _no_case(request: Request, exc: CaseNotFound) -> JSONResponse:
        return _problem(404, f"no case {exc.reference}")

    @app.exception_handler(TaskNotFound)
    async def _no_task(request: Request, exc: TaskNotFound) -> JSONResponse:
        return _problem(404, str(exc))

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        return _problem(409, exc.reason)

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        return _problem(exc.status, exc.reason)

    @app.exception_handler(_RateLimited)
    async def _limited(request: Request, exc: _RateLimited) -> JSONResponse:
        return _problem(429, f"too many reports from this address: try again in {exc.retry_after} seconds",
                        headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI answers a body that is not JSON with a bare 400; it is bad input like any other.
        if exc.status_code == 400:
            return _problem(422, "(body): not valid JSON", "(body)")
        return _problem(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}) or None)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # A last guard: the input models should refuse anything the case file cannot hold.
        return _problem(422, "a value is too long or malformed for the case file")

    # ------------------------------------------------------------------------------ reports

    @app.post("/reports", tags=["reports"], dependencies=[allow(*REPORTERS)],
              operation_id="logReport", status_code=201, response_model=ReportOut,
              responses=_errors(401, 403, 422, 503), summary="Log a report (staff)")
    async def log_report(body: ReportIn, who: Caller) -> ReportOut:
        """Writes the people and the incident to the case file and opens the case; answers with its
        reference and the case after triage."""
        return await service.log_report(who, body)

    @app.post("/public/reports", tags=["reports"], operation_id="submitPublicReport", status_code=201,
              response_model=PublicReportOut, responses=_errors(422, 429, 503),
              dependencies=[Depends(rate_limited)], summary="Report ASB online (no sign-in)")
    async def public_report(body: PublicReportIn) -> PublicReportOut:
        """The public online form. Limited per address; the answer is the reference to quote."""
        reference = await service.log_public_report(body.to_intake())
        return PublicReportOut(reference=reference,
                               message=f"Thank you. Your report is {reference}; quote it when you contact us.")

    @app.post("/feeds/app-reports", tags=["reports"], dependencies=[allow(*REPORTERS)],
              operation_id="receiveAppReport", response_model=ReportOut,
              status_code=201, responses={200: {"model": ReportOut, "description": "a resent report: its case"},
                                          **_errors(401, 403, 422, 503)},
              summary="Receive a report from an app feed (e.g. the Noise App)")
    async def app_report(body: AppReportIn, who: Caller) -> JSONResponse:
        """Idempotent by (source, external_id): a resent report answers 200 with the case the first opened."""
        out = await service.log_app_report(who, body)
        return JSONResponse(out.model_dump(mode="json"), status_code=201 if out.created else 200)

    # ------------------------------------------------------------------------------ cases

    @app.get("/cases", tags=["cases"], dependencies=[allow(*STAFF)], operation_id="listCases", response_model=CaseList,
             responses=_errors(401, 403, 422), summary="List cases")
    async def list_cases(
        who: Caller,
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

    @app.get("/cases/{ref}", tags=["cases"], dependencies=[allow(*STAFF)],
             operation_id="getCase", response_model=CaseView,
             responses=_errors(401, 403, 404, 422), summary="View a case")
    async def get_case(ref: Ref, who: Caller) -> CaseView:
        """The case file (parties, incidents, notes, timeline) with the workflow's status: stage,
        deadlines, allowed commands, pending approvals."""
        return await service.case_view(who, ref)

    @app.post("/cases/{ref}/commands/{command}", tags=["cases"], dependencies=[allow(*ACTORS)],
              operation_id="sendCaseCommand",
              response_model=CommandOut, responses=_errors(401, 403, 404, 409, 422, 503, 504),
              summary="Issue a case command")
    async def case_command(
        ref: Ref,
        command: Annotated[str, Path(max_length=40, json_schema_extra={"enum": list(CASE_COMMANDS)},
                                     description="the command (GET /commands lists them with their arguments)")],
        who: Caller,
        body: Annotated[CommandIn | None, Body()] = None,
    ) -> CommandOut:
        """Validated here (422 naming the field), then judged by the case (409 with its reason)."""
        return await service.command(who, ref, command, body.args if body else {})

    @app.post("/cases/{ref}/lock", tags=["cases"], dependencies=[allow(*LOCKERS)],
              operation_id="setCaseLock", response_model=LockOut,
              responses=_errors(401, 403, 404, 409, 422), summary="Lock or unlock a case (managers)")
    async def lock_case(ref: Ref, body: LockIn, who: Caller) -> LockOut:
        """A locked case is visible only to its officer and managers, and every read of it is audited."""
        return await service.lock(who, ref, body.locked, body.reason, body.expected_version)

    # ------------------------------------------------------------------------------ tasks

    @app.get("/tasks", tags=["tasks"], dependencies=[allow(*STAFF)], operation_id="listTasks", response_model=TaskList,
             responses=_errors(401, 403, 422), summary="The task inbox")
    async def list_tasks(
        who: Caller,
        role: Annotated[Role | None, Query(description="tasks for this role")] = None,
        status: Annotated[str | None, Query(pattern=r"^[a-z_]{1,16}$", description="default open")] = "open",
        case: Annotated[str | None, Query(pattern=REF_PATTERN, max_length=32)] = None,
        assignee: Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00]+$")] = None,
    ) -> TaskList:
        """Tasks on cases the caller may see, soonest due first."""
        return TaskList(tasks=await service.tasks(who, role=role, status=status, case_ref=case, assignee=assignee))

    @app.post("/tasks/{task_id:path}/claim", tags=["tasks"], dependencies=[allow(*DECIDERS)],
              operation_id="claimTask", response_model=TaskOut,
              responses=_errors(401, 403, 404, 409, 422), summary="Take a task")
    async def claim(task_id: TaskId, who: Caller) -> TaskOut:
        return await service.claim(who, task_id)

    @app.post("/tasks/{task_id:path}/decide", tags=["tasks"], dependencies=[allow(*DECIDERS)],
              operation_id="decideTask", response_model=DecideOut,
              responses=_errors(401, 403, 404, 409, 422, 504), summary="Decide a task")
    async def decide(task_id: TaskId, body: DecideIn, who: Caller) -> DecideOut:
        """Approval tasks are decided by the case's own command, so nobody approves their own request and
        solicitor-level remedies need a senior manager (409 otherwise)."""
        return await service.decide(who, task_id, body.decision, body.reason)

    # ------------------------------------------------------------------------------ meta

    @app.get("/me", tags=["meta"], operation_id="whoAmI", response_model=Me, responses=_errors(401, 403))
    async def me(who: Caller) -> Me:
        """The role and id the API sees in your token."""
        return Me(role=who.role, id=who.id)

    @app.get("/commands", tags=["meta"], dependencies=[allow(*STAFF)],
             operation_id="listCommands", response_model=CommandCatalogue,
             responses=_errors(401, 403))
    async def commands(who: Caller) -> CommandCatalogue:
        """Every case command with the JSON schema of its arguments."""
        return CommandCatalogue(commands=[
            CommandSpec(name=name, arguments=ARGS[name].model_json_schema(), free_text=FREE_TEXT.get(name))
            for name in CASE_COMMANDS
        ])

    @app.get("/.well-known/jwks.json", tags=["meta"], operation_id="getJwks", response_model=Jwks)
    async def jwks() -> Jwks:
        """The public keys local-mode tokens are signed with (empty when an identity provider issues them)."""
        return Jwks.model_validate(verifier.jwks())

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, summary=app.summary,
                                   description=app.description, routes=app.routes, tags=app.openapi_tags)
            app.openapi_schema = _with_limits(_with_taxonomy(document, profile), settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _with_taxonomy(document: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """Name the landlord's own categories and hate strands in the document, so a form or client built
    from it offers exactly the values this deployment accepts."""
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("ReportIn", "PublicReportIn"):
        properties = schemas.get(name, {}).get("properties", {})
        if "category" in properties:
            properties["category"]["enum"] = list(profile.categories.all)
        strand = properties.get("hate_strand", {})
        for option in strand.get("anyOf", []):
            if option.get("type") == "string":
                option["enum"] = list(profile.categories.hate_strands)
    return document


def _with_limits(document: dict[str, Any], settings: ApiSettings) -> dict[str, Any]:
    """What the outer guards (api.guard) answer on any operation: 413 for a body over the size limit, and
    503 with Retry-After for an outage."""
    retry = {"Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}}
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for item in document.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("413", {"description": f"The body is larger than {settings.max_body_bytes} "
                                                            "bytes", "content": problem})
            # Any operation may meet an outage of the case file or the case engine.
            responses.setdefault("503", {"description": _DESCRIPTIONS[503], "content": problem})
            responses["503"].setdefault("headers", {}).update(retry)
    return document


class _RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after
