"""An API over a real database (SQLite, and PostgreSQL when configured) with two billers,
their bills, and keys: s1 write and read, w2 write, a back-office key."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from billfold import Biller, BillerKind, Engine
from billfold.adapters.http.app import create_app
from billfold.adapters.http.asgi_client import asgi_client
from billfold.adapters.http.keys import Scope, create_key
from billfold.adapters.http.ratelimit import RateLimit
from billfold.channels.base import Channel
from billfold.logging import configure_logging
from billfold.testing.http import ApiClient
from billfold.testing.leaks import find_leaks

BILLS = b"bill_no,payer_id,amount\nT1,2024001,10.00\nT2,2024002,25.50\n"


def seed(engine: Engine) -> dict[str, str]:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.create_biller(Biller(code="w2", name="自来水公司", kind=BillerKind.UTILITY))
    engine.import_bills("s1", BILLS)
    engine.import_bills("w2", BILLS)
    return {
        "s1": create_key(engine, "s1", Scope.WRITE).secret,
        "s1-read": create_key(engine, "s1", Scope.READ).secret,
        "w2": create_key(engine, "w2", Scope.WRITE).secret,
        "office": create_key(engine, None, Scope.WRITE).secret,
    }


@pytest.fixture(autouse=True)
def no_personal_data_in_the_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Every HTTP test logs as production does (JSON on stderr, info and up), and every line
    it wrote is grepped for unmasked ID, phone and card numbers and secrets."""
    configure_logging(json=True, level="INFO")
    yield
    written = capsys.readouterr().err
    leaks = [(line, find_leaks(line)) for line in written.splitlines() if find_leaks(line)]
    assert leaks == []


def make_api(
    engine: Engine,
    channels: Mapping[str, Channel] | None = None,
    *,
    rate_limit: RateLimit | None = None,
    max_body_bytes: int = 64 * 1024,
) -> Iterator[ApiClient]:
    keys = seed(engine)
    app = create_app(
        engine,
        channels,
        rate_limit=rate_limit or RateLimit(per_second=1000, burst=1000),
        max_body_bytes=max_body_bytes,
    )
    with asgi_client(app) as client:
        yield ApiClient(client, app, engine, keys)


@pytest.fixture
def api(engine: Engine) -> Iterator[ApiClient]:
    yield from make_api(engine)


@pytest.fixture
def slow_api(engine: Engine) -> Iterator[ApiClient]:
    """Two requests of burst, one more every two seconds; bodies up to 200 bytes."""
    yield from make_api(engine, rate_limit=RateLimit(per_second=0.5, burst=2), max_body_bytes=200)


@pytest.fixture
def api_with(engine: Engine) -> Iterator[Callable[..., ApiClient]]:
    """Build the seeded API with channels or limits of the test's choosing."""
    with ExitStack() as stack:

        def build(channels: Mapping[str, Channel] | None = None, **options: Any) -> ApiClient:
            return stack.enter_context(contextmanager(make_api)(engine, channels, **options))

        yield build
