"""`asb up`: the whole system on its embedded defaults, in one command.

The Temporal dev server (history in a file under the state folder), the worker, the HTTP API (served
in this process by uvicorn on 127.0.0.1), the case file (SQLite under the state folder unless
ASB_DATABASE_URL names a database) and the letter outbox. With no OIDC settings the API is in local
mode and a ready-made token is printed for each role, so the API and `asb case ...` work at once.
Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from asb.devserver import port_in_use, start_dev_server, stop
from asb.errors import UsageError

DEFAULT_API_PORT = 8000


def add_api_options(parser: Any) -> None:
    """The API's options on `asb up` (registered by asb.client_cli, which owns the API's CLI side)."""
    parser.add_argument("--api-port", type=int, default=DEFAULT_API_PORT, help="HTTP API port (8000)")


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


async def _up(state: Path, port: int, ui_port: int, api_port: int) -> int:
    from api.app import create_app
    from api.auth import local_tokens
    from api.serve import serving
    from api.settings import ApiSettings
    from casefile.db import Store, default_database_url
    from worker import TemporalSettings, build_worker

    if port_in_use(api_port):  # checked first: nothing is started if the API could not be served
        raise UsageError(f"port {api_port} is already in use: is another `asb up` running? (see --api-port)")
    state.mkdir(parents=True, exist_ok=True)
    os.environ["ASB_STATE_DIR"] = str(state)
    try:
        settings = ApiSettings.from_env(state_dir=state)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    server = await start_dev_server(state / "temporal.db", port, ui_port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        client = await TemporalSettings(address=f"127.0.0.1:{port}").connect()
        store = Store(default_database_url())
        store.upgrade()
        outbox = state / "outbox"
        app = create_app(settings, client, store)
        async with build_worker(client, store, outbox), serving(app, "127.0.0.1", api_port):
            print(f"Temporal:     127.0.0.1:{port} (namespace default)", flush=True)
            print(f"Temporal UI:  http://127.0.0.1:{ui_port}/namespaces/default/workflows", flush=True)
            print(f"API:          http://127.0.0.1:{api_port} (docs: http://127.0.0.1:{api_port}/docs)", flush=True)
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
            print("Worker running on task queue asb-cases. Ctrl-C stops everything.", flush=True)
            await stopping.wait()
            print("Stopping...", flush=True)
        store.dispose()
    finally:
        await stop(server)
    return 0


def run_up(args: argparse.Namespace) -> int:
    state = Path(args.state_dir or os.environ.get("ASB_STATE_DIR", ".asb")).resolve()
    return asyncio.run(_up(state, args.port, args.ui_port, getattr(args, "api_port", DEFAULT_API_PORT)))
