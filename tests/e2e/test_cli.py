"""The billfold command line, run as a user would (typer's runner, a real SQLite file)."""

import json
from pathlib import Path

from demo_files import english_codes, read_cells
from typer.testing import CliRunner

from billfold.adapters.cli.app import app
from billfold.adapters.db import migrate
from billfold.channels import emv

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_db_upgrade_then_billers_and_bill_import(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    code, out, _ = run("db", "upgrade", "--database-url", url)
    assert code == 0 and f"database at revision {migrate.head()}" in out
    code, out, _ = run(
        "billers", "create", "w1", "城东自来水", "--kind", "utility", "--database-url", url
    )
    assert code == 0 and "created biller w1" in out
    good = tmp_path / "arrears.csv"
    good.write_bytes("bill_no,payer_id,amount\nW1,0101,86.40\n".encode("gbk"))
    code, out, _ = run(
        "bills", "import", str(good), "--biller", "w1", "--json", "--database-url", url
    )
    assert code == 0 and json.loads(out)["created"] == 1
    code, out, _ = run("bills", "import", str(good), "--biller", "w1", "--database-url", url)
    assert code == 0 and "0 created, 1 unchanged, 0 rejected" in out


def test_a_bad_file_exits_non_zero_naming_file_line_and_field(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    run("db", "upgrade", "--database-url", url)
    run("billers", "create", "w1", "自来水", "--kind", "utility", "--database-url", url)
    bad = tmp_path / "bad.csv"
    bad.write_text("bill_no,payer_id,amount\nW1,0101,1.234\nW2,0102,5.00\n", encoding="utf-8")
    code, _, err = run("bills", "import", str(bad), "--biller", "w1", "--database-url", url)
    assert code == 1
    assert "bad.csv: 1 line(s) rejected; nothing was imported" in err
    assert "bad.csv: line 2: amount: '1.234' has more than two decimals" in err
    code, _, err = run("bills", "import", str(bad), "--biller", "nobody", "--database-url", url)
    assert code == 1 and "biller 'nobody' does not exist" in err


def test_the_demo_runs_twice_with_the_same_summary(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    code, out, _ = run("demo", "--database-url", url, "--out", str(tmp_path / "out"))
    assert code == 0, out
    first = json.loads((tmp_path / "out" / "demo-summary.json").read_text(encoding="utf-8"))
    code, _, _ = run("demo", "--database-url", url, "--out", str(tmp_path / "out"))
    assert code == 0
    second = json.loads((tmp_path / "out" / "demo-summary.json").read_text(encoding="utf-8"))
    assert first == second
    assert first["books_sound"] is True
    assert first["duplicate_notification_ignored"] is True
    assert first["late_payment"] == "suspense"
    assert first["complaint_resolved_automatically"] == {  # WeChat's notification was lost
        "answer": "credited_on_requery",
        "bill": "paid",
        "bill_no": "W202608-0104",
        "kind": "paid_not_credited",
        "status": "resolved",
    }
    assert "complaint, notification lost: W202608-0104 paid_not_credited → resolved" in out
    school = first["billers"]["demo-school"]
    assert (school["bills"], school["paid_bills"], school["refunded"]) == (5, 4, "1200.00")
    assert sum(int(v.replace(".", "")) for v in first["trial_balance"].values()) == 0


def test_the_demo_pays_through_every_channel_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    for _ in range(2):  # the second run must not pay anything again
        code, out, _ = run("demo", "--database-url", url, "--out", str(tmp_path / "out"))
        assert code == 0, out
    summary = json.loads((tmp_path / "out" / "demo-summary.json").read_text(encoding="utf-8"))
    channels = {name: (row["credited"], row["amount"]) for name, row in summary["channels"].items()}
    assert channels == {  # the whole book: the channel tour, then the four scenario packs
        "alipay": (1, "4880.00"),
        "autodebit": (1, "99.00"),
        "counter": (6, "20265.62"),
        "mobile_banking": (8, "23486.29"),
        "pos": (4, "936472.00"),
        "qr": (3, "895692.50"),
        "wechatpay": (1, "66.00"),
    }
    assert summary["channels"]["counter"]["suspense"] == 1  # the late payment
    assert (
        summary["voice_broadcasts"][0] == "收款 12.50 元"
    )  # the stall; then the packs' QR payments
    assert summary["billers"]["demo-market"]["paid"] == "12.50"
    assert summary["billers"]["demo-college"]["paid_bills"] == 1
    assert summary["pre_debit_notices"] == [
        "W202608-0106 58.20 on 2026-09-02",
        "202608-8800100003 99.00 on 2026-09-02",  # the utilities pack's mandate
    ]
    assert summary["sole_channel_refusal"] == (
        "demo-college collects only through mobile_banking (its designated sole channel); "
        "wechatpay is not accepted"
    )
    stall = emv.decode(summary["stall_code"])  # the static code on the stall's sign
    assert stall.initiation is emv.Initiation.STATIC and stall.amount_fen is None
    assert "payments by channel" in out and "wechatpay" in out


def test_the_demo_runs_the_four_scenario_packs_into_out(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    out_dir = tmp_path / "out"
    code, out, _ = run("demo", "--database-url", url, "--out", str(out_dir))
    assert code == 0, out
    summary = json.loads((out_dir / "demo-summary.json").read_text(encoding="utf-8"))
    packs = {pack["name"]: pack for pack in summary["scenarios"]}
    assert list(packs) == ["campus tuition", "government fees", "presale escrow", "utilities"]
    for pack in packs.values():
        assert pack["bills"] > 0 and pack["collected"] != "0.00", pack
        assert pack["files"], pack
        for name in pack["files"]:  # every file the summary names was written under out/
            assert (out_dir / name).is_file(), name
    assert packs["campus tuition"]["files"][0].startswith("campus/")
    assert any(
        name.startswith("government/receipts/") for name in packs["government fees"]["files"]
    )
    assert any(name.startswith("presale/escrow-") for name in packs["presale escrow"]["files"])
    assert any(name.startswith("utilities/") for name in packs["utilities"]["files"])
    assert "scenario packs: import → pay → reconcile → settle → export" in out
    assert summary["books_sound"] is True
    # every file a person reads shows channels, statuses and discrepancies in Chinese
    assert english_codes(out_dir) == {}
    assert ("row 2 渠道", "手机银行") in read_cells(
        out_dir / "campus" / "demo-campus-2026秋-daily-2026-09-01.csv"
    )


def _squash(text: str) -> str:
    """The text without any white space (the console wraps long lines at its width)."""
    return "".join(text.split())


def test_the_demo_works_the_back_office_day_in_the_open(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    out_dir = tmp_path / "out"
    code, out, _ = run("demo", "--database-url", url, "--out", str(out_dir))
    assert code == 0, out
    flat = _squash(out)
    summary = json.loads((out_dir / "demo-summary.json").read_text(encoding="utf-8"))
    # the water company's daily collection file, in the layout the demo ships
    assert summary["water_collection_file"] == "water/demo-water-collections-20260901.csv"
    water = (out_dir / summary["water_collection_file"]).read_bytes().decode("gbk").splitlines()
    assert water[0] == "序号,入账日期,户号,账单号,水费,违约金,实收金额,缴费渠道,交易流水号,缴费时间"
    assert (
        water[1]
        == "1,20260901,0101001,W202607-0101,86.40,1.64,88.04,柜台,CTR-0101,2026-09-01 10:00:00"
    )
    assert water[-2] == "合计,5,441.62" and water[-1].startswith("MD5,")
    # the bank leg: every promised net arrived, nothing is left in transit
    assert summary["bank_leg"] == {
        "statement": "camt053-20260902.xml",
        "credits": 9,
        "settled": 8,
        "settled_amount": "1846177.29",
        "in_transit": "0.00",
        "discrepancy": {"code": "unexplained_credit", "amount": "0.50", "status": "resolved",
                        "action": "write_off", "by": "对账员 张敏"},
    }  # fmt: skip
    code, transit, _ = run("reconcile", "transit", "--as-of", "2026-09-05", "--json",
                           "--database-url", url)  # fmt: skip
    assert code == 0 and json.loads(transit) == []
    assert _squash("in transit after: 0.00") in flat
    assert (
        _squash("discrepancy #1 unexplained_credit (不明来账)") in flat
        and _squash("→ 待处理") in flat
    )
    assert _squash("→ 已处理: write_off (核销) by 对账员 张敏") in flat
    # a complaint the engine hands to people, worked to the end
    assert summary["complaint_worked"] == {
        "bill_no": "T2026-001", "kind": "charged_twice", "answer": "no_duplicate_found",
        "status": "resolved", "resolved_by": "财务 王芳",
    }  # fmt: skip
    assert _squash("engine answered no_duplicate_found (未查到重复付款，转人工处理)") in flat
    assert (
        _squash("→ assigned to 财务 王芳") in flat
        and _squash("→ resolved (已解决) by 财务 王芳") in flat
    )


def test_bills_import_prints_warnings_and_strict_refuses(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    run("db", "upgrade", "--database-url", url)
    run("billers", "create", "w1", "城东自来水", "--kind", "utility", "--database-url", url)
    messy = tmp_path / "arrears.csv"
    messy.write_text("账单号;户号;金额;备注\nW1;0101;86.40;二月\n", encoding="utf-8")
    code, _, err = run(
        "bills", "import", str(messy), "--biller", "w1", "--strict", "--database-url", url
    )
    assert code == 1
    assert "unknown column(s): 备注" in err
    code, out, _ = run(
        "bills", "import", str(messy), "--biller", "w1", "--json", "--database-url", url
    )
    assert code == 0
    report = json.loads(out)
    assert (report["created"], report["changes"]) == (1, [])
    assert report["warnings"] == [
        "line 1: file: read as semicolon-separated (found in the header)",
        "line 1: header: unknown column(s) ignored: 备注",
    ]
