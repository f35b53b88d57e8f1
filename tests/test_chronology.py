"""A case's chronology (casefile/chronology.py) on PostgreSQL: every kind of record in time order,
people outside the case redacted, the court and case-conference versions, the PDF, and its audit row.

The sample case (tests/chronology_sample.py) has a record of every kind; one test plays a case
through the real workflow instead, so the chronology is checked against the rows production writes.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import uuid
from datetime import UTC, datetime

import pdfplumber
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from asb.scenario import Scenario
from asb.simulate import play
from casefile.access import CaseNotFound, NotAllowed
from casefile.audit import act_as
from casefile.chronology import Chronology, build_chronology, chronology_pdf
from casefile.db import Store
from casefile.models import AuditRow, CaseNoteRow, CaseRow, PartyRow, PersonRow
from casefile.redaction import Identity, Redactor
from profiles import load
from tests.chronology_sample import NOW, SETTINGS, at, seed_sample
from tests.scenarios import MANAGER, report, step

_numbers = itertools.count(1)


def _ref() -> str:
    return f"CHR-2026-{next(_numbers) + 500000:06d}"


def _build(store: Store, ref: str, audience: str) -> Chronology:
    with store.session() as session:
        return build_chronology(session, ref, audience=audience, now=NOW,  # type: ignore[arg-type]
                                staff={"o1": "Sam Patel", "m1": "Priya Shah"},
                                keep_contacts=["0300 123 4567", "asb@example.org"])


def _text(chronology: Chronology) -> str:
    return "\n".join(f"{e.summary}\n{e.detail or ''}" for e in [*chronology.entries, *chronology.forthcoming])


def _pdf_text(pdf: bytes) -> str:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return "\n".join(page.extract_text() or "" for page in doc.pages)


def _entry_rows(pdf: bytes) -> list[list[str]]:
    """The chronology table's rows as printed (pdfplumber reads the table; each cell's lines joined)."""
    rows: list[list[str]] = []
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        for page in doc.pages:
            for table in page.extract_tables():
                rows += [[" ".join((cell or "").split()) for cell in row] for row in table
                         if len(row) == 6 and (row[0] or "").isdigit()]
    return rows


def _numbered(sources: list[str]) -> list[str]:
    """Sources with each table's row ids renumbered 1, 2, ... in order of first appearance."""
    seen: dict[str, dict[str, int]] = {}
    out = []
    for source in sources:
        table, key = source.rsplit(" ", 1)
        if table in ("event", "note", "plan"):
            out.append(source)
            continue
        ids = seen.setdefault(table, {})
        out.append(f"{table} {ids.setdefault(key, len(ids) + 1)}")
    return out


def _pages(pdf: bytes) -> int:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return len(doc.pages)


