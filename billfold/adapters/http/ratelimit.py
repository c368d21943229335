"""Per-key rate limits: an in-process token bucket per API key.

Each process (each uvicorn worker) keeps its own buckets, so with N workers a key gets up to
N times the rate; a shared limiter (PostgreSQL or Redis) is left for later.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime

from billfold.clock import Clock

__all__ = ["RateLimit", "TokenBuckets"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_second: float = 20.0
    burst: int = 40


class TokenBuckets:
    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        self.limit = limit
        self.clock = clock
        self._buckets: dict[str, tuple[float, datetime]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        """Take one token for ``key``: 0 if allowed, else the seconds to wait (Retry-After)."""
        now = self.clock.now()
        with self._lock:
            tokens, then = self._buckets.get(key, (float(self.limit.burst), now))
            elapsed = max(0.0, (now - then).total_seconds())
            tokens = min(float(self.limit.burst), tokens + elapsed * self.limit.per_second)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.limit.per_second))
