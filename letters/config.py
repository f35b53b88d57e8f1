"""Delivery configuration: which adapter each landlord uses, and what its letters say about the landlord.

Read at send time (not at worker start) so a landlord can change provider, officer details or
templates without restarting workers mid-case. Sources, later ones winning:

1. defaults (the outbox: nothing leaves the machine until someone configures a provider);
2. the top level of the TOML file named by ``ASB_DELIVERY_CONFIG``;
3. environment variables (``ASB_DELIVERY``, ``ASB_SMTP_*``, ``ASB_NOTIFY_*``, ...), the usual way to
   pass secrets to a service;
4. the file's ``[profiles.NAME]`` table for the case's policy profile, so one worker can serve
   several landlords, each with its own provider and letterhead.

A file looks like::

    delivery = "smtp"                 # outbox | smtp | notify
    give_up_after = "48h"             # then the letter is parked for printing and the officer told
    templates = "/etc/asb/letters"    # the landlord's own templates (same layout as letters/templates)

    [smtp]
    host = "mail.example.org"
    port = 587
    starttls = true
    sender = "asb-team@example.org"

    [landlord]
    name = "Example Homes"
    address = ["1 High Street", "Exampletown", "EX1 1AA"]
    phone = "0300 123 4567"

    [officers.o1]                     # the staff directory: officers and managers, by their id
    name = "Sam Patel"
    phone = "0300 123 4568"
    email = "sam.patel@example.org"

    [staff]                           # notices to staff about tasks, and their daily digest
    url = "https://asb.example.org"   # where the links in them point (the web pages)
    [staff.mailboxes]                 # a role's shared mailbox, for a task nobody holds yet
    officer = "asb-officers@example.org"
    manager = "asb-managers@example.org"
    senior_manager = "asb-heads@example.org"

    [profiles.reading]
    delivery = "notify"
    [profiles.reading.notify]
    api_key = "..."
    email_template_id = "..."
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from casefile.types import check_language

DeliveryKind = Literal["outbox", "smtp", "notify"]
KINDS: tuple[DeliveryKind, ...] = ("outbox", "smtp", "notify")
NOTIFY_BASE_URL = "https://api.notifications.service.gov.uk"


class ConfigError(ValueError):
    """A delivery setting that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class Officer:
    """How a letter names the one point of contact (003 §9); the case file holds only the officer's id."""

    id: str
    name: str
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Landlord:
    name: str = "Anti-social behaviour team"
    address: tuple[str, ...] = ()
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    #: Where the satisfaction survey is answered; without it the letter asks the reporter to phone.
    survey_url: str | None = None


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    user: str | None = None
    password: str | None = None
    sender: str = "asb@localhost"
    starttls: bool = False
    ssl: bool = False
    timeout: float = 30.0
    #: A print room's mailbox: postal letters are emailed there as PDFs. Without it they wait in the
    #: outbox's print folder for staff to print.
    print_to: str | None = None


@dataclass(frozen=True)
class NotifySettings:
    api_key: str | None = None
    base_url: str = NOTIFY_BASE_URL
    #: Notify templates are made in Notify's admin site. Each needs the placeholders ((subject)) and
    #: ((body)) (email) or ((body)) (SMS); the wording itself comes from this package's templates.
    email_template_id: str | None = None
    sms_template_id: str | None = None
    postage: str = "second"
    timeout: float = 30.0


#: The roles a task can be for (statemachine.commands.ROLE_RANK): the only mailbox names accepted.
MAILBOX_ROLES = ("officer", "manager", "senior_manager")
_ADDRESS = re.compile(r"^[^@\s<>,;]{1,64}@[A-Za-z0-9.-]{1,190}$")


