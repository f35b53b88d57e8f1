"""The subject access export's content, field by field (casefile/sar.py).

tests/test_data_protection.py proves nobody else's data leaks; this pins what the subject is given, so
a field dropped or renamed in the export is noticed (UK GDPR art. 15: the subject gets all of it).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from casefile.db import Store
from casefile.models import IncidentRow
from casefile.sar import write_export
from tests.test_data_protection import ALICE, NOW, _export_text, seed


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
