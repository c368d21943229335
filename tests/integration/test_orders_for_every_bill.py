"""``billfold.testing.orders_for_every_bill``: one payable order per bill, for benchmarks."""

from __future__ import annotations

from billfold import Biller, BillerKind, Engine
from billfold.collection.order import OrderStatus
from billfold.testing import orders_for_every_bill


def test_one_order_per_bill_with_the_prefix_each_confirmable(engine: Engine) -> None:
    engine.create_biller(Biller(code="b1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("b1", b"bill_no,payer_id,amount\nA1,1,10.00\nA2,2,25.50\nB1,3,7.00\n")
    made = orders_for_every_bill(engine, "b1", "A")
    assert sorted(made) == [("OA1", 1000), ("OA2", 2550)]
    for order_no, total in made:
        order = engine.order(order_no)
        assert (order.status, order.total_fen) == (OrderStatus.CREATED, total)
        assert engine.confirm("counter", f"T{order_no}", order_no, total).credited
    assert engine.bill("b1", "A2").paid_fen == 2550
    assert engine.bill("b1", "B1").paid_fen == 0  # another prefix: no order
    assert engine.check_books() == []
