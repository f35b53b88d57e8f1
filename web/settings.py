"""What the pages need beyond the API's settings: the session key and, in production, the OIDC client.

The pages sign people in against the identity provider the API already trusts (ApiSettings'
issuer and audience), as a client of their own (ASB_OIDC_CLIENT_ID, and ASB_OIDC_CLIENT_SECRET for a
confidential client). Sessions are signed with ASB_WEB_SESSION_SECRET; without it a key is made once
in the state folder, which is enough for one server (several servers must share the variable).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from api.settings import ApiSettings
from casefile.keyfile import secret_in

SESSION_KEY_FILE = "web-session-key"


def _session_key(state_dir: Path) -> bytes:
    return secret_in(state_dir / SESSION_KEY_FILE, "session key")


@dataclass(frozen=True)
class WebSettings:
    session_secret: bytes
    #: How long a signed-in session lasts before signing in again.
    session_hours: float = 8.0
    #: The pages' OIDC client (production). Scopes: OpenID's, plus the API's own for an access token.
    client_id: str | None = None
    client_secret: str | None = None
    scopes: str = "openid profile"
    #: Cookies are marked Secure when the request came over https; true forces it (behind a TLS proxy).
    force_secure_cookies: bool = False

    @classmethod
    def for_api(cls, api: ApiSettings, env: dict[str, str] | None = None) -> WebSettings:
        values = os.environ if env is None else env
        secret = values.get("ASB_WEB_SESSION_SECRET")
        if secret is not None and len(secret) < 32:
            raise ValueError("ASB_WEB_SESSION_SECRET must be at least 32 characters")
        key = secret.encode() if secret else _session_key(api.state_dir)
        scopes = values.get("ASB_OIDC_SCOPES") or "openid profile"
        try:
            hours = float(values.get("ASB_WEB_SESSION_HOURS", "8"))
        except ValueError:
            hours = 0.0
        if not 0.05 <= hours <= 24 * 7:
            raise ValueError("ASB_WEB_SESSION_HOURS must be a number of hours between 0.05 and 168")
        return cls(
            session_secret=key,
            session_hours=hours,
            client_id=values.get("ASB_OIDC_CLIENT_ID") or None,
            client_secret=values.get("ASB_OIDC_CLIENT_SECRET") or None,
            scopes=scopes,
            force_secure_cookies=values.get("ASB_WEB_SECURE_COOKIES", "").lower() in ("1", "true", "yes"),
        )
