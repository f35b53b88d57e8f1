"""The API's outer guard: bounded bodies (issue 9 item 13).

- `BodyLimits` reads a request body before anything parses it and refuses one larger than
  `max_body_bytes` (413) or nested deeper than `max_body_depth` (422), both in the JSON error shape. A
  900-deep document would otherwise reach Python's recursion limit in the parser or a validator, and an
  endless body would be held in memory. The depth is counted without parsing (brackets outside strings).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


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
    """How deeply arrays and objects nest in a JSON text, counted without parsing it (strings skipped)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub(b"", body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(depth - 1, 0)
    return deepest


class BodyLimits:
    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = f"the body is larger than {self.max_bytes} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.strip().isdigit() and int(value) > self.max_bytes:
                await send_problem(send, 413, too_big, "(body)")
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await send_problem(send, 413, too_big, "(body)")
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
