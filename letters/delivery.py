"""Delivery adapters behind one interface: the outbox folder, SMTP, and GOV.UK Notify.

Each adapter is told one message (already rendered, already allowed by the choice rules) and either
delivers it, returning a receipt, or raises DeliveryError saying whether it is worth retrying and
whether the provider might have accepted it anyway. `find` answers "did an earlier attempt already
deliver this key?", which the activity asks before sending again after a crash: Notify can answer
(we give it our key as its `reference`), SMTP cannot, so a resend carries the same Message-ID and the
duplicate is recognisable.
"""

from __future__ import annotations

import io
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol

from letters.config import DeliverySettings
from letters.recipients import Recipient
from letters.render import Rendered


class DeliveryError(Exception):
    """A delivery that did not (certainly) happen.

    `permanent`: retrying cannot help (a refused address, a malformed letter, no such channel);
    `maybe_delivered`: the provider may have accepted it before the failure (a dropped connection
    after the message was sent), so the next attempt must check before sending again.
    """

    def __init__(self, message: str, *, permanent: bool = False, maybe_delivered: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.maybe_delivered = maybe_delivered


@dataclass(frozen=True)
class Outgoing:
    key: str
    case_ref: str
    template: str
    #: post (a paper letter), email, or sms
    route: str
    recipient: Recipient
    rendered: Rendered
    pdf: bytes | None
    #: The archive copy written before sending (an .eml, or a .txt for an SMS).
    archive: Path


@dataclass(frozen=True)
class Receipt:
    provider_id: str | None
    #: Where the delivered thing can be looked at, if it is a file here.
    path: str | None = None


class Adapter(Protocol):
    name: str
    sends_sms: bool

    def deliver(self, message: Outgoing) -> Receipt: ...

    def find(self, key: str) -> Receipt | None: ...


def safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", key)


def message_id(key: str, sender: str) -> str:
    """The same Message-ID for every attempt at one key: a resent duplicate is recognisable as such."""
    domain = sender.rpartition("@")[2] or "asb.invalid"
    return f"<{safe_name(key).replace('_', '.')}@{domain}>"


def sms_text(message: Outgoing) -> str:
    return f"{message.rendered.summary} Ref {message.case_ref}."


def build_email(message: Outgoing, sender: str, to: str | None) -> EmailMessage:
    """The email for a message: the letter's text in the body, the PDF attached, our key in the headers."""
    email = EmailMessage()
    email["From"] = sender
    if to:
        email["To"] = to
    email["Subject"] = message.rendered.subject
    email["Date"] = formatdate(localtime=False, usegmt=True)
    email["Message-ID"] = message_id(message.key, sender)
    email["X-ASB-Key"] = message.key
    email["X-ASB-Case"] = message.case_ref
    email["X-ASB-Template"] = message.template
    email["X-ASB-Route"] = message.route
    if message.rendered.language:
        email["Content-Language"] = message.rendered.language
    email.set_content(message.rendered.text)
    if message.pdf is not None:
        email.add_attachment(message.pdf, maintype="application", subtype="pdf",
                             filename=f"{message.case_ref}-{message.template}.pdf")
    return email


def print_path(outbox: Path, case_ref: str, key: str) -> Path:
    """Where a letter waits for staff to print and post it."""
    return outbox / "print" / case_ref / f"{safe_name(key)}.pdf"


def write_atomic(path: Path, data: bytes) -> None:
    """Write then rename, so a worker killed mid-write never leaves half a letter to be printed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


class OutboxAdapter:
    """The embedded default: nothing leaves the machine. Letters go to the print folder; emails and texts
    are the archive files themselves (.eml opens in any mail program)."""

    name = "outbox"
    sends_sms = True

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def deliver(self, message: Outgoing) -> Receipt:
        if message.route == "post":
            assert message.pdf is not None
            path = print_path(self.outbox, message.case_ref, message.key)
            write_atomic(path, message.pdf)
            return Receipt(provider_id=None, path=str(path))
        return Receipt(provider_id=None, path=str(message.archive))

    def find(self, key: str) -> Receipt | None:
        return None  # writing the same files again is harmless


class SmtpAdapter:
    """Email through the landlord's mail server; postal letters to its print room, or the print folder."""

    name = "smtp"
    sends_sms = False

    def __init__(self, settings: DeliverySettings, outbox: Path) -> None:
        self.smtp = settings.smtp
        self.sender = settings.smtp.sender
        self.outbox = outbox

    def _send(self, email: EmailMessage) -> None:
        s = self.smtp
        try:
            client: smtplib.SMTP
            if s.ssl:
                client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        except OSError as exc:
            raise DeliveryError(f"SMTP {s.host}:{s.port}: cannot connect: {exc}") from exc
        try:
            with client:
                if s.starttls and not s.ssl:
                    client.starttls(context=ssl.create_default_context())
                if s.user:
                    client.login(s.user, s.password or "")
                refused = client.send_message(email)
                if refused:
                    raise DeliveryError(f"SMTP refused recipients: {sorted(refused)}", permanent=True)
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            raise DeliveryError(f"SMTP {exc.smtp_code} {text}", permanent=500 <= exc.smtp_code < 600) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"SMTP refused recipients: {sorted(exc.recipients)}", permanent=True) from exc
        except (smtplib.SMTPServerDisconnected, TimeoutError) as exc:
            # The server may have taken the message before the connection went: check-free resend with
            # the same Message-ID is the best SMTP allows.
            raise DeliveryError(f"SMTP connection lost: {exc}", maybe_delivered=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP error: {exc}") from exc

    def deliver(self, message: Outgoing) -> Receipt:
        if message.route == "email":
            email = build_email(message, self.sender, message.recipient.email)
            self._send(email)
            return Receipt(provider_id=str(email["Message-ID"]), path=str(message.archive))
        if message.route == "post":
            assert message.pdf is not None
            if self.smtp.print_to:
                email = build_email(message, self.sender, self.smtp.print_to)
                self._send(email)
                return Receipt(provider_id=str(email["Message-ID"]), path=str(message.archive))
            path = print_path(self.outbox, message.case_ref, message.key)
            write_atomic(path, message.pdf)
            return Receipt(provider_id=None, path=str(path))
        raise DeliveryError(f"SMTP delivery cannot send {message.route}", permanent=True)

    def find(self, key: str) -> Receipt | None:
        return None  # SMTP has no way to ask; see message_id


class NotifyAdapter:
    """GOV.UK Notify: precompiled PDF letters, email and SMS through notifications-python-client.

    Notify does not refuse a second notification with the same `reference`, so the message row is
    what prevents duplicates; the reference (our key) lets a retry after a crash find what an earlier
    attempt sent instead of sending it again.
    """

    name = "notify"
    sends_sms = True

    def __init__(self, settings: DeliverySettings) -> None:
        self.notify = settings.notify

    def _client(self) -> Any:
        from notifications_python_client.notifications import NotificationsAPIClient

        assert self.notify.api_key
        # One client per call: the client is not thread-safe and the worker runs activities in threads.
        return NotificationsAPIClient(self.notify.api_key, base_url=self.notify.base_url, timeout=self.notify.timeout)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from notifications_python_client.errors import APIError

        try:
            return fn(*args, **kwargs)
        except APIError as exc:
            status = exc.status_code
            permanent = 400 <= status < 500 and status != 429
            raise DeliveryError(f"Notify {what}: {status} {exc.message}", permanent=permanent,
                                maybe_delivered=status >= 500) from exc

    def deliver(self, message: Outgoing) -> Receipt:
        client = self._client()
        n = self.notify
        if message.route == "post":
            if not message.recipient.has_postal_address:
                raise DeliveryError("no postal address on file for this person", permanent=True)
            assert message.pdf is not None
            result = self._call("letter", client.send_precompiled_letter_notification, reference=message.key,
                                pdf_file=io.BytesIO(message.pdf), postage=n.postage)
        elif message.route == "email":
            if not n.email_template_id:
                raise DeliveryError("notify.email_template_id (ASB_NOTIFY_EMAIL_TEMPLATE_ID) is not set",
                                    permanent=True)
            result = self._call(
                "email", client.send_email_notification, email_address=message.recipient.email,
                template_id=n.email_template_id, reference=message.key,
                personalisation={"subject": message.rendered.subject, "body": message.rendered.text},
            )
        elif message.route == "sms":
            if not n.sms_template_id:
                raise DeliveryError("notify.sms_template_id (ASB_NOTIFY_SMS_TEMPLATE_ID) is not set", permanent=True)
            result = self._call("sms", client.send_sms_notification, phone_number=message.recipient.phone,
                                template_id=n.sms_template_id, reference=message.key,
                                personalisation={"body": sms_text(message)})
        else:
            raise DeliveryError(f"Notify cannot send {message.route}", permanent=True)
        return Receipt(provider_id=str(result.get("id")), path=str(message.archive))

    def find(self, key: str) -> Receipt | None:
        result = self._call("lookup", self._client().get_all_notifications, reference=key)
        found = [n for n in (result or {}).get("notifications", []) if n.get("reference") == key]
        return Receipt(provider_id=str(found[0]["id"])) if found else None


def adapter_for(settings: DeliverySettings, outbox: Path) -> Adapter:
    if settings.kind == "smtp":
        return SmtpAdapter(settings, outbox)
    if settings.kind == "notify":
        return NotifyAdapter(settings)
    return OutboxAdapter(outbox)
