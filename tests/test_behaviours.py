"""Ten behaviours users rely on that no other test pinned down (issue 17).

Each test is written from the behaviour a reporter, an officer or a data protection officer would
notice, not from the code: retention erases a person only when none of their cases still needs them
and counts from closure; a hate incident makes a case high risk; closure waits for legal action;
tasks rise one rank at a time; consent belongs to its case; an anonymised person gets no letters; a
subject access export hides the subject's representative and audits reads of locked cases. (The
sixth, an approval after continue-as-new closing its task, needs the dev server: it is in
tests/test_dev_server.py.)

The PostgreSQL database is shared by the session: every case and person here has a fresh id and the
assertions look only at this test's rows.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from casefile.audit import act_as
from casefile.db import Store
from casefile.intake import IncidentDetails, IntakeReport, PersonDetails, record_report
from casefile.models import AuditRow, CaseRow, ConsentRow, ContactRow, PersonRow
from casefile.retention import run_retention
from casefile.sar import export_subject
from letters.recipients import Recipient, Skip, find_recipient, notification_decision
from profiles import load
from statemachine import Actor, Lifecycle, Refused
from statemachine.commands import ReportArgs
from tests.scenarios import of, report, run, step

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
OFFICER = Actor(role="officer", id="o1")
MANAGER = Actor(role="manager", id="m1")


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _person(name: str, **extra: Any) -> dict[str, Any]:
    street = f"{uuid.uuid4().int % 90 + 10} Quarry Lane, Reading"
    return {"name": name, "address": street, "postcode": "RG1 9ZZ", **extra}


def _open_case(store: Store, reporter: PersonDetails, opened: datetime, *,
               closed: datetime | None = None, description: str = "music through the wall") -> str:
    """A case in the case file (as intake records it), closed at `closed` if given."""
    ref = _id("ASB-B")
    with store.session() as session, session.begin():
        act_as(session, "officer", "test")
        record_report(session, ref, "reading", IntakeReport(
            category="noise", officer="o1", reporter=reporter,
            incident=IncidentDetails(occurred_at=opened, description=description),
        ), opened, "officer:test")
        session.flush()
        if closed is not None:
            case = session.get(CaseRow, ref)
            assert case is not None
            case.stage, case.outcome, case.closed_at, case.closure_reason = "closed", "closed", closed, "resolved"
    return ref


def _retain(store: Store, now: datetime = NOW) -> Any:
    with store.session() as session, session.begin():
        act_as(session, "system", "retention")
        return run_retention(session, now)


def _person_row(store: Store, person_id: str) -> PersonRow:
    with store.session() as session:
        person = session.get(PersonRow, person_id)
        assert person is not None
        session.expunge(person)
        return person


# --- 1. retention erases only people with no case still open -------------------------------------------


def test_retention_keeps_a_person_whose_other_case_is_still_open(store: Store) -> None:
    """Retention erases for good: someone in an expired case and in a case still being worked keeps
    their details, or the officer on the open case loses the reporter's name and address."""
    alice = _id("P")
    details = _person("Alice Quarry", email="alice.q@example.org")
    expired = _open_case(store, PersonDetails(id=alice, **details), NOW - timedelta(days=365 * 8),
                         closed=NOW - timedelta(days=365 * 7))
    still_open = _open_case(store, PersonDetails(id=alice, **details), NOW - timedelta(days=20))

    report_ = _retain(store)

    assert expired in report_.cases_anonymised and still_open not in report_.cases_anonymised
    assert alice not in report_.people_anonymised
    assert report_.people_kept[alice] == [still_open]
    person = _person_row(store, alice)
    assert (person.name, person.address, person.email, person.anonymised_at) == (
        "Alice Quarry", details["address"], "alice.q@example.org", None)


def test_retention_erases_someone_whose_only_case_has_expired(store: Store) -> None:
    """The other side of the rule above, so the test cannot pass by never erasing anyone."""
    bob = _id("P")
    expired = _open_case(store, PersonDetails(id=bob, **_person("Bob Quarry")), NOW - timedelta(days=365 * 8),
                         closed=NOW - timedelta(days=365 * 7))
    report_ = _retain(store)
    assert expired in report_.cases_anonymised and bob in report_.people_anonymised
    person = _person_row(store, bob)
    assert (person.name, person.address) == (None, None) and person.anonymised_at is not None


