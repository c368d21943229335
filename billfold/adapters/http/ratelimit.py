"""Per-key rate limits: a token bucket per API key, kept in this process or in the database.

``TokenBuckets(limit, clock)`` keeps the buckets in this process: right for one process (the
tests, an embedded app, ``billfold serve`` on SQLite). With N processes each would have its
own buckets and a key would get up to N times its rate, so ``TokenBuckets(limit, clock,
engine)`` keeps them in the ``api_rate_limits`` table instead: each take is one conditional
``UPDATE`` that refills the key's row from the time elapsed and takes a token only if one is
there — PostgreSQL re-checks the condition on the newest row when two workers race for it,
SQLite serializes the writers — so the limit holds across every worker on the database.
``billfold serve`` uses the database's buckets.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from billfold.adapters.db.schema.ratelimit import api_rate_limits
from billfold.clock import Clock
from billfold.engine import Engine

__all__ = ["RateLimit", "TokenBuckets"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLI = 1000  # a token, in the table's thousandths
MICROSECOND = timedelta(microseconds=1)

# The tokens a row holds at :now_us: what it had, plus what flowed in since, at most the burst.
_GAIN = (
    "(CASE WHEN :now_us <= refilled_us THEN 0 "
    "WHEN :now_us - refilled_us >= :full_us THEN :burst "
    "ELSE (:now_us - refilled_us) * :rate / 1000000 END)"
)
_HELD = f"(CASE WHEN tokens_milli + {_GAIN} > :burst THEN :burst ELSE tokens_milli + {_GAIN} END)"
_TAKE = text(
    f"UPDATE api_rate_limits SET tokens_milli = {_HELD} - {MILLI}, "
    "refilled_us = CASE WHEN :now_us > refilled_us THEN :now_us ELSE refilled_us END "
    f"WHERE key_id = :key AND {_HELD} >= {MILLI}"
)


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_second: float = 20.0
    burst: int = 40


class TokenBuckets:
    def __init__(self, limit: RateLimit, clock: Clock, engine: Engine | None = None) -> None:
        self.limit = limit
        self.clock = clock
        self.engine = engine
        self._buckets: dict[str, tuple[float, datetime]] = {}
        self._lock = threading.Lock()
        self._rate_milli = max(1, round(limit.per_second * MILLI))  # thousandths per second
        self._burst_milli = limit.burst * MILLI
        self._full_us = math.ceil(self._burst_milli * 1_000_000 / self._rate_milli)

    @property
    def shared(self) -> bool:
        """True when the buckets live in the database (shared by every process on it)."""
        return self.engine is not None

    def take(self, key: str) -> int:
        """Take one token for ``key``: 0 if allowed, else the seconds to wait (Retry-After)."""
        if self.engine is None:
            return self._take_here(key)
        return self._take_shared(self.engine, key)

    def _take_here(self, key: str) -> int:
        now = self.clock.now()
        with self._lock:
            tokens, then = self._buckets.get(key, (float(self.limit.burst), now))
            elapsed = max(0.0, (now - then).total_seconds())
            tokens = min(float(self.limit.burst), tokens + elapsed * self.limit.per_second)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0
            self._buckets[key] = (tokens, now)
            return self._wait(tokens * MILLI)

    def _wait(self, held_milli: float) -> int:
        return max(1, math.ceil((MILLI - held_milli) / self._rate_milli))

    def _take_shared(self, engine: Engine, key: str, *, retry: bool = True) -> int:
        now_us = (self.clock.now() - EPOCH) // MICROSECOND
        params = {
            "key": key,
            "now_us": now_us,
            "full_us": self._full_us,
            "burst": self._burst_milli,
            "rate": self._rate_milli,
        }
        with engine.db.begin() as conn:
            if conn.execute(_TAKE, params).rowcount == 1:
                return 0
            row = conn.execute(
                select(api_rate_limits.c.tokens_milli, api_rate_limits.c.refilled_us).where(
                    api_rate_limits.c.key_id == key
                )
            ).first()
        if row is not None:
            elapsed = min(max(0, now_us - row.refilled_us), self._full_us)
            held = min(self._burst_milli, row.tokens_milli + elapsed * self._rate_milli // 10**6)
            return self._wait(held)
        try:  # the key's first request: its bucket starts full, less this token
            with engine.db.begin() as conn:
                conn.execute(
                    api_rate_limits.insert().values(
                        key_id=key, tokens_milli=self._burst_milli - MILLI, refilled_us=now_us
                    )
                )
            return 0
        except IntegrityError:  # another worker made the row meanwhile: take from it
            if not retry:
                raise
            return self._take_shared(engine, key, retry=False)
