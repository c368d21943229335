"""The hash-chained journal on SQLite and PostgreSQL: every path chains, verify names the
entry altered, removed or inserted by raw SQL, seals are kept once and sent once, and on
PostgreSQL billers never wait for each other while one biller's chain stays unbroken."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from billfold import Biller, BillerKind, Engine, FeeRule
from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import chain as c
from billfold.clock import FixedClock
from billfold.collection.chain import SYSTEM_CHAIN
from billfold.collection.sealing import seal_day
from billfold.collection.verifying import verify_journal
from billfold.errors import InvalidInput, NotFound

DAY = date(2026, 9, 1)  # the clock fixture's business date in Asia/Shanghai


def _biller(engine: Engine, code: str, bills: int = 3) -> None:
    engine.create_biller(
        Biller(
            code=code, name="一中", kind=BillerKind.SCHOOL, fee_rules=(FeeRule("wechat", bps=60),)
        )
    )
    rows = "".join(f"{code}-{i},{code}{i:04d},100.00\n" for i in range(bills))
    engine.import_bills(code, ("bill_no,payer_id,amount\n" + rows).encode())


def _pay(engine: Engine, code: str, n: int, txn: str | None = None) -> int:
    order = engine.create_order(code, [f"{code}-{n}"])
    result = engine.confirm("wechat", txn or f"{code}-W{n}", order.order_no, order.total_fen)
    return result.payment.id


def _books(engine: Engine) -> None:
    """A biller with a payment, a refund paid out and a held payment; money of no order."""
    _biller(engine, "s1")
    paid = _pay(engine, "s1", 0)
    refund = engine.refund(paid, 4_000, request_id="r1", reason="多收", requested_by="clerk")
    engine.complete_refund(refund.refund_no)
    held = engine.create_order("s1", ["s1-1"])
    engine.confirm("wechat", "s1-H", held.order_no, 9_999)  # held for review
    engine.confirm("wechat", "NO-ORDER", "BF-NOPE", 500)  # suspense, no biller


def _verify(engine: Engine, **kwargs: Any) -> list[str]:
    report = verify_journal(engine.uow(), **kwargs)
    return [b.message for b in report.breaks]


def _sql(engine: Engine, *statements: str, **params: Any) -> None:
    with engine.db.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)


def _drop_journal_triggers(conn: Connection) -> None:
    """SQLite: the append-only triggers, if this schema has them, go (each test has its own
    database file): the test plays an attacker with full control of the database."""
    names = conn.execute(
        text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name IN ('journal_entries', 'journal_postings')"
        )
    ).scalars()
    for name in list(names):
        conn.execute(text(f'DROP TRIGGER "{name}"'))


_JOURNAL = ("journal_entries", "journal_postings")


def _tamper(engine: Engine, *statements: str, **params: Any) -> None:
    """Run ``statements`` past the journal's guards, as an attacker with full control of the
    database would. On PostgreSQL the guards are lifted for this one transaction only (the
    run's database is shared by every test: a dropped trigger would stay dropped for them)."""
    with engine.db.begin() as conn:
        pg = conn.dialect.name == "postgresql"
        if pg:
            for table in _JOURNAL:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            _drop_journal_triggers(conn)
        for statement in statements:
            conn.execute(text(statement), params)
        if pg:  # deferred checks of the statements above run now, before the guards return
            conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
            for table in _JOURNAL:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


def _entry(engine: Engine, chain: str, seq: int) -> Any:
    with engine.db.connect() as conn:
        return conn.execute(
            select(t.journal_entries).where(
                t.journal_entries.c.chain == chain, t.journal_entries.c.chain_seq == seq
            )
        ).one()


def test_every_path_chains_each_entry_to_its_billers_chain(engine: Engine) -> None:
    _books(engine)
    with engine.db.connect() as conn:
        rows = conn.execute(
            select(
                t.journal_entries.c.chain,
                t.journal_entries.c.chain_seq,
                t.journal_entries.c.kind,
                t.journal_entries.c.business_date,
            ).order_by(t.journal_entries.c.id)
        ).all()
    s1 = [(r.chain_seq, r.kind) for r in rows if r.chain == "s1"]
    assert s1 == [
        (1, "payment"),
        (2, "fee"),
        (3, "refund"),
        (4, "fee_refund"),
        (5, "refund_paid"),
        (6, "suspense"),  # the held payment: its payment's biller
    ]
    system = [(r.chain_seq, r.kind) for r in rows if r.chain == SYSTEM_CHAIN]
    assert system == [(1, "suspense"), (2, "refund_queued")]  # money of no order
    assert {r.business_date for r in rows} == {DAY}
    assert _verify(engine) == []
    assert engine.check_books() == []


def test_an_altered_posting_amount_is_named(engine: Engine) -> None:
    _books(engine)
    fee = _entry(engine, "s1", 2)
    _tamper(
        engine,
        "UPDATE journal_postings SET amount_fen = amount_fen + 1 "
        "WHERE entry_id = :e AND amount_fen > 0",
        e=fee.id,
    )
    assert _verify(engine) == [
        f"s1 #2 (entry {fee.id}) altered: its content does not give its hash"
    ]


def test_a_deleted_entry_is_named(engine: Engine) -> None:
    _books(engine)
    gone, after = _entry(engine, "s1", 3), _entry(engine, "s1", 4)
    _tamper(
        engine,
        "DELETE FROM journal_postings WHERE entry_id = :e",
        "DELETE FROM journal_entries WHERE id = :e",
        e=gone.id,
    )
    assert _verify(engine) == [f"s1 #3 removed: the chain goes from #2 to s1 #4 (entry {after.id})"]


def test_a_forged_entry_inserted_by_raw_sql_is_named(engine: Engine) -> None:
    _books(engine)
    last = _entry(engine, "s1", 6)
    _tamper(
        engine,
        "INSERT INTO journal_entries (id, kind, memo, payment_id, refund_id, created_at, chain, "
        "chain_seq, business_date, prev_hash, hash) VALUES (9999, 'payment', 'forged', NULL, "
        "NULL, :at, 's1', 7, :day, :prev, :forged)",
        "INSERT INTO journal_postings (entry_id, account, amount_fen, currency, bill_id) VALUES "
        "(9999, 'clearing:wechat', 100, 'CNY', NULL), (9999, 'payable:s1', -100, 'CNY', NULL)",
        at=engine.clock.now(),
        day=DAY,
        prev=last.hash,
        forged="f" * 64,
    )
    assert _verify(engine) == ["s1 #7 (entry 9999) inserted: the chain head ends at #6"]
    assert _verify(engine, chain="@system") == []  # the other chain is sound


def test_on_sqlite_the_database_refuses_an_entry_that_does_not_continue_its_chain(
    engine: Engine, db_url: str
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("on PostgreSQL the locked head is moved in the statement that writes")
    _books(engine)
    last = _entry(engine, "s1", 6)
    insert = (
        "INSERT INTO journal_entries (id, kind, memo, payment_id, refund_id, created_at, chain, "
        "chain_seq, business_date, prev_hash, hash) VALUES (9999, 'payment', 'forged', NULL, "
        "NULL, :at, 's1', :seq, :day, :prev, :forged)"
    )
    # balanced postings first, as the journal's guard wants: only the chain's trigger decides
    postings = (
        "INSERT INTO journal_postings (entry_id, account, amount_fen, currency) VALUES "
        "(9999, 'clearing:wechat', 100, 'CNY'), (9999, 'payable:s1', -100, 'CNY')"
    )
    at = engine.clock.now()
    for seq, prev in ((6, last.prev_hash), (8, last.hash), (7, "e" * 64)):
        with pytest.raises(IntegrityError, match="a journal entry must continue its chain"):
            _sql(engine, postings, insert, at=at, day=DAY, seq=seq, prev=prev, forged="f" * 64)
    assert _verify(engine) == []
    _sql(engine, postings, insert, at=at, day=DAY, seq=7, prev=last.hash, forged="f" * 64)
    assert _verify(engine) == ["s1 #7 (entry 9999) altered: its content does not give its hash"]


def test_a_rewritten_tail_with_a_fixed_head_is_caught_by_the_seal(
    engine: Engine, clock: FixedClock
) -> None:
    _books(engine)
    clock.advance(timedelta(days=1))
    assert seal_day(engine.uow(), clock, "s1", DAY).created
    last = _entry(engine, "s1", 6)
    _tamper(
        engine,
        "DELETE FROM journal_postings WHERE entry_id = :e",
        "DELETE FROM journal_entries WHERE id = :e",
        "UPDATE journal_chains SET seq = 5, last_hash = :h WHERE chain = 's1'",
        e=last.id,
        h=_entry(engine, "s1", 5).hash,
    )
    found = _verify(engine)
    assert found == [
        "seal s1 2026-09-01: the entries no longer give its entry_count, last_seq, last_hash, "
        "totals (sealed 6 entries to #6, found 5 to #5)"
    ]


def test_a_day_is_sealed_once_and_announced_once(engine: Engine, clock: FixedClock) -> None:
    _books(engine)
    with pytest.raises(InvalidInput, match="date: 2026-09-01 is not over yet in Asia/Shanghai"):
        seal_day(engine.uow(), clock, "s1", DAY)
    clock.advance(timedelta(days=1))
    first = seal_day(engine.uow(), clock, "s1", DAY)
    again = seal_day(engine.uow(), clock, "s1", DAY)
    assert first.created and not again.created
    assert again.seal == first.seal and again.event_id == first.event_id
    assert (first.seal.entry_count, first.seal.last_seq) == (6, 6)
    assert (
        dict(((a, cur), fen) for a, cur, fen in first.seal.totals)[("clearing:wechat", "CNY")]
        == 10_000 - 4_000 + 9_999
    )
    with engine.db.connect() as conn:
        events = conn.execute(
            select(t.outbox_events.c.event_id).where(
                t.outbox_events.c.event_type == "journal.sealed"
            )
        ).scalars()
        assert list(events) == [first.event_id]
        sealed = conn.execute(select(c.journal_chains.c.sealed_through)).scalars()
        assert DAY in set(sealed)
    # an entry written after the seal, with the clock set back, is dated after the sealed day
    clock.advance(timedelta(days=-1))
    _pay(engine, "s1", 2)
    assert _entry(engine, "s1", 7).business_date == DAY + timedelta(days=1)
    assert _verify(engine) == []


def test_sealing_an_unknown_chain_changes_nothing(engine: Engine, clock: FixedClock) -> None:
    _books(engine)
    with pytest.raises(NotFound, match="biller 'nope' has no journal"):
        seal_day(engine.uow(), clock, "nope", DAY)
    with engine.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(c.journal_seals)).scalar() == 0


def test_verify_from_a_date_checks_only_what_follows(engine: Engine, clock: FixedClock) -> None:
    _books(engine)
    clock.advance(timedelta(days=1))
    _pay(engine, "s1", 2)
    first = _entry(engine, "s1", 1)
    _tamper(engine, "UPDATE journal_entries SET memo = 'x' WHERE id = :e", e=first.id)
    assert _verify(engine, from_day=DAY + timedelta(days=1)) == []
    assert _verify(engine, chain="s1") == [
        f"s1 #1 (entry {first.id}) altered: its content does not give its hash"
    ]


# -- concurrency, PostgreSQL -------------------------------------------------------------------
@pytest.mark.pg
def test_two_billers_confirming_at_once_do_not_wait_for_each_other(
    engine: Engine, db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serializes every writer")
    _biller(engine, "a1")
    _biller(engine, "b1")
    _pay(engine, "a1", 0)
    order = engine.create_order("b1", ["b1-0"])
    holding, release = threading.Event(), threading.Event()

    def hold_a1() -> None:  # a1 is in the middle of writing: its head stays locked
        with engine.db.connect() as conn:
            conn.execute(text("SELECT seq FROM journal_chains WHERE chain = 'a1' FOR UPDATE"))
            holding.set()
            release.wait(timeout=60)
            conn.rollback()

    holder = threading.Thread(target=hold_a1, daemon=True)
    holder.start()
    assert holding.wait(timeout=60)
    # b1 confirms through a connection that fails at once if it must wait for any lock
    impatient = Engine.from_url(db_url + "?options=-c%20lock_timeout%3D50ms", clock=engine.clock)
    try:
        paid = impatient.confirm("wechat", "B-1", order.order_no, order.total_fen)
        assert paid.credited
    finally:
        release.set()
        holder.join(timeout=60)
        impatient.close()
    assert _verify(engine) == []


@pytest.mark.pg
def test_many_threads_on_one_biller_keep_one_unbroken_chain(engine: Engine) -> None:
    count = 12
    _biller(engine, "s1", bills=count)
    orders = [engine.create_order("s1", [f"s1-{i}"]) for i in range(count)]
    barrier = threading.Barrier(count)
    errors: list[Exception] = []

    def run(i: int) -> None:
        barrier.wait(timeout=60)
        try:
            engine.confirm("wechat", f"T{i}", orders[i].order_no, orders[i].total_fen)
        except Exception as exc:  # judged below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and not any(th.is_alive() for th in threads)
    with engine.db.connect() as conn:
        seqs = conn.execute(
            select(t.journal_entries.c.chain_seq)
            .where(t.journal_entries.c.chain == "s1")
            .order_by(t.journal_entries.c.chain_seq)
        ).scalars()
        assert list(seqs) == list(range(1, 2 * count + 1))  # a payment and a fee each
    report = verify_journal(engine.uow())
    assert report.ok and report.entries == 2 * count


def test_tampering_here_leaves_the_guards_up_for_the_other_tests(engine: Engine) -> None:
    """The run's PostgreSQL database is shared: the attacker's lifted guards must not stay
    lifted for the tests after this one (they did: the triggers were dropped)."""
    if engine.db.dialect.name != "postgresql":
        pytest.skip("each SQLite test has its own database file")
    _biller(engine, "guard")
    _pay(engine, "guard", 1)
    _tamper(engine, "UPDATE journal_entries SET memo = 'x' WHERE id = 1")
    with pytest.raises(DBAPIError, match="journal_postings is append-only: UPDATE refused"):
        _sql(engine, "UPDATE journal_postings SET amount_fen = amount_fen + 1")
    with pytest.raises(DBAPIError, match="journal_entries is append-only: UPDATE refused"):
        _sql(engine, "UPDATE journal_entries SET memo = 'y'")
