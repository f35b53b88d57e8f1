"""What each endpoint does, apart from HTTP: intake, case views, commands, tasks and locking.

Every door goes the same way as the simulator and the CLI: a report's people go into the case file
(casefile.intake.record_report) and the workflow is started with ids only (clients.caseclient.start_case);
a command goes through clients.caseclient.send_command with the store, so free text stays in the case file
and refusals are remembered. Database work runs in a thread so a slow query never stalls the event
loop that also serves other requests (and, under `asb up`, runs the worker).

Access rules, in the order they are checked (README "HTTP API and CLI client"):
- 403 depends only on the caller's role (ops and auditor never act; intake only logs reports and
  incidents; only managers lock), so it is decided before the case is even looked up and says nothing
  about whether a case exists;
- 404 is an unknown case or a locked case the caller may not see (casefile.access.open_case): the same
  answer, so a locked case's existence does not leak;
- 409 is the case refusing the command now: its stage, a missing assessment or approval, an officer
  acting on another officer's case, a manager deciding their own request. The case workflow is the one
  judge of these, because ownership and approvals are its state.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Select, or_, select
from sqlalchemy.orm.exc import StaleDataError
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import AuthError, Principal
from api.guard import outage
from api.schemas import (
    AppReportIn,
    CaseList,
    CaseStatusOut,
    CaseSummary,
    CaseView,
    CommandOut,
    DecideOut,
    IncidentOut,
    LockOut,
    NoteOut,
    PartyOut,
    ReportOut,
    TaskOut,
)
from api.settings import ApiSettings
from casefile import audit
from casefile.access import MANAGERS, CaseNotFound, may_see, open_case, set_lock
from casefile.audit import act_as
from casefile.db import Store
from casefile.editing import ConflictError
from casefile.intake import IntakeReport, record_report
from casefile.models import CaseNoteRow, CaseRow, ExternalReportRow, IncidentRow, PartyRow, PersonRow
from casefile.references import next_reference
from casefile.types import check_time
from clients.caseclient import send_command, start_case
from clients.taskclient import (
    Decision,
    TaskNotFound,
    TaskRefused,
    TaskView,
    claim_task,
    decide_task,
    get_task,
    list_tasks,
)
from policy.model import Profile
from policy.triage import UnknownCategoryError, triage
from statemachine.catalogue import COMMANDS, REPORT_COMMAND, parse_args
from statemachine.commands import CommandError, ReportArgs
from workflows.case import CaseWorkflow


class InputError(ValueError):
    """Bad input the schema could not catch (it depends on the profile): a 422 naming the field."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Refused(Exception):
    """The case (or task) refused: a 409 with its reason. Nothing was changed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Duplicate(Exception):
    """Another delivery of the same app report committed first."""


class Unavailable(Exception):
    """Temporal did not answer in time or at all: a 503/504; the case keeps its own state."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _now() -> datetime:
    return datetime.now(UTC)


def _summary(row: CaseRow) -> CaseSummary:
    return CaseSummary(
        reference=row.reference, profile=row.profile, stage=row.stage, outcome=row.outcome, risk=row.risk,
        category=row.category, hate=bool(row.hate), officer=row.officer, opened_at=row.opened_at,
        closed_at=row.closed_at, closure_reason=row.closure_reason, next_deadline=row.next_deadline,
        overdue=bool(row.overdue), locked=bool(row.locked), version=row.version,
    )


