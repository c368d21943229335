"""When a failed webhook delivery is tried again, and when the dispatcher gives up on it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from billfold.errors import ConfigurationError

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with a cap, a dead-letter limit and an in-flight lease.

    After failed attempt ``n`` (1-based) the next try is ``min(cap, base * 2**(n-1))`` later,
    shortened by up to ``jitter`` of itself (a fraction fixed by the delivery id and ``n``, so
    reruns compute the same times and a burst of failures does not retry in lock-step).
    Attempt ``max_attempts`` failing makes the delivery ``dead``.

    ``lease`` is how long a claimed delivery stays invisible to other dispatchers while it
    is being sent. If the dispatcher dies in between, the delivery is tried again once the
    lease runs out. It must comfortably exceed the transport's worst-case request time, or
    a slow request may be sent a second time by another dispatcher.
    """

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 8
    lease: timedelta = timedelta(minutes=5)
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.base <= timedelta(0):
            raise ConfigurationError("retry base delay must be positive")
        if self.cap < self.base:
            raise ConfigurationError("retry cap must be at least the base delay")
        if self.max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")
        if self.lease <= timedelta(0):
            raise ConfigurationError("the delivery lease must be positive")
        if not 0.0 <= self.jitter <= 1.0:
            raise ConfigurationError("jitter must be a fraction between 0 and 1")

    def delay(self, attempts: int, delivery_id: int) -> timedelta:
        """The wait after ``attempts`` failed attempts of delivery ``delivery_id``."""
        if attempts < 1:
            raise ValueError("attempts counts failed attempts, starting at 1")
        exponent = min(attempts - 1, 40)  # 2**40 * any sane base is far past any cap
        raw = min(self.cap, self.base * (1 << exponent))
        return raw - raw * (self.jitter * _fraction(delivery_id, attempts))

    def gives_up(self, attempts: int) -> bool:
        """True once ``attempts`` attempts have been made and none may follow."""
        return attempts >= self.max_attempts


def _fraction(delivery_id: int, attempts: int) -> float:
    digest = hashlib.sha256(f"{delivery_id}:{attempts}".encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
