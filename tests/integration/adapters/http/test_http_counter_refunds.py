"""A counter refund over HTTP: pending until the cashier confirms the cash went out, then
succeeded with its journal entry moved — once; other channels' refunds and other billers'
keys are refused and change nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from billfold.adapters.db import schema as t
from billfold.testing.http import ApiClient as Api


def _refund(api: Api, channel: str = "counter", txn: str = "C-1", bill: str = "T2") -> str:
    order = api.engine.create_order("s1", [bill])
    paid = api.engine.confirm(channel, txn, order.order_no, order.total_fen)
    answer = api.client.post(
        f"/v1/payments/{paid.payment.id}/refunds",
        json={"amount": "5.50", "reason": "多缴退费"},
        headers=api.auth("s1", **{"Idempotency-Key": f"refund-{txn}"}),
    )
    assert answer.status_code == 201 and answer.json()["status"] == "pending", answer.text
    return str(answer.json()["refund_no"])


def _paid_entries(api: Api) -> int:
    e = t.journal_entries
    with api.engine.uow() as uow:
        query = select(func.count()).select_from(e).where(e.c.kind == "refund_paid")
        return int(uow.conn.execute(query).scalar_one())


def test_the_cashier_confirms_a_counter_refunds_cash_once(api: Api) -> None:
    refund_no = _refund(api)
    path = f"/v1/refunds/{refund_no}/confirm-cash"
    first = api.client.post(path, json={"by": "cashier-02"}, headers=api.auth("s1"))
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "succeeded" and first.json()["completed_at"] is not None
    again = api.client.post(path, json={"by": "cashier-02"}, headers=api.auth("s1"))
    assert again.json() == first.json()
    assert _paid_entries(api) == 1 and api.engine.check_books() == []


def test_confirming_cash_is_refused_for_other_channels_other_billers_and_read_keys(
    api: Api,
) -> None:
    qr_refund = _refund(api, "qr", "Q-1", "T1")
    answer = api.client.post(
        f"/v1/refunds/{qr_refund}/confirm-cash", json={"by": "c"}, headers=api.auth("s1")
    )
    assert answer.status_code == 409 and "not at the counter" in answer.json()["detail"]
    counter_refund = _refund(api, "counter", "C-2")
    path = f"/v1/refunds/{counter_refund}/confirm-cash"
    assert api.client.post(path, json={"by": "c"}, headers=api.auth("w2")).status_code == 404
    assert api.client.post(path, json={"by": "c"}, headers=api.auth("s1-read")).status_code == 403
    blank = api.client.post(path, json={"by": ""}, headers=api.auth("s1"))
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "by"
    assert _paid_entries(api) == 0
    assert {r.refund_no for r in api.engine.pending_refunds()} == {qr_refund, counter_refund}
