"""The reports: every figure the seeds ask managers and the Regulator for, counted in one place.

The doors are thin over this module: `asb report NAME` (asb/reports_cli.py), `GET /reports/NAME` (api/routes/
management.py), the manager's pages (web/) and the monthly performance report (reports/monthly.py) all call
`build`, so one figure is counted one way wherever it is read. Each report states its period and the
counting rules it used (`Report.rules`), and exports as CSV (`Report.to_csv`).

It only reads the case file (SQLAlchemy Core/ORM queries, the same on SQLite and PostgreSQL) and counts
the cases of one profile (one landlord's cases: the profile names the landlord's standard and its number
of homes). Periods are whole days in the landlord's time zone, both ends included.

Where the seeds ask for them: 000 "Monitoring our service" (time to respond, cases open, cases resolved);
002 §3.1 (records monitored to improve performance), §3.3 (Tenant Satisfaction Measures and a survey on
closure); 003 §13 (response times, resolution rates, customer satisfaction); 004 §6.4 (monitoring by
protected characteristic), §7 (cases per 1,000 properties, legal action, resolved cases, hate related
cases, Community Triggers called).
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from casefile.models import (
    SATISFACTION,
    CaseReviewOutcomeRow,
    CaseRow,
    ContactRow,
    EventRow,
    IncidentRow,
    LegalActionRow,
    SurveyAnswerRow,
)
from policy.calendar import WorkingCalendar
from policy.model import Profile, Risk
from statemachine.commands import DUPLICATE, STAGES

Cell = str | int | float | None

RISKS: tuple[Risk, ...] = ("high", "medium", "low")
#: Age bands of an open case, in days since it was opened (upper bound included; None: no bound).
AGE_BANDS: tuple[tuple[str, int | None], ...] = (("0-30 days", 30), ("31-90 days", 90), ("91-180 days", 180),
                                                  ("over 180 days", None))
#: The triage outcome of a report that opened a case (policy.triage.Outcome): early support and reports
#: that are not ASB open no case (000 "early support without opening a formal ASB case"; 003 §4).
OPENED = "enquiry"


class ReportError(ValueError):
    """A report that cannot be produced as asked (an unknown name, a period it cannot count, a setting
    missing): its message is one line, shown as it is by every door."""


@dataclass(frozen=True)
class Period:
    """Whole days in the landlord's time zone, `start` to `end` both included."""

    start: date
    end: date
    label: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ReportError(f"the period ends ({self.end}) before it starts ({self.start})")
        if (self.end - self.start).days > 3 * 366:
            raise ReportError("a period is at most three years")

    @classmethod
    def month(cls, text: str) -> Period:
        """`YYYY-MM`: that calendar month."""
        if not re.fullmatch(r"\d{4}-\d{2}", text or ""):
            raise ReportError(f"month {text!r}: give it as YYYY-MM")
        year, month = int(text[:4]), int(text[5:])
        if not (1 <= month <= 12 and 2000 <= year <= 2100):
            raise ReportError(f"month {text!r}: no such month")
        first = date(year, month, 1)
        after = date(year + (month == 12), month % 12 + 1, 1)
        return cls(first, after - timedelta(days=1), first.strftime("%B %Y"))

    @classmethod
    def reporting_year(cls, year: int) -> Period:
        """The Regulator's reporting year beginning 1 April `year` and ending 31 March the year after."""
        if not 2000 <= year <= 2100:
            raise ReportError(f"year {year}: out of range")
        return cls(date(year, 4, 1), date(year + 1, 3, 31), f"reporting year {year}/{str(year + 1)[2:]}")

    @classmethod
    def reporting_year_of(cls, day: date) -> Period:
        return cls.reporting_year(day.year if day.month >= 4 else day.year - 1)

    @classmethod
    def between(cls, start: str, end: str) -> Period:
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError as exc:
            raise ReportError(f"a period's dates are given as YYYY-MM-DD ({start!r} to {end!r})") from exc
        return cls(first, last, f"{first.isoformat()} to {last.isoformat()}")

    def is_reporting_year(self) -> bool:
        return (self.start.month, self.start.day, self.end.month, self.end.day) == (4, 1, 3, 31) and \
            self.end.year == self.start.year + 1

    def bounds(self, zone: str) -> tuple[datetime, datetime]:
        """The period as UTC moments: from the start of its first day to the start of the day after it."""
        tz = ZoneInfo(zone)
        begin = datetime.combine(self.start, time(0), tz).astimezone(UTC)
        after = datetime.combine(self.end + timedelta(days=1), time(0), tz).astimezone(UTC)
        return begin, after


