"""The database itself refuses what must never happen, on SQLite and PostgreSQL: each
forbidden statement is sent as raw SQL, refused, and leaves every table as it was."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from billfold import Biller, BillerKind, Engine, FeeRule
from billfold.adapters.db import schema as t
from billfold.adapters.db.connect import make_engine
from billfold.adapters.db.schema import checks, journal_guard

BILLS = b"""bill_no,payer_id,payer_name,items,due_date,allow_partial,min_part
T1,2026001,,tuition:T=4500.00;books:B=380.00,2026-09-10,no,
T2,2026002,,tuition:T=100.00,2026-09-10,no,
"""
VERSIONS = Path(t.__file__).parent.parent / "migrations" / "versions"
MIGRATION = next(VERSIONS.glob("*_0011_*.py"))
MIGRATION_0019 = next(VERSIONS.glob("*_0019_*.py"))


@pytest.fixture
def books(engine: Engine) -> Engine:
    """A school with a paid bill, a partial refund of it, and a held HKD payment."""
    engine.create_biller(
        Biller(
            code="s1", name="一中", kind=BillerKind.SCHOOL, fee_rules=(FeeRule("wechat", bps=60),)
        )
    )
    engine.import_bills("s1", BILLS)
    paid = engine.confirm("wechat", "W1", engine.create_order("s1", ["T1"]).order_no, 488_000)
    engine.refund(paid.payment.id, 10_000, request_id="R1", reason="多缴", requested_by="b")
    engine.confirm(
        "wechat", "W2", engine.create_order("s1", ["T2"]).order_no, 10_000, currency="HKD"
    )
    return engine


@pytest.fixture
def db(db_url: str, books: Engine) -> Iterator[SqlEngine]:
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def snapshot(db: SqlEngine) -> dict[str, list[Any]]:
    """Every table's rows, in the order of its primary key."""
    out: dict[str, list[Any]] = {}
    with db.connect() as conn:
        for table in t.metadata.sorted_tables:
            order = ", ".join(c.name for c in table.primary_key.columns)
            rows = conn.execute(text(f"SELECT * FROM {table.name} ORDER BY {order}"))
            out[table.name] = [tuple(r) for r in rows]
    return out


def one(db: SqlEngine, sql: str) -> Any:
    with db.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def refused(db: SqlEngine, *statements: str) -> str:
    """Run ``statements`` in one transaction; the database must refuse them (at the
    statement or at COMMIT) and change nothing. Returns the database's message."""
    before = snapshot(db)
    with pytest.raises(IntegrityError) as caught, db.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))
    assert snapshot(db) == before
    return str(caught.value.orig)


def next_entry(db: SqlEngine) -> int:
    return int(one(db, "SELECT max(id) FROM journal_entries")) + 1


def entry_sql(db: SqlEngine, entry_id: int) -> str:
    """An entry row that continues a chain (the chain's own triggers accept it), so that
    only the journal's guard decides."""
    with db.connect() as conn:
        head = conn.execute(
            text("SELECT chain, seq, last_hash FROM journal_chains ORDER BY chain")
        ).first()
    chain, seq, last = head if head is not None else ("@test", entry_id - 1, "0" * 64)
    return (
        "INSERT INTO journal_entries (id, kind, memo, created_at, chain, chain_seq, "
        "business_date, prev_hash, hash) "
        f"VALUES ({entry_id}, 'manual', 'by hand', '2026-09-01 02:00:00', '{chain}', "
        f"{seq + 1}, '2026-09-01', '{last}', '{'f' * 64}')"
    )


def posting_sql(entry_id: int, amount: int, currency: str = "CNY") -> str:
    return (
        "INSERT INTO journal_postings (entry_id, account, amount_fen, currency) "
        f"VALUES ({entry_id}, 'suspense', {amount}, '{currency}')"
    )


# -- money columns and states ---------------------------------------------------------------

