"""`asb case ...` and `asb tasks ...`: the HTTP API from a terminal or a script.

It talks to ASB_API_URL (default http://127.0.0.1:8000, what `asb up` serves) with the bearer token
from ASB_TOKEN or --token, and does nothing the API would not: every rule is the server's. Answers
are printed as JSON (one object per line for lists), so a script can pipe them; any refusal is one line
on stderr with the API's own reason and exit code 2, like every other `asb` command.

`asb token ROLE` mints a local-mode token from the key `asb up` keeps in the state folder, and
`asb api` serves the API alone, as a deployment runs it beside its workers.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from asb.base import Parser
from asb.errors import UsageError

DEFAULT_API_URL = "http://127.0.0.1:8000"
TIMEOUT_SECONDS = 60.0


def _emit(data: Any) -> None:
    print(json.dumps(data, default=str))


def commands_help() -> str:
    """The case commands, from the catalogue: what `asb case do --help` lists."""
    from statemachine.catalogue import COMMANDS

    width = max(len(name) for name in COMMANDS)
    lines = [f"  {spec.name.ljust(width)}  {spec.summary}" for spec in COMMANDS.values()]
    return "commands (GET /commands gives their arguments):\n" + "\n".join(lines)


def _token(args: argparse.Namespace) -> str:
    token = args.token or os.environ.get("ASB_TOKEN")
    if not token:
        raise UsageError("no token: set ASB_TOKEN or pass --token (`asb up` prints local ones)")
    return str(token).strip()


def _base_url(args: argparse.Namespace) -> str:
    return str(args.api_url or os.environ.get("ASB_API_URL") or DEFAULT_API_URL).rstrip("/")


def _call(args: argparse.Namespace, method: str, path: str, *, params: dict[str, Any] | None = None,
          body: Any = None, idempotency_key: str | None = None) -> Any:
    """One request; a 4xx or 5xx answer, or no answer at all, becomes a UsageError with the reason."""
    import httpx

    url = _base_url(args)
    query = {k: v for k, v in (params or {}).items() if v is not None}
    headers = {"Authorization": f"Bearer {_token(args)}", "Accept": "application/json"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    try:
        response = httpx.request(method, f"{url}{path}", params=query, json=body, timeout=TIMEOUT_SECONDS,
                                 headers=headers)
    except httpx.HTTPError as exc:
        raise UsageError(f"cannot reach the API at {url}: {exc}") from exc
    if response.status_code >= 400:
        raise UsageError(f"{response.status_code}: {_reason(response)}")
    return response.json() if response.content else None


def _reason(response: Any) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str) and detail:
        return detail
    return str(response.reason_phrase or "error")


def _ref(text: str) -> str:
    return quote(text, safe="")


def _task(text: str) -> str:
    return quote(text, safe="/")  # task ids such as ASB-2026-000123/14 keep their slash


def parse_value(text: str) -> Any:
    """`--arg key=value`: JSON when it parses (numbers, true, null, objects), else the text as it is."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_arg_pairs(pairs: list[str]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--arg: {pair!r} is not key=value")
        args[key.strip()] = parse_value(value)
    return args


# ---------------------------------------------------------------------------------------------- commands


def cmd_case_report(args: argparse.Namespace) -> int:
    try:
        report = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"{args.file}: no such file") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{args.file}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(report, dict):
        raise UsageError(f"{args.file}: a report must be a JSON object")
    _emit(_call(args, "POST", "/reports", body=report, idempotency_key=args.idempotency_key))
    return 0


def cmd_case_show(args: argparse.Namespace) -> int:
    _emit(_call(args, "GET", f"/cases/{_ref(args.ref)}"))
    return 0


def cmd_case_list(args: argparse.Namespace) -> int:
    params = {"stage": args.stage, "risk": args.risk, "officer": args.officer, "limit": args.limit,
              "overdue": "true" if args.overdue else None}
    for case in _call(args, "GET", "/cases", params=params)["cases"]:
        _emit(case)
    return 0


