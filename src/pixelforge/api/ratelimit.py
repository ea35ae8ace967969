"""Per-user and per-key request rate limits (token buckets, in process)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """``limit`` requests per minute per key, refilled continuously; thread-safe."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = per_minute
        self.rate = per_minute / 60.0
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)

    def hit(self, key: str) -> tuple[bool, int, float]:
        """Take one token: (allowed, remaining, seconds until a token is back)."""
        if self.limit <= 0:
            return True, 0, 0.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.limit), now))
            tokens = min(float(self.limit), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                tokens -= 1.0
                self._buckets[key] = (tokens, now)
                return True, int(tokens), (self.limit - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            return False, 0, (1.0 - tokens) / self.rate

    def headers(self, remaining: int, reset: float) -> dict[str, str]:
        return {
            "x-ratelimit-limit-requests": str(self.limit),
            "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": f"{math.ceil(reset * 1000) / 1000:g}s",
        }