def test_every_kind_of_record_is_an_entry_in_time_order(store: Store) -> None:
    sample = seed_sample(store, _ref())
    chronology = _build(store, sample.ref, "case_conference")
    # Which record each entry came from, in order: incidents, contacts, the risk assessment, the action
    # plan (set, shared, done), stage moves, the intervention, letters, the equality assessment, the legal
    # action, a note that no event names, a case review with its reason, a missed deadline.
    # Row ids are the shared database's, so they are numbered here in order of first appearance per table;
    # timeline events are numbered per case (their seq), plan versions and notes by their own keys.
    assert _numbered([e.source for e in chronology.entries]) == [
        "incident 1", "event 1", "event 2", "message 1", "event 5", "contact 1", "risk 1", "event 11",
        "action 1", "action 2", "plan v1", "event 13", "action 1", "incident 2", f"note {sample.police_ref}",
        "intervention 1", "event 17", "message 2", "equality 1", "legal 1", "legal 1", "event 25", "message 3",
        "event 27", "event 29",
    ]
    moments = [e.when for e in chronology.entries]
    assert moments == sorted(moments)
    summaries = [e.summary for e in chronology.entries]
    assert summaries[:6] == [
        "Incident: noise, reported by the reporter, Alice Example",
        "Report received and triaged: noise, outcome enquiry, risk medium",
        "Case moved to Stage 1: initial enquiry and assessment",
        "Acknowledgement of the report sent by post to the reporter, Alice Example",
        "Case officer assigned: Sam Patel",
        "Contact made by phone with the reporter, Alice Example",
    ]
    # At one moment (the approval at 16:00), the decision comes before the stage move it caused.
    approval = summaries.index("Legal action approved: civil injunction")
    assert summaries[approval + 1] == "Case moved to Stage 5: legal remedies"
    assert summaries[approval - 1] == "Legal action proposed: civil injunction"
    # A note sent with a command is told with the entry it explains, not again on its own.
    approved = chronology.entries[approval]
    assert approved.recorded_by == "Priya Shah"
    assert approved.detail is not None and approved.detail.startswith(
        "Considered at a case review meeting on 04/02/2026.\nApproved at the case review meeting.")
    assert [e for e in chronology.entries if e.source == f"note {sample.note_ref}"] == []
    review = next(e for e in chronology.entries if e.summary == "Case review: the case continues")
    assert review.detail == "Incidents continue; injunction application being prepared."
    # A note no event names stands on its own, at the moment it was written.
    police = next(e for e in chronology.entries if e.source == f"note {sample.police_ref}")
    assert (police.kind, police.summary, police.detail, police.when) == (
        "note", "Police reference recorded", "TVP 43250012345", at(1, 26, 9, 30))
    # Who set and completed an action, and when, comes from the audit log.
    done = next(e for e in chronology.entries if e.summary == "Action completed by the reporter")
    assert (done.when, done.recorded_by) == (at(1, 20, 16, 0), "Sam Patel")
    # An incident reported late says when it was recorded.
    first = chronology.entries[0]
    assert (first.when, first.recorded_at, first.recorded_by) == (at(1, 4, 23, 30), at(1, 5, 9, 12), "i1")
    # The same case file gives the same chronology.
    assert _build(store, sample.ref, "case_conference") == chronology


def test_people_outside_the_case_are_redacted_and_parties_are_not(store: Store) -> None:
    sample = seed_sample(store, _ref())
    chronology = _build(store, sample.ref, "court")
    text = _text(chronology)
    for outsider in ("Dan Stranger", "Dan", "Stranger", "9 Oak Road", "RG4 4DD", "07700 900444", "dan@example.co.uk"):
        assert outsider not in text
    for party in ("Alice Example", "Bob Neighbour", "Carol Witness", "14 Acacia Avenue"):
        assert party in text
    incident = chronology.entries[0]
    assert incident.detail == (
        "Where: Outside 14 Acacia Avenue. Loud music from 14 Acacia Avenue until 3am. [redacted] of [redacted] "
        "was kept awake too; he can be reached on [redacted]. Evidence: Noise App recording NA-1001.")
    contact = next(e for e in chronology.entries if e.kind == "contact")
    # "Dan" alone is redacted too: his full name and email appear in this case's notes.
    assert contact.detail == ("Spoke to Alice Example. She says [redacted] also hears the music; [redacted]'s "
                              "email is [redacted]. Agreed weekly calls.")
    assert [(p.role, p.name) for p in chronology.parties] == [
        ("reporter", "Alice Example"), ("reported_person", "Bob Neighbour"), ("witness", "Carol Witness")]


def test_an_anonymous_party_is_not_named_anywhere(store: Store) -> None:
    ref = _ref()
    with store.session() as session, session.begin():
        act_as(session, "officer", "o1")
        session.add(PersonRow(id=f"erin-{ref}", name="Erin Hidden", address="2 Quiet Lane, Reading",
                              phone="07700 900555"))
        session.add(CaseRow(reference=ref, profile="reading", stage="investigation", outcome="enquiry",
                            category="noise", officer="o1", opened_at=at(2, 1, 9)))
        session.flush()
        session.add(PartyRow(case_ref=ref, person_id=f"erin-{ref}", role="reporter", anonymous=True))
        session.add(CaseNoteRow(ref=f"N-{ref}", case_ref=ref, at=at(2, 2, 9), by="o1", command="record_case_review",
                                field="reason", text="Erin rang from 07700 900555 about 2 Quiet Lane again.",
                                status="confirmed"))
    chronology = _build(store, ref, "court")
    assert [(p.role, p.name, p.anonymous) for p in chronology.parties] == [("reporter", None, True)]
    assert [e.detail for e in chronology.entries] == ["[redacted] rang from [redacted] about [redacted] again."]


