"""A notification after the server's database connections were killed is credited (issue 16:
connection liveness without a ping per checkout). The pool does not ping a connection when
it is taken; one found dead while verifying the notification or confirming its payment is
replaced and the work done once more on a fresh connection, so the channel is not answered
"internal error" for a connection the server lost while idle."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pg_backends import terminate_idle_backends  # type: ignore[import-not-found]
from sqlalchemy import func, select

from billfold import Engine
from billfold.adapters.db import schema as t
from billfold.channels.qr import QrChannel, build_notification
from billfold.channels.secrets import DictSecrets
from billfold.clock import FixedClock
from billfold.collection.order import Order
from billfold.merchants.channel_config import ChannelConfig
from billfold.testing.http import ApiClient
from billfold.testing.sandbox.gateway import SandboxGateway
from billfold.testing.sandbox.qr import SandboxAcquirer
from tests.integration.adapters.http.conftest import make_api

pytestmark = pytest.mark.pg

QR_KEY = b"0123456789abcdef0123456789abcdef"


@pytest.fixture
def api(pg_empty: Callable[[], str], clock: FixedClock) -> Iterator[ApiClient]:
    engine = Engine.from_url(pg_empty(), clock=clock)
    try:
        for api in make_api(engine):
            settings = {"notify_key_env": "TEST_QR_KEY_M1"}
            config = ChannelConfig("qr", merchant_id="M1", settings=settings)
            engine.set_channel_config("s1", config, actor="t", reason="t")
            acquirer = SandboxAcquirer(SandboxGateway(clock), {"M1": QR_KEY})
            secrets = DictSecrets({"TEST_QR_KEY_M1": QR_KEY.decode()})
            qr = QrChannel.for_engine(engine, acquirer, secrets, render=False)
            api.app.state.billfold.collector.channels["qr"] = qr
            yield api
    finally:
        engine.close()


def notify(api: ApiClient, clock: FixedClock, order: Order, txn_id: str) -> bytes:
    headers, body = build_notification(
        QR_KEY,
        merchant_id="M1",
        order_no=order.order_no,
        txn_id=txn_id,
        amount_fen=order.total_fen,
        paid_at=clock.now(),
        sent_at=clock.now(),
    )
    answer = api.client.post("/v1/notify/qr", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.content


def test_the_next_notification_after_the_pools_backends_were_killed_is_credited(
    api: ApiClient, clock: FixedClock
) -> None:
    first, second = (api.engine.create_order("s1", [bill]) for bill in ("T1", "T2"))
    assert notify(api, clock, first, "TX-1") == b'{"code":"SUCCESS"}'
    assert terminate_idle_backends(api.engine) >= 1  # every pooled connection is dead now

    assert notify(api, clock, second, "TX-2") == b'{"code":"SUCCESS"}'

    with api.engine.uow() as uow:
        paid = uow.conn.execute(
            select(func.count()).select_from(t.payments).where(t.payments.c.status == "credited")
        ).scalar_one()
    assert paid == 2
    assert api.engine.check_books() == []