MONEY_AND_STATES = {
    "a negative payment": ("UPDATE payments SET amount_fen = -1", "amounts_not_negative"),
    "a refund above the payment": (
        "UPDATE payments SET refunded_fen = amount_fen + 1",
        "refunded_within_amount",
    ),
    "a refund above the order": (
        "UPDATE orders SET refunded_fen = total_fen + 1",
        "refunded_within_total",
    ),
    "a line refunded above itself": (
        "UPDATE order_lines SET refunded_fen = amount_fen + 1",
        "refunded_within_amount",
    ),
    "a bill paid above its principal": (
        "UPDATE bills SET paid_fen = principal_fen + 1",
        "paid_within_principal",
    ),
    "a negative waiver on an item": (
        "UPDATE bill_items SET waived_fen = -1",
        "amounts_not_negative",
    ),
    "a refund of nothing": ("UPDATE refunds SET amount_fen = 0", "amount_positive"),
    "a negative fee rate": ("UPDATE fee_rules SET bps = -60", "amounts_not_negative"),
    "an unknown order status": ("UPDATE orders SET status = 'lost'", "status_known"),
    "an unknown payment status": ("UPDATE payments SET status = 'pending'", "status_known"),
    "a bill stored as overdue (derived, never stored)": (
        "UPDATE bills SET status = 'overdue'",
        "status_known",
    ),
    "an unknown refund kind": ("UPDATE refunds SET kind = 'cash'", "kind_known"),
}


AT = "'2026-09-01 02:00:00'"
HASH = "'" + "a" * 64 + "'"
BILLER = "(SELECT id FROM billers WHERE code = 's1')"


def approval(kind: str = "refund", maker: str = "key:k1") -> str:
    return (
        "INSERT INTO pending_approvals (kind, biller_id, payload, maker, reason, created_at, "
        f"state) VALUES ('{kind}', {BILLER}, '{{}}', '{maker}', '核对', {AT}, 'proposed')"
    )


def api_key(roles: str) -> str:
    return (
        "INSERT INTO api_keys (key_id, secret_sha256, biller_id, roles, label, created_at) "
        f"VALUES ('k-new', {HASH}, {BILLER}, '{roles}', '新钥匙', {AT})"
    )


def transfer(**columns: str) -> str:
    values = {"reason_code": "'window_closed'", "channel_message": "'超期'", "created_at": AT}
    values.update(columns)
    return (
        f"INSERT INTO refund_transfers (refund_id, {', '.join(values)}) "
        f"SELECT id, {', '.join(values.values())} FROM refunds WHERE request_id = 'R1'"
    )


def complaint(**columns: str) -> str:
    values = {
        "kind": "'paid_not_credited'",
        "status": "'open'",
        "source": "'payer'",
        "reopened": "0",
    }
    values.update(columns)
    return (
        "INSERT INTO complaints (complaint_no, biller_id, bill_id, channel_ref, description, "
        f"opened_by, due_at, created_at, updated_at, {', '.join(values)}) "
        f"SELECT 'C-1', biller_id, id, 'W1', '已缴未到账', 'payer', {AT}, {AT}, {AT}, "
        f"{', '.join(values.values())} FROM bills WHERE bill_no = 'T1'"
    )


def seal(entries: int = 3, digest: str = HASH) -> str:
    return (
        "INSERT INTO journal_seals (chain, business_date, entry_count, last_seq, last_hash, "
        f"totals, digest, sealed_at) SELECT chain, '2026-09-01', {entries}, seq, last_hash, "
        f"'{{}}', {digest}, {AT} FROM journal_chains WHERE chain = 's1'"
    )


def heartbeat(mode: str = "single-machine", pid: int = 4242) -> str:
    return (
        "INSERT INTO worker_heartbeats (worker, mode, host, pid, started_at, beat_at) "
        f"VALUES ('h1:{pid}', '{mode}', 'h1', {pid}, {AT}, {AT})"
    )


