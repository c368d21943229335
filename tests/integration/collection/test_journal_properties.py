"""The books stay sound whatever is done to the engine, in any order.

A hypothesis state machine drives one engine on a fresh SQLite file per example through
random orders, confirmations (repeats, wrong amounts, late ones, unknown orders), refunds
(partial, full, repeated, too large), refund completions, reversals, waivers, cancellations,
order expiry and days passing (bills fall overdue and late fees accrue). After every step
the journal and the stored rows must agree, and every refused operation must have changed
nothing at all.
"""

from __future__ import annotations

import shutil
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text

from billfold import (
    Bill,
    Biller,
    BillerKind,
    BillItem,
    BillKind,
    Engine,
    FeeKind,
    FeeRule,
    FixedClock,
    IdentifierKind,
    LateFeeRule,
    OrderStatus,
    Payer,
    PaymentStatus,
    RefundStatus,
)
from billfold.clock import business_date
from billfold.errors import (
    BillfoldError,
    BillsAlreadyPaid,
    Conflict,
    InvalidInput,
    InvalidTransition,
)

CHANNELS = ("wechat", "alipay", "counter")
TABLES = (
    "bills",
    "bill_items",
    "waivers",
    "orders",
    "order_lines",
    "payments",
    "refunds",
    "journal_entries",
    "journal_postings",
    "outbox_events",
    "audit_log",
)
START = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
index = st.integers(min_value=0, max_value=10_000)
orders = st.sampled_from(["full", "full", "part", "any"])
percents = st.integers(1, 99)
amounts = st.integers(1, 60000)


def _bill(bill_no: str, items: list[BillItem], **kwargs: Any) -> Bill:
    return Bill(biller_id=0, bill_no=bill_no, payer_id=0, items=items, **kwargs)


def _world(engine: Engine) -> list[tuple[str, list[str]]]:
    """Two billers with fees, four payers, eight bills; returns (biller, bill numbers) per payer."""
    engine.create_biller(
        Biller(
            code="s1",
            name="一中",
            kind=BillerKind.SCHOOL,
            fee_rules=(FeeRule("wechat", bps=60, min_fen=1),),
        )
    )
    engine.create_biller(
        Biller(
            code="w1",
            name="水务",
            kind=BillerKind.UTILITY,
            fee_rules=(FeeRule("alipay", kind=FeeKind.FIXED, fixed_fen=150),),
        )
    )
    student = Payer(IdentifierKind.STUDENT_NO, "2024001")
    engine.add_bill(
        "s1",
        student,
        _bill(
            "S1",
            [BillItem("tuition", "学费", 300000, 1), BillItem("books", "书费", 20000, 2)],
            due_date=date(2026, 9, 10),
        ),
    )
    engine.add_bill(
        "s1",
        student,
        _bill(
            "S2",
            [BillItem("dorm", "住宿费", 80000)],
            due_date=date(2026, 9, 2),
            late_fee_rule=LateFeeRule.daily(5, cap_bps=10_000),
            allow_partial=True,
            min_part_fen=10000,
        ),
    )
    engine.add_bill(
        "s1",
        Payer(IdentifierKind.STUDENT_NO, "2024002"),
        _bill("S3", [BillItem("trip", "研学", 15000)], allow_partial=True),
    )
    home = Payer(IdentifierKind.ACCOUNT_NO, "H001")
    engine.add_bill(
        "w1",
        home,
        _bill(
            "W1",
            [BillItem("water", "水费", 12345)],
            due_date=date(2026, 9, 1),
            late_fee_rule=LateFeeRule.fixed(500),
            allow_partial=True,
        ),
    )
    engine.add_bill(
        "w1",
        home,
        _bill(
            "W2",
            [BillItem("power", "电费", 6789), BillItem("service", "服务费", 100, 200)],
            due_date=date(2026, 8, 20),
            late_fee_rule=LateFeeRule.daily(300, cap_bps=10_000),
        ),
    )
    engine.add_bill(
        "w1",
        home,
        _bill(
            "W3",
            [BillItem("deposit", "预存", 0)],
            kind=BillKind.OPEN,
            open_min_fen=100,
            open_max_fen=50000,
        ),
    )
    engine.add_bill(
        "w1",
        Payer(IdentifierKind.ACCOUNT_NO, "H002"),
        _bill(
            "W4",
            [BillItem("gas", "燃气费", 9999)],
            due_date=date(2026, 9, 5),
            late_fee_rule=LateFeeRule.fixed(200, grace_days=1),
            allow_partial=True,
        ),
    )
    return [("s1", ["S1", "S2"]), ("s1", ["S3"]), ("w1", ["W1", "W2", "W3"]), ("w1", ["W4"])]


