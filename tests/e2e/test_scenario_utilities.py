"""Utilities end to end, on SQLite and PostgreSQL: the electricity company's fixed-width
arrears file in → households look up their 户号 and pay through the mobile-banking adapter
against the sandbox, a prepaid top-up, an auto-debit mandate paying on the due date → the
statements reconciled → settled → the collection files back, byte-identical when regenerated."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import pytest

from billfold.channels.mobile_banking import LookupCode, PayCode, lookup
from billfold.clock import FixedClock
from billfold.demo.campus_utility import (
    GAS,
    POWER,
    POWER_LAYOUT,
    POWER_OUT,
    STATEMENT_MAPPING,
    ScenarioChannels,
    bank_config,
    power_arrears,
    run_utilities,
)
from billfold.engine import Engine
from billfold.errors import ImportFailed
from billfold.merchants.biller import Biller, BillerKind, SettlementAccount
from billfold.merchants.channel_config import ChannelConfig
from billfold.merchants.fees import FeeKind, FeeRule
from billfold.packs.utility import collection_file_for, import_arrears, offer_topup
from billfold.settlement.reconciler import Reconciler
from billfold.settlement.settler import Settler
from billfold.settlement.utility_files import verify_collection_file

DAY1, DAY2 = date(2026, 9, 1), date(2026, 9, 2)


def _power(engine: Engine) -> None:
    engine.create_biller(
        Biller(
            code=POWER,
            name="城西供电公司",
            kind=BillerKind.UTILITY,
            settlement_account=SettlementAccount("示范银行", "城西供电公司", "6222020200111122223"),
            fee_rules=(FeeRule(channel="mobile_banking", kind=FeeKind.FIXED, fixed_fen=30),),
        )
    )
    for config in (bank_config("BANK-POWER"), ChannelConfig("autodebit", merchant_id="AD-POWER")):
        engine.set_channel_config(POWER, config, actor="ops", reason="onboarding")


def _bills(engine: Engine) -> int:
    with engine.uow() as uow:
        biller = uow.billers.get_by_code(POWER)
        assert biller is not None and biller.id is not None
        return len(uow.bills.for_biller(biller.id))


def test_utilities_from_the_arrears_file_to_the_collection_file(
    engine: Engine, clock: FixedClock
) -> None:
    _power(engine)
    # a bad file first: every bad line named, nothing imported
    broken = power_arrears().replace(b"0000023650", b"00000236.5")
    with pytest.raises(ImportFailed) as exc:
        import_arrears(engine, POWER, broken, POWER_LAYOUT, file_name="power.dat")
    assert exc.value.errors == ["line 1: amount: '00000236.5' is not a whole number of fen"]
    assert _bills(engine) == 0
    report = import_arrears(engine, POWER, power_arrears(), POWER_LAYOUT, file_name="power.dat")
    assert (report.created, report.unchanged) == (3, 0)
    again = import_arrears(engine, POWER, power_arrears(), POWER_LAYOUT, file_name="power.dat")
    assert (again.created, again.unchanged) == (0, 3)
    channels = ScenarioChannels(engine, clock)

    # 赵大海 looks up his 户号 in the bank's app: the August bill with 17 days' late fee
    found = lookup(engine, "8800100001", POWER)
    (bill,) = found.bills
    assert (bill.bill_no, bill.status, bill.principal_fen, bill.late_fee_fen) == (
        "202608-8800100001",
        "overdue",
        23_650,
        402,  # 236.50 × 0.1% × 17 days, rounded half up
    )
    assert found.as_dict()["bills"][0]["amount_due"] == "240.52"
    assert found.as_dict()["bills"][0]["payer_name"] == "赵**"
    paid = channels.bank_pay(POWER, [bill.bill_no], "PW-0001", bill.amount_due_fen)
    assert paid.accepted
    assert lookup(engine, "99999", POWER).code is LookupCode.NOT_FOUND

    # a prepaid top-up: any amount within the bounds
    offer_topup(engine, POWER, "8800100002", "202609", min_fen=5_000, max_fen=200_000)
    (topup,) = [b for b in lookup(engine, "8800100002", POWER).bills if b.kind.value == "open"]
    assert (topup.bill_no, topup.open_min_fen, topup.open_max_fen) == (
        "TU-202609-8800100002",
        5_000,
        200_000,
    )
    over = channels.bank_pay(POWER, [topup.bill_no], "PW-TU-0", 300_000)
    assert over.code is PayCode.INVALID
    assert over.message == (
        "amount: 3000.00 is outside 50.00–2000.00 for bill TU-202609-8800100002"
    )
    top = channels.bank_pay(POWER, [topup.bill_no], "PW-TU-1", 30_000)
    assert top.accepted
    while channels.gateway.outbox:
        channels.deliver()
    assert engine.bill(POWER, "TU-202609-8800100002").paid_fen == 30_000

    # 孙建国's mandate: notice today, debited at the start of the due date + 24 h lead
    signed = channels.autodebit.sign(
        POWER, "8800100003", "6222021234500003",
        per_debit_limit_fen=50_000, monthly_limit_fen=100_000, actor="teller",
    )  # fmt: skip
    channels.autodebit.activate(signed.mandate_no, agreement_no="PW-AGR-0003", actor="bank")
    first = channels.autodebit.run_once()
    assert (first.noticed, first.debited) == (1, 0)
    clock.advance(timedelta(hours=24))
    second = channels.autodebit.run_once()
    assert second.debited == 1
    assert engine.bill(POWER, "202608-8800100003").stored_status.value == "paid"
    (debit,) = channels.debit_bank.debited

    # the statements: day 1 by mobile banking, day 2 by auto-debit
    recon = Reconciler(engine)
    day1 = recon.reconcile(
        (
            "流水号,订单号,金额,交易时间,类型,退款单号\n"
            f"PW-0001,{paid.order_no},240.52,2026-09-01 10:00:00,支付,\n"
            f"PW-TU-1,{top.order_no},300.00,2026-09-01 10:00:00,支付,\n"
        ).encode(),
        format="generic-csv",
        business_date=DAY1,
        channel="mobile_banking",
        merchant_id="BANK-POWER",
        column_map=STATEMENT_MAPPING,
    )
    assert (day1.run.matched_count, day1.discrepancies) == (2, [])
    day2 = recon.reconcile(
        (
            "流水号,订单号,金额,交易时间,类型,退款单号\n"
            f"{debit.bank_txn_id},,99.00,2026-09-02 10:01:00,支付,\n"
            "AD-GHOST-1,,12.00,2026-09-02 11:00:00,支付,\n"
        ).encode(),
        format="generic-csv",
        business_date=DAY2,
        channel="autodebit",
        merchant_id="AD-POWER",
        column_map=STATEMENT_MAPPING,
    )
    (ghost,) = day2.discrepancies  # 长款 the bank shows and nobody ordered: kept, not dropped
    assert (ghost.code.value, ghost.source) == ("channel_only", "<bytes>:3")
    assert day2.auto_resolved == []  # no order number: a clerk has to look at it
    assert ghost.message == (
        "the channel took 12.00 for order (none given) in transaction AD-GHOST-1; "
        "the engine has no such payment (长款: the notification was lost?)"
    )

    # settled: both days' payments in one batch of day 2, net of the 0.30 fee per payment
    settler = Settler(engine)
    batch = settler.draft(POWER, DAY2, by="clerk")
    assert (batch.totals.payment_count, batch.totals.gross_fen) == (3, 24_052 + 30_000 + 9_900)
    settler.approve(batch.batch_no, by="supervisor")
    payout = settler.payout_file(batch.batch_no).decode("utf-8-sig").splitlines()
    assert payout[1].startswith(
        f"1,6222020200111122223,城西供电公司,示范银行,{batch.net_fen // 100}."
    )

    # the collection files back to the utility: count, sum and checksum; the same bytes again
    file1 = collection_file_for(engine, POWER, DAY1, POWER_OUT)
    body = (
        "20260901000001880010000120260" + "8-8800100001       0000023650000004020000024052"
        "mobile_banking  PW-0001                         \r\n"
        "20260901000002880010000" + "2TU-202609-8800100002    0000030000000000000000030000"
        "mobile_banking  PW-TU-1                         \r\n"
        "T0000000200000000054052\r\n"
    ).encode("gbk")
    assert file1 == body + f"M{hashlib.md5(body).hexdigest()}\r\n".encode()
    assert collection_file_for(engine, POWER, DAY1, POWER_OUT) == file1
    assert verify_collection_file(file1, POWER_OUT) is None
    file2 = collection_file_for(engine, POWER, DAY2, POWER_OUT).decode("gbk").splitlines()
    assert file2[0].startswith("202609020000018800100003202608-8800100003")
    assert file2[0][48:76] == "0000009900000000000000009900"  # principal, late fee, amount
    assert file2[1] == "T0000000100000000009900"
    assert engine.check_books() == []


def test_the_utilities_scenario_runs_twice_and_the_second_run_changes_nothing(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    start = clock.now()
    first = run_utilities(engine, tmp_path / "one")
    balance, audit = engine.trial_balance(), len(engine.audit_log())
    clock.set(start)
    second = run_utilities(engine, tmp_path / "two")
    assert (first.name, first.billers, first.discrepancies) == ("utilities", 2, 0)
    assert (second.bills, second.paid, second.collected_fen, second.settled_fen) == (
        first.bills,
        first.paid,
        first.collected_fen,
        first.settled_fen,
    )
    assert engine.trial_balance() == balance and len(engine.audit_log()) == audit
    collections = sorted(p for p in first.files if "collections" in p.name)
    assert [p.name for p in collections] == [
        f"{GAS}-collections-20260901.csv",
        f"{GAS}-collections-20260902.csv",
        f"{POWER}-collections-20260901.dat",
        f"{POWER}-collections-20260902.dat",
    ]
    for path in collections:
        assert path.read_bytes() == (tmp_path / "two" / path.name).read_bytes()
    gas = collections[0].read_text("utf-8").splitlines()
    assert gas[:4] == [
        "序号,户号,账单号,本金,滞纳金,实收金额,渠道,渠道流水号,缴费时间",
        "1,5501,G202607-5501,128.60,0.77,129.37,手机银行,GS-0001,2026-09-01 10:00:00",
        "2,5501,G202608-5501,96.40,0.00,96.40,手机银行,GS-0001,2026-09-01 10:00:00",
        "3,5504,TU-202609-5504,300.00,0.00,300.00,手机银行,GS-TOPUP-0001,2026-09-01 10:00:00",
    ]
    assert gas[4] == "合计,3,525.77" and gas[5].startswith("SHA256,")
    assert engine.check_books() == []
