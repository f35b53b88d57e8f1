"""The API's outer guards: bounded bodies, and a documented JSON answer for every failure.

Two ASGI layers wrap the whole app (issue 9 items 11 and 13):

- `BodyLimits` reads a request body before anything parses it and refuses one larger than
  `max_body_bytes` (413) or nested deeper than `max_body_depth` (422), both in the JSON error shape. A
  900-deep document would otherwise reach Python's recursion limit in the parser or a validator, and an
  endless body would be held in memory. The depth is counted without parsing (brackets outside strings).
  Evidence uploads (`Upload` routes, multipart/form-data only) have a limit of their own, the largest
  file accepted plus the usual limit for the rest of the form; a multipart or binary body is counted as
  it streams through, never held whole here, and has no JSON to count the depth of (nothing parses
  such a body as JSON: FastAPI reads JSON only from a JSON content type).
- `LastResort` turns anything the routes' own handlers did not answer into JSON: an outage of the case
  file (PostgreSQL) or the case engine (Temporal) is a 503 with Retry-After, so a client waits and tries
  again; anything else is a 500 `{"detail": "internal error", "field": null}`. Neither carries a
  traceback or the exception's text (which can hold SQL parameters, so personal data); the log gets the
  exception's type and where it was raised, not its message.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import exc as sa
from temporalio.service import RPCError

log = logging.getLogger("asb.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Seconds a client is asked to wait after an outage before trying again.
RETRY_AFTER_SECONDS = 5
CASE_FILE_DOWN = "the case file is unavailable; nothing was changed, try again shortly"
ENGINE_DOWN = "the case engine is unavailable; nothing was changed, try again shortly"

_TOKENS = re.compile(rb'["\\\[\]{}]')


def problem_body(detail: str, field: str | None = None) -> bytes:
    return json.dumps({"detail": detail, "field": field}).encode()


async def send_problem(send: Send, status: int, detail: str, field: str | None = None,
                       headers: dict[str, str] | None = None) -> None:
    body = problem_body(detail, field)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def nesting_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text, counted without parsing it (strings skipped).

    One pass over the bytes that matter (quotes, backslashes, brackets): linear in the body's size, as it
    must be on the event loop. A regular expression for strings backtracks quadratically on a body of
    unterminated escaped quotes (about 30 s for 64 KiB)."""
    depth = deepest = 0
    in_string = False
    skip = -1
    for match in _TOKENS.finditer(body):
        at = match.start()
        if at == skip:  # the character after a backslash in a string
            continue
        char = body[at]
        if in_string:
            if char == 0x5C:  # backslash
                skip = at + 1
            elif char == 0x22:  # closing quote
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif char in (0x5D, 0x7D):  # ] }
            depth = max(depth - 1, 0)
    return deepest


def outage(exc: BaseException) -> str | None:
    """The reason to give if this exception means PostgreSQL or Temporal is unreachable, else None."""
    if isinstance(exc, sa.DBAPIError) and not isinstance(exc, sa.OperationalError | sa.InterfaceError):
        return CASE_FILE_DOWN if exc.connection_invalidated else None
    if isinstance(exc, sa.OperationalError | sa.InterfaceError | sa.TimeoutError | sa.DisconnectionError
                  | psycopg.OperationalError | psycopg.InterfaceError):
        return CASE_FILE_DOWN
    if isinstance(exc, RPCError):
        return ENGINE_DOWN
    # The Temporal client connects lazily (and reconnects): a refused connection is a RuntimeError.
    if isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect"):
        return ENGINE_DOWN
    return None


@dataclass(frozen=True)
class Upload:
    """A route that takes a file: its own body limit, for multipart/form-data bodies only."""

    method: str
    path: re.Pattern[str]
    max_bytes: int
    #: What the 413 names: the form field the file goes in.
    field: str = "file"


def _media_type(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return ""


def _streamed(media_type: str) -> bool:
    """Bodies counted as they stream rather than read whole: files, never parsed as JSON."""
    return media_type.startswith("multipart/") or media_type == "application/octet-stream"


class BodyLimits:
    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int, uploads: Sequence[Upload] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.uploads = tuple(uploads)

    def _upload(self, scope: Scope, media_type: str) -> Upload | None:
        if media_type != "multipart/form-data":
            return None
        path, method = scope.get("path", ""), scope.get("method", "")
        return next((u for u in self.uploads if u.method == method and u.path.fullmatch(path)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        media_type = _media_type(scope)
        upload = self._upload(scope, media_type)
        limit = upload.max_bytes if upload else self.max_bytes
        field = upload.field if upload else "(body)"
        too_big = f"the body is larger than {limit} bytes"
        if upload is not None:
            too_big = (f"the upload is larger than {limit} bytes: a file may be at most "
                       f"{limit - self.max_bytes} bytes")
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.strip().isdigit() and int(value) > limit:
                await send_problem(send, 413, too_big, field)
                return
        if _streamed(media_type):
            await self._stream(scope, receive, send, limit, too_big, field)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await send_problem(send, 413, too_big, field)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and nesting_depth(body) > self.max_depth:
            await send_problem(send, 422, f"(body): nested more than {self.max_depth} levels deep", "(body)")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, limit: int, too_big: str,
                      field: str) -> None:
        """Pass the body through as it comes, counting it. Once it passes the limit the app is told the
        client went away (so it stops reading and stores nothing), whatever it answers is dropped, and
        the caller gets the 413."""
        size = 0
        over = False
        started = False

        async def counted() -> Message:
            nonlocal size, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def answer(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # the app's answer to a body cut short; the 413 goes instead
            started = True
            await send(message)

        try:
            await self.app(scope, counted, answer)
        except Exception:
            if not over or started:
                raise
        if over and not started:
            await send_problem(send, 413, too_big, field)


class LastResort:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            reason = outage(exc)
            where = "".join(traceback.format_tb(exc.__traceback__, limit=-3))
            if reason is not None:
                log.warning("%s %s: outage (%s)", scope.get("method"), scope.get("path"), type(exc).__name__)
            else:
                log.error("%s %s: unhandled %s\n%s", scope.get("method"), scope.get("path"), type(exc).__name__,
                          where)
            if started:
                raise
            if reason is not None:
                await send_problem(send, 503, reason, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            else:
                await send_problem(send, 500, "internal error")
