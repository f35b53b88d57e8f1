"""Retention: personal data in closed cases is erased once the landlord's retention period has passed.

The privacy notice promises that a closed case's personal data is kept for a set time (the profile's
`retention.closed_cases`) and no longer (UK GDPR art. 5(1)(e)). Deleting the case would also delete
the statistics a landlord reports on (volumes, categories, outcomes, hate incidents, timeliness), so
the case is anonymised instead: every column named in PERSONAL is cleared, and the case row, its
timeline and the number of incidents, contacts and actions stay.

A person is erased only when every case they are in has expired: someone who reported two cases
keeps their details while the newer one is open or within retention. Every change goes through the
ORM, so the audit log records which columns were cleared (by name, never by value), and each case
also gets an "anonymise" row. A run is idempotent: values already cleared are not written again.

Evidence files are personal data through and through (a recording, a photo, a diary sheet), so an
expired case's files are deleted rather than kept: their rows go (each deletion audited), and their
bytes leave the evidence store once the run's transaction has committed, unless the same file is
still on another case (casefile/evidence.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from casefile.audit import record
from casefile.evidence import purge_after_commit, remove_case_evidence
from casefile.evidence_store import EvidenceStore
from casefile.models import (
    PERSONAL,
    ActionPlanVersionRow,
    Base,
    CaseRow,
    IncidentRow,
    PartyRow,
    PersonMergeRow,
    PersonRow,
)
from policy.periods import Period
from profiles import ProfileError, load

#: Written where a personal column may not be empty (an action plan item must have a description).
ANONYMISED = "[anonymised]"
#: Cleared from a person besides PERSONAL["people"]: a preferred language narrows down who someone is.
PEOPLE_EXTRA = frozenset({"language"})
DEFAULT_PROFILE = "default"


def case_tables() -> list[type[Base]]:
    """Every table that belongs to a case and has PERSONAL columns, found from the models.

    Derived rather than listed, so a table added later (with its PERSONAL entry) is erased too
    instead of silently keeping its personal data past retention.
    """
    tables = [mapper.class_ for mapper in Base.registry.mappers
              if mapper.class_.__tablename__ in PERSONAL and "case_ref" in mapper.local_table.c]
    return sorted(tables, key=lambda model: model.__tablename__)


class RetentionReport(BaseModel):
    """What a run did (or, with dry_run, would do), for the operator and the audit trail."""

    now: datetime
    dry_run: bool
    #: References of cases whose personal data was cleared in this run.
    cases_anonymised: list[str] = []
    #: Ids of people erased in this run.
    people_anonymised: list[str] = []
    #: People in an expired case who were kept, with the open or in-retention cases that keep them.
    people_kept: dict[str, list[str]] = {}
    #: Profiles that could not be used for their retention period: why, and the period used instead.
    profile_fallbacks: dict[str, str] = {}
    #: Evidence files removed from expired cases in this run (their bytes go after the commit).
    evidence_removed: int = 0


class _Periods:
    """Each profile's retention period, loaded once; an unusable profile falls back to the default."""

    def __init__(self, report: RetentionReport) -> None:
        self.report = report
        self.cache: dict[str, Period] = {}

    def expiry(self, profile: str, closed_at: datetime) -> datetime:
        if profile not in self.cache:
            self.cache[profile] = self._load(profile)
        expires: datetime = self.cache[profile].add_calendar(closed_at)
        return expires

    def _load(self, profile: str) -> Period:
        try:
            period = load(profile).retention.closed_cases
            if period.unit != "working_days":
                return period
            problem = f"retention.closed_cases is {period}, which has no calendar length"
        except ProfileError as exc:
            problem = str(exc)
        default = load(DEFAULT_PROFILE).retention.closed_cases
        self.report.profile_fallbacks[profile] = f"{problem}; used the {DEFAULT_PROFILE} profile's {default}"
        return default


def _blank(model: type[Base], column: str) -> Any:
    """None, unless the column may not be empty."""
    return None if model.__table__.c[column].nullable else ANONYMISED


