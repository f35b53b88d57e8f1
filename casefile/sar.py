"""Subject access requests: everything the case file holds about one person, and nobody else's.

A reporter, a reported person or a witness may ask for their data (UK GDPR art. 15). ASB cases are
full of other people, and disclosing a neighbour's name or address to the person they complained
about can put them at risk, so the export is built by inclusion (only the subject's own rows, and a
case summary without people) rather than by deleting from a dump, and every other party's name,
address, postcode, email and phone is scrubbed from any free text that is kept. Incidents someone
else reported are withheld in full: a partial redaction of another person's account still tells
the subject who said what.

Evidence files follow the same rule. A file is the subject's when they gave it, when it belongs to an
incident they reported, or when no one else is in the case: its bytes go into the export bundle (a
.zip: export.json, and each file under files/ by case and id, listed in the export's "files" index).
Any other file (a neighbour's recording, a CCTV still of someone else) is listed as withheld with its
kind and date: its contents cannot be redacted automatically, and the data protection officer decides
whether to release it. A JSON-only export lists the same index without the files' bytes.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from casefile.audit import act_as, record
from casefile.db import Store
from casefile.evidence import bundle_name, case_files, read_bytes
from casefile.evidence_store import EvidenceStore, default_store
from casefile.models import (
    Base,
    CaseNoteRow,
    CaseRow,
    ConsentRow,
    ContactRow,
    EvidenceRow,
    IncidentRow,
    MessageRow,
    PartyRow,
    PersonRow,
    ReferralRow,
)

#: What replaces another person's identifier inside text the subject is given.
REDACTED = "[redacted]"
#: What replaces an account the subject did not give: it is about, or by, someone else.
WITHHELD = "[redacted: about or by another person]"
#: What stands in for a file the subject is not simply given: it may show or be by someone else.
WITHHELD_FILE = ("[withheld: this file may be about or by another person; the data protection officer "
                 "reviews it before any release]")


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row(obj: Base, skip: Iterable[str] = ()) -> dict[str, Any]:
    """Every column of a row, JSON-ready; the person record is exported whole (art. 15 covers all of it)."""
    skipped = set(skip)
    return {attr.key: _json(getattr(obj, attr.key)) for attr in inspect(obj).mapper.column_attrs
            if attr.key not in skipped}


def _phrase(text: str) -> str:
    """A literal phrase matching however it is spaced, not inside a longer word."""
    words = [re.escape(word) for word in text.split()]
    return r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)"


def _identifiers(person: PersonRow) -> list[str]:
    """Patterns for everything that names or locates another person, longest first when applied.

    Name parts are matched on their own too ("Bob" as well as "Bob Neighbour"), and address lines
    one by one, because people write "Bob at number 14" rather than the form on the record.
    Over-redacting a word the subject shares with someone else is the safe failure.
    """
    patterns: list[str] = []
    if person.name and person.name.strip():
        patterns.append(_phrase(person.name))
        patterns += [_phrase(part) for part in re.split(r"[\s,]+", person.name) if len(part.strip(".")) >= 3]
    if person.address and person.address.strip():
        patterns.append(_phrase(person.address))
        patterns += [_phrase(line) for line in re.split(r"[,\n]+", person.address) if len(line.strip()) >= 4]
    if person.postcode and person.postcode.strip():
        compact = re.sub(r"\s+", "", person.postcode)
        patterns.append(r"(?<!\w)" + r"\s*".join(re.escape(ch) for ch in compact) + r"(?!\w)")
    if person.email and person.email.strip():
        patterns.append(re.escape(person.email.strip()))
    if person.phone:
        digits = re.sub(r"\D", "", person.phone)
        variants = {digits}
        if digits.startswith("0"):
            variants.add("44" + digits[1:])  # 07700 900123 is also +44 7700 900123
        patterns += [r"(?<!\d)\+?" + r"[\s\-().]*".join(variant) + r"(?!\d)"
                     for variant in variants if len(variant) >= 6]
    return patterns


class _Scrubber:
    """Replaces other people's identifiers in free text with "[redacted]"."""

    def __init__(self, others: Iterable[PersonRow]) -> None:
        patterns = sorted({p for person in others for p in _identifiers(person)}, key=len, reverse=True)
        self._regex = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE) if patterns else None

    def __call__(self, text: str | None) -> str | None:
        if text is None or self._regex is None:
            return text
        return self._regex.sub(REDACTED, text)


def _withheld(value: str | None) -> str | None:
    return None if value is None else WITHHELD


