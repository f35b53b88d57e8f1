"""Serving the API with uvicorn inside a process that already runs an event loop (asb up, tests).

uvicorn's own `serve()` takes over SIGINT and SIGTERM; embedded beside the worker, the host process
owns the signals and stops the server itself, so the handlers are left alone here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Generator

import uvicorn
from fastapi import FastAPI


class EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def uvicorn_config(app: FastAPI, host: str, port: int, *, forwarded_allow_ips: str | None, log_level: str,
                   access_log: bool) -> uvicorn.Config:
    """How every door serves the API (`asb up`, `asb api`, the tests).

    X-Forwarded-For and X-Forwarded-Proto are believed only from the proxies named in
    forwarded_allow_ips (ASB_FORWARDED_ALLOW_IPS, `--forwarded-allow-ips`), and from nobody by default.
    uvicorn's own default trusts 127.0.0.1, so anyone reaching a loopback-bound API (or a proxy on the
    same host that passes the header through) could rotate the header and escape the public form's
    per-address limit (issue 9 item 12)."""
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="off", access_log=access_log,
                          proxy_headers=bool(forwarded_allow_ips),
                          forwarded_allow_ips=forwarded_allow_ips or "")


@contextlib.asynccontextmanager
async def serving(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, *, log_level: str = "warning",
                  startup_timeout: float = 30.0, forwarded_allow_ips: str | None = None
                  ) -> AsyncIterator[EmbeddedServer]:
    """Run the app on host:port until the block ends; the block starts once the port accepts connections."""
    config = uvicorn_config(app, host, port, forwarded_allow_ips=forwarded_allow_ips, log_level=log_level,
                            access_log=False)
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + startup_timeout
    while not server.started:
        if task.done():
            task.result()  # raises why it stopped (e.g. the port is taken)
            raise RuntimeError(f"the API server stopped during startup on {host}:{port}")
        if loop.time() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the API server did not start on {host}:{port} within {startup_timeout:.0f}s")
        await asyncio.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)


async def run_api(host: str, port: int, *, forwarded_allow_ips: str | None = None) -> None:
    """`asb api`: the API alone, against TEMPORAL_ADDRESS and ASB_DATABASE_URL (workers run elsewhere).

    Behind a reverse proxy, name it in forwarded_allow_ips so the public form's rate limit counts the
    client's address from X-Forwarded-For rather than the proxy's."""
    from api.app import create_app
    from api.settings import ApiSettings
    from casefile.db import Store
    from worker import TemporalSettings

    settings = ApiSettings.from_env()
    forwarded_allow_ips = forwarded_allow_ips or settings.forwarded_allow_ips
    client = await TemporalSettings.from_env().connect()
    store = Store.from_env()
    store.upgrade()
    app = create_app(settings, client, store)
    config = uvicorn_config(app, host, port, forwarded_allow_ips=forwarded_allow_ips, log_level="info",
                            access_log=True)
    try:
        await uvicorn.Server(config).serve()
    finally:
        store.dispose()