def test_the_court_is_shown_what_happened_the_case_conference_also_risk_and_what_is_next(store: Store) -> None:
    sample = seed_sample(store, _ref())
    court = _build(store, sample.ref, "court")
    conference = _build(store, sample.ref, "case_conference")
    assert "risk" not in {e.kind for e in court.entries} and court.forthcoming == []
    assert not any(e.summary.startswith("Deadline missed") for e in court.entries)
    assert "Risk assessment: medium (score 9)" in [e.summary for e in conference.entries]
    assert "Deadline missed: contact with the reporter" in [e.summary for e in conference.entries]
    assert [(e.when, e.summary, e.detail) for e in conference.forthcoming] == [
        (datetime(2026, 3, 6, tzinfo=UTC), "Next risk assessment due", None),
        (at(3, 9, 9, 0), "Contact with the reporter due", None),
        (datetime(2026, 3, 10, tzinfo=UTC), "Action due for the case officer",
         "Request CCTV from the car park operator"),
    ]
    # Everything else is the same in both, in the same order.
    kept = [e for e in conference.entries if e.kind != "risk" and not e.summary.startswith("Deadline missed")]
    assert court.entries == kept
    # Neither shows a note that is still pending, nor a letter that was not sent.
    for chronology in (court, conference):
        assert "A pending note that was never confirmed." not in _text(chronology)
        assert not any(e.summary.startswith("Action plan sent") for e in chronology.entries)
    with store.session() as session, pytest.raises(ValueError, match="audience must be one of"):
        build_chronology(session, sample.ref, audience="press")  # type: ignore[arg-type]


def test_the_pdf_holds_the_reference_the_marking_and_the_entries_and_its_making_is_audited(store: Store) -> None:
    sample = seed_sample(store, _ref())
    with store.session() as session, session.begin():
        pdf = chronology_pdf(session, sample.ref, role="officer", actor_id="o1", audience="court", now=NOW,
                             settings=SETTINGS)
    text = _pdf_text(pdf)
    flat = " ".join(text.split())
    assert pdf.startswith(b"%PDF-")
    assert f"Case {sample.ref} · prepared for: Court bundle" in flat
    pages = _pages(pdf)
    assert pages > 1 and text.count("OFFICIAL-SENSITIVE") == 2 * pages  # top and bottom of every page
    assert all(f"Page {n} of {pages}" in flat for n in range(1, pages + 1))
    assert "Example Homes" in flat and "Generated by Sam Patel" in flat
    # Every entry, in order, with its date and time in the landlord's zone, who recorded it and where from.
    with store.session() as session:
        chronology = build_chronology(session, sample.ref, audience="court", now=NOW,
                                      staff={"o1": "Sam Patel", "m1": "Priya Shah"})
    rows = _entry_rows(pdf)
    assert [row[0] for row in rows] == [str(n) for n in range(1, len(chronology.entries) + 1)]
    for row, entry in zip(rows, chronology.entries, strict=True):
        printed = " ".join(f"{entry.summary} {entry.detail or ''}".split())
        assert row[4].startswith(printed), (row[4], printed)
        assert row[5] == f"{'Case system' if entry.recorded_by == 'system' else entry.recorded_by} {entry.source}"
    assert rows[0][1:4] == ["4 Jan 2026", "23:30", "Incident"]
    assert rows[0][4].endswith("Recorded 5 January 2026")
    approved = [row for row in rows if row[4].startswith("Legal action approved")]
    assert [row[1:3] for row in approved] == [["5 Feb 2026", "16:00"]]
    assert "Stranger" not in flat and "900444" not in flat and "Risk assessment" not in flat
    assert "End of chronology: 23 entries." in flat
    with store.session() as session:
        (audited,) = session.scalars(select(AuditRow).where(AuditRow.case_ref == sample.ref,
                                                             AuditRow.action == "export")).all()
    assert (audited.actor_role, audited.actor_id, audited.entity, audited.entity_id) == (
        "officer", "o1", "cases", sample.ref)
    assert audited.after == {"document": "chronology", "audience": "court", "entries": 23,
                         "sha256": hashlib.sha256(pdf).hexdigest()}


