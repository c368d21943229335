"""``billfold campus`` and ``billfold utility`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from billfold.adapters.cli import campus as cli_campus
from billfold.adapters.cli import utility as cli_utility
from billfold.demo.campus_utility import FEES_CSV, GAS_ARREARS, ROSTER_CSV
from billfold.engine import Engine
from billfold.logging import configure_logging
from billfold.merchants.biller import Biller, BillerKind

runner = CliRunner()
# as billfold.adapters.cli.app mounts them (the lead adds them to its SUBAPPS)
main = typer.Typer()
main.add_typer(cli_campus.app, name="campus")
main.add_typer(cli_utility.app, name="utility")


@main.callback()
def _logging() -> None:
    configure_logging()


ARREARS_LAYOUT = {
    "format": "csv",
    "late_fee": "daily:5bps:cap=30%",
    "fields": [
        {"name": "bill_no", "column": "账单号"},
        {"name": "account_no", "column": "户号"},
        {"name": "amount", "column": "欠费金额"},
        {"name": "due_date", "column": "缴费截止日"},
    ],
}
OUT_LAYOUT = {
    "format": "csv",
    "fields": [{"name": "account_no", "column": "户号"}, {"name": "amount", "column": "金额"}],
}


def _run(group: str, db_url: str | None, *args: str) -> tuple[int, str, str]:
    extra = ["--database-url", db_url] if db_url else []
    result = runner.invoke(main, [group, *args, *extra])
    return result.exit_code, result.stdout, result.stderr


def _billers(db_url: str) -> None:
    engine = Engine.from_url(db_url)
    engine.create_biller(Biller(code="s1", name="第一中学", kind=BillerKind.SCHOOL))
    engine.create_biller(Biller(code="g1", name="燃气", kind=BillerKind.UTILITY))
    engine.close()


def test_the_bursar_imports_the_roster_twice_and_writes_the_reports(
    db_url: str, tmp_path: Path
) -> None:
    _billers(db_url)
    roster, fees = tmp_path / "roster.csv", tmp_path / "fees.csv"
    roster.write_text(ROSTER_CSV, encoding="utf-8")
    fees.write_text(FEES_CSV, encoding="gbk")  # the school's Excel saved it as GBK
    args = ["import-roster", "s1", "--roster", str(roster), "--fees", str(fees),
            "--term", "2026秋", "--due", "2026-09-10", "--installments", "--min-part", "1000.00",
            "--by", "bursar"]  # fmt: skip
    code, out, _ = _run("campus", db_url, *args)
    assert code == 0, out
    assert out.splitlines()[0] == (
        "2026秋: students 5 added, 0 changed, 0 unchanged, 0 removed, 0 withdrawn, "
        "0 left alone; bills 5 added, 0 changed, 0 unchanged, 0 removed, 0 left alone"
    )
    code, out, _ = _run("campus", db_url, *args, "--json")
    assert code == 0 and json.loads(out)["counts"]["bills_unchanged"] == 5

    grant = (
        "campus", db_url, "grant", "s1", "2026304", "--term", "2026秋", "--amount",
        "2000.00", "--kind", "hardship", "--approved-by", "校长", "--note", "低保家庭",
        "--request-id", "grant-2026304",
    )  # fmt: skip
    for _ in range(2):  # the repeat (say, after a lost answer) waives nothing more
        code, out, _ = _run(*grant)
        assert (code, out) == (
            0,
            "2026秋-2026304: 困难减免 2000.00 approved by 校长; still owed 2880.00\n",
        )
    code, out, _ = _run(
        "campus", db_url, "reports", "s1", "--term", "2026秋", "--date", "2026-09-01",
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 0
    assert [Path(p).name for p in out.splitlines()] == [
        "s1-2026秋-arrears.csv",
        "s1-2026秋-class-lists.csv",
        "s1-2026秋-daily-2026-09-01.csv",
        "s1-2026秋-bursar-2026-09-01.xlsx",
    ]
    notice = tmp_path / "notice.png"
    code, out, err = _run(
        "campus", db_url, "notice", "s1", "2026301", "--term", "2026秋", "--out", str(notice)
    )
    assert (code, out, notice.exists()) == (1, "", False)
    assert err == (
        "error: --base-url: the payer pages' address is needed for the QR, "
        "e.g. https://pay.example.edu.cn\n"
    )
    code, _, err = _run(
        "campus", db_url, "notice", "s1", "2026301", "--term", "2026秋", "--out", str(notice),
        "--base-url", "pay.example.edu.cn",
    )  # fmt: skip
    assert (code, notice.exists()) == (1, False)
    assert err == (
        "error: --base-url: 'pay.example.edu.cn' must be an http:// or https:// address "
        "without a query, e.g. https://pay.example.edu.cn\n"
    )
    code, out, _ = _run(
        "campus", db_url, "notice", "s1", "2026301", "--term", "2026秋", "--out", str(notice),
        "--base-url", "https://pay.example.edu.cn",
    )  # fmt: skip
    assert (code, out) == (
        0,
        f"notice written to {notice}\n"
        "QR: https://pay.example.edu.cn/pay/b/s1/bills/2026%E7%A7%8B-2026301\n",
    )
    assert notice.read_bytes().startswith(b"\x89PNG")
    code, out, _ = _run(
        "campus", db_url, "withdraw", "s1", "2026302", "--term", "2026秋", "--by", "bursar",
        "--reason", "转学",
    )  # fmt: skip
    assert (code, out) == (0, "2026秋-2026302: cancelled; 0.00 to refund (refunds: none)\n")


def test_a_bad_roster_fails_with_every_line_named_and_changes_nothing(
    db_url: str, tmp_path: Path
) -> None:
    _billers(db_url)
    roster, fees = tmp_path / "roster.csv", tmp_path / "fees.csv"
    roster.write_text(
        ROSTER_CSV + "2026399,钱,七年级,1班,12345,\n2026301,周,七年级,1班,13900000399,\n",
        encoding="utf-8",
    )
    fees.write_text(FEES_CSV, encoding="utf-8")
    code, out, err = _run(
        "campus", db_url, "import-roster", "s1", "--roster", str(roster), "--fees",
        str(fees), "--term", "2026秋", "--due", "2026-09-10", "--by", "bursar",
    )  # fmt: skip
    assert (code, out) == (1, "")
    assert err == (
        "line 7: guardian_phone: '12345' is not an 11-digit mobile number\n"
        "line 8: student_no: 2026301 repeats line 2\n"
        "error: roster.csv: 2 line(s) rejected; nothing was imported\n"
    )
    code, _, err = _run(
        "campus", db_url, "import-roster", "s1", "--roster", str(roster), "--fees",
        str(fees), "--term", "2026秋", "--due", "10/09/2026", "--by", "bursar",
    )  # fmt: skip
    assert (code, err) == (1, "error: --due: '10/09/2026' is not a date like 2026-09-01\n")
    engine = Engine.from_url(db_url)
    assert engine.bills_for("2026301") == []
    engine.close()


def test_the_utility_files_round_trip_through_the_command_line(db_url: str, tmp_path: Path) -> None:
    _billers(db_url)
    layout, out_layout = tmp_path / "in.json", tmp_path / "out.json"
    layout.write_text(json.dumps(ARREARS_LAYOUT), encoding="utf-8")
    out_layout.write_text(json.dumps(OUT_LAYOUT), encoding="utf-8")
    data = tmp_path / "gas.csv"
    data.write_text(GAS_ARREARS.replace("户名,", "x,").replace("账期,", "y,"), encoding="utf-8")
    code, out, err = _run("utility", db_url, "import-arrears", "g1", str(data),
                          "--layout", str(layout))  # fmt: skip
    assert (code, out) == (0, "gas.csv: 4 new, 0 unchanged\n"), err

    bad = tmp_path / "bad.csv"
    bad.write_text("账单号,户号,欠费金额,缴费截止日\nG9,5509,12.3.4,2026/12/20\n", encoding="utf-8")
    code, _, err = _run("utility", db_url, "import-arrears", "g1", str(bad),
                        "--layout", str(layout))  # fmt: skip
    assert code == 1
    assert err == (
        "line 2: amount: '12.3.4' is not an amount like '12.34'\n"
        "line 2: due_date: '2026/12/20' does not match %Y-%m-%d\n"
        "error: bad.csv: 1 line(s) rejected; nothing was imported\n"
    )
    engine = Engine.from_url(db_url)
    assert engine.bills_for("5509") == []
    engine.close()
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"format": "xml", "fields": []}), encoding="utf-8")
    code, _, err = _run("utility", db_url, "import-arrears", "g1", str(data),
                        "--layout", str(wrong))  # fmt: skip
    assert (code, err) == (1, f"error: --layout {wrong}: layout: format must be csv or fixed, "
                              "not 'xml'\n")  # fmt: skip

    code, out, _ = _run("utility", db_url, "topup", "g1", "5504", "--period", "202609",
                        "--min", "50.00", "--max", "2000.00")  # fmt: skip
    assert (code, out) == (0, "TU-202609-5504: top-up of 50.00–2000.00 offered to 5504\n")

    first, second = tmp_path / "c1.csv", tmp_path / "c2.csv"
    for target in (first, second):
        code, out, _ = _run("utility", db_url, "collection-file", "g1", "--date",
                            "2026-09-01", "--layout", str(out_layout), "--out", str(target))  # fmt: skip
        assert code == 0
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes().split(b"\r\n")[:2] == ["户号,金额".encode(), b"TOTAL|0|0.00"]
    code, out, _ = _run("utility", None, "verify", str(first), "--layout", str(out_layout))
    assert (code, out) == (0, f"{first}: checksum ok\n")
    second.write_bytes(second.read_bytes().replace(b"TOTAL|0|0.00", b"TOTAL|1|0.00"))
    code, _, err = _run("utility", None, "verify", str(second), "--layout", str(out_layout))
    assert code == 1 and err.startswith("error: checksum line 'CHECKSUM|MD5|")


def test_the_bursar_prints_a_whole_class_of_notices_as_one_pdf_or_a_zip(
    db_url: str, tmp_path: Path
) -> None:
    _billers(db_url)
    roster, fees = tmp_path / "roster.csv", tmp_path / "fees.csv"
    roster.write_text(ROSTER_CSV, encoding="utf-8")
    fees.write_text(FEES_CSV, encoding="utf-8")
    code, _, _ = _run(
        "campus", db_url, "import-roster", "s1", "--roster", str(roster), "--fees", str(fees),
        "--term", "2026秋", "--due", "2026-09-10", "--by", "bursar",
    )  # fmt: skip
    assert code == 0
    common = ("--term", "2026秋", "--grade", "七年级", "--class", "1班",
              "--base-url", "https://pay.example.edu.cn")  # fmt: skip
    pdf = tmp_path / "1班.pdf"
    code, out, _ = _run("campus", db_url, "notices", "s1", *common, "--out", str(pdf))
    assert (code, out) == (0, f"2 notices written to {pdf}\n")
    assert pdf.read_bytes().startswith(b"%PDF-") and pdf.read_bytes().count(b"/Type /Page\n") == 2
    bundle = tmp_path / "1班.zip"
    code, out, _ = _run("campus", db_url, "notices", "s1", *common, "--out", str(bundle))
    assert (code, out) == (0, f"2 notices written to {bundle}\n")
    assert bundle.read_bytes().startswith(b"PK")
    wrong = tmp_path / "1班.docx"
    code, out, err = _run("campus", db_url, "notices", "s1", *common, "--out", str(wrong))
    assert (code, out, wrong.exists()) == (1, "", False)
    assert err == "error: --out: '1班.docx' must end in .pdf or .zip\n"
    nobody = tmp_path / "9班.pdf"
    code, out, err = _run(
        "campus", db_url, "notices", "s1", "--term", "2026秋", "--grade", "七年级",
        "--class", "9班", "--base-url", "https://pay.example.edu.cn", "--out", str(nobody),
    )  # fmt: skip
    assert (code, out, nobody.exists()) == (1, "", False)
    assert err == "error: no student of 2026秋 at s1 is in 七年级 9班\n"
