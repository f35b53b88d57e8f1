"""What every `asb` subcommand module shares: the parser that exits with code 2, and time parsing.

Kept apart from `asb/cli.py` so that the subcommand modules import this, and `asb/cli.py` imports
them to register their subcommands: the imports run one way, with no cycle.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import NoReturn

from asb.errors import UsageError

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit code 2, like every refusal."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def parse_time(text: str, what: str) -> datetime:
    """An ISO 8601 time that must carry its zone (a bare time could be either side of a clock change)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{what}: {text!r} is not an ISO 8601 time") from exc
    if when.tzinfo is None:
        raise UsageError(f"{what}: {text!r} has no time zone; add an offset such as +00:00 or Z")
    return when
