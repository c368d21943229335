"""``billfold refunds confirm-cash``: the cashier confirms a counter refund's cash went out."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from billfold import Biller, BillerKind, Engine
from billfold.adapters.cli.app import app

runner = CliRunner()


def test_confirm_cash_completes_a_pending_counter_refund_and_a_repeat_changes_nothing(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    assert runner.invoke(app, ["db", "upgrade", "--database-url", url]).exit_code == 0
    engine = Engine.from_url(url)
    engine.create_biller(Biller(code="hk1", name="出入境管理", kind=BillerKind.GOVERNMENT))
    engine.import_bills("hk1", b"bill_no,payer_id,amount\nH1,110101,350.00\n")
    order = engine.create_order("hk1", ["H1"])
    paid = engine.confirm("counter", "R-1", order.order_no, order.total_fen)
    refund = engine.refund(paid.payment.id, 5_000, request_id="r1", reason="多收", requested_by="s")
    engine.close()

    args = [
        "refunds",
        "confirm-cash",
        refund.refund_no,
        "--by",
        "cashier-02",
        "--database-url",
        url,
    ]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert f"refund {refund.refund_no} succeeded: 50.00 paid out in cash" in done.stdout
    assert runner.invoke(app, args).exit_code == 0
    missing = runner.invoke(
        app, ["refunds", "confirm-cash", "RF-NOPE", "--by", "c", "--database-url", url]
    )
    assert missing.exit_code == 1 and "refund 'RF-NOPE' does not exist" in missing.stderr
    engine = Engine.from_url(url)
    assert engine.pending_refunds() == [] and engine.check_books() == []
    engine.close()
