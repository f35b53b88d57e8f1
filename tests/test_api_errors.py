"""Every answer the API gives on a fault is the documented JSON `{"detail", "field"}` (issue 11 item 1).

A new user's first fault was a bare text 500; here the case file is unreachable (a PostgreSQL port
nothing listens on), and the answer is still the documented problem document, with a status that
says to try again.
"""

from __future__ import annotations

import socket
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from casefile.db import Store
from tests.api_support import client_for, make_app


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_case_file_that_does_not_answer_gets_the_documented_json(
    env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    down = Store(f"postgresql+psycopg://asb@127.0.0.1:{_closed_port()}/asb?connect_timeout=2")
    try:
        app = make_app(env, down, task_queue, tmp_path / "state")
        async with client_for(app) as api:
            response = await api.post("/public/reports", json={
                "category": "noise", "incident": {"occurred_at": "2026-03-01T23:10:00+00:00", "description": "music"}})
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert set(response.json()) == {"detail", "field"}
        assert "try again" in response.json()["detail"]
    finally:
        down.dispose()


