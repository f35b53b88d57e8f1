"""Health, readiness and metrics for the API and the worker (issue 14 item 2).

- `GET /health`: liveness. The process answers; nothing else is asked, so a slow database never gets a
  healthy process restarted.
- `GET /ready`: readiness. Temporal answers for our namespace and the case file answers a query (and,
  on the worker, the worker is polling). 200 `{"status": "ready"}`, or 503 with the documented error
  JSON naming what is not reachable, so a load balancer stops sending work to it until it is.
- `GET /metrics`: Prometheus text: casefile/metrics.py's counters and gauges, and on the worker also the
  Temporal SDK's own metrics (temporalio's runtime telemetry, read from its exporter on loopback).

The API mounts `ops_router` beside its routes; the worker serves `ops_app` on its own small HTTP
server (worker.py, ASB_WORKER_HTTP_ADDRESS). Neither endpoint needs a token: they carry no personal
data (allow-listed labels only) and answer nothing about any case. Deployments keep them off the
public ingress (deploy/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from api.guard import RETRY_AFTER_SECONDS
from api.schemas import Problem
from casefile import metrics
from casefile.db import Store

log = logging.getLogger(__name__)

#: How long a readiness check waits for each dependency: a probe must answer well inside its timeout.
CHECK_TIMEOUT_SECONDS = 3.0
#: The largest Temporal SDK exposition read from its exporter (a bound: it is a few tens of KiB).
MAX_SDK_METRICS_BYTES = 4 * 1024 * 1024


@dataclass
class Readiness:
    """What `/ready` asks: Temporal, the case file, and optionally whether the worker is polling."""

    client: Client
    store: Store
    worker_running: Callable[[], bool] | None = None
    #: The Temporal SDK's Prometheus exporter (host:port on loopback), appended to /metrics.
    sdk_metrics_address: str | None = None

    async def temporal(self) -> str | None:
        try:
            await self.client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=self.client.namespace),
                timeout=timedelta(seconds=CHECK_TIMEOUT_SECONDS))
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", named by its kind only
            return f"Temporal is not reachable ({type(exc).__name__})"
        return None

    async def case_file(self) -> str | None:
        def ping() -> None:
            with self.store.session() as session:
                session.execute(text("SELECT 1"))

        try:
            await asyncio.wait_for(asyncio.to_thread(ping), CHECK_TIMEOUT_SECONDS)
        except Exception as exc:  # noqa: BLE001
            return f"the case file is not reachable ({type(exc).__name__})"
        return None

    async def problems(self) -> list[str]:
        found = [p for p in await asyncio.gather(self.temporal(), self.case_file()) if p]
        if self.worker_running is not None and not self.worker_running():
            found.append("the worker is not polling its task queue")
        return found

    def sdk_metrics(self) -> bytes:
        """The Temporal SDK's own metrics, from its exporter; nothing if it is not configured or down."""
        if not self.sdk_metrics_address:
            return b""
        try:
            with urllib.request.urlopen(f"http://{self.sdk_metrics_address}/metrics", timeout=2) as answer:  # noqa: S310
                return bytes(answer.read(MAX_SDK_METRICS_BYTES))
        except OSError:
            return b""


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"


METRICS_MEDIA_TYPE = "text/plain"
#: The classic text format, which both our registry and the Temporal SDK's exporter write, and which
#: every Prometheus 2.x reads.
EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"


def ops_router(readiness: Readiness) -> APIRouter:
    router = APIRouter(tags=["meta"])

    @router.get("/health", summary="Liveness: the process answers")
    async def health() -> Health:
        return Health()

    @router.get("/ready", summary="Readiness: Temporal and the case file answer (a worker: and it polls)",
                response_model=Ready,
                responses={503: {"model": Problem, "description": "Not ready: `detail` names what is not reachable"}})
    async def ready() -> Any:
        problems = await readiness.problems()
        if problems:
            detail = "not ready: " + "; ".join(problems)
            return JSONResponse(Problem(detail=detail, field=None).model_dump(), status_code=503,
                                headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        return Ready()

    @router.get("/metrics", summary="Prometheus metrics (no personal data: allow-listed labels only)",
                response_class=PlainTextResponse,
                responses={200: {"description": "Prometheus text exposition format",
                                 "content": {METRICS_MEDIA_TYPE: {"schema": {"type": "string"}}}}})
    async def scrape() -> Response:
        ours = await asyncio.to_thread(generate_latest, metrics.REGISTRY)
        sdk = await asyncio.to_thread(readiness.sdk_metrics)
        return Response(ours + sdk, media_type=EXPOSITION)

    return router


def ops_app(readiness: Readiness) -> FastAPI:
    """The worker's small HTTP server: /health, /ready and /metrics, nothing else."""
    app = FastAPI(title="ASB worker", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(ops_router(readiness))
    return app


class RequestTimer:
    """API request latency (asb_api_request_seconds) by method, route template and status class.

    The route is the matched template (`/cases/{reference}`), never the path itself, so no case
    reference or other input reaches a label; anything unmatched is "unmatched"."""

    METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) if route is not None else None
            method = scope.get("method", "")
            metrics.API_LATENCY.labels(
                method if method in self.METHODS else metrics.OTHER,
                str(template)[:120] if template else "unmatched",
                f"{status[0] // 100}xx",
            ).observe(time.perf_counter() - started)


class _QuietServer(uvicorn.Server):
    """uvicorn inside the worker's event loop: the worker owns SIGTERM and SIGINT (graceful stop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.asynccontextmanager
async def ops_server(readiness: Readiness, address: str | None,
                     startup_timeout: float = 15.0) -> AsyncIterator[uvicorn.Server | None]:
    """The worker's /health, /ready and /metrics on `address` (host:port) while the block runs.

    A port that is taken (two workers on one machine with the default) costs only this server, with a
    warning: the worker still works its task queue. None is yielded then, or with no address."""
    if address is None:
        yield None
        return
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    # Bound here, not by uvicorn: a taken port is then an OSError to handle, where uvicorn would exit
    # the process (SystemExit from inside a task stops the event loop itself).
    try:
        sock = socket.create_server((host, int(port)), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        log.warning("the worker's health and metrics server is off: cannot listen on %s (%s)", address,
                    exc.strerror or type(exc).__name__)
        yield None
        return
    config = uvicorn.Config(ops_app(readiness), host=host, port=int(port), log_level="warning",
                            lifespan="off", access_log=False)
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + startup_timeout
    while not server.started and not task.done() and loop.time() < deadline:
        await asyncio.sleep(0.05)
    if not server.started:
        server.should_exit = True
        await asyncio.wait([task], timeout=10)
        sock.close()
        raise RuntimeError(f"the worker's health and metrics server did not start on {address}")
    try:
        yield server
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
            await asyncio.wait_for(task, timeout=10)
        sock.close()
