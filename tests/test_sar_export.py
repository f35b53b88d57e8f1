"""The subject access export's content, field by field (casefile/sar.py).

tests/test_data_protection.py proves nobody else's data leaks; this pins what the subject is given, so
a field dropped or renamed in the export is noticed (UK GDPR art. 15: the subject gets all of it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casefile.audit import act_as
from casefile.db import Store
from casefile.models import CaseNoteRow, CaseRow, ConsentRow, ContactRow, IncidentRow, MessageRow, PartyRow, PersonRow
from casefile.sar import WITHHELD, write_export
from tests.test_data_protection import ALICE, NOW, _export_text, _id, seed


def test_the_export_holds_each_of_the_subjects_records_in_full(store: Store) -> None:
    s = seed(store)
    exported, _ = _export_text(store, s.alice)
    data: Any = exported
    assert data["subject"] == s.alice and data["exported_at"] == NOW.isoformat()
    person = data["person"]
    assert {k: person[k] for k in ALICE} == ALICE and person["id"] == s.alice and person["anonymised_at"] is None
    assert [(c["kind"], c["given"], c["case_ref"]) for c in data["consents"]] == [
        ("email", True, s.old), ("action", True, s.old)]
    assert all("recorded_by" not in c for c in data["consents"])  # staff ids are withheld
    old = next(c for c in data["cases"] if c["reference"] == s.old)
    opened_old = NOW - timedelta(days=365 * 7 + 60)
    assert {k: old[k] for k in ("stage", "opened_at", "closed_at", "closure_reason", "category", "risk")} == {
        "stage": "closed", "opened_at": opened_old.isoformat(),
        "closed_at": (NOW - timedelta(days=365 * 7)).isoformat(),
        "closure_reason": "resolved", "category": "noise", "risk": "medium"}
    own = next(i for i in old["incidents"] if i["reported_by_you"])
    with store.session() as session:
        row = session.get(IncidentRow, own["id"])
        assert row is not None
    assert own == {
        "id": row.id, "occurred_at": opened_old.isoformat(), "recorded_at": row.recorded_at.isoformat(),
        "category": row.category, "hate_strand": row.hate_strand, "reported_by_you": True,
        "location": "outside [redacted]", "police_reference": None, "evidence": [],
        # Issue 12 item 1: who told us (the reporter), the harm to them, their injuries, a partner's reference.
        "reported_by": "reporter", "impact": None, "injuries": None, "partner_reference": None,
        "description": "[redacted] played loud music at 3am; [redacted] shouted at me. [redacted] ([redacted]) saw it.",
    }
    theirs = next(i for i in old["incidents"] if not i["reported_by_you"])
    assert theirs["location"] == theirs["description"] == "[redacted: about or by another person]"
    assert theirs["police_reference"] is None and theirs["category"] == "noise"
    (contact,) = old["contacts_with_you"]
    assert {k: contact[k] for k in ("at", "outcome", "method")} == {
        "at": opened_old.isoformat(), "outcome": "made", "method": "phone"} and "by" not in contact
    (message,) = old["messages_to_you"]
    assert {k: message[k] for k in message if k != "id"} == {
        "channel": "letter", "template": "acknowledgement", "addressed_as": "reporter", "status": "sent",
        "created_at": opened_old.isoformat(), "sent_at": None}
    assert old["case_notes"] == []
    recent = next(c for c in data["cases"] if c["reference"] == s.recent)
    assert recent["your_roles"] == ["reporter"] and recent["other_parties"] == [
        {"role": "reported_person", "person": "[redacted]"}]


def test_the_export_file_is_the_export_as_json(store: Store, tmp_path: Path) -> None:
    s = seed(store)
    out = write_export(store, s.dan, tmp_path / "dan.json", "auditor", "dpo1", NOW)
    text = out.read_text(encoding="utf-8")
    assert out == tmp_path / "dan.json" and text.endswith("}\n") and text.startswith('{\n  "subject": ')
    data = json.loads(text)
    assert data["subject"] == s.dan and data["exported_at"] == NOW.isoformat()
    assert [c["reference"] for c in data["cases"]] == [s.recent]
    assert not (tmp_path / ".dan.json.partial").exists()


# --- a subject in several cases, with notes, unnamed people and records out of time order ---------------

ZOE = {"name": "Zoë Ó Briain", "address": "5 Mill Lane, Leek", "postcode": "ST13 6AA",
       "email": "zoe@example.org", "phone": "07700 900666"}
YUSUF = {"name": "Yusuf Khan", "address": "22 Bath Street, Leek", "postcode": "ST13 5AB",
         "email": "yusuf.khan@example.net", "phone": "07700 900555"}
DAY = timedelta(days=1)
T0 = NOW - timedelta(days=90)


@dataclass
class Cases:
    zoe: str
    yusuf: str
    unnamed: str  # a witness who gave only a six-digit local phone number
    party: str  # Zoë reported, Yusuf is reported, the unnamed witness saw it
    contacted: str  # Zoë was only phoned about it
    written: str  # Zoë was only written to; the case record itself is not in the case file
    reported: str  # Zoë only reported an incident there; nobody is a party


def _add_case(session: Session, ref: str) -> None:
    session.add(CaseRow(reference=ref, profile="reading", stage="open", outcome="open", category="noise",
                        risk="high", opened_at=T0))


def seed_cases(store: Store) -> Cases:
    c = Cases(zoe=_id("P"), yusuf=_id("P"), unnamed=_id("P"), party=_id("ASB-S"), contacted=_id("ASB-S"),
              written=_id("ASB-S"), reported=_id("ASB-S"))
    with store.session() as session, session.begin():
        act_as(session, "officer", "test")
        session.add_all([PersonRow(id=c.zoe, **ZOE), PersonRow(id=c.yusuf, **YUSUF),
                         PersonRow(id=c.unnamed, phone="958 123")])
        for ref in (c.party, c.contacted, c.reported):
            _add_case(session, ref)
        session.flush()
        session.add_all([PartyRow(case_ref=c.party, person_id=c.zoe, role="reporter"),
                         PartyRow(case_ref=c.party, person_id=c.yusuf, role="reported_person"),
                         PartyRow(case_ref=c.party, person_id=c.unnamed, role="witness", anonymous=True),
                         PartyRow(case_ref=c.contacted, person_id=c.yusuf, role="reported_person")])
        # Rows are added out of time order, so the export's order is its own, not the order of entry.
        session.add_all([
            IncidentRow(case_ref=c.party, occurred_at=T0 + 10 * DAY, recorded_at=T0 + 10 * DAY, category="noise",
                        reported_by=c.zoe, location="outside 22 Bath Street",
                        police_reference="CAD 4411 (Yusuf Khan)",
                        description="yusuf khan (+44 7700 900555) shouted; he lives at 22 Bath Street in Leek, "
                                    "ST135AB, YUSUF.KHAN@example.net. A neighbour rang from 958123.",
                        evidence=[{"kind": "photo", "ref": "photo of Yusuf at ST13 5AB"},
                                  {"kind": "noise_app", "ref": 4471}]),
            IncidentRow(case_ref=c.party, occurred_at=T0 + 5 * DAY, recorded_at=T0 + 5 * DAY, category="noise",
                        reported_by=c.yusuf, location="5 Mill Lane", police_reference="CAD 9000",
                        description="Zoë bangs on the wall", evidence=[{"kind": "diary_sheet", "ref": "diary"}]),
            IncidentRow(case_ref=c.reported, occurred_at=T0 + 3 * DAY, recorded_at=T0 + 3 * DAY,
                        category="noise", reported_by=c.zoe, description="Music from the flats again."),
            IncidentRow(case_ref=c.reported, occurred_at=T0 + DAY, recorded_at=T0 + DAY, category="noise",
                        reported_by=None, description="Officer heard music from the flats."),
            ContactRow(case_ref=c.party, person_id=c.zoe, at=T0 + 12 * DAY, outcome="made", method="visit",
                       by="o1", note="Zoë says Yusuf is at it again"),
            ContactRow(case_ref=c.party, person_id=c.zoe, at=T0 + 11 * DAY, outcome="failed", method="phone",
                       by="o1", note=None),
            ContactRow(case_ref=c.contacted, person_id=c.zoe, at=T0 + 2 * DAY, outcome="made", method="phone",
                       by="o1", note="asked about the noise at number 22"),
            MessageRow(key=f"{c.party}/2/letter/z", case_ref=c.party, channel="letter", template="update",
                       recipient_role="reporter", recipient_id=c.zoe, status="pending",
                       created_at=T0 + 20 * DAY),
            MessageRow(key=f"{c.party}/1/email/z", case_ref=c.party, channel="email",
                       template="acknowledgement", recipient_role="reporter", recipient_id=c.zoe, status="sent",
                       created_at=T0, sent_at=T0 + timedelta(minutes=3)),
            MessageRow(key=f"{c.written}/1/letter/z", case_ref=c.written, channel="letter",
                       template="acknowledgement", recipient_role="witness", recipient_id=c.zoe,
                       status="sent", created_at=T0 + DAY, sent_at=T0 + DAY),
            CaseNoteRow(ref=_id("N"), case_ref=c.party, at=T0 + 30 * DAY, by="o1", command="note",
                        field="text", text="Warned Yusuf Khan (07700900555) in person.", status="confirmed"),
            CaseNoteRow(ref=_id("N"), case_ref=c.party, at=T0 + 25 * DAY, by="o1", command="record_legal_outcome",
                        field="outcome", text="Injunction granted against YUSUF KHAN", status="pending"),
            CaseNoteRow(ref=_id("N"), case_ref=c.party, at=T0 + 26 * DAY, by="o1", command="note",
                        field="text", text="typed on the wrong case", status="discarded"),
            CaseNoteRow(ref=_id("N"), case_ref=c.contacted, at=T0 + 2 * DAY, by="o1", command="note",
                        field="text", text="Yusuf's case: Zoë phoned as a neighbour", status="confirmed"),
            ConsentRow(person_id=c.zoe, case_ref=c.party, kind="sms", given=False, recorded_at=T0 + DAY,
                       recorded_by="o1"),
            ConsentRow(person_id=c.zoe, case_ref=c.party, kind="email", given=True, recorded_at=T0,
                       recorded_by="o1"),
        ])
    return c


def _ids(store: Store, model: Any, **where: Any) -> list[int]:
    with store.session() as session:
        return list(session.scalars(select(model.id).filter_by(**where).order_by(model.id)))


def test_every_case_the_subject_appears_in_is_exported_even_without_being_a_party(store: Store) -> None:
    c = seed_cases(store)
    data: Any = _export_text(store, c.zoe)[0]
    cases = {case["reference"]: case for case in data["cases"]}
    assert [case["reference"] for case in data["cases"]] == sorted([c.party, c.contacted, c.written, c.reported])
    assert cases[c.contacted]["your_roles"] == [] and cases[c.contacted]["other_parties"] == [
        {"role": "reported_person", "person": "[redacted]"}]
    assert [n["note"] for n in cases[c.contacted]["contacts_with_you"]] == ["asked about the noise at number 22"]
    # A letter whose case is not in the case file is still disclosed, with no case details to give.
    written = cases[c.written]
    assert [m["template"] for m in written["messages_to_you"]] == ["acknowledgement"]
    assert {k: written[k] for k in ("stage", "opened_at", "closed_at", "closure_reason", "category", "risk")} == {
        "stage": None, "opened_at": None, "closed_at": None, "closure_reason": None, "category": None, "risk": None}
    assert {k: cases[c.party][k] for k in ("stage", "opened_at", "category", "risk")} == {
        "stage": "open", "opened_at": T0.isoformat(), "category": "noise", "risk": "high"}
    # Nobody else is in the case Zoë only reported to: every account in it is hers to see, in time order.
    assert [(i["description"], i["reported_by_you"]) for i in cases[c.reported]["incidents"]] == [
        ("Officer heard music from the flats.", False), ("Music from the flats again.", True)]


def test_other_people_are_redacted_however_they_are_written(store: Store) -> None:
    c = seed_cases(store)
    data: Any = _export_text(store, c.zoe)[0]
    party = next(case for case in data["cases"] if case["reference"] == c.party)
    assert party["your_roles"] == ["reporter"]
    assert party["other_parties"] == [{"role": "reported_person", "person": "[redacted]"},
                                      {"role": "witness", "person": "[redacted]"}]
    theirs, own = party["incidents"]  # Yusuf's came first in time
    assert own["reported_by_you"] and own["occurred_at"] == (T0 + 10 * DAY).isoformat()
    # Lower case, no space in the postcode, +44 for 07..., the address line by line, a 6-digit number
    # of a witness who gave no name at all.
    assert own["description"] == ("[redacted] ([redacted]) shouted; he lives at [redacted] in [redacted], "
                                  "[redacted], [redacted]. A neighbour rang from [redacted].")
    assert own["location"] == "outside [redacted]"
    assert own["police_reference"] == "CAD 4411 ([redacted])"
    assert own["evidence"] == [{"kind": "photo", "ref": "photo of [redacted] at [redacted]"},
                               {"kind": "noise_app", "ref": 4471}]
    assert not theirs["reported_by_you"]
    assert {k: theirs[k] for k in ("location", "description", "police_reference", "evidence")} == {
        "location": WITHHELD, "description": WITHHELD, "police_reference": WITHHELD,
        "evidence": [{"kind": "diary_sheet", "ref": WITHHELD}]}


def test_case_notes_are_disclosed_in_time_order_redacted_and_without_discarded_ones(store: Store) -> None:
    c = seed_cases(store)
    data: Any = _export_text(store, c.zoe)[0]
    cases = {case["reference"]: case for case in data["cases"]}
    assert cases[c.party]["case_notes"] == [
        {"at": (T0 + 25 * DAY).isoformat(), "command": "record_legal_outcome",
         "text": "Injunction granted against [redacted]", "status": "pending"},
        {"at": (T0 + 30 * DAY).isoformat(), "command": "note", "text": "Warned [redacted] ([redacted]) in person.",
         "status": "confirmed"},
    ]
    # The note on the case she was only phoned about is that case's, not this one's; her own name stays.
    assert [n["text"] for n in cases[c.contacted]["case_notes"]] == ["[redacted]'s case: Zoë phoned as a neighbour"]


def test_contacts_messages_and_consents_come_in_time_order_with_their_details(store: Store) -> None:
    c = seed_cases(store)
    data: Any = _export_text(store, c.zoe)[0]
    party = next(case for case in data["cases"] if case["reference"] == c.party)
    late, early = _ids(store, ContactRow, case_ref=c.party)  # entered in that order
    assert party["contacts_with_you"] == [
        {"id": early, "at": (T0 + 11 * DAY).isoformat(), "outcome": "failed", "method": "phone", "note": None},
        {"id": late, "at": (T0 + 12 * DAY).isoformat(), "outcome": "made", "method": "visit",
         "note": "Zoë says [redacted] is at it again"}]
    assert [(m["channel"], m["status"], m["sent_at"]) for m in party["messages_to_you"]] == [
        ("email", "sent", (T0 + timedelta(minutes=3)).isoformat()), ("letter", "pending", None)]
    assert [(x["kind"], x["given"], x["recorded_at"]) for x in data["consents"]] == [
        ("email", True, T0.isoformat()), ("sms", False, (T0 + DAY).isoformat())]


def test_a_subject_alone_in_a_case_gets_every_account_verbatim(store: Store) -> None:
    """No one else to protect (and a subject recorded as their own representative is not someone else)."""
    ann, ref = _id("P"), _id("ASB-S")
    with store.session() as session, session.begin():
        act_as(session, "officer", "test")
        session.add(PersonRow(id=ann, name="Ann Solo", address="1 High Street, Leek", representative_id=ann))
        _add_case(session, ref)
        session.flush()
        session.add_all([PartyRow(case_ref=ref, person_id=ann, role="reporter"),
                         IncidentRow(case_ref=ref, occurred_at=T0, recorded_at=T0, category="noise",
                                     reported_by=None, location="1 High Street",
                                     description="Ann Solo of 1 High Street, Leek: music (officer's note)")])
    data: Any = _export_text(store, ann)[0]
    (case,) = data["cases"]
    (incident,) = case["incidents"]
    assert not incident["reported_by_you"] and case["other_parties"] == []
    assert (incident["location"], incident["description"]) == (
        "1 High Street", "Ann Solo of 1 High Street, Leek: music (officer's note)")


def test_the_export_file_keeps_names_as_written(store: Store, tmp_path: Path) -> None:
    c = seed_cases(store)
    text = write_export(store, c.zoe, tmp_path / "zoe.json", "auditor", "dpo1", NOW).read_text(encoding="utf-8")
    assert '"name": "Zoë Ó Briain"' in text and "\\u" not in text
