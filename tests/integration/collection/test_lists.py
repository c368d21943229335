"""The back office's lists on SQLite and PostgreSQL: every filter narrows in SQL, the tenant
is applied in the query, pages are keyset pages that stay stable while rows are inserted,
and a bad filter or cursor is refused with a clear message, changing nothing."""

from __future__ import annotations

from typing import Any

import pytest

from billfold import Biller, BillerKind, Engine
from billfold.clock import FixedClock
from billfold.errors import BadCursor, BadQuery, NotFound

CSV = (
    "bill_no,payer_id,payer_name,amount,due_date,sub_unit,period\n"
    "A1,1001,张三,10.00,2026-08-01,c1,2026-autumn\n"
    "A2,1002,李四,20.00,2026-08-25,c1,2026-autumn\n"
    "A3,1003,王五,30.00,2026-10-01,c2,2026-autumn\n"
    "A4,1004,赵六,40.00,,c2,2027-spring\n"
)


@pytest.fixture
def world(engine: Engine) -> dict[str, Any]:
    for code in ("s1", "w2"):
        engine.create_biller(Biller(code=code, name=code, kind=BillerKind.SCHOOL))
        engine.import_bills(code, CSV.encode())
    order = engine.create_order("s1", ["A2"])
    paid = engine.confirm("counter", "TX-1", order.order_no, 2000)
    engine.refund(paid.payment.id, 500, request_id="r1", reason="多缴", requested_by="ops")
    stray = engine.confirm("wechatpay", "TX-2", "NO-SUCH-ORDER", 700)
    held_order = engine.create_order("w2", ["A1"])
    held = engine.confirm("alipay", "TX-3", held_order.order_no, 999)
    return {"order": order, "paid": paid, "stray": stray, "held": held}


def _nos(engine: Engine, name: str, **params: str) -> list[str]:
    key = {"bills": "bill_no", "orders": "order_no", "refunds": "refund_no"}.get(name, "id")
    return [str(r[key] if key in r else r["payment_id"]) for r in engine.find(name, params).rows]


def test_bill_filters_narrow_in_the_database(engine: Engine, world: dict[str, Any]) -> None:
    s1 = engine.biller("s1").id
    # today is 2026-09-01: A1 and A2 were due before; A2 is paid
    assert _nos(engine, "bills", biller="s1", status="overdue") == ["A1"]
    assert _nos(engine, "bills", biller="s1", status="open", sort="bill_no") == ["A3", "A4"]
    assert _nos(engine, "bills", biller="s1", status="paid") == ["A2"]
    assert _nos(engine, "bills", biller="s1", sub_unit="c2", sort="bill_no") == ["A3", "A4"]
    assert _nos(engine, "bills", biller="s1", period="2027-spring") == ["A4"]
    assert _nos(engine, "bills", biller="s1", payer="1003") == ["A3"]
    assert _nos(engine, "bills", biller="s1", payer="赵") == ["A4"]
    assert _nos(
        engine, "bills", biller="s1", due_from="2026-08-20", due_to="2026-10-01", sort="due_date"
    ) == ["A2", "A3"]
    assert _nos(engine, "bills", biller="s1", overdue_days="30") == ["A1"]
    assert _nos(engine, "bills", biller="s1", overdue_days="40") == []
    assert _nos(engine, "bills", biller="s1", sort="-amount") == ["A4", "A3", "A2", "A1"]
    assert len(engine.find("bills", {"biller": "s1"}, tenant=s1).rows) == 4
    assert len(engine.find("bills").rows) == 8
    (late,) = engine.find("bills", {"biller": "s1", "status": "overdue"}).rows
    assert late["overdue_days"] == 31 and late["outstanding_fen"] == 1000


def test_a_tenant_sees_only_its_biller_and_not_another_by_name(
    engine: Engine, world: dict[str, Any]
) -> None:
    s1 = engine.biller("s1").id
    for name in ("bills", "orders", "payments", "refunds", "suspense", "outbox_events"):
        rows = engine.find(name, {"limit": "500"}, tenant=s1).rows
        assert {r["biller"] for r in rows} == ({"s1"} if name != "suspense" else set()), name
        with pytest.raises(NotFound, match="biller 'w2' does not exist"):
            engine.find(name, {"biller": "w2"}, tenant=s1)
    assert engine.find("audit", {}, tenant=s1).rows == []  # audit rows name no biller
    assert engine.find("suspense", {}, tenant=s1).rows == []


