"""A per-client rate limit for the public online form, which anyone may call without a token.

Each report opens a case someone must triage and start a workflow for, so a script posting in a loop
would bury the intake team; a person filling in the form never reaches a handful a minute. The limit
is a sliding window per client address kept in this process: with several API processes, each keeps
its own (put a shared limit in the reverse proxy as well if that matters).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, limit: int, window_seconds: float = 60.0, *, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_clients = max_clients
        self.clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, client: str) -> float | None:
        """Count an attempt; None if allowed, else the seconds until the client may try again."""
        now = self.clock()
        hits = self._hits.get(client)
        if hits is None:
            hits = self._hits[client] = deque()
            self._evict(now)
        else:
            self._hits.move_to_end(client)
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1.0, math.ceil(hits[0] + self.window - now))
        hits.append(now)
        return None

    def _evict(self, now: float) -> None:
        """Keep memory bounded under many addresses: forget idle clients first, then the least recent."""
        if len(self._hits) <= self.max_clients:
            return
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
            del self._hits[key]
        while len(self._hits) > self.max_clients:
            self._hits.popitem(last=False)
