"""How ``billfold reconcile`` shows a run and its discrepancies: a summary (JSON or lines for
people) and a table of discrepancies."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer

from billfold.adapters.cli.output import console
from billfold.labels import label
from billfold.money import format_yuan

if TYPE_CHECKING:
    from billfold.settlement.discrepancy import Discrepancy
    from billfold.settlement.reconciler import RunResult

__all__ = ["WIDTH", "discrepancy_json", "out", "print_discrepancies", "print_result"]

#: Piped or redirected output is not cut to 80 columns.
WIDTH = None if sys.stdout.isatty() else 160
out = console(highlight=False, soft_wrap=True, width=WIDTH)


def _summary(result: RunResult) -> dict[str, Any]:
    run = result.run
    t = run.totals
    return {
        "run_id": run.id,
        "slot": run.slot,
        "revision": run.revision,
        "created": result.created,
        "replaced_run": result.replaced.id if result.replaced else None,
        "file": run.file_name,
        "lines": t.line_count,
        "quarantined": run.quarantined,
        "payments": t.payment_count,
        "payment_amount": format_yuan(t.payment_fen),
        "refunds": t.refund_count,
        "refund_amount": format_yuan(t.refund_fen),
        "fees": format_yuan(t.fee_fen),
        "net": format_yuan(t.net_fen),
        "matched": run.matched_count,
        "matched_amount": format_yuan(run.matched_fen),
        "engine": run.engine_count,
        "engine_amount": format_yuan(run.engine_fen),
        "discrepancies": [discrepancy_json(d) for d in result.discrepancies],
        "auto_resolved": [d.id for d in result.auto_resolved],
    }


def discrepancy_json(d: Discrepancy) -> dict[str, Any]:
    return {
        "id": d.id,
        "run_id": d.run_id,
        "code": d.code.value,
        "status": d.status.value,
        "source": d.source,
        "channel_txn_id": d.channel_txn_id,
        "order_no": d.order_no,
        "difference": format_yuan(d.difference_fen),
        "message": d.message,
        "action": d.action.value if d.action else None,
        "resolved_by": d.resolved_by,
        "resolution": d.resolution,
    }


def print_discrepancies(found: list[Discrepancy]) -> None:
    from rich.table import Table

    from billfold.settlement.wording import describe

    if not found:
        return
    table = Table("编号", "差错类型", "状态", "来源", "差额", "说明")
    for d in found:
        status = label("discrepancy_status", d.status)
        if d.action is not None:
            status += f"（{label('discrepancy_action', d.action)}）"
        table.add_row(
            str(d.id),
            label("discrepancy_code", d.code),
            status,
            d.source,
            format_yuan(d.difference_fen),
            describe(d),
        )
    out.print(table)


def print_result(result: RunResult, as_json: bool) -> None:
    summary = _summary(result)
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    run = result.run
    verb = "reconciled" if result.created else "already reconciled (same file); nothing changed"
    out.print(f"run {run.id} {run.slot} revision {run.revision}: {verb}")
    if result.replaced is not None:
        out.print(f"  replaces run {result.replaced.id} (revision {result.replaced.revision})")
    out.print(
        f"  {summary['lines']} lines, {summary['payments']} payments {summary['payment_amount']}, "
        f"{summary['refunds']} refunds {summary['refund_amount']}, fees {summary['fees']}, "
        f"net {summary['net']}"
    )
    out.print(
        f"  matched {summary['matched']} ({summary['matched_amount']}); engine has "
        f"{summary['engine']} ({summary['engine_amount']}); "
        f"{len(result.discrepancies)} discrepancies, {len(result.auto_resolved)} resolved "
        "automatically"
    )
    print_discrepancies(result.discrepancies)
