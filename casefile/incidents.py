"""Incidents on an open case, and reports attached to one (issue 12 items 1 and 6).

An incident's details (where, what happened, its impact and injuries, a police or partner reference,
the app feed that sent it: 003 §12) are free text and references, so they stay in the case file: the
door writes them as a *pending* incident row under a reference before it sends `record_incident`, and
the workflow gets only `incident_ref`. Recording the incident's event confirms the row
(activities/case_file.py); a refused command deletes it; the reconciler settles any left over.

A report about a matter a case is already dealing with (the Regulator's NM01 rule: a further report
while a case is open is not a new case) is attached to that case as an incident instead of opening a
new one: its people join the case (the reporter as a reporter, its witnesses as witnesses, the person
it names as a reported person), its incident is written pending, and the ids-only command that records
it is kept on the row (`command`) until the case has recorded it, so the door, a resend and the
reconciler can all send it, and Temporal's Update-id dedupe applies it once.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casefile import audit
from casefile.intake import IntakeReport, PersonDetails, write_person
from casefile.models import CaseRow, IncidentRow, PartyRow
from statemachine.commands import INCIDENT_TEXT, Actor

#: Where an attached report's details go on its incident row.
_FROM_REPORT = ("location", "description", "police_reference", "impact", "injuries")


def incident_ref(seed: str | None = None) -> str:
    """A pending incident's reference: derived from `seed` (an Update id, an idempotency key, an app's
    report id) so a retry writes and sends the same one, else fresh."""
    digest = hashlib.sha256(seed.encode()).hexdigest() if seed else uuid.uuid4().hex
    return f"I-{digest[:16]}"


def attach_update_id(ref: str) -> str:
    """The Update id of the command recording an attached report: one per incident, so it applies once."""
    return f"attach-{ref}"


def write_pending_incident(
    session: Session, case_ref: str, ref: str, *, occurred_at: datetime, category: str, recorded_at: datetime,
    details: dict[str, Any], hate_strand: str | None = None, reported_by_kind: str | None = None,
    reporter_id: str | None = None, evidence: list[dict[str, Any]] | None = None, report_ref: str | None = None,
    command: dict[str, Any] | None = None,
) -> IncidentRow:
    """The incident row a command or an attached report will confirm; a retry with the same ref finds it."""
    row = session.scalars(select(IncidentRow).where(IncidentRow.ref == ref)).first()
    if row is not None:
        return row
    unknown = set(details) - set(INCIDENT_TEXT)
    if unknown:
        raise ValueError(f"not an incident detail: {', '.join(sorted(unknown))}")
    row = IncidentRow(
        case_ref=case_ref, ref=ref, status="pending", occurred_at=occurred_at, category=category,
        hate_strand=hate_strand, reported_by_kind=reported_by_kind, reported_by=reporter_id,
        evidence=evidence or [], recorded_at=recorded_at, report_ref=report_ref, command=command, **details,
    )
    session.add(row)
    session.flush()
    return row


def discard_pending_incident(session: Session, ref: str) -> None:
    """A refused command changed nothing, so its details are not kept (unless its event confirmed them)."""
    row = session.scalars(select(IncidentRow).where(IncidentRow.ref == ref, IncidentRow.status != "confirmed")).first()
    if row is not None:
        audit.act_as(session, "system", "refused-command")
        session.delete(row)


@dataclass(frozen=True)
class Attached:
    """A report attached to an open case: the incident it became and the command that records it."""

    case_ref: str
    incident_ref: str
    update_id: str
    args: dict[str, Any]
    actor: Actor
    #: The case has recorded it: nothing left to send.
    recorded: bool = False


def _party(session: Session, case_ref: str, person_id: str, role: str, anonymous: bool) -> None:
    """Add the person to the case in `role` unless they are in it already (in any role: one person is
    never both the reporter and the reported person of one case)."""
    roles = set(session.scalars(select(PartyRow.role).where(PartyRow.case_ref == case_ref,
                                                            PartyRow.person_id == person_id)))
    if roles:
        return
    session.add(PartyRow(case_ref=case_ref, person_id=person_id, role=role, anonymous=anonymous))
    session.flush()


def attach_report(
    session: Session, case: CaseRow, report: IntakeReport, received_at: datetime, actor: Actor, *, seed: str | None,
    reported_by: str = "reporter", feed: str | None = None, feed_id: str | None = None,
    report_ref: str | None = None,
) -> Attached:
    """Write a report's people and incident onto the open case `case`, pending the `record_incident` that
    records it (returned, ids only: the caller sends it). Idempotent by `seed`: the same report attached
    again finds its incident row and sends the same command."""
    ref = incident_ref(f"attach/{case.reference}/{seed}" if seed else None)
    existing = session.scalars(select(IncidentRow).where(IncidentRow.ref == ref)).first()
    if existing is not None and existing.command is not None:
        return _attached(existing)  # attached before: its people are on the case already
    audit.act_as(session, actor.role, actor.id)
    reporter: str | None = None
    given = report.reporter
    if given.id or given.name or given.address or given.email or given.phone:
        person = write_person(session, given, received_at, actor.id, case.reference)
        _party(session, case.reference, person.id, "reporter", given.anonymous)
        reporter = person.id
    for witness in report.witnesses:
        person = write_person(session, witness, received_at, actor.id, case.reference)
        _party(session, case.reference, person.id, "witness", witness.anonymous)
    if report.reported_person is not None and _names_someone(report.reported_person):
        person = write_person(session, report.reported_person, received_at, actor.id, case.reference)
        _party(session, case.reference, person.id, "reported_person", False)
    incident = report.incident
    occurred = incident.occurred_at if incident is not None else received_at
    details: dict[str, Any] = {}
    if incident is not None:
        details = {name: getattr(incident, name) for name in _FROM_REPORT if getattr(incident, name) is not None}
    if feed is not None:
        details |= {"feed": feed, "feed_id": feed_id}
    args: dict[str, Any] = {
        "occurred_at": occurred.isoformat(), "category": report.category, "reported_by": reported_by,
        "incident_ref": ref,
    }
    if report.hate:
        args["hate"] = True
    if report.hate_strand:
        args["hate_strand"] = report.hate_strand
    if report.violence_or_threats:
        args["violence_or_threats"] = True
    if reporter is not None:
        args["reporter_id"] = reporter
        if not given.anonymous:  # told that the report joined the open case (issue 12 item 6)
            args["acknowledge"] = True
    update_id = attach_update_id(ref)
    row = write_pending_incident(
        session, case.reference, ref, occurred_at=occurred, category=report.category, recorded_at=received_at,
        details=details, hate_strand=report.hate_strand, reported_by_kind=reported_by, reporter_id=reporter,
        evidence=[e.model_dump() for e in incident.evidence] if incident is not None else [], report_ref=report_ref,
        command={"args": args, "actor": actor.model_dump(), "update_id": update_id},
    )
    return _attached(row)


def attach_case(session: Session, source: CaseRow, target: CaseRow, actor: Actor, *, seed: str) -> list[Attached]:
    """An officer's decision that case `source` is a further report about the open case `target`: its
    reporters and witnesses join `target`, and each of its incidents (the report's own, and any recorded
    since) is written pending on `target` with the command recording it. The first acknowledges the
    attachment to the source's reporter. Idempotent by `seed`. Closing `source` as a duplicate is the
    caller's next step (a lifecycle command)."""
    first = incident_ref(f"attach/{target.reference}/{seed}/0")
    existing = session.scalars(select(IncidentRow).where(IncidentRow.ref == first)).first()
    if existing is not None and existing.command is not None:  # attached before: the same commands again
        rows = session.scalars(select(IncidentRow).where(IncidentRow.case_ref == target.reference,
                                                         IncidentRow.report_ref == source.reference,
                                                         IncidentRow.command.is_not(None))
                               .order_by(IncidentRow.id)).all()
        return [_attached(row) for row in rows]
    audit.act_as(session, actor.role, actor.id)
    parties = session.scalars(select(PartyRow).where(PartyRow.case_ref == source.reference).order_by(PartyRow.id)).all()
    reporter: PartyRow | None = None
    for party in parties:
        if party.role in ("reporter", "witness"):
            _party(session, target.reference, party.person_id, party.role, bool(party.anonymous))
        if party.role == "reporter" and reporter is None:
            reporter = party
    incidents = session.scalars(select(IncidentRow).where(IncidentRow.case_ref == source.reference,
                                                          IncidentRow.status == "confirmed")
                                .order_by(IncidentRow.occurred_at, IncidentRow.id)).all()
    if not incidents:  # a report logged without an incident's details: it still happened, when reported
        incidents = [IncidentRow(occurred_at=source.opened_at, category=source.category, evidence=[])]
    out: list[Attached] = []
    for index, incident in enumerate(incidents):
        ref = incident_ref(f"attach/{target.reference}/{seed}/{index}")
        kind = incident.reported_by_kind or ("reporter" if reporter is not None else None)
        person = incident.reported_by or (reporter.person_id if reporter is not None else None)
        args: dict[str, Any] = {"occurred_at": incident.occurred_at.isoformat(), "category": incident.category,
                                "incident_ref": ref}
        if kind:
            args["reported_by"] = kind
        if incident.hate_strand:
            args["hate_strand"] = incident.hate_strand
        elif source.hate:
            args["hate"] = True
        if person:
            args["reporter_id"] = person
        if index == 0 and reporter is not None and not reporter.anonymous:
            args["reporter_id"] = reporter.person_id
            args["acknowledge"] = True  # told that their report is now dealt with on the open case
        details = {name: getattr(incident, name) for name in INCIDENT_TEXT if getattr(incident, name) is not None}
        row = write_pending_incident(
            session, target.reference, ref, occurred_at=incident.occurred_at, category=incident.category,
            recorded_at=datetime.now(UTC), details=details, hate_strand=incident.hate_strand, reported_by_kind=kind,
            reporter_id=args.get("reporter_id"), evidence=list(incident.evidence or []), report_ref=source.reference,
            command={"args": args, "actor": actor.model_dump(), "update_id": attach_update_id(ref)},
        )
        out.append(_attached(row))
    return out


