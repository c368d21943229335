"""Presale escrow on SQLite and PostgreSQL: succeeded refunds of contract payments booked as
money out (once, pushed in order, alerted when they overdraw), and held money assigned to a
contract of its project once, with every refusal changing nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import presale as s
from billfold.demo.gov_presale import BUREAU_CODE, CONTRACTS, DEVELOPER, setup_presale
from billfold.engine import Engine
from billfold.errors import Conflict, InvalidInput, NotFound
from billfold.merchants.biller import Biller, BillerKind, SubUnit, SubUnitKind
from billfold.merchants.presale import Contract, Project
from billfold.packs.presale import PresaleDesk, ReleaseRefused
from billfold.packs.presale.sync import book_refund
from billfold.settlement.escrow import EntryKind

A, B, C = (c.contract_no for c in CONTRACTS)


def counts(engine: Engine) -> dict[str, int]:
    tables = {
        "entries": s.escrow_entries,
        "pushes": s.bureau_pushes,
        "events": t.outbox_events,
        "audit": t.audit_log,
    }
    with engine.uow() as uow:
        return {
            name: int(uow.conn.execute(select(func.count()).select_from(table)).scalar() or 0)
            for name, table in tables.items()
        }


def alerts(engine: Engine) -> list[dict[str, object]]:
    with engine.uow() as uow:
        rows = uow.conn.execute(
            select(t.outbox_events.c.payload)
            .where(t.outbox_events.c.event_type == "presale.alert")
            .order_by(t.outbox_events.c.id)
        ).scalars()
        return [json.loads(r)["data"] for r in rows]


def push_bodies(engine: Engine) -> list[dict[str, object]]:
    with engine.uow() as uow:
        rows = uow.conn.execute(
            select(s.bureau_pushes.c.payload).order_by(s.bureau_pushes.c.seq)
        ).scalars()
        return [json.loads(r) for r in rows]


def pay(engine: Engine, contract_no: str, amount_fen: int, txn: str) -> int:
    order = engine.create_order(DEVELOPER, [contract_no], amount_fen=amount_fen)
    result = engine.confirm("pos", txn, order.order_no, amount_fen)
    assert result.credited
    return result.payment.id


def refund(engine: Engine, payment_id: int, amount_fen: int, request: str) -> str:
    made = engine.refund(
        payment_id, amount_fen, request_id=request, reason="退房", requested_by="ops"
    )
    engine.complete_refund(made.refund_no)
    return made.refund_no


@pytest.fixture
def desk(engine: Engine) -> PresaleDesk:
    return setup_presale(engine)


# -- refunds -------------------------------------------------------------------------------
def test_a_succeeded_refund_is_booked_once_as_money_out_and_pushed_after_its_payment(
    desk: PresaleDesk, engine: Engine
) -> None:
    paid = pay(engine, A, 10_000_000, "T1:000001:000001")
    assert desk.sync().payments == 1
    refund_no = refund(engine, paid, 4_000_000, "RF-1")
    assert desk.sync().refunds == 1
    before = counts(engine)
    assert desk.sync().refunds == 0 and counts(engine) == before
    entries = desk.entries(BUREAU_CODE)
    assert [(e.seq, e.kind, e.contract_no, e.amount_fen, e.ref) for e in entries] == [
        (1, EntryKind.PAYMENT, A, 10_000_000, "T1:000001:000001"),
        (2, EntryKind.REFUND, A, 4_000_000, refund_no),
    ]
    assert entries[1].payment_id == paid
    book = desk.balance(BUREAU_CODE)
    assert (book.received_fen, book.refunded_fen, book.balance_fen) == (
        10_000_000,
        4_000_000,
        6_000_000,
    )
    body = push_bodies(engine)[1]
    assert body["id"] == "JG2026-0088-00000002" and body["type"] == "presale.refund"
    data = body["data"]
    assert isinstance(data, dict)
    assert (data["txn_id"], data["amount"], data["contract_no"]) == (refund_no, "40000.00", A)
    assert alerts(engine) == []  # the balance stays above what was released


def test_a_refund_not_yet_succeeded_is_not_booked_until_it_is(
    desk: PresaleDesk, engine: Engine
) -> None:
    paid = pay(engine, A, 10_000_000, "T1:000001:000002")
    desk.sync()
    pending = engine.refund(paid, 1_000_000, request_id="RF-2", reason="退房", requested_by="o")
    before = counts(engine)
    assert desk.sync().refunds == 0 and counts(engine) == before
    engine.complete_refund(pending.refund_no, succeeded=False)
    failed = counts(engine)  # the failure's own event, not the ledger's
    assert desk.sync().refunds == 0 and counts(engine) == failed
    assert failed["entries"] == before["entries"] and failed["pushes"] == before["pushes"]
    assert desk.balance(BUREAU_CODE).balance_fen == 10_000_000


def test_a_payment_and_its_refund_in_one_sync_are_booked_in_that_order(
    desk: PresaleDesk, engine: Engine
) -> None:
    paid = pay(engine, B, 5_000_000, "T1:000001:000003")
    refund(engine, paid, 5_000_000, "RF-3")
    report = desk.sync()
    assert (report.payments, report.reversals, report.refunds) == (1, 0, 1)
    assert [e.kind for e in desk.entries(BUREAU_CODE)] == [EntryKind.PAYMENT, EntryKind.REFUND]
    assert desk.balance(BUREAU_CODE).balance_fen == 0


def test_a_booking_raced_by_another_sync_adds_nothing_and_alerts_nothing(
    desk: PresaleDesk, engine: Engine
) -> None:
    paid = pay(engine, A, 10_000_000, "T1:000001:000004")
    desk.sync()
    refund(engine, paid, 1_000_000, "RF-4")
    with engine.uow() as uow:
        (row,) = uow.presale.contract_refunds()
        project = uow.presale.project(BUREAU_CODE)
        assert project is not None
        now = engine.clock.now()
        assert book_refund(uow, project, row, now) == 1
        assert book_refund(uow, project, row, now) == 0  # the other sync won
        uow.commit()
    assert [e.kind for e in desk.entries(BUREAU_CODE)] == [EntryKind.PAYMENT, EntryKind.REFUND]
    assert counts(engine)["pushes"] == 2 and desk.sync().refunds == 0


def test_the_release_limit_is_a_share_of_the_money_received_less_refunds(
    desk: PresaleDesk, engine: Engine
) -> None:
    paid = pay(engine, A, 10_000_000, "T1:000001:000005")
    refund(engine, paid, 5_000_000, "RF-5")
    desk.sync()
    before = counts(engine)
    with pytest.raises(ReleaseRefused) as refused:
        desk.release(BUREAU_CODE, 1_500_001, request_id="R5", by="dev", reason="基础")
    assert refused.value.message == (
        "release of 15000.01 refused: stage foundation (基础工程完成) allows 30% of "
        "50000.00 received = 15000.00 in all; 0.00 already released, at most 15000.00 more"
    )
    assert counts(engine) == before
    desk.release(BUREAU_CODE, 1_500_000, request_id="R5", by="dev", reason="基础")


def test_a_refund_beyond_what_stayed_unreleased_is_booked_and_alerted(
    desk: PresaleDesk, engine: Engine
) -> None:
    paid = pay(engine, A, 10_000_000, "T1:000001:000006")
    desk.sync()
    desk.release(BUREAU_CODE, 3_000_000, request_id="R6", by="dev", reason="基础")
    refund_no = refund(engine, paid, 8_000_000, "RF-6")
    assert desk.sync().refunds == 1
    book = desk.balance(BUREAU_CODE)
    assert (book.net_received_fen, book.released_fen, book.balance_fen) == (
        2_000_000,
        3_000_000,
        -1_000_000,
    )
    (alert,) = alerts(engine)
    assert alert["reason"] == (
        f"refund {refund_no} of 80000.00 on contract {A} leaves 20000.00 received against "
        "30000.00 released: the balance is -10000.00"
    )
    assert (alert["ref"], alert["balance_fen"]) == (refund_no, -1_000_000)
    before = counts(engine)
    assert desk.sync().refunds == 0 and counts(engine) == before  # alerted once
    with pytest.raises(ReleaseRefused) as refused:
        desk.release(BUREAU_CODE, 1, request_id="R7", by="dev", reason="x")
    assert refused.value.reason == "over_limit" and refused.value.message.endswith(
        "30000.00 already released, at most 0.00 more"
    )
    assert counts(engine) == before


def test_the_daily_report_shows_refunds_per_contract_and_in_the_summary(
    desk: PresaleDesk, engine: Engine, tmp_path: Path
) -> None:
    paid = pay(engine, A, 10_000_000, "T1:000001:000007")
    refund(engine, paid, 2_500_000, "RF-7")
    desk.sync()
    detail, summary = desk.daily_report(BUREAU_CODE, date(2026, 9, 1), tmp_path)
    lines = detail.read_text("utf-8-sig").splitlines()
    assert lines[0].endswith(",累计入账,当日退款,当日暂挂,暂挂金额,累计拨付")
    assert lines[1] == (
        "合同,HT-LJY-2026-0001,3幢1单元1201,陈**,3120000.00,100000.00,0.00,75000.00,25000.00,0.00,"
        "0.00,0.00"
    )
    assert lines[2] == (
        "合同,HT-LJY-2026-0002,3幢1单元1502,李**,2985000.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00"
    )
    head, row = summary.read_text("utf-8-sig").splitlines()
    assert head.endswith(",期末余额,暂挂金额,当日退款,累计入账,累计拨付,当日暂挂")
    assert row == (
        "2026-09-01,JG2026-0088,丽景苑一期,3301040160000088,0.00,100000.00,0.00,75000.00,0.00,"
        "25000.00,75000.00,0.00,0.00"
    )


# -- held money assigned to a contract -----------------------------------------------------
def test_held_money_is_assigned_to_a_contract_once_booked_pushed_and_audited(
    desk: PresaleDesk, engine: Engine
) -> None:
    now = engine.clock.now()
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-1", 5_000_000, paid_at=now)
    assert alerts(engine)[0]["held_id"] == "bank/TRF-1"
    made = desk.assign_held("bank/TRF-1", A, "ops", "购房人来电确认")
    assert (made.seq, made.kind, made.contract_no, made.amount_fen, made.ref) == (
        2,
        EntryKind.ASSIGN,
        A,
        5_000_000,
        "TRF-1",
    )
    book = desk.balance(BUREAU_CODE)
    assert (book.held_fen, book.received_fen, book.balance_fen) == (0, 5_000_000, 5_000_000)
    body = push_bodies(engine)[1]
    assert body["id"] == "JG2026-0088-00000002" and body["type"] == "presale.assign"
    with engine.uow() as uow:
        (audit,) = uow.conn.execute(
            select(t.audit_log).where(t.audit_log.c.action == "presale.assign_held")
        ).all()
    assert (audit.actor, audit.target_id, audit.reason) == ("ops", "bank/TRF-1", "购房人来电确认")
    before = counts(engine)
    with pytest.raises(Conflict) as again:
        desk.assign_held("bank/TRF-1", B, "ops", "再次")
    assert again.value.message == f"held_id: bank/TRF-1 was assigned to contract {A} already"
    assert counts(engine) == before
    assert desk.sync().payments == 0 and counts(engine) == before


def test_assigned_money_counts_for_the_contract_in_the_daily_report(
    desk: PresaleDesk, engine: Engine, tmp_path: Path
) -> None:
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-2", 300, paid_at=engine.clock.now())
    desk.assign_held("bank/TRF-2", C, "ops", "核实")
    detail, summary = desk.daily_report(BUREAU_CODE, date(2026, 9, 1), tmp_path)
    lines = detail.read_text("utf-8-sig").splitlines()
    assert lines[3] == (
        "合同,HT-LJY-2026-0003,5幢2单元0801,王**,2760000.00,3.00,0.00,3.00,0.00,0.00,0.00,0.00"
    )
    # came in that day (当日暂挂 3.00) and assigned that day: nothing is held at its end
    assert lines[4] == (
        "暂挂,TRF-2,,未注明合同（已归集至合同 HT-LJY-2026-0003）,0.00,0.00,0.00,0.00,0.00,3.00,0.00,0.00"
    )
    assert summary.read_text("utf-8-sig").splitlines()[1] == (
        "2026-09-01,JG2026-0088,丽景苑一期,3301040160000088,0.00,3.00,0.00,3.00,0.00,0.00,3.00,0.00,"
        "3.00"
    )


@pytest.mark.parametrize(
    ("held_id", "contract", "error", "message"),
    [
        ("bank/TRF-NOPE", A, NotFound, "held_id: no money is held as 'bank/TRF-NOPE'"),
        ("TRF-1", A, NotFound, "held_id: no money is held as 'TRF-1'"),
        ("bank/TRF-1", "HT-NOPE", NotFound, "contract_no: no contract 'HT-NOPE'"),
        (
            "bank/TRF-1",
            "HT-XY-1",
            Conflict,
            "contract_no: contract HT-XY-1 is not of project JG2026-0088, where bank/TRF-1 is held",
        ),
    ],
)
def test_an_assignment_that_cannot_be_made_is_refused_and_changes_nothing(
    desk: PresaleDesk,
    engine: Engine,
    held_id: str,
    contract: str,
    error: type[Exception],
    message: str,
) -> None:
    engine.create_biller(
        Biller(
            "dev2",
            "新月置业",
            BillerKind.HOUSING_DEVELOPER,
            sub_units=(SubUnit("XY-1", "新月府", SubUnitKind.PROJECT),),
        )
    )
    desk.add_project(Project("dev2", "XY-1", "JG-91", "新月府", "示范银行", "622291"), actor="t")
    desk.add_contract("JG-91", Contract("HT-XY-1", "1-101", 100_000_000, "赵云"))
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-1", 5_000_000, paid_at=engine.clock.now())
    before = counts(engine)
    with pytest.raises(error) as refused:
        desk.assign_held(held_id, contract, "ops", "核实")
    assert getattr(refused.value, "message", None) == message
    assert counts(engine) == before
    assert desk.balance(BUREAU_CODE).held_fen == 5_000_000


@pytest.mark.parametrize(
    ("by", "reason", "message"),
    [
        (" ", "核实", "by: who assigns the held money is required"),
        ("ops", "", "reason: why the held money belongs to the contract is required"),
    ],
)
def test_an_assignment_names_who_and_why(
    desk: PresaleDesk, engine: Engine, by: str, reason: str, message: str
) -> None:
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-3", 100, paid_at=engine.clock.now())
    before = counts(engine)
    with pytest.raises(InvalidInput) as refused:
        desk.assign_held("bank/TRF-3", A, by, reason)
    assert refused.value.message == message and counts(engine) == before
