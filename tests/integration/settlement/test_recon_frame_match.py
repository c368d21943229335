"""A WeChat Pay bill read column by column is matched in polars against the day's payments
(:mod:`billfold.adapters.db.statement_match`) instead of in the database. The run it stores
must be the one the staging table and its SQL joins store for the same file, row for row:
the same run figures and the same discrepancies in the same order, on a file with every
kind of finding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from recon_fixtures import DAY, Desk, wx_bill, wx_payment, wx_refund  # type: ignore[import-not-found]
from sqlalchemy import delete, select
from structlog.testing import capture_logs

from billfold.adapters.db import sqlite_columns, statement_match
from billfold.adapters.db import statement_ingest as recon_ingest
from billfold.adapters.db.schema import settlement as st
from billfold.merchants.channel_config import ChannelConfig
from billfold.settlement.discrepancy import Code

pytest.importorskip("polars")


def _instances(monkeypatch: pytest.MonkeyPatch, cls: type) -> list[object]:
    """Every instance of ``cls`` made while the test runs, in order (its ``__init__`` spied)."""
    made: list[object] = []
    init = cls.__init__

    def spy(self: Any, *args: Any) -> None:
        made.append(self)
        init(self, *args)

    monkeypatch.setattr(cls, "__init__", spy)
    return made


def _mixed(desk: Desk, tmp_path: Path) -> Path:
    desk.school()
    o = desk.orders(*["100.00"] * 8, "50.00", "30.00")
    for i in (0, 1, 2, 3, 4, 6, 8):
        desk.pay(o[i], f"W{i}")
    paid = desk.pay(o[7], "W7")
    refund = desk.engine.refund(paid.payment.id, 3000, request_id="a", reason="x", requested_by="c")
    desk.engine.complete_refund(refund.refund_no, channel_refund_id="WXRF-7")
    other = desk.engine.refund(paid.payment.id, 1000, request_id="b", reason="x", requested_by="c")
    desk.engine.complete_refund(other.refund_no, channel_refund_id="WXRF-8")  # not on the bill
    late = datetime(2026, 9, 1, 16, 0, 1, tzinfo=UTC)  # 2 September in Shanghai
    desk.clock.set(late - timedelta(minutes=5))
    desk.engine.confirm("wechatpay", "W9", o[9].order_no, 3000, paid_at=late)
    bad = wx_payment("WBAD", "BF-BAD", 100, 1).replace("`0.01000", "`0.01234")
    bill = wx_bill(
        wx_payment("W0", o[0].order_no, 10000, 60),  # matched
        wx_payment("W1", o[1].order_no, 9900, 59),  # amount differs
        wx_payment("W2", o[2].order_no, 10000, 100),  # fee differs
        wx_payment("W3", o[3].order_no, 10000, 60),
        bad,  # unreadable
        wx_payment("W3", o[3].order_no, 10000, 60),  # listed twice
        wx_payment("W5", o[5].order_no, 10000, 60),  # 长款 (W4 is 短款)
        wx_payment("W6", o[6].order_no, 10000, 60).replace("`SUCCESS", "`REVOKED"),
        wx_payment("R1", "BF-R1", 100, 1).replace("`SUCCESS", "`REVOKED"),  # nobody's
        wx_payment("W7", o[7].order_no, 10000, 60),
        wx_refund("W7", o[7].order_no, "WXRF-7", refund.refund_no, 3000, 18),  # matched
        wx_refund("W99", "BF-ELSEWHERE", "WXRF-Z", "RF-UNKNOWN", 500, 3),  # unknown refund
        wx_payment("W8", o[8].order_no, 5000, 30),
        wx_payment("W9", o[9].order_no, 3000, 18, when=late - timedelta(seconds=2)),  # 跨日
    )
    path = tmp_path / "wx-mixed.csv"
    path.write_bytes(bill)
    return path


def _stored(desk: Desk, run_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's row and its discrepancies' rows, without their ids, then both deleted."""
    r, d = st.recon_runs, st.recon_discrepancies
    with desk.engine.uow() as uow:
        run = dict(uow.conn.execute(select(r).where(r.c.id == run_id)).mappings().one())
        found = [
            dict(row)
            for row in uow.conn.execute(
                select(d).where(d.c.run_id == run_id).order_by(d.c.id)
            ).mappings()
        ]
        uow.conn.execute(delete(d).where(d.c.run_id == run_id))
        uow.conn.execute(delete(r).where(r.c.id == run_id))
        uow.commit()
    del run["id"]
    for row in found:
        del row["id"], row["run_id"]
    return run, found


