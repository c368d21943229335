"""Migration 0019 on SQLite and PostgreSQL: a database at 0018 holding what the tables of
migrations 0012-0018 hold (an approval proposed and one rejected, complaints open and
resolved, a bank-transfer refund approved, an API key, a heartbeat, a seal, a waiver) is
upgraded; every row is kept, the journal's triggers too, and the new rules hold from then
on. A row that already breaks a rule stops the upgrade, naming the row, and leaves the
database at 0018 as it was."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import migrate
from billfold.adapters.db import schema as t
from billfold.adapters.db.connect import make_engine
from billfold.adapters.db.heartbeats import beat
from billfold.adapters.http.keys import create_key
from billfold.clock import FixedClock
from billfold.collection.refund_transfer import PayeeAccount, TransferReason
from billfold.collection.sealing import seal_day
from billfold.errors import InvariantViolated
from billfold.maker_checker import MakerChecker
from billfold.merchants.roles import Role
from billfold.settlement.complaint import ComplaintKind
from billfold.settlement.complaints import ComplaintDesk, NewComplaint
from billfold.settlement.refund_transfer_desk import RefundTransferDesk

BILLS = b"bill_no,payer_id,amount\nT1,2026001,10.00\nT2,2026002,5.00\nT3,2026003,7.00\n"
NEW_TABLES = (
    "pending_approvals",
    "approval_policies",
    "api_keys",
    "refund_transfers",
    "complaints",
    "complaint_tats",
    "waivers",
    "journal_chains",
    "journal_seals",
    "worker_heartbeats",
)


def _fill(engine: Engine, clock: FixedClock) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", BILLS)
    paid = engine.confirm("counter", "C-1", engine.create_order("s1", ["T1"]).order_no, 1000)
    refund = engine.refund(paid.payment.id, 400, request_id="r1", reason="多缴", requested_by="c")
    engine.refund_needs_transfer(refund.refund_no, TransferReason.CARD_CANCELLED, "卡已注销")
    transfers = RefundTransferDesk(engine)
    payee = PayeeAccount("张三", "6222020200112233", "工行")
    transfers.record_payee(refund.refund_no, payee, by="a")
    transfers.approve(refund.refund_no, checker="b")
    engine.waive("s1", "T2", 100, reason="困难", granted_by="b", request_id="w1")
    desk = ComplaintDesk(engine)
    desk.set_tat("s1", ComplaintKind.WRONG_AMOUNT, 48, by="admin", reason="学校要求")
    desk.open(NewComplaint("s1", ComplaintKind.WRONG_AMOUNT, "clerk", bill_no="T3"))
    done = desk.open(NewComplaint("s1", ComplaintKind.OTHER, "clerk", bill_no="T2"))
    desk.resolve(done.complaint_no, by="b", resolution="已解释")
    checker = MakerChecker(engine)
    checker.set_policy(
        "s1", "refund", required=True, threshold_fen=500, actor="admin", reason="大额复核"
    )
    payload = {"biller_code": "s1", "single_limit_fen": 100_000}
    checker.propose("biller.limits", payload, maker="key:a", reason="调限额", biller_code="s1")
    rejected = checker.propose("biller.limits", payload, maker="key:a", biller_code="s1")
    checker.reject(rejected.id, checker="key:b", reason="不必")
    create_key(engine, "s1", [Role.BURSAR, Role.VIEWER], actor="admin", reason="收费处")
    create_key(engine, None, [Role.ADMIN], actor="admin", reason="后台")
    beat(engine.db, "h1:42", mode="single-machine", host="h1", pid=42, now=clock.now())
    day = engine.today("s1")
    clock.advance(timedelta(days=1))
    seal_day(engine.uow(), clock, "s1", day)


def _rows(db: SqlEngine) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    present = set(inspect(db).get_table_names())  # tables of later revisions are not there
    with db.connect() as conn:
        for table in (table for table in t.metadata.sorted_tables if table.name in present):
            order = ", ".join(c.name for c in table.primary_key.columns)
            query = f"SELECT * FROM {table.name} ORDER BY {order}"
            out[table.name] = [tuple(r) for r in conn.execute(text(query))]
    return out


def _triggers(db: SqlEngine) -> set[str]:
    if db.dialect.name == "sqlite":
        query = "SELECT name || ' ' || sql FROM sqlite_master WHERE type = 'trigger'"
    else:
        query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    with db.connect() as conn:
        return set(conn.execute(text(query)).scalars())


@pytest.fixture
def at_0018(db_url: str, clock: FixedClock) -> Iterator[str]:
    """A database with a row in each table of 0012-0018, taken down to 0018. PostgreSQL's
    database is shared by the run: it is emptied and brought back to the head afterwards."""
    engine = Engine.from_url(db_url, clock=clock)
    try:
        _fill(engine, clock)
        assert engine.check_books() == []
    finally:
        engine.close()
    db = make_engine(db_url)
    try:
        rows = _rows(db)
        assert all(rows[table] for table in NEW_TABLES), [n for n in NEW_TABLES if not rows[n]]
        migrate.downgrade(db, "0018")
        assert migrate.current(db) == "0018"
    finally:
        db.dispose()
    yield db_url
    db = make_engine(db_url)
    try:
        if db.dialect.name == "postgresql" and migrate.current(db) != migrate.head():
            present = set(inspect(db).get_table_names())  # not those of later revisions
            tables = ", ".join(f'"{n.name}"' for n in t.metadata.sorted_tables if n.name in present)
            journal = ("journal_entries", "journal_postings")
            with db.begin() as conn:
                for table in journal:
                    conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                for table in journal:
                    conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
            migrate.upgrade(db)
    finally:
        db.dispose()


def test_upgrading_a_0018_database_keeps_every_row_and_trigger_and_adds_the_rules(
    at_0018: str, clock: FixedClock
) -> None:
    db = make_engine(at_0018)
    try:
        rows = _rows(db)
        triggers = _triggers(db)
        migrate.upgrade(db, "0019")
        assert migrate.current(db) == "0019"
        assert _rows(db) == rows
        assert _triggers(db) == triggers  # the chain's triggers name a rebuilt table
        for refused in (
            "UPDATE complaints SET status = 'closed'",
            "UPDATE refund_transfers SET approved_at = NULL",
            "UPDATE api_keys SET roles = 'bursar,root'",
            "UPDATE journal_chains SET seq = -1",
        ):
            with pytest.raises(IntegrityError), db.begin() as conn:
                conn.execute(text(refused))
        assert _rows(db) == rows
    finally:
        db.dispose()
    engine = Engine.from_url(at_0018, clock=clock)
    try:  # the books go on where they were: a payment continues the chain
        engine.confirm("counter", "C-2", engine.create_order("s1", ["T3"]).order_no, 700)
        assert engine.check_books() == []
    finally:
        engine.close()


BROKEN = {
    "a complaint of an unknown kind": (
        "UPDATE complaints SET kind = 'rude' WHERE id = 2",
        "complaints row id=2 breaks ck_complaints_kind_known",
    ),
    "an API key with an unknown role": (
        "UPDATE api_keys SET roles = 'bursar,root' WHERE id = 1",
        "api_keys row id=1 breaks ck_api_keys_roles_known",
    ),
    "a chain head with a hash not hex": (
        "UPDATE journal_chains SET last_hash = upper(last_hash) || '' WHERE chain = 's1'",
        "journal_chains row chain=s1 breaks ck_journal_chains_last_hash_hex",
    ),
    "a transfer approved before its payee": (
        "UPDATE refund_transfers SET payee_name = NULL, account_no = NULL, bank_name = NULL, "
        "recorded_by = NULL, recorded_at = NULL",
        "refund_transfers row id=1 breaks ck_refund_transfers_approved_after_payee",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_row_that_already_breaks_a_rule_stops_the_upgrade_and_is_named(
    at_0018: str, case: str
) -> None:
    breaking, named = BROKEN[case]
    db = make_engine(at_0018)
    try:
        with db.begin() as conn:
            conn.execute(text(breaking))
        broken = _rows(db)
        with pytest.raises(InvariantViolated) as caught:
            migrate.upgrade(db)
        message = str(caught.value)
        assert message.startswith("migration 0019 stopped, nothing changed: " + named)
        assert "\n" not in message
        assert migrate.current(db) == "0018"
        assert _rows(db) == broken
    finally:
        db.dispose()


def test_going_down_from_0019_and_up_again_keeps_every_row(at_0018: str) -> None:
    db = make_engine(at_0018)
    try:
        migrate.upgrade(db, "0019")
        rows = _rows(db)
        triggers = _triggers(db)
        migrate.downgrade(db, "0018")
        assert _rows(db) == rows
        assert _triggers(db) == triggers
        migrate.upgrade(db, "0019")
        assert _rows(db) == rows
        assert _triggers(db) == triggers
    finally:
        db.dispose()
