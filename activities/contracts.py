"""What workflows send to activities: ids, categories and moments only, never personal data."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from policy.model import CalendarRules
from policy.periods import Period
from statemachine.events import CaseEvent
from statemachine.views import CaseRecord, TaskState


class _Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimelineEvent(_Contract):
    """One numbered event of a case's timeline; `data` is typed by its kind (statemachine/events.py)."""

    seq: int
    at: datetime
    data: CaseEvent


class Projection(CaseRecord, _Contract):
    """The case row as the workflow sees it after `seq`."""

    seq: int
    #: Whether any incident so far was a hate incident (None: not said, as in older histories).
    hate: bool | None = None


class EventBatch(_Contract):
    case_ref: str
    events: list[TimelineEvent]
    projection: Projection


class MessageRequest(_Contract):
    """One letter or notification; `key` makes it happen once per (case, event, recipient, channel)."""

    key: str
    case_ref: str
    channel: str  # letter, email, sms
    template: str
    to: str  # reporter, reported_person
    recipient_id: str | None
    at: datetime
    #: The policy profile (its landlord's delivery settings and letterhead); else the case row's.
    profile: str | None = None
    #: The date the letter promises: the first-response deadline for "acknowledgement", the end of the
    #: unable-to-contact window for "unable_to_contact" (the deadline specs' `promised_by`). Else worked
    #: out from the profile.
    due: datetime | None = None
    #: The closure reason code for closure letters (e.g. "asb_stopped"); else read from the case file.
    reason: str | None = None
    #: The action plan's version an action_plan letter states (the case file holds it); else the latest.
    plan_version: int | None = None




class TaskUpdate(TaskState, _Contract):
    """A task's state after its `version`th change: applied only if newer than what the row holds."""

    key: str
    version: int
    decided_at: datetime | None
    escalated: bool
    reminded: bool
    breached: bool


class TaskInput(_Contract):
    """What a task's workflow starts with: ids, roles and the clock rules; no personal data."""

    task_id: str
    case_ref: str
    kind: str
    role: str
    #: Roles in escalation order, lowest first (e.g. officer, manager, senior_manager).
    chain: list[str]
    decide_within: Period
    calendar: CalendarRules
    holidays: dict[int, list[date]] = {}
    created_at: datetime
    approval_id: str | None = None
    clock_shift_seconds: float = 0.0
    #: A prompt (e.g. consider closure) stays with its holder when its time passes: never a breach.
    prompt: bool = False
    #: Who may not claim or decide it: the manager who approved the closure an ASB Case Review is about
    #: (004 §8 "an independent ASB expert"). Ids only.
    not_by: list[str] = []
