"""Helpers for the letter tests: a case in the case file, a local SMTP server, a stand-in for Notify.

Nothing here is a mock: the SMTP server is aiosmtpd speaking real SMTP on 127.0.0.1, and the Notify
stand-in is a real HTTP server that checks what GOV.UK Notify checks (path, JWT signed with the API
key's secret, JSON body) and answers as Notify does.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from casefile.db import Store
from casefile.models import (
    ActionPlanItemRow,
    ActionPlanVersionRow,
    CaseRow,
    ConsentRow,
    LegalActionRow,
    PartyRow,
    PersonRow,
    TaskRow,
)

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
API_KEY = f"asb_test-{SERVICE_ID}-{SECRET}"


def seed_case(
    store: Store, ref: str, *, reporter: dict[str, Any] | None = None, reported: dict[str, Any] | None = None,
    anonymous: bool = False, consents: list[tuple[str, bool]] | None = None, officer: str | None = "o1",
    category: str = "noise", risk: str | None = "medium", hate: bool = False, closure_reason: str | None = None,
    actions: bool = False, legal: str | None = None, profile: str = "reading",
) -> tuple[str, str]:
    """A case with a reporter and a reported person; returns their ids."""
    suffix = ref.rsplit("-", 1)[-1]
    reporter_id, reported_id = f"rep-{suffix}", f"rp-{suffix}"
    with store.session() as session, session.begin():
        session.add(CaseRow(reference=ref, profile=profile, stage="enquiry", outcome="enquiry", risk=risk,
                            category=category, hate=hate, officer=officer, opened_at=AT, overdue=False, last_seq=0,
                            locked=False, closure_reason=closure_reason))
        session.flush()
        flags = {"large_print": False, "easy_read": False, "is_employee": False}
        person = {**flags, "name": "Alex Morgan", "address": "Flat 2\n14 Acacia Road\nReading", "postcode": "RG1 1AA",
                  "email": "alex@example.org", "phone": "07700900123", "contact_method": "letter",
                  "contact_every_days": 7, **(reporter or {})}
        session.add(PersonRow(id=reporter_id, **person))
        other = {**flags, "name": "Jordan Lee", "address": "16 Acacia Road\nReading", "postcode": "RG1 1AB",
                 **(reported or {})}
        session.add(PersonRow(id=reported_id, **other))
        session.flush()
        session.add(PartyRow(case_ref=ref, person_id=reporter_id, role="reporter", anonymous=anonymous))
        session.add(PartyRow(case_ref=ref, person_id=reported_id, role="reported_person", anonymous=False))
        for offset, (kind, given) in enumerate(consents or []):
            session.add(ConsentRow(person_id=reporter_id, case_ref=ref, kind=kind, given=given,
                                   recorded_at=datetime(2026, 3, 1, 9, offset, tzinfo=UTC), recorded_by="o1"))
        if actions:  # the plan as agree_action_plan leaves it: its actions, and version 1 shared whole
            items = [("A1", "Visit the reported address and talk to the household", "officer", date(2026, 3, 9)),
                     ("A2", "Record any noise with the Noise App", "reporter", date(2026, 3, 16)),
                     ("A3", "Increase patrols in the evenings", "police", date(2026, 3, 20)),
                     ("A4", "Next risk assessment", "officer", date(2026, 4, 2))]
            for key, description, owner, due in items:
                session.add(ActionPlanItemRow(case_ref=ref, key=key, description=description, owner=owner, due=due,
                                              done=False))
            session.add(ActionPlanVersionRow(
                case_ref=ref, number=1, shared_at=AT, contact_every_days=7, contact_method="visit",
                items=[{"key": k, "description": d, "owner": o, "due": due.isoformat(), "done": False}
                       for k, d, o, due in items]))
        if legal:
            session.add(LegalActionRow(case_ref=ref, kind=legal, status="approved", emergency=False, proposed_at=AT))
    return reporter_id, reported_id


def tasks(store: Store, ref: str, kind: str) -> list[TaskRow]:
    from sqlalchemy import select

    with store.session() as session:
        return list(session.scalars(select(TaskRow).where(TaskRow.case_ref == ref, TaskRow.kind == kind)).all())


# ---------------------------------------------------------------------- SMTP


@dataclass
class Mailbox:
    """What a real SMTP server received, and how it should answer the next message."""

    messages: list[EmailMessage] = field(default_factory=list)
    #: e.g. "451 4.3.0 try again later": the server refuses DATA with this reply.
    refuse_with: str | None = None
    #: e.g. "550 5.1.1 <{address}>: Recipient address rejected": the server refuses every recipient (RCPT TO)
    #: with this reply, `{address}` replaced by the address, as real servers name the address they refuse.
    refuse_recipients_with: str | None = None
    #: Called after a message has been received and before the server answers "250".
    on_data: Callable[[EmailMessage], None] | None = None
    port: int = 0

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if self.box.refuse_recipients_with:
            return self.box.refuse_recipients_with.replace("{address}", address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.box.refuse_with:
            return self.box.refuse_with
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.box.messages.append(message)
        if self.box.on_data is not None:
            self.box.on_data(message)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox(port=_free_port())  # aiosmtpd's controller cannot be given port 0
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


# ---------------------------------------------------------------------- Notify


@dataclass
class NotifyStandIn:
    """A local server answering as GOV.UK Notify's v2 API does, after checking each request as Notify does."""

    notifications: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    #: Status to answer POSTs with instead of 201 (e.g. 500, 400).
    fail_with: int | None = None
    #: If given, only POSTs to these paths (e.g. "/v2/notifications/sms") are answered with `fail_with`.
    fail_paths: tuple[str, ...] = ()
    #: Called after a notification is recorded and before the answer is sent.
    on_post: Callable[[dict[str, Any]], None] | None = None
    url: str = ""

    def posts(self, path: str) -> list[dict[str, Any]]:
        return [n for n in self.notifications if n["path"] == path]


