"""Projecting what the workflow decided into the case file, idempotently and never backwards.

One transaction per workflow step: the case row (only if this step is newer than what is there),
the timeline events in one statement (skipped if already written: the unique (case, seq) key), and, for events that
were new, the rows they stand for: contacts, risk assessments, interventions, legal actions,
equality assessments, the action plan (its actions, and each version shared whole) and tasks. A retried
or replayed activity therefore writes nothing twice.

A command that carried free text names it on its event (`note_ref`); recording that event confirms
the note the door wrote, pending, before it sent the command (clients/caseclient.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import EventBatch, TaskUpdate, TimelineEvent
from activities.failures import scrubbed
from casefile import metrics
from casefile.audit import act_as
from casefile.db import Store
from casefile.models import (
    ActionPlanItemRow,
    ActionPlanVersionRow,
    CaseNoteRow,
    CaseRow,
    ConsentRow,
    ContactRow,
    EqualityAssessmentRow,
    EventRow,
    IncidentRow,
    InterventionRow,
    LegalActionRow,
    PartyRow,
    ReferralRow,
    RiskAssessmentRow,
    TaskRow,
)
from statemachine.events import (
    ActionChanged,
    ActionPlanAgreed,
    Breach,
    CommandIssued,
    ContactRecorded,
    EqualityAssessed,
    IncidentRecorded,
    InterventionStarted,
    LegalActionChanged,
    Referral,
    ReferralOutcome,
    RiskAssessed,
    TaskCreated,
    Triaged,
)


def task_key(case_ref: str, seq: int) -> str:
    """A task's id: its row here and its TaskWorkflow share it."""
    return f"{case_ref}-T{seq}"


class CaseFileActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name="record_events")
    @scrubbed
    def record_events(self, batch: EventBatch) -> int:
        """Write a step's events and what they stand for; returns how many events were new."""
        store = self.store
        with store.session() as session, session.begin():
            act_as(session, "system", "workflow")
            self._project(session, batch)
            new: list[TimelineEvent] = []
            if batch.events:
                # One statement for the step's events (issue 15: a round trip each cost most of the step);
                # those already written (a retried activity, a replay) are skipped by the (case, seq) key.
                rows = [dict(case_ref=batch.case_ref, seq=item.seq, at=item.at, kind=item.data.event,
                             data={k: v for k, v in item.data.payload().items() if k != "event"})
                        for item in batch.events]
                inserted = set(session.scalars(
                    store.insert_ignoring_duplicates(EventRow).values(rows).returning(EventRow.seq)).all())
                new = [item for item in batch.events if item.seq in inserted]
            _DomainRows(session, batch.case_ref).write(new)
            confirm_notes(session, batch.case_ref, [item.data.note_ref for item in batch.events
                                                    if isinstance(item.data, CommandIssued) and item.data.note_ref])
        _count(new)  # committed, and new: a retried or replayed step counts nothing again
        return len(new)

    @activity.defn(name="update_task")
    @scrubbed
    def update_task(self, update: TaskUpdate) -> None:
        """Keep a task's row current; an update older than the row's revision is ignored."""
        with self.store.session() as session, session.begin():
            act_as(session, "system", "task")
            row = session.scalars(select(TaskRow).where(TaskRow.key == update.key).with_for_update()).first()
            if row is None:
                # The case writes the row before it starts the task, so this is a race: retry.
                raise ApplicationError(f"task {update.key} has no row yet")
            if update.version <= row.revision:
                return
            row.revision = update.version
            for name in ("role", "status", "assignee", "due", "decision", "decided_by", "decided_at"):
                value = getattr(update, name)
                if getattr(row, name) != value:
                    setattr(row, name, value)
            flags = {"escalated": update.escalated, "reminded": update.reminded, "breached": update.breached}
            if any(row.data.get(k) != v for k, v in flags.items()):
                row.data = {**row.data, **flags}

    def _project(self, session: Session, batch: EventBatch) -> None:
        p = batch.projection
        row = session.scalars(select(CaseRow).where(CaseRow.reference == batch.case_ref).with_for_update()).first()
        values: dict[str, Any] = dict(
            profile=p.profile, stage=p.stage, outcome=p.outcome, risk=p.risk, category=p.category,
            officer=p.officer, opened_at=p.opened_at, closed_at=p.closed_at, closure_reason=p.closure_reason,
            next_deadline=p.next_deadline, overdue=p.overdue, last_seq=p.seq,
        )
        if p.hate is not None:
            values["hate"] = p.hate
        if row is None:
            session.add(CaseRow(reference=batch.case_ref, started_at=p.opened_at, **values))
            session.flush()
        elif p.seq > row.last_seq:
            if row.started_at is None:  # the workflow is evidently running: nothing for the reconciler
                values["started_at"] = p.opened_at
            for name, value in values.items():
                if getattr(row, name) != value:
                    setattr(row, name, value)


