"""Waiting on a condition, never on the clock: poll until it holds, with a generous deadline."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

#: Generous: a loaded 2-core machine can be slow; a condition that holds returns at once anyway.
DEADLINE = 60.0


async def eventually(probe: Callable[[], Any], until: Callable[[Any], bool] = bool, *,
                     what: str, deadline: float = DEADLINE, every: float = 0.05) -> Any:
    """The first value of `probe()` for which `until` holds; fails naming `what` and the last value."""
    stop = time.monotonic() + deadline
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if until(value):
            return value
        if time.monotonic() > stop:
            raise AssertionError(f"{what}: still not so after {deadline:.0f} s (last seen: {value!r})")
        await asyncio.sleep(every)
