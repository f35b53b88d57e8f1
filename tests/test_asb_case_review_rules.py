"""The ASB Case Review after closure, the applicant's reports to other agencies, and an independent reviewer
(issue 11 item 10; 003 §10, 004 §8): what the pure lifecycle accepts, refuses and puts on the timeline.
The same through Temporal is tests/test_asb_case_review.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from statemachine import Actor, Lifecycle
from statemachine.patches import ALL, CASE_REVIEW_AFTER_CLOSURE, INCIDENT_SOURCES, INDEPENDENT_REVIEWER
from tests.test_lifecycle_events import M1, M2, NOW, O1, Case, _converted

INTAKE = Actor(role="intake", id="i1")
O2 = Actor(role="officer", id="o2")
APPLIED = [{"event": "asb_case_review", "applicant": "individual", "status": "requested"}]


def _closed(approver: Actor = M1) -> Case:
    """A converted case with three incidents (the threshold met), closed with `approver`'s approval."""
    case = _converted()
    for _ in range(2):
        case.do("record_incident", INTAKE)
    case.do("request_closure", reason="asb_stopped")
    case.do("approve_closure", approver)
    assert case.facts.is_closed
    return case


def _without(case: Case, patch: str) -> Case:
    """The same case as a workflow recorded before `patch` would run it."""
    case.lc = Lifecycle(case.facts, case.lc.profile, ALL - {patch})
    return case


def test_a_closed_case_takes_an_application_within_a_month_of_closure_recorded_by_intake() -> None:
    case = _closed()
    closed_at = case.facts.closed_at
    assert closed_at is not None
    case.now = closed_at + timedelta(days=20)
    # The victim applies; intake staff record it (003 §10), and any officer may.
    assert "request_asb_case_review" in case.lc.allowed(INTAKE, case.now)
    assert case.do("request_asb_case_review", INTAKE, applicant="individual") == [
        *APPLIED, {"event": "task", "kind": "asb_case_review", "role": "manager", "not_by": "m1"}]
    assert case.facts.asb_case_review_since == case.now
    assert case.facts.stage == "closed"  # the case stays closed: the review is of how it was handled


def test_an_application_after_the_period_is_refused_saying_until_when_it_was_open() -> None:
    case = _closed()
    assert case.facts.closed_at == datetime(2026, 3, 2, 16, 30, tzinfo=UTC)
    # The applicant went on reporting to the police after the closure (else the last incident is too old).
    case.now = datetime(2026, 3, 25, 9, 0, tzinfo=UTC)
    case.do("record_incident", INTAKE, source="police")
    case.now = datetime(2026, 4, 2, 16, 30, tzinfo=UTC)  # `do` adds an hour: just past 1 month
    assert case.refused("request_asb_case_review", O2, applicant="individual") == (
        "the case closed on 02 March 2026: an ASB Case Review about it could be applied for within 1 month of "
        "its closure (until 02 April 2026)")
    # A manager may still reopen it (`case.reopen_within`, issue 12 item 6), and nothing else.
    assert case.lc.allowed(M2, case.now + timedelta(hours=1)) == ["reopen_case"]
    case.now = datetime(2026, 4, 2, 15, 30, tzinfo=UTC)  # its last moment still takes it
    assert case.do("request_asb_case_review", O2, applicant="individual")[0] == APPLIED[0]


def test_a_closed_case_recorded_before_the_change_accepts_nothing() -> None:
    case = _without(_closed(), CASE_REVIEW_AFTER_CLOSURE)
    assert case.refused("request_asb_case_review", applicant="individual") == (
        "the case is closed and accepts no more commands")
    assert case.refused("record_incident", source="police") == "the case is closed and accepts no more commands"


def test_a_closed_case_records_the_applicants_reports_to_other_agencies_and_nothing_else() -> None:
    case = _closed()
    risk, hate, incidents = case.facts.risk, case.facts.hate, case.facts.incidents
    assert case.refused("record_incident", INTAKE).startswith(
        "the case is closed: a new incident is a new report; on a closed case only the applicant's reports")
    at = case.now + timedelta(days=3)
    assert case.do("record_incident", INTAKE, source="police", hate=True, occurred_at=at.isoformat()) == [
        {"event": "incident", "count": incidents + 1, "hate": True, "occurred_at": at.isoformat(),
         "category": "noise", "source": "police"}]
    # Counted for the review, and the case stays as it closed: no risk change, no task, no stage.
    assert (case.facts.incidents, case.facts.incident_log[-1]) == (incidents + 1, (at, True))
    assert (case.facts.risk, case.facts.hate, case.facts.stage) == (risk, hate, "closed")


def _three_months_before() -> Case:
    """A case whose own report is its only incident, with the applicant's two earlier police reports."""
    case = Case()
    for days in (20, 10):
        at = NOW - timedelta(days=days)
        case.do("record_incident", INTAKE, source="police", occurred_at=at.isoformat())
    return case


def test_the_applicants_reports_to_the_police_before_the_case_count_toward_the_threshold() -> None:
    """003 §10: three incidents "within a 3-to-6-month period of the first report that have been made to
    either, the police, local authority ... or a registered social landlord"."""
    case = _three_months_before()
    assert case.do("request_asb_case_review", applicant="individual")[0] == APPLIED[0]


def test_before_the_change_only_the_cases_own_report_began_the_period() -> None:
    case = _without(_three_months_before(), INCIDENT_SOURCES)
    assert case.refused("request_asb_case_review", applicant="individual") == (
        "the ASB Case Review threshold is not met: 1 incidents within 6 months of the first report (3 needed for "
        "one person), 0 hate incidents in the last 3 months (5 needed)")


def test_a_hate_incident_reported_to_the_police_needs_no_task_to_tell_the_police() -> None:
    case = _converted()
    events = case.do("record_incident", source="police", hate=True)
    assert [e["event"] for e in events] == ["incident", "risk"]
    assert events[0]["source"] == "police"
    assert [e["kind"] for e in case.do("record_incident", hate=True) if e["event"] == "task"] == ["tell_police"]


def test_the_manager_who_approved_the_closure_is_named_as_not_its_reviewer() -> None:
    case = _closed(approver=M2)
    assert case.facts.closure_approved_by == "m2"
    events = case.do("request_asb_case_review", O1, applicant="individual")
    assert events[-1] == {"event": "task", "kind": "asb_case_review", "role": "manager", "not_by": "m2"}
    # An open case has no closure approver to exclude, and a case recorded before the change names nobody.
    open_case = _converted()
    for _ in range(2):
        open_case.do("record_incident")
    assert open_case.do("request_asb_case_review", applicant="individual")[-1] == {
        "event": "task", "kind": "asb_case_review", "role": "manager"}
    old = _without(_converted(), INDEPENDENT_REVIEWER)
    for _ in range(2):
        old.do("record_incident")
    old.do("request_closure", reason="asb_stopped")
    old.do("approve_closure", M1)
    assert old.facts.closure_approved_by is None
    assert old.do("request_asb_case_review", applicant="individual")[-1] == {
        "event": "task", "kind": "asb_case_review", "role": "manager"}