RUN = (
    "INSERT INTO recon_runs (id, kind, channel, merchant_id, business_date, revision, status, "
    "format, file_name, file_sha256, timezone, check_fees, line_count, quarantined, "
    "payment_count, payment_fen, refund_count, refund_fen, fee_fen, net_fen, matched_count, "
    "matched_fen, engine_count, engine_fen, discrepancy_count, created_by, created_at) "
    f"VALUES (900, 'channel', 'wechat', '', '2026-09-01', 1, 'current', 'csv', 'a.csv', {HASH}, "
    f"'Asia/Shanghai', false, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'ops', {AT})"
)

#: the tables of migrations 0012-0018 (migration 0019's rules): raw statements refused (the
#: last one breaks the rule; those before it are lawful)
NEW_TABLES: dict[str, tuple[str | tuple[str, ...], str]] = {
    "an approval of no kind": (approval(kind=""), "kind_given"),
    "an approval by no one": (approval(maker=""), "maker_given"),
    "a policy of no kind": (
        "INSERT INTO approval_policies (biller_id, kind, required, updated_at, updated_by) "
        f"VALUES ({BILLER}, '', true, {AT}, 'admin')",
        "kind_given",
    ),
    "a key with an unknown role": (api_key("bursar,cashier"), "roles_known"),
    "a key with a space in its roles": (api_key("bursar, viewer"), "roles_known"),
    "a key with an empty role": (api_key("bursar,,viewer"), "roles_known"),
    "a key's roles changed to an unknown one": (
        (api_key("viewer"), "UPDATE api_keys SET roles = 'root'"),
        "roles_known",
    ),
    "a back-office user with an unknown role": (
        "INSERT INTO backoffice_users (username, display_name, roles, created_at) "
        f"VALUES ('li', '李', 'owner', {AT})",
        "roles_known",
    ),
    "a transfer for an unknown reason": (transfer(reason_code="'lost'"), "reason_code_known"),
    "a transfer's payee without an account": (
        transfer(payee_name="'张三'", recorded_by="'a'", recorded_at=AT),
        "payee_whole",
    ),
    "a transfer to an account too short": (
        transfer(
            payee_name="'张三'",
            account_no="'1234'",
            bank_name="'工行'",
            recorded_by="'a'",
            recorded_at=AT,
        ),
        "account_digits",
    ),
    "a transfer to an account that is not digits": (
        transfer(
            payee_name="'张三'",
            account_no="'6222-0200-0000'",
            bank_name="'工行'",
            recorded_by="'a'",
            recorded_at=AT,
        ),
        "account_digits",
    ),
    "a transfer approved before its payee": (
        transfer(approved_by="'b'", approved_at=AT),
        "approved_after_payee",
    ),
    "a transfer approved at no time": (
        transfer(
            payee_name="'张三'",
            account_no="'6222020000001234'",
            bank_name="'工行'",
            recorded_by="'a'",
            recorded_at=AT,
            approved_by="'b'",
        ),
        "approval_whole",
    ),
    "a transfer filed at no time": (
        transfer(
            payee_name="'张三'",
            account_no="'6222020000001234'",
            bank_name="'工行'",
            recorded_by="'a'",
            recorded_at=AT,
            approved_by="'b'",
            approved_at=AT,
            file_no="'TF-1'",
        ),
        "filing_whole",
    ),
    "a transfer confirmed by no one": (transfer(confirmed_at=AT), "confirmation_whole"),
    "a complaint of an unknown kind": (complaint(kind="'rude'"), "kind_known"),
    "a complaint in an unknown status": (complaint(status="'closed'"), "status_known"),
    "a complaint from an unknown source": (complaint(source="'email'"), "source_known"),
    "a complaint with an unknown answer": (complaint(answer="'maybe'"), "answer_known"),
    "a complaint reopened -1 times": (complaint(reopened="-1"), "reopened_not_negative"),
    "a complaint resolved but never closed": (
        complaint(status="'resolved'"),
        "closed_when_done",
    ),
    "an open complaint with a closing time": (complaint(closed_at=AT), "closed_when_done"),
    "a time limit for an unknown kind": (
        "INSERT INTO complaint_tats (biller_id, kind, hours, updated_at) "
        f"VALUES ({BILLER}, 'rude', 24, {AT})",
        "kind_known",
    ),
    "a waiver with an empty request id": (
        "INSERT INTO waivers (bill_id, amount_fen, reason, granted_by, created_at, request_id) "
        f"SELECT id, 100, '减免', 'b', {AT}, '' FROM bills WHERE bill_no = 'T2'",
        "request_id_given",
    ),
    "a chain head before its start": ("UPDATE journal_chains SET seq = -1", "seq_not_negative"),
    "a chain head with a hash not hex": (
        "UPDATE journal_chains SET last_hash = 'g' || substr(last_hash, 2)",
        "last_hash_hex",
    ),
    "a chain head with a short hash": (
        "UPDATE journal_chains SET last_hash = substr(last_hash, 2)",
        "last_hash_hex",
    ),
    "a chain of no name": (
        f"INSERT INTO journal_chains (chain, seq, last_hash) VALUES ('', 0, {HASH})",
        "chain_given",
    ),
    "a seal of -1 entries": (seal(entries=-1), "counts_not_negative"),
    "a seal whose digest is upper-case": (seal(digest="'" + "A" * 64 + "'"), "digest_hex"),
    "a worker in an unknown mode": (heartbeat(mode="cron"), "mode_known"),
    "a worker of process 0": (heartbeat(pid=0), "pid_positive"),
    "a biller with an unknown lookup check": (
        "UPDATE billers SET lookup_check = 'pin'",
        "lookup_check_known",
    ),
}


