from billfold import Biller, BillerKind, Engine


def test_a_bill_paid_at_the_counter_is_credited_once(engine: Engine) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", b"bill_no,payer_id,amount\nT1,2024001,10.00\n")
    order = engine.create_order("s1", ["T1"])
    first = engine.confirm("counter", "C1", order.order_no, 1000)
    again = engine.confirm("counter", "C1", order.order_no, 1000)
    assert first.credited and not first.duplicate
    assert again.duplicate and again.payment.id == first.payment.id
    assert engine.bill("s1", "T1").paid_fen == 1000
    assert engine.check_books() == []
