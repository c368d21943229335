"""``billfold reconcile``, ``settle`` and ``export`` as the back office runs them each morning:
statements in, discrepancies worked, the bank leg, batches approved and paid, reports out."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from openpyxl import load_workbook
from typer.testing import CliRunner

from billfold import Biller, BillerKind, Engine, FeeRule, Order, SettlementAccount
from billfold.adapters.cli.app import app
from billfold.channels.base import (
    ChannelEvent,
    CollectRequest,
    CollectStart,
    EventKind,
    NotificationReply,
    RefundAnswer,
    RemoteState,
    StatusAnswer,
)
from billfold.merchants.channel_config import ChannelConfig
from billfold.money import format_yuan

runner = CliRunner()
HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)


def cli(db_url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database-url", db_url])
    return result.exit_code, result.stdout, result.stderr


def _row(txn: str, order_no: str, fen: int, fee: int) -> str:
    amount = format_yuan(fen)
    cells = [
        "2026-09-01 10:00:00", "wx1", "1900000109", "0", "", txn, order_no, "oUpF8uMuAJO_M2p",
        "NATIVE", "SUCCESS", "OTHERS", "CNY", amount, "0.00", "0", "0", "0.00", "0.00", "", "",
        "学费", "", f"{format_yuan(fee)}000", "0.60%", amount, "0.00", "",
    ]  # fmt: skip
    return ",".join("`" + cell for cell in cells)


def _school(engine: Engine, count: int) -> list[Order]:
    engine.create_biller(
        Biller(
            code="s1",
            name="第一中学",
            kind=BillerKind.SCHOOL,
            settlement_account=SettlementAccount("工商银行", "第一中学", "6222020200112233"),
            fee_rules=(FeeRule("wechatpay", bps=60, min_fen=1),),
        )
    )
    rows = "\n".join(f"B{n},2026{n:04d},100.00" for n in range(count))
    engine.import_bills("s1", f"bill_no,payer_id,amount\n{rows}\n".encode())
    return [engine.create_order("s1", [f"B{n}"]) for n in range(count)]


def _statement(tmp_path: Path, orders: list[Order]) -> Path:
    path = tmp_path / "wx-20260901.csv"
    rows = [_row(f"W{n}", o.order_no, 10000, 60) for n, o in enumerate(orders)]
    path.write_text("\n".join([HEADER, *rows, "总交易单数", "`3"]) + "\n", encoding="utf-8")
    return path


def test_a_morning_in_the_back_office(db_url: str, engine: Engine, tmp_path: Path) -> None:
    orders = _school(engine, 4)
    engine.confirm("wechatpay", "W0", orders[0].order_no, 10000)
    engine.confirm("wechatpay", "W1", orders[1].order_no, 10000)
    engine.confirm("wechatpay", "W3", orders[3].order_no, 10000)
    statement = _statement(tmp_path, orders[:3])  # W2's notification was lost; W3 is missing
    code, out, err = cli(
        db_url, "reconcile", "run", str(statement), "--format", "wechatpay",
        "--date", "2026-09-01", "--by", "clerk-li", "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["matched"], summary["net"], summary["created"]) == (2, "298.20", True)
    codes = {d["code"]: d for d in summary["discrepancies"]}
    assert set(codes) == {"channel_only", "engine_only"}
    assert summary["auto_resolved"] == [codes["channel_only"]["id"]]

    code, out, _ = cli(db_url, "reconcile", "run", str(statement), "-f", "wechatpay",
                       "--date", "2026-09-01")  # fmt: skip
    assert code == 0 and "already reconciled (same file); nothing changed" in out

    code, out, _ = cli(db_url, "reconcile", "discrepancies", "--json")
    (still_open,) = [json.loads(line) for line in out.splitlines()]
    assert still_open["code"] == "engine_only" and still_open["source"] == "engine"
    write_off = (
        "reconcile", "resolve", str(still_open["id"]), "--action", "write-off",
        "--by", "clerk-li", "--reason", "WeChat confirmed W3 never happened",
        "--request-id", "wo-W3",
    )  # fmt: skip
    code, out, err = cli(db_url, *write_off)
    assert code == 0, err  # a write-off waits for a second person (maker-checker)
    assert out.startswith("proposed approval 1 (discrepancy.write_off)")
    code, _, err = cli(db_url, "approvals", "approve", "1", "--by", "clerk-li")
    assert code == 1 and "cli:clerk-li proposed it and may not decide it" in err
    code, out, err = cli(db_url, "approvals", "approve", "1", "--by", "chief-wang")
    assert code == 0, err
    assert "approval 1 (discrepancy.write_off) approved by cli:chief-wang" in out
    code, out, _ = cli(db_url, "reconcile", "discrepancies", "--status", "all", "--json")
    (resolved,) = [d for d in map(json.loads, out.splitlines()) if d["id"] == still_open["id"]]
    assert resolved["resolved_by"] == "clerk-li, checked by cli:chief-wang"
    code, _, err = cli(
        db_url, "reconcile", "resolve", str(still_open["id"]), "--action", "accept",
        "--by", "x", "--reason", "y",
    )  # fmt: skip
    assert code == 1 and "is resolved; only open ones can be resolved" in err

    bank = tmp_path / "bank.940"
    bank.write_text(
        ":20:S1\n:25:110000123456789\n:28C:1/1\n:60F:C260901CNY0,\n"
        ":61:2609020902C298,20NTRFNONREF//BNK1\n:86:TENPAY SETTLEMENT 20260901\n"
        ":62F:C260902CNY298,20\n-\n",
        encoding="utf-8",
    )
    code, out, _ = cli(db_url, "reconcile", "transit", "--as-of", "2026-09-02", "--json")
    assert [(w["channel"], w["amount"], w["age_days"]) for w in json.loads(out)] == [
        ("wechatpay", "298.20", 1)
    ]
    code, out, _ = cli(db_url, "reconcile", "transit", "--as-of", "2026-09-02")
    assert "微信支付" in out and "0-1天" in out and "wechatpay" not in out  # a person reads it
    code, out, err = cli(
        db_url, "reconcile", "bank", str(bank), "-f", "mt940", "--date", "2026-09-02"
    )
    assert code == 0, err
    assert "matched 1 (298.20)" in out
    code, out, _ = cli(db_url, "reconcile", "transit", "--as-of", "2026-09-02")
    assert "in transit as of 2026-09-02: 0.00" in out

    code, out, err = cli(
        db_url, "settle", "profile", "s1", "--by", "ops", "--reason", "分账 agreement",
        "--split", "6222000033334444|食堂|农业银行|10%|餐费",
        "--split", "6222020200112233|第一中学|工商银行|rest",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = cli(db_url, "settle", "draft", "--biller", "s1", "--date", "2026-09-01",
                         "--by", "clerk", "--json")  # fmt: skip
    assert code == 0, err
    batch = json.loads(out)
    # W3 was written off: the operator bears the loss, the school is still paid for it.
    assert (batch["payments"], batch["gross"], batch["net"]) == (4, "400.00", "397.60")
    assert [p["amount"] for p in batch["parts"]] == ["39.76", "357.84"]
    batch_no = batch["batch_no"]
    code, _, err = cli(db_url, "settle", "pay", batch_no, "--by", "cashier", "--out",
                       str(tmp_path / "p.csv"))  # fmt: skip
    assert code == 1 and "is a draft; approve it first" in err
    code, out, _ = cli(db_url, "settle", "approve", batch_no, "--by", "boss")
    assert code == 0 and out.startswith("proposed approval 2 (settlement.approve)")
    code, out, _ = cli(db_url, "approvals", "list")
    assert "结算批次审核" in out and "cli:boss" in out and "1 条" in out
    assert "settlement.approve" not in out and "proposed" not in out  # labels, not codes
    assert cli(db_url, "approvals", "approve", "2", "--by", "auditor")[0] == 0
    payout = tmp_path / "payout.csv"
    code, out, err = cli(db_url, "settle", "pay", batch_no, "--by", "cashier", "--out", str(payout))
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(payout.read_text(encoding="utf-8-sig"))))
    assert [r[1:5] for r in rows[1:]] == [
        ["6222000033334444", "食堂", "农业银行", "39.76"],
        ["6222020200112233", "第一中学", "工商银行", "357.84"],
    ]
    assert cli(db_url, "settle", "confirm", batch_no, "--by", "cashier")[0] == 0
    code, out, _ = cli(db_url, "settle", "list", "--date", "2026-09-01")
    assert "397.60" in out and "已确认" in out and "confirmed" not in out  # the complaint
    code, out, _ = cli(db_url, "settle", "show", batch_no, "--json")
    assert json.loads(out)["status"] == "confirmed"
    assert engine.check_books() == []

    xlsx = tmp_path / "recon.xlsx"
    assert cli(db_url, "export", "recon", "--date", "2026-09-01", "--out", str(xlsx))[0] == 0
    rows_x = list(load_workbook(xlsx).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows_x[-1][0] == "合计" and len(rows_x) == 3
    listing = tmp_path / "discrepancies.csv"
    assert cli(db_url, "export", "discrepancies", "--out", str(listing))[0] == 0
    text = listing.read_bytes()
    assert text.startswith(b"\xef\xbb\xbf") and len(text.decode("utf-8-sig").splitlines()) == 3
    report = tmp_path / "settlement.csv"
    assert cli(db_url, "export", "settlement", "--out", str(report))[0] == 0
    body = report.read_text(encoding="utf-8-sig")
    assert "************4444" in body and "6222000033334444" not in body


def test_bad_input_is_refused_by_name(db_url: str, engine: Engine, tmp_path: Path) -> None:
    statement = _statement(tmp_path, [])
    code, _, err = cli(
        db_url, "reconcile", "run", str(statement), "-f", "excel", "--date", "2026-09-01"
    )
    assert code == 2 and "--format: unknown format 'excel'" in err
    code, _, err = cli(
        db_url, "reconcile", "run", str(statement), "-f", "wechatpay", "--date", "9/1"
    )
    assert code == 2 and "--date: '9/1' is not a date like 2026-09-01" in err
    code, _, err = cli(db_url, "reconcile", "run", str(statement), "-f", "wechatpay",
                       "--date", "2026-09-01", "--merchant", "NOPE")  # fmt: skip
    assert code == 1 and "merchant: no biller takes wechatpay under merchant id 'NOPE'" in err
    code, _, err = cli(db_url, "reconcile", "resolve", "1", "--action", "shrug", "--by", "a",
                       "--reason", "b")  # fmt: skip
    assert code == 2 and "--action: unknown action 'shrug'" in err
    code, _, err = cli(db_url, "export", "recon", "--out", str(tmp_path / "r.xls"))
    assert code == 2 and "out: 'r.xls' must end in .csv or .xlsx" in err
    code, _, err = cli(db_url, "settle", "approve", "ST-NOPE", "--by", "boss")
    assert code == 1 and "settlement batch 'ST-NOPE' does not exist" in err
    code, _, err = cli(db_url, "settle", "profile", "s1", "--by", "a", "--reason", "b",
                       "--split", "1|a|b|33.333%")  # fmt: skip
    assert code == 1 and "--split: '33.333%' has more than two decimals" in err
    code, _, err = cli(db_url, "reconcile", "requery")
    assert code == 2 and "--channels: say where the channels come from" in err


class _AnswersPaid:
    """A channel whose far end says every order was paid (its notification was lost)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def name(self) -> str:
        return "kiosk"

    def start(self, request: CollectRequest) -> CollectStart:
        return CollectStart("kiosk", request.order_no, "scan_qr")

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelEvent:
        raise NotImplementedError

    def query(self, order_no: str) -> StatusAnswer:
        order = self.engine.order(order_no)
        event = ChannelEvent(
            "kiosk", EventKind.PAID, order_no, f"K-{order_no}", order.total_fen,
            order.created_at + timedelta(minutes=1),
        )  # fmt: skip
        return StatusAnswer(RemoteState.PAID, event)

    def refund(
        self, refund_no: str, order_no: str, channel_txn_id: str, amount_fen: int, total_fen: int
    ) -> RefundAnswer:
        return RefundAnswer(True, refund_no)

    def close(self, order_no: str) -> bool:
        return True

    def reply(self, accepted: bool, message: str = "") -> NotificationReply:
        return NotificationReply(200, "text/plain", b"ok")


