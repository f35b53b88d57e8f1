"""Telling staff: a notice when a task is created, reminded, escalated or breached, and a daily digest.

Issue 14 item 1 ("Staff are told"): escalations and breaches used to appear only on a case's timeline.
The task workflow (workflows/tasks.py) sends ids only: the task's id, its case reference, kind, event,
role and due time. Everything else is looked up here, at send time:

- who is told, from the case's profile (`[notifications]`, policy.model.StaffNotices): the task's holder
  (whoever claimed it; an officer's task not yet claimed is the case officer's), else the role's mailbox;
- their address, from the delivery settings (letters/config.py): a person's from the staff directory
  (`[officers.ID] email`), a role's from `[staff.mailboxes]`. Never from a request or a workflow.

A notice says only the case reference, what the task is, when it is due and where to open it: no
party's name, address or words (README "The case file and data protection"). It goes through the
landlord's delivery adapter (the outbox by default, SMTP or GOV.UK Notify), exactly once per key, the
same way letters do (activities/messages.py): the row is claimed by its key before anything is sent, a
retry answers from a finished row, a send that may have reached SMTP is resent with the same Message-ID,
and Notify is asked about our key first. A delivery that keeps failing is retried with Temporal's
backoff until the settings' `give_up_after`, then the row says "undelivered" (the notice is still in the
outbox's archive, and on the staff's task list, where it always was).

The digest lists, for each member of staff, the deadlines of their cases (the case's next deadline) and
of the open tasks they hold falling in the next `digest_working_days` working days of the landlord's
nation calendar, counting today; it is sent on working days only, once per person and day.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import _Contract
from activities.failures import scrubbed
from casefile.db import Store
from casefile.models import CaseRow, EventRow, StaffNoticeRow, TaskRow
from letters.config import ConfigError, DeliverySettings, load_settings
from letters.delivery import DeliveryError, Outgoing, adapter_for, build_email, safe_name, write_atomic
from letters.recipients import Recipient
from letters.render import Rendered
from policy.calendar import WorkingCalendar
from policy.model import Profile, StaffNotices, TaskEvent

SettingsSource = DeliverySettings | Callable[[str | None], DeliverySettings]
DONE = ("sent", "skipped", "undelivered")

#: Task kinds and deadline kinds in words (the code with spaces otherwise). Words only: never a party.
TASK_WORDS = {
    "closure_approval": "Closure approval", "legal_action_approval": "Legal action approval",
    "consider_closure": "Consider closing the case", "enquiry_decision": "Decide on the expired enquiry",
    "tell_police": "Tell the police of a hate incident", "allocation": "Allocate the case to an officer",
    "risk_review": "Next risk assessment", "action_overdue": "An action of the plan is overdue",
    "equality_review": "Equality Act assessment", "referral_follow_up": "Follow up a referral",
    "communication_failed": "A letter could not be delivered", "asb_case_review": "ASB Case Review",
    "overdue": "A deadline was missed",
}
DEADLINE_WORDS = {
    "first_response": "First response due", "contact": "Contact with the reporter due",
    "case_review": "Case review due", "case_review_stage": "Initial case review due",
    "enquiry_expiry": "Enquiry period ends", "unable_to_contact": "Reply to the unable-to-contact letter due",
    "inactivity": "Closure to be considered (no incidents)", "monitoring": "Monitoring period ends",
    "asb_case_review": "ASB Case Review to be completed", "referral_follow_up": "Referral follow-up due",
    "risk_review": "Next risk assessment due",
}
ROLE_WORDS = {"officer": "officer", "manager": "manager", "senior_manager": "senior manager"}
EVENT_WORDS = {"created": "New task", "reminded": "Reminder: one working day left", "escalated": "Task escalated",
               "breached": "Task breached"}


def words(code: str | None, table: dict[str, str]) -> str:
    if not code:
        return ""
    return table.get(code) or code.replace("_", " ").capitalize()


class TaskNotice(_Contract):
    """A task's event, as the task workflow knows it: ids, a kind, a role and a moment, no personal data."""

    task_id: str
    case_ref: str
    kind: str
    event: TaskEvent
    #: The role the task is for now (after an escalation, the role it went up to).
    role: str
    assignee: str | None = None
    due: datetime | None = None
    at: datetime

    @property
    def key(self) -> str:
        """One notice per task and event; a reminder or an escalation once per level of the chain."""
        if self.event in ("reminded", "escalated"):
            return f"{self.task_id}/{self.event}/{self.role}"
        return f"{self.task_id}/{self.event}"


