"""``billfold bills|orders|payments|refunds|suspense|audit``: find anything from the command
line — tables with Chinese headers, JSON, CSV/XLSX exports masked unless ``--unmasked``
(which needs a reason and is audited) — and change or cancel bills and orders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from billfold import Biller, BillerKind, Engine
from billfold.adapters.cli.app import app

runner = CliRunner()
BILLS = "bill_no,payer_id,payer_name,amount,due_date\nT1,2024001,张三丰,10.00,2026-01-01\nT2,2024002,李四,25.50,\n"


@pytest.fixture
def url(tmp_path: Path) -> str:
    address = f"sqlite:///{tmp_path / 'b.db'}"
    assert runner.invoke(app, ["db", "upgrade", "--database-url", address]).exit_code == 0
    engine = Engine.from_url(address)
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", BILLS.encode())
    order = engine.create_order("s1", ["T2"])
    engine.confirm("counter", "C-1", order.order_no, order.total_fen)
    engine.confirm("wechatpay", "WX-9", "NO-ORDER", 300)
    engine.close()
    return address


def _run(url: str, *args: str) -> tuple[int, str, str]:
    done = runner.invoke(app, [*args, "--database-url", url])
    return done.exit_code, done.stdout, done.stderr


def test_bills_help_says_what_the_group_does() -> None:
    done = runner.invoke(app, ["bills", "--help"])
    assert done.exit_code == 0
    for word in ("list", "show", "change", "cancel", "import", "audited"):
        assert word in done.stdout


def test_lists_show_chinese_headers_and_labels_and_json_keeps_codes(url: str) -> None:
    code, table, _ = _run(url, "bills", "list")
    assert code == 0 and "账单号" in table and "已逾期" in table and "已缴清" in table
    assert "张三丰" not in table and "张**" in table  # masked on screen
    code, text, _ = _run(url, "bills", "list", "-f", "status=overdue", "--json")
    rows = json.loads(text)["items"]
    assert code == 0 and [r["bill_no"] for r in rows] == ["T1"] and rows[0]["status"] == "overdue"
    assert rows[0]["payer_name"] == "张**"
    for group, word in (
        ("payments", "支付流水"),
        ("refunds", "退款"),
        ("suspense", "订单不存在"),
        ("audit", "操作日志"),
        ("orders", "已支付"),
    ):
        code, out, err = _run(url, group, "list")
        assert code == 0 and word in out, (group, out, err)


def test_an_unknown_filter_or_bad_cursor_exits_1_naming_it(url: str) -> None:
    code, _, err = _run(url, "bills", "list", "-f", "colour=red")
    assert code == 1 and "unknown filter 'colour' for bills" in err
    code, _, err = _run(url, "payments", "list", "--cursor", "abc.def")
    assert code == 1 and "cursor: damaged or not issued" in err
    code, _, err = _run(url, "bills", "list", "-f", "status")
    assert code == 1 and "is not NAME=VALUE" in err


def test_exports_have_a_bom_chinese_headers_and_masked_names_unless_unmasked_with_a_reason(
    url: str, tmp_path: Path
) -> None:
    out = tmp_path / "bills.csv"
    code, _, err = _run(url, "bills", "list", "--out", str(out))
    assert code == 0, err
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("账单号,商户") and "已逾期" in text and "张**" in text
    code, _, err = _run(url, "bills", "list", "--out", str(out), "--unmasked")
    assert code == 1 and "a reason and who asks are required" in err
    code, _, err = _run(
        url, "bills", "list", "--out", str(out), "--unmasked", "--reason", "催缴", "--by", "王老师"
    )
    assert code == 0 and "张三丰" in out.read_bytes().decode("utf-8-sig")
    code, text, _ = _run(url, "audit", "list", "-f", "action=export_unmasked", "--json")
    (entry,) = json.loads(text)["items"]
    assert (entry["actor"], entry["reason"], entry["target_id"]) == ("王老师", "催缴", "bills")
    xlsx = tmp_path / "suspense.xlsx"
    assert _run(url, "suspense", "list", "--out", str(xlsx))[0] == 0
    from openpyxl import load_workbook

    sheet = load_workbook(xlsx).active
    assert (
        sheet is not None and sheet["A1"].value == "支付编号" and sheet["G2"].value == "订单不存在"
    )


def test_bills_show_change_cancel_and_orders_cancel(url: str) -> None:
    code, out, _ = _run(url, "bills", "show", "s1", "T1")
    assert code == 0 and "10.00" in out and "已逾期" in out
    code, _, err = _run(
        url, "bills", "change", "s1", "T1", "--amount", "1.234", "--reason", "r", "--by", "b"
    )
    assert code == 1 and "--amount" in err and "decimals" in err, err
    code, out, err = _run(
        url,
        "bills",
        "change",
        "s1",
        "T1",
        "--amount",
        "12.00",
        "--item",
        "book=3.00=书本费",
        "--due",
        "2026-10-01",
        "--reason",
        "调整",
        "--by",
        "王老师",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["principal_fen"] == 1500 and json.loads(out)["due_date"] == "2026-10-01"
    code, _, err = _run(url, "bills", "cancel", "s1", "T2", "--reason", "r", "--by", "b")
    assert code == 1 and "bill T2 has 25.50 paid; refund it before cancelling" in err
    code, out, err = _run(url, "bills", "cancel", "s1", "T1", "--reason", "退学", "--by", "王老师")
    assert code == 0 and "已作废" in out, err
    code, text, _ = _run(url, "audit", "list", "-f", "target_id=s1/T1", "--json")
    assert [e["action"] for e in json.loads(text)["items"]] == ["cancel", "change"]


def test_orders_show_and_cancel(url: str) -> None:
    engine = Engine.from_url(url)
    engine.import_bills("s1", b"bill_no,payer_id,amount\nT9,2024009,9.00\n")
    order = engine.create_order("s1", ["T9"])
    engine.close()
    code, out, _ = _run(url, "orders", "show", order.order_no)
    assert code == 0 and "待支付" in out
    code, out, err = _run(
        url, "orders", "cancel", order.order_no, "--reason", "重复下单", "--by", "王老师"
    )
    assert code == 0 and "已取消" in out, err
    code, _, err = _run(url, "orders", "cancel", order.order_no, "--reason", "again", "--by", "x")
    assert code == 1 and "is cancelled" in err
    code, out, _ = _run(url, "payments", "show", "1")
    assert code == 0 and "柜台" in out and "已入账" in out
    code, text, _ = _run(url, "refunds", "list", "--json")
    (refund,) = json.loads(text)["items"]
    code, out, _ = _run(url, "refunds", "show", refund["refund_no"])
    assert code == 0 and "挂账退款" in out and "退款中" in out


def test_the_chase_list_shows_and_exports_phones_masked_unless_a_reason_is_audited(
    tmp_path: Path,
) -> None:
    address = f"sqlite:///{tmp_path / 'c.db'}"
    assert runner.invoke(app, ["db", "upgrade", "--database-url", address]).exit_code == 0
    engine = Engine.from_url(address)
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills(
        "s1",
        "账单号,学号,姓名,电话,金额,截止日期,班级\nC1,1,张三,13812345678,10.00,2026-01-01,1班\n".encode(),
    )
    engine.close()
    code, table, _ = _run(address, "bills", "chase", "-f", "overdue=true")
    assert (
        code == 0 and "催缴名单" in table and "138****5678" in table and "13812345678" not in table
    )
    out = tmp_path / "催缴.csv"
    code, _, err = _run(address, "bills", "chase", "--out", str(out), "--unmasked", "--by", "王")
    assert code == 1 and "a reason and who asks are required" in err and not out.exists()
    code, _, _ = _run(
        address, "bills", "chase", "--out", str(out), "--unmasked", "--by", "王", "--reason", "催缴"
    )
    assert code == 0 and "13812345678" in out.read_text("utf-8-sig")
    engine = Engine.from_url(address)
    audited = [a for a in engine.audit_log("list", "chase") if a["action"] == "export_unmasked"]
    engine.close()
    assert [(a["actor"], a["reason"]) for a in audited] == [("王", "催缴")]
