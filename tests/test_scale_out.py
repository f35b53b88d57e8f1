"""Several processes starting at once on an empty case file (issue 14 item 5): `docker compose up` and a
Kubernetes rollout start the API and two or more workers together, and each brings the schema to head
as it starts. They take turns (casefile/db.py `Store.upgrade`: an advisory lock on PostgreSQL), so all
of them start, and the schema is migrated once."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from casefile.db import Store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def empty_database(postgres_url: str) -> Iterator[str]:
    base = make_url(postgres_url)
    admin = psycopg.connect(base.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True)
    name = f"asb_empty_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_four_processes_migrating_an_empty_case_file_at_once_all_start(empty_database: str) -> None:
    code = "import sys; from casefile.db import Store; s = Store(sys.argv[1]); s.upgrade(); print(s.current_revision())"
    processes = [subprocess.Popen([sys.executable, "-c", code, empty_database], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
    try:
        results = [p.communicate(timeout=120) for p in processes]
    finally:
        for p in processes:
            p.kill()
    assert [p.returncode for p in processes] == [0, 0, 0, 0], [err[-500:] for _, err in results]
    store = Store(empty_database)
    try:
        head = store.current_revision()
    finally:
        store.dispose()
    assert head is not None
    assert {out.strip() for out, _ in results} == {head}