def cmd_case_do(args: argparse.Namespace) -> int:
    body = {"args": parse_arg_pairs(args.arg or [])}
    _emit(_call(args, "POST", f"/cases/{_ref(args.ref)}/commands/{_ref(args.command_name)}", body=body,
                idempotency_key=args.idempotency_key))
    return 0


NOTE_KINDS = ("call", "visit", "interview", "meeting", "multi_agency_meeting", "request_for_information", "other")


def parse_other(text: str) -> dict[str, str]:
    """`--with "NAME; ORGANISATION; ROLE"`: someone involved who is not on the case (any part may be empty)."""
    parts = [part.strip() for part in text.split(";")]
    if len(parts) > 3 or not any(parts):
        raise UsageError(f"--with: {text!r} is not NAME; ORGANISATION; ROLE (e.g. \"PC Jones; Thames Valley Police\")")
    found = dict(zip(("name", "organisation", "role"), parts, strict=False))
    return {k: v for k, v in found.items() if v}


def cmd_case_note(args: argparse.Namespace) -> int:
    people: list[dict[str, str]] = [{"person_id": person} for person in args.person or []]
    people += [parse_other(text) for text in args.with_ or []]
    body: dict[str, Any] = {"kind": args.kind, "text": args.text, "people": people}
    if args.at:
        body["at"] = args.at
    _emit(_call(args, "POST", f"/cases/{_ref(args.ref)}/notes", body=body, idempotency_key=args.idempotency_key))
    return 0


def cmd_case_attach(args: argparse.Namespace) -> int:
    _emit(_call(args, "POST", f"/cases/{_ref(args.ref)}/attach", body={"to": args.to},
                idempotency_key=args.idempotency_key))
    return 0


def cmd_tasks_list(args: argparse.Namespace) -> int:
    params = {"role": args.role, "case": args.case, "status": args.status}
    for task in _call(args, "GET", "/tasks", params=params)["tasks"]:
        _emit(task)
    return 0


def cmd_tasks_claim(args: argparse.Namespace) -> int:
    _emit(_call(args, "POST", f"/tasks/{_task(args.id)}/claim"))
    return 0


def cmd_tasks_decide(args: argparse.Namespace) -> int:
    body = {"decision": args.decision, "reason": args.reason}
    _emit(_call(args, "POST", f"/tasks/{_task(args.id)}/decide", body=body))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from api.auth import ROLES, LocalKeys

    if args.role not in ROLES:
        raise UsageError(f"unknown role {args.role!r}; roles: {', '.join(ROLES)}")
    state = Path(args.state_dir or os.environ.get("ASB_STATE_DIR", ".asb")).resolve()
    if not (state / "api-signing-key.pem").exists():
        raise UsageError(f"no local signing key in {state}: run `asb up` there first (or pass --state-dir)")
    print(LocalKeys(state).mint(args.role, args.id or args.role, ttl=timedelta(hours=args.hours)))
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import asyncio

    from api.serve import run_api

    try:
        asyncio.run(run_api(args.host, args.port, forwarded_allow_ips=args.forwarded_allow_ips))
    except ValueError as exc:  # settings such as half an OIDC configuration
        raise UsageError(str(exc)) from exc
    return 0


IDEMPOTENCY_HELP = ("any value unique to this request (a UUID); give the same one again when retrying after "
                    "a 504 or no answer, and it is applied only once")


