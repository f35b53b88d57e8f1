"""The monthly performance report (issue 14 item 4; 000 "Each month the Community Safety Manager reviews
our response to ASB, including how long it took to respond to cases, number of cases open and number
resolved"; 002 §3.1; 003 §13): the month's figures from casefile/reports.py, with charts, as HTML and as
a PDF (WeasyPrint, as the letters are), sent to the managers.

It is produced by a Temporal Schedule on the first working day of each month (workflows/monthly.py) and
can be produced again for any month with `asb report monthly --month YYYY-MM`. Sending is once per month
and address: each send is claimed in the case file's message table under a key naming the profile, the
month and the address before it goes, so a second run (the Schedule's next day, a re-run, a retried
activity) finds it sent and sends nothing twice. The report holds figures only, no personal data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from casefile import reports as r
from casefile.db import Store
from casefile.models import MessageRow
from letters.config import DeliverySettings
from letters.delivery import DeliveryError, Outgoing, adapter_for, build_email, write_atomic
from letters.recipients import Recipient
from letters.render import Rendered
from performance import charts
from policy.calendar import WorkingCalendar
from policy.model import Profile

TEMPLATES = Path(__file__).with_name("templates")
#: The message table's case reference for the monthly report's sends (it belongs to no case).
MESSAGE_CASE = "monthly-report"
#: The reports the monthly report shows for its month, in order.
SECTIONS = ("first-response", "open-cases", "closures", "tp12", "hate-strands", "legal-actions",
            "case-review-register")
SURVEY_COLOURS = (charts.GREEN, "#85994b", charts.GREY, "#f47738", charts.RED)


def first_working_day(calendar: WorkingCalendar, year: int, month: int) -> date:
    day = date(year, month, 1)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return day


def previous_month(day: date) -> str:
    last = day.replace(day=1) - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


@dataclass(frozen=True)
class Monthly:
    month: str
    profile: str
    html: str
    pdf: bytes
    figures: dict[str, Any]


def _environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(loader=FileSystemLoader(str(TEMPLATES)),
                                         autoescape=select_autoescape(["html", "j2"]))


def context(session: Session, profile: Profile, month: str, now: datetime, landlord: str) -> dict[str, Any]:
    """Everything the report shows, counted by casefile/reports.py, and its charts."""
    period = r.Period.month(month)
    sections = {name: r.build(session, name, profile, period, now) for name in SECTIONS}
    trend_months = []
    start = period.start
    for back in range(11, -1, -1):
        y, m = start.year, start.month - back
        while m < 1:
            y, m = y - 1, m + 12
        trend_months.append(r.Period.month(f"{y:04d}-{m:02d}"))
    opened = [r.cases_opened(session, profile, p) for p in trend_months]
    fr, oc, cl, tp, hs, la = (sections[n] for n in SECTIONS[:6])
    year = r.Period.reporting_year_of(period.end)
    year_to_date = r.Period(year.start, period.end, f"{year.label}, to {period.end:%-d %B %Y}")
    asb_ytd, hate_ytd = r.cases_opened(session, profile, year_to_date)
    homes = profile.reporting.homes
    figures = {
        "opened": opened[-1][0], "opened_hate": opened[-1][1], "closed": cl.figures["closed"],
        "open_at_end": oc.figures["open"], "compliance_pct": fr.figures["compliance_pct"],
        "median_days": cl.figures["median_days"], "tp12_pct": tp.figures["tp12_pct"],
        "survey_answers": tp.figures["answers"], "hate_incidents": hs.figures["hate_incidents"],
        "legal_actions": la.figures["legal_actions"],
        "nm01_ytd": round(1000.0 * asb_ytd / homes, 2) if homes else None,
        "nm01_hate_ytd": round(1000.0 * hate_ytd / homes, 2) if homes else None,
    }
    compliance = [(str(row[0]).capitalize(), float(row[6] or 0)) for row in fr.rows[:3]]
    stages = [(s.capitalize(), float(oc.figures.get(f"open_{s}") or 0)) for s in r.STAGES[:-1]]
    reasons = [(str(row[0]).replace("_", " "), float(row[1] or 0)) for row in cl.rows[:-1]]
    answers = [(str(row[0]), float(row[1] or 0), colour) for row, colour in zip(tp.rows[:5], SURVEY_COLOURS,
                                                                                  strict=True)]
    return {
        "landlord": landlord, "profile": profile, "period": period, "now": now, "figures": figures,
        "sections": [sections[n] for n in SECTIONS], "year_to_date": year_to_date, "homes": homes,
        "charts": {
            "trend": charts.columns("Cases opened, last 12 months",
                                    [(p.start.strftime("%b"), float(o[0])) for p, o in zip(trend_months, opened,
                                                                                           strict=True)],
                                    highlight=11),
            "compliance": charts.bars("First response within the standard (%)", compliance, unit="%",
                                      maximum=100, colour=charts.GREEN, target=100, target_label="standard"),
            "stages": charts.bars(f"Open cases on {period.end:%-d %B} by stage", stages),
            "reasons": charts.bars("Closures by reason", reasons, colour=charts.BLUE),
            "survey": charts.stacked("Closure survey: how satisfied with our handling", answers),
        },
    }


def render(session: Session, profile: Profile, month: str, now: datetime, landlord: str) -> tuple[str, dict[str, Any]]:
    ctx = context(session, profile, month, now, landlord)
    return _environment().get_template("monthly.html.j2").render(ctx), ctx["figures"]


def produce(store: Store, profile: Profile, month: str, landlord: str, now: datetime | None = None) -> Monthly:
    """The month's report as HTML and PDF."""
    from letters.pdf import build_pdf

    with store.session() as session:
        html, figures = render(session, profile, month, now or datetime.now(UTC), landlord)
    return Monthly(month=month, profile=profile.name, html=html, pdf=build_pdf(html, base_url=TEMPLATES),
                   figures=figures)


