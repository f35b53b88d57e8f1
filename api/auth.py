"""Who is calling: OIDC bearer tokens (JWT) in production, locally signed tokens under `asb up`.

Production (Entra ID or any OIDC provider): the token's signature is checked against the provider's
JWKS (fetched and cached by PyJWKClient), and its expiry, issuer and audience against the settings.
Roles come from the `roles` claim (Entra app roles such as `ASB.Manager` or plain `manager`); the
person is `oid` (Entra's stable object id) or else `sub`. A partner agency's staff hold the `partner`
role and their token names their agency in an `agency` claim (an agency id of the profile's
`referrals.agencies`): they see only what is shared with that agency (casefile/partners.py).

Local mode has no provider, so the API is its own: an RSA key is created once in the state folder,
`asb up` prints tokens signed with it, and they are verified exactly as production tokens are, by
signature, expiry, issuer and audience. The public half is served at /.well-known/jwks.json so other
tools can check local tokens the production way.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from api.settings import LOCAL_AUDIENCE, LOCAL_ISSUER, ApiSettings
from casefile.keyfile import create_once
from policy.model import AGENCY_ID_PATTERN, Role, StaffRole
from statemachine.commands import Actor

#: The staff roles: everything but the partner role, which sees only its own agency's partition.
ROLES: tuple[StaffRole, ...] = ("intake", "officer", "manager", "senior_manager", "ops", "auditor")
PARTNER: Role = "partner"
#: Every role a token may carry.
ALL_ROLES: tuple[Role, ...] = (*ROLES, PARTNER)
#: Someone holding several roles acts in the most senior one (ops and auditor only read); a staff role
#: always wins over the partner role, so nobody is partitioned by holding both.
ACTING_ORDER: tuple[Role, ...] = ("senior_manager", "manager", "officer", "intake", "auditor", "ops", PARTNER)
#: Asymmetric algorithms only: accepting HS256 would let anyone who knows the public key sign tokens.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
#: Clock skew tolerated between the token issuer and this server.
LEEWAY_SECONDS = 30
KEY_FILE = "api-signing-key.pem"


class AuthError(Exception):
    """The request cannot go on as this caller: 401 (who are you?), 403 (not you) or 503 (can't check)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    role: Role
    id: str
    #: A partner's agency (the token's `agency` claim); None for staff.
    agency: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(role=self.role, id=self.id)


def _role_name(value: str) -> str:
    name = value.strip().lower().replace("-", "_").replace(" ", "_")
    for prefix in ("asb.", "asb_", "asb:"):
        name = name.removeprefix(prefix)
    return name.replace(".", "_")


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """The acting role and person from verified claims; a token without an ASB role is refused (403)."""
    person = claims.get("oid") or claims.get("sub")
    if not isinstance(person, str) or not person.strip():
        raise AuthError(401, "the token names nobody: it has neither an oid nor a sub claim")
    if len(person) > 64 or "\x00" in person:
        raise AuthError(401, "the token's oid or sub claim is not a usable id")
    raw = claims.get("roles", [])
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    held = {_role_name(v) for v in values if isinstance(v, str)}
    for role in ACTING_ORDER:
        if role == PARTNER and role in held:
            agency = claims.get("agency")
            if not isinstance(agency, str) or not re.match(AGENCY_ID_PATTERN, agency):
                raise AuthError(403, "a partner token must name its agency in an agency claim (e.g. victim_support)")
            return Principal(role=role, id=person, agency=agency)
        if role in held:
            return Principal(role=role, id=person)
    raise AuthError(403, f"the token carries no ASB role (one of {', '.join(ALL_ROLES)}) in its roles claim")


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal: ...

    def jwks(self) -> dict[str, Any]: ...


def _decode(token: str, key: Any, audience: str, issuer: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            token, key, algorithms=ALGORITHMS, audience=audience, issuer=issuer, leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.InvalidTokenError as exc:
        raise AuthError(401, f"invalid token: {exc}") from exc
    return cast(dict[str, Any], claims)


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class LocalKeys:
    """The local-mode signing key: created on first use in the state folder, readable only by its owner."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / KEY_FILE
        self.private_key = self._load_or_create()
        self.public_key = self.private_key.public_key()
        numbers = self.public_key.public_numbers()
        # RFC 7638 thumbprint: the key id changes exactly when the key does.
        canonical = json.dumps({"e": _b64(numbers.e), "kty": "RSA", "n": _b64(numbers.n)}, separators=(",", ":"))
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()

    def _load_or_create(self) -> rsa.RSAPrivateKey:
        if not self.path.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            create_once(self.path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
        loaded = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(f"{self.path}: not an RSA private key")
        return loaded

    def jwk(self) -> dict[str, Any]:
        jwk = cast(dict[str, Any], RSAAlgorithm.to_jwk(self.public_key, as_dict=True))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def mint(self, role: Role, person: str, ttl: timedelta = timedelta(hours=12),
             now: datetime | None = None, agency: str | None = None) -> str:
        """A token for `person` acting as `role` (a partner: of `agency`), as an identity provider would issue it."""
        issued = now or datetime.now(UTC)
        claims: dict[str, Any] = {"iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "sub": person, "roles": [role],
                                  "iat": issued, "nbf": issued, "exp": issued + ttl}
        if agency is not None:
            claims["agency"] = agency
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})


class LocalVerifier:
    def __init__(self, keys: LocalKeys) -> None:
        self.keys = keys

    async def verify(self, token: str) -> Principal:
        return principal_from_claims(_decode(token, self.keys.public_key, LOCAL_AUDIENCE, LOCAL_ISSUER))

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.keys.jwk()]}


class OidcVerifier:
    """Production tokens: signature by the provider's published keys (cached, refetched on a new kid)."""

    def __init__(self, issuer: str, audience: str, jwks_url: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self.client = jwt.PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=300, timeout=10)

    async def verify(self, token: str) -> Principal:
        try:
            # PyJWKClient fetches over blocking HTTP when its cache is cold: keep it off the event loop.
            signing_key = await asyncio.to_thread(self.client.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthError(503, f"cannot fetch the identity provider's keys: {exc}") from exc
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise AuthError(401, f"invalid token: {exc}") from exc
        return principal_from_claims(_decode(token, signing_key.key, self.audience, self.issuer))

    def jwks(self) -> dict[str, Any]:
        return {"keys": []}  # the provider publishes its own


def verifier_for(settings: ApiSettings) -> TokenVerifier:
    settings.check()
    if settings.local_mode:
        return LocalVerifier(LocalKeys(settings.state_dir))
    assert settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks_url
    return OidcVerifier(settings.oidc_issuer, settings.oidc_audience, settings.oidc_jwks_url)


#: The people `asb up` prints tokens for: one per role, and a second manager, because nobody may
#: approve their own request and trying the closure path needs two.
LOCAL_PEOPLE: tuple[tuple[Role, str], ...] = (
    ("intake", "i1"), ("officer", "o1"), ("manager", "m1"), ("manager", "m2"), ("senior_manager", "s1"),
    ("ops", "ops1"), ("auditor", "a1"),
)


def local_tokens(state_dir: Path, ttl: timedelta = timedelta(hours=12)) -> list[tuple[Role, str, str]]:
    keys = LocalKeys(state_dir)
    return [(role, person, keys.mint(role, person, ttl)) for role, person in LOCAL_PEOPLE]