def test_a_locked_case_is_not_there_for_others_and_only_case_staff_may_produce_one(store: Store) -> None:
    sample = seed_sample(store, _ref(), locked=True)
    with store.session() as session, session.begin(), pytest.raises(CaseNotFound):
        chronology_pdf(session, sample.ref, role="officer", actor_id="o2", now=NOW, settings=SETTINGS)
    with store.session() as session, session.begin(), pytest.raises(NotAllowed, match="intake may not"):
        chronology_pdf(session, sample.ref, role="intake", actor_id="i1", now=NOW, settings=SETTINGS)
    with store.session() as session:
        assert session.scalars(select(AuditRow).where(AuditRow.case_ref == sample.ref,
                                                      AuditRow.action.in_(("export", "read")))).all() == []
    with store.session() as session, session.begin():
        pdf = chronology_pdf(session, sample.ref, role="manager", actor_id="m1", audience="case_conference",
                             now=NOW, settings=SETTINGS)
    assert "Forthcoming actions and deadlines" in _pdf_text(pdf)
    with store.session() as session:
        actions = session.scalars(select(AuditRow.action).where(
            AuditRow.case_ref == sample.ref, AuditRow.action.in_(("export", "read"))).order_by(AuditRow.id)).all()
    assert actions == ["read", "export"]  # the locked case's read (004 §3.7), then the chronology


def test_the_redactor_finds_numbers_however_written_and_keeps_what_is_the_parties(store: Store) -> None:
    party = Identity("a", "Alice Example", "Flat 3, Tower House, Reading", "RG1 1AA", "alice@example.org",
                     "07700 900111")
    outsider = Identity("c", "Carol Stranger", "Flat 3, Mill Court, Reading", "RG2 2CC", "carol@example.com",
                        "07700 900333")
    redact = Redactor([party], [outsider], keep_contacts=["0300 123 4567"])
    assert redact("Carol Stranger, of Flat 3, Mill Court, rang from +44 (0)7700 900333.") == (
        "[redacted], of [redacted], rang from [redacted].")
    assert redact("Alice Example of Flat 3, Tower House (RG1 1AA, 07700900111, alice@example.org).") == (
        "Alice Example of Flat 3, Tower House (RG1 1AA, 07700900111, alice@example.org).")
    # A number nobody in the case owns is someone else's; a crime reference and the landlord's are not.
    assert redact("Her son called from 07700 900999. Crime ref 43250012345. Call us on 0300 123 4567.") == (
        "Her son called from [redacted]. Crime ref 43250012345. Call us on 0300 123 4567.")
    assert redact("Email jo.bloggs@example.net or rg22cc") == "Email [redacted] or [redacted]"
    # A first name alone is redacted only once the person is known to be in this case's text.
    assert redact("Carol said so.") == "Carol said so."
    redact.learn(["Carol Stranger called."])
    assert redact("Carol said so.") == "[redacted] said so."


