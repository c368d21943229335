"""The worker's T+1 reconciliation of a watched folder, then its settlement drafts: run twice
or on two workers at once, each statement is reconciled once and each batch drafted once."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

from recon_fixtures import DAY, Desk, wx_bill, wx_payment  # type: ignore[import-not-found]
from sqlalchemy import func, select

from billfold.adapters.db.schema.settlement import recon_runs, settlement_batches
from billfold.jobs.config import parse_config
from billfold.jobs.duties import Duties, Ports, statement_name
from billfold.jobs.loop import run_all_once


def worker(desk: Desk, folder: Path) -> Duties:
    folder.mkdir(exist_ok=True)
    config = parse_config({"reconcile": {"folder": str(folder)}})
    return Duties(desk.engine, config, Ports())


def count(desk: Desk, table: object) -> int:
    with desk.engine.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar())  # type: ignore[arg-type]


def dropped(desk: Desk, folder: Path) -> Path:
    desk.school()
    [order] = desk.orders("100.00")
    desk.pay(order, "4200001")
    folder.mkdir(exist_ok=True)
    path = folder / f"wechatpay_{DAY}.csv"
    path.write_bytes(wx_bill(wx_payment("4200001", order.order_no, 10_000, 60)))
    return path


def test_a_dropped_statement_is_reconciled_once_moved_to_done_and_drafted(
    desk: Desk, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    path = dropped(desk, inbox)
    copy = path.read_bytes()
    jobs = worker(desk, inbox)

    done = run_all_once(jobs)

    assert done["reconcile"] == {"reconciled": 1, "failed": 0, "dates": [str(DAY)]}
    assert (inbox / "done" / path.name).read_bytes() == copy and not path.exists()
    assert count(desk, recon_runs) == 1
    assert count(desk, settlement_batches) == 1  # settle runs after reconcile by default

    path.write_bytes(copy)  # dropped again by mistake: the same content is not run again
    assert jobs.reconcile()["reconciled"] == 1
    assert count(desk, recon_runs) == 1


def test_two_workers_at_once_reconcile_the_statement_once(desk: Desk, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    dropped(desk, inbox)
    jobs = worker(desk, inbox)
    gate = threading.Barrier(2)
    raised: list[BaseException] = []
    summaries: list[dict[str, object]] = []

    def run() -> None:
        gate.wait()
        try:
            summaries.append(jobs.reconcile())
        except BaseException as exc:  # a thread's error would only warn
            raised.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()

    assert raised == []
    assert count(desk, recon_runs) == 1
    assert [p.name for p in (inbox / "done").iterdir()] == [f"wechatpay_{DAY}.csv"]
    assert all(s["failed"] == 0 for s in summaries)


def test_a_statement_another_worker_moved_away_meanwhile_is_skipped(
    desk: Desk, tmp_path: Path
) -> None:
    # the second of two workers lists the file, then the first reconciles it and moves it
    # to done/ before the second reads it: the second counts it neither done nor failed
    inbox = tmp_path / "inbox"
    path = dropped(desk, inbox)
    jobs = worker(desk, inbox)
    first = worker(desk, inbox).reconcile()
    assert first["reconciled"] == 1 and not path.exists()
    days: set[date] = set()
    assert jobs._reconcile_file(path, days) is None
    assert days == set() and count(desk, recon_runs) == 1
    assert not (inbox / "failed").exists()


def test_a_file_with_an_unknown_name_or_content_goes_to_failed_and_nothing_is_run(
    desk: Desk, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "statement.csv").write_text("x")
    (inbox / ".wechatpay_2026-09-01.csv.part").write_text("still being written")
    (inbox / f"wechatpay_{DAY}.csv").write_text("not a bill\n")
    summary = worker(desk, inbox).reconcile()
    assert summary == {"reconciled": 0, "failed": 2, "dates": []}
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == [
        "statement.csv",
        f"wechatpay_{DAY}.csv",
    ]
    assert count(desk, recon_runs) == 0
    assert (inbox / ".wechatpay_2026-09-01.csv.part").exists()  # hidden files are left alone


def test_statement_names_give_the_format_and_business_date() -> None:
    assert statement_name("wechatpay_2026-09-01.csv") == ("wechatpay", DAY)
    assert statement_name("alipay_20260901_shop1.csv") == ("alipay", DAY)
    assert statement_name("generic-csv_2026-09-01.csv") == ("generic-csv", DAY)
    assert statement_name("wechatpay_2026-13-01.csv") is None
    assert statement_name("camt053_2026-09-01.xml") is None  # a bank statement, not a channel's
    assert statement_name("nope_2026-09-01.csv") is None