@dataclass
class Report:
    name: str
    title: str
    profile: str
    period: Period
    rules: list[str]
    columns: list[str]
    rows: list[list[Cell]]
    #: The headline figures, by name (e.g. {"compliance_pct": 87.5}): what a chart or a summary shows.
    figures: dict[str, Cell] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"report": self.name, "title": self.title, "profile": self.profile,
                "period": {"start": self.period.start.isoformat(), "end": self.period.end.isoformat(),
                           "label": self.period.label},
                "rules": self.rules, "columns": self.columns, "rows": self.rows, "figures": self.figures}

    def to_csv(self) -> str:
        """The table, preceded by what it is: the report, the period and each counting rule, one a line."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["report", self.title])
        writer.writerow(["profile", self.profile])
        writer.writerow(["period", self.period.start.isoformat(), self.period.end.isoformat()])
        for rule in self.rules:
            writer.writerow(["rule", rule])
        writer.writerow([])
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow(["" if cell is None else _csv_safe(cell) for cell in row])
        return out.getvalue()


def _csv_safe(cell: Cell) -> Cell:
    # A spreadsheet runs a cell that starts with = + - @ as a formula: never from the case file's text.
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _profile_cases(profile: Profile) -> Any:
    return select(CaseRow.reference).where(CaseRow.profile == profile.name)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------------------- the reports


def first_response(session: Session, profile: Profile, period: Period, now: datetime) -> Report:
    """First-response compliance by risk against the profile's standard (000 "respond within three working
    days (or one working day for threats or hate incidents)"; 003 §8 table; 003 §13 "response times")."""
    begin, after = period.bounds(profile.calendar.timezone)
    calendar = WorkingCalendar.from_rules(profile.calendar)
    cases = session.execute(
        select(CaseRow.reference, CaseRow.risk, CaseRow.opened_at)
        .where(CaseRow.profile == profile.name, CaseRow.outcome == OPENED,
               CaseRow.opened_at >= begin, CaseRow.opened_at < after)
        .order_by(CaseRow.reference)).all()
    refs = [c.reference for c in cases]
    first: dict[str, datetime] = {}
    for ref, at in session.execute(select(ContactRow.case_ref, ContactRow.at)
                                   .where(ContactRow.case_ref.in_(_profile_cases(profile)))
                                   .order_by(ContactRow.case_ref, ContactRow.at)):
        if ref in refs and ref not in first:
            first[ref] = _aware(at)
    counts: dict[str, Counter[str]] = {risk: Counter() for risk in RISKS}
    for case in cases:
        if case.risk not in counts:
            continue
        days = int(getattr(profile.first_response, case.risk))
        due = calendar.working_day_deadline(_aware(case.opened_at), days)
        responded = first.get(case.reference)
        if responded is not None:
            counts[case.risk]["met" if responded <= due else "missed"] += 1
        else:
            counts[case.risk]["missed" if due < now else "pending"] += 1
    rows: list[list[Cell]] = []
    total: Counter[str] = Counter()
    for risk in RISKS:
        c = counts[risk]
        total.update(c)
        rows.append([risk, profile.first_response.for_risk(risk), c["met"] + c["missed"] + c["pending"], c["met"],
                     c["missed"], c["pending"], _pct(c["met"], c["met"] + c["missed"])])
    all_cases = total["met"] + total["missed"] + total["pending"]
    rows.append(["all", None, all_cases, total["met"], total["missed"], total["pending"],
                 _pct(total["met"], total["met"] + total["missed"])])
    return Report(
        "first-response", "First-response compliance by risk", profile.name, period,
        rules=[
            "Counts the cases opened in the period (reports triaged to an enquiry; early support and reports "
            "that are not ASB open no case), by the risk each case has now.",
            f"The standard is the profile's first_response: high {profile.first_response.high}, medium "
            f"{profile.first_response.medium}, low {profile.first_response.low} working days after the working "
            f"day the report was received (received after {profile.calendar.end_of_working_day:%H:%M} or on a "
            f"day off: the next working day), bank holidays of {profile.calendar.nation} excluded; due at the "
            "end of the last of them.",
            "Met: the first contact with the reporter (any recorded contact, made or attempted) was recorded by "
            "then. Missed: recorded later, or none recorded and the due time has passed. Pending: none recorded "
            "and not yet due; pending cases are left out of the compliance percentage.",
            "Cases whose risk was never assessed are not counted.",
        ],
        columns=["risk", "standard_working_days", "cases", "met", "missed", "pending", "compliance_pct"],
        rows=rows,
        figures={"cases": all_cases, "met": total["met"], "missed": total["missed"],
                 "compliance_pct": _pct(total["met"], total["met"] + total["missed"]),
                 **{f"compliance_pct_{r[0]}": r[6] for r in rows[:3]}},
    )


