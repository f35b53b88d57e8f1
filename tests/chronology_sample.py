"""A sample case with a record of every kind a chronology reads, and its page 1 as a picture.

    .venv/bin/python -m tests.chronology_sample          # writes docs/screens/chronology.png

The rows are written as the case file's writers write them (intake, the workflow's projection, the
doors' notes, the letters activity), at fixed moments, so the document is the same every time. The
picture uses a throwaway SQLite case file; tests/test_chronology.py uses the same case on PostgreSQL.
Needs pdftoppm (poppler-utils; scripts/bootstrap installs it).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from freezegun import freeze_time

from casefile.audit import act_as
from casefile.db import Store
from casefile.models import (
    ActionPlanItemRow,
    ActionPlanVersionRow,
    CaseNoteRow,
    CaseRow,
    ContactRow,
    EqualityAssessmentRow,
    EventRow,
    IncidentRow,
    InterventionRow,
    LegalActionRow,
    MessageRow,
    PartyRow,
    PersonRow,
    RiskAssessmentRow,
)
from letters.config import DeliverySettings, Landlord, Officer

SCREEN = Path(__file__).resolve().parents[1] / "docs" / "screens" / "chronology.png"
SETTINGS = DeliverySettings(
    landlord=Landlord(name="Example Homes", address=("1 High Street", "Reading", "RG1 2AA"), phone="0300 123 4567",
                      email="asb@example.org"),
    officers={"o1": Officer(id="o1", name="Sam Patel", phone="0300 123 4568", email="sam.patel@example.org"),
              "m1": Officer(id="m1", name="Priya Shah")},
)
NOW = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class Sample:
    ref: str
    reporter: str
    reported: str
    witness: str
    outsider: str
    #: the note that names the outsider, and the one that is still pending (never shown)
    note_ref: str
    pending_ref: str
    #: a note written before commands named their notes: it stands on its own
    police_ref: str


def _event(session: Any, ref: str, seq: int, when: datetime, event: str, **data: Any) -> None:
    session.add(EventRow(case_ref=ref, seq=seq, at=when, kind=event, data=data))


def seed_sample(store: Store, ref: str, *, locked: bool = False) -> Sample:
    """A noise and harassment case: three parties, one neighbour who is not a party, and a record of
    every kind (incidents, contacts, a risk assessment, the action plan, an intervention, an equality
    assessment, a legal action, letters, notes and the workflow's own events)."""
    suffix = ref.rsplit("-", 1)[-1]
    alice, bob, carol, dan = (f"{who}-{suffix}" for who in ("alice", "bob", "carol", "dan"))
    note_ref, pending_ref, review_ref, police_ref = (f"N-{suffix}{x}" for x in "abcd")
    with store.session() as session, session.begin():
        act_as(session, "intake", "i1")
        session.add_all([
            PersonRow(id=alice, name="Alice Example", address="12 Acacia Avenue, Reading", postcode="RG1 1AA",
                      email="alice@example.org", phone="07700 900111"),
            PersonRow(id=bob, name="Bob Neighbour", address="14 Acacia Avenue, Reading", postcode="RG1 1AB",
                      email="bob.neighbour@example.net", phone="07700 900222"),
            PersonRow(id=carol, name="Carol Witness", address="3 Lime Close, Reading", postcode="RG2 2CC"),
            # A party to another case, not this one: named in this case's notes, and must not be here.
            PersonRow(id=dan, name="Dan Stranger", address="9 Oak Road, Reading", postcode="RG4 4DD",
                      email="dan@example.co.uk", phone="07700 900444"),
        ])
        session.add(CaseRow(reference=ref, profile="reading", stage="legal", outcome="enquiry", risk="medium",
                            category="noise", hate=False, officer="o1", opened_at=at(1, 5, 9, 12), overdue=False,
                            last_seq=30, locked=locked, lock_reason="sensitive" if locked else None,
                            next_deadline=at(3, 9, 9, 0)))
        session.flush()
        session.add_all([PartyRow(case_ref=ref, person_id=alice, role="reporter"),
                         PartyRow(case_ref=ref, person_id=bob, role="reported_person"),
                         PartyRow(case_ref=ref, person_id=carol, role="witness")])
        session.add(IncidentRow(
            case_ref=ref, occurred_at=at(1, 4, 23, 30), location="Outside 14 Acacia Avenue", category="noise",
            description="Loud music from 14 Acacia Avenue until 3am. Dan Stranger of 9 Oak Road was kept awake "
                        "too; he can be reached on 07700 900444.",
            reported_by=alice, evidence=[{"kind": "noise_app", "ref": "NA-1001"}], recorded_at=at(1, 5, 9, 12)))

    with store.session() as session, session.begin():
        act_as(session, "system", "workflow")
        seq = iter(range(1, 100))
        _event(session, ref, next(seq), at(1, 5, 9, 12), "triage", outcome="enquiry", risk="medium", category="noise")
        _event(session, ref, next(seq), at(1, 5, 9, 12), "stage", stage="enquiry")
        _event(session, ref, next(seq), at(1, 5, 9, 12), "letter", template="acknowledgement", to="reporter")
        _event(session, ref, next(seq), at(1, 5, 10, 0), "command", command="assign_officer", role="manager", by="m1")
        _event(session, ref, next(seq), at(1, 5, 10, 0), "officer", officer="o1")
        _event(session, ref, next(seq), at(1, 6, 11, 0), "command", command="record_contact", role="officer", by="o1")
        _event(session, ref, next(seq), at(1, 6, 11, 0), "contact", outcome="made", method="phone")
        session.add(ContactRow(case_ref=ref, person_id=alice, at=at(1, 6, 11, 0), outcome="made", method="phone",
                               by="o1", note="Spoke to Alice Example. She says Dan also hears the music; Dan "
                                             "Stranger's email is dan@example.co.uk. Agreed weekly calls."))
        _event(session, ref, next(seq), at(1, 6, 11, 30), "command", command="record_risk_assessment",
               role="officer", by="o1")
        _event(session, ref, next(seq), at(1, 6, 11, 30), "risk_assessment", level="medium")
        session.add(RiskAssessmentRow(case_ref=ref, level="medium", score=9, assessed_at=at(1, 6, 11, 30),
                                      next_due=date(2026, 3, 6), by="o1"))
        _event(session, ref, next(seq), at(1, 6, 12, 0), "command", command="agree_action_plan", role="officer",
               by="o1")
        _event(session, ref, next(seq), at(1, 6, 12, 0), "action_plan", contact_every_days=7, contact_method="phone",
               reporters_choice=True)
        _event(session, ref, next(seq), at(1, 12, 15, 0), "command", command="convert_to_case", role="officer",
               by="o1")
        _event(session, ref, next(seq), at(1, 12, 15, 0), "stage", stage="investigation")
        _event(session, ref, next(seq), at(1, 26, 9, 0), "command", command="record_incident", role="officer",
               by="o1")
        _event(session, ref, next(seq), at(1, 26, 9, 0), "incident", count=2, hate=False,
               occurred_at=at(1, 25, 22, 10).isoformat(), category="harassment")
        session.add(IncidentRow(
            case_ref=ref, occurred_at=at(1, 25, 22, 10), location="Car park behind Acacia Avenue",
            category="harassment", description="Bob Neighbour shouted abuse at Alice Example in the car park. "
                                               "Carol Witness saw it from her window.",
            reported_by=alice, evidence=[{"kind": "diary_sheet", "ref": "DS-7"}], recorded_at=at(1, 26, 9, 0)))
        _event(session, ref, next(seq), at(1, 27, 10, 0), "command", command="start_intervention", role="officer",
               by="o1")
        _event(session, ref, next(seq), at(1, 27, 10, 0), "stage", stage="interventions")
        _event(session, ref, next(seq), at(1, 27, 10, 0), "intervention", kind="warning_letter")
        session.add(InterventionRow(case_ref=ref, kind="warning_letter", started_at=at(1, 27, 10, 0), by="o1"))
        session.add(MessageRow(key=f"{ref}-m1", case_ref=ref, channel="letter", template="acknowledgement",
                               recipient_role="reporter", recipient_id=alice, status="sent",
                               created_at=at(1, 5, 9, 12), sent_at=at(1, 5, 9, 13)))
        session.add(MessageRow(key=f"{ref}-m2", case_ref=ref, channel="letter", template="warning_letter",
                               recipient_role="reported_person", recipient_id=bob, status="sent",
                               created_at=at(1, 27, 10, 0), sent_at=at(1, 27, 10, 1)))
        session.add(MessageRow(key=f"{ref}-m3", case_ref=ref, channel="email", template="action_plan",
                               recipient_role="reporter", recipient_id=alice, status="failed",
                               created_at=at(1, 6, 12, 0)))  # not sent: not in the chronology
        _event(session, ref, next(seq), at(2, 2, 14, 0), "command", command="record_equality_assessment",
               role="officer", by="o1")
        _event(session, ref, next(seq), at(2, 2, 14, 0), "equality_assessment")
        session.add(EqualityAssessmentRow(case_ref=ref, at=at(2, 2, 14, 0), by="o1",
                                          note="No protected characteristic affects the proposed action."))
        _event(session, ref, next(seq), at(2, 3, 9, 30), "command", command="propose_legal_action", role="officer",
               by="o1")
        _event(session, ref, next(seq), at(2, 3, 9, 30), "legal_action", kind="injunction", status="proposed",
               emergency=False)
        _event(session, ref, next(seq), at(2, 5, 16, 0), "command", command="approve_legal_action", role="manager",
               by="m1", note_ref=note_ref)
        _event(session, ref, next(seq), at(2, 5, 16, 0), "legal_action", kind="injunction", status="approved",
               emergency=False, case_review_meeting=at(2, 4, 10, 0).isoformat())
        _event(session, ref, next(seq), at(2, 5, 16, 0), "stage", stage="legal")
        session.add(LegalActionRow(case_ref=ref, kind="injunction", status="approved", emergency=False,
                                   proposed_at=at(2, 3, 9, 30), decided_at=at(2, 5, 16, 0)))
        session.add(MessageRow(key=f"{ref}-m4", case_ref=ref, channel="letter", template="letter_before_action",
                               recipient_role="reported_person", recipient_id=bob, status="sent",
                               created_at=at(2, 5, 16, 0), sent_at=at(2, 5, 16, 2)))
        _event(session, ref, next(seq), at(2, 10, 11, 0), "command", command="record_case_review", role="officer",
               by="o1", note_ref=review_ref)
        _event(session, ref, next(seq), at(2, 10, 11, 0), "case_review", decision="continue", reason_ref=review_ref)
        _event(session, ref, next(seq), at(2, 10, 11, 0), "deadline", kind="contact", due=at(3, 9, 9, 0).isoformat())
        _event(session, ref, next(seq), at(2, 20, 9, 0), "breach", kind="contact")
        session.add(CaseNoteRow(ref=note_ref, case_ref=ref, at=at(2, 5, 15, 59), by="m1",
                                command="approve_legal_action", field="note", status="confirmed",
                                text="Approved at the case review meeting. Dan Stranger (dan@example.co.uk, "
                                     "07700 900444) would not give a statement; Carol Witness will."))
        session.add(CaseNoteRow(ref=review_ref, case_ref=ref, at=at(2, 10, 10, 59), by="o1",
                                command="record_case_review", field="reason", status="confirmed",
                                text="Incidents continue; injunction application being prepared."))
        session.add(CaseNoteRow(ref=police_ref, case_ref=ref, at=at(1, 26, 9, 30), by="o1",
                                command="record_police_report", field="police_reference", status="confirmed",
                                text="TVP 43250012345"))
        session.add(CaseNoteRow(ref=pending_ref, case_ref=ref, at=at(2, 27, 9, 0), by="o1",
                                command="record_case_review", field="reason", status="pending",
                                text="A pending note that was never confirmed."))
        session.add(ActionPlanVersionRow(case_ref=ref, number=1, shared_at=at(1, 6, 12, 5),
                                         items=[{"description": "Keep a diary of the noise", "owner": "reporter"}]))

    # Actions are edited by people, and the audit log says when: set on 6 January, one done on 20 January.
    with freeze_time(at(1, 6, 12, 1)), store.session() as session, session.begin():
        act_as(session, "officer", "o1")
        done = ActionPlanItemRow(case_ref=ref, description="Keep a diary of the noise and use the Noise App",
                                 owner="reporter", due=date(2026, 1, 20), done=False)
        session.add_all([done, ActionPlanItemRow(case_ref=ref, description="Request CCTV from the car park operator",
                                                 owner="officer", due=date(2026, 3, 10), done=False)])
        session.flush()
        done_id = done.id
    with freeze_time(at(1, 20, 16, 0)), store.session() as session, session.begin():
        act_as(session, "officer", "o1")
        item = session.get(ActionPlanItemRow, done_id)
        assert item is not None
        item.done = True
    return Sample(ref=ref, reporter=alice, reported=bob, witness=carol, outsider=dan, note_ref=note_ref,
                  pending_ref=pending_ref, police_ref=police_ref)


def main() -> int:
    """Render the sample's chronologies (both audiences; into the folder given, if any) and page 1 of
    the case conference's, which has every section, to docs/screens/chronology.png."""
    from casefile.chronology import chronology_pdf

    SCREEN.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{folder}/chronology.db")
        store.upgrade()
        sample = seed_sample(store, "ASB-2026-000123")
        for audience in ("case_conference", "court"):
            with store.session() as session, session.begin():
                pdf = chronology_pdf(session, sample.ref, role="officer", actor_id="o1", audience=audience,
                                     now=NOW, settings=SETTINGS)
            pdf_file = Path(folder) / f"chronology-{audience}.pdf"
            pdf_file.write_bytes(pdf)
            if audience == "case_conference":  # page 1 of the court version differs only in its subtitle
                subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                                str(pdf_file), str(SCREEN.with_suffix(""))], check=True)
            print(f"{audience}: {len(pdf)} bytes")
            if len(sys.argv) > 1:
                Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
                (Path(sys.argv[1]) / pdf_file.name).write_bytes(pdf)
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
