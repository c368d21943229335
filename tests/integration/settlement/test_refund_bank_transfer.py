"""Refunds the channel can never pay back go by bank transfer: recorded, approved by a second
person, filed for the bank, confirmed from the bank statement or by hand — journalled at each
step, exactly once, on SQLite and PostgreSQL. The sandbox refuses as the real channels do."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import queues
from billfold.channels.base import Decline
from billfold.channels.collect import Collector
from billfold.channels.secrets import DictSecrets
from billfold.channels.wechatpay import WechatPayChannel
from billfold.clock import FixedClock
from billfold.collection.journal import REFUND_TRANSFERS_IN_TRANSIT, REFUNDS_PAYABLE
from billfold.collection.refund import RefundStatus
from billfold.collection.refund_transfer import PayeeAccount, TransferReason, TransferStage
from billfold.collection.refund_transferring import TransferConfirmation
from billfold.errors import InvalidInput, InvalidTransition, NotFound
from billfold.settlement.reconciler import Reconciler
from billfold.settlement.refund_transfer_desk import RefundTransferDesk
from billfold.testing.sandbox.gateway import SandboxGateway
from billfold.testing.sandbox.wechatpay import SandboxWechatMerchant, SandboxWechatPay

BILLS = b"bill_no,payer_id,amount\nT1,2024001,10.00\nT2,2024002,25.50\n"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
PAYEE = PayeeAccount("张三丰", "6222 0202 0011 2233 445", "工商银行北京分行")


@pytest.fixture(scope="module")
def merchant() -> SandboxWechatMerchant:
    return SandboxWechatMerchant.generate("1230000109", "wxd678efh567hg6787")


@dataclass
class Shop:
    engine: Engine
    clock: FixedClock
    gateway: SandboxGateway
    collector: Collector
    desk: RefundTransferDesk

    def paid_refund(self, bill_no: str = "T2", amount_fen: int = 550) -> str:
        order = self.engine.create_order("s1", [bill_no])
        self.collector.start(order.order_no, "wechatpay", payer_ref=OPENID)
        self.gateway.pay("wechatpay", order.order_no)
        (paid,) = [self.collector.notify(d.channel, d.headers, d.body) for d in self.gateway.due()]
        assert paid is not None
        refund = self.engine.refund(
            paid.payment.id, amount_fen, request_id=f"R-{bill_no}", reason="多缴", requested_by="c"
        )
        return refund.refund_no

    def order_of(self, refund_no: str) -> str:
        with self.engine.uow() as uow:
            refund = uow.refunds.get_by_no(refund_no)
            assert refund is not None
            payment = uow.payments.get(refund.payment_id)
            assert payment is not None
            return payment.order_no

    def counts(self) -> dict[str, object]:
        with self.engine.uow() as uow:
            rows = {
                table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (t.journal_postings, t.refunds, t.audit_log, t.outbox_events)
            }
            statuses = uow.conn.execute(select(t.refunds.c.refund_no, t.refunds.c.status)).all()
        return {**rows, "statuses": sorted(statuses), "balance": self.engine.trial_balance()}


@pytest.fixture
def shop(engine: Engine, clock: FixedClock, merchant: SandboxWechatMerchant) -> Shop:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", BILLS)
    engine.set_channel_config("s1", merchant.config(), actor="ops", reason="onboarding")
    gateway = SandboxGateway(clock, seed=7)
    sandbox = SandboxWechatPay(gateway, [merchant])
    channel = WechatPayChannel(
        DictSecrets(merchant.secrets()), engine, clock, sandbox, notify_url="https://p.example/n"
    )
    collector = Collector(engine, {"wechatpay": channel})
    return Shop(engine, clock, gateway, collector, RefundTransferDesk(engine))


def _status(shop: Shop, refund_no: str) -> RefundStatus:
    with shop.engine.uow() as uow:
        refund = uow.refunds.get_by_no(refund_no)
    assert refund is not None
    return refund.status


def test_a_refund_past_the_wechatpay_window_needs_a_bank_transfer(shop: Shop) -> None:
    refund_no = shop.paid_refund()
    shop.clock.advance(timedelta(days=366))
    (payout,) = shop.collector.pay_out_refunds()
    assert not payout.succeeded and "超过一年" in payout.message
    transfer = shop.desk.get(refund_no)
    assert transfer.reason is TransferReason.WINDOW_CLOSED
    assert transfer.stage is TransferStage.AWAITING_PAYEE
    assert _status(shop, refund_no) is RefundStatus.NEEDS_TRANSFER
    assert shop.collector.pay_out_refunds() == []  # not sent to the channel again
    assert shop.engine.trial_balance()[REFUNDS_PAYABLE] == -550  # the money waits there


def test_a_closed_wechat_account_needs_a_bank_transfer(shop: Shop) -> None:
    refund_no = shop.paid_refund()
    shop.gateway.refuse_refunds("wechatpay", shop.order_of(refund_no), Decline.ACCOUNT_CLOSED)
    (payout,) = shop.collector.pay_out_refunds()
    assert payout.message.startswith("USER_ACCOUNT_ABNORMAL")
    assert shop.desk.get(refund_no).reason is TransferReason.ACCOUNT_CLOSED


def test_a_cancelled_card_reported_in_a_refund_abnormal_notification_needs_a_transfer(
    shop: Shop,
) -> None:
    refund_no = shop.paid_refund()
    shop.gateway.refuse_refunds("wechatpay", shop.order_of(refund_no), Decline.CARD_CANCELLED)
    (payout,) = shop.collector.pay_out_refunds()
    assert payout.succeeded  # accepted (PROCESSING) …
    assert _status(shop, refund_no) is RefundStatus.PENDING
    for delivery in shop.gateway.due():  # … then REFUND.ABNORMAL
        shop.collector.notify(delivery.channel, delivery.headers, delivery.body)
    assert shop.desk.get(refund_no).reason is TransferReason.CARD_CANCELLED
    assert _status(shop, refund_no) is RefundStatus.NEEDS_TRANSFER


def _needs_transfer(shop: Shop, bill_no: str = "T2", amount_fen: int = 550) -> str:
    refund_no = shop.paid_refund(bill_no, amount_fen)
    shop.gateway.refuse_refunds("wechatpay", shop.order_of(refund_no), Decline.ACCOUNT_CLOSED)
    shop.collector.pay_out_refunds()
    return refund_no


def camt_debit(ref: str, fen: int, text: str) -> bytes:
    amount = f"{fen // 100}.{fen % 100:02d}"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>MSG1</MsgId><CreDtTm>2026-09-02T18:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>STMT-20260902</Id>
      <CreDtTm>2026-09-02T18:00:00</CreDtTm>
      <Acct><Id><Othr><Id>110000123456789</Id></Othr></Id><Ccy>CNY</Ccy></Acct>
      <Ntry>
        <Amt Ccy="CNY">{amount}</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2026-09-02</Dt></BookgDt>
        <AcctSvcrRef>{ref}</AcctSvcrRef>
        <NtryDtls><TxDtls>
          <RltdPties><Cdtr><Nm>张三丰</Nm></Cdtr></RltdPties>
          <RmtInf><Ustrd>{text}</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
""".encode()


