"""Everything a letter says, gathered from the case file at send time.

The workflow passes ids and, where it knows them, a date (`due`), a reason code and the action plan's
version; the rest comes from the case file and the landlord's profile: the officer, the category, the
action plan (the version the letter states, with the contact frequency and method agreed in it), the
legal remedy. Where the case file does not know something yet (a case
started without intake, a first letter sent before the case row is written) the letter says less
rather than failing: a letter that arrives is better than a perfect one that never does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casefile.models import (
    ActionPlanItemRow,
    ActionPlanVersionRow,
    CaseRow,
    EventRow,
    InterventionRow,
    LegalActionRow,
    MessageRow,
    TaskRow,
)
from letters.config import DeliverySettings
from letters.recipients import Recipient
from letters.render import Rendered, Renderer
from policy.calendar import WorkingCalendar
from policy.model import Profile
from policy.periods import Period
from statemachine.catalogue import LETTER_DUE

#: Which deadline each letter promises, as the workflow names it in its `deadline` events.
DUE_DEADLINE = LETTER_DUE
MAX_ADDRESS_LINES = 7  # Notify: 3 to 7 lines including the name, the postcode last


@dataclass(frozen=True)
class LetterJob:
    """What the workflow asked for: ids, a template, a moment, and optionally a promised date and reason."""

    case_ref: str
    template: str
    role: str
    recipient_id: str | None
    at: datetime
    profile: str | None = None
    due: datetime | None = None
    reason: str | None = None
    plan_version: int | None = None


class PlanNotRecorded(LookupError):
    """The action plan version a letter states is not in the case file yet: the letter is sent in the same
    workflow step that records it, so the send is tried again (never a letter stating another version)."""


def load_profile(name: str | None) -> Profile:
    from profiles import ProfileError, load

    for candidate in (name, "default"):
        if not candidate:
            continue
        try:
            return load(candidate)
        except ProfileError:
            continue
    raise LookupError("the shipped default profile is missing")


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _latest_event(session: Session, case_ref: str, event: str, **match: str) -> dict[str, Any] | None:
    rows = session.scalars(
        select(EventRow).where(EventRow.case_ref == case_ref, EventRow.kind == event).order_by(EventRow.id.desc())
    ).all()
    for row in rows:
        if all(str(row.data.get(k)) == v for k, v in match.items()):
            return dict(row.data)
    return None


def _due(session: Session, job: LetterJob, case: CaseRow | None, profile: Profile) -> datetime | None:
    if job.due is not None:
        return job.due
    deadline = DUE_DEADLINE.get(job.template)
    if deadline is None:
        return None
    recorded = _latest_event(session, job.case_ref, "deadline", kind=deadline)
    if recorded and _parse_time(recorded.get("due")):
        return _parse_time(recorded.get("due"))
    calendar = WorkingCalendar.from_rules(profile.calendar)
    if deadline == "first_response" and case is not None and case.risk:
        days = profile.first_response.for_risk(case.risk)  # type: ignore[arg-type]
        return calendar.working_day_deadline(case.opened_at, days)
    if deadline == "unable_to_contact":
        moment: datetime = calendar.add_period(job.at, profile.enquiry.unable_to_contact_window)
        return moment
    return None


def _pending_closure_reason(session: Session, job: LetterJob) -> str | None:
    """A case closes in the same workflow step as its closure letters, before the case row says so; the
    approval task that step decided carries the reason the officer gave."""
    if not job.template.startswith("case_closed"):
        return None
    task = session.scalars(
        select(TaskRow).where(TaskRow.case_ref == job.case_ref, TaskRow.kind == "closure_approval")
        .order_by(TaskRow.id.desc())
    ).first()
    reason = task.data.get("reason") if task is not None else None
    return str(reason) if reason else None


def _every(days: int | None, profile: Profile) -> dict[str, Any]:
    if days:
        if days % 7 == 0:
            return {"count": days // 7, "unit": "weeks"}
        return {"count": days, "unit": "days"}
    period: Period = profile.contact.default_every
    return {"count": period.count, "unit": period.unit}


@dataclass(frozen=True)
class Plan:
    """The action plan a letter states: a version shared with the reporter, or (a case from before plans were
    versioned) its actions as they stand with the contact last agreed on the timeline."""

    version: int | None
    items: list[dict[str, Any]]
    contact_every_days: int | None
    contact_method: str | None


def _plan(session: Session, job: LetterJob) -> Plan | None:
    """The plan for this letter: exactly the version the workflow named, else the latest shared one."""
    query = select(ActionPlanVersionRow).where(ActionPlanVersionRow.case_ref == job.case_ref)
    if job.plan_version is not None:
        query = query.where(ActionPlanVersionRow.number == job.plan_version)
    version = session.scalars(query.order_by(ActionPlanVersionRow.number.desc())).first()
    if version is not None:
        return Plan(version.number, list(version.items), version.contact_every_days, version.contact_method)
    if job.plan_version is not None:
        raise PlanNotRecorded(f"action plan version {job.plan_version} of {job.case_ref} is not recorded yet")
    rows = session.scalars(
        select(ActionPlanItemRow).where(ActionPlanItemRow.case_ref == job.case_ref).order_by(ActionPlanItemRow.id)
    ).all()
    agreed = _latest_event(session, job.case_ref, "action_plan") or {}
    if not rows and not agreed:
        return None
    every = agreed.get("contact_every_days")
    return Plan(None, [{"description": r.description, "owner": r.owner, "due": r.due, "done": r.done} for r in rows],
                int(every) if every else None, agreed.get("contact_method"))


def _action_items(plan: Plan | None, officer_name: str | None, partners: dict[str, str]) -> list[dict[str, Any]]:
    owners = {"officer": officer_name or "Your case officer", "reporter": "You"}
    items = []
    for item in plan.items if plan else []:
        due = item.get("due")
        if isinstance(due, str):
            due = date.fromisoformat(due[:10])
        owner = str(item.get("owner", ""))
        items.append({"description": item.get("description", ""),
                      "owner": owners.get(owner) or partners.get(owner) or owner.replace("_", " ").capitalize(),
                      "due": due, "done": bool(item.get("done"))})
    return items


def _address(recipient: Recipient) -> list[str]:
    lines = [recipient.name, *recipient.address_lines]
    if len(lines) > MAX_ADDRESS_LINES:  # keep the name and the postcode; join the middle
        middle = ", ".join(lines[MAX_ADDRESS_LINES - 2:-1])
        lines = [*lines[:MAX_ADDRESS_LINES - 2], middle, lines[-1]]
    return lines


#: Remedies that are court applications; the others (a notice seeking possession, a community protection
#: notice, an undertaking) are served or agreed without applying to the court (issue 11 item 8).
COURT_APPLICATIONS = frozenset({"injunction", "closure_order", "criminal_behaviour_order", "demotion",
                                "possession_order", "absolute_ground", "warrant_of_eviction"})
#: Interventions that are a warning to the reported person (003 stage 4).
WARNINGS = frozenset({"verbal_warning", "warning_letter", "community_protection_warning",
                      "acceptable_behaviour_contract"})


def _legal_history(session: Session, job: LetterJob, legal: LegalActionRow | None,
                   labels: dict[str, Any]) -> dict[str, Any]:
    """What a letter before action may truthfully say: whether the reported person was warned or written
    to before (from the case file, not assumed), whether the remedy is a court application, and whether
    it is an emergency action that cannot wait for 14 days' notice (issue 11 item 8; 004 §3.12)."""
    kinds = set(session.scalars(select(InterventionRow.kind).where(InterventionRow.case_ref == job.case_ref)))
    warned_in_legal = session.scalars(select(LegalActionRow.id).where(
        LegalActionRow.case_ref == job.case_ref, LegalActionRow.kind == "legal_warning",
        LegalActionRow.status.in_(("approved", "concluded")))).first() is not None
    written = session.scalars(select(MessageRow.id).where(
        MessageRow.case_ref == job.case_ref, MessageRow.recipient_role == "reported_person",
        MessageRow.channel == "letter", MessageRow.template != job.template,
        MessageRow.created_at < job.at)).first() is not None
    kind = legal.kind if legal else ""
    return {
        "warned": bool(kinds & WARNINGS) or warned_in_legal,
        "written_before": written or bool(kinds & {"warning_letter", "acceptable_behaviour_contract",
                                                   "good_neighbour_agreement"}),
        "legal_court": kind in COURT_APPLICATIONS or not kind,
        "legal_intent": labels.get("legal_intent", {}).get(kind),
        "legal_emergency": bool(legal.emergency) if legal else False,
    }