def _count(events: list[TimelineEvent]) -> None:
    """The operations metrics these events stand for (casefile/metrics.py: allow-listed labels only)."""
    for item in events:
        if isinstance(item.data, Triaged):
            metrics.case_opened(item.data.outcome, item.data.risk)
        elif isinstance(item.data, Breach):
            metrics.breach(item.data.kind)


def confirm_notes(session: Session, case_ref: str, refs: list[str]) -> int:
    """The command these notes came with is on the case's timeline: they are the case's notes now."""
    if not refs:
        return 0
    result = session.execute(
        update(CaseNoteRow).where(CaseNoteRow.case_ref == case_ref, CaseNoteRow.ref.in_(refs),
                                  CaseNoteRow.status != "confirmed").values(status="confirmed")
    )
    return int(getattr(result, "rowcount", 0) or 0)


class _DomainRows:
    """The case-file rows that timeline events stand for; `by` is the actor of the step's command."""

    def __init__(self, session: Session, case_ref: str) -> None:
        self.session = session
        self.case_ref = case_ref
        self.by = "system"
        self.note_ref: str | None = None

    def write(self, events: list[TimelineEvent]) -> None:
        for item in events:
            try:
                project = PROJECTIONS[item.data.event]
            except KeyError:  # parse_event refuses unknown kinds first; this is the table's own guard
                raise ApplicationError(f"no projection for event kind {item.data.event!r}",
                                       non_retryable=True) from None
            if project is not None:
                project(self, item.data, item.at, item.seq)

    def command(self, data: CommandIssued, at: datetime, seq: int) -> None:
        self.by = str(data.by or "system")
        self.note_ref = data.note_ref

    def contact(self, data: ContactRecorded, at: datetime, seq: int) -> None:
        reporter = self.session.scalars(
            select(PartyRow.person_id).where(PartyRow.case_ref == self.case_ref, PartyRow.role == "reporter")
        ).first()
        self.session.add(ContactRow(case_ref=self.case_ref, person_id=reporter, at=at, outcome=data.outcome,
                                    method=data.method or "phone", by=self.by))

    def incident(self, data: IncidentRecorded, at: datetime, seq: int) -> None:
        """An incident recorded on the case (not the report's own, which intake writes): its moment,
        category and hate strand, for the chronology and for reporting hate-related cases (004 §6.4).
        With `incident_ref`, the details the door wrote first (where, what, the impact, references, 003
        §12) are that row: recording the event confirms it, and the case's own facts win over the door's."""
        if data.occurred_at is None:
            return  # recorded before incidents carried their details
        values: dict[str, Any] = dict(occurred_at=datetime.fromisoformat(data.occurred_at),
                                      category=data.category or "unknown", hate_strand=data.hate_strand,
                                      recorded_at=at, status="confirmed",
                                      source=data.source or "case")
        if data.reported_by is not None:
            values["reported_by_kind"] = data.reported_by
        if data.reporter_id is not None:
            values["reported_by"] = data.reporter_id
        row = None
        if data.incident_ref is not None:
            row = self.session.scalars(select(IncidentRow).where(
                IncidentRow.case_ref == self.case_ref, IncidentRow.ref == data.incident_ref).with_for_update()).first()
        if row is None:
            self.session.add(IncidentRow(case_ref=self.case_ref, ref=data.incident_ref, evidence=[], **values))
            return
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)

    def risk_assessment(self, data: RiskAssessed, at: datetime, seq: int) -> None:
        """The assessment as the matrix scored it: each factor's score, their total, whether the reporter
        was vulnerable, and the date the next one is due (older events carry only the level)."""
        self.session.add(RiskAssessmentRow(
            case_ref=self.case_ref, level=data.level, assessed_at=at, by=self.by, scores=data.scores,
            score=data.total, reporter_vulnerable=bool(data.vulnerable) if data.next_due is not None else None,
            next_due=date.fromisoformat(data.next_due) if data.next_due else None,
        ))

    def intervention(self, data: InterventionStarted, at: datetime, seq: int) -> None:
        self.session.add(InterventionRow(case_ref=self.case_ref, kind=data.kind, started_at=at, by=self.by))

    def equality_assessment(self, data: EqualityAssessed, at: datetime, seq: int) -> None:
        """The structured assessment (004 §6.4; 003 §16): its step and conclusion from the event, and what it
        considered, the adjustments offered and the note from the case file's note the door wrote."""
        note = self._note(data.assessment_ref)
        details = (note.data or {}) if note is not None else {}
        self.session.add(EqualityAssessmentRow(
            case_ref=self.case_ref, at=at, by=self.by, note=note.text if note is not None else None,
            step=data.step, conclusion=data.conclusion, considered=details.get("considered"),
            adjustments=details.get("adjustments"),
        ))

    def _note(self, ref: str | None) -> CaseNoteRow | None:
        if ref is None:
            return None
        return self.session.scalars(select(CaseNoteRow).where(CaseNoteRow.case_ref == self.case_ref,
                                                              CaseNoteRow.ref == ref)).first()

    def action(self, data: ActionChanged, at: datetime, seq: int) -> None:
        """An action of the plan as it now stands (what it is comes from the note the door wrote), and the
        plan's new version when the change was shared."""
        row = self.session.scalars(select(ActionPlanItemRow).where(
            ActionPlanItemRow.case_ref == self.case_ref, ActionPlanItemRow.key == data.action)).first()
        note = self._note(data.what_ref)
        if row is None:
            row = ActionPlanItemRow(case_ref=self.case_ref, key=data.action, description="", owner="officer",
                                    done=False)
            self.session.add(row)
        if note is not None and note.text:
            row.description = note.text
        if data.who is not None:
            row.owner = data.who
        if data.due is not None:
            row.due = date.fromisoformat(data.due)
        if data.change == "done":
            row.done, row.done_at = True, at
        self.session.flush()
        if data.version is not None:
            previous = self.session.scalars(select(ActionPlanVersionRow).where(
                ActionPlanVersionRow.case_ref == self.case_ref).order_by(ActionPlanVersionRow.number.desc())).first()
            self._version(data.version, at, previous.contact_every_days if previous else None,
                          previous.contact_method if previous else None)

    def action_plan(self, data: ActionPlanAgreed, at: datetime, seq: int) -> None:
        if data.version is not None:  # older histories' agreements carry no version: the timeline holds them
            self._version(data.version, at, data.contact_every_days, data.contact_method)

    def _version(self, number: int, at: datetime, every: int | None, method: str | None) -> None:
        """The plan as shared with the reporter in this version, whole: its letter states exactly this."""
        rows = self.session.scalars(select(ActionPlanItemRow).where(ActionPlanItemRow.case_ref == self.case_ref)
                                    .order_by(ActionPlanItemRow.id)).all()
        items = [{"key": r.key, "description": r.description, "owner": r.owner,
                  "due": r.due.isoformat() if r.due else None, "done": bool(r.done)} for r in rows]
        self.session.add(ActionPlanVersionRow(case_ref=self.case_ref, number=number, shared_at=at, items=items,
                                              contact_every_days=every, contact_method=method))

    def legal_action(self, data: LegalActionChanged, at: datetime, seq: int) -> None:
        if data.status == "proposed":
            self.session.add(LegalActionRow(case_ref=self.case_ref, kind=data.kind, status="proposed",
                                            emergency=bool(data.emergency), proposed_at=at))
            return
        open_statuses = ("proposed",) if data.status in ("approved", "rejected") else ("approved",)
        row = self.session.scalars(
            select(LegalActionRow).where(LegalActionRow.case_ref == self.case_ref,
                                         LegalActionRow.kind == data.kind,
                                         LegalActionRow.status.in_(open_statuses))
            .order_by(LegalActionRow.id.desc())
        ).first()
        if row is not None:
            row.status = data.status
            row.decided_at = at if data.status in ("approved", "rejected") else row.decided_at

    def referral(self, data: Referral, at: datetime, seq: int) -> None:
        """A referral row: a partner referral by its id, a triage routing (003 §4) by its event."""
        consent_id: int | None = None
        if data.consent_ref and data.consent_ref.startswith("C-") and data.consent_ref[2:].isdigit():
            # Only a referral consent the case file holds, given by the person referred (a scenario file
            # may name one that is not there, or is someone else's).
            consent_id = self.session.scalars(
                select(ConsentRow.id).where(ConsentRow.id == int(data.consent_ref[2:]),
                                            ConsentRow.person_id == data.person_id, ConsentRow.kind == "referral",
                                            ConsentRow.given.is_(True))).first()
        self.session.add(ReferralRow(
            case_ref=self.case_ref, referral_id=data.id or f"routed-{seq}", agency=data.to[:32],
            purpose=data.reason[:32], person_id=data.person_id, basis=data.basis or "routed",
            consent_id=consent_id, made_at=at, made_by=self.by,
            follow_up=date.fromisoformat(data.follow_up) if data.follow_up else None,
            note_ref=self.note_ref if data.id else None,
        ))

    def referral_outcome(self, data: ReferralOutcome, at: datetime, seq: int) -> None:
        row = self.session.scalars(select(ReferralRow).where(ReferralRow.case_ref == self.case_ref,
                                                             ReferralRow.referral_id == data.id)).first()
        if row is None:
            return
        row.outcome = data.outcome
        row.outcome_at = at
        row.outcome_by = self.by
        row.follow_up = date.fromisoformat(data.follow_up) if data.follow_up else None
        row.outcome_note_ref = self.note_ref

    def task(self, data: TaskCreated, at: datetime, seq: int) -> None:
        self.session.add(TaskRow(
            key=task_key(self.case_ref, seq), case_ref=self.case_ref, kind=data.kind,
            role=data.role, status="open", created_at=at, data=data.payload(),
        ))


