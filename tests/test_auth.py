"""Tokens without the HTTP layer: who a token says is calling, and which tokens are refused (api/auth.py).

tests/test_api_access.py checks the same rules through the API; these pin each rule on its own, fast
enough for the mutation run (scripts/mutate) to try every change to the module against them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from api.auth import (
    ALGORITHMS,
    LOCAL_PEOPLE,
    AuthError,
    LocalKeys,
    LocalVerifier,
    OidcVerifier,
    Principal,
    local_tokens,
    principal_from_claims,
    verifier_for,
)
from api.settings import LOCAL_AUDIENCE, LOCAL_ISSUER, ApiSettings
from tests.test_api_access import _Jwks


@pytest.mark.parametrize(("roles", "acting"), [
    (["officer"], "officer"),
    (["ASB.Manager"], "manager"),
    (["asb_senior-manager"], "senior_manager"),
    (["ASB:Intake"], "intake"),
    (["ASB.Senior Manager", "ASB.Officer"], "senior_manager"),
    (["ops", "auditor"], "auditor"),
    (["officer", "intake", "ops"], "officer"),
    (["manager", "officer"], "manager"),
    ("ops", "ops"),
])
def test_the_most_senior_role_held_is_the_one_acted_in(roles: Any, acting: str) -> None:
    assert principal_from_claims({"sub": "p1", "roles": roles}) == Principal(role=acting, id="p1")  # type: ignore[arg-type]


def test_the_person_is_oid_else_sub() -> None:
    assert principal_from_claims({"oid": "o-1", "sub": "s-1", "roles": ["officer"]}).id == "o-1"
    assert principal_from_claims({"sub": "s-1", "roles": ["officer"]}).id == "s-1"
    assert principal_from_claims({"sub": "s-1", "roles": ["officer"]}).actor.model_dump() == {
        "role": "officer", "id": "s-1"}


@pytest.mark.parametrize("claims", [{}, {"sub": ""}, {"sub": "   "}, {"sub": 7}, {"oid": None, "sub": None}])
def test_a_token_naming_nobody_is_401(claims: dict[str, Any]) -> None:
    with pytest.raises(AuthError) as refused:
        principal_from_claims({**claims, "roles": ["officer"]})
    assert refused.value.status == 401 and "names nobody" in refused.value.reason


@pytest.mark.parametrize("person", ["x" * 65, "a\x00b"])
def test_an_unusable_id_is_401(person: str) -> None:
    with pytest.raises(AuthError) as refused:
        principal_from_claims({"sub": person, "roles": ["officer"]})
    assert refused.value.status == 401 and "not a usable id" in refused.value.reason
    assert principal_from_claims({"sub": "x" * 64, "roles": ["officer"]}).id == "x" * 64


@pytest.mark.parametrize("roles", [[], ["landlord"], "cleaner", None, 5, [5, None], ["ASB"]])
def test_no_asb_role_is_403(roles: Any) -> None:
    with pytest.raises(AuthError) as refused:
        principal_from_claims({"sub": "p1", "roles": roles})
    assert refused.value.status == 403
    assert refused.value.reason == ("the token carries no ASB role (one of intake, officer, manager, senior_manager, "
                                    "ops, auditor, partner) in its roles claim")
    assert str(refused.value) == refused.value.reason


def test_local_keys_are_made_once_private_and_named_by_their_thumbprint(tmp_path: Path) -> None:
    keys = LocalKeys(tmp_path / "state")
    assert keys.path == tmp_path / "state" / "api-signing-key.pem"
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o600
    again = LocalKeys(tmp_path / "state")
    assert again.kid == keys.kid and again.public_key.public_numbers() == keys.public_key.public_numbers()
    numbers = keys.public_key.public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    canonical = json.dumps({"e": b64(numbers.e), "kty": "RSA", "n": b64(numbers.n)}, separators=(",", ":"))
    assert keys.kid == base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    assert LocalKeys(tmp_path / "other").kid != keys.kid
    jwk = keys.jwk()
    assert (jwk["kid"], jwk["use"], jwk["alg"], jwk["kty"]) == (keys.kid, "sig", "RS256", "RSA")
    assert jwk["e"] == b64(numbers.e) and jwk["n"] == b64(numbers.n)


def test_a_key_file_that_is_not_rsa_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "api-signing-key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(ValueError, match="not an RSA private key"):
        LocalKeys(tmp_path)


async def test_local_tokens_verify_and_carry_their_claims(tmp_path: Path) -> None:
    keys = LocalKeys(tmp_path)
    now = datetime.now(UTC).replace(microsecond=0)
    token = keys.mint("manager", "m7", ttl=timedelta(minutes=10), now=now)
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"]) == ("RS256", keys.kid)
    claims = jwt.decode(token, keys.public_key, algorithms=["RS256"], audience=LOCAL_AUDIENCE)
    assert claims["iss"] == LOCAL_ISSUER and claims["sub"] == "m7" and claims["roles"] == ["manager"]
    assert claims["exp"] - claims["iat"] == 600 and claims["nbf"] == claims["iat"] == int(now.timestamp())
    verifier = LocalVerifier(keys)
    assert await verifier.verify(token) == Principal(role="manager", id="m7")
    assert verifier.jwks() == {"keys": [keys.jwk()]}
    default = jwt.decode(keys.mint("officer", "o1"), keys.public_key, algorithms=["RS256"], audience=LOCAL_AUDIENCE)
    assert default["exp"] - default["iat"] == 12 * 3600


async def test_local_tokens_are_refused_when_expired_beyond_the_leeway(tmp_path: Path) -> None:
    keys = LocalKeys(tmp_path)
    verifier = LocalVerifier(keys)
    just = keys.mint("officer", "o1", ttl=timedelta(minutes=1), now=datetime.now(UTC) - timedelta(seconds=80))
    assert (await verifier.verify(just)).id == "o1"  # expired 20 s ago: within 30 s of clock skew
    stale = keys.mint("officer", "o1", ttl=timedelta(minutes=1), now=datetime.now(UTC) - timedelta(seconds=100))
    with pytest.raises(AuthError) as refused:
        await verifier.verify(stale)
    assert refused.value.status == 401 and refused.value.reason.startswith("invalid token: ")


def _claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {"iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "sub": "m1", "roles": ["manager"], "iat": now,
              "exp": now + timedelta(minutes=5)}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize("why", ["other issuer", "other audience", "no expiry", "no issuer", "no audience",
                                 "symmetric", "other key", "garbage"])
async def test_local_verifier_refuses(why: str, tmp_path: Path) -> None:
    keys = LocalKeys(tmp_path)
    sign = lambda claims: jwt.encode(claims, keys.private_key, algorithm="RS256")  # noqa: E731
    token = {
        "other issuer": lambda: sign(_claims(iss="https://evil.example")),
        "other audience": lambda: sign(_claims(aud="elsewhere")),
        "no expiry": lambda: sign(_claims(exp=None)),
        "no issuer": lambda: sign(_claims(iss=None)),
        "no audience": lambda: sign(_claims(aud=None)),
        "symmetric": lambda: jwt.encode(_claims(), "a-shared-secret-of-32-bytes-or-more!", algorithm="HS256"),
        "other key": lambda: jwt.encode(_claims(), rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                        algorithm="RS256"),
        "garbage": lambda: "not.a.token",
    }[why]()
    with pytest.raises(AuthError) as refused:
        await LocalVerifier(keys).verify(token)
    assert refused.value.status == 401 and refused.value.reason.startswith("invalid token: ")


def test_only_asymmetric_algorithms_are_accepted() -> None:
    assert not {a for a in ALGORITHMS if a.startswith("HS")} and "none" not in ALGORITHMS
    assert {"RS256", "PS256", "ES256"} <= set(ALGORITHMS)


async def test_provider_tokens_are_checked_against_its_keys(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1", "use": "sig", "alg": "RS256"}
    issuer, audience = "https://login.example/tenant/v2.0", "api://asb"
    with _Jwks([jwk]) as provider:
        verifier = OidcVerifier(issuer, audience, provider.url)
        assert verifier.jwks() == {"keys": []}

        def token(kid: str = "k1", **claims: Any) -> str:
            body = _claims(**{"iss": issuer, "aud": audience, "roles": ["ASB.Officer"], "oid": "oid-1", **claims})
            return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})

        assert await verifier.verify(token()) == Principal(role="officer", id="oid-1")
        for bad in (token(kid="gone"), token(aud="api://other"), token(iss=LOCAL_ISSUER), "garbage"):
            with pytest.raises(AuthError) as refused:
                await verifier.verify(bad)
            assert refused.value.status == 401 and refused.value.reason.startswith("invalid token: ")
    down = OidcVerifier(issuer, audience, provider.url)  # the provider has gone away
    with pytest.raises(AuthError) as unavailable:
        await down.verify(token())
    assert unavailable.value.status == 503 and "cannot fetch the identity provider's keys" in unavailable.value.reason


def test_verifier_for_picks_local_or_provider(tmp_path: Path) -> None:
    local = verifier_for(ApiSettings(state_dir=tmp_path))
    assert isinstance(local, LocalVerifier) and local.keys.path == tmp_path / "api-signing-key.pem"
    oidc = verifier_for(ApiSettings(state_dir=tmp_path, oidc_issuer="https://i", oidc_audience="a",
                                    oidc_jwks_url="https://i/keys"))
    assert isinstance(oidc, OidcVerifier) and (oidc.issuer, oidc.audience) == ("https://i", "a")


async def test_asb_up_prints_a_working_token_for_each_local_person(tmp_path: Path) -> None:
    tokens = local_tokens(tmp_path, ttl=timedelta(minutes=5))
    assert [(role, person) for role, person, _ in tokens] == list(LOCAL_PEOPLE)
    assert {role for role, _ in LOCAL_PEOPLE} == {"intake", "officer", "manager", "senior_manager", "ops", "auditor"}
    verifier = LocalVerifier(LocalKeys(tmp_path))
    for role, person, token in tokens:
        assert await verifier.verify(token) == Principal(role=role, id=person)
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 300