def _latest_before(session: Session, refs: list[str], kinds: Iterable[str], after: datetime
                   ) -> dict[str, list[EventRow]]:
    by_case: dict[str, list[EventRow]] = defaultdict(list)
    if not refs:
        return by_case
    for start in range(0, len(refs), 500):
        chunk = refs[start:start + 500]
        for event in session.scalars(select(EventRow).where(EventRow.case_ref.in_(chunk),
                                                            EventRow.kind.in_(list(kinds)), EventRow.at < after)
                                     .order_by(EventRow.case_ref, EventRow.at, EventRow.id)):
            by_case[event.case_ref].append(event)
    return by_case


def open_cases(session: Session, profile: Profile, period: Period, now: datetime) -> Report:
    """Open cases by stage, risk and age at the end of the period (000 "number of cases open")."""
    _, after = period.bounds(profile.calendar.timezone)
    cases = session.execute(
        select(CaseRow.reference, CaseRow.stage, CaseRow.risk, CaseRow.opened_at, CaseRow.closed_at)
        .where(CaseRow.profile == profile.name, CaseRow.outcome == OPENED, CaseRow.opened_at < after)
        .order_by(CaseRow.reference)).all()
    refs = [c.reference for c in cases]
    history = _latest_before(session, refs, ("stage", "triage", "risk", "closed", "reopened"), after)
    counts: Counter[tuple[str, str, str]] = Counter()
    for case in cases:
        stage, risk = "enquiry", case.risk
        events = history.get(case.reference, [])
        for event in events:
            if event.kind in ("stage", "reopened") and event.data.get("stage"):
                stage = str(event.data["stage"])
            elif event.kind == "closed":
                stage = "closed"
            elif event.kind in ("triage", "risk") and event.data.get("risk"):
                risk = str(event.data["risk"])
        if not events:  # a case file without its timeline (imported): what the case row says
            stage = "closed" if case.closed_at is not None and _aware(case.closed_at) < after else case.stage
        if stage == "closed":
            continue
        age = (after - _aware(case.opened_at)).days
        band = next(label for label, upto in AGE_BANDS if upto is None or age <= upto)
        counts[(stage, risk or "unassessed", band)] += 1
    stage_order: dict[str, int] = {s: i for i, s in enumerate(STAGES)}
    risk_order = {r: i for i, r in enumerate((*RISKS, "unassessed"))}
    band_order = {label: i for i, (label, _) in enumerate(AGE_BANDS)}
    rows: list[list[Cell]] = [[s, r, b, n] for (s, r, b), n in sorted(
        counts.items(), key=lambda kv: (stage_order.get(kv[0][0], 99), risk_order[kv[0][1]], band_order[kv[0][2]]))]
    by_stage = Counter[str]()
    for (s, _, _), n in counts.items():
        by_stage[s] += n
    return Report(
        "open-cases", "Open cases by stage, risk and age", profile.name, period,
        rules=[
            f"Counts the cases open at the end of {period.end.isoformat()} ({profile.calendar.timezone}): opened "
            "before then and not closed by then.",
            "Stage and risk are as they stood then, from each case's timeline (a reopened case is open again).",
            "Age is whole days from the report to the end of the period: "
            + ", ".join(label for label, _ in AGE_BANDS) + ".",
            "Only combinations with at least one case are listed.",
        ],
        columns=["stage", "risk", "age", "cases"], rows=rows,
        figures={"open": sum(counts.values()), **{f"open_{s}": by_stage.get(s, 0) for s in STAGES[:-1]}},
    )


