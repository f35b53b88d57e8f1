"""Retention's less obvious copies of personal data, and a profile whose period cannot be used
(casefile/retention.py). UK GDPR art. 5(1)(e): nothing personal outlives the retention period, including
the action plan copies shared with the reporter and the free text in evidence references.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from casefile.audit import act_as
from casefile.db import Store
from casefile.intake import Evidence, IncidentDetails, IntakeReport, PersonDetails, record_report
from casefile.models import ActionPlanVersionRow, CaseRow, IncidentRow
from casefile.retention import RetentionReport, _Periods, run_retention

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _expired_case(store: Store) -> str:
    ref = f"ASB-RR-{uuid.uuid4().hex[:8]}"
    opened = NOW - timedelta(days=365 * 8)
    with store.session() as session, session.begin():
        act_as(session, "officer", "test")
        record_report(session, ref, "reading", IntakeReport(
            category="noise", officer="o1",
            reporter=PersonDetails(id=f"P-{uuid.uuid4().hex[:10]}", name="Kim Archive"),
            incident=IncidentDetails(occurred_at=opened, description="drums at night", evidence=[
                Evidence(kind="diary_sheet", ref="diary kept by Kim Archive"), Evidence(kind="cctv", ref="cam 3")]),
        ), opened, "officer:test")
        session.flush()
        session.add(ActionPlanVersionRow(case_ref=ref, number=1, shared_at=opened, items=[
            {"description": "Kim Archive to keep a diary", "owner": "reporter"},
            {"description": "visit Flat 2", "owner": "officer"}]))
        case = session.get(CaseRow, ref)
        assert case is not None
        case.stage, case.closed_at, case.closure_reason = "closed", NOW - timedelta(days=365 * 7), "resolved"
    return ref


def test_shared_action_plans_and_evidence_references_are_anonymised_keeping_their_shape(store: Store) -> None:
    ref = _expired_case(store)
    with store.session() as session, session.begin():
        act_as(session, "system", "retention")
        report = run_retention(session, NOW)
    assert ref in report.cases_anonymised
    with store.session() as session:
        (version,) = session.scalars(select(ActionPlanVersionRow).where(ActionPlanVersionRow.case_ref == ref)).all()
        assert version.items == [{"description": "[anonymised]", "owner": "reporter"},
                                 {"description": "[anonymised]", "owner": "officer"}]
        (incident,) = session.scalars(select(IncidentRow).where(IncidentRow.case_ref == ref)).all()
        assert incident.evidence == [{"kind": "diary_sheet", "ref": "[anonymised]"},
                                     {"kind": "cctv", "ref": "[anonymised]"}]
    # Already anonymised: a second run finds nothing to do for this case.
    with store.session() as session, session.begin():
        act_as(session, "system", "retention")
        assert ref not in run_retention(session, NOW).cases_anonymised


def test_a_dry_run_reports_the_plan_copies_without_touching_them(store: Store) -> None:
    ref = _expired_case(store)
    with store.session() as session, session.begin():
        act_as(session, "system", "retention")
        assert ref in run_retention(session, NOW, dry_run=True).cases_anonymised
    with store.session() as session:
        (version,) = session.scalars(select(ActionPlanVersionRow).where(ActionPlanVersionRow.case_ref == ref)).all()
        assert version.items[0]["description"] == "Kim Archive to keep a diary"


def test_a_retention_period_in_working_days_or_an_unknown_profile_falls_back_to_the_default() -> None:
    report = RetentionReport(now=NOW, dry_run=True)
    periods = _Periods(report)
    closed = datetime(2020, 1, 31, tzinfo=UTC)
    assert periods.expiry("reading", closed) == datetime(2026, 1, 31, tzinfo=UTC)  # 6 years
    assert report.profile_fallbacks == {}
    assert periods.expiry("no-such-landlord", closed) == datetime(2026, 1, 31, tzinfo=UTC)
    assert report.profile_fallbacks["no-such-landlord"].endswith("; used the default profile's 6 years")
    assert "no-such-landlord" in report.profile_fallbacks["no-such-landlord"].split(";")[0]
