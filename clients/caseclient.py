"""Starting a case and sending it a command, the one way every door (simulator, CLI, API) does it.

A refused command comes back as a reason, and is remembered in the case file's event record;
a command to a case whose workflow has finished gets the same answer the lifecycle gives.

Nothing lost, nothing twice:
- a case is started with its reference as the workflow id and a policy that rejects a second start
  with that id, even after the first has closed, so the reconciler and a resend can both try safely;
- a command's free text (and its other personal arguments, CommandSpec.kept) is written to the case file
  *before* the Update is sent, as a pending note under the `<field>_ref` the Update carries; the
  projection confirms it when the command's event is recorded (activities/case_file.py), a refusal
  deletes it, and the reconciler settles any left over; an incident's details (where, what, impact,
  references: the spec's `details`) go the same way, as one pending incident row under `incident_ref`
  (casefile/incidents.py);
- the Update id can be derived from the caller's idempotency key (`update_id_for`), so a retry of a
  command that timed out is recognised by Temporal's Update-id dedupe and applied once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from casefile import metrics
from casefile.audit import act_as
from casefile.db import Store
from casefile.incidents import discard_pending_incident, incident_ref, write_pending_incident
from casefile.models import CaseNoteRow, CaseRow, PartyRow, PersonRow
from policy.calendar import bank_holidays
from policy.model import Profile
from statemachine.catalogue import COMMANDS
from statemachine.commands import Actor, ReportArgs
from statemachine.views import CaseStatus
from workflows.case import TASK_QUEUE, CaseInput, CaseWorkflow
from workflows.messages import CommandRequest

CLOSED_REASON = "the case is closed and accepts no more commands"
#: What an ASB Case Review application (or a report it rests on) hears once a closed case's workflow has
#: finished: the period after closure in which the case took applications has passed (issue 11 item 10).
APPLICATIONS_CLOSED_REASON = (f"{CLOSED_REASON}: the period after its closure in which an ASB Case Review "
                              "about it could be applied for has passed")


def closed_reason(command: str) -> str:
    """The answer to a command sent to a case whose workflow has finished."""
    spec = COMMANDS.get(command)
    return APPLICATIONS_CLOSED_REASON if spec is not None and spec.after_closure else CLOSED_REASON


def holidays_around(nation: str, when: datetime) -> dict[int, list[date]]:
    """The bank holidays a new case needs first: last year to two years ahead."""
    return {year: sorted(bank_holidays(nation, year)) for year in range(when.year - 1, when.year + 3)}


async def start_case(
    client: Client, reference: str, profile: Profile, report: ReportArgs, *,
    task_queue: str = TASK_QUEUE, received: datetime | None = None, clock_shift_seconds: float = 0.0,
    search_attributes: bool = True,
) -> WorkflowHandle[Any, Any]:
    """Open a case: one workflow per report, its id the case reference, the profile snapshotted.

    A second start with the same reference raises WorkflowAlreadyStartedError, whether the first is
    running or closed: the reference names one case for ever (REJECT_DUPLICATE, FAIL on conflict)."""
    data = CaseInput(
        reference=reference, profile=profile, report=report, clock_shift_seconds=clock_shift_seconds,
        search_attributes=search_attributes,
        holidays=holidays_around(profile.calendar.nation, received or datetime.now(UTC)), received=received,
    )
    return await client.start_workflow(
        CaseWorkflow.run, data, id=reference, task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE, id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )


def update_id_for(case_ref: str, command: str, key: str | None, caller: str) -> str:
    """The Update id of a command. With the client's idempotency key it is a hash of the case, the
    command, the key and the caller, so the same retry maps to the same Update (Temporal applies an
    Update id once per run) while another caller's equal key never collides; without, a fresh id."""
    if not key:
        return f"cmd-{uuid.uuid4().hex}"
    digest = hashlib.sha256("\x1f".join((case_ref, command, key, caller)).encode()).hexdigest()
    return f"cmd-{digest[:40]}"


class StartArgs(BaseModel):
    """What a case's workflow is started with, kept on its case row (ids and the profile snapshot only)
    until it runs: the reconciler rebuilds the very same start from it, whichever door logged the case."""

    model_config = ConfigDict(extra="forbid")

    report: ReportArgs
    profile: Profile
    received: datetime
    task_queue: str = TASK_QUEUE
    search_attributes: bool = True