async def test_a_case_played_through_the_workflow_has_its_chronology(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """The rows the real workflow, projection and doors write: stage moves, the officer's commands with
    who sent them, notes confirmed by their events, and letters (skipped here: nobody to write to)."""
    ref = f"ASB-2026-{uuid.uuid4().int % 10**6:06d}"  # the session's case file is shared: no fixed numbers
    with store.session() as session, session.begin():
        act_as(session, "intake", "i1")
        session.add(PersonRow(id=f"x-{ref}", name="Xavier Outside", address="77 Far Road, Leeds"))
    officer = {"role": "officer", "id": "o1"}
    scenario = Scenario.model_validate({"profile": "reading", "start": "2026-03-02T09:00:00+00:00",
                                        "until": "2026-03-03T12:00:00+00:00", "reference": ref, "steps": [
        report("2026-03-02T09:00:00+00:00"),
        step("2026-03-02T10:00:00+00:00", "record_contact", officer, outcome="made", method="phone"),
        step("2026-03-02T10:30:00+00:00", "record_risk_assessment", officer, level="medium"),
        step("2026-03-02T10:40:00+00:00", "record_incident", officer, occurred_at="2026-03-01T22:00:00+00:00",
             hate_strand="race"),
        step("2026-03-02T10:50:00+00:00", "record_police_report", officer, police_reference="TVP 4321"),
        step("2026-03-02T11:00:00+00:00", "convert_to_case", officer),
        step("2026-03-02T12:00:00+00:00", "start_intervention", officer, kind="verbal_warning"),
        step("2026-03-02T13:00:00+00:00", "record_equality_assessment", officer,
             note="Xavier Outside of 77 Far Road has no part in this."),
        step("2026-03-02T14:00:00+00:00", "propose_legal_action", officer, kind="injunction"),
        step("2026-03-03T09:00:00+00:00", "approve_legal_action", MANAGER, note="Agreed."),
    ]})
    timeline = await play(env, store, scenario, load("reading"), task_queue=task_queue)
    assert [e for e in timeline if e["event"] == "rejected"] == []
    chronology = _build(store, ref, "court")
    # Letters carry the moment they really left (the wall clock), not the test's skipped time.
    assert [e.summary for e in chronology.entries if e.kind == "letter"] == [
        "Acknowledgement of the report sent by post to [redacted]", "Initial letter sent by post to [redacted]",
        "Letter before action sent by post to [redacted]"]  # no party rows: the case was started without intake
    # To the minute: the time-skipping server may start the workflow a second after the scenario's start.
    entries = [(e.when.replace(second=0).isoformat(), e.kind, e.summary, e.detail, e.recorded_by)
               for e in chronology.entries if e.kind != "letter"]
    assert chronology.entries[0].recorded_at == datetime(2026, 3, 2, 10, 40, tzinfo=UTC)  # recorded the next day
    assert entries == [
        ("2026-03-01T22:00:00+00:00", "incident", "Incident: noise (hate incident, perceived as motivated by race)",
         None, "Sam Patel"),
        ("2026-03-02T09:00:00+00:00", "decision", "Report received and triaged: noise, outcome enquiry, risk low",
         None, "system"),
        ("2026-03-02T09:00:00+00:00", "decision", "Case moved to Stage 1: initial enquiry and assessment", None,
         "system"),
        ("2026-03-02T10:00:00+00:00", "contact", "Contact made by phone with the reporter", None, "Sam Patel"),
        # The assessment raises the case's risk (the risk matrix, issue 12 item 4), then the hate incident.
        ("2026-03-02T10:30:00+00:00", "decision", "Risk level set to medium (risk assessment)", None, "Sam Patel"),
        ("2026-03-02T10:40:00+00:00", "decision", "Risk level set to high (hate incident)", None, "Sam Patel"),
        ("2026-03-02T10:50:00+00:00", "action", "Police informed", "Police reference: TVP 4321", "Sam Patel"),
        ("2026-03-02T11:00:00+00:00", "decision", "Case moved to Stage 2: case investigation", None, "Sam Patel"),
        ("2026-03-02T12:00:00+00:00", "action", "Intervention: Verbal warning", None, "Sam Patel"),
        ("2026-03-02T12:00:00+00:00", "decision", "Case moved to Stage 4: interventions", None, "Sam Patel"),
        ("2026-03-02T13:00:00+00:00", "action", "Equality Act assessment made",
         "[redacted] of [redacted] has no part in this.", "Sam Patel"),
        ("2026-03-02T14:00:00+00:00", "legal", "Legal action proposed: civil injunction", None, "Sam Patel"),
        ("2026-03-03T09:00:00+00:00", "legal", "Legal action approved: civil injunction", "Agreed.", "Priya Shah"),
        ("2026-03-03T09:00:00+00:00", "decision", "Case moved to Stage 5: legal remedies", None, "Priya Shah"),
    ]
