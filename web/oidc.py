"""OpenID Connect sign-in for the pages: the authorisation code flow with PKCE (RFC 7636).

The provider is the one the API already trusts (ASB_OIDC_ISSUER): its discovery document gives the
authorisation and token endpoints and its keys. The pages send the browser there with a random
`state`, a `nonce` and the S256 challenge of a random verifier, kept in a short-lived signed cookie;
the provider sends the browser back with a code, which is exchanged (with the verifier) for tokens.
The ID token must be signed by the provider's keys, for this client, and carry the nonce; the person's
role and id come from the access token, checked by the API's own verifier, so the pages and the API
accept exactly the same people in the same roles.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import Any, cast

import httpx
import jwt

from api.auth import ALGORITHMS, LEEWAY_SECONDS, AuthError


class SignInError(Exception):
    """The sign-in did not complete; `reason` is shown to the person (never a token or a secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def pkce_pair() -> tuple[str, str]:
    """A random code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class OidcClient:
    issuer: str
    client_id: str
    client_secret: str | None
    scopes: str
    timeout: float = 10.0
    _metadata: dict[str, Any] | None = None
    _keys: jwt.PyJWKClient | None = None

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                async with httpx.AsyncClient(timeout=self.timeout) as http:
                    answer = await http.get(url)
                    answer.raise_for_status()
                    document = answer.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise AuthError(503, f"the identity provider's discovery document could not be read: {exc}"
                                ) from exc
            if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                raise AuthError(503, "the identity provider's discovery document names another issuer")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(document.get(key), str):
                    raise AuthError(503, f"the identity provider's discovery document has no {key}")
            self._metadata = document
            self._keys = jwt.PyJWKClient(document["jwks_uri"], cache_jwk_set=True, lifespan=300,
                                         timeout=int(self.timeout))
        return self._metadata

    async def authorize_url(self, redirect_uri: str, state: str, nonce: str, challenge: str) -> str:
        endpoint = (await self.metadata())["authorization_endpoint"]
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
            "scope": self.scopes, "state": state, "nonce": nonce,
            "code_challenge": challenge, "code_challenge_method": "S256",
        })
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def exchange(self, code: str, redirect_uri: str, verifier: str) -> dict[str, Any]:
        """Trade the code for tokens; the verifier proves this is the browser the flow began in."""
        endpoint = (await self.metadata())["token_endpoint"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": self.client_id, "code_verifier": verifier}
        if self.client_secret:  # a confidential client also authenticates itself (client_secret_post)
            form["client_secret"] = self.client_secret
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                answer = await http.post(endpoint, data=form, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise AuthError(503, f"the identity provider did not answer: {exc}") from exc
        try:
            tokens = answer.json()
        except ValueError:
            tokens = {}
        if answer.status_code != 200 or not isinstance(tokens, dict):
            error = tokens.get("error") if isinstance(tokens, dict) else None
            raise SignInError(f"the identity provider refused the sign-in ({error or answer.status_code})")
        if not isinstance(tokens.get("access_token"), str) or not isinstance(tokens.get("id_token"), str):
            raise SignInError("the identity provider sent no access token or ID token")
        return tokens

    async def id_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims: signed by the provider, issued to this client, carrying our nonce."""
        await self.metadata()
        assert self._keys is not None
        try:
            key = await asyncio.to_thread(self._keys.get_signing_key_from_jwt, id_token)
            claims = jwt.decode(id_token, key.key, algorithms=ALGORITHMS, audience=self.client_id,
                                issuer=self.issuer, leeway=LEEWAY_SECONDS,
                                options={"require": ["exp", "iss", "aud"]})
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthError(503, f"cannot fetch the identity provider's keys: {exc}") from exc
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise SignInError(f"the ID token was not valid: {exc}") from exc
        if claims.get("nonce") != nonce:
            raise SignInError("the ID token does not belong to this sign-in (nonce)")
        return cast(dict[str, Any], claims)
