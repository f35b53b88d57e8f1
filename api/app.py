"""The FastAPI application: one router per resource (api/routes/), shared dependencies (api/deps.py), and
how refusals become HTTP answers.

`create_app(settings, client, store)` takes the Temporal client and the case file as arguments rather
than building them, so `asb up`, a production deployment and the tests (time-skipping server, real
PostgreSQL) all run the very same app. Success on the report doors: 201 opened, 202 accepted and
starting (the reconciler starts it), 200 a resend (Idempotency-Key, or an app's external id). Status
codes of errors, everywhere:

- 401 no token, or one that fails signature, expiry, issuer or audience checks;
- 403 the caller's role may never do this (decided before any case is looked up);
- 404 no such case or task, or a locked case the caller may not see (the same answer);
- 409 the case or task refused now, with its reason (stage, approvals, ownership, own request; removing
  evidence someone else added);
- 413 a body larger than the limit (64 KiB by default), refused before it is read; an evidence upload
  larger than the largest file accepted (ASB_EVIDENCE_MAX_BYTES) plus that limit, or whose file is larger
  than the largest accepted;
- 422 bad input, naming the field (also a body nested too deep to be a report or a command);
- 429 the public form's per-address limit, with Retry-After;
- 500 `{"detail": "internal error", "field": null}`: a fault of ours, never with a traceback;
- 503 the case file, the case engine, the evidence store or the identity provider did not answer, or a
  stored file is missing or damaged; with Retry-After;
- 504 a command was not answered in time: not yet applied; check the case before retrying (with the same
  Idempotency-Key it is applied at most once).
"""

from __future__ import annotations

import re
from pathlib import Path as FilePath
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client

from api.auth import ROLES, AuthError, verifier_for
from api.deps import DESCRIPTIONS, RateLimited, problem
from api.guard import BodyLimits, LastResort, Upload
from api.ops import Readiness, RequestTimer, ops_router
from api.ratelimit import RateLimiter
from api.routes import admin, cases, evidence, management, partners, people, reports, tasks
from api.service import InputError, Refused, Service, TooLarge, Unavailable
from api.settings import ApiSettings
from casefile.access import CaseNotFound
from casefile.db import Store
from casefile.evidence import EvidenceDeleteRefused, EvidenceNotFound, EvidenceRefused, EvidenceUnavailable
from casefile.partners import ItemNotFound
from clients.taskclient import TaskNotFound
from policy.model import Profile
from profiles import load
from web import mount_pages

#: The routers, one per resource, in the order the document lists them.
ROUTERS = (reports.router, cases.router, evidence.router, people.router, partners.router, tasks.router,
           management.router, admin.router)
#: The routes that take a file (multipart/form-data), with a body limit of their own: the API's, and the
#: case page's upload form (web/pages.py).
UPLOAD_PATHS = (re.compile(r"/cases/[^/]+/evidence"), re.compile(r"/web/cases/[^/]+/evidence"))

#: Where the docs page's Swagger UI files are served from: the installed `fastapi-offline` package's
#: copy of Swagger UI 5 (it reads OpenAPI 3.1; `swagger-ui-bundle`'s 4.15 cannot), so /docs renders on
#: a machine with no internet (issue 11 item 2), never from a CDN.
DOCS_ASSETS = "/docs-assets"
SWAGGER_FILES = FilePath(fastapi_offline.__file__).with_name("static")