def test_payment_refund_order_and_suspense_filters(engine: Engine, world: dict[str, Any]) -> None:
    paid, stray, held = world["paid"], world["stray"], world["held"]
    assert _nos(engine, "payments", channel="counter") == [str(paid.payment.id)]
    assert _nos(engine, "payments", status="held") == [str(held.payment.id)]
    assert _nos(engine, "payments", channel_txn_id="TX-2") == [str(stray.payment.id)]
    assert _nos(engine, "payments", amount_min="9.99", amount_max="10.00") == [str(held.payment.id)]
    assert _nos(engine, "payments", reason="unknown_order") == [str(stray.payment.id)]
    assert _nos(engine, "payments", **{"from": "2026-09-02"}) == []
    assert _nos(engine, "orders", bill_no="A2") == [world["order"].order_no]
    assert _nos(engine, "orders", status="partially_refunded") == [world["order"].order_no]
    refunds = engine.find("refunds", {"kind": "credited"}).rows
    assert [(r["amount_fen"], r["status"]) for r in refunds] == [(500, "pending")]
    assert [r["channel"] for r in engine.find("refunds", {"channel": "wechatpay"}).rows] == [
        "wechatpay"
    ]
    suspense = {r["payment_id"]: r for r in engine.find("suspense").rows}
    assert suspense[held.payment.id]["reason"] == "amount_mismatch"
    assert suspense[held.payment.id]["actions"] == ["credit", "refund"]
    assert suspense[held.payment.id]["refund_status"] is None
    assert suspense[stray.payment.id]["actions"] == ["await_refund"]
    assert suspense[stray.payment.id]["refund_status"] == "pending"
    assert _nos(engine, "suspense", refund_status="none") == [str(held.payment.id)]


def test_pages_stay_stable_while_rows_are_inserted(engine: Engine, clock: FixedClock) -> None:
    engine.create_biller(Biller(code="big", name="big", kind=BillerKind.SCHOOL))
    rows = "".join(f"B{n:03},{n},{n}.00\n" for n in range(1, 26))
    engine.import_bills("big", f"bill_no,payer_id,amount\n{rows}".encode())
    for sort in ("-created", "bill_no", "-amount", "due_date"):
        seen: list[str] = []
        page = engine.find("bills", {"sort": sort, "limit": "7"})
        seen += [r["bill_no"] for r in page.rows]
        extra = 0
        while page.next_cursor:
            extra += 1
            more = "".join(f"N{sort}{extra}{n},9{n},1.00\n" for n in range(3))
            engine.import_bills("big", f"bill_no,payer_id,amount\n{more}".encode())
            page = engine.find("bills", {"sort": sort, "limit": "7", "cursor": page.next_cursor})
            seen += [r["bill_no"] for r in page.rows]
        originals = [n for n in seen if n.startswith("B")]
        assert sorted(originals) == [f"B{n:03}" for n in range(1, 26)], sort  # once each
        assert len(seen) == len(set(seen)), sort  # nothing seen twice


def test_bad_filters_and_cursors_are_refused_naming_them(
    engine: Engine, world: dict[str, Any]
) -> None:
    before = engine.find("audit", {"limit": "500"}).rows
    with pytest.raises(BadQuery, match="unknown filter 'colour' for bills; known: biller"):
        engine.find("bills", {"colour": "red"})
    with pytest.raises(BadQuery, match="filter status: 'late' is not one of open"):
        engine.find("bills", {"status": "late"})
    with pytest.raises(BadQuery, match="filter due_from: '2026-13-01' is not a date"):
        engine.find("bills", {"due_from": "2026-13-01"})
    with pytest.raises(BadQuery, match="more than two decimals|amount_min"):
        engine.find("payments", {"amount_min": "1.234"})
    with pytest.raises(BadQuery, match="sort: 'colour'"):
        engine.find("bills", {"sort": "colour"})
    with pytest.raises(BadQuery, match="limit: 0 is not between 1 and 500"):
        engine.find("bills", {"limit": "0"})
    page = engine.find("bills", {"limit": "2"})
    assert page.next_cursor is not None
    body, _, signature = page.next_cursor.partition(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    with pytest.raises(BadCursor, match="damaged or not issued by this billfold"):
        engine.find("bills", {"limit": "2", "cursor": forged})
    with pytest.raises(BadCursor, match="not a billfold cursor"):
        engine.find("bills", {"cursor": "garbage"})
    with pytest.raises(BadCursor, match="belongs to another list, sort, filter or caller"):
        engine.find("bills", {"limit": "2", "status": "open", "cursor": page.next_cursor})
    with pytest.raises(BadCursor, match="belongs to another list"):
        engine.find(
            "bills", {"limit": "2", "cursor": page.next_cursor}, tenant=engine.biller("s1").id
        )
    assert engine.find("audit", {"limit": "500"}).rows == before