def kiosk_channels(engine: Engine) -> dict[str, _AnswersPaid]:
    return {"kiosk": _AnswersPaid(engine)}


def test_requery_settles_orders_stuck_in_paying_the_same_day(db_url: str, engine: Engine) -> None:
    orders = _school(engine, 2)
    engine.start_payment(orders[0].order_no, "kiosk")
    code, out, err = cli(db_url, "reconcile", "requery", "--channels",
                         "test_cli_reconcile:kiosk_channels", "--older-than", "5")  # fmt: skip
    assert code == 0, err
    assert f"{orders[0].order_no}: kiosk K-{orders[0].order_no} 100.00 credited" in out
    assert "1 orders settled by requery" in out
    assert engine.order(orders[1].order_no).status.value == "created"
    code, out, _ = cli(db_url, "reconcile", "requery", "--channels",
                       "test_cli_reconcile:kiosk_channels")  # fmt: skip
    assert "0 orders settled by requery" in out
    code, _, err = cli(db_url, "reconcile", "requery", "--channels", "nowhere:x")
    assert code == 1 and "--channels: cannot load 'nowhere:x'" in err


class _WeChatSays:
    """WeChat Pay's far end, asked about an order: it answers as told (the T+0 requery)."""

    answer = RemoteState.NOT_FOUND

    def query(self, order_no: str) -> StatusAnswer:
        return StatusAnswer(self.answer)