def closures(session: Session, profile: Profile, period: Period, now: datetime) -> Report:
    """Closures by reason and the median duration of a case (000 "number resolved"; 003 §13 "resolution
    rates"; 004 §7 "the number of cases resolved")."""
    begin, after = period.bounds(profile.calendar.timezone)
    cases = session.execute(
        select(CaseRow.reference, CaseRow.closure_reason, CaseRow.opened_at, CaseRow.closed_at)
        .where(CaseRow.profile == profile.name, CaseRow.outcome == OPENED, CaseRow.closed_at.is_not(None),
               CaseRow.closed_at >= begin, CaseRow.closed_at < after)
        .order_by(CaseRow.reference)).all()
    days: dict[str, list[float]] = defaultdict(list)
    for case in cases:
        span = (_aware(case.closed_at) - _aware(case.opened_at)).total_seconds() / 86400
        days[case.closure_reason or "unknown"].append(span)
    rows: list[list[Cell]] = [[reason, len(spans), round(statistics.median(spans), 1)]
                              for reason, spans in sorted(days.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    counted = [s for reason, spans in days.items() if reason != DUPLICATE for s in spans]
    median = round(statistics.median(counted), 1) if counted else None
    rows.append(["all (not duplicates)", len(counted), median])
    return Report(
        "closures", "Closures by reason, and median duration", profile.name, period,
        rules=[
            "Counts the cases closed in the period (a case reopened and closed again counts at its latest "
            "closure), by the reason recorded when it closed.",
            "Duration is from the report to the closure, in days (to one decimal place); the median is the "
            "middle duration (the mean of the middle two when there is an even number).",
            "A case closed as a duplicate of a live case is listed but left out of the total and its median: "
            "its matter is still being dealt with on the live case.",
        ],
        columns=["reason", "closed", "median_days"], rows=rows,
        figures={"closed": len(counted), "median_days": median,
                 **{f"closed_{reason}": len(spans) for reason, spans in days.items()}},
    )


def cases_opened(session: Session, profile: Profile, period: Period) -> tuple[int, int]:
    """The cases opened in the period as NM01 counts them, and of them those involving hate incidents."""
    begin, after = period.bounds(profile.calendar.timezone)
    cases = session.execute(
        select(CaseRow.hate, CaseRow.closure_reason)
        .where(CaseRow.profile == profile.name, CaseRow.outcome == OPENED,
               CaseRow.opened_at >= begin, CaseRow.opened_at < after)).all()
    counted = [c for c in cases if c.closure_reason != DUPLICATE]
    return len(counted), sum(1 for c in counted if c.hate)


def nm01(session: Session, profile: Profile, period: Period, now: datetime) -> Report:
    """Tenant Satisfaction Measure NM01: ASB cases opened per 1,000 homes, and cases involving hate
    incidents per 1,000 homes, in the reporting year (004 §7 "the amount of ASB cases per 1,000
    properties", "the amount of hate related cases"; 002 §3.3)."""
    if not period.is_reporting_year():
        raise ReportError("NM01 counts a reporting year (1 April to 31 March): give the year it begins")
    homes = profile.reporting.homes
    if homes is None:
        raise ReportError(f"profile {profile.name} does not give its number of homes (reporting.homes), "
                          "which NM01 divides by")
    asb, hate = cases_opened(session, profile, period)

    def per(n: int) -> float:
        return round(1000.0 * n / homes, 2)

    return Report(
        "nm01", "NM01: anti-social behaviour cases relative to the size of the landlord", profile.name, period,
        rules=[
            "NM01(1): ASB cases opened in the reporting year, per 1,000 homes; NM01(2): of them, the cases that "
            "involve hate incidents, per 1,000 homes (to two decimal places).",
            f"Homes: {homes}, the landlord's setting (profile reporting.homes).",
            "A case is opened when a report is triaged to an enquiry; early support and reports that are not "
            "ASB open no case.",
            "A further report about the same matter while a case is open is attached to that case and opens "
            "no new case; a case closed as a duplicate of a live case is not counted.",
            "A case involves hate incidents if its report or any incident recorded on it was a hate incident.",
        ],
        columns=["measure", "cases", "homes", "per_1000_homes"],
        rows=[["NM01(1) ASB cases", asb, homes, per(asb)], ["NM01(2) hate incident cases", hate, homes, per(hate)]],
        figures={"asb_cases": asb, "hate_cases": hate, "homes": homes, "asb_per_1000": per(asb),
                 "hate_per_1000": per(hate)},
    )


LABELS = {"very_satisfied": "Very satisfied", "fairly_satisfied": "Fairly satisfied",
          "neither": "Neither satisfied nor dissatisfied", "fairly_dissatisfied": "Fairly dissatisfied",
          "very_dissatisfied": "Very dissatisfied"}


def tp12(session: Session, profile: Profile, period: Period, now: datetime) -> Report:
    """TP12: satisfaction with the landlord's handling of ASB, from the closure survey (002 §3.3; 003 §13
    "Close Case Surveys"; 004 §7 "customer satisfaction results")."""
    begin, after = period.bounds(profile.calendar.timezone)
    answers = Counter(session.scalars(
        select(SurveyAnswerRow.satisfaction)
        .where(SurveyAnswerRow.case_ref.in_(_profile_cases(profile)),
               SurveyAnswerRow.answered_at >= begin, SurveyAnswerRow.answered_at < after)).all())
    total = sum(answers[a] for a in SATISFACTION)
    satisfied = answers["very_satisfied"] + answers["fairly_satisfied"]
    rows: list[list[Cell]] = [[LABELS[a], answers[a], _pct(answers[a], total)] for a in SATISFACTION]
    rows.append(["TP12 satisfied (very or fairly)", satisfied, _pct(satisfied, total)])
    return Report(
        "tp12", "TP12: satisfaction with the landlord's approach to handling anti-social behaviour",
        profile.name, period,
        rules=[
            "Counts the answers to the closure survey given in the period (through the survey letter's link, "
            "or recorded by staff from a phone call, the paper form or a visit), one per case and person.",
            "TP12 is the answers very or fairly satisfied as a percentage of all answers (to one decimal place).",
            "The question: how satisfied or dissatisfied are you with how we handled your case? Five answers, "
            "the Regulator's scale; no answer is counted twice.",
        ],
        columns=["answer", "answers", "pct"], rows=rows,
        figures={"answers": total, "satisfied": satisfied, "tp12_pct": _pct(satisfied, total)},
    )


#: The refusals of an application for an ASB Case Review because it did not meet the threshold or came
#: too late (statemachine/catalogue.py `_case_review_threshold_refusal`, `_closed_case_refusal`): an
#: application received that did not meet the threshold. Other refusals (one already under way, a role not
#: allowed) were not a new application.
_NOT_MET = ("the ASB Case Review threshold is not met", "the last incident was more than", "the case closed on")


def case_review_register(session: Session, profile: Profile, period: Period, now: datetime) -> Report:
    """The ASB Case Review register the Anti-social Behaviour, Crime and Policing Act 2014 (s.104(10))
    asks to be published yearly (003 §10; 004 §7 "the amount of Community Triggers called"; 004 §8)."""
    begin, after = period.bounds(profile.calendar.timezone)
    events = session.scalars(
        select(EventRow).where(EventRow.case_ref.in_(_profile_cases(profile)), EventRow.at >= begin,
                               EventRow.at < after,
                               EventRow.kind.in_(["asb_case_review", "rejected", "task_resolved"]))
        .order_by(EventRow.case_ref, EventRow.at, EventRow.id)).all()
    met = sum(1 for e in events if e.kind == "asb_case_review")
    not_met = sum(1 for e in events if e.kind == "rejected" and e.data.get("command") == "request_asb_case_review"
                  and str(e.data.get("reason", "")).startswith(_NOT_MET))
    held = sum(1 for e in events if e.kind == "task_resolved" and e.data.get("kind") == "asb_case_review")
    outcomes = session.scalars(
        select(CaseReviewOutcomeRow.recommendations)
        .where(CaseReviewOutcomeRow.case_ref.in_(_profile_cases(profile)),
               CaseReviewOutcomeRow.held_on >= period.start, CaseReviewOutcomeRow.held_on <= period.end)).all()
    recommended = sum(1 for r in outcomes if r)
    return Report(
        "case-review-register", "ASB Case Review register", profile.name, period,
        rules=[
            "Applications received: applications accepted, and applications refused because the threshold "
            "was not met or the application came too late; a repeat while a review is under way is not counted.",
            f"Met the threshold: applications accepted (the profile's case_review thresholds: "
            f"{profile.case_review.individual_incidents} incidents for one person, "
            f"{profile.case_review.group_incidents} for a group, within {profile.case_review.window}; or "
            f"{profile.case_review.hate_incidents} hate incidents within {profile.case_review.hate_window}).",
            "Reviews held: ASB Case Review tasks completed in the period.",
            "Led to recommendations: reviews held in the period whose outcome was recorded as making "
            "recommendations.",
        ],
        columns=["measure", "count"],
        rows=[["applications received", met + not_met], ["met the threshold", met], ["reviews held", held],
              ["led to recommendations", recommended]],
        figures={"applications": met + not_met, "met_threshold": met, "held": held, "recommendations": recommended},
    )


def hate_strands(session: Session, profile: Profile, period: Period, now: datetime) -> Report:
    """Hate incidents by strand, for equality monitoring (004 §6.4 "monitor ... by the nine protected
    characteristics ... and report on this annually"; 003 §5)."""
    begin, after = period.bounds(profile.calendar.timezone)
    rows_ = session.execute(
        select(IncidentRow.case_ref, IncidentRow.hate_strand)
        .where(IncidentRow.case_ref.in_(_profile_cases(profile)), IncidentRow.hate_strand.is_not(None),
               IncidentRow.status == "confirmed", IncidentRow.occurred_at >= begin, IncidentRow.occurred_at < after)
    ).all()
    incidents: Counter[str] = Counter(r.hate_strand for r in rows_)
    cases: dict[str, set[str]] = defaultdict(set)
    for r in rows_:
        cases[r.hate_strand].add(r.case_ref)
    strands = list(profile.categories.hate_strands) + sorted(set(incidents) - set(profile.categories.hate_strands))
    rows: list[list[Cell]] = [[s, incidents[s], len(cases[s])] for s in strands]
    all_cases = len({ref for refs in cases.values() for ref in refs})
    rows.append(["all", sum(incidents.values()), all_cases])
    return Report(
        "hate-strands", "Hate incidents by strand", profile.name, period,
        rules=[
            "Counts the hate incidents that happened in the period (by when each happened), with the strand "
            "recorded for it: the report's own incident and every further incident recorded on a case.",
            "Cases: the cases with at least one such incident of that strand; a case with incidents of two "
            "strands is counted under each, once in the total.",
            "Every strand of the profile is listed, with zero where there were none.",
        ],
        columns=["strand", "incidents", "cases"], rows=rows,
        figures={"hate_incidents": sum(incidents.values()), "cases": all_cases,
                 **{f"incidents_{s}": incidents[s] for s in strands}},
    )


LEGAL_STATUSES = ("proposed", "approved", "rejected", "concluded")


def legal_actions(session: Session, profile: Profile, period: Period, now: datetime) -> Report:
    """Legal actions by kind and outcome (004 §7 "cases where legal action is taken")."""
    begin, after = period.bounds(profile.calendar.timezone)
    actions = session.execute(
        select(LegalActionRow.kind, LegalActionRow.status)
        .where(LegalActionRow.case_ref.in_(_profile_cases(profile)),
               LegalActionRow.proposed_at >= begin, LegalActionRow.proposed_at < after)).all()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for a in actions:
        counts[a.kind][a.status] += 1
    rows: list[list[Cell]] = [[kind, sum(c.values()), *(c[s] for s in LEGAL_STATUSES)]
                              for kind, c in sorted(counts.items())]
    total = Counter[str]()
    for c in counts.values():
        total.update(c)
    rows.append(["all", sum(total.values()), *(total[s] for s in LEGAL_STATUSES)])
    return Report(
        "legal-actions", "Legal actions by kind and outcome", profile.name, period,
        rules=[
            "Counts the legal actions proposed in the period, by kind, and where each stands now: still "
            "proposed (awaiting approval), approved (under way), rejected by the approver, or concluded (its "
            "outcome recorded; the outcome's words stay on the case).",
        ],
        columns=["kind", "proposed_in_period", *LEGAL_STATUSES], rows=rows,
        figures={"legal_actions": sum(total.values()), **{s: total[s] for s in LEGAL_STATUSES}},
    )


def resolution_target(session: Session, profile: Profile, period: Period, now: datetime) -> Report:
    """The landlord's resolution target over the cases opened in the period (issue 16 item 4: "resolve the
    majority of cases within 45 working days"): a target, never a deadline, so it is reported, not breached.
    The rule for one case is the catalogue's (statemachine.catalogue.resolution_target)."""
    from statemachine.catalogue import resolution_target as standing_of
    from statemachine.catalogue import target_report

    if profile.targets.resolve_within is None:
        raise ReportError(f"profile {profile.name} sets no resolution target (targets.resolve_within)")
    begin, after = period.bounds(profile.calendar.timezone)
    calendar = WorkingCalendar.from_rules(profile.calendar)
    cases = session.execute(
        select(CaseRow.opened_at, CaseRow.closed_at)
        .where(CaseRow.profile == profile.name, CaseRow.outcome == OPENED,
               CaseRow.opened_at >= begin, CaseRow.opened_at < after)
        .order_by(CaseRow.opened_at, CaseRow.reference)).all()
    standings = [s for c in cases if (s := standing_of(
        profile, calendar, c.opened_at, c.closed_at if c.closed_at is not None and c.closed_at <= now else None,
        now)) is not None]
    figures = target_report(profile, standings)
    columns = ["cases", "resolved", "resolved_within", "open_past_target", "share_within_percent",
               "share_promised_percent", "met"]
    return Report(
        "resolution-target", "Resolution target", profile.name, period,
        rules=[
            f"Counts the cases opened in the period (reports triaged to an enquiry), as they stand now, against "
            f"the target: {figures['share_promised_percent']}% "
            f"resolved within {figures['target']}, counted as working days from the day the report counts as "
            "received (after 17:00: the next working day).",
            "The share is of the cases resolved plus the open cases already past the target (they can no longer "
            "be resolved within it); open cases still inside it are not yet counted. A target raises no breach.",
        ],
        columns=columns, rows=[[figures[c] for c in columns]],
        figures={c: figures[c] for c in columns},
    )


Builder = Callable[[Session, Profile, Period, datetime], Report]

#: Every report by name: the CLI's, the API's and the pages' allow-list.
REPORTS: dict[str, tuple[str, Builder]] = {
    "first-response": ("First-response compliance by risk", first_response),
    "open-cases": ("Open cases by stage, risk and age", open_cases),
    "closures": ("Closures by reason, and median duration", closures),
    "nm01": ("TSM NM01: ASB and hate incident cases per 1,000 homes", nm01),
    "tp12": ("TSM TP12: satisfaction with the handling of ASB", tp12),
    "case-review-register": ("ASB Case Review register", case_review_register),
    "hate-strands": ("Hate incidents by strand", hate_strands),
    "legal-actions": ("Legal actions by kind and outcome", legal_actions),
    "resolution-target": ("Resolution target", resolution_target),
}
#: The reports of a reporting year by default (the Regulator's and the statutory yearly ones).
YEARLY = frozenset({"nm01", "tp12", "case-review-register", "hate-strands"})


def default_period(name: str, today: date) -> Period:
    """With no period given: the reporting year so far for the yearly reports, else the last whole month."""
    if name in YEARLY:
        return Period.reporting_year_of(today)
    first = today.replace(day=1)
    last_month = first - timedelta(days=1)
    return Period.month(f"{last_month.year:04d}-{last_month.month:02d}")


def period_from(name: str, *, month: str | None = None, year: int | None = None, start: str | None = None,
                end: str | None = None, today: date) -> Period:
    """The period a door was asked for: a month, a reporting year, or two dates; at most one of them."""
    given = [g for g in (month, year, start or end) if g]
    if len(given) > 1:
        raise ReportError("give one of a month, a reporting year, or from and to dates")
    if month:
        return Period.month(month)
    if year:
        return Period.reporting_year(year)
    if start or end:
        if not (start and end):
            raise ReportError("give both from and to dates")
        return Period.between(start, end)
    return default_period(name, today)


def build(session: Session, name: str, profile: Profile, period: Period, now: datetime | None = None) -> Report:
    """The report `name` for `period`; ReportError for an unknown name or a period it cannot count."""
    try:
        _, builder = REPORTS[name]
    except KeyError:
        raise ReportError(f"unknown report {name!r}: use one of {', '.join(REPORTS)}") from None
    return builder(session, profile, period, now or datetime.now(UTC))
