"""The pages: server-rendered HTML on the GOV.UK Design System, for staff and the public.

Every page calls the API's own Service with the signed-in person as the Principal, so the rules,
refusals and audit entries are exactly the API's: 403 by role before anything is looked up, the same
404 for an unknown case and a locked one, and a case's refusal (409) shown in the error summary with
the case's own reason. Forms work without JavaScript; every POST carries a CSRF token.
"""

from __future__ import annotations

import email
import email.policy
import logging
import math
import re
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, PrefixLoader, select_autoescape
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from api.auth import PARTNER, ROLES, AuthError, Principal, TokenVerifier, principal_from_claims
from api.people_service import PeopleDoor, chronology_filename
from api.ratelimit import RateLimiter
from api.routes.evidence import download
from api.schemas import REF_PATTERN, TASK_ID_PATTERN, PublicReportIn, ReportIn
from api.service import (
    EVIDENCE_ADDERS,
    EVIDENCE_REMOVERS,
    InputError,
    Refused,
    Service,
    TooLarge,
    Unavailable,
)
from api.settings import ApiSettings
from casefile import reports as reporting
from casefile import surveys
from casefile.access import MANAGERS, CaseNotFound, open_case
from casefile.chronology import AUDIENCES, MAY_GENERATE
from casefile.evidence import (
    EvidenceDeleteRefused,
    EvidenceNotFound,
    EvidenceRefused,
    EvidenceUnavailable,
    may_delete,
)
from casefile.idempotency import KEY_PATTERN
from casefile.models import SATISFACTION, CaseRow
from casefile.notes import MAY_NOTE, NoteInput
from clients.taskclient import APPROVAL_COMMANDS, TaskNotFound
from performance.monthly import context as monthly_context
from performance.monthly import previous_month
from performance.monthly import produce as produce_monthly
from policy.risk import VULNERABILITIES, with_vulnerable_floor
from policy.triage import TriageInput, TriageResult, triage
from statemachine.catalogue import COMMANDS
from web import queries
from web.forms import (
    COMMAND_TITLES,
    EVIDENCE_FORM_FIELDS,
    EVIDENCE_KINDS,
    MAX_FORM_BYTES,
    MAX_NOTE_PEOPLE,
    NOTE_KINDS,
    accepted_files,
    answering_commands,
    command_args,
    command_fields,
    errors_of,
    file_size,
    humanise,
    local_time,
    note_body,
    parse_form,
    sentence,
)
from web.oidc import OidcClient, SignInError, pkce_pair
from web.session import (
    ANON_CSRF_COOKIE,
    CSRF_FIELD,
    FLOW_COOKIE,
    SESSION_COOKIE,
    WebUser,
    new_token,
    same,
    sign,
    unsign,
)
from web.settings import WebSettings

HERE = Path(__file__).parent
logger = logging.getLogger(__name__)
PAGE_SIZE = 25
PREFIX = "/web"
SERVICE_NAME = "ASB casework"
STAFF_ROLES = ROLES
#: Local mode's sign-in offers the staff roles and, last, a partner agency's staff (with their agency).
SIGN_IN_ROLES: list[str] = [*ROLES, PARTNER]
CASE_WORKERS = ("officer", "manager", "senior_manager")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
REF_RE = re.compile(REF_PATTERN)
TASK_RE = re.compile(TASK_ID_PATTERN)


class _SignInFirst(Exception):
    """No session: send the browser to the sign-in page."""


class _FormProblems(Exception):
    """A form's problems, several at once, each (field, message), for the error summary."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("the form has problems")
        self.problems = problems


def _environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([
            FileSystemLoader(HERE / "templates"),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["humanise"] = humanise
    env.filters["humanise_pair"] = lambda value: (value, humanise(value))
    env.filters["when"] = _when
    env.filters["day"] = _day
    env.filters["file_size"] = file_size
    env.globals["prefix"] = PREFIX
    env.globals["service_name"] = SERVICE_NAME
    env.globals["reason_id"] = _reason_id
    env.globals["answering_commands"] = answering_commands
    return env


def _when(value: Any, zone: tzinfo = UTC) -> str:
    """A moment as officers read it: in the landlord's own time zone (the profile's calendar), named, so
    "17:00 BST" is the end of the working day it is, not "16:00 UTC"."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return f"{value.astimezone(zone):%-d %b %Y %H:%M %Z}" if value.tzinfo else f"{value:%-d %b %Y %H:%M}"