def mark_started(store: Store, reference: str, at: datetime | None = None) -> None:
    """The case's workflow is running (or ran): nothing left for the reconciler."""
    with store.session() as session, session.begin():
        session.execute(update(CaseRow).where(CaseRow.reference == reference, CaseRow.started_at.is_(None))
                        .values(started_at=at or datetime.now(UTC)).execution_options(synchronize_session=False))


async def start_recorded_case(client: Client, store: Store, reference: str, start: StartArgs) -> None:
    """Start a logged case from its stored start, idempotently: a start already made counts as done."""
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await start_case(client, reference, start.profile, start.report, task_queue=start.task_queue,
                         received=start.received, search_attributes=start.search_attributes)
    await asyncio.to_thread(mark_started, store, reference)


@dataclass(frozen=True)
class CommandResult:
    accepted: bool
    status: CaseStatus | None = None
    reason: str | None = None


@dataclass(frozen=True)
class PendingNote:
    """A command's free text and its other personal arguments, as the case file keeps them."""

    ref: str
    field: str
    text: str | None
    data: dict[str, Any] | None = None


def _split_free_text(
    command: str, args: dict[str, Any], update_id: str | None = None
) -> tuple[dict[str, Any], PendingNote | None]:
    """Take a command's free text (and its kept personal arguments) out of its arguments, leaving a reference
    in their place. The reference follows the Update id, so a retry of the same Update carries (and writes)
    the same note."""
    spec = COMMANDS.get(command)
    field = spec.free_text if spec is not None else None
    if field is None or spec is None:
        return args, None
    text = args.get(field) if isinstance(args.get(field), str) else None
    data = {name: args[name] for name in spec.kept if args.get(name) is not None}
    if text is None and not data:
        return args, None
    seed = hashlib.sha256(update_id.encode()).hexdigest() if update_id else uuid.uuid4().hex
    ref = f"N-{seed[:16]}"
    taken = {field, *spec.kept}
    rest = {k: v for k, v in args.items() if k not in taken}
    rest[f"{field}_ref"] = ref
    return rest, PendingNote(ref, field, text, data or None)


def _split_details(
    command: str, args: dict[str, Any], update_id: str | None = None
) -> tuple[dict[str, Any], tuple[str, dict[str, Any]] | None]:
    """Take an incident's details out of a command's arguments, leaving `incident_ref` in their place; the
    reference follows the Update id, so a retry of the same Update writes and carries the same row."""
    spec = COMMANDS.get(command)
    if spec is None or not spec.details or spec.details_ref is None:
        return args, None
    given = {name: args[name] for name in spec.details if args.get(name) is not None}
    if not given:
        return args, None
    ref = incident_ref(update_id)
    rest = {k: v for k, v in args.items() if k not in spec.details}
    rest[spec.details_ref] = ref
    return rest, (ref, given)


def write_pending_details(store: Store, case_ref: str, ref: str, details: dict[str, Any], args: dict[str, Any],
                          actor: Actor, at: datetime) -> None:
    """Write an incident's details before its command goes; the projection fills in the case's own facts."""
    occurred = args.get("occurred_at")
    when = datetime.fromisoformat(occurred) if isinstance(occurred, str) else occurred if isinstance(
        occurred, datetime) else at
    try:
        with store.session() as session, session.begin():
            act_as(session, actor.role, actor.id)
            case = session.get(CaseRow, case_ref)
            category = args.get("category") or (case.category if case is not None else "unknown")
            write_pending_incident(session, case_ref, ref, occurred_at=when, category=str(category), recorded_at=at,
                                   details=details, hate_strand=args.get("hate_strand"),
                                   reported_by_kind=args.get("reported_by"), reporter_id=args.get("reporter_id"))
    except IntegrityError:
        pass  # the same retry, at the same moment: its twin wrote the row


def discard_details(store: Store, ref: str) -> None:
    with store.session() as session, session.begin():
        discard_pending_incident(session, ref)


