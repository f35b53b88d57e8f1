"""`asb up`: the whole system on its embedded defaults, in one command.

The Temporal dev server (history in a file under the state folder), the worker, the case file
(SQLite under the state folder unless ASB_DATABASE_URL names a database) and the letter outbox.
Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from asb.devserver import start_dev_server, stop


async def _up(state: Path, port: int, ui_port: int) -> int:
    from casefile.db import Store, default_database_url
    from worker import TemporalSettings, build_worker

    state.mkdir(parents=True, exist_ok=True)
    os.environ["ASB_STATE_DIR"] = str(state)
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
        async with build_worker(client, store, outbox):
            print(f"Temporal:     127.0.0.1:{port} (namespace default)", flush=True)
            print(f"Temporal UI:  http://127.0.0.1:{ui_port}/namespaces/default/workflows", flush=True)
            print(f"Case file:    {store.url}", flush=True)
            print(f"Outbox:       {outbox}", flush=True)
            print("Worker running on task queue asb-cases. Ctrl-C stops everything.", flush=True)
            await stopping.wait()
            print("Stopping...", flush=True)
        store.dispose()
    finally:
        await stop(server)
    return 0


def run_up(args: argparse.Namespace) -> int:
    state = Path(args.state_dir or os.environ.get("ASB_STATE_DIR", ".asb")).resolve()
    return asyncio.run(_up(state, args.port, args.ui_port))