@dataclass(frozen=True)
class StaffSettings:
    """Where notices to staff go (issue 14 item 1): a role's mailbox for a task nobody holds, and the
    address of the pages their links point to. People's own addresses are the staff directory's
    (`officers`); neither ever comes from a request."""

    url: str = "http://127.0.0.1:8000"
    mailboxes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliverySettings:
    kind: DeliveryKind = "outbox"
    smtp: SmtpSettings = SmtpSettings()
    notify: NotifySettings = NotifySettings()
    landlord: Landlord = Landlord()
    officers: Mapping[str, Officer] = field(default_factory=dict)
    staff: StaffSettings = StaffSettings()
    #: A failing delivery is retried (Temporal's backoff) until this long after the message was due,
    #: then parked for printing with a communication_failed task for the officer.
    give_up_after: timedelta = timedelta(hours=48)
    #: The landlord's own templates, searched before the shipped ones.
    templates: Path | None = None
    #: Language used when the person has not given one (e.g. "cy" for a Welsh landlord).
    default_language: str = "en"
    #: Who gets the monthly performance report (managers' addresses; performance/monthly.py, issue 14 item 4).
    #: None given: it is written to the outbox only.
    monthly_report_to: tuple[str, ...] = ()

    def officer(self, officer_id: str | None) -> Officer | None:
        """The officer a letter names, if the settings know them. An officer with no `[officers.ID]`
        entry is not named at all (the letter speaks for the team): a bare id such as "o1" is never
        shown as a person's name (issue 11 item 3)."""
        if not officer_id:
            return None
        return self.officers.get(officer_id)

    def staff_address(self, staff_id: str) -> str | None:
        """A member of staff's email, from the directory only."""
        officer = self.officers.get(staff_id)
        return officer.email if officer is not None else None

    def mailbox(self, role: str) -> str | None:
        return self.staff.mailboxes.get(role)

    def letterhead_gaps(self) -> list[str]:
        """What the letters will be missing with these settings, for `asb up` to warn about: the
        letterhead's landlord, address and phone, and the officers who are named as the reporter's
        one point of contact (003 §9); and the role mailboxes notices to staff fall back to (issue 14 item 1)."""
        gaps = []
        if self.landlord.name == Landlord.name:
            gaps.append("the landlord's name is not set ([landlord] name): letters are signed by a generic team")
        if not self.landlord.address:
            gaps.append("the landlord's address is not set ([landlord] address): letters show no address to write to")
        if not self.landlord.phone:
            gaps.append("the landlord's phone is not set ([landlord] phone): letters give no number to call")
        if not self.officers:
            gaps.append("no officers are set ([officers.ID] name, phone, email): letters name no case officer")
        if not self.staff.mailboxes:
            gaps.append("no role mailboxes are set ([staff.mailboxes] officer, manager, senior_manager): notices "
                        "of tasks nobody holds yet, escalations and breaches reach nobody")
        return gaps


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|seconds?|m|min|minutes?|h|hours?|d|days?)?\s*$", re.I)


