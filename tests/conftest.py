"""Shared fixtures: a real PostgreSQL database and a real Temporal time-skipping server.

PostgreSQL is never skipped: `scripts/test` finds or starts one and sets ASB_TEST_DATABASE_URL;
run directly, the tests try the machine's server on 127.0.0.1:5432 and fail loudly without one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from temporalio.testing import WorkflowEnvironment

from asb.simulate import start_time_skipping
from casefile.db import Store
from tests.letters_helpers import Mailbox, NotifyStandIn, notify_server, smtp_server
from worker import build_worker

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the real server for this test session, dropped afterwards."""
    base = os.environ.get("ASB_TEST_DATABASE_URL") or DEFAULT_URL
    try:
        admin = psycopg.connect(_plain(base), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required and not reachable at {base} ({exc}); run scripts/test", pytrace=False)
    name = f"asb_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def store(postgres_url: str) -> Iterator[Store]:
    s = Store(postgres_url)
    s.upgrade()
    yield s
    s.dispose()


@pytest.fixture(scope="session")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the module's own.

    Shared by the whole session, every case an earlier module left open fires its timers whenever a
    later test skips time: a long skip then has so much to do that it can outlast the server's own
    deadline (the intermittent time-out in test_case_timers), and what one test sees depends on which
    ran before it. Terminating the leftovers instead wedges the server's clock, so each module gets a
    fresh server (about a second to start) and leaves nothing behind for the next."""
    environment = await start_time_skipping()
    yield environment
    await environment.shutdown()


@pytest.fixture
async def fresh_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server for one test alone, for modules whose tests skip weeks or months: on a
    server shared even by one module, the cases earlier tests left open fire their timers (reminders,
    escalations, breaches) on every later skip, and under load a long skip can outlast the server's own
    deadline ("Timeout expired"). Such a module opts in with `env = fresh_env` style fixtures."""
    environment = await start_time_skipping()
    yield environment
    await environment.shutdown()


@pytest.fixture
async def fresh_task_queue(fresh_env: WorkflowEnvironment, store: Store, outbox: Path) -> AsyncIterator[str]:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    async with build_worker(fresh_env.client, store, outbox, task_queue=queue):
        yield queue


@pytest.fixture(scope="module")
async def task_queue(env: WorkflowEnvironment, store: Store, outbox: Path) -> AsyncIterator[str]:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    async with build_worker(env.client, store, outbox, task_queue=queue):
        yield queue


# The API on the module's time-skipping server, for tests that drive it over HTTP (a module may define its
# own `app` to change the settings).


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def app(env: WorkflowEnvironment, store: Store, task_queue: str, state_dir: Path) -> FastAPI:
    from tests.api_support import make_app

    return make_app(env, store, task_queue, state_dir)


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    from tests.api_support import client_for

    async with client_for(app) as client:
        yield client


@pytest.fixture()
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it is sent."""
    with smtp_server() as box:
        yield box


@pytest.fixture()
def notify() -> Iterator[NotifyStandIn]:
    """An HTTP server on loopback answering as GOV.UK Notify's API does."""
    with notify_server() as server:
        yield server