async def send_command(
    handle: WorkflowHandle[Any, Any], command: str, args: dict[str, Any], actor: Actor,
    *, store: Store | None = None, at: datetime | None = None, update_id: str | None = None,
) -> CommandResult:
    """Issue a command. With a store, free text is kept in the case file (written pending before the
    Update, confirmed when its event is recorded, deleted if refused) and refusals are recorded on the
    case's timeline. An Update that times out raises (WorkflowUpdateRPCTimeoutOrCancelledError): it
    may still be applied, so its pending note stays for the projection or the reconciler to settle."""
    sent, text = _split_free_text(command, args, update_id) if store is not None else (args, None)
    if store is not None:
        sent = with_case_file_facts(store, handle.id, command, sent)
    sent, details = _split_details(command, sent, update_id) if store is not None else (sent, None)
    if text is not None and store is not None:
        write_pending_note(store, handle.id, command, text, actor, at or datetime.now(UTC))
    if details is not None and store is not None:
        write_pending_details(store, handle.id, details[0], details[1], sent, actor, at or datetime.now(UTC))
    try:
        # The Update's name is the command (a dynamic Update): one typed request in, the case's status out.
        status = await handle.execute_update(command, CommandRequest(args=sent, actor=actor), result_type=CaseStatus,
                                             id=update_id)
        return CommandResult(True, status=status)
    except WorkflowUpdateFailedError as failed:
        cause = failed.cause
        reason = str(getattr(cause, "message", None) or failed)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND or not await _finished(handle):
            raise
        reason = closed_reason(command)
    if text is not None and store is not None:
        discard_note(store, text.ref)
    if details is not None and store is not None:
        discard_details(store, details[0])
    if store is not None and at is not None:
        store.record_rejection(handle.id, at, command, reason, actor.role)
    metrics.command_refused(command)  # the door's count (issue 14 item 2): the command's name, nothing else
    return CommandResult(False, reason=reason)


def reporter_is_vulnerable(store: Store, case_ref: str) -> bool:
    """Whether any reporter of the case carries a vulnerability flag in the case file."""
    with store.session() as session:
        flags = session.scalars(
            select(PersonRow.vulnerabilities).join(PartyRow, PartyRow.person_id == PersonRow.id)
            .where(PartyRow.case_ref == case_ref, PartyRow.role == "reporter")
        ).all()
    return any(flags)


def with_case_file_facts(store: Store, case_ref: str, command: str, args: dict[str, Any]) -> dict[str, Any]:
    """A command's arguments with what only the case file knows, as the workflow may hold it: a risk
    assessment learns whether the reporter is vulnerable (yes or no; which flags stays in the case file,
    004 §3.4-3.5). A flag in the case file wins over a caller's `false`."""
    spec = COMMANDS.get(command)
    if spec is None or "reporter_vulnerable" not in spec.args.model_fields:
        return args
    return {**args, "reporter_vulnerable": bool(args.get("reporter_vulnerable"))
            or reporter_is_vulnerable(store, case_ref)}


def write_pending_note(store: Store, case_ref: str, command: str, text: PendingNote, actor: Actor,
                       at: datetime) -> None:
    """Write a command's free text before the command goes (a retry with the same ref writes nothing)."""
    try:
        with store.session() as session, session.begin():
            if session.scalars(select(CaseNoteRow.id).where(CaseNoteRow.ref == text.ref)).first() is not None:
                return
            act_as(session, actor.role, actor.id)
            session.add(CaseNoteRow(ref=text.ref, case_ref=case_ref, at=at, by=actor.id, command=command,
                                    field=text.field, text=text.text, data=text.data, status="pending"))
    except IntegrityError:
        pass  # the same retry, at the same moment: its twin wrote the note


def discard_note(store: Store, ref: str) -> None:
    """A refused command changed nothing, so its text is not kept (unless its event already confirmed it)."""
    with store.session() as session, session.begin():
        row = session.scalars(select(CaseNoteRow).where(CaseNoteRow.ref == ref, CaseNoteRow.status != "confirmed")
                              ).first()
        if row is not None:
            act_as(session, "system", "refused-command")
            session.delete(row)


async def _finished(handle: WorkflowHandle[Any, Any]) -> bool:
    try:
        description = await handle.describe()
    except RPCError:
        return False
    return description.status not in (None, WorkflowExecutionStatus.RUNNING)
