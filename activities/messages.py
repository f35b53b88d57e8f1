"""Letters and notifications, delivered once per key.

Here they go to the outbox folder (the embedded default): a file per message that staff can open
and print. The row is claimed first and the file written under a name fixed by the key, so a retry
after a crash rewrites the same file rather than sending a second letter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from temporalio import activity

from activities.contracts import MessageRequest
from casefile.db import Store
from casefile.models import MessageRow


class MessageActivities:
    def __init__(self, store: Store, outbox: Path) -> None:
        self.store = store
        self.outbox = outbox

    def _deliver(self, request: MessageRequest) -> str:
        store = self.store
        with store.session() as session, session.begin():
            session.execute(
                store.insert_ignoring_duplicates(MessageRow).values(
                    key=request.key, case_ref=request.case_ref, channel=request.channel,
                    template=request.template, recipient_role=request.to, recipient_id=request.recipient_id,
                    status="pending", created_at=request.at,
                )
            )
            row = session.scalars(select(MessageRow).where(MessageRow.key == request.key)).one()
            if row.status == "sent":
                return row.path or ""
        folder = self.outbox / request.case_ref
        folder.mkdir(parents=True, exist_ok=True)
        suffix = "letter.txt" if request.channel == "letter" else f"{request.channel}.txt"
        path = folder / f"{request.key.replace('/', '_')}.{suffix}"
        path.write_text(
            f"Case: {request.case_ref}\nTemplate: {request.template}\nTo: {request.to} "
            f"({request.recipient_id})\nChannel: {request.channel}\nDated: {request.at.date().isoformat()}\n",
            encoding="utf-8",
        )
        with store.session() as session, session.begin():
            row = session.scalars(select(MessageRow).where(MessageRow.key == request.key)).one()
            row.status = "sent"
            row.path = str(path)
            row.sent_at = datetime.now(UTC)
        return str(path)

    @activity.defn(name="send_letter")
    def send_letter(self, request: MessageRequest) -> str:
        return self._deliver(request)

    @activity.defn(name="send_notification")
    def send_notification(self, request: MessageRequest) -> str:
        return self._deliver(request)
