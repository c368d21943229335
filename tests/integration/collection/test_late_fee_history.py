"""Late fees accrue day by day on the principal owed on each day, read from the payments in
the database: a part payment slows the accrual, never stops it; the cap is on the original
principal. The engine is compared with a day-by-day reference model. SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billfold import Bill, Biller, BillerKind, BillItem, Engine, IdentifierKind, LateFeeRule, Payer
from billfold.clock import FixedClock
from billfold.collection.bill import BillKind

DUE = date(2026, 9, 10)
NUMBERS = itertools.count()


def at(day: date, hour: int = 12) -> datetime:
    """Noon (default) of business date ``day`` in Asia/Shanghai, as UTC."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=8)


def add_fine(engine: Engine, bill_no: str, fine_fen: int, rule: LateFeeRule, due: date) -> None:
    engine.add_bill(
        "g1",
        Payer(IdentifierKind.DECISION_NO, bill_no),
        Bill(
            biller_id=0,
            bill_no=bill_no,
            payer_id=0,
            items=[BillItem("fine", "罚款", fine_fen)],
            kind=BillKind.FINE,
            decision_no=bill_no,
            due_date=due,
            late_fee_rule=rule,
            allow_partial=True,
        ),
    )


@pytest.fixture
def office(engine: Engine) -> Engine:
    engine.create_biller(Biller(code="g1", name="交警支队", kind=BillerKind.GOVERNMENT))
    return engine


def pay(engine: Engine, clock: FixedClock, bill_no: str, day: date, amount: int) -> None:
    clock.set(at(day))
    order = engine.create_order("g1", [bill_no], amount_fen=amount)
    engine.confirm("wechat", f"{bill_no}-{day}-{amount}", order.order_no, amount)


def due_on(engine: Engine, clock: FixedClock, bill_no: str, day: date) -> int:
    clock.set(at(day))
    return engine.bill("g1", bill_no).amount_due_fen(day)


def test_a_part_payment_slows_the_late_fee_and_never_stops_it(
    office: Engine, clock: FixedClock
) -> None:
    add_fine(office, "F1", 10_000, LateFeeRule.daily(300, cap_bps=10_000), DUE)
    assert due_on(office, clock, "F1", DUE + timedelta(10)) == 13_000  # 30.00 late fee
    pay(office, clock, "F1", DUE + timedelta(10), 8000)  # 30.00 late fee + 50.00 fine
    assert office.bill("g1", "F1").outstanding_fen == 5000
    # ten more days on the 50.00 still owed: 1.50 a day
    assert due_on(office, clock, "F1", DUE + timedelta(20)) == 5000 + 1500
    assert office.check_books() == []


def test_the_cap_is_the_original_fine_over_the_life_of_the_fine(
    office: Engine, clock: FixedClock
) -> None:
    add_fine(office, "F2", 10_000, LateFeeRule.daily(300, cap_bps=10_000), DUE)
    pay(office, clock, "F2", DUE + timedelta(10), 8000)
    # 30.00 paid + 50 days × 1.50 = 105.00 accrued: capped at the 100.00 fine
    assert due_on(office, clock, "F2", DUE + timedelta(60)) == 5000 + (10_000 - 3000)


def test_a_payment_just_before_midnight_counts_on_its_business_date(
    office: Engine, clock: FixedClock
) -> None:
    add_fine(office, "F3", 10_000, LateFeeRule.daily(300, cap_bps=10_000), DUE)
    clock.set(at(DUE + timedelta(1), hour=0) - timedelta(seconds=1))  # 23:59:59 on the due date
    order = office.create_order("g1", ["F3"], amount_fen=5000)
    office.confirm("wechat", "F3-late", order.order_no, 5000)
    # nothing overdue when paid; 50.00 then owed from the first overdue day on
    assert due_on(office, clock, "F3", DUE + timedelta(4)) == 5000 + 4 * 150


# -- against a day-by-day reference model ------------------------------------------------------


def reference(
    principal: int,
    bps: int,
    cap_bps: int | None,
    grace: int,
    due: date,
    payments: list[tuple[int, int]],
    end: int,
) -> list[int]:
    """Walk day by day from the due date: each overdue day accrues on the principal owed at
    its start; a payment (day offset, amount) pays the late fee first, then principal.
    Returns what is due on each payment day before paying, then on day ``end``."""
    owed, fee_paid = principal, 0
    accrued = Fraction(0)
    answers = []
    todo = sorted(payments)
    for offset in range(0, end + 1):
        if offset > grace:
            accrued += Fraction(owed * bps, 10_000)
        total = int(accrued + Fraction(1, 2))  # half up, fen
        if cap_bps is not None:
            total = min(total, int(Fraction(principal * cap_bps, 10_000) + Fraction(1, 2)))
        fee_owed = max(0, total - fee_paid)
        for _day, amount in [p for p in todo if p[0] == offset]:
            answers.append(owed + fee_owed)
            to_fee = min(amount, fee_owed)
            fee_paid += to_fee
            fee_owed -= to_fee
            owed -= amount - to_fee
    answers.append(owed + fee_owed)
    return answers


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    principal=st.integers(1000, 500_000),
    bps=st.integers(1, 500),
    cap_bps=st.one_of(st.none(), st.integers(100, 10_000)),
    grace=st.integers(0, 5),
    due=st.dates(date(2026, 1, 1), date(2026, 8, 31)),
    shares=st.lists(st.tuples(st.integers(0, 60), st.integers(1, 300)), max_size=4),
    end=st.integers(0, 90),
)
def test_the_engine_matches_a_day_by_day_model(
    office: Engine,
    clock: FixedClock,
    principal: int,
    bps: int,
    cap_bps: int | None,
    grace: int,
    due: date,
    shares: list[tuple[int, int]],
    end: int,
) -> None:
    bill_no = f"H{next(NUMBERS)}"
    add_fine(
        office, bill_no, principal, LateFeeRule.daily(bps, cap_bps=cap_bps, grace_days=grace), due
    )
    # part payments: per mille of what is due that day, each on its own day, leaving some owed
    payments: list[tuple[int, int]] = []
    days = sorted({day for day, _ in shares})
    seen = []
    for day, per_mille in sorted(dict(shares).items()):
        now_due = due_on(office, clock, bill_no, due + timedelta(day))
        amount = now_due * per_mille // 1000
        if amount < 1 or amount >= now_due:
            continue
        seen.append(now_due)
        pay(office, clock, bill_no, due + timedelta(day), amount)
        payments.append((day, amount))
    last = max([end, *days])
    seen.append(due_on(office, clock, bill_no, due + timedelta(last)))
    assert seen == reference(principal, bps, cap_bps, grace, due, payments, last)
    assert office.check_books() == []