_Project = Callable[[_DomainRows, Any, datetime, int], None]

#: What each timeline event kind stands for in the case file besides its timeline row: a row writer,
#: or None for an event the timeline alone records. Every kind of statemachine/events.py is here
#: (tests/test_events.py proves it), so a new kind cannot be dropped silently.
PROJECTIONS: dict[str, _Project | None] = {
    "command": _DomainRows.command,
    "contact": _DomainRows.contact,
    "risk_assessment": _DomainRows.risk_assessment,
    "intervention": _DomainRows.intervention,
    "equality_assessment": _DomainRows.equality_assessment,
    "legal_action": _DomainRows.legal_action,
    "task": _DomainRows.task,
    "action_plan": _DomainRows.action_plan,
    "action": _DomainRows.action,
    # The timeline row is the whole record (the case row follows from the step's projection):
    "rejected": None,
    "triage": None,
    "stage": None,
    "closed": None,
    "officer": None,
    "reopened": None,  # the case row follows from the step's projection; its reason is a note
    "incident": _DomainRows.incident,
    "risk": None,
    "case_review": None,
    "asb_case_review": None,
    "decision": None,
    "letter": None,  # the message row is written by the send_letter activity
    "notification": None,
    "communication_failed": None,
    "reminder": None,
    "escalation": None,
    "task_resolved": None,
    "deadline": None,
    "breach": None,
    "police_informed": None,
    "enquiry_expired": None,
    "referral": _DomainRows.referral,
    "referral_outcome": _DomainRows.referral_outcome,
    "notice": None,
}