def _day(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{value:%-d %B %Y}"


def days_left(deadline: datetime | None, now: datetime) -> int | None:
    """Whole days until a deadline (negative once passed), counted as people read a calendar."""
    if deadline is None:
        return None
    return math.floor((deadline - now).total_seconds() / 86400)


@dataclass
class Problem:
    field: str | None
    message: str

    @property
    def href(self) -> str:
        return "#" + (self.field or "main-content").replace(".", "-").replace("_", "-")


def create_pages(api_settings: ApiSettings, service: Service, verifier: TokenVerifier, limiter: RateLimiter,
                 web_settings: WebSettings | None = None) -> FastAPI:
    """The pages as an app of their own, mounted by the API app at /web."""
    settings = web_settings or WebSettings.for_api(api_settings)
    env = _environment()
    profile = service.profile
    categories = list(profile.categories.all)
    zone = profile.calendar.timezone
    env.filters["when"] = partial(_when, zone=ZoneInfo(zone))
    oidc: OidcClient | None = None
    if not api_settings.local_mode:
        assert api_settings.oidc_issuer
        oidc = OidcClient(api_settings.oidc_issuer, settings.client_id or "", settings.client_secret,
                          settings.scopes)
    ttl = settings.session_hours * 3600
    agencies = [(agency_id, agency.title) for agency_id, agency in profile.referrals.agencies.items()]

    pages = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    pages.mount("/assets", StaticFiles(directory=HERE / "static"), name="assets")

    # -------------------------------------------------------------------------------- plumbing

    def secure(request: Request) -> bool:
        return settings.force_secure_cookies or request.url.scheme == "https"

    def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="lax",
                            secure=secure(request))

    def current(request: Request) -> WebUser | None:
        data = unsign(settings.session_secret, request.cookies.get(SESSION_COOKIE))
        if data is None:
            return None
        try:
            return WebUser(role=str(data["r"]), id=str(data["i"]), name=str(data["n"]), csrf=str(data["c"]),
                           agency=str(data["a"]) if data.get("a") else None)
        except KeyError:
            return None

    def need(request: Request, *roles: str) -> WebUser:
        user = current(request)
        if user is None:
            raise _SignInFirst
        if user.role not in STAFF_ROLES:  # a partner sees its agency's partition only (003 §14-15, 004 §4.5)
            raise AuthError(403, "partner agencies see only the cases shared with them: go to Shared cases")
        if roles and user.role not in roles:
            raise AuthError(403, f"the {user.role} role may not use this page")
        return user

    def principal(user: WebUser) -> Principal:
        return Principal(role=user.role, id=user.id, agency=user.agency)  # type: ignore[arg-type]

    def need_partner(request: Request) -> WebUser:
        """A partner agency's staff member, signed in with their agency (the partner API's own rule)."""
        user = current(request)
        if user is None or (user.role != PARTNER and user.role not in STAFF_ROLES):
            raise _SignInFirst
        if user.role != PARTNER:
            raise AuthError(403, "these pages are for partner agencies' staff: staff see the whole case")
        return user

    def anon_csrf(request: Request) -> str:
        token = request.cookies.get(ANON_CSRF_COOKIE)
        return token if token and len(token) <= 64 else new_token()

    def render(request: Request, template: str, status: int = 200, user: WebUser | None = None,
               errors: list[Problem] | None = None, csrf: str | None = None, **context: Any) -> HTMLResponse:
        token = user.csrf if user else (csrf or anon_csrf(request))
        nonce = new_token()
        html = env.get_template(template).render(
            user=user, errors=errors or [], csrf_field=CSRF_FIELD, csrf=token, request_path=request.url.path,
            nav=_nav(user, request.url.path), cspNonce=nonce, **context)
        response = HTMLResponse(html, status_code=status)
        # Only this service's own scripts and styles, and the one inline line GOV.UK's template needs.
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Content-Type-Options"] = "nosniff"
        if user is None:
            set_cookie(response, request, ANON_CSRF_COOKIE, token, 3600 * 4)
        return response

    async def posted(request: Request, user: WebUser | None) -> dict[str, str]:
        """The form, once its CSRF token matches the session's (or, before sign-in, the cookie's)."""
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            raise InputError(None, "the form must be sent as application/x-www-form-urlencoded")
        form = parse_form(await _bounded_body(request))
        expected = user.csrf if user else request.cookies.get(ANON_CSRF_COOKIE)
        if not same(form.get(CSRF_FIELD), expected):
            raise AuthError(403, "the form has expired or did not come from this service: go back, reload the "
                                 "page and try again")
        return form

    def redirect(path: str) -> RedirectResponse:
        return RedirectResponse(PREFIX + path, status_code=303)

    def home_for(user: WebUser) -> str:
        return {"officer": "/my-cases", "manager": "/dashboard", "senior_manager": "/dashboard",
                "intake": "/intake/report", PARTNER: "/partner/cases"}.get(user.role, "/search")

    def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
        return render(request, "error.html", status=status, user=current(request), title=title, message=message)

    # -------------------------------------------------------------------------------- errors

    @pages.exception_handler(_SignInFirst)
    async def _sign_in_first(request: Request, exc: _SignInFirst) -> Response:
        return redirect("/sign-in")

    @pages.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> Response:
        titles = {401: "Sign in again", 403: "You cannot do that", 503: "Sign-in is unavailable"}
        return error_page(request, exc.status, titles.get(exc.status, "Sorry"), exc.reason)

    @pages.exception_handler(CaseNotFound)
    async def _no_case(request: Request, exc: CaseNotFound) -> Response:
        return error_page(request, 404, "Case not found", f"There is no case {exc.reference} that you can see.")

    @pages.exception_handler(TaskNotFound)
    async def _no_task(request: Request, exc: TaskNotFound) -> Response:
        return error_page(request, 404, "Task not found", str(exc))

    @pages.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> Response:
        return error_page(request, exc.status, "Sorry, there is a problem with the service", exc.reason)

    @pages.exception_handler(EvidenceNotFound)
    async def _no_file(request: Request, exc: EvidenceNotFound) -> Response:
        return error_page(request, 404, "File not found", "There is no such file on a case that you can see.")

    @pages.exception_handler(EvidenceUnavailable)
    async def _file_unavailable(request: Request, exc: EvidenceUnavailable) -> Response:
        response = error_page(request, 503, "Sorry, the file cannot be shown", sentence(exc.message) +
                              ". Try again later; if it goes on, tell your system administrator.")
        response.headers["Retry-After"] = "5"
        return response

    @pages.exception_handler(InputError)
    async def _bad_form(request: Request, exc: InputError) -> Response:
        return error_page(request, 422, "There is a problem", exc.message)

    @pages.exception_handler(RequestValidationError)
    async def _bad_address(request: Request, exc: RequestValidationError) -> Response:
        return error_page(request, 422, "There is a problem", "The web address is not one this service makes: "
                          "go back and follow a link.")

    @pages.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception) -> Response:
        # Never a traceback: the person gets an apology, the log gets the exception type only.
        logger.error("page %s failed: %s", request.url.path, type(exc).__name__)
        return error_page(request, 500, "Sorry, there is a problem with the service", "Try again later.")

    @pages.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Page not found", 405: "Page not found"}
        return error_page(request, exc.status_code, titles.get(exc.status_code, "Sorry"),
                          "If you typed the web address, check it is correct." if exc.status_code in titles
                          else str(exc.detail))

    # -------------------------------------------------------------------------------- signing in

    @pages.get("/")
    async def start(request: Request) -> Response:
        user = current(request)
        return redirect(home_for(user) if user else "/sign-in")

    @pages.get("/sign-in")
    async def sign_in_page(request: Request) -> Response:
        return render(request, "sign_in.html", local=api_settings.local_mode, roles=SIGN_IN_ROLES,
                      agencies=agencies, signed_out=request.query_params.get("signed_out") == "1")

    @pages.post("/sign-in")
    async def sign_in_local(request: Request) -> Response:
        """Local mode only: choose a role and a name (there is no identity provider to ask)."""
        if not api_settings.local_mode:
            raise AuthError(403, "sign in with your organisation's account")
        form = await posted(request, None)
        errors: list[Problem] = []
        role = form.get("role", "")
        person = form.get("person", "").strip()
        agency = form.get("agency", "")
        if role not in SIGN_IN_ROLES:
            errors.append(Problem("role", "Select the role you are working in"))
        if not ID_PATTERN.match(person):
            errors.append(Problem("person", "Enter your staff id: letters, digits, dots, @ or dashes, "
                                            "up to 64 characters"))
        if role == PARTNER and agency not in profile.referrals.agencies:
            errors.append(Problem("agency", "Select the partner agency you work for"))
        if errors:
            return render(request, "sign_in.html", status=422, errors=errors, local=True, roles=SIGN_IN_ROLES,
                          agencies=agencies, values=form)
        if role == PARTNER:  # the token a partner's identity provider would issue: role and agency claims
            return signed_in(request, principal_from_claims({"sub": person, "roles": [role], "agency": agency}),
                             person)
        return signed_in(request, principal_from_claims({"sub": person, "roles": [role]}), person)

    def signed_in(request: Request, who: Principal, name: str) -> Response:
        user = WebUser(role=who.role, id=who.id, name=name, csrf=new_token(), agency=who.agency)
        response = redirect(home_for(user))
        cookie = sign(settings.session_secret, {"r": user.role, "i": user.id, "n": user.name[:100],
                                                "c": user.csrf, "a": user.agency or ""}, ttl)
        set_cookie(response, request, SESSION_COOKIE, cookie, int(ttl))
        response.delete_cookie(FLOW_COOKIE, path=PREFIX)
        return response

    def callback_url(request: Request) -> str:
        """Where the provider sends the browser back: this server's own address (register it there)."""
        root = str(request.scope.get("root_path") or PREFIX)
        return str(request.url.replace(path=root.rstrip("/") + "/sign-in/callback", query=None, fragment=None))

    @pages.get("/sign-in/start")
    async def sign_in_start(request: Request) -> Response:
        """Production: off to the identity provider, with state, nonce and a PKCE challenge."""
        if oidc is None:
            return redirect("/sign-in")
        if not settings.client_id:
            raise AuthError(503, "the pages have no OIDC client: set ASB_OIDC_CLIENT_ID")
        verifier_text, challenge = pkce_pair()
        state, nonce = new_token(), new_token()
        url = await oidc.authorize_url(callback_url(request), state, nonce, challenge)
        response = RedirectResponse(url, status_code=303)
        set_cookie(response, request, FLOW_COOKIE,
                   sign(settings.session_secret, {"s": state, "v": verifier_text, "n": nonce}, 600), 600)
        return response

    @pages.get("/sign-in/callback", name="sign_in_callback")
    async def sign_in_callback(request: Request) -> Response:
        if oidc is None:
            return redirect("/sign-in")
        flow = unsign(settings.session_secret, request.cookies.get(FLOW_COOKIE))
        params = request.query_params
        try:
            if flow is None:
                raise SignInError("the sign-in took too long or began in another browser: start again")
            if params.get("error"):
                raise SignInError(f"the identity provider said: {params.get('error', '')[:100]}")
            if not same(params.get("state"), str(flow.get("s"))):
                raise SignInError("the sign-in does not match the one this browser began (state): start again")
            code = params.get("code") or ""
            if not code or len(code) > 4096:
                raise SignInError("the identity provider sent no code")
            tokens = await oidc.exchange(code, callback_url(request), str(flow["v"]))
            claims = await oidc.id_claims(tokens["id_token"], str(flow["n"]))
            who = await verifier.verify(tokens["access_token"])
        except SignInError as exc:
            return render(request, "error.html", status=401, title="You could not be signed in",
                          message=exc.reason, retry=True)
        if who.role == PARTNER and who.agency not in profile.referrals.agencies:
            return render(request, "error.html", status=403, title="You cannot sign in here",
                          message="Your account names no partner agency this service works with.", retry=False)
        name = claims.get("name") or claims.get("preferred_username") or who.id
        return signed_in(request, who, str(name))

    @pages.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        user = current(request)
        if user is not None:
            await posted(request, user)
        response = redirect("/sign-in?signed_out=1")
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    # -------------------------------------------------------------------------------- officer

    @pages.get("/my-cases")
    async def my_cases(request: Request, page: int = 1) -> Response:
        """The officer's open cases, most urgent first: overdue, then the nearest deadline."""
        user = need(request, *CASE_WORKERS)
        page = max(1, min(page, 10_000))
        query = (select(CaseRow).where(CaseRow.officer == user.id, CaseRow.stage != "closed")
                 .order_by(CaseRow.overdue.desc(), CaseRow.next_deadline.asc().nulls_last()))
        listed = await _in_thread(service._list, principal(user), query, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
        now = datetime.now(UTC)
        rows = [(c, days_left(c.next_deadline, now)) for c in listed.cases[:PAGE_SIZE]]
        return render(request, "my_cases.html", user=user, rows=rows, page=page,
                      more=len(listed.cases) > PAGE_SIZE)

    async def case_context(user: WebUser, reference: str) -> dict[str, Any]:
        if not REF_RE.match(reference):
            raise CaseNotFound(reference)
        view = await service.case_view(principal(user), reference)
        letters = await _in_thread(_letters, service, reference)
        now = datetime.now(UTC)
        deadlines = []
        if view.status:
            for name, due in sorted(view.status.deadlines.items(), key=lambda kv: kv[1]):
                deadlines.append({"name": name, "due": due, "days": days_left(due, now),
                                  "overdue": name in view.status.overdue or due < now})
        allowed = [c for c in (view.status.allowed if view.status else []) if c in COMMANDS]
        if user.role == "intake":
            allowed = [c for c in allowed if "intake" in COMMANDS[c].roles]
        elif user.role not in CASE_WORKERS:
            allowed = []  # ops and auditors read cases but never act on them (README "HTTP API")
        forms = [{"command": c, "title": COMMAND_TITLES.get(c, humanise(c)),
                  "fields": command_fields(c, categories, profile.risk_matrix)} for c in allowed]
        files = await service.list_evidence(principal(user), reference)
        return {"view": view, "deadlines": deadlines, "forms": forms, "letters": letters,
                "reference": reference, "may_lock": user.role in MANAGERS,
                "may_chronology": user.role in MAY_GENERATE,
                "risk_labels": profile.risk_matrix.labels.model_dump(),
                "priority_titles": {pid: p.title for pid, p in profile.priorities.items()},
                "evidence": [{"info": f, "kind": EVIDENCE_KINDS.get(f.kind, humanise(f.kind)),
                              "removable": user.role in EVIDENCE_REMOVERS
                              and may_delete(f, user.role, user.id, now) is None} for f in files],
                "may_add_evidence": user.role in EVIDENCE_ADDERS,
                "may_attach": user.role in CASE_WORKERS and view.case.stage != "closed", "attach_key": uuid.uuid4().hex,
                "may_note": user.role in MAY_NOTE, "note_kinds": list(NOTE_KINDS.items()), "note_labels": NOTE_KINDS,
                "note_people": [p for p in view.parties if not p.anonymous][:MAX_NOTE_PEOPLE],
                "note_key": uuid.uuid4().hex,
                # A fresh Idempotency-Key per form shown: a double submit adds the file once.
                "evidence_key": uuid.uuid4().hex, "evidence_kinds": list(EVIDENCE_KINDS.items()),
                "evidence_hint": accepted_files(service.evidence.media_types, service.evidence.max_bytes)}

    @pages.get("/cases/{reference}")
    async def case_page(request: Request, reference: str) -> Response:
        user = need(request, *STAFF_ROLES)
        context = await case_context(user, reference)
        done = request.query_params.get("done", "")
        # ?open=COMMAND opens that action's form: the inbox links a task answered on the case to it.
        wanted = request.query_params.get("open", "")
        attached_to = request.query_params.get("to", "")
        return render(request, "case.html", user=user, done=COMMAND_TITLES.get(done) or
                      {"lock": "The case is locked", "unlock": "The case is unlocked",
                       "evidence": "The file is added to the case", "note": "The note is added to the case",
                       "attached": "The report is added to case " + attached_to if REF_RE.match(attached_to) else None,
                       "evidence-removed": "The file is removed from the case"}.get(done),
                      open_form=wanted if wanted in COMMANDS else None, **context)

    @pages.post("/cases/{reference}/attach")
    async def attach(request: Request, reference: str) -> Response:
        """This case's report is about another open case: Service.attach, as POST /cases/{ref}/attach (its
        incidents recorded there, its reporter told, this case closed as a duplicate; issue 12 item 6)."""
        user = need(request, *CASE_WORKERS)
        if not REF_RE.match(reference):
            raise CaseNotFound(reference)
        form = await posted(request, user)
        to = form.get("to", "").strip()
        try:
            if not REF_RE.match(to):
                raise InputError("to", "Enter the open case's reference, like ASB-2026-000123")
            out = await service.attach(principal(user), reference, to, form_key(form))
        except (InputError, Refused) as exc:
            message = sentence(exc.message.removeprefix("to: ")) if isinstance(exc, InputError) else \
                f"The case refused: {exc.reason}"
            context = await case_context(user, reference)
            return render(request, "case.html", status=422 if isinstance(exc, InputError) else 409, user=user,
                          errors=[Problem("attach.to", message)], attach_values=form, **context)
        return redirect(f"/cases/{reference}?done=attached&to={out.attached_to}")

    @pages.post("/cases/{reference}/notes")
    async def add_note(request: Request, reference: str) -> Response:
        """A typed note from the case page (004 §3.7): through the API's own Service.add_note, so the same
        roles, access rule, checks, idempotency (the form's key: a double submit writes one note) and audit
        as POST /cases/{ref}/notes. A mistake shows the case page again with GOV.UK's error summary."""
        user = need(request, *sorted(MAY_NOTE))
        if not REF_RE.match(reference):
            raise CaseNotFound(reference)
        form = await posted(request, user)
        body, found = note_body(form, zone)
        try:
            if found:
                raise _FormProblems(found)
            note = NoteInput.model_validate(body)
            await service.add_note(principal(user), reference, note, form_key(form))
        except _FormProblems as exc:
            problems = [Problem(_note_field(name), message) for name, message in exc.problems]
        except InputError as exc:
            problems = [Problem(_note_field(exc.field), sentence(exc.message))]
        except ValidationError as exc:
            problems = [Problem(_note_field(name), message) for name, message in errors_of(exc)]
        else:
            return redirect(f"/cases/{reference}?done=note#notes")
        context = await case_context(user, reference)
        return render(request, "case.html", status=422, user=user, errors=problems, note_values=form, **context)

    @pages.post("/cases/{reference}/commands/{command}")
    async def case_command(request: Request, reference: str, command: str) -> Response:
        """A command from the case page: refused, it shows the case's reason in the error summary."""
        user = need(request, "intake", *CASE_WORKERS)
        form = await posted(request, user)
        if command not in COMMANDS:
            raise StarletteHTTPException(404)
        try:
            args = command_args(command, form, categories, zone, profile.risk_matrix)
            await service.command(principal(user), reference, command, args)
        except (InputError, Refused) as exc:
            if isinstance(exc, InputError):
                name = (exc.field or "").removeprefix("args.")
                problem = Problem(f"{command}.{name}" if name else command, exc.message)
            else:
                problem = Problem(command, f"The case refused: {exc.reason}")
            context = await case_context(user, reference)
            return render(request, "case.html", status=422 if isinstance(exc, InputError) else 409, user=user,
                          errors=[problem], open_form=command, values=form, **context)
        return redirect(f"/cases/{reference}?done={command}#main-content")

    @pages.post("/cases/{reference}/lock")
    async def lock(request: Request, reference: str) -> Response:
        user = need(request, *MANAGERS)
        form = await posted(request, user)
        locking = form.get("locked") == "true"
        reason = form.get("reason", "").strip() or None
        try:
            if locking and not reason:
                raise InputError("lock.reason", "Enter why the case is locked")
            if reason and len(reason) > 200:
                raise InputError("lock.reason", "The reason must be 200 characters or fewer")
            await service.lock(principal(user), reference, locking, reason, None)
        except (InputError, Refused) as exc:
            problem = (Problem(exc.field, exc.message) if isinstance(exc, InputError)
                       else Problem(None, exc.reason))
            context = await case_context(user, reference)
            return render(request, "case.html", status=409 if isinstance(exc, Refused) else 422, user=user,
                          errors=[problem], **context)
        return redirect(f"/cases/{reference}?done={'lock' if locking else 'unlock'}")

    async def posted_file(request: Request, user: WebUser) -> tuple[dict[str, str], UploadFile | None]:
        """The upload form's fields and its file, once its CSRF token matches the session's. The body's size
        is bounded before this by the API's guard (the largest file accepted, plus the usual body limit)."""
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "multipart/form-data":
            raise InputError(None, "the form must be sent as multipart/form-data")
        try:
            data = await request.form(max_files=1, max_fields=EVIDENCE_FORM_FIELDS, max_part_size=MAX_FORM_BYTES)
        except MultiPartException as exc:
            raise InputError(None, "the form could not be read") from exc
        fields = {k: v for k, v in data.items() if isinstance(v, str)}
        if not same(fields.get(CSRF_FIELD), user.csrf):
            raise AuthError(403, "the form has expired or did not come from this service: go back, reload the "
                                 "page and try again")
        upload = data.get("file")
        return fields, upload if isinstance(upload, UploadFile) and upload.filename else None

    @pages.post("/cases/{reference}/evidence")
    async def add_evidence(request: Request, reference: str) -> Response:
        """The case page's upload form: through the API's Service, so the same checks, limits and audit.
        A refusal shows the case page again with the reason on the field it is about."""
        user = need(request, *EVIDENCE_ADDERS)
        if not REF_RE.match(reference):
            raise CaseNotFound(reference)
        form, upload = await posted_file(request, user)
        try:
            if upload is None:
                raise InputError("file", "Select a file to add")
            kind = form.get("kind", "")
            if kind not in EVIDENCE_KINDS:
                raise InputError("kind", "Select what the file is")
            incident_text = form.get("incident_id", "").strip()
            if incident_text and not incident_text.isdigit():
                raise InputError("incident_id", "Select an incident from the list")
            await service.add_evidence(
                principal(user), reference, await upload.read(), filename=upload.filename,
                media_type=upload.content_type, kind=kind, incident_id=int(incident_text) if incident_text else None,
                description=form.get("description", "").strip() or None,
                shareable=form.get("shareable") == "yes", idempotency_key=form_key(form))
        except (InputError, EvidenceRefused, TooLarge) as exc:
            field = exc.field if exc.field in ("file", "kind", "incident_id", "description") else \
                "file" if exc.field in ("media_type", "filename") else None
            message = sentence(exc.message.split("; accepted: ")[0])  # the hint lists what is accepted
            if isinstance(exc, TooLarge):  # GOV.UK's words for it
                message = f"The selected file must be smaller than {file_size(service.evidence.max_bytes)}"
            problem = Problem(f"evidence.{field}" if field else None, message)
            context = await case_context(user, reference)
            return render(request, "case.html", status=413 if isinstance(exc, TooLarge) else 422, user=user,
                          errors=[problem], evidence_values=form, **context)
        return redirect(f"/cases/{reference}?done=evidence#evidence")

    @pages.get("/cases/{reference}/evidence/{evidence_id}")
    async def evidence_file(request: Request, reference: str, evidence_id: int) -> Response:
        """A file, as an attachment that is never shown as a page of ours (api/routes/evidence.py)."""
        user = need(request, *STAFF_ROLES)
        if not REF_RE.match(reference):
            raise CaseNotFound(reference)
        return download(await service.open_evidence(principal(user), reference, evidence_id))

    @pages.post("/cases/{reference}/evidence/{evidence_id}/remove")
    async def remove_evidence(request: Request, reference: str, evidence_id: int) -> Response:
        user = need(request, *EVIDENCE_REMOVERS)
        await posted(request, user)
        if not REF_RE.match(reference):
            raise CaseNotFound(reference)
        try:
            await service.delete_evidence(principal(user), reference, evidence_id)
        except EvidenceDeleteRefused as exc:
            context = await case_context(user, reference)
            return render(request, "case.html", status=409, user=user, errors=[Problem(None, sentence(exc.message))],
                          **context)
        return redirect(f"/cases/{reference}?done=evidence-removed#evidence")

    @pages.get("/cases/{reference}/letters/{letter_id}")
    async def letter(request: Request, reference: str, letter_id: int) -> Response:
        """A letter's PDF, read through the same access rule as the case (a locked case's read is audited)."""
        user = need(request, *STAFF_ROLES)
        if not REF_RE.match(reference):
            raise CaseNotFound(reference)
        pdf = await _in_thread(_letter_pdf, service, user, reference, letter_id)
        if pdf is None:
            raise StarletteHTTPException(404)
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{reference}-letter-{letter_id}.pdf"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    @pages.get("/cases/{reference}/chronology")
    async def chronology(request: Request, reference: str, audience: str = "court") -> Response:
        """The case's chronology as a PDF download, through the API's own door (access rule, audit row)."""
        user = need(request, *MAY_GENERATE)
        if not REF_RE.match(reference):
            raise CaseNotFound(reference)
        if audience not in AUDIENCES:
            raise StarletteHTTPException(404)
        pdf = await PeopleDoor(service).chronology(principal(user), reference, audience)
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{chronology_filename(reference, audience)}"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    # -------------------------------------------------------------------------------- tasks

    @pages.get("/tasks")
    async def tasks(request: Request) -> Response:
        user = need(request, *CASE_WORKERS)
        return render(request, "tasks.html", user=user, tasks=await my_tasks(user), approvals=APPROVAL_COMMANDS,
                      done=request.query_params.get("done"))

    async def my_tasks(user: WebUser) -> list[Any]:
        """An officer's tasks are those on their own cases or taken by them; a manager's, every open task
        at their level or below (the inbox's own visibility rules apply first)."""
        every = await service.tasks(principal(user), role=None, status="open", case_ref=None, assignee=None)
        if user.role in MANAGERS:
            return [t for t in every if _rank(user.role) >= _rank(t.role)]
        own = await _in_thread(_cases_of, service, user.id, sorted({t.case_ref for t in every}))
        return [t for t in every if t.role == "officer" and (t.assignee == user.id or
                                                              (t.assignee is None and t.case_ref in own))]

    async def task_action(request: Request, back: str) -> Response:
        user = need(request, *CASE_WORKERS)
        form = await posted(request, user)
        task_id = form.get("task", "")
        if not TASK_RE.match(task_id):
            raise TaskNotFound(f"no task {task_id}")
        action = form.get("action", "")
        try:
            if action == "claim":
                await service.claim(principal(user), task_id)
            elif action in ("approve", "reject", "done"):
                reason = form.get("reason", "").strip() or None
                if action == "reject" and not reason:
                    raise InputError(_reason_id(task_id), "Enter why you are rejecting it")
                if reason and len(reason) > 10000:
                    raise InputError(_reason_id(task_id), "The reason must be 10,000 characters or fewer")
                await service.decide(principal(user), task_id, action, reason)
            else:
                raise InputError("action", "Choose claim, approve, reject or done")
        except (InputError, Refused) as exc:
            problem = (Problem(exc.field, exc.message) if isinstance(exc, InputError)
                       else Problem(None, f"Task {task_id}: {exc.reason}"))
            if back == "/approvals":
                return await approvals_page(request, user, [problem], 409 if isinstance(exc, Refused) else 422)
            return render(request, "tasks.html", status=409 if isinstance(exc, Refused) else 422, user=user,
                          tasks=await my_tasks(user), approvals=APPROVAL_COMMANDS, errors=[problem])
        return redirect(f"{back}?done={urllib.parse.quote(action)}")

    @pages.post("/tasks")
    async def task_post(request: Request) -> Response:
        return await task_action(request, "/tasks")

    # -------------------------------------------------------------------------------- manager

    async def approvals_page(request: Request, user: WebUser, errors: list[Problem] | None = None,
                             status: int = 200) -> Response:
        open_tasks = await service.tasks(principal(user), role=None, status="open", case_ref=None, assignee=None)
        items = []
        for task in open_tasks:
            if task.kind not in APPROVAL_COMMANDS:
                continue
            view = await service.case_view(principal(user), task.case_ref)
            requested = next((e for e in reversed(view.timeline)
                              if e.get("event") == "task" and e.get("kind") == task.kind), None)
            equality = view.equality_assessments
            items.append({"task": task, "view": view, "requested": requested, "equality": equality})
        return render(request, "approvals.html", status=status, user=user, items=items, errors=errors,
                      done=request.query_params.get("done"))

    @pages.get("/approvals")
    async def approvals(request: Request) -> Response:
        user = need(request, *MANAGERS)
        return await approvals_page(request, user)

    @pages.post("/approvals")
    async def approvals_post(request: Request) -> Response:
        need(request, *MANAGERS)
        return await task_action(request, "/approvals")

    async def dashboard_page(request: Request, user: WebUser, status: int = 200, errors: list[Problem] | None = None,
                             assign: dict[str, str] | None = None) -> Response:
        board = await _in_thread(_dashboard, service, user)
        officers = sorted(o for o, _total, _late in board.workload if o != "(unassigned)")
        assigned = request.query_params.get("assigned", "")
        to = request.query_params.get("to", "")
        return render(request, "dashboard.html", status=status, user=user, board=board, stages=list(_STAGE_ORDER),
                      risks=["high", "medium", "low", "none"], officers=officers, errors=errors, assign=assign or {},
                      assigned=assigned if REF_RE.match(assigned) and ID_PATTERN.match(to) else None, to=to)

    @pages.get("/dashboard")
    async def dashboard(request: Request) -> Response:
        user = need(request, *MANAGERS)
        return await dashboard_page(request, user)

    @pages.post("/dashboard/assign")
    async def dashboard_assign(request: Request) -> Response:
        """Allocate or reassign a case from its dashboard row: the case's own assign_officer command through
        the API's Service, exactly as on the case page (a manager's decision, a reason when the case has an
        officer already: 003 §8-9, 004 §3.1). A refusal shows on the dashboard, on the row's own fields."""
        user = need(request, *MANAGERS)
        form = await posted(request, user)
        reference, row = form.get("case", ""), form.get("row", "")
        if not REF_RE.match(reference) or row not in ("allocate", "overdue", "hate"):
            raise InputError(None, "the form did not name a case on the dashboard: reload the page and try again")
        fid = f"{row}-{reference}"
        try:
            args = command_args("assign_officer", {k: form.get(k, "") for k in ("officer", "reason")}, categories,
                                zone, profile.risk_matrix)
            await service.command(principal(user), reference, "assign_officer", args)
        except (InputError, Refused) as exc:
            if isinstance(exc, InputError):
                name = (exc.field or "").removeprefix("args.")
                problem = Problem(f"{fid}-{name if name in ('officer', 'reason') else 'officer'}",
                                  f"{reference}: {exc.message}")
            else:  # shown by the reason box when one was needed and not given (the case's own rule, 003 §9)
                current = form.get("current", "")
                blank_reason = bool(current) and current != form.get("officer", "").strip() \
                    and not form.get("reason", "").strip()
                problem = Problem(f"{fid}-{'reason' if blank_reason else 'officer'}",
                                  f"{reference}: the case refused: {exc.reason}")
            return await dashboard_page(request, user, 409 if isinstance(exc, Refused) else 422, [problem],
                                        {"row": row, "case": reference, "officer": form.get("officer", "")[:64],
                                         "reason": form.get("reason", "")[:10000]})
        return redirect(f"/dashboard?assigned={reference}&to={urllib.parse.quote(args['officer'])}")

    # -------------------------------------------------------------------------------- partner agencies

    @pages.get("/partner/cases")
    async def partner_cases(request: Request) -> Response:
        """The cases shared with the partner's agency: GET /partner/cases through the same Service (its
        agency from the session's verified claims; every case listed is an audited read; 003 §14-15)."""
        user = need_partner(request)
        listed = await service.partner_cases(principal(user))
        return render(request, "partner_cases.html", user=user, listed=listed,
                      agency_title=sentence(profile.referrals.agencies[listed.agency].title))

    @pages.get("/partner/cases/{reference}")
    async def partner_case(request: Request, reference: str) -> Response:
        """A shared case as the agency may see it, read-only: GET /partner/cases/{ref}'s partition exactly
        (its headline, the referrals to this agency and the people they name, the incidents, notes and
        files marked shareable). Any other case is "not found", like one that does not exist (004 §4.5)."""
        user = need_partner(request)
        if not REF_RE.match(reference):
            raise CaseNotFound(reference)
        case = await service.partner_case(principal(user), reference)
        return render(request, "partner_case.html", user=user, case=case,
                      agency_title=sentence(profile.referrals.agencies[case.agency].title),
                      evidence_kinds=EVIDENCE_KINDS)

    # -------------------------------------------------------------------------------- reports

    report_readers = (*MANAGERS, "auditor")

    def report_period(request: Request, name: str) -> reporting.Period:
        q = request.query_params
        year = q.get("year", "").strip()
        if year and not re.fullmatch(r"\d{4}", year):
            raise reporting.ReportError("a reporting year is given as four digits, e.g. 2025")
        return reporting.period_from(name, month=q.get("month", "").strip()[:7] or None,
                                     year=int(year) if year else None, start=q.get("from", "").strip()[:10] or None,
                                     end=q.get("to", "").strip()[:10] or None, today=datetime.now(UTC).date())

    def report_of(name: str, period: reporting.Period) -> reporting.Report:
        with service.store.session() as session:
            return reporting.build(session, name, service.profile, period)

    @pages.get("/reports")
    async def reports_index(request: Request) -> Response:
        user = need(request, *report_readers)
        return render(request, "reports.html", user=user, profile_title=service.profile.title,
                      reports=[(n, t) for n, (t, _) in reporting.REPORTS.items()],
                      last_month=previous_month(datetime.now(UTC).date()))

    @pages.get("/reports/monthly")
    async def monthly_page(request: Request) -> Response:
        user = need(request, *report_readers)
        month = request.query_params.get("month", "").strip()[:7] or previous_month(datetime.now(UTC).date())
        try:
            reporting.Period.month(month)
        except reporting.ReportError as exc:
            return error_page(request, 422, "That month cannot be shown", str(exc))

        def build() -> dict[str, Any]:
            with service.store.session() as session:
                return monthly_context(session, service.profile, month, datetime.now(UTC), service.profile.title)

        ctx = await _in_thread(build)
        return render(request, "monthly.html", user=user, month=month, period=ctx["period"], figures=ctx["figures"],
                      charts=list(ctx["charts"].values()), sections=ctx["sections"])

    @pages.get("/reports/monthly.pdf")
    async def monthly_pdf(request: Request) -> Response:
        need(request, *report_readers)
        month = request.query_params.get("month", "").strip()[:7]
        try:
            reporting.Period.month(month)
        except reporting.ReportError as exc:
            return error_page(request, 422, "That month cannot be shown", str(exc))
        pdf = (await _in_thread(produce_monthly, service.store, service.profile, month, service.profile.title)).pdf
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="monthly-report-{month}.pdf"', "Cache-Control": "no-store"})

    @pages.get("/reports/{name}")
    async def report_page(request: Request, name: str) -> Response:
        user = need(request, *report_readers)
        csv_wanted = name.endswith(".csv")
        name = name.removesuffix(".csv")
        if name not in reporting.REPORTS:
            return error_page(request, 404, "Page not found", "There is no such report.")
        try:
            report = await _in_thread(report_of, name, report_period(request, name))
        except (reporting.ReportError, ValueError) as exc:
            return error_page(request, 422, "That report cannot be shown", str(exc))
        if csv_wanted:
            return Response(report.to_csv(), media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="{name}-{report.period.start}-{report.period.end}.csv"',
                "Cache-Control": "no-store"})
        query = urllib.parse.urlencode({"from": report.period.start.isoformat(), "to": report.period.end.isoformat()})
        return render(request, "report.html", user=user, report=report, query=query)

    # -------------------------------------------------------------------------------- the closure survey

    survey_answers = [(value, reporting.LABELS[value]) for value in SATISFACTION]

    @pages.get("/survey")
    async def survey_form(request: Request, t: str = "") -> Response:
        """The survey letter's link (no sign-in): the token is checked before the question is shown."""
        try:
            surveys.read_token(t, surveys.survey_key(api_settings.state_dir), datetime.now(UTC),
                               timedelta(days=service.profile.reporting.survey_link_valid_days))
        except surveys.SurveyError as exc:
            return error_page(request, 404, "This link does not work", str(exc))
        return render(request, "survey.html", token=t, answers=survey_answers)

    @pages.post("/survey")
    async def survey_submit(request: Request) -> Response:
        form = await posted(request, None)
        retry_after = limiter.check(request.client.host if request.client else "unknown")
        if retry_after is not None:
            response = render(request, "error.html", status=429, title="Too many answers from this connection",
                              message=f"Please try again in {int(retry_after)} seconds.")
            response.headers["Retry-After"] = str(int(retry_after))
            return response
        token, answer = form.get("t", ""), form.get("satisfaction", "")
        if answer not in SATISFACTION:
            return render(request, "survey.html", status=422, token=token[:surveys.TOKEN_MAX], answers=survey_answers,
                          errors=[Problem("satisfaction-1", "Choose how satisfied or dissatisfied you are")])

        def write() -> None:
            with service.store.session() as session, session.begin():
                surveys.answer_by_link(session, token, answer, surveys.survey_key(api_settings.state_dir),
                                       datetime.now(UTC),
                                       timedelta(days=service.profile.reporting.survey_link_valid_days))

        try:
            await _in_thread(write)
        except surveys.SurveyError as exc:
            if exc.status == 409:
                return render(request, "survey_done.html", message="We already have your answer. Thank you.")
            return error_page(request, exc.status, "This link does not work", str(exc))
        return render(request, "survey_done.html", message="Your answer helps us improve the service.")

    # -------------------------------------------------------------------------------- intake and search

    @pages.get("/search")
    async def search(request: Request, q: str = "") -> Response:
        user = need(request, *STAFF_ROLES)
        results = await _in_thread(_search, service, user, q) if q.strip() else []
        return render(request, "search.html", user=user, q=q[:100], results=results, searched=bool(q.strip()))

    def report_from_form(form: dict[str, str], public: bool) -> dict[str, Any]:
        """The report as the API's JSON body, from the form's flat fields (blank ones left out)."""

        def text(name: str) -> str | None:
            value = form.get(name, "").strip()
            return value or None

        def flag(name: str) -> bool:
            return form.get(name) in ("yes", "true", "on")

        anonymous = form.get("anonymous") == "yes"
        reporter: dict[str, Any] = {"anonymous": anonymous}
        for key in ("name", "address", "postcode", "email", "phone", "contact_method"):
            if not anonymous and text(f"reporter.{key}"):
                reporter[key] = text(f"reporter.{key}")
        if not anonymous:
            reporter["consents"] = {"action": flag("reporter.consent_action")}
        flags = [v for v in VULNERABILITIES if flag(f"reporter.vulnerability.{v}")]
        if flags and not public:  # staff record a reporter's vulnerability (004 §3.4); the public form asks none
            reporter["vulnerabilities"] = flags
        reported = {k: text(f"reported_person.{k}") for k in ("name", "address", "postcode")
                    if text(f"reported_person.{k}")}
        occurred = text("incident.occurred_at")
        incident: dict[str, Any] = {k: text(f"incident.{k}") for k in ("location", "description")
                                    if text(f"incident.{k}")}
        if occurred:
            incident["occurred_at"] = local_time(occurred, zone, "incident.occurred_at")
        body: dict[str, Any] = {
            "category": text("category") or "", "hate": flag("hate"),
            "violence_or_threats": flag("violence_or_threats"), "risk_of_harm": flag("risk_of_harm"),
            "tried_to_resolve": flag("tried_to_resolve"), "reporter": reporter, "incident": incident,
        }
        if text("hate_strand"):
            body["hate_strand"] = text("hate_strand")
        try:
            body["incidents_last_month"] = int(text("incidents_last_month") or "1")
        except ValueError as exc:
            raise InputError("incidents_last_month", "How many times in the last month: enter a number") from exc
        if reported:
            body["reported_person"] = reported
        if not public:
            if text("officer"):
                body["officer"] = text("officer")
            body["channel"] = text("channel") or "phone"
            if not incident.get("occurred_at"):
                body.pop("incident")
        return body

    def triage_of(report: ReportIn | PublicReportIn) -> TriageResult:
        return triage(TriageInput(
            category=report.category, hate=report.hate, violence_or_threats=report.violence_or_threats,
            incidents_last_month=report.incidents_last_month, risk_of_harm=report.risk_of_harm,
            tried_to_resolve=report.tried_to_resolve), profile)

    def as_opened(report: ReportIn) -> TriageResult:
        """The triage as the case will open: a vulnerable reporter's enquiry is at least the matrix's floor
        (statemachine.catalogue.raise_for_vulnerable_reporter; 003 §10, 004 §3.4-3.5)."""
        result = triage_of(report)
        if result.outcome != "enquiry" or result.risk is None:
            return result
        raised = with_vulnerable_floor(profile.risk_matrix, result.risk, bool(report.reporter.vulnerabilities))
        if raised == result.risk:
            return result
        return result.model_copy(update={"risk": raised, "reasons": [*result.reasons, "vulnerable reporter"]})

    def report_problems(form: dict[str, str], public: bool) -> tuple[Any, list[Problem]]:
        try:
            body = report_from_form(form, public)
            model: ReportIn | PublicReportIn = (PublicReportIn if public else ReportIn).model_validate(body)
            if public:
                service.check_report(model.to_intake())  # type: ignore[union-attr]
            else:
                service.check_report(model)  # type: ignore[arg-type]
        except InputError as exc:
            return None, [Problem(exc.field, exc.message)]
        except ValidationError as exc:
            return None, [Problem(f, m) for f, m in errors_of(exc)]
        return model, []

    def report_context() -> dict[str, Any]:
        # A fresh Idempotency-Key per form shown: a double submit, or a resend after a time-out, is the
        # same report and opens one case (issue 9 item 5), exactly as the API's header does.
        return {"categories": categories, "strands": list(profile.categories.hate_strands),
                "contact_methods": ["phone", "email", "sms", "letter"], "idempotency_key": uuid.uuid4().hex,
                "vulnerabilities": list(VULNERABILITIES)}

    def form_key(form: dict[str, str]) -> str | None:
        key = form.get(IDEMPOTENCY_FIELD, "")
        return key if re.fullmatch(KEY_PATTERN, key) else None

    @pages.get("/intake/report")
    async def intake_form(request: Request) -> Response:
        user = need(request, "intake", *CASE_WORKERS)
        return render(request, "intake.html", user=user, values={}, **report_context())

    @pages.post("/intake/report")
    async def intake_check(request: Request) -> Response:
        """Step one: validate and triage, and show the outcome before anything is saved."""
        user = need(request, "intake", *CASE_WORKERS)
        form = await posted(request, user)
        model, problems = report_problems(form, public=False)
        if problems:
            return render(request, "intake.html", status=422, user=user, errors=problems, values=form,
                          **report_context())
        hidden = {k: v for k, v in form.items() if k not in (CSRF_FIELD, "confirm")}
        terms = [form.get(k, "").strip() for k in ("reported_person.name", "reported_person.postcode",
                                                    "reported_person.address", "reporter.postcode")]
        matches = await _in_thread(_matches, service, user, [t for t in terms if len(t) >= 3])
        return render(request, "intake_confirm.html", user=user, result=as_opened(model), report=model,
                      hidden={k: v for k, v in hidden.items() if k != ATTACH_FIELD}, matches=matches,
                      first_response=profile.first_response, may_attach=user.role in CASE_WORKERS)

    @pages.post("/intake/report/edit")
    async def intake_edit(request: Request) -> Response:
        user = need(request, "intake", *CASE_WORKERS)
        form = await posted(request, user)
        return render(request, "intake.html", user=user, values=form, **report_context())

    @pages.post("/intake/report/confirm")
    async def intake_save(request: Request) -> Response:
        user = need(request, "intake", *CASE_WORKERS)
        form = await posted(request, user)
        model, problems = report_problems(form, public=False)
        if problems:
            return render(request, "intake.html", status=422, user=user, errors=problems, values=form,
                          **report_context())
        to = form.get(ATTACH_FIELD, "").strip()
        if to and (not REF_RE.match(to) or user.role not in CASE_WORKERS):
            raise InputError(ATTACH_FIELD, "Choose one of the open cases offered, or to open a new case")
        key = form_key(form)
        out = await service.log_report(principal(user), model, key)
        linked, not_linked = None, None
        if to and out.attached_to is None and out.reference:
            # "This is about an open case": the new case's report goes there at once, through the same
            # Service.attach as POST /cases/{ref}/attach (incidents recorded there, the reporter told, this
            # case closed as a duplicate with no closure letter: the Regulator's NM01 rule; issue 12 item 6).
            try:
                linked = await service.attach(principal(user), out.reference, to, f"{key}-attach" if key else None)
            except (InputError, Refused) as exc:
                not_linked = sentence(exc.message if isinstance(exc, InputError) else exc.reason)
        return render(request, "intake_done.html", user=user, reference=out.reference, status_out=out.status,
                      attached_to=out.attached_to, matches=out.matches, linked=linked, not_linked=not_linked,
                      chosen=to, may_attach=user.role in CASE_WORKERS)

    # -------------------------------------------------------------------------------- public

    @pages.get("/report")
    async def public_form(request: Request) -> Response:
        return render(request, "public_report.html", values={}, **report_context())

    @pages.post("/report")
    async def public_submit(request: Request) -> Response:
        """The online form, under the same per-address limit as POST /public/reports (one counter)."""
        form = await posted(request, None)
        retry_after = limiter.check(request.client.host if request.client else "unknown")
        if retry_after is not None:
            response = render(request, "error.html", status=429, title="Too many reports from this connection",
                              message=f"Please try again in {int(retry_after)} seconds, or phone us.")
            response.headers["Retry-After"] = str(int(retry_after))
            return response
        model, problems = report_problems(form, public=True)
        if problems:
            return render(request, "public_report.html", status=422, errors=problems, values=form,
                          **report_context())
        reference, _created, _started = await service.log_public_report(model.to_intake(), form_key(form))
        result = triage_of(model)
        days = profile.first_response.for_risk(result.risk or "low")
        return render(request, "public_done.html", reference=reference, result=result, days=days,
                      anonymous=model.reporter.anonymous)

    return pages