# --- 2. retention counts from closure ------------------------------------------------------------------


def test_retention_counts_from_closure_not_from_opening(store: Store) -> None:
    """A long case (opened eight years ago) that closed last year is within reading's six years: it is
    kept whole. Counting from opening would erase a case the landlord may still need to answer for."""
    carol = _id("P")
    long_case = _open_case(store, PersonDetails(id=carol, **_person("Carol Quarry")),
                           NOW - timedelta(days=365 * 8), closed=NOW - timedelta(days=365),
                           description="shouting on the landing")
    report_ = _retain(store)
    assert long_case not in report_.cases_anonymised
    assert carol not in report_.people_anonymised
    with store.session() as session:
        case = session.get(CaseRow, long_case)
        assert case is not None and case.anonymised_at is None
    assert _person_row(store, carol).name == "Carol Quarry"
    # Six years after its closure it goes.
    later = _retain(store, NOW + timedelta(days=365 * 5 + 2))
    assert long_case in later.cases_anonymised and carol in later.people_anonymised


# --- 3. a later hate incident makes the case high risk ---------------------------------------------------


def _lifecycle(**report_args: Any) -> Lifecycle:
    args: dict[str, Any] = {"category": "noise", "officer": "o1", "reporter": {"id": "r1"},
                            "reported_person": {"id": "p1"}}
    args.update(report_args)
    lifecycle, _ = Lifecycle.start("ASB-2026-000001", ReportArgs.model_validate(args), load("reading"), NOW)
    return lifecycle


def _ok(lifecycle: Lifecycle, command: str, actor: Actor = OFFICER, hours: int = 1, **args: Any) -> list[Any]:
    return lifecycle.apply(command, args, actor, NOW + timedelta(hours=hours)).events


def test_a_hate_incident_recorded_during_a_case_makes_it_high_risk() -> None:
    """004 §3.4: hate incidents are high risk whenever they happen, not only when first reported."""
    lifecycle = _lifecycle()
    assert lifecycle.facts.risk != "high"
    events = _ok(lifecycle, "record_incident")  # an ordinary incident changes nothing
    assert lifecycle.facts.risk != "high" and not [e for e in events if e["event"] == "risk"]
    events = _ok(lifecycle, "record_incident", hours=2, hate=True)
    assert lifecycle.facts.risk == "high" and lifecycle.facts.hate is True
    assert {"event": "risk", "risk": "high", "why": "hate incident"} in events
    # High risk opens what only an urgent case may do: straight to interventions from enquiry.
    assert lifecycle.check("start_intervention", {"kind": "warning_letter"}, OFFICER, NOW + timedelta(hours=3)) \
        is None


# --- 4. no closure approval while a legal action opened after the request is open ------------------------


def test_closure_cannot_be_approved_while_a_legal_action_opened_after_the_request_is_open() -> None:
    """003 §8 stage 6 / 004 §3.12: a case stays open until its legal action has concluded, even when the
    closure was asked for before the action began."""
    lifecycle = _lifecycle()
    _ok(lifecycle, "record_contact", outcome="made", method="phone")
    _ok(lifecycle, "record_risk_assessment", level="medium")
    _ok(lifecycle, "convert_to_case")
    _ok(lifecycle, "request_closure", reason="asb_stopped")
    _ok(lifecycle, "record_equality_assessment", hours=2)
    _ok(lifecycle, "propose_legal_action", hours=3, kind="legal_warning")
    with pytest.raises(Refused, match="legal action is still open"):
        _ok(lifecycle, "approve_closure", MANAGER, hours=4)
    _ok(lifecycle, "approve_legal_action", MANAGER, hours=5)
    with pytest.raises(Refused, match=r"legal action is still open \(legal_warning\)"):
        _ok(lifecycle, "approve_closure", MANAGER, hours=6)
    assert not lifecycle.facts.is_closed
    # Once it has concluded, the closure asked for earlier can be approved.
    _ok(lifecycle, "conclude_legal_action", hours=7, outcome="complied")
    _ok(lifecycle, "approve_closure", MANAGER, hours=8)
    assert lifecycle.facts.is_closed and lifecycle.facts.closure_reason == "asb_stopped"


