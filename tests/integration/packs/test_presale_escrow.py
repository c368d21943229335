"""Presale-fund supervision on SQLite and PostgreSQL: payments only through the project's
terminal, money without a contract held and alerted, the escrow ledger numbered per project,
releases within the milestone limit, the daily report."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import presale as s
from billfold.channels.pos_messages import PosDecline
from billfold.demo.gov_presale import (
    BUREAU_CODE,
    CONTRACTS,
    DEVELOPER,
    PROJECT,
    PROJECT_TERMINAL,
    Sandbox,
    setup_presale,
)
from billfold.engine import Engine
from billfold.merchants.biller import SubUnit, SubUnitKind
from billfold.merchants.presale import Contract, Project
from billfold.packs.presale import PresaleDesk, ReleaseRefused
from billfold.settlement.escrow import EntryKind

A, B, C = (c.contract_no for c in CONTRACTS)


def counts(engine: Engine) -> dict[str, int]:
    tables = {
        "payments": t.payments,
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


@pytest.fixture
def desk(engine: Engine) -> PresaleDesk:
    return setup_presale(engine)


def test_a_contract_payment_at_the_project_terminal_is_booked_and_queued_for_the_bureau(
    desk: PresaleDesk, engine: Engine
) -> None:
    terminal = Sandbox(engine).terminal(PROJECT_TERMINAL, DEVELOPER, PROJECT)
    answer = terminal.sale(93_600_000, bill_ref=A)
    assert answer is not None and answer.approved
    assert desk.sync().payments == 1 and desk.sync().payments == 0
    (entry,) = desk.entries(BUREAU_CODE)
    assert (entry.seq, entry.kind, entry.contract_no, entry.amount_fen) == (
        1,
        EntryKind.PAYMENT,
        A,
        93_600_000,
    )
    with engine.uow() as uow:
        (push,) = uow.conn.execute(select(s.bureau_pushes)).all()
    body = json.loads(push.payload)
    assert push.push_id == "JG2026-0088-00000001" and push.status == "pending"
    assert body["type"] == "presale.payment" and body["data"]["amount"] == "936000.00"
    assert body["data"]["escrow_account"] == "3301040160000088"


def test_a_sale_for_an_unknown_contract_is_declined_and_changes_nothing(
    desk: PresaleDesk, engine: Engine
) -> None:
    before = counts(engine)
    terminal = Sandbox(engine).terminal(PROJECT_TERMINAL, DEVELOPER, PROJECT)
    answer = terminal.sale(1_000_000, bill_ref="HT-NOPE-1")
    assert answer is not None and answer.decline is PosDecline.NOT_FOUND
    assert answer.message == "bill 'HT-NOPE-1' does not exist for biller demo-developer"
    desk.sync()
    after = counts(engine)
    assert after["payments"] == before["payments"] and after["entries"] == before["entries"]


def test_a_project_terminal_refuses_another_projects_contract(
    desk: PresaleDesk, engine: Engine
) -> None:
    from billfold.merchants.biller import Biller, BillerKind

    projects = (SubUnit("XY-1", "新月府一期", SubUnitKind.PROJECT),)
    projects += (SubUnit("XY-2", "新月府二期", SubUnitKind.PROJECT),)
    engine.create_biller(
        Biller("dev2", "新月置业", BillerKind.HOUSING_DEVELOPER, sub_units=projects)
    )
    for code, bureau in (("XY-1", "JG-91"), ("XY-2", "JG-92")):
        desk.add_project(
            Project("dev2", code, bureau, code, "示范银行", f"6222{bureau}"), actor="t"
        )
    desk.add_contract("JG-92", Contract("HT-XY2-1", "1-101", 100_000_000, "赵云"))
    before = counts(engine)
    terminal = Sandbox(engine).terminal("P0000091", "dev2", "XY-1")
    answer = terminal.sale(1_000_000, bill_ref="HT-XY2-1")
    assert answer is not None and answer.decline is PosDecline.WRONG_PROJECT
    assert answer.message == (
        "terminal P0000091 takes payments for project XY-1 only; "
        "bill HT-XY2-1 belongs to project XY-2"
    )
    assert counts(engine)["payments"] == before["payments"]


def test_money_without_a_contract_is_held_alerted_and_pushed_once(
    desk: PresaleDesk, engine: Engine
) -> None:
    now = engine.clock.now()
    held = desk.receive_unmatched(
        BUREAU_CODE, "bank", "TRF-1", 5_000_000, paid_at=now, contract_no="HT-GHOST"
    )
    again = desk.receive_unmatched(
        BUREAU_CODE, "bank", "TRF-1", 5_000_000, paid_at=now, contract_no="HT-GHOST"
    )
    assert held == again and held.kind is EntryKind.HELD
    assert held.note == "项目 JG2026-0088 无合同 HT-GHOST"  # the supervisor reads it
    book = desk.balance(BUREAU_CODE)
    assert (book.held_fen, book.received_fen, book.balance_fen) == (5_000_000, 0, 0)
    with engine.uow() as uow:
        alerts = (
            uow.conn.execute(
                select(t.outbox_events.c.payload).where(
                    t.outbox_events.c.event_type == "presale.alert"
                )
            )
            .scalars()
            .all()
        )
        pushes = uow.conn.execute(select(func.count()).select_from(s.bureau_pushes)).scalar()
    assert len(alerts) == 1 and json.loads(alerts[0])["data"]["reason"] == (
        "no contract HT-GHOST in project JG2026-0088"
    )
    assert pushes == 1


def test_money_naming_a_known_contract_is_not_held_but_sent_to_the_channels(
    desk: PresaleDesk, engine: Engine
) -> None:
    from billfold.errors import Conflict

    before = counts(engine)
    with pytest.raises(Conflict) as refused:
        desk.receive_unmatched(
            BUREAU_CODE, "bank", "TRF-7", 100, paid_at=engine.clock.now(), contract_no=A
        )
    assert refused.value.message == (f"contract {A} exists; pay it through the project's POS or QR")
    assert counts(engine) == before


def test_a_release_over_the_stage_limit_is_refused_with_the_reason_and_changes_nothing(
    desk: PresaleDesk, engine: Engine
) -> None:
    sandbox = Sandbox(engine)
    sandbox.terminal(PROJECT_TERMINAL, DEVELOPER, PROJECT).sale(100_000_000, bill_ref=A)
    desk.sync()
    made = desk.release(BUREAU_CODE, 20_000_000, request_id="R1", by="dev", reason="基础")
    assert desk.release(BUREAU_CODE, 20_000_000, request_id="R1", by="dev", reason="x") == made
    before = counts(engine)
    with pytest.raises(ReleaseRefused) as refused:
        desk.release(BUREAU_CODE, 10_000_001, request_id="R2", by="dev", reason="超额")
    assert refused.value.reason == "over_limit"
    assert refused.value.message == (
        "release of 100000.01 refused: stage foundation (基础工程完成) allows 30% of "
        "1000000.00 received = 300000.00 in all; 200000.00 already released, "
        "at most 100000.00 more"
    )
    assert counts(engine) == before
    desk.reach(BUREAU_CODE, "topped", date(2026, 9, 1), actor="bureau")
    desk.release(BUREAU_CODE, 10_000_001, request_id="R2", by="dev", reason="封顶")
    assert desk.balance(BUREAU_CODE).balance_fen == 100_000_000 - 30_000_001


def test_a_voided_sale_books_a_reversal_pushed_after_the_payment(
    desk: PresaleDesk, engine: Engine
) -> None:
    terminal = Sandbox(engine).terminal(PROJECT_TERMINAL, DEVELOPER, PROJECT)
    sale = terminal.sale(5_000_000, bill_ref=B)
    desk.sync()
    assert sale is not None
    assert terminal.void(sale.trace_no).approved
    assert desk.sync().reversals == 1
    kinds = [(e.seq, e.kind) for e in desk.entries(BUREAU_CODE)]
    assert kinds == [(1, EntryKind.PAYMENT), (2, EntryKind.REVERSAL)]
    assert desk.balance(BUREAU_CODE).received_fen == 0


def test_the_daily_report_lists_every_contract_and_the_days_movements(
    desk: PresaleDesk, engine: Engine, tmp_path: Path
) -> None:
    Sandbox(engine).terminal(PROJECT_TERMINAL, DEVELOPER, PROJECT).sale(93_600_000, bill_ref=A)
    desk.sync()
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-9", 100, paid_at=engine.clock.now())
    desk.release(BUREAU_CODE, 1_000_000, request_id="R9", by="dev", reason="基础工程款")
    detail, summary = desk.daily_report(BUREAU_CODE, date(2026, 9, 1), tmp_path)
    assert detail.read_text("utf-8-sig").splitlines() == [
        "类型,合同编号/流水,房号,购房人/说明,合同总价,当日入账,当日拨付,累计入账,当日退款,当日暂挂,"
        "暂挂金额,累计拨付",
        "合同,HT-LJY-2026-0001,3幢1单元1201,陈**,3120000.00,936000.00,0.00,936000.00,0.00,0.00,"
        "0.00,0.00",
        "合同,HT-LJY-2026-0002,3幢1单元1502,李**,2985000.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00",
        "合同,HT-LJY-2026-0003,5幢2单元0801,王**,2760000.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00",
        "暂挂,TRF-9,,未注明合同,0.00,0.00,0.00,0.00,0.00,1.00,1.00,0.00",
        "拨付,R9,,基础工程款,0.00,0.00,10000.00,0.00,0.00,0.00,0.00,10000.00",
    ]
    assert summary.read_text("utf-8-sig").splitlines()[1] == (
        "2026-09-01,JG2026-0088,丽景苑一期,3301040160000088,0.00,936000.00,10000.00,926000.00,1.00,0.00,"
        "936000.00,10000.00,1.00"
    )
    assert "陈家豪" not in detail.read_text("utf-8-sig")
    xlsx = desk.daily_report(BUREAU_CODE, date(2026, 9, 1), tmp_path, fmt="xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(xlsx[0]).active
    assert sheet is not None and sheet["B2"].value == "HT-LJY-2026-0001"