def _names_someone(person: PersonDetails) -> bool:
    return bool(person.id or person.name or person.description or person.address or person.uprn)


def _attached(row: IncidentRow) -> Attached:
    command = row.command or {}
    return Attached(case_ref=row.case_ref, incident_ref=str(row.ref), update_id=str(command["update_id"]),
                    args=dict(command["args"]), actor=Actor.model_validate(command["actor"]),
                    recorded=row.status == "confirmed")


def pending_attachment(session: Session, ref: str) -> Attached | None:
    """The attached report's command, if the case has not recorded it yet."""
    row = session.scalars(select(IncidentRow).where(IncidentRow.ref == ref, IncidentRow.status == "pending",
                                                    IncidentRow.command.is_not(None))).first()
    return _attached(row) if row is not None else None


def pending_attachments(session: Session) -> list[Attached]:
    """Every attached report whose incident the case has not yet recorded, oldest first (the reconciler)."""
    rows = session.scalars(select(IncidentRow).where(IncidentRow.status == "pending", IncidentRow.command.is_not(None))
                           .order_by(IncidentRow.recorded_at, IncidentRow.id)).all()
    return [_attached(row) for row in rows]


def find_by_report_ref(session: Session, report_ref: str) -> str | None:
    """The case a report with its own reference was attached to (a public report: casefile intake)."""
    return session.scalars(select(IncidentRow.case_ref).where(IncidentRow.report_ref == report_ref)).first()