# --- 5. officer-level tasks rise one rank at a time -----------------------------------------------------

START = "2026-03-02T09:30:00+00:00"


async def test_an_undecided_officer_task_rises_one_rank_at_a_time(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """README "Tasks": undecided, a task goes up the chain (officer, manager, senior manager); a
    manager gets the chance to act before the senior manager hears of it, and at the top it is a breach."""
    timeline = await run(env, store, task_queue, start=START, until="2026-05-10T00:00:00+00:00", steps=[
        report(START),
        step("2026-03-03T10:00:00+00:00", "record_contact", outcome="made", method="phone"),
        step("2026-03-03T10:05:00+00:00", "record_risk_assessment", level="medium"),
        step("2026-03-03T10:10:00+00:00", "convert_to_case"),
    ])
    # The officer's own task: a missed contact (issue 11 item 14 tasks the officer first). The 28-day
    # consider_closure prompt is the officer's alone and never rises (it is not a breach).
    assert of(timeline, "task", kind="consider_closure", role="officer")
    assert not of(timeline, "escalation", kind="consider_closure")
    officer_tasks = of(timeline, "task", kind="overdue", role="officer")
    assert officer_tasks, "a missed contact gave the officer no task"
    escalations = of(timeline, "escalation", kind="overdue")
    assert escalations, "the officer's task was never escalated"
    task = escalations[0]["task"]  # the first to rise is the officer's (the only overdue task by then)
    up = [e for e in escalations if e["task"] == task]
    assert [e["role"] for e in up] == ["manager", "senior_manager"]
    assert officer_tasks[0]["at"] < up[0]["at"] < up[1]["at"]
    breaches = of(timeline, "breach", kind="overdue", task=task)
    assert len(breaches) == 1 and breaches[0]["at"] > up[1]["at"]


# --- 7. consent on another case does not allow email or SMS on this one --------------------------------


def test_consent_given_on_another_case_does_not_allow_email_or_sms_on_this_one(store: Store) -> None:
    """003 §15: consent is given for a case. Someone who agreed to texts about last year's case has not
    agreed to be texted about this one; the letter goes by post."""
    dee = _id("P")
    person = PersonDetails(id=dee, **_person("Dee Quarry", email="dee@example.org", phone="07700 900555",
                                             contact_method="email"))
    other = _open_case(store, person, NOW - timedelta(days=400), closed=NOW - timedelta(days=300))
    this = _open_case(store, person, NOW - timedelta(days=3))
    with store.session() as session, session.begin():
        for kind in ("email", "sms"):
            session.add(ConsentRow(person_id=dee, case_ref=other, kind=kind, given=True, recorded_at=NOW,
                                   recorded_by="o1"))
    with store.session() as session:
        here = find_recipient(session, this, "reporter", dee)
        there = find_recipient(session, other, "reporter", dee)
    assert isinstance(here, Recipient) and isinstance(there, Recipient)
    assert (here.may_email(), here.may_text(), here.letter_route()) == (False, False, "post")
    assert isinstance(notification_decision(here, "sms"), Skip)
    assert isinstance(notification_decision(here, "email"), Skip)
    # On the case it was given for, the same consent does allow them.
    assert (there.may_email(), there.may_text(), there.letter_route()) == (True, True, "email")
    assert notification_decision(there, "sms") is None


# --- 8. an anonymised person gets no letters ---------------------------------------------------------------


def test_an_anonymised_person_gets_no_letters(store: Store) -> None:
    """Retention erased them: a letter would go to a blank name at no address (or to whoever lives
    there now). Nothing is sent, and the reason is recorded for staff."""
    eve = _id("P")
    ref = _open_case(store, PersonDetails(id=eve, **_person("Eve Quarry", email="eve@example.org",
                                                            consents={"email": True})),
                     NOW - timedelta(days=365 * 8), closed=NOW - timedelta(days=365 * 7))
    with store.session() as session:
        before = find_recipient(session, ref, "reporter", eve)
    assert isinstance(before, Recipient) and before.name == "Eve Quarry"
    assert eve in _retain(store).people_anonymised
    with store.session() as session:
        after = find_recipient(session, ref, "reporter", eve)
        by_role = find_recipient(session, ref, "reporter", None)
    assert isinstance(after, Skip) and "anonymised" in after.reason
    assert isinstance(by_role, Skip) and "anonymised" in by_role.reason


# --- 9. SAR redacts the subject's representative ------------------------------------------------------


def test_subject_access_export_redacts_the_subjects_representative(store: Store) -> None:
    """The representative is another person (UK GDPR art. 15(4)): their name, address, email and phone
    are not the subject's data, even where an officer's note names them."""
    fay, rep = _id("P"), _id("P")
    rep_details = {"name": "Gwen Advocate", "address": "7 Chapel Row, Reading", "postcode": "RG3 3GA",
                   "email": "gwen.advocate@example.net", "phone": "07700 900777"}
    ref = _open_case(store, PersonDetails(id=fay, **_person("Fay Quarry")), NOW - timedelta(days=30),
                     description="Gwen Advocate helped me write this down")
    with store.session() as session, session.begin():
        act_as(session, "officer", "test")
        session.add(PersonRow(id=rep, **rep_details))
        session.flush()
        person = session.get(PersonRow, fay)
        assert person is not None
        person.representative_id = rep
        session.add(ContactRow(case_ref=ref, person_id=fay, at=NOW - timedelta(days=29), outcome="made",
                               method="phone", by="o1",
                               note="spoke to Gwen Advocate (07700 900777, gwen.advocate@example.net) at 7 Chapel Row"))
    with store.session() as session, session.begin():
        act_as(session, "auditor", "dpo")
        data = export_subject(session, fay, NOW)
    text = json.dumps(data)
    assert "Fay Quarry" in text  # the subject's own data is there
    for key, value in rep_details.items():
        assert value.lower() not in text.lower(), f"the representative's {key} leaked"
    assert "Gwen" not in text and "Chapel Row" not in text
    (case,) = data["cases"]
    assert [c["note"] for c in case["contacts_with_you"]] == [
        "spoke to [redacted] ([redacted], [redacted]) at [redacted]"]


# --- 10. a subject access read of a locked case is audited -----------------------------------------------


def test_a_subject_access_read_of_a_locked_case_is_audited(store: Store) -> None:
    """004 §3.7 and README: every read of a locked case is written to the audit log, including the one a
    subject access export makes; an unlocked case's export records the export only."""
    gil = _id("P")
    details = PersonDetails(id=gil, **_person("Gil Quarry"))
    locked = _open_case(store, details, NOW - timedelta(days=40))
    unlocked = _open_case(store, details, NOW - timedelta(days=10))
    with store.session() as session, session.begin():
        act_as(session, "manager", "m1")
        case = session.get(CaseRow, locked)
        assert case is not None
        case.locked, case.lock_reason = True, "a party works for us"
    with store.session() as session, session.begin():
        act_as(session, "auditor", "dpo7")
        data = export_subject(session, gil, NOW)
    assert {c["reference"] for c in data["cases"]} == {locked, unlocked}
    with store.session() as session:
        reads = session.scalars(select(AuditRow).where(AuditRow.action == "read",
                                                       AuditRow.case_ref.in_([locked, unlocked]))).all()
        assert [(r.case_ref, r.entity, r.actor_role, r.actor_id) for r in reads] == [
            (locked, "cases", "auditor", "dpo7")]
        exports = session.scalars(select(AuditRow).where(AuditRow.action == "export", AuditRow.entity_id == gil))
        assert [(e.actor_role, e.actor_id) for e in exports] == [("auditor", "dpo7")]
