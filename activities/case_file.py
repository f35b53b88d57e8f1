"""Projecting what the workflow decided into the case file, idempotently and never backwards.

One transaction per workflow step: the case row (only if this step is newer than what is there),
the timeline events (skipped if already written: the unique (case, seq) key), and, for events that
were new, the rows they stand for: contacts, risk assessments, interventions, legal actions,
equality assessments and tasks. A retried or replayed activity therefore writes nothing twice.

A command that carried free text names it on its event (`note_ref`); recording that event confirms
the note the door wrote, pending, before it sent the command (asb/caseclient.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import EventBatch, TaskUpdate, TimelineEvent
from activities.failures import scrubbed
from casefile.audit import act_as
from casefile.db import Store
from casefile.models import (
    CaseNoteRow,
    CaseRow,
    ContactRow,
    EqualityAssessmentRow,
    EventRow,
    IncidentRow,
    InterventionRow,
    LegalActionRow,
    PartyRow,
    RiskAssessmentRow,
    TaskRow,
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
            for item in batch.events:
                data = {k: v for k, v in item.data.items() if k != "event"}
                inserted = session.execute(
                    store.insert_ignoring_duplicates(EventRow).values(
                        case_ref=batch.case_ref, seq=item.seq, at=item.at, kind=str(item.data["event"]), data=data
                    ).returning(EventRow.id)
                ).all()
                if inserted:
                    new.append(item)
            _DomainRows(session, batch.case_ref).write(new)
            confirm_notes(session, batch.case_ref, [str(item.data["note_ref"]) for item in batch.events
                                                    if item.data.get("note_ref")])
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

    def write(self, events: list[TimelineEvent]) -> None:
        for item in events:
            kind = str(item.data["event"])
            handler = getattr(self, f"_{kind}", None)
            if handler is not None:
                handler(item.data, item.at, item.seq)

    def _command(self, data: dict[str, Any], at: datetime, seq: int) -> None:
        self.by = str(data.get("by") or "system")

    def _contact(self, data: dict[str, Any], at: datetime, seq: int) -> None:
        reporter = self.session.scalars(
            select(PartyRow.person_id).where(PartyRow.case_ref == self.case_ref, PartyRow.role == "reporter")
        ).first()
        self.session.add(ContactRow(case_ref=self.case_ref, person_id=reporter, at=at, outcome=data["outcome"],
                                    method=data.get("method") or "phone", by=self.by))

    def _incident(self, data: dict[str, Any], at: datetime, seq: int) -> None:
        """An incident recorded on the case (not the report's own, which intake writes): its moment,
        category and hate strand, for the chronology and for reporting hate-related cases (004 §6.4)."""
        if "occurred_at" not in data:
            return  # recorded before incidents carried their details
        self.session.add(IncidentRow(
            case_ref=self.case_ref, occurred_at=datetime.fromisoformat(str(data["occurred_at"])),
            category=str(data.get("category") or "unknown"), hate_strand=data.get("hate_strand"),
            reported_by=None, evidence=[], recorded_at=at,
        ))

    def _risk_assessment(self, data: dict[str, Any], at: datetime, seq: int) -> None:
        self.session.add(RiskAssessmentRow(case_ref=self.case_ref, level=data["level"], assessed_at=at, by=self.by))

    def _intervention(self, data: dict[str, Any], at: datetime, seq: int) -> None:
        self.session.add(InterventionRow(case_ref=self.case_ref, kind=data["kind"], started_at=at, by=self.by))

    def _equality_assessment(self, data: dict[str, Any], at: datetime, seq: int) -> None:
        self.session.add(EqualityAssessmentRow(case_ref=self.case_ref, at=at, by=self.by))

    def _legal_action(self, data: dict[str, Any], at: datetime, seq: int) -> None:
        if data["status"] == "proposed":
            self.session.add(LegalActionRow(case_ref=self.case_ref, kind=data["kind"], status="proposed",
                                            emergency=bool(data.get("emergency")), proposed_at=at))
            return
        open_statuses = ("proposed",) if data["status"] in ("approved", "rejected") else ("approved",)
        row = self.session.scalars(
            select(LegalActionRow).where(LegalActionRow.case_ref == self.case_ref,
                                         LegalActionRow.kind == data["kind"],
                                         LegalActionRow.status.in_(open_statuses))
            .order_by(LegalActionRow.id.desc())
        ).first()
        if row is not None:
            row.status = data["status"]
            row.decided_at = at if data["status"] in ("approved", "rejected") else row.decided_at

    def _task(self, data: dict[str, Any], at: datetime, seq: int) -> None:
        self.session.add(TaskRow(
            key=task_key(self.case_ref, seq), case_ref=self.case_ref, kind=str(data.get("kind")),
            role=str(data.get("role")), status="open", created_at=at, data=data,
        ))