REQUIRED = {
    "/v2/notifications/letter": {"reference", "content"},
    "/v2/notifications/email": {"email_address", "template_id"},
    "/v2/notifications/sms": {"phone_number", "template_id"},
}


def _check_token(header: str | None) -> str | None:
    """Notify's rule: 'Bearer <JWT>', HS256, signed with the key's secret, iss = service id, iat within 30 s."""
    if not header or not header.startswith("Bearer "):
        return "Unauthorized: authentication token must be provided"
    try:
        claims = jwt.decode(header.removeprefix("Bearer "), SECRET, algorithms=["HS256"],
                            options={"require": ["iss", "iat"]})
    except jwt.PyJWTError as exc:
        return f"Invalid token: {exc}"
    if claims["iss"] != SERVICE_ID:
        return "Invalid token: service not found"
    if abs(time.time() - int(claims["iat"])) > 30:
        return "Error: Your system clock must be accurate to within 30 seconds"
    return None


@contextmanager
def notify_server() -> Iterator[NotifyStandIn]:
    state = NotifyStandIn()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            problem = _check_token(self.headers.get("Authorization"))
            if problem:
                state.rejected.append(problem)
                self._answer(403, {"status_code": 403, "errors": [{"error": "AuthError", "message": problem}]})
                return False
            return True

        def do_GET(self) -> None:
            url = urlparse(self.path)
            state.requests.append(("GET", url.path))
            if not self._authorised():
                return
            if url.path != "/v2/notifications":
                self._answer(404, {"status_code": 404, "errors": [{"error": "NotFound", "message": url.path}]})
                return
            reference = parse_qs(url.query).get("reference", [None])[0]
            found = [{"id": n["id"], "reference": n["body"].get("reference"), "type": n["type"],
                      "status": "created"} for n in state.notifications if n["body"].get("reference") == reference]
            self._answer(200, {"notifications": found, "links": {"current": url.path}})

        def do_POST(self) -> None:
            state.requests.append(("POST", self.path))
            if not self._authorised():
                return
            required = REQUIRED.get(self.path)
            if required is None:
                self._answer(404, {"status_code": 404, "errors": [{"error": "NotFound", "message": self.path}]})
                return
            if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                self._answer(400, {"status_code": 400, "errors": [{"error": "BadRequest", "message": "not JSON"}]})
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            missing = sorted(required - set(body))
            if missing:
                state.rejected.append(f"missing {missing}")
                self._answer(400, {"status_code": 400, "errors": [
                    {"error": "ValidationError", "message": f"{m} is a required property"} for m in missing]})
                return
            if self.path.endswith("/letter"):
                pdf = base64.b64decode(body["content"])
                if not pdf.startswith(b"%PDF"):
                    self._answer(400, {"status_code": 400, "errors": [
                        {"error": "ValidationError", "message": "Letter content is not a valid PDF"}]})
                    return
            if state.fail_with and (not state.fail_paths or self.path in state.fail_paths):
                self._answer(state.fail_with, {"status_code": state.fail_with, "errors": [
                    {"error": "Failure", "message": "stand-in told to fail"}]})
                return
            notification = {"id": str(uuid.uuid4()), "path": self.path, "type": self.path.rsplit("/", 1)[1],
                            "body": body}
            state.notifications.append(notification)
            if state.on_post is not None:
                state.on_post(notification)
            self._answer(201, {"id": notification["id"], "reference": body.get("reference"),
                               "content": {"subject": body.get("personalisation", {}).get("subject", "")},
                               "uri": f"{state.url}/v2/notifications/{notification['id']}"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
