"""Exactly-once under real concurrency: many threads, each through its own ``Engine`` call and
its own pooled connection, released together by a barrier.

Every test runs on SQLite (where ``BEGIN IMMEDIATE`` serializes the writers) and on
PostgreSQL (where row locks and the payments' unique key decide the race); the outcome must
be the same on both. Rows are counted with SQL, not through the engine's own reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from billfold import (
    Bill,
    Biller,
    BillerKind,
    BillItem,
    Engine,
    FeeRule,
    IdentifierKind,
    LateFeeRule,
    Order,
    OrderStatus,
    Payer,
    PaymentStatus,
    RefundRecord,
    RefundStatus,
)
from billfold.adapters.db.orders import SqlPayments
from billfold.adapters.db.uow import SqlUnitOfWork
from billfold.collection.confirming import ConfirmResult
from billfold.collection.reversing import ReversalRequest, reverse_payment
from billfold.errors import InvalidInput

T = TypeVar("T")
THREADS = 20


def run_together(count: int, work: Callable[[int], T]) -> list[T | Exception]:
    """Run ``work(0..count-1)`` on ``count`` threads released at once; results in order."""
    barrier = threading.Barrier(count)
    results: list[T | Exception | None] = [None] * count

    def run(index: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[index] = work(index)
        except Exception as exc:  # collected and judged by the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    done = [r for r in results if r is not None]
    assert len(done) == count, "a thread returned nothing"
    return done


def succeeded(results: list[T | Exception]) -> list[T]:
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == [], f"{len(errors)} thread(s) failed, first: {errors[0]!r}"
    return [r for r in results if not isinstance(r, Exception)]


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.db.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def balances(engine: Engine) -> dict[str, int]:
    """The trial balance without the accounts that are back at zero."""
    return {account: fen for account, fen in engine.trial_balance().items() if fen}


def school(engine: Engine, bills: int, amount: str = "100.00", **biller: Any) -> None:
    """Biller ``s1`` with bills T0..T{bills-1}, one student each."""
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL, **biller))
    rows = "".join(f"T{i},2024{i:03d},{amount}\n" for i in range(bills))
    engine.import_bills("s1", ("bill_no,payer_id,amount\n" + rows).encode())


def confirmer(
    engine: Engine, paying: list[tuple[str, str, str]], amount_fen: int
) -> Callable[[int], ConfirmResult]:
    """Thread ``n`` confirms ``paying[n]`` = (channel, transaction id, order number)."""
    return lambda n: engine.confirm(*paying[n], amount_fen)


def completer(engine: Engine, refund_no: str) -> Callable[[int], RefundRecord]:
    return lambda _: engine.complete_refund(refund_no, channel_refund_id="C1")


def ordering(engine: Engine, key: str) -> Callable[[int], Order]:
    return lambda _: engine.create_order("s1", ["T0"], idempotency_key=key)


# -- one confirmation, delivered twenty times at once ----------------------------------------------


def test_twenty_simultaneous_deliveries_of_one_confirmation_credit_the_bill_once(
    engine: Engine,
) -> None:
    school(engine, 1, fee_rules=(FeeRule("wechat", bps=60, min_fen=1),))
    order = engine.create_order("s1", ["T0"])

    results = succeeded(
        run_together(THREADS, lambda _: engine.confirm("wechat", "WX1", order.order_no, 10000))
    )

    assert len(results) == THREADS
    assert {r.payment.id for r in results} == {results[0].payment.id}
    assert sum(not r.duplicate for r in results) == 1
    assert all(r.credited for r in results)
    payment_id = results[0].payment.id
    assert scalar(engine, "SELECT count(*) FROM payments WHERE channel_txn_id = 'WX1'") == 1
    for kind in ("payment", "fee"):
        sql = "SELECT count(*) FROM journal_entries WHERE kind = :k AND payment_id = :p"
        assert scalar(engine, sql, k=kind, p=payment_id) == 1, kind
    for event in ("payment.confirmed", "bill.paid"):
        sql = "SELECT count(*) FROM outbox_events WHERE event_type = :e"
        assert scalar(engine, sql, e=event) == 1, event
    assert scalar(engine, "SELECT count(*) FROM outbox_events") == 2  # and nothing else
    bill = engine.bill("s1", "T0")
    assert (bill.paid_fen, bill.late_fee_paid_fen) == (10000, 0)
    paid = engine.order(order.order_no)
    assert (paid.status, paid.payment_id) == (OrderStatus.PAID, payment_id)
    assert engine.check_books() == []


def test_twenty_simultaneous_deliveries_for_an_unknown_order_keep_one_suspense_item(
    engine: Engine,
) -> None:
    school(engine, 1)

    results = succeeded(
        run_together(THREADS, lambda _: engine.confirm("alipay", "AL1", "NOPE", 777))
    )

    assert {r.payment.id for r in results} == {results[0].payment.id}
    assert sum(not r.duplicate for r in results) == 1
    assert {(r.status, r.payment.reason) for r in results} == {
        (PaymentStatus.SUSPENSE, "unknown_order")
    }
    assert scalar(engine, "SELECT count(*) FROM payments") == 1
    assert scalar(engine, "SELECT count(*) FROM refunds") == 1
    assert scalar(engine, "SELECT amount_fen FROM refunds WHERE status = 'pending'") == 777
    assert scalar(engine, "SELECT count(*) FROM journal_entries WHERE kind = 'suspense'") == 1
    assert balances(engine) == {"clearing:alipay": 777, "refunds_payable": -777}
    assert engine.check_books() == []


# -- two channels, one bill ---------------------------------------------------------------------


def test_two_channels_paying_one_bill_at_once_credit_it_once_and_refund_the_other(
    engine: Engine,
) -> None:
    rounds = 20
    school(engine, rounds, amount="250.00")
    for i in range(rounds):
        first = engine.create_order("s1", [f"T{i}"])
        second = engine.create_order("s1", [f"T{i}"])
        paying = [("wechat", f"WX{i}", first.order_no), ("alipay", f"AL{i}", second.order_no)]

        results = succeeded(run_together(2, confirmer(engine, paying, 25000)))

        winners = [r for r in results if r.credited]
        losers = [r for r in results if not r.credited]
        assert len(winners) == 1 and len(losers) == 1, f"round {i}: {results}"
        lost = losers[0].payment
        assert (lost.status, lost.reason) == (PaymentStatus.SUSPENSE, "already_paid")
        refunds = [r for r in engine.pending_refunds() if r.payment_id == lost.id]
        assert [(r.amount_fen, r.status) for r in refunds] == [(25000, RefundStatus.PENDING)]
        assert engine.order(lost.order_no).status is OrderStatus.FAILED
        assert engine.order(winners[0].payment.order_no).status is OrderStatus.PAID
        assert engine.bill("s1", f"T{i}").paid_fen == 25000
    assert scalar(engine, "SELECT count(*) FROM payments WHERE status = 'credited'") == rounds
    assert scalar(engine, "SELECT count(*) FROM refunds WHERE status = 'pending'") == rounds
    assert engine.trial_balance()["suspense"] == 0
    assert engine.check_books() == []


def test_twenty_transactions_paying_one_order_at_once_credit_it_once(engine: Engine) -> None:
    school(engine, 1)
    order = engine.create_order("s1", ["T0"])
    channels = ["wechat", "alipay", "unionpay", "counter"]

    results = succeeded(
        run_together(
            THREADS,
            lambda n: engine.confirm(channels[n % 4], f"TX{n}", order.order_no, 10000),
        )
    )

    assert len({r.payment.id for r in results}) == THREADS
    assert sum(r.credited for r in results) == 1
    assert {(r.status, r.payment.reason) for r in results if not r.credited} == {
        (PaymentStatus.SUSPENSE, "already_paid")
    }
    assert scalar(engine, "SELECT count(*) FROM refunds WHERE amount_fen = 10000") == THREADS - 1
    assert engine.bill("s1", "T0").paid_fen == 10000
    assert engine.order(order.order_no).status is OrderStatus.PAID
    assert engine.check_books() == []


def test_two_part_payments_of_an_overdue_bill_at_once_collect_its_late_fee_once(
    engine: Engine,
) -> None:
    engine.create_biller(Biller(code="w1", name="水务", kind=BillerKind.UTILITY))
    payer = Payer(IdentifierKind.ACCOUNT_NO, "H001")
    bill = Bill(
        biller_id=0,
        bill_no="W1",
        payer_id=0,
        items=[BillItem("water", "水费", 10000)],
        due_date=date(2026, 8, 1),  # a month overdue on the fixture clock
        late_fee_rule=LateFeeRule.fixed(500),
        allow_partial=True,
    )
    engine.add_bill("w1", payer, bill)
    first = engine.create_order("w1", ["W1"], amount_fen=3000)
    second = engine.create_order("w1", ["W1"], amount_fen=3000)
    assert [(ln.item_code, ln.amount_fen) for ln in first.lines] == [
        ("late_fee", 500),
        ("water", 2500),
    ]
    paying = [("wechat", "WX1", first.order_no), ("alipay", "AL1", second.order_no)]

    succeeded(run_together(2, confirmer(engine, paying, 3000)))

    assert engine.check_books() == []
    assert engine.bill("w1", "W1").late_fee_paid_fen == 500  # the fixed 5.00 fee, once


# -- many payments at once ------------------------------------------------------------------------


def test_twenty_payments_for_different_bills_at_once_are_all_credited(engine: Engine) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    # each student has two bills; half the orders list them in the other order
    rows = "".join(f"A{i},2024{i:03d},10.00\nB{i},2024{i:03d},20.00\n" for i in range(THREADS))
    engine.import_bills("s1", ("bill_no,payer_id,amount\n" + rows).encode())
    orders = [
        engine.create_order("s1", [f"A{i}", f"B{i}"] if i % 2 else [f"B{i}", f"A{i}"])
        for i in range(THREADS)
    ]
    channels = ["wechat", "alipay"]

    results = succeeded(
        run_together(
            THREADS, lambda n: engine.confirm(channels[n % 2], f"TX{n}", orders[n].order_no, 3000)
        )
    )

    assert all(r.credited and not r.duplicate for r in results)
    assert scalar(engine, "SELECT count(*) FROM payments WHERE status = 'credited'") == THREADS
    assert scalar(engine, "SELECT sum(paid_fen) FROM bills") == THREADS * 3000
    assert scalar(engine, "SELECT count(*) FROM bills WHERE status = 'paid'") == 2 * THREADS
    assert balances(engine) == {
        "clearing:alipay": 30000,
        "clearing:wechat": 30000,
        "payable:s1": -60000,
    }
    assert engine.check_books() == []


# -- refunds -------------------------------------------------------------------------------------


def _paid(engine: Engine, amount: str = "100.00") -> int:
    school(engine, 1, amount=amount)
    order = engine.create_order("s1", ["T0"])
    return engine.confirm("wechat", "WX1", order.order_no, order.total_fen).payment.id


def test_twenty_simultaneous_refund_requests_with_one_request_id_refund_once(
    engine: Engine,
) -> None:
    payment_id = _paid(engine)

    results = succeeded(
        run_together(
            THREADS,
            lambda _: engine.refund(
                payment_id, 4000, request_id="R-1", reason="多缴", requested_by="clerk"
            ),
        )
    )

    assert {r.refund_no for r in results} == {results[0].refund_no}
    assert scalar(engine, "SELECT count(*) FROM refunds") == 1
    assert scalar(engine, "SELECT count(*) FROM journal_entries WHERE kind = 'refund'") == 1
    sql = "SELECT count(*) FROM outbox_events WHERE event_type = 'refund.created'"
    assert scalar(engine, sql) == 1
    payment = engine.payment(payment_id)
    assert payment.refunded_fen == 4000
    assert engine.bill("s1", "T0").paid_fen == 6000
    assert engine.order(payment.order_no).status is OrderStatus.PARTIALLY_REFUNDED
    assert engine.check_books() == []


def test_twenty_simultaneous_full_refunds_under_different_request_ids_refund_once(
    engine: Engine,
) -> None:
    payment_id = _paid(engine)

    results = run_together(
        THREADS,
        lambda n: engine.refund(
            payment_id, 10000, request_id=f"R-{n}", reason="退学", requested_by="clerk"
        ),
    )

    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == THREADS - 1
    assert all(isinstance(r, InvalidInput) for r in refused), refused[0]
    assert all("more than the 0.00 left to refund" in str(r) for r in refused), refused[0]
    assert scalar(engine, "SELECT count(*) FROM refunds") == 1
    assert engine.payment(payment_id).refunded_fen == 10000
    assert engine.bill("s1", "T0").paid_fen == 0
    assert engine.check_books() == []


def test_twenty_simultaneous_part_refunds_add_up_to_the_payment(engine: Engine) -> None:
    payment_id = _paid(engine, amount="200.00")

    results = succeeded(
        run_together(
            THREADS,
            lambda n: engine.refund(
                payment_id, 1000, request_id=f"R-{n}", reason="分次退", requested_by="clerk"
            ),
        )
    )

    assert len({r.refund_no for r in results}) == THREADS
    assert engine.payment(payment_id).refunded_fen == 20000
    assert scalar(engine, "SELECT sum(refunded_fen) FROM order_lines") == 20000
    assert engine.order(engine.payment(payment_id).order_no).status is OrderStatus.REFUNDED
    assert engine.trial_balance()["refunds_payable"] == -20000
    assert engine.check_books() == []


def test_a_reversal_and_a_refund_of_one_payment_at_once_leave_exactly_one_of_them(
    engine: Engine,
) -> None:
    payment_id = _paid(engine)

    def act(n: int) -> object:
        if n == 0:
            return engine.reverse("wechat", "WX1", reason="冲正", requested_by="pos")
        return engine.refund(payment_id, 10000, request_id="R-1", reason="退", requested_by="c")

    results = run_together(2, act)

    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    status = engine.payment(payment_id).status
    refunds = scalar(engine, "SELECT count(*) FROM refunds")
    assert (status, refunds) in {(PaymentStatus.REVERSED, 0), (PaymentStatus.CREDITED, 1)}
    assert engine.bill("s1", "T0").paid_fen == 0
    assert engine.check_books() == []


def test_twenty_simultaneous_reports_that_a_refund_was_paid_post_it_once(
    engine: Engine,
) -> None:
    school(engine, 5)
    refund_nos = []
    for i in range(5):
        order = engine.create_order("s1", [f"T{i}"])
        payment = engine.confirm("wechat", f"WX{i}", order.order_no, 10000).payment
        refund = engine.refund(payment.id, 10000, request_id="R", reason="退", requested_by="c")
        refund_nos.append(refund.refund_no)

    for refund_no in refund_nos:
        results = run_together(THREADS, completer(engine, refund_no))
        sql = (
            "SELECT count(*) FROM journal_entries e JOIN refunds r ON r.id = e.refund_id "
            "WHERE e.kind = 'refund_paid' AND r.refund_no = :no"
        )
        assert scalar(engine, sql, no=refund_no) == 1
        assert {r.status for r in succeeded(results)} == {RefundStatus.SUCCEEDED}
    assert engine.trial_balance()["refunds_payable"] == 0
    assert engine.check_books() == []


# -- a reversal racing the confirmation it undoes ------------------------------------------------


class _PausingPayments(SqlPayments):
    """Payments that stop just before inserting, until the test lets them go on."""

    reached: threading.Event
    release: threading.Event

    def insert(self, values: dict[str, Any]) -> int | None:
        self.reached.set()
        assert self.release.wait(30), "the test never released the paused insert"
        return super().insert(values)


class _PausingUnitOfWork(SqlUnitOfWork):
    def __init__(self, engine: Engine, reached: threading.Event, release: threading.Event) -> None:
        super().__init__(engine.db)
        self._events = (reached, release)

    def __enter__(self) -> _PausingUnitOfWork:
        super().__enter__()
        payments = _PausingPayments(self.conn)
        payments.reached, payments.release = self._events
        self.payments = payments
        return self


def test_a_reversal_that_finds_nothing_then_loses_the_insert_race_still_reverses(
    engine: Engine,
) -> None:
    if engine.db.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers: the confirmation cannot slip in between")
    school(engine, 1)
    order = engine.create_order("s1", ["T0"])
    reached, release = threading.Event(), threading.Event()
    reversed_: list[object] = []

    def reverse() -> None:
        uow = _PausingUnitOfWork(engine, reached, release)
        reversed_.append(
            reverse_payment(uow, engine.clock, ReversalRequest("pos", "P1", "超时", "p"))
        )

    worker = threading.Thread(target=reverse, daemon=True)
    worker.start()
    assert reached.wait(30)  # the reversal looked, found no payment, and is about to insert
    confirmed = engine.confirm("pos", "P1", order.order_no, 10000)
    release.set()
    worker.join(30)

    assert confirmed.credited  # it came first, so it was credited...
    assert engine.payment(confirmed.payment.id).status is PaymentStatus.REVERSED  # ...and undone
    assert engine.bill("s1", "T0").paid_fen == 0
    assert engine.check_books() == []


def test_twenty_simultaneous_order_requests_with_one_idempotency_key_make_one_order(
    engine: Engine,
) -> None:
    school(engine, 1)

    for cart in range(5):
        key = f"cart-{cart}"
        results = run_together(THREADS, ordering(engine, key))

        sql = "SELECT count(*) FROM orders WHERE idempotency_key = :k"
        assert scalar(engine, sql, k=key) == 1
        orders = succeeded(results)
        assert {o.order_no for o in orders} == {orders[0].order_no}
