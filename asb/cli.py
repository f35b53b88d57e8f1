"""`asb`: one command for people and scripts.

Every refusal is one line on stderr and exit code 2, never a traceback: the people using this are
officers and operations staff, and scripts check the exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from asb import client_cli, commands, dataprotection, letters, people_cli, reports_cli
from asb.base import EXIT_USAGE, Parser, parse_time
from asb.errors import UsageError
from policy.calendar import NaiveTimeError, WorkingCalendar
from policy.triage import TriageInput, UnknownCategoryError, triage
from profiles import ProfileError, load, parse, resolve, shipped_names


def _emit(data: Any) -> None:
    print(json.dumps(data, indent=None, default=str))


def cmd_deadline(args: argparse.Namespace) -> int:
    """The first response's deadline, as a case would have it: the landlord's own priority's `respond_within`
    when the profile lists priorities (`--priority`, or the priority a risk level maps onto), else
    `first_response.<risk>` working days (003 §8; issue 16 item 3)."""
    from statemachine.catalogue import first_response_period

    profile = load(args.profile)
    received = parse_time(args.received, "--received")
    calendar = WorkingCalendar.from_rules(profile.calendar, args.nation)
    if args.priority is not None:
        if args.priority not in profile.priorities:
            known = ", ".join(profile.priorities) or "none: it answers by risk (--category)"
            raise UsageError(f"--priority: profile {profile.name} has no priority {args.priority!r} (its priorities: "
                             f"{known})")
        priority: str | None = args.priority
        period = profile.priorities[args.priority].respond_within
    elif args.category is None:
        raise UsageError("give --category (the risk level) or --priority (one of the profile's own priorities)")
    else:
        priority = profile.priority_for("", args.category)
        period = first_response_period(profile, "", args.category)
    due_at = calendar.due_after(received, period)
    answer: dict[str, Any] = {"profile": profile.name, "category": args.category}
    if priority is not None:
        answer["priority"] = priority
    answer.update({"received": received.isoformat(), "counted_from": calendar.receipt_day(received).isoformat()})
    if period.unit == "working_days":
        answer["working_days"] = period.count
    else:
        answer["within"] = str(period)
    answer.update({"nation": calendar.nation, "due": due_at.date().isoformat(), "due_at": due_at.isoformat()})
    _emit(answer)
    return 0


def _read_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such file") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc


def cmd_triage(args: argparse.Namespace) -> int:
    profile = load(args.profile)
    data = _read_json(args.report)
    if not isinstance(data, dict):
        raise UsageError(f"{args.report}: a report must be a JSON object")
    try:
        report = TriageInput.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"{args.report}: {field}: {first['msg']}") from exc
    _emit(triage(report, profile).model_dump(mode="json"))
    return 0


def cmd_profiles_list(args: argparse.Namespace) -> int:
    for name in shipped_names():
        print(f"{name}\t{load(name).title}")
    return 0


def cmd_profiles_show(args: argparse.Namespace) -> int:
    _emit(load(args.name).model_dump(mode="json"))
    return 0


def cmd_profiles_check(args: argparse.Namespace) -> int:
    path = resolve(args.file)
    profile = parse(path.read_text(encoding="utf-8"), str(path))
    print(f"{path}: ok ({profile.name}: {profile.title})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="asb", description="ASB and hate incident casework.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("deadline", help="first-response deadline for a report")
    p.add_argument("--profile", required=True, help="shipped profile name or a profile file")
    p.add_argument("--category", choices=["high", "medium", "low"], help="risk category")
    p.add_argument("--priority", help="one of the profile's own priorities (profiles with `priorities`)")
    p.add_argument("--received", required=True, help="ISO 8601 time with offset")
    p.add_argument("--nation", choices=["eng", "wls", "sct", "nir"], help="override the profile's nation")
    p.set_defaults(func=cmd_deadline)

    p = sub.add_parser("triage", help="triage a report given as a JSON file")
    p.add_argument("--profile", required=True)
    p.add_argument("report", help="REPORT.json")
    p.set_defaults(func=cmd_triage)

    profiles = sub.add_parser("profiles", help="shipped policy profiles").add_subparsers(
        dest="profiles_command", required=True, parser_class=Parser
    )
    profiles.add_parser("list", help="list shipped profiles").set_defaults(func=cmd_profiles_list)
    p = profiles.add_parser("show", help="show a profile with every value")
    p.add_argument("name")
    p.set_defaults(func=cmd_profiles_show)
    p = profiles.add_parser("check", help="validate a landlord's own profile file")
    p.add_argument("file")
    p.set_defaults(func=cmd_profiles_check)

    # The run-time subcommands live in their own modules, each importing only `asb.base`, so this file
    # stays small and the imports run one way. Order matters: client_cli adds API options to `up`.
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


SUBCOMMANDS = (commands, client_cli, dataprotection, letters, people_cli, reports_cli)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, ProfileError, NaiveTimeError, UnknownCategoryError) as exc:
        print(f"asb: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"asb: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
