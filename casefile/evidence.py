"""Evidence: the files an officer gathers for a case (000 "Evidence gathering"; 003 stage 2: CCTV, Noise
App recordings, diary sheets, photos, letters), kept so they can support a warning or a court case
(004 §2.1: "provide supporting evidence") and, like everything recorded, disclosed to a subject who asks
(004 §3.7) and erased when retention runs out (003 §15).

The doors (API, CLI, web) call the functions here; nothing here reaches Temporal, so no file, file name
or description is ever in a workflow's history.

- add_evidence checks the file against the deployment's limits (size, allowed media types) and its
  bytes against what it claims to be (casefile/sniff.py: a program called photo.jpg is refused),
  stores it by digest (casefile/evidence_store.py) and adds its row. The same bytes added to a case
  again find the first row; an Idempotency-Key makes a resent upload find its first answer.
- open_evidence reads a file back (checked against its digest), list_evidence lists a case's files,
  delete_evidence removes one. Every add, read and delete is in the audit log.
- Who may remove a file (may_delete): a manager or senior manager, on any case they can see; anyone
  else only a file they added themselves, within OWN_DELETE_WINDOW (a wrong file, or the wrong case,
  noticed at once). After that the file may already have been relied on (a warning, a court bundle,
  004 §2.1) or disclosed (004 §3.7), so removing it is a manager's decision, and it is audited.
- remove_case_evidence is retention's part (casefile/retention.py); evidence_for_export the subject
  access export's (casefile/sar.py).

Bytes are deleted from the store only after the transaction that removed their last row has
committed, and only while no row refers to them: the evidence_objects row for a digest is the lock
that an upload and a purge both take, so a purge never deletes a file that an upload is adding.
A purge that could not run (the store was down, the process died) is finished by the next one:
the digest stays marked as orphaned until its bytes are gone.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, delete, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casefile import audit
from casefile.access import MANAGERS, CaseNotFound, open_case
from casefile.evidence_store import (
    EvidenceSettings,
    EvidenceStore,
    ObjectCorrupt,
    ObjectMissing,
    digest_of,
    open_store,
)
from casefile.idempotency import KEY_PATTERN, KeyReused, key_hash
from casefile.models import EvidenceObjectRow, EvidenceRow, IncidentRow, PartyRow
from casefile.sniff import TYPES, describe, normalise, same_type, sniff

log = logging.getLogger(__name__)

Kind = Literal["recording", "photo", "diary_sheet", "letter", "cctv_still", "document", "other"]
#: What a file may be declared as. A kind narrows the media types it may have (KIND_TYPES).
KINDS: tuple[str, ...] = ("recording", "photo", "diary_sheet", "letter", "cctv_still", "document", "other")
_IMAGES = frozenset(t for t in TYPES if t.startswith("image/"))
_SOUND_AND_VIDEO = frozenset(t for t in TYPES if t.startswith(("audio/", "video/")))
_PAPERS = _IMAGES | {"application/pdf", "text/plain",
                     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
KIND_TYPES: dict[str, frozenset[str]] = {
    "recording": _SOUND_AND_VIDEO,
    "photo": _IMAGES,
    "cctv_still": _IMAGES,
    "diary_sheet": _PAPERS,
    "letter": _PAPERS,
    "document": _PAPERS,
    "other": frozenset(TYPES),
}
#: Longest description kept with a file.
DESCRIPTION_MAX = 2000
#: Longest file name kept for display (the extension is kept when a name is cut).
NAME_MAX = 120
#: A store object that no row knows is removed by the sweep only once it is this old: younger ones may be
#: an upload whose transaction has not committed yet.
STRAY_GRACE = timedelta(hours=24)
#: How long the person who added a file may remove it themselves (may_delete).
OWN_DELETE_WINDOW = timedelta(hours=1)
_KEY = re.compile(KEY_PATTERN)
_SCOPE = "evidence"


class EvidenceError(Exception):
    """Base of the evidence errors; `field` names what was wrong, for a door's {"detail", "field"}."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class EvidenceRefused(EvidenceError, ValueError):
    """The upload broke a rule (size, type, its bytes not being what it says, a bad field): nothing stored."""


class EvidenceKeyReused(EvidenceRefused, KeyReused):
    """The Idempotency-Key was given before with another file or case."""


class EvidenceNotFound(EvidenceError, LookupError):
    """No such evidence (or it is on a case this person may not see, which looks the same)."""