class Service:
    def __init__(self, settings: ApiSettings, client: Client, store: Store, profile: Profile) -> None:
        self.settings = settings
        self.client = client
        self.store = store
        self.profile = profile

    # ------------------------------------------------------------------------------------ intake

    def check_report(self, report: IntakeReport) -> None:
        """Triage the report here first: the workflow triages it again at start, and a report it could
        not triage (an unknown category) would otherwise fail there, after the caller was told yes."""
        if report.hate_strand is not None and report.hate_strand not in self.profile.categories.hate_strands:
            raise InputError("hate_strand", f"hate_strand: unknown hate strand {report.hate_strand!r}; known: "
                             f"{', '.join(self.profile.categories.hate_strands)}")
        try:
            triage(report, self.profile)
        except UnknownCategoryError as exc:
            raise InputError("category", f"category: {exc}") from exc

    def _record(self, role: str, actor: str, report: IntakeReport, received: datetime) -> tuple[str, ReportArgs]:
        with self.store.session() as session, session.begin():
            act_as(session, role, actor)
            reference = next_reference(session, received.year)
            return reference, record_report(session, reference, self.profile.name, report, received, actor)

    async def _start(self, reference: str, args: ReportArgs, received: datetime) -> None:
        try:
            await start_case(self.client, reference, self.profile, args, task_queue=self.settings.task_queue,
                             received=received, search_attributes=self.settings.search_attributes)
        except WorkflowAlreadyStartedError:
            pass  # a resent report found its case already running
        except RPCError as exc:
            raise Unavailable(503, f"the case was logged as {reference} but could not be started: {exc.message}"
                              ) from exc

    async def log_report(self, principal: Principal, report: IntakeReport) -> ReportOut:
        self.check_report(report)
        received = _now()
        reference, args = await asyncio.to_thread(self._record, principal.role, principal.id, report, received)
        await self._start(reference, args, received)
        return ReportOut(reference=reference, created=True, status=await self._status_or_none(reference))

    async def log_public_report(self, report: IntakeReport) -> str:
        self.check_report(report)
        received = _now()
        reference, args = await asyncio.to_thread(self._record, "public", "online_form", report, received)
        await self._start(reference, args, received)
        return reference

    def _record_external(self, principal: Principal, body: AppReportIn, report: IntakeReport, received: datetime
                         ) -> tuple[str, ReportArgs | None, bool]:
        """Log an app's report once. Race-safe by the unique (source, external_id) key: of two deliveries
        at once, the second's insert waits for the first to commit, finds its row, and rolls back all it
        wrote (its reference number included), then answers with the first delivery's case."""
        key = (ExternalReportRow.source == body.source, ExternalReportRow.external_id == body.external_id)
        with self.store.session() as session:
            try:
                with session.begin():
                    act_as(session, principal.role, principal.id)
                    if session.scalars(select(ExternalReportRow.id).where(*key)).first() is None:
                        reference = next_reference(session, received.year)
                        args = record_report(session, reference, self.profile.name, report, received, principal.id)
                        session.flush()
                        inserted = session.execute(
                            self.store.insert_ignoring_duplicates(ExternalReportRow.__table__).values(
                                source=body.source, external_id=body.external_id, case_ref=reference,
                                received_at=received, report_args=args.model_dump(mode="json"),
                            ).returning(ExternalReportRow.__table__.c.id)
                        ).first()
                        if inserted is None:
                            raise _Duplicate  # rolls back this delivery's rows and reference number
                        return reference, args, True
            except _Duplicate:
                pass
            with session.begin():
                row = session.scalars(select(ExternalReportRow).where(*key)).one()
                stored = ReportArgs.model_validate(row.report_args) if row.report_args else None
                return row.case_ref, stored, False

    async def log_app_report(self, principal: Principal, body: AppReportIn) -> ReportOut:
        report = body.report.model_copy(update={"channel": body.source})
        self.check_report(report)
        received = _now()
        reference, args, created = await asyncio.to_thread(self._record_external, principal, body, report, received)
        if created and args is not None:
            await self._start(reference, args, received)
        elif args is not None and not await self._running_or_done(reference):
            await self._start(reference, args, received)  # the first delivery's start failed: finish it now
        return ReportOut(reference=reference, created=created, status=await self._status_or_none(reference))

    async def _running_or_done(self, reference: str) -> bool:
        try:
            await self.client.get_workflow_handle(reference).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise Unavailable(503, f"the case engine did not answer: {exc.message}") from exc
        return True

    # ------------------------------------------------------------------------------------ reading

    async def _status(self, reference: str) -> CaseStatusOut:
        handle = self.client.get_workflow_handle_for(CaseWorkflow.run, reference)
        return await asyncio.wait_for(handle.query(CaseWorkflow.status), timeout=self.settings.query_timeout_seconds)

    async def _status_or_none(self, reference: str) -> CaseStatusOut | None:
        try:
            return await self._status(reference)
        except (RPCError, WorkflowQueryFailedError, TimeoutError):
            return None

    def _case_rows(self, principal: Principal, reference: str) -> dict[str, Any]:
        with self.store.session() as session, session.begin():
            case = open_case(session, reference, principal.role, principal.id, purpose="view")
            parties = session.execute(
                select(PartyRow, PersonRow).join(PersonRow, PersonRow.id == PartyRow.person_id)
                .where(PartyRow.case_ref == reference).order_by(PartyRow.id)
            ).all()
            incidents = session.scalars(
                select(IncidentRow).where(IncidentRow.case_ref == reference).order_by(IncidentRow.occurred_at)
            ).all()
            notes = session.scalars(
                select(CaseNoteRow).where(CaseNoteRow.case_ref == reference).order_by(CaseNoteRow.at, CaseNoteRow.id)
            ).all()
            return {
                "case": _summary(case),
                "parties": [PartyOut(
                    role=party.role, person_id=person.id, anonymous=bool(party.anonymous), name=person.name,
                    contact_method=person.contact_method, large_print=bool(person.large_print),
                    easy_read=bool(person.easy_read), language=person.language,
                ) for party, person in parties],
                "incidents": [IncidentOut(
                    occurred_at=i.occurred_at, location=i.location, category=i.category, hate_strand=i.hate_strand,
                    description=i.description, police_reference=i.police_reference, evidence=list(i.evidence or []),
                    recorded_at=i.recorded_at,
                ) for i in incidents],
                "notes": [NoteOut(at=n.at, by=n.by, command=n.command, field=n.field, text=n.text) for n in notes],
            }

    async def case_view(self, principal: Principal, reference: str) -> CaseView:
        rows = await asyncio.to_thread(self._case_rows, principal, reference)
        timeline = await asyncio.to_thread(self.store.timeline, reference)
        status: CaseStatusOut | None = None
        error: str | None = None
        try:
            status = await self._status(reference)
        except TimeoutError:
            error = "the case's workflow did not answer in time"
        except (RPCError, WorkflowQueryFailedError) as exc:
            error = f"the case's workflow did not answer: {exc}"
        except RuntimeError as exc:  # the Temporal client could not (re)connect: still show the case file
            if outage(exc) is None:
                raise
            error = "the case engine is unavailable"
        return CaseView(status=status, status_error=error, timeline=timeline, **rows)

    def _list(self, principal: Principal, query: Select[Any], limit: int, offset: int) -> CaseList:
        if principal.role not in MANAGERS:
            query = query.where(or_(CaseRow.locked.is_(False), CaseRow.officer == principal.id))
        query = query.order_by(CaseRow.opened_at.desc(), CaseRow.reference.desc()).limit(limit).offset(offset)
        with self.store.session() as session, session.begin():
            rows = session.scalars(query).all()
            act_as(session, principal.role, principal.id)
            for row in rows:
                if row.locked:  # every read of a locked case is audited, in a list as in a view
                    audit.record(session, "read", "cases", row.reference, row.reference, after={"purpose": "list"})
            return CaseList(cases=[_summary(row) for row in rows], limit=limit, offset=offset)

    async def list_cases(self, principal: Principal, *, stage: str | None, risk: str | None, officer: str | None,
                         overdue: bool | None, limit: int, offset: int) -> CaseList:
        query = select(CaseRow)
        if stage:
            query = query.where(CaseRow.stage == stage)
        if risk:
            query = query.where(CaseRow.risk == risk)
        if officer:
            query = query.where(CaseRow.officer == officer)
        if overdue is not None:
            query = query.where(CaseRow.overdue.is_(overdue))
        return await asyncio.to_thread(self._list, principal, query, limit, offset)

    # ------------------------------------------------------------------------------------ commands

    def check_args(self, command: str, args: dict[str, Any]) -> None:
        """Validated once, by the command's own argument model (its limits are the case file's columns), naming
        the first bad field; then what only this deployment knows: its categories, and the time bounds."""
        spec = COMMANDS.get(command)
        if spec is None:
            raise InputError("command", f"unknown case command {command!r}" if command != REPORT_COMMAND
                             else "report starts a new case: POST /reports")
        for field in args:
            if field.endswith("_ref") and field.removesuffix("_ref") == spec.free_text:
                raise InputError(f"args.{field}", f"{command}: {field}: set by the API, give "
                                 f"{spec.free_text} instead")
        try:
            parsed = parse_args(command, args)
        except CommandError as exc:
            match = re.match(r"^[a-z_]+: ([^:]+): ", str(exc))
            raise InputError(f"args.{match.group(1)}" if match else "args", str(exc)) from exc
        if command == "record_incident":
            occurred = getattr(parsed, "occurred_at", None)
            if occurred is not None:
                try:
                    check_time(occurred, "occurred_at")
                except ValueError as exc:
                    raise InputError("args.occurred_at", f"{command}: {exc}") from exc
            category = getattr(parsed, "category", None)
            if category is not None and category not in self.profile.categories.all:
                raise InputError("args.category", f"{command}: category: unknown category {category!r}")

    def _visible(self, principal: Principal, reference: str, purpose: str) -> CaseRow:
        with self.store.session() as session, session.begin():
            return open_case(session, reference, principal.role, principal.id, purpose=purpose)

    async def command(self, principal: Principal, reference: str, command: str, args: dict[str, Any]) -> CommandOut:
        if principal.role in ("ops", "auditor"):
            raise AuthError(403, f"the {principal.role} role can read cases but not act on them")
        spec = COMMANDS.get(command)
        if principal.role == "intake" and (spec is None or "intake" not in spec.roles):
            raise AuthError(403, f"intake staff may log reports and incidents, not {command}")
        await asyncio.to_thread(self._visible, principal, reference, f"command:{command}")
        self.check_args(command, args)
        handle = self.client.get_workflow_handle(reference)
        try:
            result = await asyncio.wait_for(
                send_command(handle, command, args, principal.actor, store=self.store, at=_now()),
                timeout=self.settings.command_timeout_seconds,
            )
        except TimeoutError as exc:
            raise Unavailable(504, f"the case did not answer {command} in time; look at it before retrying"
                              ) from exc
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise Refused(f"case {reference} has no running workflow") from exc
            raise Unavailable(503, f"the case engine did not answer: {exc.message}") from exc
        if not result.accepted:
            raise Refused(result.reason or "refused")
        if result.status is None:  # an accepted command always answers with the case's status
            raise Unavailable(503, f"the case accepted {command} but did not say its status")
        return CommandOut(command=command, status=result.status)

    # ------------------------------------------------------------------------------------ locking

    def _lock(self, principal: Principal, reference: str, locked: bool, reason: str | None,
              expected_version: int | None) -> LockOut:
        try:
            with self.store.session() as session, session.begin():
                case = set_lock(session, reference, principal.role, principal.id, locked=locked, reason=reason,
                                expected_version=expected_version)
                session.flush()
                return LockOut(reference=case.reference, locked=case.locked, version=case.version)
        except ConflictError as exc:
            raise Refused(str(exc)) from exc
        except StaleDataError as exc:
            raise Refused(f"case {reference} was changed by someone else while you were locking it; "
                          "reload it and try again") from exc

    async def lock(self, principal: Principal, reference: str, locked: bool, reason: str | None,
                   expected_version: int | None) -> LockOut:
        return await asyncio.to_thread(self._lock, principal, reference, locked, reason, expected_version)

    # ------------------------------------------------------------------------------------ tasks

    def _tasks(self, principal: Principal, role: str | None, status: str | None, case_ref: str | None,
               assignee: str | None) -> list[TaskOut]:
        with self.store.session() as session, session.begin():
            views = list_tasks(session, role=role, status=status, case_ref=case_ref, assignee=assignee)
            refs = {v.case_ref for v in views}
            cases = {c.reference: c for c in session.scalars(select(CaseRow).where(CaseRow.reference.in_(refs)))}
            act_as(session, principal.role, principal.id)
            shown: list[TaskOut] = []
            audited: set[str] = set()
            for view in views:
                case = cases.get(view.case_ref)
                if case is not None and not may_see(case, principal.role, principal.id):
                    continue
                if case is not None and case.locked and case.reference not in audited:
                    audited.add(case.reference)
                    audit.record(session, "read", "cases", case.reference, case.reference, after={"purpose": "tasks"})
                shown.append(view)
            return shown

    async def tasks(self, principal: Principal, *, role: str | None, status: str | None, case_ref: str | None,
                    assignee: str | None) -> list[TaskOut]:
        return await asyncio.to_thread(self._tasks, principal, role, status, case_ref, assignee)

    def _task(self, principal: Principal, task_id: str) -> TaskView:
        """The task, if its case is one this person may see (else the same 404 as an unknown task)."""
        with self.store.session() as session, session.begin():
            view = get_task(session, task_id)
            try:
                open_case(session, view.case_ref, principal.role, principal.id, purpose="task")
            except CaseNotFound as exc:
                raise TaskNotFound(f"no task {task_id}") from exc
            return view

    def _reread(self, task_id: str) -> TaskOut:
        with self.store.session() as session:
            return get_task(session, task_id)

    def _gate_tasks(self, principal: Principal) -> None:
        if principal.role in ("ops", "auditor", "intake"):
            raise AuthError(403, f"the {principal.role} role does not take or decide tasks")

    async def claim(self, principal: Principal, task_id: str) -> TaskOut:
        self._gate_tasks(principal)
        await asyncio.to_thread(self._task, principal, task_id)
        try:
            await claim_task(self.client, task_id, principal.actor)
        except TaskRefused as exc:
            raise Refused(exc.reason) from exc
        return await asyncio.to_thread(self._reread, task_id)

    async def decide(self, principal: Principal, task_id: str, decision: str, reason: str | None) -> DecideOut:
        self._gate_tasks(principal)
        view = await asyncio.to_thread(self._task, principal, task_id)
        try:
            result = await asyncio.wait_for(
                decide_task(self.client, self.store, view, principal.actor, cast(Decision, decision), reason),
                timeout=self.settings.command_timeout_seconds,
            )
        except TaskRefused as exc:
            raise Refused(exc.reason) from exc
        except TimeoutError as exc:
            raise Unavailable(504, f"task {task_id} was not decided in time; look at it before retrying") from exc
        return DecideOut(task=await asyncio.to_thread(self._reread, task_id), result=dict(result))
