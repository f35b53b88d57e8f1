"""`asb case ...`, `asb evidence ...` and `asb tasks ...`: the HTTP API from a terminal or a script.

It talks to ASB_API_URL (default http://127.0.0.1:8000, what `asb up` serves) with the bearer token
from ASB_TOKEN or --token, and does nothing the API would not: every rule is the server's. Answers
are printed as JSON (one object per line for lists), so a script can pipe them; any refusal is one line
on stderr with the API's own reason and exit code 2, like every other `asb` command.

`asb case share`, `asb case shareable` and `asb case agencies` share a case with a partner agency and
mark what it may see; `asb partner ...` is what a partner agency's staff run (their token names their
agency: `asb token partner --agency victim_support`).

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


def _send(args: argparse.Namespace, method: str, path: str, *, params: dict[str, Any] | None = None,
          body: Any = None, idempotency_key: str | None = None, form: dict[str, str] | None = None,
          files: dict[str, tuple[str, bytes, str]] | None = None, accept: str = "application/json") -> Any:
    """One request, answered; a 4xx or 5xx answer, or no answer at all, becomes a UsageError with the reason."""
    import httpx

    url = _base_url(args)
    query = {k: v for k, v in (params or {}).items() if v is not None}
    headers = {"Authorization": f"Bearer {_token(args)}", "Accept": accept}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    content: dict[str, Any] = {"data": form, "files": files} if files is not None else {"json": body}
    try:
        response = httpx.request(method, f"{url}{path}", params=query, timeout=TIMEOUT_SECONDS, headers=headers,
                                 **content)
    except httpx.HTTPError as exc:
        raise UsageError(f"cannot reach the API at {url}: {exc}") from exc
    if response.status_code >= 400:
        raise UsageError(f"{response.status_code}: {_reason(response)}")
    return response


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    """One request; its JSON answer (None when empty)."""
    response = _send(args, method, path, **kwargs)
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


def cmd_case_agencies(args: argparse.Namespace) -> int:
    for agency in _call(args, "GET", "/agencies")["agencies"]:
        _emit(agency)
    return 0


def cmd_case_share(args: argparse.Namespace) -> int:
    body = {"agency": args.agency, "shared": not args.stop}
    _emit(_call(args, "POST", f"/cases/{_ref(args.ref)}/shares", body=body))
    return 0


def cmd_case_shareable(args: argparse.Namespace) -> int:
    body = {"item": args.item, "id": args.id, "shareable": not args.no}
    _emit(_call(args, "POST", f"/cases/{_ref(args.ref)}/shareable", body=body))
    return 0


def cmd_partner_cases(args: argparse.Namespace) -> int:
    for case in _call(args, "GET", "/partner/cases")["cases"]:
        _emit(case)
    return 0


def cmd_partner_show(args: argparse.Namespace) -> int:
    _emit(_call(args, "GET", f"/partner/cases/{_ref(args.ref)}"))
    return 0


def cmd_partner_outcome(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"outcome": args.outcome}
    if args.follow_up:
        body["follow_up"] = args.follow_up
    if args.note:
        body["note"] = args.note
    _emit(_call(args, "POST", f"/partner/cases/{_ref(args.ref)}/referrals/{_ref(args.referral)}/outcome",
                body=body, idempotency_key=args.idempotency_key))
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


def _evidence_path(args: argparse.Namespace) -> str:
    """The file's own address, from its details (GET /evidence/{id} names its case)."""
    info = _call(args, "GET", f"/evidence/{args.id}")
    return f"/cases/{_ref(str(info['case_ref']))}/evidence/{args.id}"


