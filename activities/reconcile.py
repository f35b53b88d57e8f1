"""The reconciler: finishes half-done work the doors left behind, idempotently.

- A case row whose workflow was never started (Temporal was unreachable when it was logged): the row
  is the durable intent, so the workflow is started now from the start kept on the row (ids only).
  The start is idempotent (the workflow id is the reference; a second start is rejected), so this is
  safe beside a door retrying the same start.
- A note left pending (a command's free text written before its Update, whose answer never came): it
  is confirmed if the case's timeline holds the command's event with its ref, and discarded (hidden,
  kept so a late event can still confirm it) once the grace period has passed without one.
- A case started within the last VERIFY_WINDOW whose workflow Temporal no longer knows (a server that
  died just after acknowledging the start, as the fault suite's SIGKILL of the dev server showed) is
  started again: its timeline and letters are keyed by (case, seq), so nothing is written twice.
- An incident's details left pending (written before `record_incident`, whose answer never came) are
  settled like notes; a report attached to an open case whose command never reached the case is sent
  again with its own Update id, so the case records it once (casefile/incidents.py).
- Report idempotency keys older than KEY_RETENTION are purged.

It runs when a worker starts (worker.py) and every minute on a Temporal Schedule (RECONCILE_SCHEDULE_ID)
that runs ReconcileWorkflow, whose one activity is `reconcile`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from activities.case_file import confirm_notes
from casefile.db import Store
from casefile.incidents import Attached, pending_attachments
from casefile.models import CaseNoteRow, CaseRow, EventRow, IdempotencyKeyRow, IncidentRow
from clients.caseclient import StartArgs, send_command, start_recorded_case

log = logging.getLogger(__name__)

#: A report's idempotency key is honoured for at least this long (README "HTTP API and CLI client").
KEY_RETENTION = timedelta(hours=24)
#: How long a pending note waits for its command's event before it is discarded. Temporal delivers an
#: admitted Update within moments of a worker polling, so this is generous.
NOTE_GRACE = timedelta(minutes=10)
#: How long after its start a case's workflow is checked to be known to Temporal.
VERIFY_WINDOW = timedelta(minutes=10)
#: How long the door that attached a report has to send its command before the reconciler sends it too.
RESEND_AFTER = timedelta(minutes=1)


class ReconcileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    note_grace_seconds: float = NOTE_GRACE.total_seconds()
    key_retention_seconds: float = KEY_RETENTION.total_seconds()
    verify_window_seconds: float = VERIFY_WINDOW.total_seconds()
    resend_after_seconds: float = RESEND_AFTER.total_seconds()


class ReconcileResult(BaseModel):
    started: int = 0
    restarted: int = 0
    start_failed: int = 0
    notes_confirmed: int = 0
    notes_discarded: int = 0
    keys_purged: int = 0
    incidents_sent: int = 0
    incidents_confirmed: int = 0
    incidents_discarded: int = 0


def _unstarted(store: Store) -> list[tuple[str, StartArgs]]:
    with store.session() as session:
        rows = session.execute(
            select(CaseRow.reference, CaseRow.start_args)
            .where(CaseRow.started_at.is_(None), CaseRow.start_args.is_not(None))
            .order_by(CaseRow.opened_at)
        ).all()
        return [(ref, StartArgs.model_validate(args)) for ref, args in rows]


def _recently_started(store: Store, since: datetime) -> list[tuple[str, StartArgs]]:
    with store.session() as session:
        rows = session.execute(
            select(CaseRow.reference, CaseRow.start_args)
            .where(CaseRow.started_at >= since, CaseRow.start_args.is_not(None), CaseRow.closed_at.is_(None))
        ).all()
        return [(ref, StartArgs.model_validate(args)) for ref, args in rows]


async def _known(client: Client, reference: str) -> bool:
    try:
        await client.get_workflow_handle(reference).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


class _OfACase(Protocol):
    case_ref: str


_Row = TypeVar("_Row", bound=_OfACase)


def _by_case(rows: Sequence[_Row]) -> dict[str, list[_Row]]:
    by_case: dict[str, list[_Row]] = {}
    for row in rows:
        by_case.setdefault(row.case_ref, []).append(row)
    return by_case


def _refs_on_timeline(session: Session, case_ref: str, kind: str, key: str) -> set[str]:
    """The `key` references that the case's `kind` events carry: a pending row whose reference is here
    was applied by the workflow, whatever became of the door's answer."""
    return {str(data.get(key)) for data in session.scalars(
        select(EventRow.data).where(EventRow.case_ref == case_ref, EventRow.kind == kind))
        if isinstance(data, dict) and data.get(key)}


def settle_notes(store: Store, now: datetime, grace: timedelta) -> tuple[int, int]:
    """Confirm pending notes whose command is on the timeline; discard those past the grace period."""
    confirmed = discarded = 0
    with store.session() as session, session.begin():
        pending = session.scalars(select(CaseNoteRow).where(CaseNoteRow.status == "pending")).all()
        for case_ref, notes in _by_case(pending).items():
            on_timeline = _refs_on_timeline(session, case_ref, "command", "note_ref")
            confirmed += confirm_notes(session, case_ref, [n.ref for n in notes if n.ref in on_timeline])
            stale = [n.ref for n in notes if n.ref not in on_timeline and n.at < now - grace]
            if stale:
                session.execute(update(CaseNoteRow).where(CaseNoteRow.ref.in_(stale), CaseNoteRow.status == "pending")
                                .values(status="discarded").execution_options(synchronize_session=False))
                discarded += len(stale)
    return confirmed, discarded