def _table(sql: str) -> str:
    words = sql.split()
    return words[2] if words[0] == "INSERT" else words[1]


@pytest.mark.parametrize("case", list(MONEY_AND_STATES) + list(NEW_TABLES))
def test_a_forbidden_amount_or_state_is_refused(db: SqlEngine, case: str) -> None:
    sql, rule = MONEY_AND_STATES.get(case) or NEW_TABLES[case]
    statements = (sql,) if isinstance(sql, str) else sql
    message = refused(db, *statements)
    assert f"ck_{_table(statements[-1])}_{rule}" in message


def test_a_discrepancy_resolved_under_an_empty_request_id_is_refused(db: SqlEngine) -> None:
    message = refused(
        db,
        RUN,
        "INSERT INTO recon_discrepancies (run_id, code, status, message, channel, "
        "difference_fen, currency, created_at, resolution_request_id) VALUES (900, "
        f"'channel_only', 'open', '渠道有', 'wechat', 100, 'CNY', {AT}, '')",
    )
    assert "ck_recon_discrepancies_resolution_request_id_given" in message


def test_the_rows_the_new_rules_allow_go_in(db: SqlEngine) -> None:
    """The controls of the cases above: the same statements, lawful, are accepted."""
    whole = {
        "payee_name": "'张三'",
        "account_no": "'6222020000001234'",
        "bank_name": "'工行'",
        "recorded_by": "'a'",
        "recorded_at": AT,
        "approved_by": "'b'",
        "approved_at": AT,
        "file_no": "'TF-1'",
        "filed_at": AT,
    }
    statements = (
        approval(),
        api_key("bursar,reconciler,supervisor,admin,viewer"),
        transfer(**whole),
        complaint(status="'resolved'", closed_at=AT, answer="'already_credited'"),
        seal(),
        heartbeat(),
        RUN,
        "INSERT INTO recon_discrepancies (run_id, code, status, message, channel, "
        f"difference_fen, currency, created_at) VALUES (900, 'channel_only', 'open', '渠道有', "
        f"'wechat', 100, 'CNY', {AT})",
        "UPDATE billers SET lookup_check = 'name_last_char'",
    )
    with db.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))
    assert one(db, "SELECT roles FROM api_keys WHERE key_id = 'k-new'") == (
        "bursar,reconciler,supervisor,admin,viewer"
    )
    assert one(db, "SELECT count(*) FROM refund_transfers WHERE file_no = 'TF-1'") == 1