def _incident(incident: IncidentRow, subject: str, alone: bool, scrub: _Scrubber) -> dict[str, Any]:
    """The subject's own account (or any account when no one else is in the case), else only its facts."""
    own = incident.reported_by == subject
    summary: dict[str, Any] = {
        "id": incident.id, "occurred_at": _json(incident.occurred_at), "recorded_at": _json(incident.recorded_at),
        "category": incident.category, "hate_strand": incident.hate_strand, "reported_by_you": own,
    }
    summary["reported_by"] = incident.reported_by_kind
    if own or alone:
        summary |= {
            "location": scrub(incident.location), "description": scrub(incident.description),
            "police_reference": scrub(incident.police_reference), "impact": scrub(incident.impact),
            "injuries": scrub(incident.injuries), "partner_reference": scrub(incident.partner_reference),
            "evidence": [{"kind": item.get("kind"), "ref": scrub(item["ref"]) if isinstance(item.get("ref"), str)
                          else item.get("ref")} for item in incident.evidence or []],
        }
    else:
        summary |= {
            "location": _withheld(incident.location), "description": _withheld(incident.description),
            "police_reference": _withheld(incident.police_reference), "impact": _withheld(incident.impact),
            "injuries": _withheld(incident.injuries), "partner_reference": _withheld(incident.partner_reference),
            "evidence": [{"kind": item.get("kind"), "ref": WITHHELD} for item in incident.evidence or []],
        }
    return summary


def _contact(contact: ContactRow, scrub: _Scrubber) -> dict[str, Any]:
    # `by` is a member of staff: withheld like the case officer, by the controller's choice to disclose.
    return {"id": contact.id, "at": _json(contact.at), "outcome": contact.outcome, "method": contact.method,
            "note": scrub(contact.note)}


def _message(message: MessageRow) -> dict[str, Any]:
    # The outbox path, provider id and delivery error are plumbing, not data about the person.
    return {"id": message.id, "channel": message.channel, "template": message.template,
            "addressed_as": message.recipient_role, "status": message.status,
            "created_at": _json(message.created_at), "sent_at": _json(message.sent_at)}


def _evidence(row: EvidenceRow, subject: str, own_incidents: set[int], alone: bool,
              scrub: _Scrubber) -> dict[str, Any]:
    """A file in the subject's case: in full (its bytes go in the bundle) if it is theirs, else withheld."""
    summary: dict[str, Any] = {"id": row.id, "kind": row.kind, "media_type": row.media_type,
                               "added_at": _json(row.added_at), "incident_id": row.incident_id}
    if alone or row.provided_by == subject or (row.incident_id is not None and row.incident_id in own_incidents):
        return summary | {"size": row.size, "sha256": row.digest, "filename": scrub(row.original_name),
                          "description": scrub(row.description), "file": bundle_name(row)}
    return summary | {"withheld": WITHHELD_FILE}


