"""Editing the case file without losing anyone's update.

Edited rows carry a version; an edit says which version it was made against. If someone else saved
first, the edit is refused with a conflict that says so, rather than silently overwriting them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from casefile import audit
from casefile.models import PERSONAL, PersonRow


class ConflictError(Exception):
    """Someone else changed the record since it was loaded; nothing of this edit was saved."""


def check_version(what: str, key: str, current: int, expected: int | None) -> None:
    if expected is not None and current != expected:
        raise ConflictError(
            f"{what} {key} was changed by someone else (it is now at version {current}, your edit was made "
            f"against version {expected}); reload it and make your change again"
        )


EDITABLE_PERSON_FIELDS = frozenset(
    {"name", "description", "date_of_birth", "address", "postcode", "uprn", "email", "phone", "contact_method",
     "contact_every_days", "large_print", "easy_read", "language", "representative_id", "is_employee",
     "vulnerabilities"}
)


def update_person(
    session: Session, person_id: str, changes: dict[str, Any], *, expected_version: int, role: str, actor_id: str
) -> PersonRow:
    unknown = set(changes) - EDITABLE_PERSON_FIELDS
    if unknown:
        raise ValueError(f"cannot edit {', '.join(sorted(unknown))} of a person")
    person = session.get(PersonRow, person_id)
    if person is None:
        raise LookupError(f"no person {person_id!r}")
    check_version("person", person_id, person.version, expected_version)
    audit.act_as(session, role, actor_id)
    for name, value in changes.items():
        setattr(person, name, value)
    try:
        session.flush()
    except StaleDataError as exc:  # saved by someone else between our read and our write
        raise ConflictError(
            f"person {person_id} was changed by someone else while you were editing; reload it and make your "
            "change again"
        ) from exc
    return person


__all__ = ["PERSONAL", "ConflictError", "check_version", "update_person"]
