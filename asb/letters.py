"""`asb letters preview` and `asb letters templates`: look at a letter exactly as it would be printed.

A landlord replacing templates, or an officer checking what a resident will receive, needs the real
PDF for a real case (same recipient rules, format and language as a send) without sending anything
or touching the message records, so preview reads the case file and writes only the PDF.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asb.base import Parser
from asb.errors import UsageError


def cmd_letters_preview(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    from casefile.db import Store
    from casefile.models import CaseRow
    from casefile.types import check_language
    from letters.compose import LetterJob, compose
    from letters.config import ConfigError, load_settings
    from letters.pdf import build_pdf
    from letters.recipients import Skip, find_recipient
    from letters.render import LETTERS, TemplateMissing, renderer

    if args.language is not None:
        try:
            check_language(args.language, "--language")
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    store = Store.from_env()
    try:
        try:
            store.upgrade()
        except OperationalError as exc:
            raise UsageError(f"cannot open the case file: {str(exc.orig or exc).strip().splitlines()[0]}") from exc
        with store.session() as session:
            case = session.get(CaseRow, args.case)
            if case is None:
                raise UsageError(f"no case {args.case} in the case file")
            try:
                settings = load_settings(case.profile)
            except ConfigError as exc:
                raise UsageError(str(exc)) from exc
            render = renderer(settings.templates)
            if args.template not in render.names():
                raise UsageError(f"no letter template {args.template!r}; known: {', '.join(render.names())}")
            role = args.to or LETTERS.get(args.template, "reporter")
            recipient = find_recipient(session, args.case, role, None)
            if isinstance(recipient, Skip):
                raise UsageError(f"this letter would not be sent to the {role.replace('_', ' ')}: {recipient.reason}")
            job = LetterJob(case_ref=args.case, template=args.template, role=role, recipient_id=recipient.person_id,
                            at=datetime.now(UTC), profile=case.profile)
            try:
                rendered = compose(session, job, recipient, settings, render, variant=args.variant,
                                   language=args.language)
            except TemplateMissing as exc:
                raise UsageError(str(exc)) from exc
    finally:
        store.dispose()
    suffix = "" if rendered.variant == "standard" else f"-{rendered.variant}"
    out = Path(args.out) if args.out else Path.cwd() / f"{args.case}-{args.template}{suffix}.pdf"
    out.write_bytes(build_pdf(rendered.html))
    print(out)
    return 0


def cmd_letters_templates(args: argparse.Namespace) -> int:
    from letters.config import ConfigError, load_settings
    from letters.render import LETTERS, renderer

    try:
        settings = load_settings(None)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    for name in renderer(settings.templates).names():
        print(f"{name}\t{LETTERS.get(name, '-')}")
    return 0


def register(sub: Any) -> None:
    letters = sub.add_parser("letters", help="letter templates: preview a letter as a PDF").add_subparsers(
        dest="letters_command", required=True, parser_class=Parser
    )
    p = letters.add_parser("preview", help="write the PDF of a letter for a case, without sending it")
    p.add_argument("template", help="template name, e.g. acknowledgement (see `asb letters templates`)")
    p.add_argument("--case", required=True, help="case reference, e.g. ASB-2026-000124")
    p.add_argument("--variant", choices=["standard", "large-print", "easy-read"], default=None,
                   help="format (default: the recipient's own adjustments)")
    p.add_argument("--to", choices=["reporter", "reported_person"], default=None,
                   help="recipient role (default: whom the letter is for)")
    p.add_argument("--language", default=None, help="language code, e.g. cy (default: the recipient's)")
    p.add_argument("--out", default=None, help="PDF path (default: REF-TEMPLATE.pdf here)")
    p.set_defaults(func=cmd_letters_preview)
    letters.add_parser("templates", help="list the letter templates and whom each is for").set_defaults(
        func=cmd_letters_templates)