def _pick(items: list[Any], i: int) -> Any:
    return items[i % len(items)]


class JournalMachine(RuleBasedStateMachine):
    template: ClassVar[Path]
    workdir: ClassVar[Path]

    def __init__(self) -> None:
        super().__init__()
        self.path = self.workdir / f"{uuid.uuid4().hex}.db"
        shutil.copy(self.template, self.path)
        self.clock = FixedClock(START)
        self.engine = Engine.from_url(f"sqlite:///{self.path}", clock=self.clock)
        self.waivers = 0  # request ids of the waivers made so far
        self.groups = _world(self.engine)
        self.bills = [(code, no) for code, nos in self.groups for no in nos]
        self.orders: list[str] = []
        self.txns: list[tuple[str, str, str, int]] = []  # channel, txn id, order no, payment id
        self.payments: list[int] = []
        self.refunds: list[tuple[int, str, int, str]] = []  # payment, request id, fen, refund no
        self.serial = 0

    def teardown(self) -> None:
        self.engine.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    # -- helpers --------------------------------------------------------------------------
    def _next(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial}"

    def _rows(self) -> dict[str, list[tuple[Any, ...]]]:
        with self.engine.db.connect() as conn:
            return {
                table: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
                for table in TABLES
            }

    def _refused(self, before: dict[str, list[tuple[Any, ...]]], error: BillfoldError) -> None:
        assert error.message, "an error needs a message for the clerk"
        event(f"refused: {type(error).__name__}: {' '.join(error.message.split()[:2])}")
        assert self._rows() == before, f"refused ({error!r}) but something changed"

    # -- orders ------------------------------------------------------------------------------
    def _order(self, group: int, mask: int, how: str, percent: int, amount: int) -> str | None:
        """Order some of one payer's bills: everything due, a share of it, or any amount."""
        code, nos = _pick(self.groups, group)
        chosen = [no for i, no in enumerate(nos) if mask >> i & 1] or nos[:1]
        today = business_date(self.clock.now())
        due = sum(self.engine.bill(code, no).amount_due_fen(today) for no in chosen)
        wanted = {"full": None, "part": due * percent // 100, "any": amount}[how]
        before = self._rows()
        try:
            order = self.engine.create_order(code, chosen, amount_fen=wanted)
        except (InvalidInput, Conflict) as error:
            self._refused(before, error)
            return None
        assert order.total_fen == (due if wanted is None else wanted)
        assert sum(line.amount_fen for line in order.lines) == order.total_fen
        self.orders.append(order.order_no)
        event(
            f"order: {how}"
            + (" with a late fee" if any(ln.is_late_fee for ln in order.lines) else "")
        )
        return order.order_no

    @initialize(group=index, channel=st.sampled_from(CHANNELS))
    def some_bills_are_paid(self, group: int, channel: str) -> None:
        for offset in (0, 2):
            order_no = self._order(group + offset, 3, "full", 100, 0)  # not the open bill
            assert order_no is not None
            self._confirm(order_no, channel, "pay", 0)
            assert self.engine.order(order_no).status is OrderStatus.PAID

    @rule(group=index, mask=st.integers(1, 7), how=orders, percent=percents, amount=amounts)
    def create_order(self, group: int, mask: int, how: str, percent: int, amount: int) -> None:
        self._order(group, mask, how, percent, amount)

    @rule(
        group=index,
        mask=st.integers(1, 7),
        how=orders,
        percent=percents,
        amount=amounts,
        channel=st.sampled_from(CHANNELS),
    )
    def pay_a_new_order(
        self, group: int, mask: int, how: str, percent: int, amount: int, channel: str
    ) -> None:
        order_no = self._order(group, mask, how, percent, amount)
        if order_no is not None:
            self._confirm(order_no, channel, "pay", 0)

    @precondition(lambda self: self.orders)
    @rule(which=index, channel=st.sampled_from(CHANNELS))
    def start_payment(self, which: int, channel: str) -> None:
        order_no = _pick(self.orders, which)
        before = self._rows()
        try:
            order = self.engine.start_payment(order_no, channel)
        except (InvalidTransition, BillsAlreadyPaid) as error:  # paid meanwhile: refused
            self._refused(before, error)
            return
        assert order.status is OrderStatus.PAYING

    # -- operators on bills ---------------------------------------------------------------------
    @rule(
        which=index,
        action=st.sampled_from(["waive", "waive", "waive", "waive_too_much", "cancel"]),
        percent=st.integers(1, 100),
    )
    def operator(self, which: int, action: str, percent: int) -> None:
        code, no = _pick(self.bills, which)
        bill = self.engine.bill(code, no)
        before = self._rows()
        if action == "cancel":
            try:
                self.engine.cancel_bill(code, no, reason="重复开单", by="clerk")
            except InvalidTransition as error:
                self._refused(before, error)
                assert bill.cancelled or bill.paid_fen > 0
                return
            assert not bill.cancelled and bill.paid_fen == 0
            event("bill cancelled")
            return
        part = action == "waive"
        amount = bill.outstanding_fen * percent // 100 if part else bill.outstanding_fen + 1
        try:
            self.waivers += 1
            after = self.engine.waive(
                code,
                no,
                amount,
                reason="助学金",
                granted_by="主任",
                request_id=f"w{self.waivers}",
            )
        except (InvalidInput, InvalidTransition) as error:
            self._refused(before, error)
            assert not part or amount == 0 or bill.cancelled or bill.kind is BillKind.OPEN
            return
        assert part and after.waived_fen == bill.waived_fen + amount
        event("bill waived")

    # -- confirmations ----------------------------------------------------------------------
    @precondition(lambda self: self.orders)
    @rule(
        which=index,
        channel=st.sampled_from(CHANNELS),
        how=st.sampled_from(["pay", "repeat", "wrong_amount", "late", "unknown"]),
        delta=st.sampled_from([-1, 1, 100]),
    )
    def confirm(self, which: int, channel: str, how: str, delta: int) -> None:
        if how == "repeat" and self.txns:
            channel, txn, order_no, payment_id = _pick(self.txns, which)
            again = self.engine.confirm(channel, txn, _pick(self.orders, which), 1)
            assert again.duplicate and again.payment.id == payment_id
            assert again.payment == self.engine.payment(payment_id)
            return
        # mostly the newest orders: those are the ones a payer is paying right now
        order_no = _pick(self.orders if which % 4 == 0 else self.orders[-2:], which // 4)
        self._confirm(order_no, channel, how, delta)

    def _confirm(self, order_no: str, channel: str, how: str, delta: int) -> None:
        order = self.engine.order(order_no)
        amount = order.total_fen
        if how == "wrong_amount":
            amount = amount + delta if amount + delta > 0 else amount + 1
        if how == "late":
            self.clock.advance(minutes=31)
        if how == "unknown":
            order_no = self._next("NOSUCH")
        before = {
            ln.bill_no: self.engine.bill(_biller_code(self.bills, ln.bill_no), ln.bill_no)
            for ln in order.lines
        }
        txn = self._next(channel[:2].upper())
        result = self.engine.confirm(channel, txn, order_no, amount)
        event(f"confirm {how}: {result.status.value} {result.payment.reason or ''}")
        assert not result.duplicate
        self.txns.append((channel, txn, order_no, result.payment.id))
        self.payments.append(result.payment.id)
        payment = result.payment
        if how == "unknown":
            assert (payment.status, payment.reason) == (PaymentStatus.SUSPENSE, "unknown_order")
        elif how == "wrong_amount":
            assert (payment.status, payment.reason) == (PaymentStatus.HELD, "amount_mismatch")
        elif how == "late":
            assert (payment.status, payment.reason) == (PaymentStatus.SUSPENSE, "order_expired")
        elif result.credited:
            assert order.status in (OrderStatus.CREATED, OrderStatus.PAYING)
            assert self.engine.order(order_no).status is OrderStatus.PAID
            credited: dict[str, int] = defaultdict(int)
            for line in order.lines:
                credited[line.bill_no] += line.amount_fen
            for no, old in before.items():
                new = self.engine.bill(_biller_code(self.bills, no), no)
                gained = new.paid_fen + new.late_fee_paid_fen - old.paid_fen - old.late_fee_paid_fen
                assert gained == credited[no], f"bill {no} gained {gained}, not {credited[no]}"
        else:
            assert payment.status is PaymentStatus.SUSPENSE, payment
            if order.status in (OrderStatus.CREATED, OrderStatus.PAYING):
                assert payment.reason in ("already_paid", "bill_cancelled", "order_expired")

    # -- refunds and reversals ----------------------------------------------------------------
    @precondition(lambda self: self.payments)
    @rule(
        which=index,
        how=st.sampled_from(["full", "part", "too_much", "repeat", "repeat_other_amount"]),
        percent=st.integers(1, 99),
    )
    def refund(self, which: int, how: str, percent: int) -> None:
        live = [p for p in map(self.engine.payment, self.payments) if p.refundable_fen > 0]
        # mostly money that can still be refunded; sometimes anything, for the refusals
        payment = (
            _pick(live, which // 3)
            if live and which % 3
            else self.engine.payment(_pick(self.payments, which // 3))
        )
        earlier = [r for r in self.refunds if r[0] == payment.id]
        left = payment.refundable_fen
        refund_no = ""  # set when this repeats an earlier request
        if how.startswith("repeat") and earlier:
            _payment, request_id, amount, refund_no = _pick(earlier, which)
            amount += how == "repeat_other_amount"
        else:
            request_id = self._next("R")
            amount = {"full": left, "part": max(1, left * percent // 100)}.get(how, left + 1)
        before = self._rows()
        try:
            refund = self.engine.refund(
                payment.id, amount, request_id=request_id, reason="退费", requested_by="clerk"
            )
        except (InvalidInput, InvalidTransition, Conflict) as error:
            self._refused(before, error)
            if refund_no and how == "repeat_other_amount":
                assert "was made before" in error.message
            elif not refund_no:
                assert payment.status is PaymentStatus.REVERSED or amount > left or amount <= 0, (
                    f"a valid refund of {amount} (of {left} left) was refused: {error}"
                )
            if amount > left > 0 and not refund_no and payment.status is not PaymentStatus.REVERSED:
                assert "left to refund" in error.message
            return
        if refund_no:
            assert refund.refund_no == refund_no and how == "repeat"
            assert self._rows() == before, "a repeated refund request changed something"
            return
        assert 0 < amount <= left and payment.status is not PaymentStatus.REVERSED
        assert refund.status is RefundStatus.PENDING and refund.amount_fen == amount
        self.refunds.append((payment.id, request_id, amount, refund.refund_no))
        event(f"refund of a {payment.status.value} payment: {how}")

    @precondition(lambda self: self.payments)
    @rule(which=index, ok=st.booleans())
    def complete_refund(self, which: int, ok: bool) -> None:
        made = _refunds(self.engine)  # those asked for and those queued automatically
        if not made:
            return
        refund_no, status = _pick(made, which)
        before = self._rows()
        try:
            done = self.engine.complete_refund(refund_no, succeeded=ok, channel_refund_id="CR")
        except InvalidTransition as error:
            self._refused(before, error)
            assert status in (RefundStatus.SUCCEEDED, RefundStatus.CANCELLED)
            return
        target = RefundStatus.SUCCEEDED if ok else RefundStatus.FAILED
        assert done.status is target
        assert status in (RefundStatus.PENDING, RefundStatus.FAILED, target)
        event(f"refund {status.value} -> {target.value}")

    @precondition(lambda self: self.txns)
    @rule(which=index, never_arrived=st.booleans())
    def reverse(self, which: int, never_arrived: bool) -> None:
        if never_arrived:
            channel, txn = "counter", self._next("POS")
            marker = self.engine.reverse(channel, txn, reason="超时", requested_by="pos")
            assert (marker.status, marker.amount_fen) == (PaymentStatus.REVERSED, 0)
            self.txns.append((channel, txn, _pick(self.orders, which), marker.id))
            self.payments.append(marker.id)
            return
        channel, txn, _order_no, payment_id = _pick(self.txns, which)
        payment = self.engine.payment(payment_id)
        refunds = [status for _no, status in _refunds(self.engine, payment_id)]
        before = self._rows()
        try:
            done = self.engine.reverse(channel, txn, reason="冲正", requested_by="pos")
        except InvalidTransition as error:
            self._refused(before, error)
            assert RefundStatus.SUCCEEDED in refunds or (
                payment.status is PaymentStatus.CREDITED and refunds
            )
            return
        assert done.id == payment_id and done.status is PaymentStatus.REVERSED
        event(f"reversal of a {payment.status.value} payment")

    # -- time ----------------------------------------------------------------------------------
    @rule()
    def expire_orders(self) -> None:
        self.engine.expire_orders()

    @rule(days=st.integers(1, 4))
    def days_pass(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    # -- what must always hold ---------------------------------------------------------------
    @invariant()
    def books_are_sound(self) -> None:
        assert self.engine.check_books() == []
        assert sum(self.engine.trial_balance().values()) == 0

    @invariant()
    def stored_rows_agree_with_the_journal(self) -> None:
        _check_rows_against_journal(self.engine)


def _biller_code(bills: list[tuple[str, str]], bill_no: str) -> str:
    return next(code for code, no in bills if no == bill_no)


def _refunds(engine: Engine, payment_id: int | None = None) -> list[tuple[str, RefundStatus]]:
    """(refund number, status) of every refund, or of one payment's."""
    sql = "SELECT refund_no, status FROM refunds"
    if payment_id is not None:
        sql += " WHERE payment_id = :p"
    with engine.db.connect() as conn:
        rows = conn.execute(text(sql + " ORDER BY id"), {"p": payment_id}).all()
    return [(no, RefundStatus(status)) for no, status in rows]


def _check_rows_against_journal(engine: Engine) -> None:
    """What each account must hold, derived from payments, refunds and bills alone."""
    balance: dict[str, int] = defaultdict(int, engine.trial_balance())
    with engine.db.connect() as conn:
        payments = conn.execute(text("SELECT * FROM payments")).all()
        refunds = conn.execute(text("SELECT * FROM refunds")).all()
        orders = {r.id: r for r in conn.execute(text("SELECT * FROM orders"))}
        lines = conn.execute(text("SELECT * FROM order_lines")).all()
        bills = conn.execute(text("SELECT * FROM bills")).all()
        items = conn.execute(text("SELECT * FROM bill_items")).all()
    kinds = {b.id: b.kind for b in bills}
    for item in items:
        assert item.paid_fen >= 0 and item.waived_fen >= 0 and item.refunded_fen >= 0
        if kinds[item.bill_id] == "open":
            assert item.paid_fen <= item.amount_fen
        else:
            held = item.paid_fen + item.waived_fen + item.refunded_fen
            assert held <= item.amount_fen, f"bill item {item.bill_id}/{item.code} over-credited"
            assert item.paid_fen <= item.amount_fen - item.waived_fen
    assert all(b.late_fee_paid_fen >= 0 for b in bills)

    by_payment: dict[int, list[Any]] = defaultdict(list)
    for r in refunds:
        by_payment[r.payment_id].append(r)
    held = sum(p.amount_fen - p.refunded_fen for p in payments if p.status == "held")
    assert balance["suspense"] == -held, "suspense must be minus the money held for review"
    owed = sum(r.amount_fen for r in refunds if r.status in ("pending", "failed"))
    assert balance["refunds_payable"] == -owed, "refunds payable must be the refunds not paid out"
    for channel in {p.channel for p in payments}:
        received = sum(
            p.amount_fen for p in payments if p.channel == channel and p.status != "reversed"
        )
        paid_out = sum(
            r.amount_fen
            for p in payments
            if p.channel == channel
            for r in by_payment[p.id]
            if r.status == "succeeded"
        )
        assert balance[f"clearing:{channel}"] == received - paid_out, channel
    fees = sum(
        p.fee_fen - sum(r.fee_fen for r in by_payment[p.id])
        for p in payments
        if p.status == "credited"
    )
    assert balance["fee_income"] == -fees
    credited = [p for p in payments if p.status == "credited"]
    on_bills = sum(b.paid_fen + b.late_fee_paid_fen for b in bills)
    assert on_bills == sum(p.amount_fen - p.refunded_fen for p in credited)

    for p in payments:
        assert 0 <= p.refunded_fen <= p.amount_fen
        assert p.refunded_fen == sum(r.amount_fen for r in by_payment[p.id]), p.id
    line_refunds: dict[int, int] = defaultdict(int)
    for line in lines:
        assert 0 <= line.refunded_fen <= line.amount_fen
        line_refunds[line.order_id] += line.refunded_fen
    for order_id, order in orders.items():
        mine = [p for p in credited if p.order_id == order_id]
        assert len(mine) <= 1, f"order {order.order_no} credited {len(mine)} times"
        if order.status in ("paid", "partially_refunded", "refunded"):
            assert [p.id for p in mine] == [order.payment_id], order.order_no
            assert order.refunded_fen == mine[0].refunded_fen == line_refunds[order_id]
        else:
            assert mine == [], f"order {order.order_no} is {order.status} but credited"


@pytest.mark.slow
def test_random_operation_sequences_keep_the_journal_balanced_and_equal_to_the_bills(
    sqlite_template: Path, tmp_path: Path
) -> None:
    machine = type(
        "BoundJournalMachine",
        (JournalMachine,),
        {"template": sqlite_template, "workdir": tmp_path},
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=40,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_a_bill_whose_late_fee_was_paid_cannot_be_cancelled(engine: Engine) -> None:
    engine.create_biller(Biller(code="w1", name="水务", kind=BillerKind.UTILITY))
    overdue = _bill(
        "W1",
        [BillItem("water", "水费", 10000)],
        due_date=date(2026, 8, 1),
        late_fee_rule=LateFeeRule.fixed(500),
        allow_partial=True,
    )
    engine.add_bill("w1", Payer(IdentifierKind.ACCOUNT_NO, "H001"), overdue)
    order = engine.create_order("w1", ["W1"], amount_fen=500)  # the late fee, nothing else
    assert [(ln.item_code, ln.amount_fen) for ln in order.lines] == [("late_fee", 500)]
    assert engine.confirm("wechat", "WX1", order.order_no, 500).credited

    with pytest.raises(InvalidTransition, match=r"has .* paid; refund it before cancelling"):
        engine.cancel_bill("w1", "W1", reason="重复开单", by="clerk")
    assert not engine.bill("w1", "W1").cancelled