def test_an_unknown_status_is_refused_on_insert_too(db: SqlEngine) -> None:
    refused(
        db,
        "INSERT INTO refunds (refund_no, payment_id, request_id, kind, status, amount_fen, "
        "fee_fen, reason, requested_by, created_at) SELECT 'RF-X', id, 'R-X', 'credited', "
        "'done', 100, 0, 'x', 'x', '2026-09-01 02:00:00' FROM payments WHERE channel_txn_id = 'W1'",
    )


# -- the journal -------------------------------------------------------------------------------


def test_a_posting_cannot_be_changed(db: SqlEngine) -> None:
    message = refused(db, "UPDATE journal_postings SET amount_fen = amount_fen + 1")
    assert "journal_postings is append-only: UPDATE refused" in message


def test_a_posting_cannot_be_deleted(db: SqlEngine) -> None:
    message = refused(db, "DELETE FROM journal_postings WHERE id = 1")
    assert "journal_postings is append-only: DELETE refused" in message


def test_an_entry_cannot_be_changed(db: SqlEngine) -> None:
    message = refused(db, "UPDATE journal_entries SET memo = 'nothing happened'")
    assert "journal_entries is append-only: UPDATE refused" in message


def test_an_entry_cannot_be_deleted(db: SqlEngine) -> None:
    message = refused(db, "DELETE FROM journal_entries")
    assert "journal_entries is append-only: DELETE refused" in message


def test_the_journal_cannot_be_truncated_on_postgresql(db: SqlEngine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; its DELETE is refused above")
    message = refused(db, "TRUNCATE journal_postings, journal_entries")
    assert "is append-only: TRUNCATE refused" in message


def test_an_unbalanced_entry_cannot_be_committed(db: SqlEngine) -> None:
    new = next_entry(db)
    message = refused(db, posting_sql(new, 100), posting_sql(new, -99), entry_sql(db, new))
    assert "journal_entries" in message


def test_an_entry_balanced_only_across_currencies_cannot_be_committed(db: SqlEngine) -> None:
    new = next_entry(db)
    refused(db, posting_sql(new, 100), posting_sql(new, -100, "HKD"), entry_sql(db, new))


def test_an_entry_without_postings_cannot_be_committed(db: SqlEngine) -> None:
    refused(db, entry_sql(db, next_entry(db)))


def test_postings_without_their_entry_cannot_be_committed(db: SqlEngine) -> None:
    new = next_entry(db)
    refused(db, posting_sql(new, 100), posting_sql(new, -100))


def test_postings_cannot_be_added_to_a_written_entry_even_balanced(db: SqlEngine) -> None:
    message = refused(db, posting_sql(1, 100), posting_sql(1, -100))
    assert "is written already" in message


def test_a_posting_of_zero_is_refused(db: SqlEngine) -> None:
    new = next_entry(db)
    refused(
        db, posting_sql(new, 0), posting_sql(new, 100), posting_sql(new, -100), entry_sql(db, new)
    )


def test_a_posting_without_a_currency_is_refused(db: SqlEngine) -> None:
    new = next_entry(db)
    refused(
        db,
        "INSERT INTO journal_postings (entry_id, account, amount_fen) "
        f"VALUES ({new}, 'suspense', 100)",
    )


def test_a_posting_in_a_malformed_currency_is_refused(db: SqlEngine) -> None:
    new = next_entry(db)
    refused(db, posting_sql(new, 100, "hkd"), posting_sql(new, -100, "hkd"), entry_sql(db, new))


def test_a_balanced_entry_written_postings_first_is_accepted(db: SqlEngine) -> None:
    """The control: the same raw SQL, balanced per currency, goes in."""
    new = next_entry(db)
    statements = (
        posting_sql(new, 100),
        posting_sql(new, -100),
        posting_sql(new, 7, "HKD"),
        posting_sql(new, -7, "HKD"),
        entry_sql(db, new),
    )
    with db.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))
    assert one(db, f"SELECT count(*) FROM journal_postings WHERE entry_id = {new}") == 4


