"""``billfold autodebit``, run as an operator would (real clock, sandbox bank)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from billfold import Biller, BillerKind, Engine
from billfold.adapters.cli.app import app
from billfold.channels.autodebit_mandates import MandateBook
from billfold.collection.mandate import Mandate

runner = CliRunner()


def run(db_url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["autodebit", *args, "--database-url", db_url])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def mandate(engine: Engine) -> Mandate:
    """An active mandate of payer H001, whose bill W1 is due today (real time, Shanghai)."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    engine.create_biller(Biller(code="w1", name="自来水公司", kind=BillerKind.UTILITY))
    engine.import_bills(
        "w1", f"bill_no,payer_id,amount,due_date\nW1,H001,120.50,{today}\n".encode()
    )
    book = MandateBook(engine)
    signed = book.sign(
        "w1",
        "H001",
        "6222021234567890",
        per_debit_limit_fen=50_000,
        monthly_limit_fen=100_000,
        valid_from=date(2020, 1, 1),
        valid_until=today + timedelta(days=365),
        actor="teller",
    )
    return book.activate(signed.mandate_no, agreement_no="AGR-1", actor="bank")


def test_run_once_notices_24h_ahead_and_debits_nothing_yet(db_url: str, mandate: Mandate) -> None:
    code, out, _ = run(db_url, "run", "--once")
    assert code == 0, out
    assert out.strip().endswith(
        "expired 0, noticed 1, debited 0, retrying 0, failed 0, cancelled 0, refused 0, in doubt 0"
    )
    assert "noticed 0, debited 0" in run(db_url, "run", "--once")[1]


def test_run_once_without_a_notice_lead_debits_the_due_bill_through_the_sandbox(
    db_url: str, engine: Engine, mandate: Mandate
) -> None:
    code, out, _ = run(db_url, "run", "--once", "--notice-hours", "0")
    assert code == 0, out
    assert "noticed 1, debited 1, retrying 0, failed 0" in out
    assert engine.bill("w1", "W1").paid_fen == 12_050 and engine.check_books() == []
    assert "debited 0" in run(db_url, "run", "--once", "--notice-hours", "0")[1]


def test_mandates_list_shows_the_masked_account_and_revoke_stops_debits(
    db_url: str, engine: Engine, mandate: Mandate
) -> None:
    code, out, _ = run(db_url, "mandates", "list")
    until = mandate.valid_until
    assert (code, out) == (
        0,
        f"{mandate.mandate_no}\tw1\tH001\t************7890\t500.00/debit 1000.00/month"
        f"\t2020-01-01..{until}\tactive\n",
    )
    assert "6222021234567890" not in out
    assert run(db_url, "mandates", "list", "--status", "revoked")[1] == "no mandates\n"
    code, out, _ = run(db_url, "mandates", "revoke", mandate.mandate_no, "--reason", "moved")
    assert (code, out) == (0, f"mandate {mandate.mandate_no} revoked\n")
    out = run(db_url, "run", "--once", "--notice-hours", "0")[1]
    assert "noticed 0, debited 0" in out and engine.bill("w1", "W1").paid_fen == 0


def test_mistakes_exit_1_with_the_reason(db_url: str, mandate: Mandate) -> None:
    code, _, err = run(db_url, "run", "--once", "--bank", "icbc")
    assert (code, err) == (
        1,
        "error: bank: no connector named 'icbc' is installed; only 'sandbox' is available\n",
    )
    code, _, err = run(db_url, "mandates", "revoke", "MD404", "--reason", "x")
    assert (code, err) == (1, "error: mandate 'MD404' does not exist\n")
    code, _, err = run(db_url, "mandates", "list", "--biller", "nope")
    assert (code, err) == (1, "error: biller 'nope' does not exist\n")


def test_help_says_debits_go_to_the_sandbox_bank() -> None:
    result = runner.invoke(app, ["autodebit", "run", "--help"])
    assert result.exit_code == 0
    assert "sandbox bank" in " ".join(result.stdout.split())