class EvidenceDeleteRefused(EvidenceError, PermissionError):
    """This person may not remove this file (may_delete says why): nothing was changed."""


class EvidenceUnavailable(EvidenceError, RuntimeError):
    """The row is there but its bytes are missing or damaged in the store: nothing is shown as evidence."""


class EvidenceInfo(BaseModel):
    """A file on a case, as the doors show it (no bytes)."""

    model_config = ConfigDict(frozen=True)

    id: int
    case_ref: str
    incident_id: int | None
    kind: str
    media_type: str
    size: int
    sha256: str
    #: The uploader's file name, sanitised: display only.
    filename: str
    description: str | None
    provided_by: str | None
    shareable: bool
    added_by: str
    added_at: datetime

    @classmethod
    def of(cls, row: EvidenceRow) -> EvidenceInfo:
        return cls(id=row.id, case_ref=row.case_ref, incident_id=row.incident_id, kind=row.kind,
                   media_type=row.media_type, size=row.size, sha256=row.digest, filename=row.original_name,
                   description=row.description, provided_by=row.provided_by, shareable=row.shareable,
                   added_by=row.added_by, added_at=row.added_at)


@dataclass(frozen=True)
class AddedEvidence:
    evidence: EvidenceInfo
    #: False when the case already had these bytes, or the Idempotency-Key named an earlier add.
    created: bool


@dataclass(frozen=True)
class OpenedEvidence:
    evidence: EvidenceInfo
    content: bytes


def _settings(settings: EvidenceSettings | None) -> EvidenceSettings:
    return settings if settings is not None else EvidenceSettings.from_env()


def _store(store: EvidenceStore | None, settings: EvidenceSettings | None = None) -> EvidenceStore:
    return store if store is not None else open_store(_settings(settings))


# --- checking an upload --------------------------------------------------------------------------------


def sanitise_name(name: str | None) -> str:
    """The uploader's file name made safe to show: no folders, no control or direction-changing
    characters (so "photo\u202egpj.exe" cannot pose as a .jpg), trimmed; it is never used as a path."""
    text = unicodedata.normalize("NFC", name or "")
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    text = re.sub(r"\s+", " ", text).strip().lstrip(".").strip()
    if len(text) > NAME_MAX:
        stem, dot, ext = text.rpartition(".")
        ext = ext if dot and stem and len(ext) <= 10 else ""
        text = text[: NAME_MAX - len(ext) - (1 if ext else 0)].rstrip() + (f".{ext}" if ext else "")
    return text or "file"


def _extension(name: str) -> str | None:
    stem, dot, ext = name.rpartition(".")
    return f".{ext.lower()}" if dot and stem else None


@dataclass(frozen=True)
class _Checked:
    media_type: str
    filename: str
    description: str | None


def check_upload(content: bytes, filename: str | None, declared_type: str | None, kind: str,
                 description: str | None, settings: EvidenceSettings) -> _Checked:
    """Refuse a file the deployment does not accept, or whose bytes are not what it claims to be."""
    if kind not in KINDS:
        raise EvidenceRefused(f"kind must be one of {', '.join(KINDS)}", "kind")
    size = len(content)
    if size == 0:
        raise EvidenceRefused("the file is empty", "file")
    if size > settings.max_bytes:
        raise EvidenceRefused(f"the file is {_size(size)}; the largest accepted is {_size(settings.max_bytes)}",
                              "file")
    declared = normalise(declared_type)
    if declared is not None and declared not in settings.media_types:
        raise EvidenceRefused(f"{declared_type!s:.100} files are not accepted; accepted: "
                              f"{', '.join(sorted(settings.media_types))}", "media_type")
    sniffed = sniff(content)
    if sniffed is None or sniffed not in settings.media_types:
        raise EvidenceRefused(f"the file is {describe(content)}, which is not accepted as evidence; accepted: "
                              f"{', '.join(sorted(settings.media_types))}", "file")
    if declared is not None and not same_type(declared, sniffed):
        raise EvidenceRefused(f"the file was sent as {declared} but it is {TYPES[sniffed].label} "
                              f"({sniffed})", "media_type")
    media_type = declared or sniffed
    name = sanitise_name(filename)
    ext = _extension(name)
    if ext is not None and ext not in TYPES[media_type].extensions:
        raise EvidenceRefused(f"the file name ends in {ext:.12} but the file is {TYPES[sniffed].label}; "
                              f"rename it to end in {' or '.join(TYPES[media_type].extensions)}", "filename")
    if media_type not in KIND_TYPES[kind]:
        raise EvidenceRefused(f"{TYPES[media_type].label} cannot be a {kind.replace('_', ' ')}", "kind")
    text = description.strip() if description is not None else None
    if text is not None:
        if "\x00" in text:
            raise EvidenceRefused("the description may not contain NUL characters", "description")
        if len(text) > DESCRIPTION_MAX:
            raise EvidenceRefused(f"the description is longer than {DESCRIPTION_MAX} characters", "description")
    return _Checked(media_type=media_type, filename=name, description=text or None)


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB".replace(".0 MiB", " MiB")
    if size >= 1024:
        return f"{size / 1024:.1f} KiB".replace(".0 KiB", " KiB")
    return f"{size} bytes"


