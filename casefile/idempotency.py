"""Idempotency keys on the report doors (POST /reports, POST /public/reports).

A client that sends a report and misses the answer sends it again with the same `Idempotency-Key`
header. The key is stored hashed with the caller's scope (staff: their role and id; the public form:
one scope for everyone, the key being a random value the browser made) together with the case it
opened and a hash of the report, in one transaction with the case row. The unique key_hash makes a
concurrent duplicate wait for the first and then find its case, so five sends at once open one case.
A resend with the same key and another report is refused (422, field `Idempotency-Key`): the key
names one report.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel

#: An Idempotency-Key header: printable ASCII without spaces, like a UUID (the IETF draft's key).
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"


def key_hash(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()


def request_hash(body: BaseModel | dict[str, Any]) -> str:
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class KeyReused(ValueError):
    """The key was given before with a different report."""
