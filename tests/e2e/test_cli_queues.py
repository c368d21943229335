"""``billfold complaints …`` and ``billfold refunds bank-transfer …`` end to end on a file
database: Chinese tables, masked payees, clear one-line errors that change nothing."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from billfold import Biller, BillerKind, Engine
from billfold.adapters.cli.app import app

runner = CliRunner()


def _db(tmp_path: Path) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    assert runner.invoke(app, ["db", "upgrade", "--database-url", url]).exit_code == 0
    engine = Engine.from_url(url)
    engine.create_biller(Biller(code="hk1", name="出入境管理", kind=BillerKind.GOVERNMENT))
    engine.import_bills("hk1", b"bill_no,payer_id,amount\nH1,110101,350.00\nH2,110102,80.00\n")
    order = engine.create_order("hk1", ["H1"])
    paid = engine.confirm("counter", "R-1", order.order_no, order.total_fen)
    refund = engine.refund(paid.payment.id, 5_000, request_id="r1", reason="多收", requested_by="s")
    engine.close()
    return url, refund.refund_no


def run(*args: str) -> tuple[int, str, str]:
    done = runner.invoke(app, list(args))
    return done.exit_code, done.stdout, done.stderr


def test_a_refund_by_bank_transfer_from_the_command_line(tmp_path: Path) -> None:
    url, refund_no = _db(tmp_path)
    db = ("--database-url", url)
    bt = ("refunds", "bank-transfer")
    code, text, _ = run(
        *bt, "fall-back", refund_no, "--reason", "卡已注销", "--by", "clerk-li", *db
    )
    assert code == 0 and "待登记收款账户" in text, text
    code, text, _ = run(
        *bt, "record", refund_no, "--name", "张三丰", "--account", "6222020200112233445",
        "--bank", "工商银行北京分行", "--by", "clerk-li", *db,
    )  # fmt: skip
    assert code == 0 and "张** ***************3445" in text and "6222020200112233445" not in text
    code, _, err = run(*bt, "approve", refund_no, "--by", "clerk-li", *db)
    assert code == 1 and err.startswith("error: ") and "a second person must approve" in err
    assert run(*bt, "approve", refund_no, "--by", "boss-wang", *db)[0] == 0
    csv = tmp_path / "transfer.csv"
    code, text, _ = run(*bt, "file", "--out", str(csv), "--by", "clerk-li", *db)
    assert code == 0 and "1 refunds, 50.00 in total" in text, text
    assert "6222020200112233445,张三丰" in csv.read_bytes().decode("utf-8-sig")
    code, text, _ = run(*bt, "list", "--json", *db)
    (row,) = json.loads(text)
    assert row["stage"] == "in_file" and row["payee"]["account"] == "***************3445"
    code, text, _ = run(*bt, "confirm", refund_no, "--reason", "网银回单", "--by", "clerk-li", *db)
    assert code == 0 and "已转账" in text
    code, text, _ = run(*bt, "list", *db)
    assert "退款单号" in text and "已转账" in text
    engine = Engine.from_url(url)
    assert engine.check_books() == []
    engine.close()


def test_bad_bank_transfer_input_is_one_clear_line(tmp_path: Path) -> None:
    url, refund_no = _db(tmp_path)
    db = ("--database-url", url)
    bt = ("refunds", "bank-transfer")
    code, _, err = run(*bt, "list", "--stage", "lost", *db)
    assert code == 1 and "--stage: 'lost'; use awaiting_payee" in err
    code, _, err = run(*bt, "show", refund_no, *db)
    assert code == 1 and f"refund {refund_no!r} is not waiting for a bank transfer" in err
    run(*bt, "fall-back", refund_no, "--reason", "卡已注销", "--by", "c", *db)
    code, _, err = run(
        *bt,
        "record",
        refund_no,
        "--name",
        "张三",
        "--account",
        "12",
        "--bank",
        "工行",
        "--by",
        "c",
        *db,
    )
    assert code == 1 and "account: ** is not a bank account number" in err
    code, _, err = run(*bt, "file", "--out", str(tmp_path / "x.csv"), "--by", "c", *db)
    assert code == 1 and "no approved bank-transfer refund" in err
    assert not (tmp_path / "x.csv").exists()


def test_complaints_from_the_command_line(tmp_path: Path) -> None:
    url, _ = _db(tmp_path)
    db = ("--database-url", url)
    code, text, err = run(
        "complaints", "open", "--biller", "hk1", "--kind", "wrong_amount", "--bill", "H2",
        "--by", "clerk-li", "--ref", "4200001", "--json", *db,
    )  # fmt: skip
    assert code == 0, err
    number = json.loads(text)["complaint_no"]
    code, text, _ = run("complaints", "list", *db)
    assert "投诉编号" in text and "金额不符" in text and "待处理" in text
    assert run("complaints", "assign", number, "--to", "clerk-zhao", "--by", "boss", *db)[0] == 0
    code, text, _ = run("complaints", "resolve", number, "--resolution", "已核实", "--by", "z", *db)
    assert code == 0 and "已解决" in text and "已核实" in text
    code, text, _ = run("complaints", "reopen", number, "--reason", "仍有疑问", "--by", "p", *db)
    assert "重新受理" in text
    code, text, _ = run("complaints", "reject", number, "--reason", "重复", "--by", "boss", *db)
    assert "已驳回" in text
    code, text, _ = run("complaints", "show", number, "--json", *db)
    assert json.loads(text)["status"] == "rejected"
    code, text, _ = run("complaints", "tat", "--biller", "hk1", "--kind", "other", "--hours", "8",
                        "--by", "admin", "--reason", "合同", *db)  # fmt: skip
    assert code == 0 and "其他问题" in text and "8" in text
    code, text, _ = run("complaints", "list", "--overdue", "--json", *db)
    assert json.loads(text) == []


def test_bad_complaints_are_one_clear_line_and_change_nothing(tmp_path: Path) -> None:
    url, _ = _db(tmp_path)
    db = ("--database-url", url)
    code, _, err = run(
        "complaints", "open", "--biller", "hk1", "--kind", "late", "--bill", "H2", "--by", "c", *db
    )
    assert code == 1 and "kind: 'late' is not a complaint kind" in err
    code, _, err = run("complaints", "open", "--biller", "hk1", "--kind", "other", "--by", "c", *db)
    assert code == 1 and "name the bill, order or payment" in err
    code, _, err = run("complaints", "list", "--status", "done", *db)
    assert code == 1 and "--status: 'done'" in err
    code, _, err = run("complaints", "show", "CP-NOPE", *db)
    assert code == 1 and "complaint 'CP-NOPE' does not exist" in err
    code, text, _ = run("complaints", "list", "--json", *db)
    assert json.loads(text) == []
