"""`asb up`: the whole system on its embedded defaults, in one command.

The Temporal dev server (history in a file under the state folder), the worker, the HTTP API (served
in this process by uvicorn on 127.0.0.1), the case file (SQLite under the state folder unless
ASB_DATABASE_URL names a database) and the letter outbox. With no OIDC settings the API is in local
mode and a ready-made token is printed for each role, so the API and `asb case ...` work at once.
Ctrl-C or SIGTERM stops everything cleanly, within a bound: the worker and the API first, then the dev
server (SIGTERM, SIGKILL if it lingers). The dev server's output goes to `temporal.log` in the state
folder, never to a pipe nobody reads (issue 9 item 10).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asb.devserver import port_in_use, start_dev_server, stop
from asb.errors import UsageError

if TYPE_CHECKING:
    from temporalio.client import Client

    from api.settings import ApiSettings
    from casefile.db import Store
    from worker import TemporalSettings

DEFAULT_API_PORT = 8000
#: How long the worker and the API get to stop after Ctrl-C or SIGTERM; the dev server then gets its own
#: bounded stop (asb.devserver.stop), so `asb up` always ends.
SHUTDOWN_GRACE = 20.0


def add_api_options(parser: Any) -> None:
    """The API's options on `asb up` (registered by asb.client_cli, which owns the API's CLI side)."""
    parser.add_argument("--api-port", type=int, default=DEFAULT_API_PORT, help="HTTP API port (8000)")
    parser.add_argument("--forwarded-allow-ips", default=None,
                        help="a reverse proxy's address(es) whose X-Forwarded-For is believed "
                             "(ASB_FORWARDED_ALLOW_IPS; default: none)")


def letterhead_warnings(profile: str | None) -> list[str]:
    """What the letters would be missing with the delivery settings in force (issue 11 item 3): said at
    start, so nobody finds out from a letter signed by nobody. deploy/delivery.example.toml fills them in."""
    from letters.config import ConfigError, load_settings

    try:
        gaps = load_settings(profile).letterhead_gaps()
    except ConfigError as exc:
        return [f"the delivery settings cannot be used: {exc}"]
    if gaps:
        gaps.append("set them in a file named by ASB_DELIVERY_CONFIG (see deploy/delivery.example.toml)")
    return gaps


async def _up(state: Path, port: int, ui_port: int, api_port: int, forwarded_allow_ips: str | None = None) -> int:
    from api.settings import ApiSettings
    from casefile.db import Store, default_database_url
    from web.settings import WebSettings
    from worker import TemporalSettings

    if port_in_use(api_port):  # checked first: nothing is started if the API could not be served
        raise UsageError(f"port {api_port} is already in use: is another `asb up` running? (see --api-port)")
    state.mkdir(parents=True, exist_ok=True)
    os.environ["ASB_STATE_DIR"] = str(state)
    try:
        overrides: dict[str, object] = {"state_dir": state}
        if forwarded_allow_ips:
            overrides["forwarded_allow_ips"] = forwarded_allow_ips
        settings = ApiSettings.from_env(**overrides)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    try:
        WebSettings.for_api(settings)  # the pages' settings: refused here as one line, not at serving time
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    log_file = state / "temporal.log"
    server = await start_dev_server(state / "temporal.db", port, ui_port, log_file=log_file)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # a service manager's SIGTERM stops it as Ctrl-C does
        loop.add_signal_handler(sig, stopping.set)
    try:
        client = await _connect(TemporalSettings(address=f"127.0.0.1:{port}"))
        store = Store(default_database_url())
        store.upgrade()
        running = asyncio.create_task(_serve(settings, client, store, state, port, ui_port, api_port, log_file,
                                             stopping))
        await asyncio.wait([running, asyncio.create_task(stopping.wait())], return_when=asyncio.FIRST_COMPLETED)
        print("Stopping...", flush=True)
        stopping.set()
        try:
            await asyncio.wait_for(running, SHUTDOWN_GRACE)  # the worker and the API, within a bound
        except TimeoutError:
            print(f"The worker or the API did not stop within {SHUTDOWN_GRACE:.0f}s; stopping anyway.", flush=True)
        store.dispose()
    finally:
        await stop(server)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


async def _connect(temporal: TemporalSettings, within: float = 60.0) -> Client:
    """The dev server's port answers before its frontend is healthy ("Frontend is not healthy yet"):
    keep trying, within a bound."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await temporal.connect()
        except RuntimeError as exc:
            if loop.time() > deadline:
                raise UsageError(f"the Temporal dev server did not become ready: {exc}") from exc
            await asyncio.sleep(0.5)


async def _serve(settings: ApiSettings, client: Client, store: Store, state: Path, port: int, ui_port: int,
                 api_port: int, log_file: Path, stopping: asyncio.Event) -> None:
    """The worker and the API until `stopping` is set."""
    from api.app import create_app
    from api.auth import local_tokens
    from api.serve import serving
    from casefile import metrics
    from worker import build_worker, start_up

    outbox = state / "outbox"
    app = create_app(settings, client, store)
    # The worker runs in this process, so the API's /metrics carries its case-file gauges too.
    metrics.watch_case_file(metrics.REGISTRY, store)
    async with build_worker(client, store, outbox), serving(
            app, "127.0.0.1", api_port, forwarded_allow_ips=settings.forwarded_allow_ips):
            await start_up(client, store, profile=settings.profile)
            print(f"Temporal:     127.0.0.1:{port} (namespace default)", flush=True)
            print(f"Temporal UI:  http://127.0.0.1:{ui_port}/namespaces/default/workflows", flush=True)
            print(f"Pages:        http://127.0.0.1:{api_port}/ (sign in; the public report form is "
                  f"http://127.0.0.1:{api_port}/web/report)", flush=True)
            print(f"API:          http://127.0.0.1:{api_port} (docs: http://127.0.0.1:{api_port}/docs)", flush=True)
            print(f"Health:       http://127.0.0.1:{api_port}/ready, metrics: http://127.0.0.1:{api_port}/metrics",
                  flush=True)
            print(f"Temporal log: {log_file}", flush=True)
            print(f"Case file:    {store.url}", flush=True)
            print(f"Outbox:       {outbox}", flush=True)
            print(f"Profile:      {settings.profile}", flush=True)
            if settings.local_mode:
                print("Local tokens (valid 12 hours; `asb token ROLE --id ID` mints more). For the CLI:", flush=True)
                print(f"  export ASB_API_URL=http://127.0.0.1:{api_port} ASB_TOKEN=<one of these>", flush=True)
                for role, person, token in local_tokens(state):
                    print(f"  {role:<15}{person:<6}{token}", flush=True)
            else:
                print(f"Tokens:       OIDC, issuer {settings.oidc_issuer}", flush=True)
            for warning in letterhead_warnings(settings.profile):
                print(f"Warning:      {warning}", file=sys.stderr, flush=True)
            print("Monthly report: Schedule asb-monthly-report-" + settings.profile + " (07:00, sent on the first "
                  "working day of each month; `asb report monthly --month YYYY-MM` re-runs it)", flush=True)
            print("Worker running on task queue asb-cases. Ctrl-C stops everything.", flush=True)
            await stopping.wait()


def run_up(args: argparse.Namespace) -> int:
    state = Path(args.state_dir or os.environ.get("ASB_STATE_DIR", ".asb")).resolve()
    return asyncio.run(_up(state, args.port, args.ui_port, getattr(args, "api_port", DEFAULT_API_PORT),
                           getattr(args, "forwarded_allow_ips", None)))