def parse_duration(value: Any, setting: str) -> timedelta:
    """'48h', '30m', '2 days' or a number of seconds."""
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    match = _DURATION.match(str(value))
    if not match:
        raise ConfigError(f"{setting}: {value!r} is not a duration; write e.g. '48h', '30m', '2 days' or seconds")
    amount = float(match.group(1))
    unit = (match.group(2) or "s").lower()[0]
    return timedelta(seconds=amount * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_ENV: dict[str, tuple[str, ...]] = {
    "ASB_DELIVERY": ("delivery",),
    "ASB_DELIVERY_GIVE_UP_AFTER": ("give_up_after",),
    "ASB_LETTER_TEMPLATES": ("templates",),
    "ASB_LETTER_LANGUAGE": ("default_language",),
    "ASB_MONTHLY_REPORT_TO": ("monthly_report_to",),
    "ASB_SMTP_HOST": ("smtp", "host"),
    "ASB_SMTP_PORT": ("smtp", "port"),
    "ASB_SMTP_USER": ("smtp", "user"),
    "ASB_SMTP_PASSWORD": ("smtp", "password"),
    "ASB_SMTP_FROM": ("smtp", "sender"),
    "ASB_SMTP_STARTTLS": ("smtp", "starttls"),
    "ASB_SMTP_SSL": ("smtp", "ssl"),
    "ASB_SMTP_PRINT_TO": ("smtp", "print_to"),
    "ASB_NOTIFY_API_KEY": ("notify", "api_key"),
    "ASB_NOTIFY_BASE_URL": ("notify", "base_url"),
    "ASB_NOTIFY_EMAIL_TEMPLATE_ID": ("notify", "email_template_id"),
    "ASB_NOTIFY_SMS_TEMPLATE_ID": ("notify", "sms_template_id"),
    "ASB_NOTIFY_POSTAGE": ("notify", "postage"),
}


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for name, path in _ENV.items():
        value = env.get(name)
        if value in (None, ""):
            continue
        target = raw
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    return raw


def read_file(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"ASB_DELIVERY_CONFIG: {path}: no such file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def build(raw: Mapping[str, Any], where: str = "delivery settings") -> DeliverySettings:
    """Turn merged raw settings into typed ones, naming the first bad setting."""
    kind = str(raw.get("delivery", "outbox")).lower()
    if kind not in KINDS:
        raise ConfigError(f"{where}: delivery {kind!r} is not one of {', '.join(KINDS)}")
    smtp_raw = dict(raw.get("smtp", {}))
    notify_raw = dict(raw.get("notify", {}))
    landlord_raw = dict(raw.get("landlord", {}))
    try:
        smtp = SmtpSettings(
            host=str(smtp_raw.get("host", SmtpSettings.host)),
            port=int(smtp_raw.get("port", SmtpSettings.port)),
            user=smtp_raw.get("user") or None,
            password=smtp_raw.get("password") or None,
            sender=str(smtp_raw.get("sender", SmtpSettings.sender)),
            starttls=_bool(smtp_raw.get("starttls", False)),
            ssl=_bool(smtp_raw.get("ssl", False)),
            timeout=float(smtp_raw.get("timeout", SmtpSettings.timeout)),
            print_to=smtp_raw.get("print_to") or None,
        )
        notify = NotifySettings(
            api_key=notify_raw.get("api_key") or None,
            base_url=str(notify_raw.get("base_url", NOTIFY_BASE_URL)),
            email_template_id=notify_raw.get("email_template_id") or None,
            sms_template_id=notify_raw.get("sms_template_id") or None,
            postage=str(notify_raw.get("postage", "second")),
            timeout=float(notify_raw.get("timeout", NotifySettings.timeout)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    if kind == "notify" and (not notify.api_key or len(notify.api_key) < 74):
        raise ConfigError(f"{where}: delivery is notify but notify.api_key (ASB_NOTIFY_API_KEY) is missing or "
                          "not a Notify API key (name-serviceid-secret)")
    officers = {
        str(officer_id): Officer(id=str(officer_id), name=str(data.get("name", officer_id)),
                                 phone=data.get("phone"), email=data.get("email"))
        for officer_id, data in dict(raw.get("officers", {})).items()
    }
    address = landlord_raw.get("address", ())
    landlord = Landlord(
        name=str(landlord_raw.get("name", Landlord.name)),
        address=tuple(address.splitlines() if isinstance(address, str) else address),
        phone=landlord_raw.get("phone"), email=landlord_raw.get("email"), website=landlord_raw.get("website"),
        survey_url=landlord_raw.get("survey_url"),
    )
    staff = _staff(dict(raw.get("staff", {})), where)
    for officer in officers.values():
        if officer.email is not None and not _ADDRESS.match(str(officer.email)):
            raise ConfigError(f"{where}: officers.{officer.id}.email: {officer.email!r} is not an email address")
    templates = raw.get("templates")
    default_language = str(raw.get("default_language", "en"))
    try:
        check_language(default_language, "default_language (ASB_LETTER_LANGUAGE)")
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    monthly_to = raw.get("monthly_report_to", ())
    monthly_to = tuple(a.strip() for a in (monthly_to.split(",") if isinstance(monthly_to, str) else monthly_to)
                       if str(a).strip())
    for address in monthly_to:
        if not re.fullmatch(r"[^@\s,<>]{1,64}@[^@\s,<>]{1,190}", str(address)):
            raise ConfigError(f"{where}: monthly_report_to: {address!r} is not an email address")
    return DeliverySettings(
        kind=kind,
        smtp=smtp, notify=notify, landlord=landlord, officers=officers, monthly_report_to=monthly_to, staff=staff,
        give_up_after=parse_duration(raw.get("give_up_after", "48h"), f"{where}: give_up_after"),
        templates=Path(templates) if templates else None,
        default_language=default_language,
    )


def _staff(raw: dict[str, Any], where: str) -> StaffSettings:
    """The `[staff]` table: its url and its role mailboxes, each checked, the first bad one named."""
    unknown = sorted(set(raw) - {"url", "mailboxes"})
    if unknown:
        raise ConfigError(f"{where}: staff.{unknown[0]}: unknown setting (use url, mailboxes)")
    url = str(raw.get("url", StaffSettings.url)).rstrip("/")
    if not re.match(r"^https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~/-]*)?$", url):
        raise ConfigError(f"{where}: staff.url: {url!r} is not an http(s) address")
    mailboxes: dict[str, str] = {}
    for role, address in dict(raw.get("mailboxes", {})).items():
        if role not in MAILBOX_ROLES:
            raise ConfigError(f"{where}: staff.mailboxes.{role}: not a role ({', '.join(MAILBOX_ROLES)})")
        if not isinstance(address, str) or not _ADDRESS.match(address):
            raise ConfigError(f"{where}: staff.mailboxes.{role}: {address!r} is not an email address")
        mailboxes[role] = address
    return StaffSettings(url=url, mailboxes=mailboxes)


def load_settings(profile: str | None = None, env: Mapping[str, str] | None = None) -> DeliverySettings:
    """The settings in force for a case of `profile` (its landlord)."""
    env = os.environ if env is None else env
    file_raw: dict[str, Any] = {}
    where = "environment"
    if env.get("ASB_DELIVERY_CONFIG"):
        path = Path(env["ASB_DELIVERY_CONFIG"])
        file_raw = read_file(path)
        where = str(path)
    profiles = dict(file_raw.pop("profiles", {}))
    raw = _merge(file_raw, _from_env(env))
    if profile and profile in profiles:
        raw = _merge(raw, profiles[profile])
        where = f"{where} [profiles.{profile}]"
    return build(raw, where)
