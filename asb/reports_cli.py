"""`asb report NAME`: a management report from the case file, as a table, JSON or CSV; and
`asb report monthly --month YYYY-MM`: the monthly performance report (PDF and HTML) again for any month.

A thin door over casefile/reports.py (the counting) and performance/monthly.py (the monthly report): it
reads the case file named by ASB_DATABASE_URL (or the state folder's), for the landlord's profile
(--profile, else ASB_PROFILE, else default). Every refusal is one line and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from asb.errors import UsageError

NAMES = ("first-response", "open-cases", "closures", "nm01", "tp12", "case-review-register", "hate-strands",
         "legal-actions", "resolution-target")


def _store() -> Any:
    from sqlalchemy.exc import OperationalError

    from casefile.db import Store

    store = Store.from_env()
    try:
        store.upgrade()
    except OperationalError as exc:
        raise UsageError(f"cannot open the case file: {str(exc.orig or exc).strip().splitlines()[0]}") from exc
    return store


def _profile(args: argparse.Namespace) -> Any:
    from profiles import load

    return load(args.profile or os.environ.get("ASB_PROFILE", "default"))


def _table(report: Any) -> str:
    lines = [f"{report.title}", f"Profile: {report.profile}   Period: {report.period.label} "
             f"({report.period.start.isoformat()} to {report.period.end.isoformat()})", ""]
    cells = [report.columns] + [["" if c is None else str(c) for c in row] for row in report.rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(report.columns))]
    for n, row in enumerate(cells):
        lines.append("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in
                               enumerate(zip(row, widths, strict=True))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += ["", "How it is counted:"] + [f"- {rule}" for rule in report.rules]
    return "\n".join(lines)


def cmd_report(args: argparse.Namespace) -> int:
    from casefile import reports as r

    profile = _profile(args)
    try:
        period = r.period_from(args.name, month=args.month, year=args.year, start=args.start, end=args.end,
                               today=date.today())
        store = _store()
        try:
            with store.session() as session:
                report = r.build(session, args.name, profile, period)
        finally:
            store.dispose()
    except r.ReportError as exc:
        raise UsageError(str(exc)) from exc
    text = {"csv": report.to_csv, "json": lambda: json.dumps(report.as_dict(), indent=2, default=str),
            "table": lambda: _table(report)}[args.format]()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8", newline="")
        print(args.out)
    else:
        print(text, end="" if args.format == "csv" else "\n")
    return 0


def cmd_monthly(args: argparse.Namespace) -> int:
    from casefile import reports as r
    from casefile.db import default_state_dir
    from letters.config import ConfigError, load_settings
    from performance.monthly import previous_month, produce, send, write_files

    profile = _profile(args)
    month = args.month or previous_month(date.today())
    try:
        r.Period.month(month)
    except r.ReportError as exc:
        raise UsageError(str(exc)) from exc
    try:
        settings = load_settings(profile.name)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    store = _store()
    try:
        report = produce(store, profile, month, settings.landlord.name, datetime.now(UTC))
        if args.send:
            outcome = send(store, report, settings, default_state_dir() / "outbox")
            for path in outcome.files:
                print(path)
            print(f"sent to {len(outcome.sent)}, already sent to {len(outcome.already)} "
                  f"of {len(settings.monthly_report_to)} (monthly_report_to)")
            return 0
    finally:
        store.dispose()
    folder = Path(args.out or ".")
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    for written in write_files(report, folder):
        print(written)
    return 0




def register(sub: Any) -> None:
    p = sub.add_parser("report", help="management reports (and `asb report monthly`), from the case file",
                       description="A report from the case file: " + ", ".join(NAMES) + "; or `monthly`, the "
                       "monthly performance report as PDF and HTML.")
    p.add_argument("name", choices=(*NAMES, "monthly"), help="which report")
    p.add_argument("--profile", default=None, help="the landlord's profile (default: ASB_PROFILE, else default)")
    p.add_argument("--month", default=None, help="a calendar month, YYYY-MM")
    p.add_argument("--year", type=int, default=None,
                   help="a reporting year by the year it begins (2025: 1 April 2025 to 31 March 2026)")
    p.add_argument("--from", dest="start", default=None, help="first day, YYYY-MM-DD (with --to)")
    p.add_argument("--to", dest="end", default=None, help="last day, YYYY-MM-DD, included")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--out", default=None, help="write to this file (monthly: this folder) instead")
    p.add_argument("--send", action="store_true", help="monthly: send to the managers (monthly_report_to), "
                   "once per month and address")
    p.set_defaults(func=_dispatch)


def _dispatch(args: argparse.Namespace) -> int:
    if args.name == "monthly":
        if args.year or args.start or args.end:
            raise UsageError("the monthly report takes --month YYYY-MM only")
        return cmd_monthly(args)
    if args.send:
        raise UsageError("--send is for the monthly report")
    return cmd_report(args)
