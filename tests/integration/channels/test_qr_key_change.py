"""A changed notification key takes effect at the next notification (issue 16): verifying
reads the order, its biller and the biller's current channel settings in one round trip, so
a key changed in the settings — by this process or another worker — is the one verified
with, and a notification signed with the old key is refused."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import fastpath
from billfold.adapters.db import schema as t
from billfold.channels.collect import Collector
from billfold.channels.qr import QrChannel, build_notification
from billfold.channels.secrets import DictSecrets
from billfold.channels.verification import NotificationRejected
from billfold.clock import FixedClock
from billfold.merchants.channel_config import ChannelConfig
from billfold.testing.sandbox.gateway import Chaos, SandboxGateway
from billfold.testing.sandbox.qr import SandboxAcquirer

OLD = "stall-1-old-notify-key-0123456789"
NEW = "stall-1-new-notify-key-9876543210"
BILLS = b"bill_no,payer_id,amount\nK1,A-1,12.34\nK2,A-2,5.00\n"


def config(env: str) -> ChannelConfig:
    settings = {
        "merchant_name_en": "LIU FRUIT STALL",
        "merchant_city_en": "HANGZHOU",
        "mcc": "5411",
        "notify_key_env": env,
    }
    return ChannelConfig("qr", merchant_id="M100001", settings=settings)


@pytest.fixture
def stall(engine: Engine, clock: FixedClock) -> tuple[Engine, Collector]:
    engine.create_biller(Biller(code="stall1", name="刘记水果摊", kind=BillerKind.MARKET_STALL))
    engine.set_channel_config("stall1", config("OLD_KEY"), actor="ops", reason="onboard")
    engine.import_bills("stall1", BILLS)
    secrets = DictSecrets({"OLD_KEY": OLD, "NEW_KEY": NEW})
    acquirer = SandboxAcquirer(SandboxGateway(clock, Chaos.calm(), seed=1), {})
    channel = QrChannel.for_engine(engine, acquirer, secrets, render=False)
    return engine, Collector(engine, {"qr": channel})


def notification(engine: Engine, key: str, order_no: str, txn: str) -> tuple[dict[str, str], bytes]:
    now = engine.clock.now()
    return build_notification(
        key.encode(),
        merchant_id="M100001",
        order_no=order_no,
        txn_id=txn,
        amount_fen=engine.order(order_no).total_fen,
        paid_at=now,
        sent_at=now,
    )


def payments(engine: Engine) -> int:
    with engine.uow() as uow:
        return int(uow.conn.execute(select(func.count()).select_from(t.payments)).scalar_one())


def test_the_next_notification_after_a_key_change_is_verified_with_the_new_key(
    stall: tuple[Engine, Collector],
) -> None:
    engine, collector = stall
    first = engine.create_order("stall1", ["K1"]).order_no
    assert collector.notify("qr", *notification(engine, OLD, first, "T1")).credited  # type: ignore[union-attr]

    # the key is changed (in the database: another worker could have done it)
    engine.set_channel_config("stall1", config("NEW_KEY"), actor="ops", reason="rotated")
    second = engine.create_order("stall1", ["K2"]).order_no

    with pytest.raises(NotificationRejected) as old_key:
        collector.notify("qr", *notification(engine, OLD, second, "T2"))
    assert old_key.value.reason == "bad_signature"
    assert payments(engine) == 1  # refused: nothing written

    result = collector.notify("qr", *notification(engine, NEW, second, "T2"))
    assert result is not None and result.credited
    assert payments(engine) == 2
    assert engine.check_books() == []


def test_verifying_reads_the_order_biller_and_settings_in_one_round_trip(
    stall: tuple[Engine, Collector],
) -> None:
    engine, collector = stall
    order_no = engine.create_order("stall1", ["K1"]).order_no
    headers, body = notification(engine, OLD, order_no, "T1")
    adapter = collector.channel("qr")
    adapter.parse_notification(headers, body)  # the merchant's key is held from now on
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2] if len(args) > 2 else args[0]))

    event.listen(engine.db, "before_cursor_execute", seen)
    fastpath.STATEMENT_HOOKS.append(lambda sql, _many: statements.append(sql))
    try:
        parsed = adapter.parse_notification(headers, body)
    finally:
        fastpath.STATEMENT_HOOKS.pop()
        event.remove(engine.db, "before_cursor_execute", seen)
    assert parsed.order_no == order_no
    assert len(statements) == 1, statements
    assert "channel_configs" in statements[0] and "billers" in statements[0]
    if engine.db.dialect.name == "postgresql":  # one statement, and nothing around it
        with round_trips(engine) as counted:
            parsed = adapter.parse_notification(headers, body)
        assert counted == [1], counted


@contextmanager
def round_trips(engine: Engine) -> Iterator[list[int]]:
    """The round trips to PostgreSQL made inside the block, read from libpq's protocol trace
    of every connection taken from the pool: a batch of messages sent, then answers read."""
    counted: list[int] = []
    with tempfile.TemporaryFile() as trace:

        def taken(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
            from psycopg import pq

            dbapi_conn.pgconn.trace(trace.fileno())
            dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

        def returned(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.pgconn.untrace()

        event.listen(engine.db, "checkout", taken)
        event.listen(engine.db, "checkin", returned)
        try:
            yield counted
        finally:
            event.remove(engine.db, "checkout", taken)
            event.remove(engine.db, "checkin", returned)
        trace.seek(0)
        sent, last = 0, "B"
        for line in trace.read().decode("utf-8", "replace").splitlines():
            if line[:1] == "F" and last == "B":  # the client speaks again: a new round trip
                sent += 1
            last = line[:1] or last
        counted.append(sent)
