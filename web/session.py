"""Signed cookies for the pages: who is signed in, their CSRF token, and a sign-in in progress.

A cookie is `<base64 JSON>.<base64 HMAC-SHA256>` under the session key, with an expiry inside the
signed part, so it can be neither forged nor kept alive past its time. It holds a role, an id, a
display name and the CSRF token: no personal data about the people a case is about.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

SESSION_COOKIE = "asb_session"
#: The sign-in in progress (OIDC state, PKCE verifier, nonce), for ten minutes.
FLOW_COOKIE = "asb_signin"
#: A CSRF token for forms filled in before signing in (the sign-in page, the public report form).
ANON_CSRF_COOKIE = "asb_csrf"
CSRF_FIELD = "csrf_token"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, data: dict[str, Any], ttl_seconds: float, now: float | None = None) -> str:
    body = dict(data, exp=int((now or time.time()) + ttl_seconds))
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def unsign(secret: bytes, value: str | None, now: float | None = None) -> dict[str, Any] | None:
    """The cookie's data, or None if it is missing, altered, malformed or expired."""
    if not value or len(value) > 4096 or value.count(".") != 1:
        return None
    payload, mac = value.split(".")
    expected = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _unb64(mac)):
            return None
        data = json.loads(_unb64(payload))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("exp"), int) or data["exp"] < (now or time.time()):
        return None
    return data


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


@dataclass(frozen=True)
class WebUser:
    """The person signed in to the pages: their acting role and id, as a verified token named them."""

    role: str
    id: str
    name: str
    csrf: str
    #: A partner agency's staff: their agency (the token's `agency` claim); None for staff.
    agency: str | None = None