def _set(row: Base, values: dict[str, Any], apply: bool) -> bool:
    """Set only what differs, so a second run flushes (and audits) nothing; says whether anything did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            changed = True
            if apply:
                setattr(row, name, value)
    return changed


def _scrub_case(session: Session, ref: str, apply: bool) -> bool:
    """Clear a case's personal data, keeping every row (and so every count) in place (evidence files,
    removed whole by remove_case_evidence first, are the exception).

    Two JSON columns that PERSONAL does not name are cleared too: an incident's evidence references
    (free text such as "statement from ...", the kinds are kept) and the copies of the action plan
    shared with the reporter, which repeat each item's description.
    """
    changed = False
    for model in case_tables():
        table = model.__tablename__
        blanks = {column: _blank(model, column) for column in sorted(PERSONAL[table])}
        rows = session.scalars(select(model).where(model.case_ref == ref)).all()  # type: ignore[attr-defined]
        for row in rows:
            values = dict(blanks)
            if isinstance(row, IncidentRow):
                values["evidence"] = [{**item, "ref": ANONYMISED} for item in row.evidence or []]
            if isinstance(row, ActionPlanVersionRow):
                # Item by item, keeping the list: blanking the column whole would write "[anonymised]"
                # (it may not be empty) where a list belongs.
                values["items"] = [{**item, **{k: ANONYMISED for k in PERSONAL["action_plan_items"] if k in item}}
                                   for item in row.items or []]
            changed |= _set(row, values, apply)
    return changed


def run_retention(session: Session, now: datetime, dry_run: bool = False, *,
                  evidence_store: EvidenceStore | None = None) -> RetentionReport:
    """Anonymise every case whose retention has run out at `now`, and every person only in such cases.

    Runs in the caller's transaction and session (whose actor the audit rows name); with dry_run
    nothing is changed or audited and the report says what a real run would do. Expired cases' evidence
    files are deleted; their bytes leave `evidence_store` (default: the environment's) after the commit.
    """
    if now.tzinfo is None:
        raise ValueError("run_retention needs an aware `now`; a naive time could expire cases hours early or late")
    report = RetentionReport(now=now, dry_run=dry_run)
    periods = _Periods(report)
    apply = not dry_run

    closed = session.scalars(
        select(CaseRow).where(CaseRow.closed_at.is_not(None), CaseRow.closed_at <= now).order_by(CaseRow.reference)
    ).all()
    expired = {case.reference: case for case in closed
               if case.closed_at is not None and periods.expiry(case.profile, case.closed_at) <= now}

    for ref, case in expired.items():
        removed = remove_case_evidence(session, ref, now, apply)
        report.evidence_removed += removed
        changed = _scrub_case(session, ref, apply) or removed > 0
        if case.anonymised_at is None or changed:
            report.cases_anonymised.append(ref)
            if apply:
                if case.anonymised_at is None:
                    case.anonymised_at = now
                record(session, "anonymise", "cases", ref, ref)

    if apply:
        # Also finishes any purge an earlier run or deletion could not (the store was down).
        purge_after_commit(session, evidence_store)
    if not expired:
        return report
    in_expired = select(PartyRow.person_id).where(PartyRow.case_ref.in_(list(expired)))
    memberships: dict[str, set[str]] = {}
    for person_id, case_ref in session.execute(
        select(PartyRow.person_id, PartyRow.case_ref).where(PartyRow.person_id.in_(in_expired))
    ).all():
        memberships.setdefault(person_id, set()).add(case_ref)

    people_columns = sorted(PERSONAL["people"] | PEOPLE_EXTRA)
    for person_id in sorted(memberships):
        keeping = sorted(memberships[person_id] - expired.keys())
        if keeping:
            report.people_kept[person_id] = keeping
            continue
        person = session.get(PersonRow, person_id)
        if person is None:
            continue
        values: dict[str, Any] = {column: None for column in people_columns}
        if person.anonymised_at is None:
            values["anonymised_at"] = now
        changed = _set(person, values, apply)
        # An officer's merge into this person kept the merged record's details and a reason: both go too.
        for merge in session.scalars(select(PersonMergeRow).where(PersonMergeRow.keep_id == person_id)).all():
            changed |= _set(merge, {"reason": None, "merged_values": None}, apply)
        if changed:
            report.people_anonymised.append(person_id)
            if apply:
                record(session, "anonymise", "people", person_id, None)
    if apply:
        session.flush()
    return report
