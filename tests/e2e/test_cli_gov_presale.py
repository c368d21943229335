"""``billfold gov`` and ``billfold presale`` as an office clerk and a supervisor use them."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from billfold import Biller, BillerKind, Engine
from billfold.adapters.cli.approvals import app as approvals_app
from billfold.adapters.cli.gov import app as gov_app
from billfold.adapters.cli.presale import app as presale_app
from billfold.collection.approval import ApprovalState
from billfold.maker_checker import MakerChecker
from billfold.merchants.biller import SubUnit, SubUnitKind
from billfold.packs.presale import PresaleDesk

app = typer.Typer()
app.add_typer(gov_app, name="gov")
app.add_typer(presale_app, name="presale")
app.add_typer(approvals_app, name="approvals")
runner = CliRunner()


def cli(db_url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database-url", db_url])
    return result.exit_code, result.stdout, result.stderr


def test_a_clerk_keeps_the_catalogue_and_an_unknown_fine_is_refused(
    engine: Engine, db_url: str
) -> None:
    engine.create_biller(Biller("gov1", "出入境管理局", BillerKind.GOVERNMENT))
    args = ("gov", "fee-set", "gov1", "passport", "--name", "普通护照", "--amount", "120.00")
    code, stdout, _ = cli(db_url, *args, "--from", "2026-06-01", "--by", "clerk")
    assert code == 0 and stdout.strip() == "gov1/passport: 120.00 from 2026-06-01 added"
    code, stdout, _ = cli(db_url, *args, "--from", "2026-06-01", "--by", "clerk")
    assert stdout.strip() == "gov1/passport: 120.00 from 2026-06-01 unchanged"
    code, stdout, _ = cli(db_url, "gov", "fees", "gov1", "--date", "2026-09-01")
    assert code == 0 and "普通护照" in stdout and "120.00" in stdout
    code, _, stderr = cli(db_url, "gov", "fine", "NO-SUCH-DECISION")
    assert code == 1 and stderr.strip() == "error: no fine with decision number 'NO-SUCH-DECISION'"
    code, stdout, _ = cli(
        db_url, "gov", "fine-add", "gov1", "D-1", "--party", "钱", "--amount", "200.00",
        "--deadline", "2020-01-01",
    )  # fmt: skip
    assert code == 0
    code, stdout, _ = cli(db_url, "gov", "fine", "D-1", "--json")
    quote = json.loads(stdout)
    assert (quote["fine"], quote["penalty"], quote["total"], quote["capped"]) == (
        "200.00",
        "200.00",
        "400.00",
        True,
    )  # years late on the system clock: the penalty is capped at the fine


def test_a_supervisor_sets_up_a_project_and_an_over_limit_release_is_refused(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    engine.create_biller(
        Biller(
            "dev1",
            "丽景置业",
            BillerKind.HOUSING_DEVELOPER,
            sub_units=(SubUnit("P1", "丽景苑", SubUnitKind.PROJECT),),
        )
    )
    steps = [
        ("presale", "project-add", "dev1", "P1", "JG-1", "--name", "丽景苑", "--bank", "示范银行",
         "--account", "62220001", "--by", "ops"),
        ("presale", "milestones", "JG-1", "--stage", "foundation:基础:30", "--stage",
         "topped:封顶:60", "--by", "ops"),
        ("presale", "reach", "JG-1", "foundation", "--date", "2020-01-01", "--by", "bureau"),
        ("presale", "contract-add", "JG-1", "HT-1", "--unit", "1-101", "--price", "1000000.00",
         "--buyer", "陈家豪"),
    ]  # fmt: skip
    for step in steps:
        code, _, stderr = cli(db_url, *step)
        assert code == 0, stderr
    desk = PresaleDesk(engine)
    order = engine.create_order("dev1", ["HT-1"], amount_fen=10_000_000)
    engine.confirm("pos", "T1:000001:000001", order.order_no, order.total_fen)
    code, stdout, _ = cli(db_url, "presale", "sync")
    assert stdout.strip().splitlines()[-1] == "booked 1 payment(s), 0 reversal(s)"
    code, stdout, stderr = cli(
        db_url, "presale", "release", "JG-1", "30000.01", "--request-id", "R1", "--by", "dev",
        "--reason", "工程款",
    )  # fmt: skip
    assert code == 0 and stdout.startswith("proposed approval 1 (escrow.release)"), stderr
    # the supervisor approves; the stage's limit refuses it, and the proposal stays open
    code, _, stderr = cli(db_url, "approvals", "approve", "1", "--by", "bureau")
    assert code == 1 and stderr.strip().splitlines()[-1] == (
        "error: release of 30000.01 refused: stage foundation (基础) allows 30% of 100000.00 "
        "received = 30000.00 in all; 0.00 already released, at most 30000.00 more"
    )
    assert [e.kind.value for e in desk.entries("JG-1")] == ["payment"]
    assert MakerChecker(engine).get(1).state is ApprovalState.PROPOSED
    code, stdout, _ = cli(
        db_url, "presale", "release", "JG-1", "30000.00", "--request-id", "R2", "--by", "dev",
        "--reason", "工程款",
    )  # fmt: skip
    assert stdout.startswith("proposed approval 2 (escrow.release)")
    code, stdout, stderr = cli(db_url, "approvals", "approve", "2", "--by", "bureau")
    assert code == 0, stderr
    assert [e.kind.value for e in desk.entries("JG-1")] == ["payment", "release"]
    assert desk.entries("JG-1")[-1].amount_fen == 3_000_000
    code, stdout, _ = cli(db_url, "presale", "balance", "JG-1")
    assert (
        stdout.strip().splitlines()[-1]
        == "JG-1: received 100000.00, released 30000.00, balance 70000.00, held 0.00"
    )
    code, stdout, _ = cli(db_url, "presale", "pushes", "--project", "JG-1")
    assert "JG-1-00000001" in stdout and "待推送" in stdout
    assert "pending" not in stdout  # a person reads the status in Chinese
    code, _, stderr = cli(db_url, "presale", "push", "--url", "http://127.0.0.1:9/x",
                          "--secret-env", "BILLFOLD_TEST_NO_SUCH_VAR")  # fmt: skip
    assert code == 1 and stderr.strip() == (
        "error: --secret-env: BILLFOLD_TEST_NO_SUCH_VAR is not set; "
        "it must hold the bureau's signing secret"
    )
    code, stdout, _ = cli(
        db_url, "presale", "report", "JG-1", "--date", "2026-09-01", "--out-dir", str(tmp_path)
    )
    assert code == 0 and (tmp_path / "escrow-JG-1-20260901-summary.csv").exists()


def test_a_receipt_is_printed_as_pdf_or_html_with_its_verification_qr(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    from billfold.adapters.cli.receipts import app as receipts_app
    from billfold.demo.gov_presale import TRAFFIC, setup_government

    gov = setup_government(engine)
    bill_no = "杭公交决字〔2026〕第330100002号"
    order = engine.create_order(TRAFFIC, [bill_no])
    paid = engine.confirm("counter", "CTR-R-1", order.order_no, order.total_fen)
    receipt = gov.issue_receipt(paid.payment.id)
    main = typer.Typer()
    main.add_typer(receipts_app, name="receipts")
    base = ("--base-url", "https://pay.example.gov.cn")

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(main, ["receipts", *args, "--database-url", db_url])
        return result.exit_code, result.stdout, result.stderr

    pdf = tmp_path / "r.pdf"
    code, out, _ = run("pdf", receipt.receipt_no, *base, "--out", str(pdf))
    assert (code, out) == (0, f"receipt {receipt.receipt_no} written to {pdf}\n")
    assert pdf.read_bytes().startswith(b"%PDF-")
    page = tmp_path / "r.html"
    code, out, _ = run("html", receipt.receipt_no, *base, "--out", str(page))
    assert code == 0
    text = page.read_text(encoding="utf-8")
    assert "<svg" in text and f"https://pay.example.gov.cn/pay/r/{receipt.verify_token()}" in text
    assert "伍拾元整" in text
    missing = tmp_path / "missing.pdf"
    code, out, err = run("pdf", "R000", *base, "--out", str(missing))
    assert (code, out, missing.exists()) == (1, "", False)
    assert err == "error: receipt 'R000' does not exist\n"
    code, out, err = run("pdf", receipt.receipt_no, "--base-url", "ftp://x", "--out", str(missing))
    assert (code, missing.exists()) == (1, False)
    assert err == (
        "error: base_url: 'ftp://x' must be an http:// or https:// address without a query, "
        "e.g. https://pay.example.edu.cn\n"
    )
