"""Web pages for staff and the public on the GOV.UK Design System (see web/pages.py).

`mount_pages` is the one hook the API app calls: the pages live under /web, share the API's Service,
token verifier and public-form rate limit, and `/` leads to them.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from api.auth import TokenVerifier
from api.ratelimit import RateLimiter
from api.service import Service
from api.settings import ApiSettings


def mount_pages(app: FastAPI, settings: ApiSettings, service: Service, verifier: TokenVerifier,
                limiter: RateLimiter) -> None:
    from web.pages import PREFIX, create_pages

    app.mount(PREFIX, create_pages(settings, service, verifier, limiter), name="web")

    @app.get("/", include_in_schema=False)
    async def _root() -> RedirectResponse:
        """`/` leads to the pages (and from there to signing in)."""
        return RedirectResponse(PREFIX + "/", status_code=303)
