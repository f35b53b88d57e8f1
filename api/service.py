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
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import Select, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import AuthError, Principal
from api.guard import outage
from api.schemas import (
    ActionOut,
    AgencyList,
    AgencyOut,
    AppReportIn,
    AttachOut,
    CaseList,
    CaseStatusOut,
    CaseSummary,
    CaseView,
    CommandOut,
    DecideOut,
    EqualityAssessmentOut,
    IncidentOut,
    LockOut,
    NoteCreated,
    NoteOut,
    PartnerCaseList,
    PartnerCaseOut,
    PartnerOutcomeIn,
    PartnerReferralOut,
    PartyOut,
    ReportOut,
    RiskAssessmentOut,
    ShareableOut,
    ShareOut,
    TaskOut,
)
from api.settings import ApiSettings
from casefile import audit
from casefile.access import MANAGERS, CaseNotFound, NotAllowed, may_see, open_case, set_lock
from casefile.audit import act_as
from casefile.db import Store
from casefile.editing import ConflictError
from casefile.evidence import (
    AddedEvidence,
    EvidenceInfo,
    OpenedEvidence,
    add_evidence,
    delete_evidence,
    evidence_info,
    list_evidence,
    open_evidence,
    set_shareable,
)
from casefile.evidence_store import open_store
from casefile.idempotency import key_hash, request_hash
from casefile.incidents import (
    Attached,
    attach_case,
    attach_report,
    discard_pending_incident,
    find_by_report_ref,
    incident_ref,
    pending_attachment,
)
from casefile.intake import IntakeReport, record_report
from casefile.matching import CaseMatch, auto_attach_target, find_open_case_matches
from casefile.models import (
    ActionPlanItemRow,
    CaseNoteRow,
    CaseRow,
    EqualityAssessmentRow,
    ExternalReportRow,
    IdempotencyKeyRow,
    IncidentRow,
    PartyRow,
    PersonRow,
    RiskAssessmentRow,
)
from casefile.notes import NoteInput, NotePerson, NoteRefused, note_ref, write_note
from casefile.partners import (
    ItemNotFound,
    NotTheirs,
    PartnerReferral,
    ShareableItem,
    UnknownAgency,
    partner_case,
    partner_cases,
    partner_referral,
    referrals_of,
    share_with_agency,
    shares_of,
)
from casefile.partners import (
    set_shareable as set_item_shareable,
)
from casefile.references import next_reference
from casefile.referrals import ReferralInputError, prepare_referral
from casefile.types import check_time
from clients.caseclient import StartArgs, mark_started, send_command, start_case, update_id_for
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
from policy.model import Profile, Role
from policy.risk import ScoreError, check_scores
from policy.triage import UnknownCategoryError, triage
from statemachine.catalogue import COMMANDS, REPORT_COMMAND, next_assessment_refusal, parse_args
from statemachine.commands import DUPLICATE, WITHOUT_CONSENT, Actor, CommandError, ReportArgs
from workflows.case import CaseWorkflow

log = logging.getLogger(__name__)

#: A command that timed out may still be applied when the case next runs (README "HTTP API and CLI client").
NOT_YET_APPLIED = ("the case did not answer {command} in time: not yet applied; check the case before retrying "
                   "(a retry with the same Idempotency-Key is applied at most once)")


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


#: How many open cases a report's answer offers at most (the best first): a common name must not list hundreds.
MAX_OFFERED = 10
#: Who the public online form acts as when it attaches a report to an open case: it sees no locked case.
ONLINE_FORM = Actor(role="intake", id="online_form")


@dataclass(frozen=True)
class _Logged:
    """What logging a report did: the reference to answer with, whether this send made it, the open case it
    was attached to instead of opening one (and the command recording it there), and the cases offered."""

    reference: str
    created: bool
    attached: Attached | None = None
    matches: tuple[CaseMatch, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "matches", tuple(self.matches[:MAX_OFFERED]))


@dataclass(frozen=True)
class _Key:
    door: str
    key_hash: str
    request_hash: str


class TooLarge(Exception):
    """An uploaded file larger than the deployment accepts: a 413 naming the field. Nothing stored."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


#: Who may add evidence: everyone who acts on cases, intake included (a reporter often brings photos or
#: diary sheets when reporting, 003 stage 2 and 000 "Evidence gathering"). ops and auditors only read it.
EVIDENCE_ADDERS: tuple[Role, ...] = ("intake", "officer", "manager", "senior_manager")
#: Who may say whether a file may go to partner agencies (004 §4.5: information sharing): caseworkers.
EVIDENCE_SHARERS: tuple[Role, ...] = ("officer", "manager", "senior_manager")
#: Who may ask to remove a file; casefile.evidence.may_delete then decides (managers any file, anyone
#: else only their own within an hour), refusing with a 409 and its reason.
EVIDENCE_REMOVERS: tuple[Role, ...] = ("intake", "officer", "manager", "senior_manager")
STORE_DOWN = "the evidence store is unavailable; nothing was changed, try again shortly"


class Unavailable(Exception):
    """Temporal did not answer in time or at all: a 503/504; the case keeps its own state."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _now() -> datetime:
    return datetime.now(UTC)


