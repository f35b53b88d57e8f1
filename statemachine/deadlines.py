"""Which deadlines a case has open, computed from its facts, its profile and the working-day calendar.

Pure deadline arithmetic, kept with the rules (the workflow keeps only the Temporal timing).

Pure, so the workflow recomputes it after every change: a new incident moves inactivity, a new
agreed frequency moves the next contact, a conversion starts the review clock. Each deadline is
"the end of the working day" on which it falls, as officers and the service standard count.
"""

from __future__ import annotations

from datetime import date, datetime

from policy.calendar import WorkingCalendar
from policy.model import CalendarRules, Profile
from policy.periods import Period
from statemachine.commands import CASE_STAGES
from statemachine.facts import CaseFacts
from statemachine.lifecycle import BREACH_DEADLINES

#: How each internal deadline appears on the timeline (SCENARIOS.md deadline kinds).
TIMELINE_KIND = {"investigation_end": "case_review_stage"}


def calendar_for_rules(rules: CalendarRules, holidays_by_year: dict[int, frozenset[date]]) -> WorkingCalendar:
    return WorkingCalendar.from_rules(rules, holidays_by_year=holidays_by_year)


def calendar_for(profile: Profile, holidays_by_year: dict[int, frozenset[date]] | None = None) -> WorkingCalendar:
    return WorkingCalendar.from_rules(profile.calendar, holidays_by_year=holidays_by_year)


def due_on(calendar: WorkingCalendar, moment: datetime) -> datetime:
    """The end of the working day on which `moment` counts (the next one if after hours or not working)."""
    return calendar.working_day_deadline(moment, 0)


def open_deadlines(facts: CaseFacts, profile: Profile, calendar: WorkingCalendar) -> dict[str, datetime]:
    if facts.is_closed:
        return {}
    found: dict[str, datetime] = {}
    stage = facts.stage
    if facts.first_response_at is None and facts.risk is not None:
        found["first_response"] = calendar.working_day_deadline(
            facts.received_at, profile.first_response.for_risk(facts.risk)
        )
    if stage == "enquiry":
        found["enquiry_expiry"] = calendar.add_period(facts.received_at, profile.enquiry.length)
        if facts.unable_letter_at is not None:
            found["unable_to_contact"] = calendar.add_period(
                facts.unable_letter_at, profile.enquiry.unable_to_contact_window
            )
    if stage in CASE_STAGES and facts.converted_at is not None:
        if stage == "investigation":
            found["investigation_end"] = calendar.add_period(facts.converted_at, profile.case.investigation)
        if facts.last_review_at is None:
            first = calendar.add_period(facts.converted_at, profile.case.investigation)
        else:
            first = calendar.add_period(facts.last_review_at, profile.case.review_interval)
        found["case_review"] = due_on(calendar, first)
        quiet_since = max(facts.last_incident_at, facts.converted_at)
        found["inactivity"] = calendar.add_period(quiet_since, profile.case.inactivity)
        if facts.monitoring_since is not None:
            found["monitoring"] = calendar.add_period(facts.monitoring_since, profile.case.extra_monitoring)
    if not facts.reporter.anonymous and facts.last_contact_at is not None:
        every = (
            Period(facts.contact_every_days, "days") if facts.contact_every_days else profile.contact.default_every
        )
        found["contact"] = due_on(calendar, calendar.add_period(facts.last_contact_at, every))
    return found


def handled_key(kind: str, due: datetime) -> str:
    return f"{kind}@{due.isoformat()}"


def unhandled(facts: CaseFacts, deadlines: dict[str, datetime]) -> list[tuple[datetime, str]]:
    return sorted((due, kind) for kind, due in deadlines.items() if handled_key(kind, due) not in facts.handled)


def overdue(facts: CaseFacts, deadlines: dict[str, datetime], now: datetime) -> list[str]:
    """Breachable deadlines that have passed and are still unmet."""
    return sorted(kind for kind, due in deadlines.items() if kind in BREACH_DEADLINES and due <= now)