# --- the object lock ------------------------------------------------------------------------------------


def _insert_ignoring(session: Session) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(EvidenceObjectRow.__table__).on_conflict_do_nothing(index_elements=["digest"])


def _inserted(session: Session, statement: Any) -> bool:
    """Whether an INSERT ... ON CONFLICT DO NOTHING added its row (told by RETURNING: drivers need not
    report an INSERT's row count)."""
    table = EvidenceObjectRow.__table__
    return session.execute(statement.returning(table.c.digest)).first() is not None


def _lock_object(session: Session, digest: str) -> EvidenceObjectRow | None:
    return session.scalars(
        select(EvidenceObjectRow).where(EvidenceObjectRow.digest == digest).with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _claim_object(session: Session, digest: str, size: int, media_type: str,
                  now: datetime) -> tuple[EvidenceObjectRow, bool]:
    """The digest's object row, created if need be (and whether it was), locked until the caller's
    transaction ends.

    A purge of the same digest holds the same lock while it deletes the bytes, so once this returns the
    bytes can be (re)stored and a row added without a purge removing them underneath."""
    for _ in range(5):
        inserted = _inserted(session, _insert_ignoring(session).values(
            digest=digest, size=size, media_type=media_type, stored_at=now, orphaned_at=None))
        obj = _lock_object(session, digest)
        if obj is not None:
            if inserted:
                audit.record(session, "create", "evidence_objects", digest, None,
                             after={"size": size, "media_type": media_type})
            return obj, inserted
        # A purge deleted it between our insert (which found it there) and our lock: insert it again.
    raise RuntimeError(f"could not lock evidence object {digest}")


# --- the service ----------------------------------------------------------------------------------------


def add_evidence(
    session: Session, case_ref: str, content: bytes, *, filename: str | None, kind: str, role: str, actor_id: str,
    media_type: str | None = None, incident_id: int | None = None, description: str | None = None,
    provided_by: str | None = None, shareable: bool = False, idempotency_key: str | None = None,
    store: EvidenceStore | None = None, settings: EvidenceSettings | None = None, now: datetime | None = None,
) -> AddedEvidence:
    """Add a file to a case, in the caller's transaction (which must commit for the row to stay).

    `media_type` is what the sender declared (an upload's Content-Type; None or octet-stream: unknown);
    it must match the sniffed bytes. `filename` is shown to people only. `incident_id` must be an
    incident of this case and `provided_by` a party to it. Raises EvidenceRefused (with `field`) when the
    file or a field breaks a rule, with nothing stored; CaseNotFound for a case this person may not see.
    The same bytes on the same case give back the existing row (created=False), and so does a resend with
    the same `idempotency_key`; that key with another file or case raises EvidenceKeyReused.
    """
    now = now or datetime.now(UTC)
    settings = _settings(settings)
    audit.act_as(session, role, actor_id)
    case = open_case(session, case_ref, role, actor_id, purpose="add evidence")
    if case.anonymised_at is not None:
        raise EvidenceRefused(f"case {case_ref} has been anonymised under retention; it takes no new evidence",
                              "case_ref")
    checked = check_upload(content, filename, media_type, kind, description, settings)
    key = None
    if idempotency_key is not None:
        if not isinstance(idempotency_key, str) or not _KEY.fullmatch(idempotency_key):
            raise EvidenceRefused("Idempotency-Key must be 1 to 255 printable characters without spaces",
                                  "Idempotency-Key")
        key = key_hash(f"{_SCOPE}\n{role}\n{actor_id}", idempotency_key)
    digest = digest_of(content)
    if key is not None:
        earlier = session.scalars(select(EvidenceRow).where(EvidenceRow.idempotency_key_hash == key)).first()
        if earlier is not None:
            if earlier.case_ref == case_ref and earlier.digest == digest:
                return AddedEvidence(EvidenceInfo.of(earlier), created=False)
            raise EvidenceKeyReused("this Idempotency-Key was used before with another file or case",
                                    "Idempotency-Key")
    if incident_id is not None:
        incident = session.get(IncidentRow, incident_id)
        if incident is None or incident.case_ref != case_ref:
            raise EvidenceRefused(f"case {case_ref} has no incident {incident_id}", "incident_id")
    if provided_by is not None:
        party = session.scalars(select(PartyRow.id).where(PartyRow.case_ref == case_ref,
                                                          PartyRow.person_id == provided_by)).first()
        if party is None:
            raise EvidenceRefused(f"{provided_by:.64} is not a party to case {case_ref}", "provided_by")

    store = _store(store, settings)
    obj, new = _claim_object(session, digest, len(content), checked.media_type, now)
    if new or not store.exists(digest):
        store.put(content)  # under the lock: a purge of these bytes waits for this transaction
    existing = _on_case(session, case_ref, digest)
    if existing is not None:  # the case has these bytes already (perhaps from an upload a moment ago)
        return AddedEvidence(EvidenceInfo.of(existing), created=False)
    obj.orphaned_at = None
    row = EvidenceRow(case_ref=case_ref, incident_id=incident_id, digest=digest, kind=kind,
                      media_type=checked.media_type, size=len(content), original_name=checked.filename,
                      description=checked.description, provided_by=provided_by, shareable=bool(shareable),
                      added_by=actor_id, added_at=now, idempotency_key_hash=key)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # The same Idempotency-Key, sent at once with another file: the first one holds it.
        _orphan_if_unreferenced(session, digest, now)
        raise EvidenceKeyReused("this Idempotency-Key was used before with another file or case",
                                "Idempotency-Key") from None
    return AddedEvidence(EvidenceInfo.of(row), created=True)


def _on_case(session: Session, case_ref: str, digest: str) -> EvidenceRow | None:
    return session.scalars(select(EvidenceRow).where(EvidenceRow.case_ref == case_ref,
                                                     EvidenceRow.digest == digest)).first()


def list_evidence(session: Session, case_ref: str, *, role: str, actor_id: str,
                  incident_id: int | None = None) -> list[EvidenceInfo]:
    """A case's files, oldest first (optionally one incident's). Seeing the list of a locked case is
    audited like any read of it (casefile/access.py); reading a file is always audited (open_evidence)."""
    open_case(session, case_ref, role, actor_id, purpose="list evidence")
    query = select(EvidenceRow).where(EvidenceRow.case_ref == case_ref)
    if incident_id is not None:
        query = query.where(EvidenceRow.incident_id == incident_id)
    return [EvidenceInfo.of(row) for row in session.scalars(query.order_by(EvidenceRow.added_at, EvidenceRow.id))]


def _visible(session: Session, evidence_id: int, role: str, actor_id: str, purpose: str,
             case_ref: str | None = None) -> EvidenceRow:
    """The row, if this person may see its case (and it is on `case_ref`, when a door names the case):
    otherwise EvidenceNotFound, the same answer for a file that does not exist."""
    row = session.get(EvidenceRow, evidence_id) if isinstance(evidence_id, int) else None
    if row is None or (case_ref is not None and row.case_ref != case_ref):
        raise EvidenceNotFound(f"no evidence {evidence_id}", "evidence_id")
    try:
        open_case(session, row.case_ref, role, actor_id, purpose=purpose)
    except CaseNotFound:
        raise EvidenceNotFound(f"no evidence {evidence_id}", "evidence_id") from None
    return row


def evidence_info(session: Session, evidence_id: int, *, role: str, actor_id: str,
                  case_ref: str | None = None) -> EvidenceInfo:
    """One file's details without its bytes (EvidenceNotFound if this person may not see its case)."""
    return EvidenceInfo.of(_visible(session, evidence_id, role, actor_id, "evidence details", case_ref))


def open_evidence(session: Session, evidence_id: int, *, role: str, actor_id: str, purpose: str = "view",
                  store: EvidenceStore | None = None, case_ref: str | None = None) -> OpenedEvidence:
    """A file's bytes, checked against their digest, with the read audited in the caller's transaction
    (commit it: an uncommitted read leaves no audit row). Raises EvidenceNotFound, or EvidenceUnavailable
    when the store no longer has the bytes or they were changed there."""
    row = _visible(session, evidence_id, role, actor_id, "open evidence", case_ref)
    audit.act_as(session, role, actor_id)
    audit.record(session, "read", "evidence", str(row.id), row.case_ref, after={"purpose": purpose[:40]})
    return OpenedEvidence(EvidenceInfo.of(row), read_bytes(_store(store), row))


def read_bytes(store: EvidenceStore, row: EvidenceRow) -> bytes:
    """The row's bytes from the store, or EvidenceUnavailable (naming the row, never the file)."""
    try:
        return store.get(row.digest)
    except ObjectMissing:
        raise EvidenceUnavailable(f"evidence {row.id}: its file is missing from the evidence store",
                                  "evidence_id") from None
    except ObjectCorrupt:
        raise EvidenceUnavailable(f"evidence {row.id}: its stored file has been changed or damaged "
                                  "(it no longer matches its SHA-256 digest)", "evidence_id") from None


def set_shareable(session: Session, evidence_id: int, shareable: bool, *, role: str, actor_id: str,
                  case_ref: str | None = None) -> EvidenceInfo:
    """Say whether a file may be shared with partner agencies (no by default); the change is audited."""
    row = _visible(session, evidence_id, role, actor_id, "share evidence", case_ref)
    audit.act_as(session, role, actor_id)
    row.shareable = bool(shareable)
    session.flush()
    return EvidenceInfo.of(row)


def may_delete(info: EvidenceInfo, role: str, actor_id: str, now: datetime) -> str | None:
    """Why this person may not remove this file, or None if they may: managers may remove any file on a
    case they can see; anyone else only one they added, within OWN_DELETE_WINDOW of adding it."""
    if role in MANAGERS:
        return None
    if info.added_by != actor_id:
        return f"evidence {info.id} was added by someone else; ask a manager to remove it"
    if now - info.added_at > OWN_DELETE_WINDOW:
        minutes = int(OWN_DELETE_WINDOW.total_seconds() // 60)
        return (f"evidence {info.id} was added more than {minutes} minutes ago and may have been relied on; "
                "ask a manager to remove it")
    return None


def delete_evidence(session: Session, evidence_id: int, *, role: str, actor_id: str,
                    store: EvidenceStore | None = None, now: datetime | None = None,
                    case_ref: str | None = None) -> EvidenceInfo:
    """Remove a file from its case, audited, if this person may (may_delete; else EvidenceDeleteRefused).
    Its bytes leave the store once the caller's transaction has committed, unless another row (this file
    on another case) still refers to them."""
    now = now or datetime.now(UTC)
    row = _visible(session, evidence_id, role, actor_id, "delete evidence", case_ref)
    info = EvidenceInfo.of(row)
    refusal = may_delete(info, role, actor_id, now)
    if refusal is not None:
        raise EvidenceDeleteRefused(refusal, "evidence_id")
    audit.act_as(session, role, actor_id)
    session.delete(row)
    session.flush()
    if _orphan_if_unreferenced(session, info.sha256, now):
        purge_after_commit(session, store)
    return info


def _orphan_if_unreferenced(session: Session, digest: str, now: datetime) -> bool:
    """Mark the digest's object orphaned if no row refers to it any more (under its lock)."""
    obj = _lock_object(session, digest)
    if obj is None:
        return False
    session.flush()
    refs = session.scalar(select(func.count()).select_from(EvidenceRow).where(EvidenceRow.digest == digest))
    if refs:
        return False
    if obj.orphaned_at is None:
        obj.orphaned_at = now
    return True


def remove_case_evidence(session: Session, case_ref: str, now: datetime, apply: bool = True) -> int:
    """Retention's part: delete every file row of the case (audited one by one) and mark each object no
    other row refers to as orphaned. Its bytes go once the transaction commits (purge_after_commit, which
    the caller arranges). With apply=False only counts. Returns the number of rows (to be) removed."""
    rows = session.scalars(select(EvidenceRow).where(EvidenceRow.case_ref == case_ref)
                           .order_by(EvidenceRow.id)).all()
    if not apply:
        return len(rows)
    digests = sorted({row.digest for row in rows})
    for row in rows:
        session.delete(row)
    session.flush()
    for digest in digests:
        _orphan_if_unreferenced(session, digest, now)
    return len(rows)


# --- removing bytes -------------------------------------------------------------------------------------


def purge_after_commit(session: Session, store: EvidenceStore | None = None) -> None:
    """Once this session's transaction commits, delete the bytes of every orphaned object from the store
    (in fresh transactions on the same database, as the same actor). A rollback cancels it. A failure is
    logged and left for the next purge: the objects stay marked orphaned."""
    info = session.info
    info["evidence_purge"] = store if store is not None else info.get("evidence_purge")
    info["evidence_purge_wanted"] = True
    if info.get("evidence_purge_listening"):
        return
    info["evidence_purge_listening"] = True

    @event.listens_for(session, "after_commit")
    def _after_commit(committed: Session) -> None:
        if not committed.info.pop("evidence_purge_wanted", False):
            return
        bind = committed.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        try:
            purge_orphans(engine, committed.info.get("evidence_purge"),
                          actor=committed.info.get("actor", ("system", "system")))
        except Exception as exc:  # the commit stands; the next purge finishes the job
            log.warning("evidence purge after commit failed (%s); the orphaned objects stay marked for the "
                        "next purge", type(exc).__name__)

    @event.listens_for(session, "after_rollback")
    def _after_rollback(rolled_back: Session) -> None:
        rolled_back.info.pop("evidence_purge_wanted", None)


def purge_orphans(engine: Engine, store: EvidenceStore | None = None, *,
                  actor: tuple[str, str] = ("system", "evidence-purge"), digests: list[str] | None = None) -> int:
    """Delete from the store the bytes of every object marked orphaned that no row refers to, one
    transaction each under the object's lock; returns how many were deleted. Safe to run at any time,
    and beside uploads: an object an upload has just claimed again is kept. `store` defaults to the
    one the environment names, opened only when there is something to delete."""
    with Session(engine) as session:
        query = select(EvidenceObjectRow.digest).where(EvidenceObjectRow.orphaned_at.is_not(None))
        if digests is not None:
            query = query.where(EvidenceObjectRow.digest.in_(digests))
        pending = list(session.scalars(query.order_by(EvidenceObjectRow.digest)))
    if not pending:
        return 0
    store = _store(store)
    deleted = 0
    for digest in pending:
        with Session(engine) as session, session.begin():
            audit.act_as(session, *actor)
            obj = _lock_object(session, digest)
            if obj is None or obj.orphaned_at is None:
                continue
            refs = session.scalar(select(func.count()).select_from(EvidenceRow).where(EvidenceRow.digest == digest))
            if refs:
                obj.orphaned_at = None
                continue
            session.delete(obj)
            session.flush()  # the foreign key refuses this if a row still refers to it: then the bytes stay
            store.delete(digest)
            deleted += 1
    return deleted


def sweep_strays(engine: Engine, store: EvidenceStore, now: datetime, *, grace: timedelta = STRAY_GRACE,
                 actor: tuple[str, str] = ("system", "evidence-sweep")) -> int:
    """Delete store objects that no object row knows and that are older than `grace`: an upload whose
    transaction never committed (rolled back, or the process died) leaves one. Each is claimed by
    inserting its object row first, so an upload of the same bytes waits or is waited for, never lost.

    An operator's command, never run on its own: it deletes whatever this database does not know, so
    the store (folder, or bucket and prefix) must belong to this case file alone."""
    old = [item.digest for item in store.stored() if item.modified <= now - grace]
    deleted = 0
    for digest in old:
        with Session(engine) as session, session.begin():
            audit.act_as(session, *actor)
            claimed = _inserted(session, _insert_ignoring(session).values(
                digest=digest, size=0, media_type="application/octet-stream", stored_at=now, orphaned_at=now))
            if not claimed:
                continue  # a row knows it (or an upload holds it): not a stray
            store.delete(digest)
            session.execute(delete(EvidenceObjectRow).where(EvidenceObjectRow.digest == digest))
            audit.record(session, "delete", "evidence_objects", digest, None, after={"reason": "stray"})
            deleted += 1
    return deleted


# --- subject access -------------------------------------------------------------------------------------


def case_files(session: Session, case_ref: str) -> list[EvidenceRow]:
    """A case's evidence rows, oldest first (for the subject access export)."""
    return list(session.scalars(select(EvidenceRow).where(EvidenceRow.case_ref == case_ref)
                                .order_by(EvidenceRow.added_at, EvidenceRow.id)))


def bundle_name(row: EvidenceRow) -> str:
    """Where a file goes in an export bundle: from the case reference, the row id and the media type's
    usual ending only, never from the uploader's name."""
    safe_ref = re.sub(r"[^A-Za-z0-9-]", "_", row.case_ref)
    return f"files/{safe_ref}/{row.id}{TYPES[row.media_type].extensions[0] if row.media_type in TYPES else ''}"