def write_files(report: Monthly, folder: Path) -> tuple[Path, Path]:
    """The PDF and the HTML, written whole (write then rename) to `folder`."""
    stem = f"monthly-report-{report.profile}-{report.month}"
    pdf, html = folder / f"{stem}.pdf", folder / f"{stem}.html"
    write_atomic(pdf, report.pdf)
    write_atomic(html, report.html.encode())
    return pdf, html


@dataclass(frozen=True)
class Sent:
    files: tuple[str, ...]
    #: Addresses sent to now, and those already sent to by an earlier run.
    sent: tuple[str, ...]
    already: tuple[str, ...]


def _key(report: Monthly, address: str) -> str:
    return f"monthly:{report.profile}:{report.month}:{hashlib.sha256(address.lower().encode()).hexdigest()[:32]}"


def send(store: Store, report: Monthly, settings: DeliverySettings, outbox: Path) -> Sent:
    """Write the files to the outbox's reports folder and email them to `monthly_report_to`, once each."""
    folder = outbox / "reports"
    files = write_files(report, folder)
    sent: list[str] = []
    already: list[str] = []
    adapter = adapter_for(settings, outbox)
    title = f"Monthly ASB performance report: {r.Period.month(report.month).label}"
    for address in settings.monthly_report_to:
        key = _key(report, address)
        with store.session() as session, session.begin():
            row = session.scalars(select(MessageRow).where(MessageRow.key == key).with_for_update()).first()
            if row is not None and row.status == "sent":
                already.append(address)
                continue
            if row is None:
                row = MessageRow(key=key, case_ref=MESSAGE_CASE, channel="email", template="monthly_report",
                                 recipient_role="manager", status="pending", created_at=datetime.now(UTC))
                session.add(row)
                session.flush()
            row.attempts = (row.attempts or 0) + 1
        archive = folder / f"{key.replace(':', '_')}.eml"
        rendered = Rendered(template="monthly_report", language="en", variant="standard", subject=title,
                            summary=title, html=report.html)
        message = Outgoing(key=key, case_ref=MESSAGE_CASE, template="monthly_report", route="email",
                           recipient=Recipient(person_id=None, role="manager", name="ASB managers", address_lines=(),
                                               email=address),
                           rendered=rendered, pdf=report.pdf, archive=archive)
        sender = settings.smtp.sender
        email = build_email(message, sender, address)
        email.add_attachment(report.html.encode(), maintype="text", subtype="html",
                             filename=f"monthly-report-{report.month}.html")
        write_atomic(archive, bytes(email))
        try:
            receipt = adapter.deliver(message)
        except DeliveryError as exc:
            with store.session() as session, session.begin():
                failed = session.scalars(select(MessageRow).where(MessageRow.key == key)).one()
                failed.status, failed.last_error = "failed", str(exc)[:500]
            raise
        with store.session() as session, session.begin():
            done = session.scalars(select(MessageRow).where(MessageRow.key == key)).one()
            done.status, done.sent_at, done.path = "sent", datetime.now(UTC), receipt.path
            done.provider_id = receipt.provider_id
        sent.append(address)
    return Sent(files=tuple(str(f) for f in files), sent=tuple(sent), already=tuple(already))
