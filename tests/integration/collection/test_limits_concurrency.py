"""A biller's daily and monthly limits hold when many orders arrive at once: threads
released together by a barrier on PostgreSQL never make more orders than the limit allows.
(SQLite has one writer, so the race cannot happen there.)"""

from __future__ import annotations

import threading

import pytest

from billfold import Biller, BillerKind, Engine, Limits
from billfold.errors import InvalidInput, LimitExceeded

ORDERS = 10
BILL = 3000  # 30.00 a bill: a 100.00 limit takes three


def desk(engine: Engine, limits: Limits) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    rows = "".join(f"T{i},2024{i:03d},30.00\n" for i in range(ORDERS))
    engine.import_bills("s1", ("bill_no,payer_id,amount\n" + rows).encode())
    engine.set_limits("s1", limits, actor="risk", reason="test")


def order_all_at_once(engine: Engine) -> tuple[int, int]:
    """Ten threads each order one bill, released together; (made, refused)."""
    barrier = threading.Barrier(ORDERS)
    made: list[str] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def order(n: int) -> None:
        barrier.wait(30)
        try:
            made.append(engine.create_order("s1", [f"T{n}"]).order_no)
        except LimitExceeded as exc:
            refused.append(str(exc))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=order, args=(n,)) for n in range(ORDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return len(made), len(refused)


@pytest.mark.parametrize(
    "limits", [Limits(daily_fen=10_000), Limits(monthly_fen=10_000)], ids=["daily", "monthly"]
)
@pytest.mark.parametrize("attempt", range(5))
def test_ten_simultaneous_orders_against_a_limit_make_only_what_it_allows(
    engine: Engine, limits: Limits, attempt: int
) -> None:
    if engine.db.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers: the orders cannot race")
    desk(engine, limits)
    made, refused = order_all_at_once(engine)
    assert (made, refused) == (3, ORDERS - 3)
    with engine.uow() as uow:
        biller = uow.billers.get_by_code("s1")
        assert biller is not None and biller.id is not None
        today = engine.today("s1")
        assert uow.orders.ordered_total(biller.id, today.replace(day=1), today) == 3 * BILL


def test_a_monthly_limit_counts_the_earlier_days_of_the_month(engine: Engine) -> None:
    desk(engine, Limits(daily_fen=6000, monthly_fen=9000))
    engine.create_order("s1", ["T0"])
    engine.create_order("s1", ["T1"])
    with pytest.raises(LimitExceeded) as caught:
        engine.create_order("s1", ["T2"])
    assert "daily limit of 60.00 (60.00 used today)" in str(caught.value)
    engine.clock.advance(days=1)  # type: ignore[attr-defined]
    engine.create_order("s1", ["T2"])
    with pytest.raises(LimitExceeded) as caught:
        engine.create_order("s1", ["T3"])
    assert str(caught.value) == (
        "amount 30.00 would take s1 over its monthly limit of 90.00 (90.00 used in 2026-09)"
    )


def test_a_limit_must_be_positive() -> None:
    with pytest.raises(InvalidInput, match="monthly_fen: a limit must be a positive amount"):
        Limits(monthly_fen=0)
