"""Data-protection subcommands: `asb sar`, `asb retention run` and `asb db upgrade`.

Subject access and retention are run by the landlord's data-protection staff or a scheduled job,
not through the workflow: they read and change the case file directly, so each command brings the
schema to head first (a job must not fail, or worse half-work, on a database one migration behind).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from asb.base import Parser, parse_time
from asb.errors import UsageError
from casefile.db import Store


def _actor(text: str) -> tuple[str, str]:
    role, sep, actor_id = text.partition(":")
    if not sep or not role or not actor_id:
        raise UsageError(f"--as: {text!r} is not ROLE:ID, e.g. auditor:jsmith")
    return role, actor_id


@contextmanager
def _store() -> Iterator[Store]:
    """The case file named by ASB_DATABASE_URL, at head; an unreachable database is one line, not a traceback."""
    store = Store.from_env()
    try:
        try:
            store.upgrade()
        except OperationalError as exc:
            where = make_url(store.url).render_as_string(hide_password=True)
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise UsageError(f"cannot open the case file at {where}: {reason}") from exc
        yield store
    finally:
        store.dispose()


def cmd_sar(args: argparse.Namespace) -> int:
    """A .zip (the default) holds export.json and the person's own evidence files; a .json, the export
    alone, its "files" index listing the files without their bytes."""
    from casefile.evidence import EvidenceError
    from casefile.evidence_store import EvidenceConfigError
    from casefile.sar import write_export

    role, actor_id = _actor(args.actor)
    out = Path(args.out) if args.out else Path.cwd() / f"sar-{args.person_id}.zip"
    with _store() as store:
        try:
            path = write_export(store, args.person_id, out, role, actor_id, datetime.now(UTC))
        except EvidenceError as exc:  # a file missing or damaged in the store: no export rather than one short
            raise UsageError(f"{exc.message}; nothing was exported") from exc
        except EvidenceConfigError as exc:
            raise UsageError(str(exc)) from exc
        except LookupError as exc:
            raise UsageError(str(exc.args[0] if exc.args else exc)) from exc
    print(path)
    return 0


def cmd_retention_run(args: argparse.Namespace) -> int:
    from casefile.audit import act_as
    from casefile.retention import run_retention

    now = parse_time(args.now, "--now") if args.now else datetime.now(UTC)
    role, actor_id = _actor(args.actor)
    with _store() as store, store.session() as session:
        act_as(session, role, actor_id)
        with session.begin():
            report = run_retention(session, now, dry_run=args.dry_run)
    print(json.dumps(report.model_dump(mode="json")))
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    with _store() as store:
        print(store.current_revision())
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("sar", help="export everything held about one person (subject access request)")
    p.add_argument("person_id", metavar="PERSON_ID")
    p.add_argument("--out", metavar="FILE", help="where to write it: a .zip holds the export and the person's own "
                   "files, a .json the export alone (default: sar-PERSON_ID.zip here)")
    p.add_argument("--as", dest="actor", default="auditor:cli", metavar="ROLE:ID",
                   help="who is exporting, for the audit log (default: auditor:cli)")
    p.set_defaults(func=cmd_sar)

    retention = sub.add_parser("retention", help="retention of closed cases").add_subparsers(
        dest="retention_command", required=True, parser_class=Parser
    )
    p = retention.add_parser("run", help="anonymise closed cases past the profile's retention period")
    p.add_argument("--now", metavar="ISO8601", help="the time to judge expiry at, with an offset (default: now)")
    p.add_argument("--dry-run", action="store_true", help="report what would be anonymised; change nothing")
    p.add_argument("--as", dest="actor", default="system:retention", metavar="ROLE:ID",
                   help="who is running retention, for the audit log (default: system:retention)")
    p.set_defaults(func=cmd_retention_run)

    db = sub.add_parser("db", help="the case file's schema").add_subparsers(
        dest="db_command", required=True, parser_class=Parser
    )
    db.add_parser("upgrade", help="bring ASB_DATABASE_URL's schema to head; prints the revision").set_defaults(
        func=cmd_db_upgrade
    )

