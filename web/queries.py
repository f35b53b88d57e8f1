"""Reads the pages need that the API has no endpoint for: the team dashboard, search, letters sent.

Who may see a case is decided by casefile.access (may_see / open_case) as everywhere else, and every
read of a locked case is written to the audit log, as the API's lists do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from api.schemas import CaseSummary
from casefile import audit
from casefile.access import may_see
from casefile.models import CaseRow, IncidentRow, MessageRow, PartyRow, PersonRow, TaskRow
from policy.model import Profile
from policy.periods import Period

SEARCH_LIMIT = 50


def summary(row: CaseRow) -> CaseSummary:
    return CaseSummary.model_validate(row, from_attributes=True)


@dataclass
class Escalation:
    id: str
    case_ref: str
    kind: str
    role: str
    due: datetime | None


@dataclass
class Unallocated:
    """A report waiting for its officer: the allocation task for the team's manager (003 §8; the team from
    the profile's `allocation`, by risk, 004 §3.1)."""

    id: str
    case_ref: str
    team: str
    role: str
    due: datetime | None
    escalated: bool


@dataclass
class NearReview:
    """An open case whose incidents in the profile's window are at or one short of the ASB Case Review
    threshold (003 §10: the "Community Trigger"), so a manager can act before the reporter has to ask."""

    reference: str
    officer: str | None
    incidents: int
    threshold: int
    hate: bool


@dataclass
class Dashboard:
    by_stage_risk: dict[str, dict[str, int]] = field(default_factory=dict)
    overdue: list[CaseSummary] = field(default_factory=list)
    workload: list[tuple[str, int, int]] = field(default_factory=list)
    hate: list[CaseSummary] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    near_review: list[NearReview] = field(default_factory=list)
    unallocated: list[Unallocated] = field(default_factory=list)
    open_total: int = 0


def _since(now: datetime, period: Period) -> datetime:
    """The start of a window of `period` ending now (calendar periods; months clamp as the profile's do)."""
    return now - (period.add_calendar(now) - now)


def near_review(session: Session, profile: Profile, now: datetime) -> list[NearReview]:
    rules = profile.case_review
    found: list[NearReview] = []
    for hate, period, threshold in ((False, rules.window, rules.individual_incidents),
                                    (True, rules.hate_window, rules.hate_incidents)):
        query = (select(CaseRow.reference, CaseRow.officer, func.count(IncidentRow.id))
                 .join(IncidentRow, IncidentRow.case_ref == CaseRow.reference)
                 .where(CaseRow.stage != "closed", CaseRow.hate.is_(hate), IncidentRow.status == "confirmed",
                        IncidentRow.occurred_at >= _since(now, period))
                 .group_by(CaseRow.reference, CaseRow.officer)
                 .having(func.count(IncidentRow.id) >= max(1, threshold - 1))
                 .order_by(func.count(IncidentRow.id).desc()).limit(100))
        found += [NearReview(ref, officer, int(count), threshold, hate)
                  for ref, officer, count in session.execute(query)]
    return sorted(found, key=lambda n: (n.threshold - n.incidents, n.reference))


