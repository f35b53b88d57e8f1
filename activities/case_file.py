"""Projecting what the workflow decided into the case file, idempotently and never backwards."""

from __future__ import annotations

from sqlalchemy import select
from temporalio import activity

from activities.contracts import EventBatch
from casefile.db import Store
from casefile.models import CaseRow, EventRow, TaskRow


class CaseFileActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name="record_events")
    def record_events(self, batch: EventBatch) -> int:
        """Write a step's events, tasks and the case row; returns how many events were new."""
        store = self.store
        new = 0
        with store.session() as session, session.begin():
            for item in batch.events:
                kind = str(item.data["event"])
                data = {k: v for k, v in item.data.items() if k != "event"}
                inserted = session.execute(
                    store.insert_ignoring_duplicates(EventRow).values(
                        case_ref=batch.case_ref, seq=item.seq, at=item.at, kind=kind, data=data
                    ).returning(EventRow.id)
                ).all()
                new += len(inserted)
                if kind == "task":
                    session.execute(
                        store.insert_ignoring_duplicates(TaskRow).values(
                            key=f"{batch.case_ref}/{item.seq}", case_ref=batch.case_ref,
                            kind=str(data.get("kind")), role=str(data.get("role")), status="open",
                            created_at=item.at, data=data,
                        )
                    )
            self._project(session, batch)
        return new

    def _project(self, session: object, batch: EventBatch) -> None:
        from sqlalchemy.orm import Session

        assert isinstance(session, Session)
        p = batch.projection
        row = session.scalars(select(CaseRow).where(CaseRow.reference == batch.case_ref).with_for_update()).first()
        values = dict(
            profile=p.profile, stage=p.stage, outcome=p.outcome, risk=p.risk, category=p.category,
            officer=p.officer, opened_at=p.opened_at, closed_at=p.closed_at, closure_reason=p.closure_reason,
            next_deadline=p.next_deadline, overdue=p.overdue, last_seq=p.seq,
        )
        if row is None:
            session.add(CaseRow(reference=batch.case_ref, **values))
        elif p.seq > row.last_seq:
            for name, value in values.items():
                setattr(row, name, value)
