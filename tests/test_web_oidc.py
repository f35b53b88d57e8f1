"""Signing in to the pages in production: the OIDC authorisation code flow with PKCE, against a real
(small) identity provider on loopback that this test runs: discovery, an authorisation endpoint that
issues one-time codes, a token endpoint that checks the PKCE verifier, and its signing keys. The API
app is configured to trust that provider exactly as in production (issuer, audience, JWKS URL).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from jwt.algorithms import RSAAlgorithm
from temporalio.testing import WorkflowEnvironment

from api.serve import serving
from casefile.db import Store
from tests.api_support import client_for, make_app
from tests.asb_up import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")

CLIENT_ID = "asb-pages"
AUDIENCE = "api://asb-test"


@dataclass
class Provider:
    """An OpenID provider in miniature, for one signed-in person (a manager)."""

    issuer: str
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537,
                                                                                    key_size=2048))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    #: The access token's role claims (a test may sign in someone else for a moment).
    access_claims: dict[str, Any] = field(default_factory=lambda: {"roles": ["ASB.Manager"]})

    def app(self) -> FastAPI:
        app = FastAPI()
        kid = "test-key-1"

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                    "code_challenge_methods_supported": ["S256"]}

        @app.get("/jwks")
        async def jwks() -> dict[str, Any]:
            jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return {"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]}

        @app.get("/authorize")
        async def authorize(request: Request) -> Response:
            q = request.query_params
            if q.get("response_type") != "code" or q.get("client_id") != CLIENT_ID \
                    or q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"],
                                "nonce": q.get("nonce", "")}
            back = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": q.get("state", "")})
            return RedirectResponse(back, status_code=302)

        @app.post("/token")
        async def token(request: Request) -> Response:
            form = dict(urllib.parse.parse_qsl((await request.body()).decode()))
            self.token_requests.append(form)
            grant = self.codes.pop(form.get("code", ""), None)  # a code is good once
            if grant is None or form.get("client_id") != CLIENT_ID or form.get("redirect_uri") != grant["redirect_uri"]:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if digest != grant["challenge"]:
                return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, status_code=400)
            now = int(time.time())
            common = {"iss": self.issuer, "sub": "entra-sub-1", "oid": "mona.manager", "iat": now, "exp": now + 600}
            id_token = jwt.encode({**common, "aud": CLIENT_ID, "nonce": grant["nonce"], "name": "Mona Manager"},
                                  self.key, algorithm="RS256", headers={"kid": kid})
            access = jwt.encode({**common, "aud": AUDIENCE, **self.access_claims}, self.key,
                                algorithm="RS256", headers={"kid": kid})
            return JSONResponse({"access_token": access, "id_token": id_token, "token_type": "Bearer",
                                 "expires_in": 600})

        return app


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[Provider]:
    port = free_port()
    idp = Provider(issuer=f"http://127.0.0.1:{port}")
    async with serving(idp.app(), "127.0.0.1", port):
        yield idp


@pytest.fixture(scope="module")
async def app(env: WorkflowEnvironment, store: Store, task_queue: str, provider: Provider,
              tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASB_OIDC_CLIENT_ID", CLIENT_ID)
        yield make_app(env, store, task_queue, tmp_path_factory.mktemp("oidc-state"),
                       oidc_issuer=provider.issuer, oidc_audience=AUDIENCE, oidc_jwks_url=f"{provider.issuer}/jwks")


async def _begin(pages: httpx.AsyncClient, idp: httpx.AsyncClient) -> httpx.URL:
    """From the sign-in button to the provider and back: the callback address the browser is sent to."""
    start = await pages.get("/web/sign-in/start")
    assert start.status_code == 303
    at_provider = await idp.get(start.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    return httpx.URL(at_provider.headers["location"])


async def test_sign_in_with_the_identity_provider_using_pkce(app: FastAPI, provider: Provider) -> None:
    async with client_for(app) as pages, httpx.AsyncClient(timeout=30) as idp:
        page = await pages.get("/web/sign-in")
        assert "Sign in with your organisation account" in page.text and 'name="role"' not in page.text
        start = await pages.get("/web/sign-in/start")
        assert start.status_code == 303, start.text
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start.headers["location"]).query))
        assert query["code_challenge_method"] == "S256" and query["client_id"] == CLIENT_ID
        assert "asb_signin=" in start.headers["set-cookie"] and "HttpOnly" in start.headers["set-cookie"]
        back = httpx.URL((await idp.get(start.headers["location"])).headers["location"])
        done = await pages.get(back.path, params=back.params)
        assert done.status_code == 303, done.text
        assert done.headers["location"].endswith("/web/dashboard")
        # The token request carried the verifier whose S256 hash the authorisation request announced.
        sent = provider.token_requests[-1]["code_verifier"]
        assert base64.urlsafe_b64encode(hashlib.sha256(sent.encode()).digest()).rstrip(b"=").decode() \
            == query["code_challenge"]
        dashboard = await pages.get("/web/dashboard")
        assert dashboard.status_code == 200
        assert re.search(r"Signed in as <strong>Mona Manager</strong> \(manager, id mona.manager\)", dashboard.text)


async def test_a_callback_from_another_sign_in_or_a_reused_code_is_refused(app: FastAPI) -> None:
    async with client_for(app) as pages, client_for(app) as other, httpx.AsyncClient(timeout=30) as idp:
        back = await _begin(pages, idp)
        # Another browser (no sign-in cookie of its own for this state) cannot use the code.
        await other.get("/web/sign-in/start")
        stolen = await other.get(back.path, params=back.params)
        assert stolen.status_code == 401 and "does not match the one this browser began" in stolen.text
        assert (await other.get("/web/dashboard")).status_code == 303
        # The right browser signs in; replaying the same code afterwards is refused by the provider.
        assert (await pages.get(back.path, params=back.params)).status_code == 303
        again = await _begin(pages, idp)
        replay = await pages.get(again.path, params={"code": back.params["code"], "state": again.params["state"]})
        assert replay.status_code == 401 and "refused the sign-in (invalid_grant)" in replay.text


async def test_local_sign_in_is_off_in_production(app: FastAPI) -> None:
    async with client_for(app) as pages:
        form = await pages.get("/web/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        answer = await pages.post("/web/sign-in", data={"role": "senior_manager", "person": "me",
                                                         "csrf_token": token.group(1) if token else ""})
        assert answer.status_code == 403
        assert (await pages.get("/web/dashboard")).status_code == 303


async def test_a_partner_agencys_staff_sign_in_to_their_shared_cases_and_no_staff_page(
    app: FastAPI, provider: Provider
) -> None:
    """Issue 12 item 8: a partner sees only its agency's partition. Signed in through the provider, with the
    agency its token names, it lands on its shared cases; every staff page refuses it (they would show it
    everything a staff role sees)."""
    provider.access_claims = {"roles": ["ASB.Partner"], "agency": "victim_support"}
    try:
        async with client_for(app) as pages, httpx.AsyncClient(timeout=30) as idp:
            back = await _begin(pages, idp)
            done = await pages.get(back.path, params=back.params)
            assert done.status_code == 303 and done.headers["location"].endswith("/web/partner/cases"), done.text
            shared = await pages.get("/web/partner/cases")
            assert shared.status_code == 200 and "Cases shared with your agency" in shared.text
            assert "Victim Support" in shared.text
            for staff_page in ("/web/dashboard", "/web/my-cases", "/web/search?q=ASB", "/web/intake/report"):
                refused = await pages.get(staff_page)
                assert refused.status_code == 403 and "Shared cases" in refused.text, staff_page
    finally:
        provider.access_claims = {"roles": ["ASB.Manager"]}