def test_record_approve_file_and_confirm_from_the_bank_statement(shop: Shop) -> None:
    refund_no = _needs_transfer(shop)
    recorded = shop.desk.record_payee(refund_no, PAYEE, by="clerk-li")
    assert recorded.stage is TransferStage.AWAITING_APPROVAL
    assert recorded.masked()["payee"] == {
        "name": "张**",
        "account": "***************3445",
        "bank": "工商银行北京分行",
    }
    audit = shop.engine.audit_log("refund", refund_no)
    assert "6222020200112233445" not in json.dumps(audit, ensure_ascii=False, default=str)
    approved = shop.desk.approve(refund_no, checker="supervisor-wang")
    assert approved.stage is TransferStage.READY

    made = shop.desk.file(by="clerk-li")
    text = made.content.decode("utf-8-sig")
    assert made.content.startswith(b"\xef\xbb\xbf") and made.count == 1
    lines = text.splitlines()
    assert lines[0] == "序号,收款账号,收款户名,收款银行,金额,用途,业务参考号"
    assert (
        lines[1]
        == f"1,6222020200112233445,张三丰,工商银行北京分行,5.50,退款 {refund_no},{refund_no}"
    )
    assert lines[2] == f"合计,,,,5.50,1笔,{made.file_no}"
    assert shop.desk.file_again(made.file_no).content == made.content
    assert shop.desk.file_again(made.file_no, encoding="gbk").content.decode("gbk") == text
    assert _status(shop, refund_no) is RefundStatus.IN_TRANSFER
    balance = shop.engine.trial_balance()
    assert balance[REFUND_TRANSFERS_IN_TRANSIT] == -550 and balance[REFUNDS_PAYABLE] == 0

    recon = Reconciler(shop.engine)
    statement = camt_debit("BK77", 550, f"退款 {refund_no}")
    recon.reconcile_bank(
        statement, format="camt053", business_date=date(2027, 9, 2), file_name="b.xml"
    )
    done = shop.desk.get(refund_no)
    assert done.stage is TransferStage.PAID and done.statement_ref == "BK77"
    assert _status(shop, refund_no) is RefundStatus.SUCCEEDED
    balance = shop.engine.trial_balance()
    assert balance[REFUND_TRANSFERS_IN_TRANSIT] == 0 and balance["bank:collection"] == -550
    assert shop.engine.check_books() == []
    before = shop.counts()
    corrected = statement.replace(b"MSG1", b"MSG2")  # a corrected statement: run again
    recon.reconcile_bank(
        corrected, format="camt053", business_date=date(2027, 9, 2), file_name="b2.xml"
    )
    after = shop.counts()
    assert after["balance"] == before["balance"] and after["statuses"] == before["statuses"]