def _note_out(row: CaseNoteRow) -> NoteOut:
    return NoteOut(id=row.id, shareable=bool(row.shareable), at=row.at, by=row.by, command=row.command,
                   field=row.field, text=row.text,
                   status=cast(Any, row.status), kind=row.kind,
                   people=[NotePerson.model_validate(p) for p in row.people or []])


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
        #: Opened once, for every door (API and pages): ASB_EVIDENCE_* with the API's state folder.
        self.evidence = settings.evidence_settings()
        self.evidence_store = open_store(self.evidence)

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

    def _start_args(self, args: ReportArgs, received: datetime) -> StartArgs:
        return StartArgs(report=args, profile=self.profile, received=received, task_queue=self.settings.task_queue,
                         search_attributes=self.settings.search_attributes)

    def _open(self, session: Any, role: str, actor: str, report: IntakeReport, received: datetime
              ) -> tuple[str, ReportArgs]:
        """Write the case row with its start (the durable intent to run the case) and the report."""
        act_as(session, role, actor)
        reference = next_reference(session, received.year)
        args = record_report(session, reference, self.profile.name, report, received, actor)
        case = session.get(CaseRow, reference)
        case.start_args = self._start_args(args, received).model_dump(mode="json")
        return reference, args

    def _record(self, role: str, actor: str, report: IntakeReport, received: datetime,
                key: _Key | None, acting: Actor, public: bool = False) -> _Logged:
        """Log a report once per idempotency key. Race-safe by the unique key_hash: of two sends at once,
        the second's insert waits for the first to commit, finds its row, and rolls back all it wrote
        (its reference number included), then answers with the first send's case.

        A report that matches one open case exactly (casefile/matching.py) is attached to it as an
        incident instead of opening a new case (the Regulator's NM01 rule); other matches are offered.
        A public report attached to a case is still given a reference of its own, recorded on its
        incident, so the form's answer never tells a stranger that a case about that address exists."""
        with self.store.session() as session:
            try:
                with session.begin():
                    act_as(session, role, actor)
                    # Matched as the caller sees cases: a locked case they may not see is never matched.
                    matches = tuple(find_open_case_matches(session, report, viewer=acting))
                    target = auto_attach_target(matches)
                    attached: Attached | None = None
                    if target is not None:
                        case = session.get(CaseRow, target)
                        assert case is not None
                        own = next_reference(session, received.year) if public else None
                        attached = attach_report(session, case, report, received, acting,
                                                 seed=key.key_hash if key else None, report_ref=own)
                        reference = own or target
                    else:
                        reference, _args = self._open(session, role, actor, report, received)
                    if key is not None:
                        session.flush()
                        inserted = session.execute(
                            self.store.insert_ignoring_duplicates(IdempotencyKeyRow.__table__).values(
                                key_hash=key.key_hash, door=key.door, request_hash=key.request_hash,
                                case_ref=reference, created_at=received,
                            ).returning(IdempotencyKeyRow.__table__.c.id)
                        ).first()
                        if inserted is None:
                            raise _Duplicate
                    offered = tuple(m for m in matches if attached is None or m.case_ref != attached.case_ref)
                    return _Logged(reference, True, attached, offered)
            except _Duplicate:
                pass
            assert key is not None
            with session.begin():
                row = session.scalars(select(IdempotencyKeyRow).where(IdempotencyKeyRow.key_hash == key.key_hash)).one()
                if row.request_hash != key.request_hash:
                    raise InputError("Idempotency-Key", "Idempotency-Key: this key was already used with a different "
                                     f"report (it opened {row.case_ref}); use a new key for a new report")
                case_ref = row.case_ref if session.get(CaseRow, row.case_ref) is not None \
                    else find_by_report_ref(session, row.case_ref) or row.case_ref
                return _Logged(row.case_ref, False,
                               pending_attachment(session, incident_ref(f"attach/{case_ref}/{key.key_hash}")))

    async def _record_attached(self, logged: _Logged, role: str, actor: str, report: IntakeReport,
                               received: datetime, key: _Key | None, external: AppReportIn | None = None
                               ) -> tuple[_Logged, bool]:
        """Send the command recording an attached report on its case; (what was logged, whether it is
        recorded). The case refusing it (it closed a moment ago) opens a new case for the report instead,
        so no report is lost; no answer keeps it held for the reconciler, which sends it again."""
        attached = logged.attached
        if attached is None:
            return logged, True
        outcome = await self._send_attachment(attached)
        if outcome != "refused":
            return logged, outcome == "recorded"
        reference = await asyncio.to_thread(self._open_instead, logged, role, actor, report, received, key, external)
        return _Logged(reference, logged.created, None, logged.matches), True

    async def _send_attachment(self, attached: Attached) -> Literal["recorded", "held", "refused"]:
        """Send the command recording an attached report's incident, under its own Update id (applied once):
        recorded; held (no answer: the reconciler sends it again); or refused by the case."""
        if attached.recorded:
            return "recorded"
        handle = self.client.get_workflow_handle(attached.case_ref)
        try:
            result = await asyncio.wait_for(
                send_command(handle, "record_incident", attached.args, attached.actor, store=self.store, at=_now(),
                             update_id=attached.update_id),
                timeout=self.settings.command_timeout_seconds)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError, RPCError, RuntimeError) as exc:
            log.warning("report attached to %s; the reconciler will record its incident (%s)", attached.case_ref,
                        type(exc).__name__)
            return "held"
        return "recorded" if result.accepted else "refused"

    def _open_instead(self, logged: _Logged, role: str, actor: str, report: IntakeReport, received: datetime,
                      key: _Key | None, external: AppReportIn | None) -> str:
        """The open case refused the attached report (it closed meanwhile): the report opens a case of its
        own after all, and its idempotency key or app id now names that case."""
        assert logged.attached is not None
        with self.store.session() as session, session.begin():
            discard_pending_incident(session, logged.attached.incident_ref)
            reference, args = self._open(session, role, actor, report, received)
            if key is not None:
                session.execute(update(IdempotencyKeyRow).where(IdempotencyKeyRow.key_hash == key.key_hash)
                                .values(case_ref=reference).execution_options(synchronize_session=False))
            if external is not None:
                session.execute(update(ExternalReportRow).where(ExternalReportRow.source == external.source,
                                                                ExternalReportRow.external_id == external.external_id)
                                .values(case_ref=reference, report_args=args.model_dump(mode="json"))
                                .execution_options(synchronize_session=False))
        return reference

    def _pending_start(self, reference: str) -> StartArgs | None:
        """The stored start of a case whose workflow is not known to be running, else None."""
        with self.store.session() as session:
            row = session.execute(select(CaseRow.started_at, CaseRow.start_args)
                                  .where(CaseRow.reference == reference)).first()
        if row is None or row.started_at is not None or row.start_args is None:
            return None
        return StartArgs.model_validate(row.start_args)

    async def _start(self, reference: str) -> bool:
        """Start the case's workflow now if it is not running; False if Temporal did not answer. The case row
        is the durable intent, so a case not started here is started by the reconciler (worker start-up,
        and its Schedule every minute): the caller is told "accepted, starting" (202), not an error."""
        start = await asyncio.to_thread(self._pending_start, reference)
        if start is None:
            return True
        try:
            await asyncio.wait_for(
                start_case(self.client, reference, start.profile, start.report, task_queue=start.task_queue,
                           received=start.received, search_attributes=start.search_attributes),
                timeout=self.settings.start_timeout_seconds,
            )
        except WorkflowAlreadyStartedError:
            pass  # a resend, or the reconciler, started it first
        except (RPCError, TimeoutError, RuntimeError) as exc:  # RuntimeError: the client could not connect
            log.warning("case %s logged; its workflow will be started by the reconciler (%s)", reference,
                        type(exc).__name__)
            return False
        try:
            await asyncio.to_thread(mark_started, self.store, reference)
        except SQLAlchemyError:
            log.warning("case %s started; the reconciler will mark it so", reference)
        return True

    def _key(self, door: str, scope: str, key: str | None, report: IntakeReport) -> _Key | None:
        if key is None:
            return None
        return _Key(door=door, key_hash=key_hash(scope, key), request_hash=request_hash(report))

    async def log_report(self, principal: Principal, report: IntakeReport, idempotency_key: str | None = None
                         ) -> ReportOut:
        """201 created and started; 202 logged, starting (Temporal did not answer); 200 a resend. A report
        matching one open case exactly is recorded there as an incident (`attached_to`); other open cases
        it may be about are offered (`matches`)."""
        self.check_report(report)
        received = _now()
        key = self._key("reports", f"staff:{principal.role}:{principal.id}", idempotency_key, report)
        logged = await asyncio.to_thread(self._record, principal.role, principal.id, report, received, key,
                                         principal.actor)
        logged, recorded = await self._record_attached(logged, principal.role, principal.id, report, received, key)
        return await self._answer(logged, recorded)

    async def _answer(self, logged: _Logged, recorded: bool) -> ReportOut:
        if logged.attached is not None:
            case_ref = logged.attached.case_ref
            started = recorded and await self._start(case_ref)
            return ReportOut(reference=case_ref, created=logged.created, started=started, attached_to=case_ref,
                             status=await self._status_or_none(case_ref) if started else None,
                             matches=list(logged.matches))
        started = await self._start(logged.reference)
        return ReportOut(reference=logged.reference, created=logged.created, started=started,
                         status=await self._status_or_none(logged.reference) if started else None,
                         matches=list(logged.matches))

    async def log_public_report(self, report: IntakeReport, idempotency_key: str | None = None
                                ) -> tuple[str, bool, bool]:
        """(reference, created, started). A resend with the key gets only the reference it was given. A report
        attached to an open case answers the same way, with a reference of its own (see `_record`)."""
        self.check_report(report)
        received = _now()
        key = self._key("public", "public", idempotency_key, report)
        logged = await asyncio.to_thread(self._record, "public", "online_form", report, received, key, ONLINE_FORM,
                                         True)
        logged, recorded = await self._record_attached(logged, "public", "online_form", report, received, key)
        if logged.attached is not None:
            return logged.reference, logged.created, recorded
        return logged.reference, logged.created, await self._start(logged.reference)

    def _record_external(self, principal: Principal, body: AppReportIn, report: IntakeReport, received: datetime
                         ) -> tuple[str, bool]:
        logged = self._log_external(principal, body, report, received)
        return logged.reference, logged.created

    def _log_external(self, principal: Principal, body: AppReportIn, report: IntakeReport, received: datetime
                      ) -> _Logged:
        """Log an app's report once. Race-safe by the unique (source, external_id) key: of two deliveries
        at once, the second's insert waits for the first to commit, finds its row, and rolls back all it
        wrote (its reference number, taken in a transaction of its own, is left unused), then answers
        with the first delivery's case. A report about an open case (its `case_ref`, or an exact match)
        is recorded there as an incident from the app feed; it opens no new case."""
        key = (ExternalReportRow.source == body.source, ExternalReportRow.external_id == body.external_id)
        seed = f"{body.source}/{body.external_id}"
        with self.store.session() as session:
            try:
                with session.begin():
                    if session.scalars(select(ExternalReportRow.id).where(*key)).first() is None:
                        act_as(session, principal.role, principal.id)
                        matches: tuple[CaseMatch, ...] = ()
                        target = self._about(session, principal, body.case_ref)
                        if target is None:
                            matches = tuple(find_open_case_matches(session, report, viewer=principal.actor))
                            target = auto_attach_target(matches)
                        attached: Attached | None = None
                        args: ReportArgs | None = None
                        if target is not None:
                            case = session.get(CaseRow, target)
                            assert case is not None
                            attached = attach_report(session, case, report, received, principal.actor, seed=seed,
                                                     reported_by="app_feed", feed=body.source,
                                                     feed_id=body.external_id)
                            reference = target
                        else:
                            reference, args = self._open(session, principal.role, principal.id, report, received)
                        session.flush()
                        inserted = session.execute(
                            self.store.insert_ignoring_duplicates(ExternalReportRow.__table__).values(
                                source=body.source, external_id=body.external_id, case_ref=reference,
                                received_at=received, report_args=args.model_dump(mode="json") if args else None,
                            ).returning(ExternalReportRow.__table__.c.id)
                        ).first()
                        if inserted is None:
                            raise _Duplicate  # rolls back this delivery's rows and reference number
                        offered = tuple(m for m in matches if m.case_ref != reference)
                        return _Logged(reference, True, attached, offered)
            except _Duplicate:
                pass
            with session.begin():
                row = session.scalars(select(ExternalReportRow).where(*key)).one()
                return _Logged(row.case_ref, False,
                               pending_attachment(session, incident_ref(f"attach/{row.case_ref}/{seed}")))

    def _about(self, session: Any, principal: Principal, case_ref: str | None) -> str | None:
        """The open case an app report names as the one it is about; a closed one's report is a new case."""
        if case_ref is None:
            return None
        case = session.get(CaseRow, case_ref)
        if case is None or not may_see(case, principal.role, principal.id):
            raise InputError("case_ref", f"case_ref: no case {case_ref}")
        return None if case.closed_at is not None or case.stage == "closed" else case.reference

    async def log_app_report(self, principal: Principal, body: AppReportIn) -> ReportOut:
        report = body.report.model_copy(update={"channel": body.source})
        self.check_report(report)
        received = _now()
        logged = await asyncio.to_thread(self._log_external, principal, body, report, received)
        attached = logged.attached
        if attached is not None:
            logged, recorded = await self._record_attached(logged, principal.role, principal.id, report, received,
                                                           None, body)
            if logged.attached is not None:
                return await self._answer(logged, recorded)
        reference = logged.reference
        started = await self._start(reference)  # a resend also finishes a start that failed
        if not logged.created and not await asyncio.to_thread(self._may_be_shown, principal, reference):
            return ReportOut(created=False, started=started)  # acceptance only: the case is locked from this caller
        return ReportOut(reference=reference, created=logged.created, started=started,
                         status=await self._status_or_none(reference) if started else None,
                         matches=list(logged.matches))

    def _may_be_shown(self, principal: Principal, reference: str) -> bool:
        """A resend answers with the case only to someone who may see it (004 §3.7: a locked case is its
        officer's and the managers'); showing a locked case is a read, and audited (casefile.access)."""
        try:
            self._visible(principal, reference, "app feed resend")
        except CaseNotFound:
            return False
        return True

    # ------------------------------------------------------------------------------------ reading

    async def _status(self, reference: str, principal: Principal | None = None) -> CaseStatusOut:
        handle = self.client.get_workflow_handle_for(CaseWorkflow.run, reference)
        # As the caller sees it: `allowed` never offers them an approval they asked for (issue 11 item 14).
        query = handle.query(CaseWorkflow.status_for, principal.actor) if principal is not None \
            else handle.query(CaseWorkflow.status)
        return await asyncio.wait_for(query, timeout=self.settings.query_timeout_seconds)

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
            incidents = session.scalars(  # discarded details belong to incidents the case never recorded
                select(IncidentRow).where(IncidentRow.case_ref == reference, IncidentRow.status != "discarded")
                .order_by(IncidentRow.occurred_at, IncidentRow.id)
            ).all()
            assessments = session.scalars(
                select(RiskAssessmentRow).where(RiskAssessmentRow.case_ref == reference)
                .order_by(RiskAssessmentRow.assessed_at.desc(), RiskAssessmentRow.id.desc())
            ).all()
            labels = self.profile.risk_matrix.labels
            reporter_flags = sorted({flag for party, person in parties if party.role == "reporter"
                                     for flag in (person.vulnerabilities or [])})
            notes = session.scalars(  # discarded notes belong to commands the case never accepted
                select(CaseNoteRow).where(CaseNoteRow.case_ref == reference, CaseNoteRow.status != "discarded")
                .order_by(CaseNoteRow.at, CaseNoteRow.id)
            ).all()
            return {
                "case": _summary(case),
                "vulnerable_reporter": bool(reporter_flags),
                "reporter_vulnerabilities": reporter_flags,
                "risk_assessments": [RiskAssessmentOut(
                    assessed_at=a.assessed_at, by=a.by, level=a.level, label=getattr(labels, a.level, a.level),
                    scores=a.scores, total=a.score, reporter_vulnerable=a.reporter_vulnerable, next_due=a.next_due,
                ) for a in assessments],
                "parties": [PartyOut(
                    role=party.role, person_id=person.id, anonymous=bool(party.anonymous), name=person.name,
                    contact_method=person.contact_method, large_print=bool(person.large_print),
                    easy_read=bool(person.easy_read), language=person.language,
                    vulnerabilities=list(person.vulnerabilities or []),
                ) for party, person in parties],
                "incidents": [IncidentOut(
                    id=i.id, shareable=bool(i.shareable), occurred_at=i.occurred_at, location=i.location,
                    category=i.category, hate_strand=i.hate_strand, description=i.description,
                    police_reference=i.police_reference, evidence=list(i.evidence or []), recorded_at=i.recorded_at,
                    reported_by=i.reported_by_kind, reporter_id=i.reported_by, partner_reference=i.partner_reference,
                    impact=i.impact, injuries=i.injuries, feed=i.feed, feed_id=i.feed_id, report_ref=i.report_ref,
                    status=cast(Any, i.status), source=i.source,
                ) for i in incidents],
                # A note of structured details only (what an Equality Act assessment considered) is shown
                # where its details are, not as an empty note.
                "notes": [_note_out(n) for n in notes if n.text is not None or n.data is None],
                "action_plan": [ActionOut(action=a.key, what=a.description, who=a.owner, due=a.due, done=bool(a.done))
                                for a in session.scalars(select(ActionPlanItemRow).where(
                                    ActionPlanItemRow.case_ref == reference).order_by(ActionPlanItemRow.id))],
                "equality_assessments": [EqualityAssessmentOut(
                    at=e.at, by=e.by, step=e.step, conclusion=e.conclusion, considered=e.considered,
                    adjustments=e.adjustments, note=e.note,
                ) for e in session.scalars(select(EqualityAssessmentRow).where(
                    EqualityAssessmentRow.case_ref == reference).order_by(EqualityAssessmentRow.id))],
                "referrals": referrals_of(session, reference),
                "shared_with": shares_of(session, reference),
            }

    async def case_view(self, principal: Principal, reference: str) -> CaseView:
        rows = await asyncio.to_thread(self._case_rows, principal, reference)
        timeline = await asyncio.to_thread(self.store.timeline, reference)
        status: CaseStatusOut | None = None
        error: str | None = None
        try:
            status = await self._status(reference, principal)
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
        if command == "record_risk_assessment":
            self._check_risk_assessment(command, args, parsed)
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
            if getattr(parsed, "acknowledge", False) and not getattr(parsed, "reporter_id", None):
                raise InputError("args.acknowledge", f"{command}: acknowledge: give reporter_id, the person to "
                                 "acknowledge")
            if (getattr(parsed, "feed", None) is None) != (getattr(parsed, "feed_id", None) is None):
                raise InputError("args.feed_id", f"{command}: feed and feed_id go together: the app and its id")
        if command == "make_referral":
            agencies = self.profile.referrals.agencies
            agency = getattr(parsed, "agency", None)
            if agency not in agencies:
                raise InputError("args.agency", f"{command}: agency: unknown agency {agency!r}; this service "
                                 f"refers to: {', '.join(agencies)}")

    def _check_risk_assessment(self, command: str, args: dict[str, Any], parsed: Any) -> None:
        """The scores against this deployment's risk matrix (naming the factor), the next date's bounds, and
        `reporter_vulnerable`, which the case file answers (clients.caseclient.with_case_file_facts)."""
        if "reporter_vulnerable" in args:
            raise InputError("args.reporter_vulnerable", f"{command}: reporter_vulnerable: set by the API from the "
                             "reporter's vulnerability flags in the case file")
        scores = getattr(parsed, "scores", None)
        if scores is not None:
            try:
                check_scores(self.profile.risk_matrix, scores)
            except ScoreError as exc:
                raise InputError(f"args.scores.{exc.factor}" if exc.factor else "args.scores",
                                 f"{command}: scores: {exc}") from exc
        due = getattr(parsed, "next_assessment_due", None)
        if due is not None:
            reason = next_assessment_refusal(self.profile, due, _now())
            if reason:
                raise InputError("args.next_assessment_due", f"{command}: {reason}")

    def _visible(self, principal: Principal, reference: str, purpose: str) -> CaseRow:
        with self.store.session() as session, session.begin():
            return open_case(session, reference, principal.role, principal.id, purpose=purpose)

    @staticmethod
    def _check_names_in(session: Session, principal: Principal, reference: str, command: str,
                        args: dict[str, Any]) -> None:
        """What only the case file can check: a reporter named by id is a person on this case, and the
        live case a duplicate names exists (and is one the caller may see)."""
        reporter = args.get("reporter_id")
        if isinstance(reporter, str):
            on_case = session.scalars(select(PartyRow.id).where(PartyRow.case_ref == reference,
                                                                PartyRow.person_id == reporter)).first()
            if on_case is None:
                raise InputError("args.reporter_id", f"{command}: reporter_id: {reporter!r} is not a person on "
                                 f"case {reference}")
        merged = args.get("merged_into")
        if isinstance(merged, str):
            try:
                open_case(session, merged, principal.role, principal.id, purpose="duplicate of")
            except CaseNotFound as exc:
                raise InputError("args.merged_into", f"{command}: merged_into: no case {merged}") from exc

    async def command(self, principal: Principal, reference: str, command: str, args: dict[str, Any],
                      idempotency_key: str | None = None) -> CommandOut:
        """Send a command. With an Idempotency-Key, the Update id is derived from it (and the case, the
        command and the caller), so a retry after a 504 is the same Update and Temporal applies it once."""
        if principal.role in ("ops", "auditor"):
            raise AuthError(403, f"the {principal.role} role can read cases but not act on them")
        if principal.role == "partner":
            raise AuthError(403, "a partner agency records the outcome of its own referrals: "
                                 "POST /partner/cases/{ref}/referrals/{referral}/outcome")
        spec = COMMANDS.get(command)
        if principal.role == "intake" and (spec is None or "intake" not in spec.roles):
            raise AuthError(403, "intake staff may log reports, incidents and ASB Case Review applications, "
                                 f"not {command}")
        args = await asyncio.to_thread(self._checked, principal, reference, command, args)
        return await self._send(principal.actor, reference, command, args, idempotency_key)

    def _checked(self, principal: Principal, reference: str, command: str, args: dict[str, Any]) -> dict[str, Any]:
        """Everything the case file checks before a command, in one transaction and one thread hop (issue 15:
        a transaction of its own for the visibility check alone took a third of the API's CPU): the case is
        one the caller may see, the arguments are well formed, the people and cases they name exist, and a
        referral's person and consent are the case's."""
        refused: InputError | None = None
        with self.store.session() as session, session.begin():
            open_case(session, reference, principal.role, principal.id, purpose=f"command:{command}")
            try:  # a refusal still commits the audited read of a locked case
                self.check_args(command, args)
                self._check_names_in(session, principal, reference, command, args)
                if command == "make_referral":
                    args = prepare_referral(session, reference, args)
            except ReferralInputError as exc:
                refused = InputError(exc.field, exc.message)
            except InputError as exc:
                refused = exc
        if refused is not None:
            raise refused
        return args

    async def _send(self, actor: Actor, reference: str, command: str, args: dict[str, Any],
                    idempotency_key: str | None) -> CommandOut:
        handle = self.client.get_workflow_handle(reference)
        update_id = update_id_for(reference, command, idempotency_key, f"{actor.role}:{actor.id}")
        try:
            result = await asyncio.wait_for(
                send_command(handle, command, args, actor, store=self.store, at=_now(), update_id=update_id),
                timeout=self.settings.command_timeout_seconds,
            )
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
            raise Unavailable(504, NOT_YET_APPLIED.format(command=command)) from exc
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise Refused(f"case {reference} has no running workflow") from exc
            if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
                raise Unavailable(504, NOT_YET_APPLIED.format(command=command)) from exc
            raise Unavailable(503, f"the case engine did not answer: {exc.message}") from exc
        if not result.accepted:
            raise Refused(result.reason or "refused")
        if result.status is None:  # an accepted command always answers with the case's status
            raise Unavailable(503, f"the case accepted {command} but did not say its status")
        return CommandOut(command=command, status=result.status)

    # ------------------------------------------------------------------------------------ notes

    def _write_note(self, principal: Principal, reference: str, note: NoteInput, ref: str) -> NoteCreated:
        try:
            with self.store.session() as session, session.begin():
                row, created = write_note(session, reference, note, principal.actor, _now(), ref)
                return NoteCreated(reference=reference, note=_note_out(row), created=created)
        except NotAllowed as exc:
            raise AuthError(403, str(exc)) from exc
        except NoteRefused as exc:
            raise InputError(exc.field, str(exc)) from exc

    async def add_note(self, principal: Principal, reference: str, note: NoteInput,
                       idempotency_key: str | None = None) -> NoteCreated:
        """A typed note (a call, a visit, an interview, a meeting, a request for information): the case
        file's alone, audited, not a workflow command (casefile/notes.py says why). With an
        Idempotency-Key a retry finds the note already written."""
        if principal.role not in ("officer", "manager", "senior_manager"):
            raise AuthError(403, f"the {principal.role} role may not write case notes (officers and managers do)")
        ref = note_ref(reference, f"{principal.role}:{principal.id}", idempotency_key)
        return await asyncio.to_thread(self._write_note, principal, reference, note, ref)

    # ------------------------------------------------------------------------------------ linked reports

    def _attach_rows(self, principal: Principal, reference: str, to: str, seed: str) -> tuple[list[Attached], str]:
        """Write the case's report onto the open case `to`; the attachments and the case's stage."""
        if reference == to:
            raise InputError("to", "to: a case cannot be attached to itself")
        with self.store.session() as session, session.begin():
            source = open_case(session, reference, principal.role, principal.id, purpose="attach")
            try:
                target = open_case(session, to, principal.role, principal.id, purpose="attach to")
            except CaseNotFound as exc:
                raise InputError("to", f"to: no case {to}") from exc
            if target.closed_at is not None or target.stage == "closed":
                raise Refused(f"case {to} is closed: attach the report to an open case, or have a manager reopen it")
            if source.closed_at is not None or source.stage == "closed":
                raise Refused(f"case {reference} is closed already")
            return attach_case(session, source, target, principal.actor, seed=seed), source.stage

    async def attach(self, principal: Principal, reference: str, to: str, idempotency_key: str | None = None
                     ) -> AttachOut:
        """Attach this case's report to the open case `to` as incidents (its reporter told so), then close
        this case as a duplicate of it: at once if it is an enquiry, else by asking for closure (approved by
        a manager as any closure is). A duplicate's closure sends no closure letter (issue 12 item 6)."""
        if principal.role not in ("officer", "manager", "senior_manager"):
            raise AuthError(403, f"the {principal.role} role may not attach reports to cases")
        seed = update_id_for(reference, f"attach:{to}", idempotency_key, f"{principal.role}:{principal.id}")
        attachments, stage = await asyncio.to_thread(self._attach_rows, principal, reference, to, seed)
        outcomes = [await self._send_attachment(attached) for attached in attachments]
        if "refused" in outcomes:
            await asyncio.to_thread(self._discard, [a.incident_ref for a in attachments])
            raise Refused(f"case {to} refused the incidents (it may have closed meanwhile); those not yet recorded "
                          "there were not attached, and this case stays open")
        recorded = all(outcome == "recorded" for outcome in outcomes)
        close = "close_enquiry" if stage == "enquiry" else "request_closure"
        try:
            await self.command(principal, reference, close, {"reason": DUPLICATE, "merged_into": to},
                               idempotency_key=f"{seed}-close")
            closure = (f"closed as a duplicate of {to}; no closure letter" if close == "close_enquiry"
                       else f"closure as a duplicate of {to} asked for; a manager approves it (no closure letter)")
        except Refused as exc:
            closure = f"not closed: {exc.reason}"
        return AttachOut(reference=reference, attached_to=to, incidents=len(attachments), recorded=recorded,
                         closure=closure, status=await self._status_or_none(to))

    def _discard(self, refs: list[str]) -> None:
        with self.store.session() as session, session.begin():
            for ref in refs:
                discard_pending_incident(session, ref)

    # ------------------------------------------------------------------------------------ referrals and partners

    def agencies(self) -> AgencyList:
        return AgencyList(agencies=[
            AgencyOut(id=agency_id, kind=agency.kind, title=agency.title,
                      without_consent=sorted(WITHOUT_CONSENT.get(agency.kind, frozenset())))
            for agency_id, agency in self.profile.referrals.agencies.items()
        ])

    def _share(self, principal: Principal, reference: str, agency: str, shared: bool) -> ShareOut:
        try:
            with self.store.session() as session, session.begin():
                return share_with_agency(session, reference, agency, shared, role=principal.role,
                                         actor_id=principal.id, agencies=self.profile.referrals.agencies,
                                         now=_now())
        except UnknownAgency as exc:
            raise InputError("agency", str(exc)) from exc
        except NotTheirs as exc:
            raise Refused(str(exc)) from exc
        except PermissionError as exc:
            raise AuthError(403, str(exc)) from exc

    async def share(self, principal: Principal, reference: str, agency: str, shared: bool) -> ShareOut:
        """Share the case with a partner agency (or stop): its staff then see its shareable items."""
        return await asyncio.to_thread(self._share, principal, reference, agency, shared)

    def _shareable(self, principal: Principal, reference: str, item: ShareableItem, item_id: int,
                   shareable: bool) -> ShareableOut:
        try:
            with self.store.session() as session, session.begin():
                marked = set_item_shareable(session, reference, item, item_id, shareable, role=principal.role,
                                       actor_id=principal.id)
        except NotTheirs as exc:
            raise Refused(str(exc)) from exc
        except PermissionError as exc:
            raise AuthError(403, str(exc)) from exc
        return ShareableOut(reference=reference, item=item, id=item_id, shareable=marked)

    async def mark_shareable(self, principal: Principal, reference: str, item: ShareableItem, item_id: int,
                             shareable: bool) -> ShareableOut:
        return await asyncio.to_thread(self._shareable, principal, reference, item, item_id, shareable)

    def _agency_of(self, principal: Principal) -> str:
        """The partner's agency, from their token; one this service does not work with sees nothing."""
        agency = principal.agency
        if principal.role != "partner" or agency is None:
            raise AuthError(403, "only a partner agency's staff use the partner routes")
        if agency not in self.profile.referrals.agencies:
            raise AuthError(403, f"the agency {agency!r} in your token is not one this service works with")
        return agency

    def _partner_cases(self, principal: Principal, agency: str) -> PartnerCaseList:
        with self.store.session() as session, session.begin():
            return PartnerCaseList(agency=agency, cases=partner_cases(session, agency, principal.id))

    async def partner_cases(self, principal: Principal) -> PartnerCaseList:
        agency = self._agency_of(principal)
        return await asyncio.to_thread(self._partner_cases, principal, agency)

    def _partner_case(self, principal: Principal, agency: str, reference: str) -> PartnerCaseOut | None:
        with self.store.session() as session, session.begin():  # committed either way: the read is audited
            return partner_case(session, reference, agency, principal.id)

    async def partner_case(self, principal: Principal, reference: str) -> PartnerCaseOut:
        """The partner's partition of a case shared with its agency; any other case is a 404 (audited)."""
        agency = self._agency_of(principal)
        view = await asyncio.to_thread(self._partner_case, principal, agency, reference)
        if view is None:
            raise CaseNotFound(reference)
        return view

    def _partner_referral(self, principal: Principal, agency: str, reference: str, referral_id: str
                          ) -> PartnerReferral | None:
        with self.store.session() as session, session.begin():
            row = partner_referral(session, reference, agency, referral_id, principal.id)
            return PartnerReferral.model_validate(row, from_attributes=True) if row is not None else None

    async def partner_outcome(self, principal: Principal, reference: str, referral_id: str, body: PartnerOutcomeIn,
                              idempotency_key: str | None = None) -> PartnerReferralOut:
        """A partner records what became of a referral to its agency, on a case shared with it: the case's
        own command (record_referral_outcome), sent as the partner, so the case judges it like any other."""
        agency = self._agency_of(principal)
        if await asyncio.to_thread(self._partner_referral, principal, agency, reference, referral_id) is None:
            with self.store.session() as session:
                shared = any(s.agency == agency and s.shared for s in shares_of(session, reference))
            if not shared:
                raise CaseNotFound(reference)
            raise ItemNotFound(f"no referral {referral_id} to {agency} in case {reference}")
        args: dict[str, Any] = {"referral": referral_id, "outcome": body.outcome}
        if body.follow_up is not None:
            args["follow_up"] = body.follow_up.isoformat()
        if body.note is not None:
            args["note"] = body.note
        self.check_args("record_referral_outcome", args)
        await self._send(principal.actor, reference, "record_referral_outcome", args, idempotency_key)
        after = await asyncio.to_thread(self._partner_referral, principal, agency, reference, referral_id)
        assert after is not None  # it was theirs a moment ago, and referrals are never deleted
        return after

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

    def _task(self, principal: Principal, task_id: str) -> tuple[TaskView, str | None]:
        """The task and its case's officer, if its case is one this person may see (else the same 404 as
        an unknown task). Who may then act on the task is the task's rule (workflows.tasks.refusal)."""
        with self.store.session() as session, session.begin():
            view = get_task(session, task_id)
            try:
                case = open_case(session, view.case_ref, principal.role, principal.id, purpose="task")
            except CaseNotFound as exc:
                raise TaskNotFound(f"no task {task_id}") from exc
            return view, case.officer

    def _reread(self, task_id: str) -> TaskOut:
        with self.store.session() as session:
            return get_task(session, task_id)

    def _gate_tasks(self, principal: Principal) -> None:
        if principal.role in ("ops", "auditor", "intake"):
            raise AuthError(403, f"the {principal.role} role does not take or decide tasks")

    async def claim(self, principal: Principal, task_id: str) -> TaskOut:
        self._gate_tasks(principal)
        _view, officer = await asyncio.to_thread(self._task, principal, task_id)
        try:
            await claim_task(self.client, task_id, principal.actor, case_officer=officer)
        except TaskRefused as exc:
            raise Refused(exc.reason) from exc
        return await asyncio.to_thread(self._reread, task_id)

    async def decide(self, principal: Principal, task_id: str, decision: str, reason: str | None) -> DecideOut:
        self._gate_tasks(principal)
        view, officer = await asyncio.to_thread(self._task, principal, task_id)
        try:
            result = await asyncio.wait_for(
                decide_task(self.client, self.store, view, principal.actor, cast(Decision, decision), reason,
                            case_officer=officer),
                timeout=self.settings.command_timeout_seconds,
            )
        except TaskRefused as exc:
            raise Refused(exc.reason) from exc
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
            raise Unavailable(504, f"task {task_id} was not decided in time: not yet applied; check the case "
                              "before retrying") from exc
        return DecideOut(task=await asyncio.to_thread(self._reread, task_id), result=dict(result))

    # ------------------------------------------------------------------------------------ evidence
    #
    # casefile.evidence does the work in the caller's transaction; each call here is one transaction that
    # commits (so a read's audit row is kept, and a removal's bytes are purged once it has committed).
    # A store that does not answer (a full disk, S3 down) is a 503: nothing was added or removed.

    @staticmethod
    def _gate(principal: Principal, roles: tuple[Role, ...], what: str) -> None:
        if principal.role not in roles:
            raise AuthError(403, f"the {principal.role} role may not {what} (allowed: {', '.join(roles)})")

    def _add_evidence(self, principal: Principal, reference: str, content: bytes, fields: dict[str, Any]
                      ) -> AddedEvidence:
        try:
            with self.store.session() as session, session.begin():
                return add_evidence(session, reference, content, role=principal.role, actor_id=principal.id,
                                    store=self.evidence_store, settings=self.evidence, **fields)
        except (OSError, BotoCoreError, ClientError) as exc:
            log.warning("evidence for %s not stored: the store failed (%s)", reference, type(exc).__name__)
            raise Unavailable(503, STORE_DOWN) from exc

    async def add_evidence(self, principal: Principal, reference: str, content: bytes, *, filename: str | None,
                           media_type: str | None, kind: str, incident_id: int | None = None,
                           description: str | None = None, provided_by: str | None = None,
                           shareable: bool = False, idempotency_key: str | None = None) -> AddedEvidence:
        """Add a file to a case: 413 (TooLarge) over the deployment's limit, 422 (EvidenceRefused, naming
        the field) for a file or field that breaks a rule, a resend (same bytes, or same key) answers
        with the first row and created=False."""
        self._gate(principal, EVIDENCE_ADDERS, "add evidence")
        if len(content) > self.evidence.max_bytes:
            raise TooLarge("file", f"the file is {len(content)} bytes; the largest accepted is "
                           f"{self.evidence.max_bytes} bytes")
        fields = {"filename": filename, "media_type": media_type, "kind": kind, "incident_id": incident_id,
                  "description": description, "provided_by": provided_by, "shareable": shareable,
                  "idempotency_key": idempotency_key}
        return cast(AddedEvidence, await asyncio.to_thread(self._add_evidence, principal, reference, content,
                                                           fields))

    def _list_evidence(self, principal: Principal, reference: str) -> list[EvidenceInfo]:
        with self.store.session() as session, session.begin():
            return list_evidence(session, reference, role=principal.role, actor_id=principal.id)

    async def list_evidence(self, principal: Principal, reference: str) -> list[EvidenceInfo]:
        return cast(list[EvidenceInfo], await asyncio.to_thread(self._list_evidence, principal, reference))

    def _evidence_info(self, principal: Principal, evidence_id: int) -> EvidenceInfo:
        with self.store.session() as session, session.begin():
            return evidence_info(session, evidence_id, role=principal.role, actor_id=principal.id)

    async def evidence_info(self, principal: Principal, evidence_id: int) -> EvidenceInfo:
        return cast(EvidenceInfo, await asyncio.to_thread(self._evidence_info, principal, evidence_id))

    def _open_evidence(self, principal: Principal, reference: str, evidence_id: int, purpose: str) -> OpenedEvidence:
        try:
            with self.store.session() as session, session.begin():
                return open_evidence(session, evidence_id, role=principal.role, actor_id=principal.id,
                                     purpose=purpose, store=self.evidence_store, case_ref=reference)
        except (OSError, BotoCoreError, ClientError) as exc:
            log.warning("evidence %s not read: the store failed (%s)", evidence_id, type(exc).__name__)
            raise Unavailable(503, STORE_DOWN) from exc

    async def open_evidence(self, principal: Principal, reference: str, evidence_id: int,
                            purpose: str = "download") -> OpenedEvidence:
        """A file's bytes (checked against their digest) with its details; the read is audited."""
        return cast(OpenedEvidence, await asyncio.to_thread(self._open_evidence, principal, reference,
                                                            evidence_id, purpose))

    def _share_evidence(self, principal: Principal, reference: str, evidence_id: int, shareable: bool
                        ) -> EvidenceInfo:
        with self.store.session() as session, session.begin():
            return set_shareable(session, evidence_id, shareable, role=principal.role, actor_id=principal.id,
                                 case_ref=reference)

    async def share_evidence(self, principal: Principal, reference: str, evidence_id: int, shareable: bool
                             ) -> EvidenceInfo:
        self._gate(principal, EVIDENCE_SHARERS, "say whether evidence may be shared")
        return cast(EvidenceInfo, await asyncio.to_thread(self._share_evidence, principal, reference,
                                                          evidence_id, shareable))

    def _delete_evidence(self, principal: Principal, reference: str, evidence_id: int) -> EvidenceInfo:
        # delete_evidence arranges the purge of the bytes for after this transaction commits.
        with self.store.session() as session, session.begin():
            return delete_evidence(session, evidence_id, role=principal.role, actor_id=principal.id,
                                   store=self.evidence_store, case_ref=reference)

    async def delete_evidence(self, principal: Principal, reference: str, evidence_id: int) -> EvidenceInfo:
        """Remove a file from its case (audited), if this person may; 409 with the reason if not."""
        self._gate(principal, EVIDENCE_REMOVERS, "remove evidence")
        return cast(EvidenceInfo, await asyncio.to_thread(self._delete_evidence, principal, reference,
                                                          evidence_id))
