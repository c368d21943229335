"""``billfold presale assign`` and the refunds ``sync`` books, as a supervisor uses them."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from billfold import Engine
from billfold.adapters.cli.presale import app as presale_app
from billfold.demo.gov_presale import BUREAU_CODE, CONTRACTS, DEVELOPER, setup_presale
from billfold.settlement.escrow import EntryKind

app = typer.Typer()
app.add_typer(presale_app, name="presale")
runner = CliRunner()
A = CONTRACTS[0].contract_no


def cli(db_url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database-url", db_url])
    return result.exit_code, result.stdout, result.stderr


def test_a_supervisor_assigns_held_money_to_a_contract_once(engine: Engine, db_url: str) -> None:
    desk = setup_presale(engine)
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-5", 120_000, paid_at=engine.clock.now())
    args = ("presale", "assign", "bank/TRF-5", "--contract", A, "--by", "ops", "--reason", "核实")
    code, stdout, stderr = cli(db_url, *args)
    assert code == 0, stderr
    assert (
        stdout.strip().splitlines()[-1]
        == f"held bank/TRF-5 (1200.00) assigned to contract {A} (entry 2)"
    )
    code, _, stderr = cli(db_url, *args)
    assert code == 1 and stderr.strip() == (
        f"error: held_id: bank/TRF-5 was assigned to contract {A} already"
    )
    code, _, stderr = cli(
        db_url, "presale", "assign", "bank/NOPE", "--contract", A, "--by", "o", "--reason", "r"
    )
    assert code == 1 and stderr.strip() == "error: held_id: no money is held as 'bank/NOPE'"
    assert [e.kind for e in desk.entries(BUREAU_CODE)] == [EntryKind.HELD, EntryKind.ASSIGN]
    assert engine.bill(DEVELOPER, A).paid_fen == 120_000  # the buyer's bill is paid, once
    assert engine.check_books() == []


def test_sync_and_balance_name_the_refunds(engine: Engine, db_url: str) -> None:
    desk = setup_presale(engine)
    order = engine.create_order(DEVELOPER, [A], amount_fen=1_000_000)
    paid = engine.confirm("pos", "T1:000009:000001", order.order_no, 1_000_000).payment
    made = engine.refund(paid.id, 400_000, request_id="RF", reason="退房", requested_by="ops")
    engine.complete_refund(made.refund_no)
    code, stdout, _ = cli(db_url, "presale", "sync")
    assert code == 0
    assert stdout.strip().splitlines()[-1] == "booked 1 payment(s), 0 reversal(s), 1 refund(s)"
    code, stdout, _ = cli(db_url, "presale", "balance", BUREAU_CODE)
    assert stdout.strip().splitlines()[-1] == (
        f"{BUREAU_CODE}: received 10000.00, released 0.00, balance 6000.00, held 0.00, "
        "refunded 4000.00"
    )
    code, stdout, _ = cli(db_url, "presale", "sync")
    assert stdout.strip().splitlines()[-1] == "booked 0 payment(s), 0 reversal(s)"
    assert len(desk.entries(BUREAU_CODE)) == 2