def export_subject(session: Session, person_id: str, now: datetime) -> dict[str, Any]:
    """Everything held about `person_id`, as JSON-ready data with no other person's identifiers in it.

    Cases are those the person is a party to, plus any where they were contacted, written to or
    reported an incident without being recorded as a party, so nothing held about them is missed.
    The export is audited in the caller's transaction, and reads of locked cases are audited too.
    """
    person = session.get(PersonRow, person_id)
    if person is None:
        raise LookupError(f"no person {person_id!r} in the case file")

    parties = session.scalars(select(PartyRow).where(PartyRow.person_id == person_id)).all()
    contacts = session.scalars(
        select(ContactRow).where(ContactRow.person_id == person_id).order_by(ContactRow.at, ContactRow.id)).all()
    messages = session.scalars(
        select(MessageRow).where(MessageRow.recipient_id == person_id)
        .order_by(MessageRow.created_at, MessageRow.id)).all()
    reported = session.scalars(select(IncidentRow.case_ref).where(IncidentRow.reported_by == person_id)).all()
    # Referrals made about the person (003 §9; 004 §3.3): to whom, on what basis, with what outcome.
    referrals = session.scalars(select(ReferralRow).where(ReferralRow.person_id == person_id)
                                .order_by(ReferralRow.made_at, ReferralRow.id)).all()
    refs = sorted({p.case_ref for p in parties} | {c.case_ref for c in contacts} | {m.case_ref for m in messages}
                  | set(reported) | {r.case_ref for r in referrals})

    all_parties = session.scalars(select(PartyRow).where(PartyRow.case_ref.in_(refs)).order_by(PartyRow.id)).all()
    other_ids = {p.person_id for p in all_parties if p.person_id != person_id}
    if person.representative_id and person.representative_id != person_id:
        other_ids.add(person.representative_id)
    others = session.scalars(select(PersonRow).where(PersonRow.id.in_(other_ids))).all() if other_ids else []
    scrub = _Scrubber(others)

    cases: list[dict[str, Any]] = []
    for ref in refs:
        case = session.get(CaseRow, ref)
        in_case = [p for p in all_parties if p.case_ref == ref]
        other_parties = [p for p in in_case if p.person_id != person_id]
        if case is not None and case.locked:
            record(session, "read", "cases", ref, ref)
        incidents = session.scalars(
            select(IncidentRow).where(IncidentRow.case_ref == ref).order_by(IncidentRow.occurred_at, IncidentRow.id)
        ).all()
        own_incidents = {i.id for i in incidents if i.reported_by == person_id}
        cases.append({
            "reference": ref,
            "stage": case.stage if case else None,
            "opened_at": _json(case.opened_at) if case else None,
            "closed_at": _json(case.closed_at) if case else None,
            "closure_reason": case.closure_reason if case else None,
            "category": case.category if case else None,
            "risk": case.risk if case else None,
            "your_roles": sorted({p.role for p in in_case if p.person_id == person_id}),
            "other_parties": [{"role": p.role, "person": REDACTED} for p in other_parties],
            "incidents": [_incident(i, person_id, not other_parties, scrub) for i in incidents],
            "contacts_with_you": [_contact(c, scrub) for c in contacts if c.case_ref == ref],
            "messages_to_you": [_message(m) for m in messages if m.case_ref == ref],
            # made_by and outcome_by name staff or a partner's staff: withheld like other staff identifiers.
            "referrals_about_you": [_row(r, skip=("id", "case_ref", "made_by", "outcome_by", "note_ref",
                                                  "outcome_note_ref", "person_id"))
                                    for r in referrals if r.case_ref == ref],
            # Notes officers recorded on the case: disclosable (004 §3.7), other people scrubbed. A pending
            # note (its command sent, not yet on the timeline) is held, so it is disclosed, marked as such.
            # A typed note's kind is disclosed; the people involved are: the subject, or "someone else".
            "case_notes": [
                {"at": _json(n.at), "command": n.command, "text": scrub(n.text), "status": n.status,
                 **({"kind": n.kind, "people": [("you" if p.get("person_id") == person_id else REDACTED)
                                                for p in n.people or []]} if n.kind else {})}
                for n in session.scalars(select(CaseNoteRow).where(CaseNoteRow.case_ref == ref,
                                                                   CaseNoteRow.status != "discarded")
                                         .order_by(CaseNoteRow.at, CaseNoteRow.id)).all()
            ],
            "evidence": [_evidence(row, person_id, own_incidents, not other_parties, scrub)
                         for row in case_files(session, ref)],
        })

    consents = session.scalars(
        select(ConsentRow).where(ConsentRow.person_id == person_id).order_by(ConsentRow.recorded_at, ConsentRow.id)
    ).all()
    record(session, "export", "people", person_id, None)
    return {
        "subject": person_id,
        "exported_at": _json(now),
        "person": _row(person),
        # recorded_by names a member of staff; withheld like every other staff identifier.
        "consents": [_row(c, skip=("recorded_by",)) for c in consents],
        "cases": cases,
        # The index of the files disclosed: each one's place in the bundle, and what it is.
        "files": [{"file": item["file"], "case": case["reference"], "evidence_id": item["id"], "kind": item["kind"],
                   "media_type": item["media_type"], "size": item["size"], "sha256": item["sha256"]}
                  for case in cases for item in case["evidence"] if "file" in item],
    }


def write_export(store: Store, person_id: str, out_path: str | os.PathLike[str], actor_role: str, actor_id: str,
                 now: datetime, *, evidence_store: EvidenceStore | None = None) -> Path:
    """Export one subject to `out_path`, audited to the actor: a bundle when it ends in .zip (export.json
    and the subject's files, each file's read audited too), else the export as pretty JSON, whose
    "files" index then lists the files without their bytes ("files_included": false).

    The file is written beside its destination and moved into place only after the audit rows have
    committed, so there is never an export on disk that the audit log does not know about. A file
    missing or damaged in the evidence store fails the export (EvidenceUnavailable) rather than leaving
    it out unnoticed.
    """
    target = Path(out_path)
    bundle = target.suffix.lower() == ".zip"
    partial = target.with_name(f".{target.name}.partial")
    try:
        with store.session() as session:
            act_as(session, actor_role, actor_id)
            with session.begin():
                data = export_subject(session, person_id, now)
                data["files_included"] = bundle
                if not bundle:
                    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
                else:
                    _write_bundle(session, data, partial, evidence_store)
        os.replace(partial, target)  # only once the audit rows are committed
    finally:
        partial.unlink(missing_ok=True)
    return target


def _write_bundle(session: Session, data: dict[str, Any], path: Path, evidence_store: EvidenceStore | None) -> None:
    files = data["files"]
    if files and evidence_store is None:
        evidence_store = default_store()
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("export.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                        compress_type=zipfile.ZIP_DEFLATED)
        for entry in files:
            row = session.get(EvidenceRow, entry["evidence_id"])
            assert row is not None and evidence_store is not None
            record(session, "read", "evidence", str(row.id), row.case_ref, after={"purpose": "subject access"})
            # Photos and recordings are compressed already: stored as they are.
            bundle.writestr(entry["file"], read_bytes(evidence_store, row), compress_type=zipfile.ZIP_STORED)