def register(sub: Any) -> None:
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument("--api-url", default=None, help=f"the API (ASB_API_URL, default {DEFAULT_API_URL})")
    connection.add_argument("--token", default=None, help="bearer token (default: ASB_TOKEN)")

    case = sub.add_parser("case", help="report, show, list and work cases through the API").add_subparsers(
        dest="case_command", required=True, parser_class=Parser)
    p = case.add_parser("report", parents=[connection], help="log a report from a JSON file")
    p.add_argument("file", help="REPORT.json (the body of POST /reports)")
    p.add_argument("--idempotency-key", metavar="KEY", help=IDEMPOTENCY_HELP)
    p.set_defaults(func=cmd_case_report)
    p = case.add_parser("show", parents=[connection], help="a case with its timeline and what may be done next")
    p.add_argument("ref")
    p.set_defaults(func=cmd_case_show)
    p = case.add_parser("list", parents=[connection], help="cases, newest first (one JSON object a line)")
    p.add_argument("--stage", choices=["enquiry", "investigation", "review", "interventions", "legal", "closed"])
    p.add_argument("--risk", choices=["high", "medium", "low"])
    p.add_argument("--officer")
    p.add_argument("--overdue", action="store_true", help="only cases with a deadline passed")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=cmd_case_list)
    p = case.add_parser("do", parents=[connection], help="issue a case command, e.g. record_contact",
                        epilog=commands_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ref")
    p.add_argument("command_name", metavar="COMMAND")
    p.add_argument("--arg", action="append", metavar="KEY=VALUE",
                   help="a command argument; the value is read as JSON if it parses, else as text (repeatable)")
    p.add_argument("--idempotency-key", metavar="KEY", help=IDEMPOTENCY_HELP)
    p.set_defaults(func=cmd_case_do)

    p = case.add_parser("note", parents=[connection], help="write a case note: a call, visit, interview, meeting "
                        "or request for information, with the people involved")
    p.add_argument("ref")
    p.add_argument("--kind", required=True, choices=NOTE_KINDS)
    p.add_argument("--text", required=True, help="what happened: concise and factual (it may be disclosed)")
    p.add_argument("--at", default=None, help="when it happened, ISO 8601 with its zone (default: now)")
    p.add_argument("--person", action="append", metavar="PERSON_ID", help="someone on the case involved (repeatable)")
    p.add_argument("--with", dest="with_", action="append", metavar="NAME; ORGANISATION; ROLE",
                   help="someone else involved, e.g. \"PC Jones; Thames Valley Police\" (repeatable)")
    p.add_argument("--idempotency-key", metavar="KEY", help=IDEMPOTENCY_HELP)
    p.set_defaults(func=cmd_case_note)
    p = case.add_parser("attach", parents=[connection], help="attach this case's report to the open case it is "
                        "about (as an incident) and close this one as a duplicate")
    p.add_argument("ref", help="the case whose report is a further report about another")
    p.add_argument("--to", required=True, metavar="REF", help="the open case it is about")
    p.add_argument("--idempotency-key", metavar="KEY", help=IDEMPOTENCY_HELP)
    p.set_defaults(func=cmd_case_attach)

    tasks = sub.add_parser("tasks", help="the task inbox through the API").add_subparsers(
        dest="tasks_command", required=True, parser_class=Parser)
    p = tasks.add_parser("list", parents=[connection], help="open tasks (one JSON object a line)")
    p.add_argument("--role", choices=["intake", "officer", "manager", "senior_manager"])
    p.add_argument("--case", help="only this case's tasks")
    p.add_argument("--status", default="open")
    p.set_defaults(func=cmd_tasks_list)
    p = tasks.add_parser("claim", parents=[connection], help="take a task")
    p.add_argument("id")
    p.set_defaults(func=cmd_tasks_claim)
    p = tasks.add_parser("decide", parents=[connection], help="approve, reject or complete a task")
    p.add_argument("id")
    p.add_argument("decision", choices=["approve", "reject", "done"])
    p.add_argument("--reason", default=None, help="why (kept in the case file)")
    p.set_defaults(func=cmd_tasks_decide)

    p = sub.add_parser("token", help="mint a local-mode API token (from `asb up`'s key)")
    p.add_argument("role")
    p.add_argument("--id", default=None, help="the person's id (default: the role)")
    p.add_argument("--hours", type=float, default=12.0)
    p.add_argument("--state-dir", default=None)
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("api", help="serve the HTTP API alone (production: TEMPORAL_ADDRESS, ASB_DATABASE_URL)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--forwarded-allow-ips", default=None,
                   help="a reverse proxy's address(es) whose X-Forwarded-For is believed "
                        "(ASB_FORWARDED_ALLOW_IPS; default: none)")
    p.set_defaults(func=cmd_api)

    up = sub.choices.get("up")
    if up is not None:
        from asb.up import add_api_options

        add_api_options(up)

