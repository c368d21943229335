"""Bad input reaching the database: NUL and other control characters in JSON strings, paths
and query parameters; amounts past the bound or in non-ASCII digits; a signed channel
notification carrying such values. Each is refused with a clear answer and changes nothing
(before the fix: 500 on PostgreSQL, stored on SQLite)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Table, func, select

from billfold.adapters.db import schema as t
from billfold.adapters.http.auth import ApiState
from billfold.channels.qr import QrChannel, build_notification
from billfold.channels.secrets import DictSecrets
from billfold.clock import FixedClock
from billfold.merchants.channel_config import ChannelConfig
from billfold.testing.http import ApiClient as Api
from billfold.testing.sandbox.gateway import SandboxGateway
from billfold.testing.sandbox.qr import SandboxAcquirer

BILL: dict[str, Any] = {
    "bill_no": "F-1",
    "payer": {"kind": "student_no", "identifier": "2024009", "name": "张三"},
    "items": [{"code": "tuition", "name": "学费", "amount": "4500.00"}],
}
QR_KEY = b"0123456789abcdef0123456789abcdef"


def _count(api: Api, table: Table) -> int:
    with api.engine.uow() as uow:
        return int(uow.conn.execute(select(func.count()).select_from(table)).scalar_one())


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    bill = json.loads(json.dumps(BILL))
    target = bill
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return bill


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["bill_no"], "F\x00-1", "bill_no"),
        (["payer", "name"], "张\x00三", "payer.name"),
        (["payer", "identifier"], "2024\n009", "payer.identifier"),
        (["items", 0, "name"], "学\x07费", "items[0].name"),
        (["description"], "x\ud800", "description"),
    ],
)
def test_control_characters_in_a_json_body_are_refused_naming_the_field(
    api: Api, path: list[Any], value: str, field: str
) -> None:
    body = json.dumps(_with(path, value))  # \u0000 escapes, as any JSON client sends them
    answer = api.client.post(
        "/v1/billers/s1/bills",
        content=body,
        headers=api.auth("s1", **{"Content-Type": "application/json"}),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_input"
    assert f"{field}: contains a control character" in answer.json()["detail"]
    assert _count(api, t.bills) == 2 * 2  # only the seeded bills


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/billers/s1/bills/T%001", "path"),
        ("/v1/billers/s%001/bills/T1", "path"),
        ("/v1/lookup?identifier=2024%00001", "query parameter 'identifier'"),
        ("/v1/payments?channel=%01", "query parameter 'channel'"),
        ("/pay/lookup?identifier=%00", "query parameter 'identifier'"),
    ],
)
def test_control_characters_in_paths_and_queries_are_refused(
    api: Api, url: str, field: str
) -> None:
    answer = api.client.get(url, headers=api.auth("office"))
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["detail"] == f"{field}: contains a control character (U+0000); not allowed" or (
        problem["detail"] == f"{field}: contains a control character (U+0001); not allowed"
    )
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("99999999999999999999.99", "is over the largest amount, 10000000000000.00"),
        ("10000000000000.01", "is over the largest amount, 10000000000000.00"),
        ("１２.３４", "(ASCII digits only)"),
        ("١٢٣", "(ASCII digits only)"),
    ],
)
def test_amounts_past_the_bound_or_in_other_digits_are_refused(
    api: Api, amount: str, message: str
) -> None:
    answer = api.client.post(
        "/v1/billers/s1/bills", json=_with(["items", 0, "amount"], amount), headers=api.auth("s1")
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "items.0.amount"
    assert message in answer.json()["detail"]
    assert _count(api, t.bills) == 4


def test_the_largest_amount_is_taken(api: Api) -> None:
    answer = api.client.post(
        "/v1/billers/s1/bills",
        json=_with(["items", 0, "amount"], "10000000000000.00"),
        headers=api.auth("s1"),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["principal"] == "10000000000000.00"


# -- a signed notification carrying values the database cannot take ---------------------------


@pytest.fixture
def qr(api: Api, clock: FixedClock) -> QrChannel:
    settings = {"notify_key_env": "TEST_QR_KEY_M1", "open_min_fen": 100, "open_max_fen": 50_000}
    api.engine.set_channel_config(
        "s1", ChannelConfig("qr", merchant_id="M1", settings=settings), actor="t", reason="t"
    )
    acquirer = SandboxAcquirer(SandboxGateway(clock), {"M1": QR_KEY})
    keys = DictSecrets({"TEST_QR_KEY_M1": QR_KEY})
    channel = QrChannel.for_engine(api.engine, acquirer, keys, render=False)
    state: ApiState = api.app.state.billfold
    state.collector.channels["qr"] = channel
    return channel


@pytest.mark.parametrize(
    ("order_no", "txn_id", "amount_fen"),
    [
        ("BF\x00", "TX-1", 1000),
        (None, "TX\x00-2", 1000),
        (None, "TX-3", 10**19),
        (None, "TX-4", 10**15 + 1),
    ],
)
def test_a_signed_notification_with_unstorable_values_is_refused_not_an_internal_error(
    api: Api, clock: FixedClock, qr: QrChannel, order_no: str | None, txn_id: str, amount_fen: int
) -> None:
    order = api.engine.create_order("s1", ["T1"])
    api.engine.start_payment(order.order_no, "qr")
    headers, body = build_notification(
        QR_KEY,
        merchant_id="M1",
        order_no=order_no or order.order_no,
        txn_id=txn_id,
        amount_fen=amount_fen,
        paid_at=clock.now(),
        sent_at=clock.now() + timedelta(seconds=1),
    )
    answer = api.client.post("/v1/notify/qr", content=body, headers=headers)
    assert answer.status_code >= 400 and "internal error" not in answer.text, answer.text
    assert _count(api, t.payments) == 0
    assert api.engine.order(order.order_no).status.value == "paying"
