"""`asb people ...`, `asb parties ...` and `asb chronology`: people, a case's parties and its chronology
through the HTTP API (issue 12 items 5 and 9), like `asb case` (asb/client_cli.py).

They talk to ASB_API_URL with the bearer token from ASB_TOKEN or --token and do nothing the API would
not: every rule (who may edit, the versioned edit, locked cases, merges refused) is the server's. Answers
are JSON on stdout; a refusal is one line on stderr with the API's reason and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from asb.base import Parser
from asb.client_cli import (
    IDEMPOTENCY_HELP,
    TIMEOUT_SECONDS,
    _base_url,
    _call,
    _emit,
    _reason,
    _ref,
    _token,
)
from asb.errors import UsageError

ROLES = ("reporter", "reported_person", "witness", "representative")
CONSENTS = ("action", "referral", "third_party", "email", "sms")
AUDIENCES = ("court", "case_conference")
#: `asb people edit` options that set one detail, and the field each sets.
DETAILS = {"name": "name", "description": "description", "date_of_birth": "date_of_birth", "address": "address",
           "postcode": "postcode", "uprn": "uprn", "email": "email", "phone": "phone", "language": "language",
           "contact_method": "contact_method", "representative": "representative_id"}
#: Details `--clear` may empty (the flags large print and easy read are set with --no-...).
CLEARABLE = ("name", "description", "date_of_birth", "address", "postcode", "uprn", "email", "phone", "language",
             "contact_method", "contact_every_days", "representative_id")


def _consents(pairs: list[str]) -> dict[str, bool]:
    consents: dict[str, bool] = {}
    for pair in pairs:
        kind, sep, value = pair.partition("=")
        kind = kind.strip()
        if not sep or kind not in CONSENTS or value.strip().lower() not in ("yes", "no", "true", "false"):
            raise UsageError(f"--consent: {pair!r} is not KIND=yes|no (KIND one of {', '.join(CONSENTS)})")
        consents[kind] = value.strip().lower() in ("yes", "true")
    return consents


def cmd_people_show(args: argparse.Namespace) -> int:
    _emit(_call(args, "GET", f"/people/{_ref(args.person_id)}"))
    return 0


def cmd_people_edit(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"expected_version": args.expected_version}
    for option, field in DETAILS.items():
        value = getattr(args, option)
        if value is not None:
            body[field] = value
    if args.contact_every_days is not None:
        body["contact_every_days"] = args.contact_every_days
    for flag in ("large_print", "easy_read"):
        if getattr(args, flag) is not None:
            body[flag] = getattr(args, flag)
    for field in args.clear or []:
        if field in body:
            raise UsageError(f"--clear {field}: also given a value; give one or the other")
        body[field] = None
    consents = _consents(args.consent or [])
    if consents:
        body["consents"] = consents
    if args.consent_case:
        body["consent_case"] = args.consent_case
    if len(body) == 1:
        raise UsageError("nothing to change: give a detail to set (e.g. --phone), --clear FIELD or --consent")
    _emit(_call(args, "PATCH", f"/people/{_ref(args.person_id)}", body=body))
    return 0


def cmd_people_matches(args: argparse.Namespace) -> int:
    _emit(_call(args, "GET", f"/people/{_ref(args.person_id)}/matches"))
    return 0


def cmd_people_merge(args: argparse.Namespace) -> int:
    body = {"merge_id": args.merge_id, "reason": args.reason,
            "versions": {"keep": args.keep_version, "merge": args.merge_version}}
    _emit(_call(args, "POST", f"/people/{_ref(args.keep_id)}/merge", body=body,
                idempotency_key=args.idempotency_key))
    return 0


def cmd_parties_add(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"role": args.role, "anonymous": args.anonymous}
    details = {field: getattr(args, field) for field in ("name", "description", "date_of_birth", "address",
                                                          "postcode", "uprn", "email", "phone")
               if getattr(args, field) is not None}
    if args.person is not None:
        if details:
            raise UsageError(f"--person: someone on file; leave out --{next(iter(details)).replace('_', '-')}")
        body["person_id"] = args.person
    elif details:
        body["details"] = details
    else:
        raise UsageError("give --person ID (someone on file) or a new person's --name or --description")
    _emit(_call(args, "POST", f"/cases/{_ref(args.ref)}/parties", body=body, idempotency_key=args.idempotency_key))
    return 0


def cmd_parties_remove(args: argparse.Namespace) -> int:
    _emit(_call(args, "DELETE", f"/cases/{_ref(args.ref)}/parties/{_ref(args.person_id)}/{_ref(args.role)}"))
    return 0


def cmd_chronology(args: argparse.Namespace) -> int:
    """Download the PDF and write it whole (a temporary file renamed into place), then print its path."""
    import re

    import httpx

    from api.schemas import REF_PATTERN

    if not re.match(REF_PATTERN, args.ref):
        raise UsageError(f"{args.ref!r} is not a case reference (e.g. ASB-2026-000123)")
    url = _base_url(args)
    out = Path(args.out) if args.out else Path.cwd() / f"{args.ref}-chronology-{args.audience.replace('_', '-')}.pdf"
    if out.exists() and not args.force:
        raise UsageError(f"{out}: already exists (--force to replace it)")
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent}: no such folder")
    headers = {"Authorization": f"Bearer {_token(args)}", "Accept": "application/pdf"}
    try:
        response = httpx.get(f"{url}/cases/{_ref(args.ref)}/chronology", params={"audience": args.audience},
                             headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise UsageError(f"cannot reach the API at {url}: {exc}") from exc
    if response.status_code >= 400:
        raise UsageError(f"{response.status_code}: {_reason(response)}")
    if response.headers.get("content-type", "").split(";")[0] != "application/pdf":
        raise UsageError(f"the API answered {response.headers.get('content-type')!r}, not a PDF")
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(response.content)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    print(out)
    return 0


def _connection() -> argparse.ArgumentParser:
    from asb.client_cli import DEFAULT_API_URL

    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument("--api-url", default=None, help=f"the API (ASB_API_URL, default {DEFAULT_API_URL})")
    connection.add_argument("--token", default=None, help="bearer token (default: ASB_TOKEN)")
    return connection


def _version(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number (1 or more)")
    return value


def register(sub: Any) -> None:
    connection = _connection()

    people = sub.add_parser("people", help="people on file: show, edit, find duplicates, merge").add_subparsers(
        dest="people_command", required=True, parser_class=Parser)
    p = people.add_parser("show", parents=[connection], help="a person's details, consents, cases and version")
    p.add_argument("person_id", metavar="ID")
    p.set_defaults(func=cmd_people_show)

    p = people.add_parser("edit", parents=[connection], help="edit contact details, consents and adjustments "
                          "(the versioned edit: refused if someone saved since the version you saw)")
    p.add_argument("person_id", metavar="ID")
    p.add_argument("--expected-version", type=_version, required=True, metavar="N",
                   help="the version `asb people show` gave (refused with the current one if it changed)")
    for option in DETAILS:
        p.add_argument(f"--{option.replace('_', '-')}", dest=option, default=None,
                       help="a person on file who acts for them" if option == "representative" else None)
    p.add_argument("--contact-every-days", type=int, default=None, metavar="DAYS")
    p.add_argument("--large-print", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--easy-read", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--consent", action="append", metavar="KIND=yes|no",
                   help=f"record consent given or withdrawn now (KIND: {', '.join(CONSENTS)}; repeatable)")
    p.add_argument("--consent-case", metavar="REF", help="the case the consents are for (default: every case)")
    p.add_argument("--clear", action="append", choices=CLEARABLE, metavar="FIELD",
                   help=f"empty a detail (repeatable; one of {', '.join(CLEARABLE)})")
    p.set_defaults(func=cmd_people_edit)

    p = people.add_parser("matches", parents=[connection], help="records that may be the same person (offered, "
                          "never merged by matching)")
    p.add_argument("person_id", metavar="ID")
    p.set_defaults(func=cmd_people_matches)

    p = people.add_parser("merge", parents=[connection], help="merge the record MERGE into KEEP (officers and "
                          "managers, with a reason)")
    p.add_argument("keep_id", metavar="KEEP")
    p.add_argument("merge_id", metavar="MERGE")
    p.add_argument("--reason", required=True, help="how you know they are one person")
    p.add_argument("--keep-version", type=_version, required=True, metavar="N", help="KEEP's version you saw")
    p.add_argument("--merge-version", type=_version, required=True, metavar="N", help="MERGE's version you saw")
    p.add_argument("--idempotency-key", metavar="KEY", help=IDEMPOTENCY_HELP)
    p.set_defaults(func=cmd_people_merge)

    parties = sub.add_parser("parties", help="a case's reporters, witnesses, reported people and representatives"
                             ).add_subparsers(dest="parties_command", required=True, parser_class=Parser)
    p = parties.add_parser("add", parents=[connection], help="add someone on file (--person) or a new person")
    p.add_argument("ref", metavar="REF")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--person", metavar="ID", help="someone already on file")
    for option in ("name", "description", "date_of_birth", "address", "postcode", "uprn", "email", "phone"):
        p.add_argument(f"--{option.replace('_', '-')}", dest=option, default=None,
                       help="for someone whose name is not known, e.g. 'unknown male, flat 3'"
                       if option == "description" else None)
    p.add_argument("--anonymous", action="store_true", help="a reporter or witness who asked not to be named")
    p.add_argument("--idempotency-key", metavar="KEY", help=IDEMPOTENCY_HELP)
    p.set_defaults(func=cmd_parties_add)
    p = parties.add_parser("remove", parents=[connection], help="take a person out of a case in a role")
    p.add_argument("ref", metavar="REF")
    p.add_argument("person_id", metavar="PERSON")
    p.add_argument("role", metavar="ROLE", choices=ROLES)
    p.set_defaults(func=cmd_parties_remove)

    p = sub.add_parser("chronology", parents=[connection], help="download a case's chronology as a PDF")
    p.add_argument("ref", metavar="REF")
    p.add_argument("--audience", choices=AUDIENCES, default="court",
                   help="court (a bundle served on the reported person) or case_conference (also risk and what is "
                        "next); default court")
    p.add_argument("--out", metavar="FILE", help="where to write it (default: REF-chronology-AUDIENCE.pdf here)")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=cmd_chronology)