class DigestRequest(_Contract):
    """A digest run: `day` is the landlord's date the digest is for (None: today, in each landlord's zone)."""

    at: datetime
    day: date | None = None


class DigestResult(_Contract):
    sent: int = 0
    skipped: int = 0
    landlords: list[str] = []


@dataclass(frozen=True)
class _Row:
    status: str
    path: str | None
    last_error: str | None


@dataclass(frozen=True)
class StaffRendered(Rendered):
    """A notice's text, written as text (no letter page): what the email body and Notify's body carry."""

    plain: str = ""

    @property
    def text(self) -> str:
        return self.plain


@dataclass(frozen=True)
class DigestItem:
    due: datetime
    case_ref: str
    what: str


def _profile(name: str | None) -> Profile | None:
    from profiles import ProfileError, load

    if not name:
        return None
    try:
        return load(name)
    except ProfileError:
        return None


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return "no due date (it has reached the top of its chain)"
    local = moment.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M}"


class StaffActivities:
    def __init__(self, store: Store, outbox: Path, settings: SettingsSource | None = None) -> None:
        """`settings`: fixed, or a function of the profile name; by default read at each send from the
        environment and ASB_DELIVERY_CONFIG (letters/config.py), as letters' are."""
        self.store = store
        self.outbox = outbox
        self._settings = settings

    def settings_for(self, profile: str | None) -> DeliverySettings:
        if isinstance(self._settings, DeliverySettings):
            return self._settings
        if self._settings is not None:
            return self._settings(profile)
        return load_settings(profile)

    # ------------------------------------------------------------------ a task's event

    @activity.defn(name="notify_staff")
    @scrubbed
    def notify_staff(self, notice: TaskNotice) -> str:
        """Tell the task's holder or its role's mailbox of `notice`, once. Returns the row's status (and a
        reason when skipped); never an address."""
        with self.store.session() as session:
            case = session.get(CaseRow, notice.case_ref)
            profile_name, officer = (case.profile, case.officer) if case is not None else (None, None)
        profile = _profile(profile_name)
        rules = profile.notifications if profile is not None else StaffNotices()
        to = rules.to(notice.event)
        if to == "nobody":
            return "off"
        try:
            settings = self.settings_for(profile_name)
        except ConfigError:
            settings = DeliverySettings()
        holder = notice.assignee or (officer if notice.role == "officer" else None)
        address = settings.staff_address(holder) if to == "holder" and holder else None
        if address is not None and holder is not None:
            recipient, why = holder, "the task is yours"
        else:
            recipient = f"mailbox:{notice.role}"
            address = settings.mailbox(notice.role)
            why = f"this mailbox receives the tasks no {ROLE_WORDS.get(notice.role, notice.role)} holds yet"
        zone = ZoneInfo(profile.calendar.timezone if profile is not None else "Europe/London")
        kind = words(notice.kind, TASK_WORDS)
        subject = f"{notice.case_ref}: {EVENT_WORDS[notice.event].lower()} - {kind}"
        lines = [
            f"{EVENT_WORDS[notice.event]} on case {notice.case_ref}.",
            "",
            f"Task:  {kind}",
            f"For:   the {ROLE_WORDS.get(notice.role, notice.role)}"
            + (f" ({settings.officers[holder].name})" if recipient == holder and holder in settings.officers
               else ", not yet claimed"),
            f"Due:   {_when(notice.due, zone)}",
            "",
            f"Open the case: {settings.staff.url}/web/cases/{notice.case_ref}",
            f"Your tasks:    {settings.staff.url}/web/tasks",
            "",
            {"created": "A task has been created for you to act on.",
             "reminded": "The task is due by the end of the next working day.",
             "escalated": "Nobody acted on it in time, so it has moved up to you.",
             "breached": "It has passed its time at the top of its chain: the breach is on the case's record.",
             }[notice.event],
            "",
            f"You are told because {why}.",
            "This notice carries no personal details: open the case to see them.",
        ]
        return self._send(key=notice.key, kind=f"task_{notice.event}", case_ref=notice.case_ref,
                          task_id=notice.task_id, recipient=recipient, address=address, subject=subject,
                          text="\n".join(lines) + "\n", settings=settings, at=notice.at)

    # ------------------------------------------------------------------ the digest

    @activity.defn(name="send_staff_digests")
    @scrubbed
    def send_digests(self, request: DigestRequest) -> DigestResult:
        """Each member of staff's deadlines in the next working days, for every landlord with open cases."""
        with self.store.session() as session:
            names = sorted(set(session.scalars(select(CaseRow.profile).where(CaseRow.closed_at.is_(None)))))
        result = DigestResult()
        for name in names:
            profile = _profile(name)
            if profile is None or not profile.notifications.digest:
                continue
            calendar = WorkingCalendar.from_rules(profile.calendar)
            day = request.day or request.at.astimezone(calendar.tz).date()
            if not calendar.is_working_day(day):
                continue
            sent, skipped = self._digests_for(name, profile, calendar, day, request.at)
            result = DigestResult(sent=result.sent + sent, skipped=result.skipped + skipped,
                                  landlords=[*result.landlords, name])
        return result

    def digest_items(self, profile_name: str, calendar: WorkingCalendar, day: date,
                     working_days: int) -> dict[str, list[DigestItem]]:
        """By staff id: what falls due from the start of `day` to the end of its `working_days`th working day
        (today the first), sorted by when. Cases' next deadlines are their officer's; an open task is its
        holder's (whoever claimed it, else an officer's task is the case officer's)."""
        start = datetime.combine(day, time(0, 0), tzinfo=calendar.tz)
        last = calendar.add_working_days(day, working_days - 1)
        end = datetime.combine(last + timedelta(days=1), time(0, 0), tzinfo=calendar.tz)
        found: dict[str, list[DigestItem]] = defaultdict(list)
        with self.store.session() as session:
            cases = session.execute(
                select(CaseRow.reference, CaseRow.officer, CaseRow.next_deadline)
                .where(CaseRow.profile == profile_name, CaseRow.closed_at.is_(None))
                .order_by(CaseRow.reference)).all()
            officers = {ref: officer for ref, officer, _ in cases}
            for ref, officer, due in cases:
                if officer and due is not None and start <= due < end:
                    kinds = session.scalars(
                        select(EventRow.data).where(EventRow.case_ref == ref, EventRow.kind == "deadline")
                        .order_by(EventRow.seq.desc(), EventRow.id.desc())).all()
                    named = next((d.get("kind") for d in kinds if _same(d.get("due"), due)), None)
                    found[officer].append(DigestItem(due, ref, words(named, DEADLINE_WORDS) or "Next deadline"))
            tasks = session.scalars(
                select(TaskRow).where(TaskRow.case_ref.in_(list(officers)), TaskRow.status == "open",
                                      TaskRow.due.is_not(None), TaskRow.due >= start, TaskRow.due < end)
                .order_by(TaskRow.due, TaskRow.id)).all()
            for task in tasks:
                holder = task.assignee or (officers.get(task.case_ref) if task.role == "officer" else None)
                if holder and task.due is not None:
                    found[holder].append(DigestItem(task.due, task.case_ref, f"Task: {words(task.kind, TASK_WORDS)}"))
        return {staff: sorted(items, key=lambda i: (i.due, i.case_ref, i.what)) for staff, items in found.items()}

    def _digests_for(self, name: str, profile: Profile, calendar: WorkingCalendar, day: date,
                     at: datetime) -> tuple[int, int]:
        try:
            settings = self.settings_for(name)
        except ConfigError:
            settings = DeliverySettings()
        n = profile.notifications.digest_working_days
        last = calendar.add_working_days(day, n - 1)
        sent = skipped = 0
        failed: ApplicationError | None = None
        for staff, items in sorted(self.digest_items(name, calendar, day, n).items()):
            lines = [f"Your deadlines from {day:%A} {day.day} {day:%B} to {last:%A} {last.day} {last:%B %Y} "
                     f"({n} working days):", ""]
            for item in items:
                local = item.due.astimezone(calendar.tz)
                lines.append(f"{local:%a} {local.day} {local:%b} {local:%H:%M}  {item.case_ref}  {item.what}")
                lines.append(f"    {settings.staff.url}/web/cases/{item.case_ref}")
            lines += ["", f"Your tasks: {settings.staff.url}/web/tasks", "",
                      "This digest carries no personal details: open a case to see them."]
            try:
                status = self._send(key=f"digest/{name}/{staff}/{day.isoformat()}", kind="digest", case_ref=None,
                                    task_id=None, recipient=staff, address=settings.staff_address(staff),
                                    subject=f"Your ASB deadlines: {len(items)} in the next {n} working days",
                                    text="\n".join(lines) + "\n", settings=settings, at=at)
            except ApplicationError as exc:  # one mailbox refusing holds up nobody else's digest
                failed = failed or exc
                continue
            if status == "sent":
                sent += 1
            else:
                skipped += 1
        if failed is not None:
            raise failed  # retried: those sent are answered from their rows
        return sent, skipped

    # ------------------------------------------------------------------ the send, once per key

    def _send(self, *, key: str, kind: str, case_ref: str | None, task_id: str | None, recipient: str,
              address: str | None, subject: str, text: str, settings: DeliverySettings, at: datetime) -> str:
        row = self._claim(key, kind, case_ref, task_id, recipient, at)
        if row.status in DONE:
            return row.status if row.status != "skipped" else f"skipped: {row.last_error}"
        self._update(key, attempts=StaffNoticeRow.attempts + 1)
        rendered = StaffRendered(template=kind, language="en", variant="standard", subject=subject,
                                 summary=subject, html=f"<pre>{html.escape(text)}</pre>", plain=text)
        person = Recipient(person_id=None, role="staff", name=recipient, address_lines=(), email=address)
        archive = self.outbox / "staff" / f"{safe_name(key)}.eml"
        message = Outgoing(key=key, case_ref=case_ref or "staff", template=kind, route="email", recipient=person,
                           rendered=rendered, pdf=None, archive=archive)
        sender = settings.smtp.sender if settings.kind == "smtp" else settings.landlord.email or settings.smtp.sender
        write_atomic(archive, bytes(build_email(message, sender, address)))
        if address is None:
            where = (f"[staff.mailboxes] {recipient.removeprefix('mailbox:')}" if recipient.startswith("mailbox:")
                     else f"[officers.{recipient}] email")
            reason = f"no address for {recipient}: set {where} in the delivery settings"
            self._update(key, status="skipped", path=str(archive), last_error=reason)
            return f"skipped: {reason}"
        adapter = adapter_for(settings, self.outbox)
        try:
            if row.status == "sending":  # an earlier attempt may have reached the provider
                earlier = adapter.find(key)
                if earlier is not None:
                    return self._sent(key, archive, earlier.provider_id)
            self._update(key, status="sending")
            receipt = adapter.deliver(message)
        except DeliveryError as exc:
            self._update(key, status="sending" if exc.maybe_delivered else "failed", last_error=str(exc)[:2000])
            if exc.permanent or _late(at, settings.give_up_after):
                self._update(key, status="undelivered")
                return "undelivered"
            raise ApplicationError(f"{key}: {exc}", type="DeliveryFailed") from None
        return self._sent(key, archive, receipt.provider_id)

    def _claim(self, key: str, kind: str, case_ref: str | None, task_id: str | None, recipient: str,
               at: datetime) -> _Row:
        store = self.store
        with store.session() as session, session.begin():
            session.execute(store.insert_ignoring_duplicates(StaffNoticeRow).values(
                key=key, kind=kind, case_ref=case_ref, task_id=task_id, recipient=recipient, status="pending",
                created_at=at, attempts=0))
            row = session.scalars(select(StaffNoticeRow).where(StaffNoticeRow.key == key)).one()
            return _Row(status=row.status, path=row.path, last_error=row.last_error)

    def _update(self, key: str, **values: object) -> None:
        with self.store.session() as session, session.begin():
            session.execute(update(StaffNoticeRow).where(StaffNoticeRow.key == key).values(**values))

    def _sent(self, key: str, archive: Path, provider_id: str | None) -> str:
        self._update(key, status="sent", path=str(archive), provider_id=provider_id, sent_at=datetime.now(UTC))
        return "sent"


def _late(at: datetime, give_up_after: timedelta) -> bool:
    """Failing for `give_up_after`? Under Temporal both ends are the server's clock (this attempt's schedule
    time against the first's), so it holds on a time-skipping server and for a simulated case's shifted
    clock alike; outside Temporal, since the event."""
    if activity.in_activity():
        info = activity.info()
        return info.current_attempt_scheduled_time - info.scheduled_time >= give_up_after
    return datetime.now(UTC) - at >= give_up_after


def _same(value: object, moment: datetime) -> bool:
    try:
        return datetime.fromisoformat(str(value)) == moment
    except ValueError:
        return False

