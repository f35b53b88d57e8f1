"""The working record's lifecycle rules (issue 12 items 1 and 6), pure: incidents carrying who reported
them and a reference to their details, risk raised by a later incident, a duplicate closed without a
letter that contradicts its live case, and a closed case reopened by a manager within the profile's
period, keeping its reference and history."""

from __future__ import annotations

from datetime import timedelta

from statemachine.catalogue import COMMANDS
from statemachine.patches import ALL, INCIDENT_DETAILS, LINKED_REPORTS, REOPEN_CASE
from tests.test_lifecycle_events import M1, M2, NOW, O1, Case, _converted


def test_an_incident_says_who_reported_it_and_names_its_details_never_carrying_them() -> None:
    case = _converted()
    events = case.do("record_incident", occurred_at="2026-03-02T22:00:00+00:00", reported_by="police",
                     incident_ref="I-1", reporter_id="P-9")
    assert events == [{"event": "incident", "count": 2, "hate": False, "occurred_at": "2026-03-02T22:00:00+00:00",
                       "category": "noise", "reported_by": "police", "incident_ref": "I-1", "reporter_id": "P-9"}]
    # Free text reaching the workflow itself (not through a door) is refused before it enters history.
    assert case.refused("record_incident", description="he kicked the door in") == (
        "description: an incident's details are kept in the case file: send them through the API or the CLI, "
        "which pass incident_ref")


def test_a_later_incident_with_violence_or_an_injury_makes_the_case_high_risk() -> None:
    case = _converted()
    before = case.facts.risk
    assert before != "high"
    assert case.do("record_incident", reported_by="witness") == [
        {"event": "incident", "count": 2, "hate": False, "occurred_at": (case.now).isoformat(),
         "category": "noise", "reported_by": "witness"}]
    assert case.facts.risk == before
    events = case.do("record_incident", reported_by="reporter", injured=True)
    assert events[-1] == {"event": "risk", "risk": "high", "why": "someone was injured"}
    assert case.facts.risk == "high" and case.facts.incidents == 3
    # Each counts towards the ASB Case Review thresholds (003 §10).
    assert len(case.facts.incident_log) == 2


def test_an_attached_report_is_acknowledged_to_its_own_reporter() -> None:
    case = _converted()
    events = case.do("record_incident", reported_by="reporter", incident_ref="I-2", reporter_id="P-new",
                     acknowledge=True)
    assert events[-1] == {"event": "letter", "template": "acknowledgement_attached", "to": "reporter",
                          "recipient": "P-new"}


def test_closing_a_duplicate_sends_no_closure_letter_and_names_the_live_case() -> None:
    enquiry = Case()
    events = enquiry.do("close_enquiry", reason="duplicate", merged_into="ASB-2026-000099")
    assert {"event": "closed", "reason": "duplicate", "merged_into": "ASB-2026-000099"} in events
    assert not [e for e in events if e["event"] in ("letter", "notification")]

    case = _converted()
    case.do("request_closure", reason="duplicate", merged_into="ASB-2026-000099")
    events = case.do("approve_closure", M1)
    assert {"event": "closed", "reason": "duplicate", "merged_into": "ASB-2026-000099"} in events
    assert not [e for e in events if e["event"] in ("letter", "notification")]

    # Any other reason still tells both parties why, with the survey (003 stage 6).
    other = _converted()
    other.do("request_closure", reason="asb_stopped")
    letters = {e["template"] for e in other.do("approve_closure", M1) if e["event"] == "letter"}
    assert letters == {"case_closed_reporter", "satisfaction_survey", "case_closed_reported_person"}

    assert Case().refused("close_enquiry", reason="duplicate", merged_into="ASB-2026-000001") == (
        "a case cannot be a duplicate of itself: merged_into names the live case")
    assert "merged_into is given only with reason duplicate" in Case().refused(
        "close_enquiry", reason="not_asb", merged_into="ASB-2026-000099")


def test_a_manager_reopens_a_closed_case_within_the_period_back_where_it_was() -> None:
    case = _converted()
    case.do("request_closure", reason="no_reports")
    case.do("approve_closure", M2)
    # A closed case takes a manager's reopening, beside an ASB Case Review application and the applicant's
    # reports to other agencies it rests on (issue 11 item 10).
    after_closure = {name for name, spec in COMMANDS.items() if spec.after_closure}
    assert case.facts.is_closed and set(case.lc.allowed(M1)) == {"reopen_case", *after_closure}
    assert case.lc.allowed(O1) == [name for name in COMMANDS if name in after_closure]
    assert "the officer role may not issue reopen_case" in case.refused("reopen_case", O1, reason_ref="N-1")
    case.now += timedelta(days=40)
    events = case.do("reopen_case", M1, reason_ref="N-1")
    assert events == [{"event": "reopened", "stage": "investigation", "by": "m1", "reason_ref": "N-1"},
                      {"event": "stage", "stage": "investigation"}]
    facts = case.facts
    assert facts.reference == "ASB-2026-000001" and facts.closed_at is None and facts.closure_reason is None
    assert facts.incidents == 1 and facts.converted_at is not None  # its history and counts are kept
    assert facts.reopened_at == case.now
    # Its clocks count from the reopening: nothing falls due for the weeks it was closed.
    assert case.lc.reopen_until() is None
    assert "record_incident" in case.lc.allowed(O1)


def test_a_report_closed_at_triage_and_reopened_is_worked_as_an_enquiry_until_the_periods_last_moment() -> None:
    # 003 §4: a report that is not ASB is closed at triage; reopened (it was ASB after all), it is an enquiry.
    case = Case(category="pets")  # reading: pets go to Tenant Services
    assert (case.facts.stage, case.facts.outcome) == ("closed", "not_asb")
    until = case.lc.reopen_until()
    assert until is not None
    case.now = until - timedelta(hours=1)  # the reopening comes at the last moment of the period
    assert case.do("reopen_case", M1, reason_ref="N-2") == [
        {"event": "reopened", "stage": "enquiry", "by": "m1", "reason_ref": "N-2"},
        {"event": "stage", "stage": "enquiry"}]
    assert (case.facts.outcome, case.facts.reopened_at, case.facts.closed_at) == ("enquiry", until, None)


def test_reopening_is_refused_after_the_profiles_period() -> None:
    case = Case()
    case.do("close_enquiry", reason="not_asb")
    case.now = NOW + timedelta(days=93)  # reading: 3 months
    assert case.refused("reopen_case", M1, reason_ref="N-1") == (
        "the case closed more than 3 months ago: it can no longer be reopened; log a new report")


def test_cases_recorded_before_these_changes_keep_their_old_rules() -> None:
    old = ALL - {INCIDENT_DETAILS, LINKED_REPORTS, REOPEN_CASE}
    case = Case()
    case.lc.patches = old
    events = case.do("record_incident", reported_by="police", violence_or_threats=True, incident_ref="I-3")
    # Its details are still confirmed (the event names them), but the incident raises no risk on the old rules.
    assert events == [{"event": "incident", "count": 2, "hate": False, "occurred_at": case.now.isoformat(),
                       "category": "noise", "reported_by": "police", "incident_ref": "I-3",
                       "violence_or_threats": True}]
    assert case.facts.risk == "low"
    assert "predates closing as a duplicate" in case.refused("close_enquiry", reason="duplicate")
    case.do("close_enquiry", reason="not_asb")
    assert case.lc.reopen_until() is None
    assert case.refused("reopen_case", M1, reason_ref="N-1") == (
        "this case closed before cases could be reopened: log a new report")
