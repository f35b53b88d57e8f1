"""Which deadlines a case has open, computed from its facts, its profile and the working-day calendar.

Pure deadline arithmetic, kept with the rules (the workflow keeps only the Temporal timing).

When each kind falls due is its spec's `due` (statemachine/catalogue.py); this module asks them.
Pure, so the workflow recomputes it after every change: a new incident moves inactivity, a new
agreed frequency moves the next contact, a conversion starts the review clock. Each deadline is
"the end of the working day" on which it falls, as officers and the service standard count.
"""

from __future__ import annotations

from datetime import date, datetime

from policy.calendar import WorkingCalendar
from policy.model import CalendarRules, Profile
from statemachine.catalogue import BREACH_DEADLINES, DEADLINES
from statemachine.facts import CaseFacts
from statemachine.patches import ALL


def calendar_for_rules(rules: CalendarRules, holidays_by_year: dict[int, frozenset[date]]) -> WorkingCalendar:
    return WorkingCalendar.from_rules(rules, holidays_by_year=holidays_by_year)


def calendar_for(profile: Profile, holidays_by_year: dict[int, frozenset[date]] | None = None) -> WorkingCalendar:
    return WorkingCalendar.from_rules(profile.calendar, holidays_by_year=holidays_by_year)


def open_deadlines(
    facts: CaseFacts, profile: Profile, calendar: WorkingCalendar, patches: frozenset[str] = ALL,
) -> dict[str, datetime]:
    """Each deadline kind that runs in the case's stage and has a due time now (catalogue DEADLINES),
    by the rules in force for the case (`patches`, statemachine/patches.py)."""
    if facts.is_closed:
        return {}
    found: dict[str, datetime] = {}
    for spec in DEADLINES.values():
        if spec.due is None or facts.stage not in spec.stages:
            continue
        due = spec.due(facts, profile, calendar, patches)
        if due is not None:
            found[spec.kind] = due
    return found


def handled_key(kind: str, due: datetime) -> str:
    return f"{kind}@{due.isoformat()}"


def unhandled(facts: CaseFacts, deadlines: dict[str, datetime]) -> list[tuple[datetime, str]]:
    return sorted((due, kind) for kind, due in deadlines.items() if handled_key(kind, due) not in facts.handled)


def overdue(facts: CaseFacts, deadlines: dict[str, datetime], now: datetime) -> list[str]:
    """Breachable deadlines that have passed and are still unmet."""
    return sorted(kind for kind, due in deadlines.items() if kind in BREACH_DEADLINES and due <= now)

