"""Running `asb up` as people do, for the tests that check it: started as a subprocess on free ports,
read until it says it is ready, and stopped with Ctrl-C (SIGINT) or SIGTERM, which must end it cleanly
within a bound."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

ASB = str(Path(sys.executable).with_name("asb"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Up:
    state: Path
    port: int = field(default_factory=free_port)
    ui_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    lines: list[str] = field(default_factory=list)
    pid: int = 0

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def dev_server_pid(self) -> int:
        """The Temporal dev server `asb up` started (its child, in a session of its own)."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.pid and b"start-dev" in cmdline:
                return int(entry.name)
        raise AssertionError(f"no dev server under asb up ({self.pid})")


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@asynccontextmanager
async def running_asb_up(state: Path, stop_with: signal.Signals = signal.SIGINT,
                         within: float = 60) -> AsyncIterator[Up]:
    """`asb up` on its embedded defaults (no ASB_DATABASE_URL, no OIDC settings); stopped with `stop_with`
    (Ctrl-C by default), it must exit cleanly within `within` seconds."""
    up = Up(state)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASB_DATABASE_URL", "ASB_OIDC_"))}
    process = await asyncio.create_subprocess_exec(
        ASB, "up", "--state-dir", str(state), "--port", str(up.port), "--ui-port", str(up.ui_port),
        "--api-port", str(up.api_port), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    up.pid = process.pid
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 90
        while not any("Ctrl-C" in line for line in up.lines):
            assert time.monotonic() < deadline, up.lines
            line = (await asyncio.wait_for(process.stdout.readline(), 90)).decode()
            assert line, f"asb up exited: {(await process.stderr.read()).decode() if process.stderr else ''}"
            up.lines.append(line)
        yield up
    finally:
        process.send_signal(stop_with)
        try:
            code = await asyncio.wait_for(process.wait(), within)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(f"asb up did not stop within {within:.0f}s of {stop_with.name}") from None
    assert code == 0, f"asb up exited {code}: {(await process.stderr.read()).decode() if process.stderr else ''}"