# ------------------------------------------------------------------------------------ helpers

#: The hidden field that carries a report form's Idempotency-Key.
IDEMPOTENCY_FIELD = "idempotency_key"
#: The triage page's choice of the open case a report is about (blank: open a new case).
ATTACH_FIELD = "attach_to"

_STAGE_ORDER = ("enquiry", "investigation", "review", "interventions", "legal")
_RANKS = {"officer": 1, "manager": 2, "senior_manager": 3}


def _rank(role: str) -> int:
    return _RANKS.get(role, 0)


def _nav(user: WebUser | None, path: str) -> list[dict[str, Any]]:
    if user is None:
        return []
    items: list[tuple[str, str]] = []
    if user.role == PARTNER:  # a partner sees its agency's shared cases, and nothing else of this service
        return [{"href": PREFIX + "/partner/cases", "text": "Shared cases",
                 "active": path.startswith(PREFIX + "/partner/cases")}]
    if user.role in ("officer", "manager", "senior_manager"):
        items.append(("/my-cases", "My cases"))
        items.append(("/tasks", "My tasks"))
    if user.role in MANAGERS:
        items += [("/dashboard", "Team dashboard"), ("/approvals", "Approvals"), ("/reports", "Reports")]
    elif user.role == "auditor":
        items.append(("/reports", "Reports"))
    if user.role in ("intake", "officer", "manager", "senior_manager"):
        items.append(("/intake/report", "Log a report"))
    items.append(("/search", "Search"))
    return [{"href": PREFIX + href, "text": text, "active": path == PREFIX + href} for href, text in items]