def dashboard(session: Session, role: str, actor: str, profile: Profile | None = None,
              now: datetime | None = None) -> Dashboard:
    """Open cases by stage and risk, overdue cases, each officer's workload, hate cases, tasks that went up
    the chain undecided (README "Tasks for managers and officers") and reports waiting for an officer, by
    team. Managers only."""
    board = Dashboard()
    open_cases = CaseRow.stage != "closed"
    for stage, risk, count in session.execute(
        select(CaseRow.stage, CaseRow.risk, func.count()).where(open_cases).group_by(CaseRow.stage, CaseRow.risk)
    ):
        board.by_stage_risk.setdefault(stage, {})[risk or "none"] = count
        board.open_total += count
    board.workload = [
        (officer or "(unassigned)", total, int(late or 0)) for officer, total, late in session.execute(
            select(CaseRow.officer, func.count(), func.sum(case((CaseRow.overdue.is_(True), 1), else_=0)))
            .where(open_cases).group_by(CaseRow.officer).order_by(func.count().desc())
        )
    ]
    overdue = list(session.scalars(
        select(CaseRow).where(open_cases, CaseRow.overdue.is_(True))
        .order_by(CaseRow.next_deadline.asc().nulls_first()).limit(100)))
    hate = list(session.scalars(
        select(CaseRow).where(open_cases, CaseRow.hate.is_(True)).order_by(CaseRow.opened_at.desc()).limit(100)))
    tasks = session.scalars(select(TaskRow).where(TaskRow.status == "open").order_by(TaskRow.due)).all()
    board.escalations = [Escalation(t.key, t.case_ref, t.kind, t.role, t.due)
                         for t in tasks if (t.data or {}).get("escalated")][:100]
    board.unallocated = [Unallocated(t.key, t.case_ref, str((t.data or {}).get("team") or "-"), t.role, t.due,
                                     bool((t.data or {}).get("escalated")))
                         for t in tasks if t.kind == "allocation"][:100]
    if profile is not None:
        board.near_review = near_review(session, profile, now or datetime.now(UTC))
    _audit_locked(session, role, actor, [*overdue, *hate], "dashboard")
    board.overdue = [summary(r) for r in overdue]
    board.hate = [summary(r) for r in hate]
    return board


def _audit_locked(session: Session, role: str, actor: str, rows: list[CaseRow], purpose: str) -> None:
    audit.act_as(session, role, actor)
    for ref in sorted({r.reference for r in rows if r.locked}):
        audit.record(session, "read", "cases", ref, ref, after={"purpose": purpose})


def normalise_postcode(text: str) -> str:
    return "".join(text.split()).upper()


def search(session: Session, text: str, role: str, actor: str) -> list[tuple[CaseSummary, list[str]]]:
    """Cases whose reference, or a party's name, postcode or address, matches: only cases this person may
    see (a locked case is not there at all for anyone else), each with the parties that matched."""
    text = text.strip()[:100]
    if len(text) < 2:
        return []
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    postcode = normalise_postcode(text)
    rows = session.execute(
        select(CaseRow, PersonRow.name, PartyRow.role)
        .outerjoin(PartyRow, PartyRow.case_ref == CaseRow.reference)
        .outerjoin(PersonRow, PersonRow.id == PartyRow.person_id)
        .where(or_(
            CaseRow.reference.ilike(like, escape="\\"),
            PersonRow.name.ilike(like, escape="\\"),
            PersonRow.address.ilike(like, escape="\\"),
            func.upper(func.replace(PersonRow.postcode, " ", "")) == postcode,
        ))
        .order_by(CaseRow.opened_at.desc()).limit(SEARCH_LIMIT * 4)
    ).all()
    found: dict[str, tuple[CaseRow, list[str]]] = {}
    for row, name, party_role in rows:
        if not may_see(row, role, actor):
            continue
        entry = found.setdefault(row.reference, (row, []))
        if name and text.lower() in name.lower():
            entry[1].append(f"{name} ({(party_role or '').replace('_', ' ')})")
    results = list(found.values())[:SEARCH_LIMIT]
    _audit_locked(session, role, actor, [c for c, _ in results], "search")
    return [(summary(c), names) for c, names in results]


@dataclass
class Letter:
    id: int
    template: str
    channel: str
    recipient_role: str
    status: str
    at: datetime
    has_pdf: bool


def letters(session: Session, case_ref: str) -> list[Letter]:
    """The messages sent (or waiting to print) for a case; the caller has already opened the case."""
    rows = session.scalars(select(MessageRow).where(MessageRow.case_ref == case_ref)
                           .order_by(MessageRow.created_at, MessageRow.id)).all()
    return [Letter(id=r.id, template=r.template, channel=r.channel, recipient_role=r.recipient_role,
                   status=r.status, at=r.sent_at or r.created_at,
                   has_pdf=bool(r.path) and str(r.path).endswith((".pdf", ".eml"))) for r in rows]


def letter_path(session: Session, case_ref: str, letter_id: int) -> str | None:
    row = session.get(MessageRow, letter_id)
    if row is None or row.case_ref != case_ref:
        return None
    return row.path
