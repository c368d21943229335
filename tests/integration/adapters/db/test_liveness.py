"""Connection liveness without a ping per checkout (issue 16): a pooled PostgreSQL
connection whose backend is gone is noticed when it is used, and the confirmation is run
once more on a fresh connection — only when its transaction never began to commit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from pg_backends import terminate_idle_backends  # type: ignore[import-not-found]
from sqlalchemy import func, select, text

from billfold import Biller, BillerKind, Engine, FeeRule
from billfold.adapters.db import schema as t
from billfold.adapters.db.connect import POOL_RECYCLE_S, make_engine
from billfold.adapters.db.liveness import once_more_if_dead
from billfold.clock import FixedClock

pytestmark = pytest.mark.pg

BILLS = b"bill_no,payer_id,amount\nL1,2026001,100.00\nL2,2026002,200.00\nL3,2026003,300.00\n"


@pytest.fixture
def school(pg_empty: Callable[[], str]) -> Iterator[Engine]:
    # the empty, migrated database of the db_url fixture, on PostgreSQL only
    clock = FixedClock(datetime(2026, 9, 1, 2, tzinfo=UTC))
    engine = Engine.from_url(pg_empty(), clock=clock)
    engine.create_biller(
        Biller(code="s1", name="一中", kind=BillerKind.SCHOOL, fee_rules=(FeeRule("wx", bps=60),))
    )
    engine.import_bills("s1", BILLS)
    try:
        yield engine
    finally:
        engine.close()


def counts(engine: Engine) -> dict[str, int]:
    with engine.uow() as uow:
        return {
            table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.payments, t.journal_entries, t.journal_postings, t.outbox_events)
        }


def test_the_engine_pings_no_connection_on_checkout_and_recycles_old_ones(school: Engine) -> None:
    assert school.db.pool._pre_ping is False  # type: ignore[attr-defined]
    assert school.db.pool._recycle == POOL_RECYCLE_S  # type: ignore[attr-defined]


def test_a_confirm_after_its_pooled_backend_was_terminated_succeeds_once(school: Engine) -> None:
    first = school.create_order("s1", ["L1"])
    second = school.create_order("s1", ["L2"])
    assert school.confirm("wx", "W1", first.order_no, first.total_fen).credited
    before = counts(school)
    assert terminate_idle_backends(school) >= 1  # the pool's connection is dead now

    result = school.confirm("wx", "W2", second.order_no, second.total_fen)

    assert result.credited and not result.duplicate
    after = counts(school)
    # one payment more, its two journal entries (payment and fee) and its two events
    assert after["payments"] == before["payments"] + 1
    assert after["journal_entries"] == before["journal_entries"] + 2
    assert after["outbox_events"] == before["outbox_events"] + 2
    assert school.order(second.order_no).status.value == "paid"
    assert school.confirm("wx", "W2", second.order_no, second.total_fen).duplicate
    assert counts(school) == after
    assert school.check_books() == []


def test_a_repeat_after_the_backend_was_terminated_is_still_a_repeat(school: Engine) -> None:
    order = school.create_order("s1", ["L3"])
    assert school.confirm("wx", "W3", order.order_no, order.total_fen).credited
    before = counts(school)
    assert terminate_idle_backends(school) >= 1

    again = school.confirm("wx", "W3", order.order_no, order.total_fen)

    assert again.duplicate
    assert counts(school) == before


def test_work_that_began_to_commit_is_not_run_again(school: Engine) -> None:
    """A connection lost at COMMIT leaves the outcome unknown: the error goes to the caller
    (whose retry is answered as a repeat), the work is not run a second time here."""
    order = school.create_order("s1", ["L1"])
    runs = []

    def work() -> None:
        runs.append(1)
        with school.uow() as uow:
            uow.conn.execute(text("SELECT 1"))
            driver = uow.conn.connection.driver_connection
            with make_engine(
                school.db.url.render_as_string(hide_password=False)
            ).connect() as admin:
                admin.execute(
                    text("SELECT pg_terminate_backend(:pid)"), {"pid": driver.info.backend_pid}
                )
                admin.rollback()
            uow.commit()

    with pytest.raises(Exception, match="terminat|closed|connection"):
        once_more_if_dead(work)
    assert runs == [1]
    assert school.order(order.order_no).status.value == "created"


def test_work_failing_for_another_reason_is_not_run_again(school: Engine) -> None:
    runs = []

    def work() -> None:
        runs.append(1)
        with school.uow() as uow:
            uow.conn.execute(text("SELECT 1/0"))

    with pytest.raises(Exception, match="division by zero"):
        once_more_if_dead(work)
    assert runs == [1]
