"""A back office to reconcile in: a school taking WeChat Pay and Alipay, orders paid through
the engine's confirm path, and builders of small statement files in each real format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from billfold import Biller, BillerKind, Engine, FeeRule, FixedClock, Order, SettlementAccount
from billfold.channels.base import ChannelEvent, RemoteState, StatusAnswer
from billfold.collection.confirming import ConfirmResult
from billfold.merchants.channel_config import ChannelConfig
from billfold.money import format_yuan
from billfold.settlement.reconciler import Reconciler

DAY = date(2026, 9, 1)
SHANGHAI = ZoneInfo("Asia/Shanghai")
WX_MCH = "1900000109"
ALI_ACCOUNT = "20880211096256330156"


@dataclass
class Desk:
    engine: Engine
    clock: FixedClock
    recon: Reconciler
    serial: int = 0

    def school(self, code: str = "s1") -> None:
        self.engine.create_biller(
            Biller(
                code=code,
                name="第一中学",
                kind=BillerKind.SCHOOL,
                settlement_account=SettlementAccount("工商银行", "第一中学", "6222020200112233"),
                fee_rules=(
                    FeeRule("wechatpay", bps=60, min_fen=1),
                    FeeRule("alipay", bps=60, min_fen=1),
                ),
            )
        )
        self.engine.set_channel_config(
            code, ChannelConfig("wechatpay", merchant_id=WX_MCH), actor="t", reason="setup"
        )
        self.engine.set_channel_config(
            code, ChannelConfig("alipay", merchant_id=ALI_ACCOUNT), actor="t", reason="setup"
        )

    def orders(self, *amounts: str, code: str = "s1") -> list[Order]:
        """One bill and one order per amount (yuan)."""
        rows = []
        for amount in amounts:
            self.serial += 1
            rows.append(f"B{self.serial:04d},2026{self.serial:04d},{amount}")
        self.engine.import_bills(code, ("bill_no,payer_id,amount\n" + "\n".join(rows)).encode())
        first = self.serial - len(amounts) + 1
        return [
            self.engine.create_order(code, [f"B{n:04d}"]) for n in range(first, self.serial + 1)
        ]

    def pay(self, order: Order, txn: str, channel: str = "wechatpay") -> ConfirmResult:
        return self.engine.confirm(channel, txn, order.order_no, order.total_fen)


class ChannelSays:
    """A channel asked about orders (the T+0 requery) that answers every time as told, and
    keeps the questions."""

    def __init__(self, state: RemoteState, event: ChannelEvent | None = None) -> None:
        self.state = state
        self.event = event
        self.asked: list[str] = []

    def query(self, order_no: str) -> StatusAnswer:
        self.asked.append(order_no)
        return StatusAnswer(self.state, self.event)


def local(when: datetime) -> str:
    return when.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


T_PAID = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)

# -- WeChat Pay trade bill -------------------------------------------------------------------

WX_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
WX_SUMMARY = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)


def wx_payment(txn: str, order_no: str, fen: int, fee_fen: int, when: datetime = T_PAID) -> str:
    amount = format_yuan(fen)
    cells = [
        local(when), "wx2421b1c4370ec43b", WX_MCH, "0", "", txn, order_no, "oUpF8uMuAJO_M2p",
        "NATIVE", "SUCCESS", "OTHERS", "CNY", amount, "0.00", "0", "0", "0.00", "0.00", "", "",
        "学费", "", f"{format_yuan(fee_fen)}000", "0.60%", amount, "0.00", "",
    ]  # fmt: skip
    return ",".join("`" + cell for cell in cells)


def wx_refund(
    txn: str, order_no: str, refund_id: str, refund_no: str, fen: int, fee_back: int
) -> str:
    cells = [
        local(T_PAID + timedelta(hours=2)), "wx2421b1c4370ec43b", WX_MCH, "0", "", txn, order_no,
        "oUpF8uMuAJO_M2p", "NATIVE", "REFUND", "OTHERS", "CNY", "0.00", "0.00", refund_id,
        refund_no, format_yuan(fen), "0.00", "ORIGINAL", "SUCCESS", "学费", "",
        f"-{format_yuan(fee_back)}000", "0.60%", "0.00", format_yuan(fen), "",
    ]  # fmt: skip
    return ",".join("`" + cell for cell in cells)


def wx_bill(*rows: str) -> bytes:
    return "\n".join(
        [WX_HEADER, *rows, WX_SUMMARY, "`0,`0.00,`0.00,`0.00,`0.00,`0.00,`0.00"]
    ).encode()


# -- Alipay business detail (业务明细), GBK ---------------------------------------------------

ALI_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def ali_row(
    trade: str, order_no: str, fen: int, fee_fen: int, kind: str = "交易", batch: str = ""
) -> str:
    sign = "-" if kind == "退款" else ""
    amount = sign + format_yuan(fen)
    fee = ("" if kind == "退款" else "-") + format_yuan(fee_fen)
    when = local(T_PAID)
    return (
        f"{trade}\t,{order_no}\t,{kind}\t,学费,{when},{when},\t,\t,\t,\t,"
        f"张*(138****0000)\t,{amount},{amount},0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,"
        f"{batch}\t,{fee},0.00,学费"
    )


def ali_bill(*rows: str) -> bytes:
    text = "\n".join(
        [
            "#支付宝业务明细查询",
            f"#账号：[{ALI_ACCOUNT}]",
            "#起始日期：[2026年09月01日 00:00:00]   终止日期：[2026年09月02日 00:00:00]",
            "#-----------------------------------------业务明细列表----------------------------------------",
            ALI_HEADER,
            *rows,
            "#-----------------------------------------业务明细列表结束------------------------------------",
            "#导出时间：[2026年09月02日 05:46:49]",
            "",
        ]
    )
    return text.encode("gbk")


# -- generic CSV (a bank's own channel: the counter) ---------------------------------------------

CSV_MAP = {
    "columns": {
        "channel_txn_id": "流水号",
        "order_no": "订单号",
        "amount": "金额",
        "occurred_at": "交易时间",
        "status": "状态",
    },
    "status_map": {"成功": "SUCCESS", "失败": "FAILED"},
}


def csv_bill(*rows: tuple[str, str, int, str]) -> bytes:
    lines = ["流水号,订单号,金额,交易时间,状态"]
    lines += [f"{t},{o},{format_yuan(f)},{local(T_PAID)},{s}" for t, o, f, s in rows]
    return ("\n".join(lines) + "\n").encode()


# -- bank statements ---------------------------------------------------------------------------


def camt053(*entries: tuple[str, int, str, str], account: str = "110000123456789") -> bytes:
    """Entries: (bank reference, fen, payer name, remittance text), all credits."""
    ntry = "".join(
        f"""
    <Ntry>
      <Amt Ccy="CNY">{format_yuan(fen)}</Amt>
      <CdtDbtInd>CRDT</CdtDbtInd>
      <Sts>BOOK</Sts>
      <BookgDt><Dt>2026-09-02</Dt></BookgDt>
      <AcctSvcrRef>{ref}</AcctSvcrRef>
      <NtryDtls><TxDtls>
        <RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr></RltdPties>
        <RmtInf><Ustrd>{text}</Ustrd></RmtInf>
      </TxDtls></NtryDtls>
    </Ntry>"""
        for ref, fen, payer, text in entries
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>MSG1</MsgId><CreDtTm>2026-09-02T18:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>STMT-20260902</Id>
      <CreDtTm>2026-09-02T18:00:00</CreDtTm>
      <Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>CNY</Ccy></Acct>{ntry}
    </Stmt>
  </BkToCstmrStmt>
</Document>
""".encode()


def mt940(*entries: tuple[str, int, str], opening: int = 0) -> bytes:
    """Entries: (bank reference, fen, :86: text), all credits booked 2026-09-02."""
    body = []
    total = opening
    for ref, fen, info in entries:
        amount = format_yuan(fen).replace(".", ",")
        body += [f":61:2609020902C{amount}NTRFNONREF//{ref}", f":86:{info}"]
        total += fen
    close = format_yuan(total).replace(".", ",")
    start = format_yuan(opening).replace(".", ",")
    return "\n".join(
        [
            ":20:STMT20260902",
            ":25:110000123456789",
            ":28C:00001/001",
            f":60F:C260901CNY{start}",
            *body,
            f":62F:C260902CNY{close}",
            "-",
            "",
        ]
    ).encode()
