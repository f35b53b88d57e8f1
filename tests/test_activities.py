"""Activities act once per key, however often Temporal retries them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from activities.case_file import CaseFileActivities
from activities.contracts import EventBatch, MessageRequest, Projection, TimelineEvent
from activities.messages import MessageActivities
from casefile.db import Store
from casefile.models import CaseRow, EventRow, MessageRow, TaskRow

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _projection(seq: int, stage: str) -> Projection:
    return Projection(seq=seq, profile="reading", stage=stage, outcome="enquiry", risk="low", category="noise",
                      officer="o1", opened_at=AT, closed_at=None, closure_reason=None, next_deadline=None,
                      overdue=False)


def _count(store: Store, model: type, ref: str) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(model.case_ref == ref)) or 0)


def test_record_events_twice_writes_once(store: Store) -> None:
    ref = "ASB-2026-900001"
    batch = EventBatch(case_ref=ref, projection=_projection(2, "enquiry"), events=[
        TimelineEvent(seq=1, at=AT, data={"event": "stage", "stage": "enquiry"}),
        TimelineEvent(seq=2, at=AT, data={"event": "task", "kind": "overdue", "role": "manager"}),
    ])
    activities = CaseFileActivities(store)
    assert activities.record_events(batch) == 2
    assert activities.record_events(batch) == 0  # a retry after the first succeeded
    assert _count(store, EventRow, ref) == 2
    assert _count(store, TaskRow, ref) == 1


def test_a_late_projection_never_moves_the_case_backwards(store: Store) -> None:
    ref = "ASB-2026-900002"
    activities = CaseFileActivities(store)
    newer = EventBatch(case_ref=ref, projection=_projection(5, "investigation"), events=[])
    older = EventBatch(case_ref=ref, projection=_projection(3, "enquiry"), events=[])
    activities.record_events(newer)
    activities.record_events(older)
    with store.session() as session:
        assert session.get(CaseRow, ref).stage == "investigation"  # type: ignore[union-attr]


def test_a_letter_is_sent_once_per_key(store: Store, tmp_path: Path) -> None:
    ref = "ASB-2026-900003"
    messages = MessageActivities(store, tmp_path)
    request = MessageRequest(key=f"{ref}/3/letter", case_ref=ref, channel="letter", template="acknowledgement",
                             to="reporter", recipient_id="r1", at=AT)
    first = messages.send_letter(request)
    second = messages.send_letter(request)
    assert first == second
    assert _count(store, MessageRow, ref) == 1
    assert len(list((tmp_path / ref).iterdir())) == 1
    assert "acknowledgement" in Path(first).read_text()


def test_a_send_interrupted_before_it_was_marked_sent_completes_on_retry(store: Store, tmp_path: Path) -> None:
    ref = "ASB-2026-900004"
    request = MessageRequest(key=f"{ref}/4/letter", case_ref=ref, channel="letter", template="action_plan",
                             to="reporter", recipient_id="r1", at=AT)
    with store.session() as session, session.begin():  # the row claimed, then the worker died
        session.add(MessageRow(key=request.key, case_ref=ref, channel="letter", template="action_plan",
                               recipient_role="reporter", recipient_id="r1", status="pending", created_at=AT))
    path = MessageActivities(store, tmp_path).send_letter(request)
    assert Path(path).exists()
    with store.session() as session:
        row = session.scalars(select(MessageRow).where(MessageRow.key == request.key)).one()
        assert row.status == "sent"
    assert _count(store, MessageRow, ref) == 1
