"""What the API tests share: the app on the real stack, tokens for each role, and a report to log.

The app is api.app.create_app around the `env` time-skipping server's client, the `task_queue`
worker's queue and the PostgreSQL `store`, so every request goes through the real workflow and
activities and the real case file. Tokens are local-mode tokens, verified as production ones are.
"""

from __future__ import annotations

import io
import itertools
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from PIL import Image
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.auth import LocalKeys
from api.settings import ApiSettings
from casefile.db import Store

_external = itertools.count(1)


def make_app(env: WorkflowEnvironment, store: Store, task_queue: str, state_dir: Path, **settings: Any) -> FastAPI:
    values: dict[str, Any] = {"profile": "reading", "state_dir": state_dir, "task_queue": task_queue,
                              "search_attributes": False}
    values.update(settings)
    return create_app(ApiSettings(**values), env.client, store)


def client_for(app: FastAPI) -> httpx.AsyncClient:
    # raise_app_exceptions=False: a server error must come back as a 500 the test sees, as over HTTP.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://api.test", timeout=60)


class Tokens:
    """Bearer headers for anyone: tokens signed with the app's local key."""

    def __init__(self, state_dir: Path) -> None:
        self.keys = LocalKeys(state_dir)

    def token(self, role: str, person: str | None = None, ttl: timedelta = timedelta(hours=1),
              agency: str | None = None) -> str:
        return self.keys.mint(role, person or role, ttl, agency=agency)  # type: ignore[arg-type]

    def __call__(self, role: str, person: str | None = None, agency: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, person, agency=agency)}"}


def report(**extra: Any) -> dict[str, Any]:
    """A report as intake staff log it: named people, an incident, an officer assigned."""
    body: dict[str, Any] = {
        "category": "noise", "channel": "phone", "officer": "o1", "incidents_last_month": 3,
        "reporter": {"name": "Alice Example", "phone": "07700 900123", "contact_method": "phone",
                     "consents": {"action": True}},
        "reported_person": {"name": "Bob Neighbour", "address": "3 High Street, Reading"},
        "incident": {"occurred_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(), "location": "stairwell",
                     "description": "Bob Neighbour played loud music until 3am"},
    }
    body.update(extra)
    return body


def external_id() -> str:
    return f"NA-{datetime.now(UTC):%H%M%S}-{next(_external)}"


def jpeg(seed: int) -> bytes:
    """A real JPEG photo (Pillow), different for each seed."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (seed % 256, (seed * 7) % 256, (seed * 13) % 256)).save(out, "JPEG")
    return out.getvalue()


def photo_of(size: int) -> bytes:
    """A real JPEG of exactly `size` bytes: noise (which does not compress) and, after its end, padding (as
    some cameras leave)."""
    side = int((size / 1.6) ** 0.5)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "JPEG", quality=95)
    content = out.getvalue()
    assert len(content) <= size
    return content + b"\x00" * (size - len(content))