@pytest.mark.parametrize("collide", [False, True], ids=["hashes", "colliding-hashes"])
def test_a_run_matched_in_polars_stores_what_the_sql_joins_store(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collide: bool
) -> None:
    path = _mixed(desk, tmp_path)
    if collide:  # every id of a length shares its join key: the join by the texts is taken
        import polars as pl

        monkeypatch.setattr(
            statement_match, "_key", lambda: pl.col("txn").str.len_bytes().cast(pl.UInt64)
        )
    frames = _instances(monkeypatch, statement_match.FrameMatch)

    def run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        result = desk.recon.reconcile(
            path, format="wechatpay", business_date=DAY, auto_resolve=False
        )
        return _stored(desk, result.run.id)

    monkeypatch.setattr(recon_ingest, "COLUMNAR_THRESHOLD", 1 << 40)
    in_sql = run()
    assert frames == []  # the streaming parser, the staging table and its joins
    monkeypatch.setattr(recon_ingest, "COLUMNAR_THRESHOLD", 0)
    with capture_logs() as logs:
        in_polars = run()
    assert len(frames) == 1  # read column by column, matched in polars
    texts = [e for e in logs if e["event"].startswith("two transaction ids share a hash")]
    assert len(texts) == int(collide)

    codes = [row["code"] for row in in_sql[1]]
    assert sorted(codes) == sorted(
        [
            Code.AMOUNT_MISMATCH.value,
            Code.FEE_MISMATCH.value,
            Code.DUPLICATE_LINE.value,
            Code.CHANNEL_ONLY.value,  # W5
            Code.STATUS_MISMATCH.value,  # W6
            Code.CROSS_DAY.value,  # W9, in suspense (its order expired) on the 2nd
            Code.FEE_MISMATCH.value,  # W9: the engine holds another fee for it
            Code.ENGINE_ONLY.value,  # W4
            Code.CHANNEL_ONLY.value,  # the unknown refund
            Code.ENGINE_ONLY.value,  # the refund paid out that the bill does not show
            Code.UNREADABLE_LINE.value,
        ]
    )
    assert in_sql[0]["matched_count"] > 0 and in_sql[0]["engine_count"] == 8
    assert in_polars[0] == in_sql[0]
    assert in_polars[1] == in_sql[1]


def test_a_run_scoped_to_a_merchant_counts_only_its_billers_payments(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _mixed(desk, tmp_path)
    desk.school("s2")  # another merchant on the same channel, its payment not on the bill
    desk.engine.set_channel_config(
        "s2", ChannelConfig("wechatpay", merchant_id="1900000999"), actor="t", reason="t"
    )
    (elsewhere,) = desk.orders("20.00", code="s2")
    desk.pay(elsewhere, "WS2")
    monkeypatch.setattr(recon_ingest, "COLUMNAR_THRESHOLD", 1 << 40)
    in_sql = desk.recon.reconcile(
        path, format="wechatpay", business_date=DAY, merchant_id="1900000109",
        auto_resolve=False,
    )  # fmt: skip
    sql_rows = _stored(desk, in_sql.run.id)
    monkeypatch.setattr(recon_ingest, "COLUMNAR_THRESHOLD", 0)
    in_polars = desk.recon.reconcile(
        path, format="wechatpay", business_date=DAY, merchant_id="1900000109",
        auto_resolve=False,
    )  # fmt: skip
    assert _stored(desk, in_polars.run.id) == sql_rows
    assert sql_rows[0]["merchant_id"] == "1900000109" and sql_rows[0]["engine_count"] == 8
    assert "WS2" not in {row["channel_txn_id"] for row in sql_rows[1]}


def _polars_run(desk: Desk, path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    result = desk.recon.reconcile(path, format="wechatpay", business_date=DAY, auto_resolve=False)
    return _stored(desk, result.run.id)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_on_sqlite_a_child_process_reads_the_payments_and_the_run_is_the_same(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("adbc_driver_sqlite")
    path = _mixed(desk, tmp_path)
    monkeypatch.setattr(recon_ingest, "COLUMNAR_THRESHOLD", 0)
    children = _instances(monkeypatch, sqlite_columns.ChildRead)
    by_child = _polars_run(desk, path)
    assert len(children) == 1
    monkeypatch.setattr(sqlite_columns, "available", lambda: False)
    on_the_connection = _polars_run(desk, path)
    assert len(children) == 1
    assert by_child == on_the_connection
    assert by_child[0]["engine_count"] == 8


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_child_that_cannot_read_leaves_the_read_to_the_connection(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("adbc_driver_sqlite")
    path = _mixed(desk, tmp_path)
    monkeypatch.setattr(recon_ingest, "COLUMNAR_THRESHOLD", 0)
    expected = _polars_run(desk, path)
    monkeypatch.setattr(sqlite_columns, "snapshot_file", lambda conn: str(tmp_path / "none.db"))
    assert _polars_run(desk, path) == expected