def settle_incidents(store: Store, now: datetime, grace: timedelta) -> tuple[int, int]:
    """Confirm pending incident details whose incident is on the timeline; discard those past the grace
    period (kept, hidden: a late event still confirms them). Attached reports are sent, not discarded."""
    confirmed = discarded = 0
    with store.session() as session, session.begin():
        pending = session.scalars(select(IncidentRow).where(IncidentRow.status == "pending",
                                                            IncidentRow.command.is_(None))).all()
        for case_ref, rows in _by_case(pending).items():
            on_timeline = _refs_on_timeline(session, case_ref, "incident", "incident_ref")
            for row in rows:
                if row.ref in on_timeline:
                    row.status = "confirmed"
                    confirmed += 1
                elif row.recorded_at < now - grace:
                    row.status = "discarded"
                    discarded += 1
    return confirmed, discarded


async def send_attachments(store: Store, client: Client, now: datetime, after: timedelta) -> int:
    """Send the command of every attached report the case has not recorded (its door's answer was lost,
    or Temporal was down); the same Update id each time, so it is applied once."""
    attached: list[Attached] = await asyncio.to_thread(_attachments, store)
    sent = 0
    for item in attached:
        if item.recorded:
            continue
        if await asyncio.to_thread(_recent, store, item.incident_ref, now - after):
            continue
        result = await send_command(client.get_workflow_handle(item.case_ref), "record_incident", item.args,
                                    item.actor, store=store, at=now, update_id=item.update_id)
        if not result.accepted:  # e.g. the case closed meanwhile: kept, hidden, for an officer to act on
            log.warning("reconcile: attached incident %s refused by %s", item.incident_ref, item.case_ref)
            await asyncio.to_thread(_set_status, store, item.incident_ref, "discarded")
        sent += 1
    return sent


def _attachments(store: Store) -> list[Attached]:
    with store.session() as session:
        return pending_attachments(session)


def _recent(store: Store, ref: str, since: datetime) -> bool:
    with store.session() as session:
        at = session.scalars(select(IncidentRow.recorded_at).where(IncidentRow.ref == ref)).first()
    return at is not None and at > since


def _set_status(store: Store, ref: str, status: str) -> None:
    with store.session() as session, session.begin():
        session.execute(update(IncidentRow).where(IncidentRow.ref == ref, IncidentRow.status == "pending")
                        .values(status=status).execution_options(synchronize_session=False))


def purge_keys(store: Store, now: datetime, retention: timedelta) -> int:
    with store.session() as session, session.begin():
        result = session.execute(delete(IdempotencyKeyRow).where(IdempotencyKeyRow.created_at < now - retention)
                                 .execution_options(synchronize_session=False))
        return int(getattr(result, "rowcount", 0) or 0)


async def reconcile_once(store: Store, client: Client, request: ReconcileRequest | None = None) -> ReconcileResult:
    """One pass over everything half-done. Safe to run anywhere, any number of times, at once."""
    request = request or ReconcileRequest()
    result = ReconcileResult()
    for reference, start in await asyncio.to_thread(_unstarted, store):
        try:
            await start_recorded_case(client, store, reference, start)
            result.started += 1
        except (RPCError, RuntimeError) as exc:  # Temporal still unreachable: the next pass tries again
            log.warning("reconcile: case %s not started yet: %s", reference, type(exc).__name__)
            result.start_failed += 1
    now = datetime.now(UTC)
    for reference, start in await asyncio.to_thread(_recently_started, store,
                                                    now - timedelta(seconds=request.verify_window_seconds)):
        try:
            if not await _known(client, reference):
                await start_recorded_case(client, store, reference, start)
                result.restarted += 1
        except (RPCError, RuntimeError) as exc:
            log.warning("reconcile: case %s not checked: %s", reference, type(exc).__name__)
            result.start_failed += 1
    result.notes_confirmed, result.notes_discarded = await asyncio.to_thread(
        settle_notes, store, now, timedelta(seconds=request.note_grace_seconds))
    try:
        result.incidents_sent = await send_attachments(store, client, now,
                                                       timedelta(seconds=request.resend_after_seconds))
    except (RPCError, RuntimeError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:  # the next pass tries again
        log.warning("reconcile: attached incidents not sent yet: %s", type(exc).__name__)
    result.incidents_confirmed, result.incidents_discarded = await asyncio.to_thread(
        settle_incidents, store, now, timedelta(seconds=request.note_grace_seconds))
    result.keys_purged = await asyncio.to_thread(purge_keys, store, now,
                                                 timedelta(seconds=request.key_retention_seconds))
    return result


class ReconcileActivities:
    def __init__(self, store: Store, client: Client) -> None:
        self.store = store
        self.client = client

    @activity.defn(name="reconcile")
    async def reconcile(self, request: ReconcileRequest) -> ReconcileResult:
        return await reconcile_once(self.store, self.client, request)
