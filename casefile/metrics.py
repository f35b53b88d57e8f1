"""The service's own Prometheus metrics (issue 14 item 2): what operations staff watch besides the
Temporal SDK's metrics (worker.py exposes those beside these).

Every label value comes from an allow-list built from the catalogue and the policy model: a triage
outcome, a risk level, a deadline or task kind, a staff role, a command name, a letter status, a route
template. Anything else is counted as "other", so no case reference, name, address or free text can
ever reach a label (README "No personal data"; the brief's rule on metrics).

Counters are incremented where the thing happened and only once: a case opened and a breach when the
`record_events` activity writes that timeline event for the first time (a retried activity inserts
nothing new, so counts nothing again); a letter's outcome in the message activities; a refused
command in the door's client (clients/caseclient.send_command); request latency in the API's
middleware. Never in workflow code: a workflow replays, and would count again.

Open tasks and letters waiting for print are gauges read from the case file when Prometheus scrapes
(`CaseFileCollector`), so they are right after a restart and agree across several workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from casefile.db import Store
from casefile.models import MessageRow, TaskRow
from policy.model import Risk, StaffRole
from policy.triage import Outcome
from statemachine.catalogue import COMMANDS, DEADLINES, REPORT_COMMAND
from statemachine.patches import (
    ACTION_OVERDUE,
    ALLOCATION,
    CONSIDER_CLOSURE,
    ENQUIRY_DECISION,
    EQUALITY_REVIEW,
    REFERRAL_FOLLOW_UP,
    RISK_REVIEW,
    TELL_POLICE,
)

OTHER = "other"

#: Triage outcomes (policy/triage.py) and "case" for a report converted or opened as a case.
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome)) | {"case"}
RISKS: frozenset[str] = frozenset(get_args(Risk)) | {"none"}
#: A breach names a deadline kind (catalogue DEADLINES) or the kind of the task that breached.
TASK_KINDS: frozenset[str] = frozenset({
    "closure_approval", "legal_approval", "asb_case_review", "overdue", "communication_failed", ALLOCATION,
    CONSIDER_CLOSURE, ENQUIRY_DECISION, EQUALITY_REVIEW, REFERRAL_FOLLOW_UP, RISK_REVIEW, TELL_POLICE,
    ACTION_OVERDUE,
})
DEADLINE_KINDS: frozenset[str] = frozenset(DEADLINES) | TASK_KINDS
ROLES: frozenset[str] = frozenset(get_args(StaffRole))
COMMAND_NAMES: frozenset[str] = frozenset(COMMANDS) | {REPORT_COMMAND}
#: What became of a letter or notification: delivered, its PDF put in the print folder, or an attempt
#: (or a notification given up) that failed.
LETTER_STATUSES: frozenset[str] = frozenset({"sent", "parked_for_print", "failed"})
CHANNELS: frozenset[str] = frozenset({"letter", "email", "sms"})


def allowed(value: object, allow: Iterable[str]) -> str:
    """The value if it is on the allow-list, else "other"."""
    text = "" if value is None else str(value)
    return text if text in allow else OTHER


#: One registry for the process: the worker and the API each expose theirs on /metrics.
REGISTRY = CollectorRegistry(auto_describe=True)

CASES_OPENED = Counter("asb_cases_opened", "Reports triaged, by triage outcome and risk level (003 §4)",
                       ["outcome", "risk"], registry=REGISTRY)
BREACHES = Counter("asb_breaches", "Deadlines passed without what they required, by deadline or task kind",
                   ["kind"], registry=REGISTRY)
LETTERS = Counter("asb_letters", "Letters and notifications: sent, parked for print, or a failed attempt",
                  ["status", "channel"], registry=REGISTRY)
COMMANDS_REFUSED = Counter("asb_commands_refused", "Commands a case refused (409), by command",
                           ["command"], registry=REGISTRY)
API_LATENCY = Histogram("asb_api_request_seconds", "API request latency, by method, route template and status class",
                        ["method", "route", "status"], registry=REGISTRY,
                        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))


def case_opened(outcome: object, risk: object) -> None:
    CASES_OPENED.labels(allowed(outcome, OUTCOMES), allowed(risk or "none", RISKS)).inc()


def breach(kind: object) -> None:
    BREACHES.labels(allowed(kind, DEADLINE_KINDS)).inc()


def letter(status: str, channel: object) -> None:
    LETTERS.labels(allowed(status, LETTER_STATUSES), allowed(channel, CHANNELS)).inc()


def command_refused(command: object) -> None:
    COMMANDS_REFUSED.labels(allowed(command, COMMAND_NAMES)).inc()


class CaseFileCollector(Collector):
    """Gauges read from the case file at scrape time: open tasks by kind and role, letters waiting for
    print. A case file that does not answer gives no sample (and /ready says why), never an error page."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        tasks = GaugeMetricFamily("asb_open_tasks", "Open tasks, by kind and role", labels=["kind", "role"])
        parked = GaugeMetricFamily("asb_letters_awaiting_print", "Letters parked in the print folder")
        try:
            with self.store.session() as session:
                rows = session.execute(select(TaskRow.kind, TaskRow.role, func.count())
                                       .where(TaskRow.status == "open")
                                       .group_by(TaskRow.kind, TaskRow.role)
                                       .order_by(TaskRow.kind, TaskRow.role)).all()
                waiting = session.scalar(select(func.count()).select_from(MessageRow)
                                         .where(MessageRow.status == "awaiting_print"))
        except Exception:  # noqa: BLE001 - a scrape must answer; /ready reports the outage
            return
        counts: dict[tuple[str, str], int] = {}
        for kind, role, count in rows:
            key = (allowed(kind, TASK_KINDS), allowed(role, ROLES))
            counts[key] = counts.get(key, 0) + int(count)
        for (kind, role), count in sorted(counts.items()):
            tasks.add_metric([kind, role], count)
        parked.add_metric([], int(waiting or 0))
        yield tasks
        yield parked

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


def watch_case_file(registry: CollectorRegistry, store: Store) -> CaseFileCollector:
    """Register the case-file gauges once per process (`asb up` runs the API and a worker together)."""
    existing = getattr(registry, "_asb_case_file", None)
    if isinstance(existing, CaseFileCollector):
        existing.store = store
        return existing
    collector = CaseFileCollector(store)
    registry.register(collector)
    setattr(registry, "_asb_case_file", collector)  # noqa: B010 (an attribute of our own on their registry)
    return collector
