"""`asb targets`: the landlord's resolution target reported over its cases (issue 16 item 4).

A target is not a deadline ("we aim to resolve the majority of cases within 45 working days"): no case
breaches it, so it is reported here, over the case file's rows (references, times and outcomes only).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from asb.base import parse_time
from asb.errors import UsageError
from policy.calendar import WorkingCalendar
from profiles import load


def cmd_targets(args: argparse.Namespace) -> int:
    from asb.dataprotection import _store
    from casefile.models import CaseRow
    from statemachine.catalogue import resolution_target, target_report

    profile = load(args.profile)
    if profile.targets.resolve_within is None:
        raise UsageError(f"profile {profile.name!r} sets no resolution target (targets.resolve_within)")
    now = parse_time(args.now, "--now") if args.now else datetime.now(UTC)
    calendar = WorkingCalendar.from_rules(profile.calendar)
    with _store() as store, store.session() as session:
        rows = session.execute(
            select(CaseRow.opened_at, CaseRow.closed_at)
            .where(CaseRow.profile == profile.name, CaseRow.outcome == "enquiry", CaseRow.opened_at <= now)
            .order_by(CaseRow.opened_at, CaseRow.reference)
        ).all()
    standings = [s for opened, closed in rows
                 if (s := resolution_target(profile, calendar, opened, closed if closed and closed <= now else None,
                                            now)) is not None]
    print(json.dumps(target_report(profile, standings)))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("targets", help="the profile's resolution target reported over its cases (ASB_DATABASE_URL)")
    p.add_argument("--profile", required=True, metavar="NAME_OR_FILE", help="a shipped profile or a profile file")
    p.add_argument("--now", metavar="ISO8601", help="judge the cases as at this time, with an offset (default: now)")
    p.set_defaults(func=cmd_targets)
