"""Rate limits kept in the database hold across workers: every bucket is one row, taken from
with a conditional UPDATE (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from billfold.adapters.db.schema.ratelimit import api_rate_limits
from billfold.adapters.http.ratelimit import RateLimit, TokenBuckets
from billfold.clock import FixedClock
from billfold.engine import Engine

SLOW = RateLimit(per_second=0.5, burst=2)


def _rows(engine: Engine) -> dict[str, tuple[int, int]]:
    with engine.db.connect() as conn:
        found = conn.execute(select(api_rate_limits)).all()
    return {row.key_id: (row.tokens_milli, row.refilled_us) for row in found}


def test_a_key_gets_its_burst_then_429_with_the_seconds_to_wait(
    engine: Engine, clock: FixedClock
) -> None:
    buckets = TokenBuckets(SLOW, clock, engine)
    assert buckets.shared
    assert [buckets.take("k1"), buckets.take("k1")] == [0, 0]
    before = _rows(engine)
    assert buckets.take("k1") == 2  # one token at 0.5 per second
    assert _rows(engine) == before  # a refusal takes nothing and moves nothing
    clock.advance(timedelta(seconds=1))
    assert buckets.take("k1") == 1  # half a token has flowed in
    clock.advance(timedelta(seconds=1))
    assert buckets.take("k1") == 0
    assert buckets.take("k2") == 0  # another key has its own bucket


def test_two_workers_share_one_bucket_per_key(engine: Engine, clock: FixedClock) -> None:
    other = Engine.from_url(engine.db.url.render_as_string(hide_password=False), clock=clock)
    try:
        first, second = TokenBuckets(SLOW, clock, engine), TokenBuckets(SLOW, clock, other)
        assert first.take("k1") == 0
        assert second.take("k1") == 0
        assert first.take("k1") == 2 and second.take("k1") == 2  # the burst was spent jointly
        clock.advance(timedelta(seconds=2))
        assert second.take("k1") == 0
        assert first.take("k1") == 2
    finally:
        other.close()


def test_the_refill_stops_at_the_burst(engine: Engine, clock: FixedClock) -> None:
    buckets = TokenBuckets(SLOW, clock, engine)
    buckets.take("k1")
    clock.advance(timedelta(days=400))  # a long-idle key: full, not overflowing
    assert [buckets.take("k1") for _ in range(3)] == [0, 0, 2]
    assert _rows(engine)["k1"][0] == 0


def test_concurrent_workers_never_take_more_than_the_burst(
    engine: Engine, clock: FixedClock
) -> None:
    """Eight workers, each with its own engine (its own connections), race for one key."""
    url = engine.db.url.render_as_string(hide_password=False)
    limit = RateLimit(per_second=0.001, burst=25)
    allowed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        own = Engine.from_url(url, clock=clock)
        try:
            buckets = TokenBuckets(limit, clock, own)
            start.wait()
            got = sum(1 for _ in range(10) if buckets.take("hot") == 0)
        finally:
            own.close()
        with lock:
            allowed.append(got)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(allowed) == 8
    assert sum(allowed) == 25  # exactly the burst, out of 80 attempts
    assert _rows(engine)["hot"][0] == 0


def test_in_process_buckets_stay_in_the_process(engine: Engine, clock: FixedClock) -> None:
    buckets = TokenBuckets(SLOW, clock)
    assert not buckets.shared
    assert [buckets.take("k1") for _ in range(3)] == [0, 0, 2]
    assert _rows(engine) == {}


def test_billfold_serve_builds_its_app_with_the_shared_buckets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from billfold.adapters.cli.serve import build_app

    monkeypatch.setenv("BILLFOLD_DATABASE_URL", f"sqlite:///{tmp_path / 'b.db'}")
    monkeypatch.delenv("BILLFOLD_SERVE_CHANNELS", raising=False)
    served = build_app()
    state = served.state.billfold  # type: ignore[attr-defined]
    try:
        assert state.buckets.shared and state.buckets.engine is state.engine
    finally:
        state.engine.close()
