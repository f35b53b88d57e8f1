"""Running `asb up` as people do, for the tests that check it: started as a subprocess on free ports,
read until it says it is ready, and stopped with Ctrl-C (SIGINT), which must end it cleanly."""

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

    @property
    def text(self) -> str:
        return "".join(self.lines)


@asynccontextmanager
async def running_asb_up(state: Path) -> AsyncIterator[Up]:
    """`asb up` on its embedded defaults (no ASB_DATABASE_URL, no OIDC settings); asserts a clean exit."""
    up = Up(state)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASB_DATABASE_URL", "ASB_OIDC_"))}
    process = await asyncio.create_subprocess_exec(
        ASB, "up", "--state-dir", str(state), "--port", str(up.port), "--ui-port", str(up.ui_port),
        "--api-port", str(up.api_port), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
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
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 60)
    assert code == 0