def wechat_paid(engine: Engine) -> dict[str, object]:
    says = _WeChatSays()
    says.answer = RemoteState.PAID
    return {"wechatpay": says}


def wechat_never_heard_of_it(engine: Engine) -> dict[str, object]:
    return {"wechatpay": _WeChatSays()}


def test_a_shortage_is_reversed_only_after_the_channel_says_it_never_happened(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    orders = _school(engine, 2)
    engine.confirm("wechatpay", "W0", orders[0].order_no, 10000)
    engine.confirm("wechatpay", "W1", orders[1].order_no, 10000)
    statement = _statement(tmp_path, orders[:1])
    assert cli(db_url, "reconcile", "run", str(statement), "-f", "wechatpay",
               "--date", "2026-09-01")[0] == 0  # fmt: skip
    code, out, _ = cli(db_url, "reconcile", "discrepancies", "--json")
    (missing,) = [json.loads(line) for line in out.splitlines()]
    assert missing["code"] == "engine_only" and missing["advised"] == ["write_off", "accept"]
    ident = str(missing["id"])
    resolve = ("reconcile", "resolve", ident, "--action", "reverse", "--by", "clerk",
               "--reason", "not on the statement")  # fmt: skip
    code, _, err = cli(db_url, *resolve)
    assert code == 1 and "冲正前须先向渠道查询 (ask the channel first)" in err
    code, out, err = cli(db_url, "reconcile", "ask", ident, "--by", "clerk",
                         "--channels", "test_cli_reconcile:wechat_paid")  # fmt: skip
    assert code == 0, err
    assert "wechatpay answered paid (confirms); advised: write_off, accept" in out
    code, _, err = cli(db_url, *resolve)
    assert code == 1 and "渠道确认该笔支付存在，不能冲正" in err
    assert engine.order(orders[1].order_no).status.value == "paid"
    code, out, err = cli(db_url, "reconcile", "ask", ident, "--by", "clerk",
                         "--channels", "test_cli_reconcile:wechat_never_heard_of_it")  # fmt: skip
    assert "answered not_found (denies); advised: reverse, write_off, accept" in out
    code, out, err = cli(db_url, *resolve)
    assert code == 0, err
    assert engine.order(orders[1].order_no).status.value == "reversed"


def test_a_statement_of_one_biller_on_a_shared_channel_needs_its_merchant(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    for code, merchant in (("school", "BANK-MINGDE"), ("water", "BANK-WATER")):
        engine.create_biller(Biller(code=code, name=code, kind=BillerKind.UTILITY))
        engine.set_channel_config(
            code, ChannelConfig("mobile_banking", merchant_id=merchant), actor="t", reason="t"
        )
        engine.import_bills(code, b"bill_no,payer_id,amount\nB1,P1,4000.00\n")
        order = engine.create_order(code, ["B1"])
        engine.confirm("mobile_banking", f"MB-{code}", order.order_no, order.total_fen)
        if code == "school":
            school_order = order.order_no
    statement = tmp_path / "mb.csv"
    statement.write_text(
        f"流水号,订单号,金额,交易时间\nMB-school,{school_order},4000.00,2026-09-01 10:00:00\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"columns": {"channel_txn_id": "流水号", "order_no": "订单号",
                       "amount": "金额", "occurred_at": "交易时间"}}), encoding="utf-8")  # fmt: skip
    run = ("reconcile", "run", str(statement), "-f", "generic-csv", "--mapping", str(mapping),
           "--channel", "mobile_banking", "--date", "2026-09-01")  # fmt: skip
    code, out, err = cli(db_url, *run)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(
        "error: merchant: 对账范围不明确 (ambiguous scope): the statement names no"
    )
    code, out, _ = cli(db_url, "reconcile", "runs")
    assert "channel/" not in out
    code, out, err = cli(db_url, *run, "--merchant", "BANK-MINGDE", "--json")
    assert code == 0, err
    assert json.loads(out)["discrepancies"] == []