def _serve_docs_offline(app: FastAPI) -> None:
    app.mount(DOCS_ASSETS, StaticFiles(directory=SWAGGER_FILES), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title}: docs",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "(body)"


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
            "A partner agency's staff hold the partner role, with their agency in the token's agency claim, "
            "and use the partner routes only: the cases shared with their agency, and in them only what "
            "was marked shareable; every partner read is audited. "
            "403 depends only on the caller's role; 404 also hides locked cases from those who may not "
            "see them (and, from a partner, every case not shared with its agency); 409 is the case refusing "
            "a command now, with its reason."
        ),
        openapi_tags=[
            {"name": "reports", "description": "Logging reports: staff, the public online form, app feeds"},
            {"name": "cases", "description": "Case views, lists, commands and locking"},
            {"name": "evidence", "description": "Files on a case: add (multipart), list, download, share, remove"},
            {"name": "people", "description": "People on file: their details, consents, duplicates and merges"},
            {"name": "partners", "description": "Referrals to partner agencies, sharing a case with them, and "
                                                  "what their staff see"},
            {"name": "tasks", "description": "The task inbox: approvals and follow-ups"},
            {"name": "management", "description": "Management reports (CSV too), closure survey answers, ASB "
                                                  "Case Review outcomes"},
            {"name": "meta", "description": "Who am I, the command catalogue, signing keys"},
        ],
        docs_url=None,
    )
    _serve_docs_offline(app)
    app.state.service = service
    app.state.verifier = verifier
    app.state.limiter = limiter
    # Outermost last: LastResort also answers for anything BodyLimits or the routes did not.
    # An upload may carry the largest file accepted plus the usual limit for the rest of the form.
    uploads = [Upload("POST", path, service.evidence.max_bytes + settings.max_body_bytes) for path in UPLOAD_PATHS]
    app.add_middleware(BodyLimits, max_bytes=settings.max_body_bytes, max_depth=settings.max_body_depth,
                       uploads=uploads)
    app.add_middleware(LastResort)
    app.add_middleware(RequestTimer)  # outermost: every answer's latency, the guards' own too

    # ------------------------------------------------------------------------------ error answers

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if exc.status == 401 else None
        return problem(exc.status, exc.reason, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request", "type": ""}
        field = _field(tuple(first.get("loc", ())))
        message = "unknown field" if first.get("type") == "extra_forbidden" else str(first.get("msg"))
        return problem(422, f"{field}: {message.removeprefix('Value error, ')}", field)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return problem(422, exc.message, exc.field)

    @app.exception_handler(CaseNotFound)
    async def _no_case(request: Request, exc: CaseNotFound) -> JSONResponse:
        return problem(404, f"no case {exc.reference}")

    @app.exception_handler(EvidenceRefused)
    async def _evidence_refused(request: Request, exc: EvidenceRefused) -> JSONResponse:
        return problem(422, exc.message, exc.field)  # a reused Idempotency-Key too, as on every door

    @app.exception_handler(TooLarge)
    async def _too_large(request: Request, exc: TooLarge) -> JSONResponse:
        return problem(413, exc.message, exc.field)

    @app.exception_handler(EvidenceNotFound)
    async def _no_evidence(request: Request, exc: EvidenceNotFound) -> JSONResponse:
        return problem(404, exc.message, exc.field)

    @app.exception_handler(EvidenceDeleteRefused)
    async def _not_removed(request: Request, exc: EvidenceDeleteRefused) -> JSONResponse:
        return problem(409, exc.message, exc.field)

    @app.exception_handler(EvidenceUnavailable)
    async def _file_unavailable(request: Request, exc: EvidenceUnavailable) -> JSONResponse:
        return problem(503, exc.message, exc.field)  # with Retry-After: a restored store answers again

    @app.exception_handler(TaskNotFound)
    async def _no_task(request: Request, exc: TaskNotFound) -> JSONResponse:
        return problem(404, str(exc))

    @app.exception_handler(ItemNotFound)
    async def _no_item(request: Request, exc: ItemNotFound) -> JSONResponse:
        return problem(404, str(exc))

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        return problem(409, exc.reason)

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        return problem(exc.status, exc.reason)

    @app.exception_handler(RateLimited)
    async def _limited(request: Request, exc: RateLimited) -> JSONResponse:
        return problem(429, f"too many reports from this address: try again in {exc.retry_after} seconds",
                        headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI answers a body that is not JSON with a bare 400; it is bad input like any other.
        if exc.status_code == 400:
            return problem(422, "(body): not valid JSON", "(body)")
        return problem(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}) or None)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # A last guard: the input models should refuse anything the case file cannot hold.
        return problem(422, "a value is too long or malformed for the case file")

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError) -> JSONResponse:
        # The case file did not answer: like Temporal not answering, the caller may try again later.
        return problem(503, "the case file is not available: try again shortly")

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception) -> JSONResponse:
        # Whatever else goes wrong is still the documented JSON, never a bare text 500 (issue 11 item 1);
        # the exception itself is for the server's log, not the caller.
        return problem(500, "the request could not be completed: the server has logged the fault")

    for router in ROUTERS:
        app.include_router(router)
    # /health, /ready and /metrics (issue 14 item 2): no token; no personal data.
    app.include_router(ops_router(Readiness(client, store)))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, summary=app.summary,
                                   description=app.description, routes=app.routes, tags=app.openapi_tags)
            app.openapi_schema = _with_limits(_with_taxonomy(document, profile), settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    # The web pages (/web, and / leads there): the same Service, verifier and public-form limit.
    mount_pages(app, settings, service, verifier, limiter)
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
    problem_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for item in document.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("413", {"description": f"The body is larger than {settings.max_body_bytes} "
                                                            "bytes", "content": problem_content})
            # Any operation may meet an outage of the case file or the case engine.
            responses.setdefault("503", {"description": DESCRIPTIONS[503], "content": problem_content})
            responses["503"].setdefault("headers", {}).update(retry)
    return document

