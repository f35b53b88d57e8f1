"""What every router shares: who is calling, which roles may use a route, the path parameters, the
service, and how errors are described in the OpenAPI document.

403 depends only on the caller's role (`allow`), decided before any case is looked up, so it tells
nothing about whether a case exists (README "HTTP API and CLI client").
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import ROLES, AuthError, Principal, TokenVerifier
from api.guard import RETRY_AFTER_SECONDS
from api.schemas import REF_PATTERN, TASK_ID_PATTERN, Problem
from api.service import Service
from casefile.idempotency import KEY_PATTERN
from policy.model import Role

STAFF: tuple[Role, ...] = ROLES
REPORTERS: tuple[Role, ...] = ("intake", "officer", "manager", "senior_manager")
ACTORS: tuple[Role, ...] = ("intake", "officer", "manager", "senior_manager")
DECIDERS: tuple[Role, ...] = ("officer", "manager", "senior_manager")
LOCKERS: tuple[Role, ...] = ("manager", "senior_manager")
#: Share a case with a partner agency and mark what is shareable: the case's officer, or a manager.
SHARERS: tuple[Role, ...] = ("officer", "manager", "senior_manager")
#: A partner agency's staff: the partner routes only (their agency's partition of shared cases).
PARTNERS: tuple[Role, ...] = ("partner",)

DESCRIPTIONS = {
    401: "No bearer token, or one that is invalid or expired",
    403: "The caller's role may not do this",
    404: "No such case, task or evidence file, or a locked case the caller may not see (a partner: a case not "
         "shared with its agency)",
    409: "The case or task refused now; `detail` says why and nothing was changed",
    422: "Bad input; `field` names it",
    429: "Too many reports from this address; try again after Retry-After seconds",
    503: "The case file, the case engine or the identity provider is unavailable; try again after Retry-After",
    504: "The case did not answer in time: the command is not yet applied (it may be when the case next "
         "runs); check the case before retrying, and retry with the same Idempotency-Key",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route documents, each the one Problem shape."""
    responses: dict[int | str, dict[str, Any]] = {
        code: {"model": Problem, "description": DESCRIPTIONS[code]} for code in codes
    }
    if 429 in codes:
        responses[429]["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
    if 401 in codes:
        responses[401]["headers"] = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}
    return responses


def problem(status: int, detail: str, field: str | None = None, headers: dict[str, str] | None = None
            ) -> JSONResponse:
    """Every error answer: `{"detail": ..., "field": ...}` with its status."""
    if status == 503:  # every outage says when to try again (issue 9 item 11)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS), **(headers or {})}
    return JSONResponse(Problem(detail=detail, field=field).model_dump(), status_code=status, headers=headers)


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


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


Caller = Annotated[Principal, Depends(current_principal)]
Work = Annotated[Service, Depends(get_service)]
Ref = Annotated[str, Path(pattern=REF_PATTERN, max_length=32, description="case reference, e.g. ASB-2026-000123")]
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", pattern=KEY_PATTERN, max_length=255,
    description="a value the client makes once per report or command (a UUID) and sends again with every retry "
                "of it: a retry is then recognised, never applied twice (kept at least 24 hours)")]
TaskId = Annotated[str, Path(pattern=TASK_ID_PATTERN, max_length=80, description="task id, e.g. ASB-2026-000123/14")]


def allow(*roles: Role) -> Any:
    """A route dependency refusing (403) every role not named, before the route looks anything up."""

    async def gate(who: Caller) -> None:
        if who.role not in roles:
            raise AuthError(403, f"the {who.role} role may not do this (allowed: {', '.join(roles)})")

    return Depends(gate)


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def rate_limited(request: Request) -> None:
    """The public form's per-address limit (429 with Retry-After)."""
    client_address = request.client.host if request.client else "unknown"
    retry_after = request.app.state.limiter.check(client_address)
    if retry_after is not None:
        raise RateLimited(int(retry_after))