async def _in_thread(fn: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(fn, *args)


def _letters(service: Service, reference: str) -> list[queries.Letter]:
    with service.store.session() as session:
        return queries.letters(session, reference)


def _letter_pdf(service: Service, user: WebUser, reference: str, letter_id: int) -> bytes | None:
    with service.store.session() as session, session.begin():
        open_case(session, reference, user.role, user.id, purpose="letter")
        path = queries.letter_path(session, reference, letter_id)
    if not path:
        return None
    file = Path(path)
    if not file.is_file():
        return None
    if file.suffix == ".pdf":
        return file.read_bytes()
    if file.suffix == ".eml":
        message = email.message_from_bytes(file.read_bytes(), policy=email.policy.default)
        for part in message.walk():
            if part.get_content_type() == "application/pdf":
                payload = part.get_payload(decode=True)
                return payload if isinstance(payload, bytes) else None
    return None


def _dashboard(service: Service, user: WebUser) -> queries.Dashboard:
    with service.store.session() as session, session.begin():
        return queries.dashboard(session, user.role, user.id, service.profile)


def _search(service: Service, user: WebUser, text: str) -> list[tuple[Any, list[str]]]:
    with service.store.session() as session, session.begin():
        return queries.search(session, text, user.role, user.id)


def _note_field(name: str | None) -> str | None:
    """The note form's field a problem is about (its id on the page is this with '-' for '.' and '_'):
    a person on the case ticked is the people box; someone else's details are the 'someone else' boxes."""
    if not name:
        return None
    parts = name.split(".")
    if parts[0] == "people":
        return f"note.other.{parts[-1]}" if parts[-1] in ("name", "organisation", "role") else "note.people"
    return "note." + name if parts[0] in ("kind", "text", "at", "other") else None


def _reason_id(task_id: str) -> str:
    """The id of a task's reason box: task ids hold '/' and ':', which fragment links dislike."""
    return "reason-" + re.sub(r"[^A-Za-z0-9-]", "-", task_id)


def _cases_of(service: Service, officer: str, refs: list[str]) -> set[str]:
    if not refs:
        return set()
    with service.store.session() as session:
        return set(session.scalars(select(CaseRow.reference).where(CaseRow.reference.in_(refs),
                                                                   CaseRow.officer == officer)))


async def _bounded_body(request: Request) -> bytes:
    """The request body, refused once it passes the form limit, without reading the rest into memory."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise InputError(None, "the form is too large")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            raise InputError(None, "the form is too large")
    return bytes(body)


def _matches(service: Service, user: WebUser, terms: list[str]) -> list[tuple[Any, list[str]]]:
    """Open cases that may be about the same people or place, for intake to check before opening a new
    one (only cases this person may see; reads of locked ones are audited as in search)."""
    found: dict[str, tuple[Any, list[str]]] = {}
    with service.store.session() as session, session.begin():
        for term in terms[:4]:
            for case, names in queries.search(session, term, user.role, user.id):
                if case.stage != "closed":
                    entry = found.setdefault(case.reference, (case, []))
                    entry[1].extend(n for n in [*names, term] if n not in entry[1])
    return list(found.values())[:10]
