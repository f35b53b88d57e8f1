"""What workflows send to activities: ids, categories and moments only, never personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class _Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimelineEvent(_Contract):
    seq: int
    at: datetime
    data: dict[str, Any]


class Projection(_Contract):
    """The case row as the workflow sees it after `seq`."""

    seq: int
    profile: str
    stage: str
    outcome: str
    risk: str | None
    category: str
    officer: str | None
    opened_at: datetime
    closed_at: datetime | None
    closure_reason: str | None
    next_deadline: datetime | None
    overdue: bool


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