def context_for(
    session: Session, job: LetterJob, recipient: Recipient, settings: DeliverySettings, labels: dict[str, Any]
) -> dict[str, Any]:
    case = session.get(CaseRow, job.case_ref)
    profile = load_profile(job.profile or (case.profile if case else None))
    officer = settings.officer(case.officer if case else None)
    closed = _latest_event(session, job.case_ref, "closed")
    reason = job.reason or (case.closure_reason if case else None) or (closed or {}).get("reason") \
        or _pending_closure_reason(session, job)
    inactivity = str(profile.case.inactivity)
    reasons = labels.get("reasons", {})
    reasons_rp = labels.get("reasons_reported_person", reasons)
    category = case.category if case else None
    routed = (closed or {}).get("routed_to") or (profile.categories.not_asb.get(category) if category else None)
    legal = session.scalars(
        select(LegalActionRow).where(LegalActionRow.case_ref == job.case_ref).order_by(LegalActionRow.id.desc())
    ).first()
    legal_words = labels.get("legal", {})
    categories = labels.get("categories", {})
    plan = _plan(session, job) if job.template == "action_plan" else None
    # The action plan letter states the contact agreed in its version (004 §3.8), never the person record
    # (issue 11 item 6); the acknowledgement, before any plan, offers the reporter's own preference on file.
    if job.template == "action_plan":
        every, method = (plan.contact_every_days, plan.contact_method) if plan else (None, None)
    else:
        every, method = recipient.contact_every_days, recipient.contact_method
    return {
        "landlord": settings.landlord,
        "officer": officer,
        "recipient": recipient,
        "address": _address(recipient),
        "zone": profile.calendar.timezone,
        "case": {
            "reference": job.case_ref,
            "category": category,
            "category_text": categories.get(category, category.replace("_", " ")) if category
            else "anti-social behaviour",
            "hate": bool(case.hate) if case else False,
        },
        "letter": {
            "date": job.at,
            "due": _due(session, job, case, profile),
            "reason": reason,
            "reason_text": str(reasons.get(reason or "other", reasons.get("other", ""))).format(inactivity=inactivity),
            "reason_reported_person_text": str(
                reasons_rp.get(reason or "other", reasons_rp.get("other", ""))).format(inactivity=inactivity),
            "routed_to_text": labels.get("routed_to", {}).get(routed, (routed or "the right team").replace("_", " ")),
            "contact_every": _every(every, profile),
            "contact_method_text": labels.get("methods", {}).get(method or "", ""),
            "action_items": _action_items(plan, officer.name if officer else None, labels.get("partners", {})),
            "plan_version": plan.version if plan else None,
            "unable_window": str(profile.enquiry.unable_to_contact_window),
            "legal_text": legal_words.get(legal.kind if legal else "", "a court order"),
            **_legal_history(session, job, legal, labels),
            "survey_url": _survey_link(settings, job, recipient),
        },
    }


def _survey_link(settings: DeliverySettings, job: LetterJob, recipient: Recipient) -> str | None:
    """The survey letter's link: the landlord's survey address with a signed, single-use token naming the
    case and the person written to (casefile/surveys.py), so the answer is kept in the case file for TP12.
    Only the survey letter carries a token; other letters that mention the survey give the address alone."""
    base = settings.landlord.survey_url
    if not base or job.template != "satisfaction_survey":
        return base
    from casefile.surveys import survey_key, survey_link

    return survey_link(base, job.case_ref, recipient.person_id, job.at, survey_key())


def compose(session: Session, job: LetterJob, recipient: Recipient, settings: DeliverySettings,
            renderer: Renderer, variant: str | None = None, language: str | None = None) -> Rendered:
    """Render the letter for this recipient, with their format and language unless told otherwise."""
    wanted = language or recipient.language or settings.default_language
    lang = renderer.language_for(job.template, wanted)
    context = context_for(session, job, recipient, settings, renderer.labels(lang))
    return renderer.render(job.template, context, language=lang, variant=variant or recipient.variant)