def cmd_evidence_add(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        content = path.read_bytes()
    except FileNotFoundError as exc:
        raise UsageError(f"{args.file}: no such file") from exc
    except IsADirectoryError as exc:
        raise UsageError(f"{args.file}: is a folder, not a file") from exc
    form = {"kind": args.kind}
    if args.incident is not None:
        form["incident_id"] = str(args.incident)
    if args.description is not None:
        form["description"] = args.description
    if args.provided_by is not None:
        form["provided_by"] = args.provided_by
    if args.shareable:
        form["shareable"] = "true"
    # Sent as bytes of no declared type: the API tells what the file is from its bytes (and its name's ending).
    files = {"file": (path.name, content, "application/octet-stream")}
    _emit(_call(args, "POST", f"/cases/{_ref(args.ref)}/evidence", form=form, files=files,
                idempotency_key=args.idempotency_key))
    return 0


def cmd_evidence_list(args: argparse.Namespace) -> int:
    for item in _call(args, "GET", f"/cases/{_ref(args.ref)}/evidence")["evidence"]:
        _emit(item)
    return 0


def cmd_evidence_get(args: argparse.Namespace) -> int:
    """Write the file to --out, only once all of it has arrived and matches the digest the API gives."""
    import base64
    import hashlib

    out = Path(args.out)
    if out.is_dir():
        raise UsageError(f"--out {args.out}: is a folder; give the file's path")
    if out.exists() and not args.force:
        raise UsageError(f"--out {args.out}: already exists (use --force to replace it)")
    response = _send(args, "GET", _evidence_path(args), accept="*/*")
    digest = hashlib.sha256(response.content).digest()
    given = response.headers.get("Repr-Digest", "")
    if given and given != f"sha-256=:{base64.b64encode(digest).decode('ascii')}:":
        raise UsageError(f"evidence {args.id}: the bytes received do not match their digest; try again")
    partial = out.with_name(f".{out.name}.partial")
    try:
        partial.write_bytes(response.content)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    _emit({"id": args.id, "path": str(out), "size": len(response.content), "sha256": digest.hex(),
           "media_type": response.headers.get("Content-Type")})
    return 0


def cmd_evidence_share(args: argparse.Namespace) -> int:
    _emit(_call(args, "PATCH", _evidence_path(args), body={"shareable": not args.no}))
    return 0


def cmd_evidence_delete(args: argparse.Namespace) -> int:
    _emit(_call(args, "DELETE", _evidence_path(args)))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    import re
    from datetime import timedelta

    from api.auth import ALL_ROLES, PARTNER, LocalKeys
    from policy.model import AGENCY_ID_PATTERN

    if args.role not in ALL_ROLES:
        raise UsageError(f"unknown role {args.role!r}; roles: {', '.join(ALL_ROLES)}")
    if (args.role == PARTNER) != (args.agency is not None):
        raise UsageError("--agency AGENCY is needed for a partner token, and only for one")
    if args.agency is not None and not re.match(AGENCY_ID_PATTERN, args.agency):
        raise UsageError(f"--agency: {args.agency!r} is not an agency id (lower-case letters, digits and _)")
    state = Path(args.state_dir or os.environ.get("ASB_STATE_DIR", ".asb")).resolve()
    if not (state / "api-signing-key.pem").exists():
        raise UsageError(f"no local signing key in {state}: run `asb up` there first (or pass --state-dir)")
    print(LocalKeys(state).mint(args.role, args.id or args.role, ttl=timedelta(hours=args.hours), agency=args.agency))
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
    from casefile.evidence import KINDS

    evidence = sub.add_parser("evidence", help="files on a case through the API: add, list, get, share, delete"
                              ).add_subparsers(dest="evidence_command", required=True, parser_class=Parser)
    p = evidence.add_parser("add", parents=[connection], help="add a file (recording, photo, diary sheet...) to a case")
    p.add_argument("ref")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--kind", required=True, choices=KINDS, help="what it is")
    p.add_argument("--incident", type=int, metavar="N", help="the id of the case's incident it is about")
    p.add_argument("--description", metavar="TEXT", help="what it shows")
    p.add_argument("--provided-by", metavar="PERSON_ID", help="the party who gave it")
    p.add_argument("--shareable", action="store_true", help="may be shared with partner agencies (default: no)")
    p.add_argument("--idempotency-key", metavar="KEY", help=IDEMPOTENCY_HELP)
    p.set_defaults(func=cmd_evidence_add)
    p = evidence.add_parser("list", parents=[connection], help="a case's files (one JSON object a line)")
    p.add_argument("ref")
    p.set_defaults(func=cmd_evidence_list)
    p = evidence.add_parser("get", parents=[connection], help="download a file (checked against its digest)")
    p.add_argument("id", type=int)
    p.add_argument("--out", required=True, metavar="PATH", help="where to write it")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_evidence_get)
    p = evidence.add_parser("share", parents=[connection], help="mark a file as shareable with partner agencies")
    p.add_argument("id", type=int)
    p.add_argument("--no", action="store_true", help="mark it not shareable instead")
    p.set_defaults(func=cmd_evidence_share)
    p = evidence.add_parser("delete", parents=[connection],
                            help="remove a file (managers; or whoever added it, within an hour)")
    p.add_argument("id", type=int)
    p.set_defaults(func=cmd_evidence_delete)

    p = case.add_parser("agencies", parents=[connection], help="the partner agencies cases may be referred to")
    p.set_defaults(func=cmd_case_agencies)
    p = case.add_parser("share", parents=[connection], help="share a case with a partner agency (or --stop)")
    p.add_argument("ref")
    p.add_argument("agency", help="an agency id (asb case agencies)")
    p.add_argument("--stop", action="store_true", help="stop sharing the case with the agency")
    p.set_defaults(func=cmd_case_share)
    p = case.add_parser("shareable", parents=[connection],
                        help="mark an incident, a note or an evidence file as shareable with partner agencies "
                             "(or --no)")
    p.add_argument("ref")
    p.add_argument("item", choices=["incident", "note", "evidence"])
    p.add_argument("id", type=int, help="its id (asb case show lists them)")
    p.add_argument("--no", action="store_true", help="no longer shareable")
    p.set_defaults(func=cmd_case_shareable)

    partner = sub.add_parser("partner", help="a partner agency's view: the cases shared with it").add_subparsers(
        dest="partner_command", required=True, parser_class=Parser)
    p = partner.add_parser("cases", parents=[connection], help="cases shared with your agency (one JSON a line)")
    p.set_defaults(func=cmd_partner_cases)
    p = partner.add_parser("show", parents=[connection], help="a case shared with your agency")
    p.add_argument("ref")
    p.set_defaults(func=cmd_partner_show)
    p = partner.add_parser("outcome", parents=[connection], help="record what became of a referral to your agency")
    p.add_argument("ref")
    p.add_argument("referral", help="the referral's id, e.g. referral-3")
    p.add_argument("outcome", choices=["accepted", "no_response", "declined", "completed", "withdrawn"])
    p.add_argument("--follow-up", metavar="YYYY-MM-DD", default=None, help="when to check again (open outcomes)")
    p.add_argument("--note", default=None, help="kept in the case file")
    p.add_argument("--idempotency-key", metavar="KEY", help=IDEMPOTENCY_HELP)
    p.set_defaults(func=cmd_partner_outcome)

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
    p.add_argument("--agency", default=None, help="a partner's agency id (the token's agency claim)")
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

