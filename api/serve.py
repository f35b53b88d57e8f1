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


@contextlib.asynccontextmanager
async def serving(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, *, log_level: str = "warning",
                  startup_timeout: float = 30.0) -> AsyncIterator[EmbeddedServer]:
    """Run the app on host:port until the block ends; the block starts once the port accepts connections."""
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="off", access_log=False)
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
    client = await TemporalSettings.from_env().connect()
    store = Store.from_env()
    store.upgrade()
    app = create_app(settings, client, store)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", lifespan="off",
                            proxy_headers=forwarded_allow_ips is not None,
                            forwarded_allow_ips=forwarded_allow_ips)
    try:
        await uvicorn.Server(config).serve()
    finally:
        store.dispose()
