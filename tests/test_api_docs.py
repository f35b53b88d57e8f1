"""The API's docs page renders on a machine without internet (issue 11 item 2).

The app is served by uvicorn on loopback and opened in Debian's Chromium with every host but
127.0.0.1 unresolvable: Swagger UI must come from the installed package, not a CDN, and draw the
operations from /openapi.json.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path

import uvicorn
from temporalio.testing import WorkflowEnvironment

from casefile.db import Store
from tests.api_support import make_app

CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    # From this helper's own range first (18500-18599), else any free one.
    for port in range(18540, 18600):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


async def test_the_docs_page_renders_with_no_network(
    env: WorkflowEnvironment, store: Store, task_queue: str, tmp_path: Path
) -> None:
    app = make_app(env, store, task_queue, tmp_path / "state")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started
        browser = await asyncio.create_subprocess_exec(
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--virtual-time-budget=15000",
            "--dump-dom", f"http://127.0.0.1:{port}/docs",
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(browser.communicate(), timeout=180)
        dom = out.decode()
    finally:
        server.should_exit = True
        await serving
    assert "cdn.jsdelivr" not in dom
    assert 'class="swagger-ui' in dom  # Swagger UI ran
    assert "opblock" in dom and "/public/reports" in dom  # and drew the operations from /openapi.json
