"""Presale escrow in the double-entry journal, on SQLite and PostgreSQL: every book entry is a
balanced journal entry on the project's escrow accounts, the daily detail report and the
summary are read from the journal and agree column by column, held money assigned to a
contract pays the buyer's bill through the confirmation path, and a release request id is
a key the database keeps unique."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from billfold.adapters.db.schema import presale as s
from billfold.demo.gov_presale import BUREAU_CODE, CONTRACTS, DEVELOPER, setup_presale
from billfold.engine import Engine
from billfold.errors import InvalidInput
from billfold.packs.presale import PresaleDesk

A, B, C = (c.contract_no for c in CONTRACTS)
DAY = date(2026, 9, 1)
MONEY = ("当日入账", "当日拨付", "当日退款")


@pytest.fixture
def desk(engine: Engine) -> PresaleDesk:
    return setup_presale(engine)


def pay(engine: Engine, contract_no: str, amount_fen: int, txn: str) -> int:
    order = engine.create_order(DEVELOPER, [contract_no], amount_fen=amount_fen)
    result = engine.confirm("pos", txn, order.order_no, amount_fen)
    assert result.credited
    return result.payment.id


def fen(text: str) -> int:
    return int(Decimal(text) * 100)


def report(desk: PresaleDesk, out: Path) -> tuple[list[dict[str, str]], dict[str, str]]:
    detail, summary = desk.daily_report(BUREAU_CODE, DAY, out)
    with detail.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    with summary.open(encoding="utf-8-sig") as f:
        (total,) = list(csv.DictReader(f))
    return rows, total


def test_the_detail_report_and_the_summary_agree_on_a_day_with_held_money(
    desk: PresaleDesk, engine: Engine, tmp_path: Path
) -> None:
    pay(engine, A, 93_600_000, "T1:000009:000001")
    desk.sync()
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-50000", 5_000_000, paid_at=engine.clock.now())
    desk.release(BUREAU_CODE, 1_000_000, request_id="R-agree", by="dev", reason="基础工程款")
    rows, total = report(desk, tmp_path)
    for column in MONEY:
        assert sum(fen(r[column]) for r in rows) == fen(total[column]), column
    assert fen(total["当日入账"]) == 93_600_000  # held money is nobody's yet
    assert fen(total["暂挂金额"]) == 5_000_000


def test_every_book_entry_is_a_balanced_journal_entry_on_the_projects_escrow_accounts(
    desk: PresaleDesk, engine: Engine
) -> None:
    paid = pay(engine, A, 10_000_000, "T1:000009:000002")
    desk.sync()
    made = engine.refund(paid, 1_000_000, request_id="RF-J", reason="退房", requested_by="ops")
    engine.complete_refund(made.refund_no)
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-J", 700, paid_at=engine.clock.now())
    desk.release(BUREAU_CODE, 2_000_000, request_id="R-J", by="dev", reason="基础")
    desk.sync()
    balance = engine.trial_balance()
    book = desk.balance(BUREAU_CODE)
    assert balance[f"escrow_buyers:{BUREAU_CODE}"] == -book.balance_fen == -7_000_000
    assert balance[f"escrow_held:{BUREAU_CODE}"] == -book.held_fen == -700
    assert balance[f"escrow:{BUREAU_CODE}"] == 7_000_700
    assert engine.check_books() == []
    with engine.uow() as uow:
        postings = [p for p in uow.journal.postings() if p.account.startswith("escrow")]
    bill = engine.bill(DEVELOPER, A)
    assert {p.bill_id for p in postings if p.account.startswith("escrow_buyers")} == {
        bill.id,
        None,  # the release belongs to no contract
    }


def test_held_money_assigned_to_a_contract_pays_the_buyers_bill_once(
    desk: PresaleDesk, engine: Engine
) -> None:
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-A1", 5_000_000, paid_at=engine.clock.now())
    assert engine.bill(DEVELOPER, B).paid_fen == 0
    made = desk.assign_held("bank/TRF-A1", B, "ops", "购房人来电确认")
    bill = engine.bill(DEVELOPER, B)
    assert bill.paid_fen == 5_000_000 and made.payment_id is not None
    with engine.uow() as uow:
        payment = uow.payments.get(made.payment_id)
    assert payment is not None
    assert (payment.channel, payment.channel_txn_id, payment.amount_fen) == (
        "bank",
        "TRF-A1",
        5_000_000,
    )
    assert desk.sync().payments == 0  # booked by the assignment, not again as a payment
    assert [e.kind.value for e in desk.entries(BUREAU_CODE)] == ["held", "assign"]
    assert engine.check_books() == []
    balance = engine.trial_balance()
    assert balance[f"escrow_held:{BUREAU_CODE}"] == 0
    assert balance[f"escrow_buyers:{BUREAU_CODE}"] == -5_000_000


def test_an_assignment_interrupted_after_the_credit_is_finished_by_running_it_again(
    desk: PresaleDesk, engine: Engine
) -> None:
    from billfold.packs.presale import held

    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-A2", 1_000_000, paid_at=engine.clock.now())
    job = held._check_assignment(engine, "bank/TRF-A2", C)
    held._credit_contract(engine, job, C)  # ... and the process dies here
    assert desk.sync().payments == 0  # a sync meanwhile leaves the held money's payment alone
    made = desk.assign_held("bank/TRF-A2", C, "ops", "核实")
    assert made.amount_fen == 1_000_000
    assert engine.bill(DEVELOPER, C).paid_fen == 1_000_000  # credited once
    assert engine.check_books() == []


def test_held_money_above_what_the_contract_owes_is_refused_and_changes_nothing(
    desk: PresaleDesk, engine: Engine
) -> None:
    price = CONTRACTS[2].total_fen
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-A3", price + 1, paid_at=engine.clock.now())
    before = engine.trial_balance()
    with pytest.raises(InvalidInput) as refused:
        desk.assign_held("bank/TRF-A3", C, "ops", "核实")
    assert refused.value.message.startswith("amount:")
    assert engine.bill(DEVELOPER, C).paid_fen == 0 and engine.trial_balance() == before
    assert desk.balance(BUREAU_CODE).held_fen == price + 1


def test_a_release_request_id_is_unique_in_the_database(desk: PresaleDesk, engine: Engine) -> None:
    pay(engine, A, 10_000_000, "T1:000009:000003")
    desk.sync()
    first = desk.release(BUREAU_CODE, 1_000_000, request_id="R-dup", by="dev", reason="基础")
    assert desk.release(BUREAU_CODE, 1_000_000, request_id="R-dup", by="dev", reason="x") == first
    with engine.uow() as uow, pytest.raises(IntegrityError):
        project = uow.presale.project(BUREAU_CODE)
        assert project is not None
        uow.conn.execute(
            insert(s.escrow_entries).values(
                project_pk=project.id,
                seq=99,
                kind="release",
                channel="release",
                ref="R-dup",
                business_date=DAY,
                occurred_at=engine.clock.now(),
                note="a second release under the same request id",
            )
        )
    assert desk.balance(BUREAU_CODE).released_fen == 1_000_000
