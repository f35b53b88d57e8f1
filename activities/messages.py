"""Letters and notifications, delivered once per key, whatever Temporal retries or a killed worker did.

The workflow sends ids only; everything personal is read here from the case file at send time
(letters/recipients.py decides who gets what, letters/compose.py what it says). The steps, each in
its own short transaction so the row always says how far a send got:

1. claim the message row by its unique key (a retry finds it; a finished row is answered from it);
2. decide: an anonymous reporter or a refused channel gets nothing, recorded as status "skipped";
3. render, keep an archive copy in the outbox (``outbox/<case>/<key>.eml``), mark the row "sending";
4. deliver through the landlord's adapter (outbox, SMTP or Notify), then mark it "sent" with the
   provider's id.

A row found in "sending" means an earlier attempt died between 3 and 4: Notify is asked whether it
has the key (our key is its `reference`) before anything is sent again; SMTP cannot be asked, so the
resend carries the same Message-ID. A delivery that keeps failing is retried with Temporal's backoff
until `give_up_after` has passed since the letter was due (or at once, if retrying cannot help); then
the letter is parked in the outbox's print folder and the officer gets a communication_failed task.
A text or email beside a letter that cannot be delivered is treated the same way: its row says
"undelivered" (there is nothing to print) and the officer gets the same task (issue 9 item 6).

Failures reach Temporal through activities.failures.scrubbed: a code and the message key, never the
provider's text, which can name the person (the full reason is the row's `last_error`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jinja2 import TemplateError
from sqlalchemy import select, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import MessageRequest
from activities.failures import scrubbed
from casefile import metrics
from casefile.db import Store
from casefile.models import CaseRow, MessageRow
from letters.compose import LetterJob, compose
from letters.config import ConfigError, DeliverySettings, load_settings
from letters.delivery import (
    Adapter,
    DeliveryError,
    Outgoing,
    adapter_for,
    build_email,
    print_path,
    safe_name,
    sms_text,
    write_atomic,
)
from letters.pdf import build_pdf
from letters.recipients import Recipient, Skip, find_recipient, notification_decision
from letters.render import Rendered, renderer

#: Final states: a retry answers from the row. "undelivered" is a notification given up (nothing to print).
DONE = ("sent", "skipped", "awaiting_print", "undelivered")
GIVEN_UP = ("awaiting_print", "undelivered")
SettingsSource = DeliverySettings | Callable[[str | None], DeliverySettings]


@dataclass(frozen=True)
class _Row:
    status: str
    path: str | None
    last_error: str | None
    created_at: datetime


def _first_attempt_at(row: _Row) -> datetime:
    """When delivery was first tried: the activity's own schedule time under Temporal (the case's clock
    may be shifted in a simulation), else when the message was claimed."""
    if activity.in_activity():
        return activity.info().scheduled_time
    return row.created_at


def _late(row: _Row, give_up_after: timedelta) -> bool:
    """Has delivery been failing for `give_up_after`? Under Temporal both ends are the server's clock (this
    attempt's schedule time against the first's), so it holds on a time-skipping server as on a real one."""
    now = activity.info().current_attempt_scheduled_time if activity.in_activity() else datetime.now(UTC)
    return now - _first_attempt_at(row) >= give_up_after


def _parked_is_failure(request: MessageRequest, result: str) -> str:
    """A message that could not be delivered (a letter waiting for printing, a text given up) is a failure
    the case must hear of: a non-retryable error (Temporal stops retrying) that the workflow turns into the
    officer's communication_failed task. Its details are for direct callers; `scrubbed` drops them before
    Temporal sees the failure."""
    if result.startswith(PARKED):
        path, _, reason = result.removeprefix(PARKED).partition("\n")
        where = f"waiting to be printed at {path}" if path else "nothing to print"
        raise ApplicationError(f"{request.key}: not delivered ({reason}); {where}",
                               path, reason, type="DeliveryParked", non_retryable=True)
    return result


#: The prefix of an internal result meaning "parked for printing": never returned from an activity.
PARKED = "parked:"


class MessageActivities:
    def __init__(self, store: Store, outbox: Path, settings: SettingsSource | None = None) -> None:
        """`settings`: fixed settings, or a function of the profile name; by default they are read from
        the environment and ASB_DELIVERY_CONFIG at each send, so configuration changes need no restart."""
        self.store = store
        self.outbox = outbox
        self._settings = settings

    # ------------------------------------------------------------------ activities

    @activity.defn(name="send_letter")
    @scrubbed
    def send_letter(self, request: MessageRequest) -> str:
        """Deliver a letter by the person's chosen route; returns the archive path or "skipped: why"."""
        return _parked_is_failure(request, self._deliver(request))

    @activity.defn(name="send_notification")
    @scrubbed
    def send_notification(self, request: MessageRequest) -> str:
        """An email or SMS beside a letter, where the person consented to that channel. One that cannot be
        delivered fails as a parked letter does, so the case gives the officer a communication_failed task
        (README "Once, and nothing lost")."""
        return _parked_is_failure(request, self._deliver(request))

    @activity.defn(name="park_for_printing")
    @scrubbed
    def park_for_printing(self, request: MessageRequest) -> str:
        """After delivery finally failed: the letter's PDF to the print folder, a task for the officer.

        Returns the PDF's path ("" for a notification). Idempotent; a message that was in fact sent or
        skipped is left alone."""
        row = self._claim(request)
        if row.status in DONE:
            return row.path or "" if row.status in GIVEN_UP else self._result(row)
        return self._park(request, row.last_error or "delivery failed")

    # ------------------------------------------------------------------ the send

    def settings_for(self, profile: str | None) -> DeliverySettings:
        if isinstance(self._settings, DeliverySettings):
            return self._settings
        if self._settings is not None:
            return self._settings(profile)
        return load_settings(profile)

    def _deliver(self, request: MessageRequest) -> str:
        row = self._claim(request)
        if row.status in DONE:
            return self._result(row)
        self._update(request.key, attempts=MessageRow.attempts + 1)
        profile = self._profile(request)
        try:
            settings = self.settings_for(profile)
        except ConfigError as exc:
            return self._failed(request, row, DeliveryError(f"delivery settings: {exc}"), None)
        job = self._job(request, profile)
        with self.store.session() as session:
            found = find_recipient(session, request.case_ref, request.to, request.recipient_id)
            if isinstance(found, Skip):
                return self._skip(request.key, found.reason)
            route, skip = self._route(found, request.channel)
            adapter = adapter_for(settings, self.outbox)
            if skip is None and route == "sms" and not adapter.sends_sms:
                skip = Skip(f"{adapter.name} delivery has no SMS: the letter goes by post instead")
            if skip is not None:
                return self._skip(request.key, skip.reason)
            try:
                rendered = compose(session, job, found, settings, renderer(settings.templates))
                pdf = build_pdf(rendered.html) if route != "sms" else None
            except (TemplateError, LookupError, ValueError) as exc:
                return self._unrenderable(request, row, exc, settings)
        archive = self._archive(request, route, found, rendered, pdf, settings)
        message = Outgoing(key=request.key, case_ref=request.case_ref, template=request.template, route=route,
                           recipient=found, rendered=rendered, pdf=pdf, archive=archive)
        try:
            if row.status == "sending":  # an earlier attempt may have reached the provider
                earlier = adapter.find(request.key)
                if earlier is not None:
                    return self._sent(request.key, archive, earlier.provider_id, request.channel)
            self._update(request.key, status="sending")
            receipt = adapter.deliver(message)
        except DeliveryError as exc:
            return self._failed(request, row, exc, settings,
                                lambda: self._find(adapter, request.key, archive, request.channel))
        return self._sent(request.key, archive, receipt.provider_id, request.channel)

    def _find(self, adapter: Adapter, key: str, archive: Path, channel: str) -> str | None:
        """Before giving up on a send that may have got through, ask the provider once more."""
        try:
            earlier = adapter.find(key)
        except DeliveryError:
            return None
        return self._sent(key, archive, earlier.provider_id, channel) if earlier is not None else None

    @staticmethod
    def _route(recipient: Recipient, channel: str) -> tuple[str, Skip | None]:
        if channel == "letter":
            return recipient.letter_route(), None
        return channel, notification_decision(recipient, channel)

    def _failed(self, request: MessageRequest, row: _Row, exc: DeliveryError, settings: DeliverySettings | None,
                find: Callable[[], str | None] | None = None) -> str:
        """Record the failure; retry (Temporal's backoff) until it is hopeless or too late, then park."""
        self._update(request.key, status="sending" if exc.maybe_delivered else "failed", last_error=str(exc)[:2000])
        metrics.letter("failed", request.channel)
        if exc.permanent or _late(row, (settings or DeliverySettings()).give_up_after):
            sent = find() if exc.maybe_delivered and find is not None else None
            if sent is not None:
                return sent
            return f"{PARKED}{self._park(request, str(exc))}\n{exc}"
        raise ApplicationError(f"{request.key}: {exc}", type="DeliveryFailed")

    def _unrenderable(self, request: MessageRequest, row: _Row, exc: Exception, settings: DeliverySettings) -> str:
        """A template that cannot be rendered (a landlord's template with a mistake, one missing) cannot be
        printed either: keep retrying, so fixing the template sends it, and tell the officer once it is late."""
        reason = f"cannot render {request.template!r}: {exc}"
        self._update(request.key, status="failed", last_error=reason[:2000])
        if _late(row, settings.give_up_after):
            # Too late to wait for a fixed template: the case tells the officer.
            raise ApplicationError(f"{request.key}: {reason}", reason, type="LetterNotRendered", non_retryable=True)
        raise ApplicationError(f"{request.key}: {reason}", type="LetterNotRendered")

    # ------------------------------------------------------------------ parking

    def _park(self, request: MessageRequest, reason: str) -> str:
        profile = self._profile(request)
        try:
            settings = self.settings_for(profile)
        except ConfigError:
            settings = DeliverySettings()  # the letterhead defaults: a letter to print beats none
        path = ""
        if request.channel == "letter":
            with self.store.session() as session:
                found = find_recipient(session, request.case_ref, request.to, request.recipient_id)
                if isinstance(found, Skip):
                    return self._skip(request.key, found.reason)
                rendered = compose(session, self._job(request, profile), found, settings,
                                   renderer(settings.templates))
            target = print_path(self.outbox, request.case_ref, request.key)
            write_atomic(target, build_pdf(rendered.html))
            path = str(target)
            self._update(request.key, status="awaiting_print", path=path, last_error=reason[:2000])
            metrics.letter("parked_for_print", request.channel)
        else:
            # A notification only ever goes beside a letter sent by post, so there is nothing to print:
            # the row is final ("undelivered": never tried again, so never sent after the officer was
            # told it failed) and the officer is told.
            self._update(request.key, status="undelivered", last_error=reason[:2000])
            metrics.letter("failed", request.channel)
        return path

    # ------------------------------------------------------------------ the archive copy

    def _archive(self, request: MessageRequest, route: str, recipient: Recipient, rendered: Rendered,
                 pdf: bytes | None, settings: DeliverySettings) -> Path:
        """What was sent, kept beside the case: an .eml (opens in any mail program; PDF attached) or, for
        an SMS, its text. One file per message, its name fixed by the key, so a retry rewrites it."""
        folder = self.outbox / request.case_ref
        name = safe_name(request.key)
        message = Outgoing(key=request.key, case_ref=request.case_ref, template=request.template, route=route,
                           recipient=recipient, rendered=rendered, pdf=pdf, archive=folder / name)
        if route == "sms":
            path = folder / f"{name}.sms.txt"
            body = (f"Key: {request.key}\nTemplate: {request.template}\nTo: {recipient.phone}\n\n"
                    f"{sms_text(message)}\n")
            write_atomic(path, body.encode("utf-8"))
            return path
        path = folder / f"{name}.eml"
        # The Message-ID an SMTP send used, so the archive copy and the sent mail match.
        sender = settings.smtp.sender if settings.kind == "smtp" else settings.landlord.email or settings.smtp.sender
        to = recipient.email if route == "email" else None
        write_atomic(path, bytes(build_email(message, sender, to)))
        return path

    # ------------------------------------------------------------------ the row

    def _profile(self, request: MessageRequest) -> str | None:
        if request.profile:
            return request.profile
        with self.store.session() as session:
            case = session.get(CaseRow, request.case_ref)
            return case.profile if case else None

    @staticmethod
    def _job(request: MessageRequest, profile: str | None) -> LetterJob:
        return LetterJob(case_ref=request.case_ref, template=request.template, role=request.to,
                         recipient_id=request.recipient_id, at=request.at, profile=profile, due=request.due,
                         reason=request.reason, plan_version=request.plan_version)

    def _claim(self, request: MessageRequest) -> _Row:
        store = self.store
        with store.session() as session, session.begin():
            session.execute(
                store.insert_ignoring_duplicates(MessageRow).values(
                    key=request.key, case_ref=request.case_ref, channel=request.channel,
                    template=request.template, recipient_role=request.to, recipient_id=request.recipient_id,
                    status="pending", created_at=request.at, attempts=0,
                )
            )
            row = session.scalars(select(MessageRow).where(MessageRow.key == request.key)).one()
            return _Row(status=row.status, path=row.path, last_error=row.last_error, created_at=row.created_at)

    def _update(self, key: str, **values: object) -> None:
        with self.store.session() as session, session.begin():
            session.execute(update(MessageRow).where(MessageRow.key == key).values(**values))

    def _sent(self, key: str, archive: Path, provider_id: str | None, channel: str) -> str:
        self._update(key, status="sent", path=str(archive), provider_id=provider_id, sent_at=datetime.now(UTC))
        metrics.letter("sent", channel)
        return str(archive)

    def _skip(self, key: str, reason: str) -> str:
        self._update(key, status="skipped", last_error=reason)
        return f"skipped: {reason}"

    @staticmethod
    def _result(row: _Row) -> str:
        if row.status == "skipped":
            return f"skipped: {row.last_error}"
        if row.status in GIVEN_UP:  # a retry after parking still reports the failure
            return f"{PARKED}{row.path or ''}\n{row.last_error or 'delivery failed'}"
        return row.path or ""