def test_a_held_hkd_payment_is_journalled_in_hkd(books: Engine) -> None:
    balance = books.trial_balance()
    assert balance["suspense HKD"] == -10_000
    assert balance["clearing:wechat HKD"] == 10_000
    assert books.check_books() == []


# -- the schema's rules are the migration's, and the domain's --------------------------------


def _migration(path: Path = MIGRATION) -> Any:
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migrations_0011_and_0019_add_exactly_the_schema_rules() -> None:
    migration = _migration()
    later = _migration(MIGRATION_0019)
    together: dict[str, set[tuple[str, str]]] = {}
    for copy in (migration.CHECKS, later.CHECKS):
        for table, rules in copy.items():
            for rule in rules:
                assert rule not in together.get(table, set()), (table, rule)  # added once
                together.setdefault(table, set()).add(rule)
    assert together == {table: set(rules) for table, rules in checks.CHECKS.items()}
    assert migration.SQLITE_GUARD == journal_guard.SQLITE
    assert migration.POSTGRESQL_GUARD == journal_guard.POSTGRESQL


def test_every_status_rule_lists_exactly_its_enum_values() -> None:
    from billfold.collection.order import OrderStatus
    from billfold.settlement.discrepancy import Action

    assert checks.ENUM_COLUMNS["orders", "status"] == tuple(s.value for s in OrderStatus)
    rules = dict(checks.CHECKS["recon_discrepancies"])
    assert rules["action_known"] == checks.one_of("action", [a.value for a in Action])
    for (table, column), values in checks.ENUM_COLUMNS.items():
        assert dict(checks.CHECKS[table])[f"{column}_known"] == checks.one_of(column, values)


def test_the_migrated_database_has_every_check_and_trigger(db_url: str) -> None:
    db = make_engine(db_url)
    try:
        found = inspect(db)
        for table, rules in checks.CHECKS.items():
            names = {c["name"] for c in found.get_check_constraints(table)}
            assert names >= {f"ck_{table}_{name}" for name, _sql in rules}, table
        with db.connect() as conn:
            if db.dialect.name == "sqlite":
                query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            else:
                query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            triggers = set(conn.execute(text(query)).scalars())
        assert triggers >= set(journal_guard.TRIGGERS[db.dialect.name])
    finally:
        db.dispose()


def test_create_all_builds_the_same_rules_as_the_migrations(tmp_path: Path, db_url: str) -> None:
    """A schema made by ``metadata.create_all`` has every check and journal trigger of a
    migrated one (``db_url``), and its guard refuses as the migrated one does."""
    import os

    from billfold.testing import scratch_pg_database

    def rules(db: SqlEngine) -> tuple[set[str], set[str]]:
        found = inspect(db)
        names = {c["name"] for table in checks.CHECKS for c in found.get_check_constraints(table)}
        with db.connect() as conn:
            if db.dialect.name == "sqlite":
                query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            else:
                query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            triggers = set(conn.execute(text(query)).scalars())
        guard = journal_guard.TRIGGERS[db.dialect.name]  # the chain's are migration 0012's
        return names, {name for name in triggers if name in guard}

    def check(url: str) -> None:
        fresh = make_engine(url)
        migrated = make_engine(db_url)
        try:
            t.metadata.create_all(fresh)
            assert rules(fresh) == rules(migrated)
            balanced = (posting_sql(1, 100), posting_sql(1, -100), entry_sql(fresh, 1))
            with fresh.begin() as conn:  # a balanced entry, the right way round, goes in
                for sql in balanced:
                    conn.execute(text(sql))
            refused(fresh, "UPDATE journal_postings SET amount_fen = 1")
            refused(fresh, posting_sql(2, 100), posting_sql(2, -99), entry_sql(fresh, 2))
        finally:
            fresh.dispose()
            migrated.dispose()

    if db_url.startswith("sqlite"):
        check(f"sqlite:///{tmp_path / 'fresh.db'}")
        return
    with scratch_pg_database(os.environ["BILLFOLD_TEST_PG_URL"], "billfold_fresh") as url:
        check(url)