def test_the_maker_cannot_approve_and_nothing_changes(shop: Shop) -> None:
    refund_no = _needs_transfer(shop)
    shop.desk.record_payee(refund_no, PAYEE, by="clerk-li")
    before = shop.counts()
    with pytest.raises(InvalidTransition, match="clerk-li recorded the payee; a second person"):
        shop.desk.approve(refund_no, checker="clerk-li")
    with pytest.raises(InvalidTransition, match="no approved bank-transfer refund"):
        shop.desk.file(by="clerk-li")
    assert shop.counts() == before


def test_the_database_refuses_an_approval_by_the_maker(shop: Shop) -> None:
    refund_no = _needs_transfer(shop)
    shop.desk.record_payee(refund_no, PAYEE, by="clerk-li")
    with shop.engine.uow() as uow, pytest.raises(IntegrityError, match="(?i)check"):
        uow.conn.execute(queues.refund_transfers.update().values(approved_by="clerk-li"))


@pytest.mark.parametrize(
    ("name", "account", "bank", "message"),
    [
        ("张", "6222020200112233445", "工商银行", "payee name: 2-60 characters"),
        ("张三", "6222-ABC", "工商银行", "account: ***2ABC is not a bank account number"),
        ("张三", "1234567", "工商银行", "is not a bank account number (8-32 digits)"),
        ("张三", "6222020200112233445", "", "bank: the payee's bank"),
    ],
)
def test_a_bad_payee_is_refused_naming_the_field(
    name: str, account: str, bank: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        PayeeAccount(name, account, bank)


def test_confirm_by_hand_needs_a_reason_and_a_filed_transfer(shop: Shop) -> None:
    refund_no = _needs_transfer(shop)
    with pytest.raises(InvalidInput, match="reason: say how you know the bank paid it"):
        TransferConfirmation("clerk-li", " ")
    before = shop.counts()
    with pytest.raises(InvalidTransition, match="only a transfer in a file can be confirmed"):
        shop.desk.confirm(refund_no, TransferConfirmation("clerk-li", "网银回单"))
    with pytest.raises(NotFound, match="is not waiting for a bank transfer"):
        shop.desk.confirm("RF-NOPE", TransferConfirmation("clerk-li", "网银回单"))
    assert shop.counts() == before
    shop.desk.record_payee(refund_no, PAYEE, by="clerk-li")
    shop.desk.approve(refund_no, checker="supervisor-wang")
    shop.desk.file(by="clerk-li", encoding="gbk")
    done = shop.desk.confirm(refund_no, TransferConfirmation("clerk-li", "网银回单 0031"))
    assert done.stage is TransferStage.PAID and done.confirm_reason == "网银回单 0031"
    again = shop.counts()
    shop.desk.confirm(refund_no, TransferConfirmation("clerk-li", "网银回单 0031"))
    assert shop.counts() == again  # exactly once
    assert shop.engine.check_books() == []


def test_a_file_names_a_refund_that_is_not_ready_and_changes_nothing(shop: Shop) -> None:
    ready = _needs_transfer(shop)
    shop.desk.record_payee(ready, PAYEE, by="clerk-li")
    shop.desk.approve(ready, checker="supervisor-wang")
    waiting = _needs_transfer(shop, "T1", 1000)
    before = shop.counts()
    with pytest.raises(InvalidTransition, match=f"refund {waiting} is not an approved"):
        shop.desk.file(by="clerk-li", refund_nos=[ready, waiting])
    with pytest.raises(InvalidInput, match="encoding: 'latin-1'; use utf-8-sig or gbk"):
        shop.desk.file(by="clerk-li", encoding="latin-1")
    assert shop.counts() == before
    listed = shop.desk.transfers(stage=TransferStage.AWAITING_PAYEE)
    assert [x.refund_no for x in listed] == [waiting]


def test_a_reversal_cancels_a_transfer_not_yet_filed_and_is_refused_once_filed(
    shop: Shop,
) -> None:
    engine, desk = shop.engine, shop.desk
    waiting = engine.confirm("unionpay", "U1", "NO-SUCH-ORDER", 1234).payment
    filed = engine.confirm("unionpay", "U2", "NO-SUCH-ORDER-2", 777).payment
    for payment in (waiting, filed):
        (refund,) = [r for r in engine.pending_refunds() if r.payment_id == payment.id]
        engine.refund_needs_transfer(refund.refund_no, TransferReason.ACCOUNT_CLOSED, "closed")
        if payment is filed:
            desk.record_payee(refund.refund_no, PAYEE, by="clerk-li")
            desk.approve(refund.refund_no, checker="supervisor-wang")
            desk.file(by="clerk-li")
    engine.reverse("unionpay", "U1", reason="冲正", requested_by="ops")
    (cancelled,) = [t for t in desk.transfers() if t.payment_id == waiting.id]
    assert cancelled.stage is TransferStage.CANCELLED
    before = shop.counts()
    with pytest.raises(InvalidTransition, match="has refunds; refund the rest"):
        engine.reverse("unionpay", "U2", reason="冲正", requested_by="ops")
    assert shop.counts() == before
    assert engine.check_books() == []


def mt940_debit(ref: str, fen: int, info: str) -> bytes:
    amount = f"{fen // 100},{fen % 100:02d}"
    return "\n".join(
        [
            ":20:STMT20260902",
            ":25:110000123456789",
            ":28C:00001/001",
            f":60F:C260901CNY{amount}",
            f":61:2609020902D{amount}NTRFNONREF//{ref}",
            f":86:{info}",
            ":62F:C260902CNY0,00",
            "-",
            "",
        ]
    ).encode()


def test_an_mt940_debit_carrying_the_refund_number_confirms_the_transfer(shop: Shop) -> None:
    refund_no = _needs_transfer(shop)
    shop.desk.record_payee(refund_no, PAYEE, by="clerk-li")
    shop.desk.approve(refund_no, checker="supervisor-wang")
    shop.desk.file(by="clerk-li")
    recon = Reconciler(shop.engine)
    other = mt940_debit("BK1", 551, f"REFUND {refund_no}")  # another amount: not this one
    recon.reconcile_bank(other, format="mt940", business_date=date(2027, 9, 2))
    assert shop.desk.get(refund_no).stage is TransferStage.IN_FILE
    paid = mt940_debit("BK2", 550, f"REFUND {refund_no}")
    recon.reconcile_bank(paid, format="mt940", business_date=date(2027, 9, 3))
    done = shop.desk.get(refund_no)
    assert done.stage is TransferStage.PAID and done.confirm_reason is not None
    assert "line" in done.confirm_reason and shop.engine.check_books() == []
