"""The confirm path's round trips on PostgreSQL (issue 16): its statements go through one
psycopg pipeline, which waits for the server five times a confirmation — the four reads
(with BEGIN), the payment row, the order, the bills with the journal head, and the journal,
outbox and COMMIT together — and SQLAlchemy sends none of them. Counted, not timed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select

from billfold import Biller, BillerKind, Engine, FeeRule
from billfold.adapters.db import fastpath
from billfold.adapters.db import schema as t

BILLS = (
    b"bill_no,payer_id,items\nR1,2026001,tuition:T=100.00;books:B=20.50\n"
    b"R2,2026002,tuition:T=100.00;books:B=20.50\n"
)


@pytest.fixture
def school(engine: Engine) -> Engine:
    if engine.db.dialect.name != "postgresql":
        pytest.skip("round trips are counted on PostgreSQL")
    engine.create_biller(
        Biller(code="s1", name="一中", kind=BillerKind.SCHOOL, fee_rules=(FeeRule("wx", bps=60),))
    )
    engine.import_bills("s1", BILLS)
    return engine


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    seen: list[str] = []
    sync, close = fastpath._Pipeline.sync, fastpath._Pipeline.close

    def counted_sync(self: Any) -> None:
        seen.append("sync")
        sync(self)

    def counted_close(self: Any, *, discard: bool = False) -> None:
        if self.open:
            seen.append("close")
        close(self, discard=discard)

    monkeypatch.setattr(fastpath._Pipeline, "sync", counted_sync)
    monkeypatch.setattr(fastpath._Pipeline, "close", counted_close)
    yield seen


def test_a_confirmation_waits_for_postgresql_five_times(school: Engine, waits: list[str]) -> None:
    first = school.create_order("s1", ["R1"])
    school.confirm("wx", "W0", first.order_no, first.total_fen)  # the biller's chain begins
    order = school.create_order("s1", ["R2"])
    waits.clear()
    through_sqlalchemy: list[str] = []
    listener = lambda *args: through_sqlalchemy.append(str(args[2]))  # noqa: E731
    event.listen(school.db, "before_cursor_execute", listener)
    try:
        result = school.confirm("wx", "W1", order.order_no, order.total_fen)
    finally:
        event.remove(school.db, "before_cursor_execute", listener)
    assert result.credited
    assert waits == ["sync", "sync", "sync", "sync", "close"]
    assert through_sqlalchemy == []
    with school.uow() as uow:
        paid = uow.conn.execute(select(t.bills.c.paid_fen).where(t.bills.c.bill_no == "R2"))
        entries = uow.conn.execute(select(t.journal_entries.c.id)).scalars().all()
    assert paid.scalar_one() == 12050 and len(entries) == 4
    assert school.check_books() == []


def test_a_repeat_is_answered_after_one_round_trip_of_reads(
    school: Engine, waits: list[str]
) -> None:
    order = school.create_order("s1", ["R1"])
    school.confirm("wx", "W1", order.order_no, order.total_fen)
    waits.clear()
    again = school.confirm("wx", "W1", order.order_no, order.total_fen)
    assert again.duplicate
    assert waits == ["sync", "close"]  # the reads, then leaving the pipeline to roll back


def test_without_pipeline_mode_a_confirmation_goes_statement_by_statement(
    school: Engine, waits: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A libpq older than 14 has no pipeline mode: the same statements, one at a time."""
    monkeypatch.setattr(fastpath, "_pipelines_supported", lambda: False)
    order = school.create_order("s1", ["R1"])
    result = school.confirm("wx", "W1", order.order_no, order.total_fen)
    assert result.credited and not result.duplicate
    assert school.confirm("wx", "W1", order.order_no, order.total_fen).duplicate
    assert waits == []
    assert school.check_books() == []
