"""``billfold complaints``: complaints (投诉/查询) against bills, orders and payments.

``open`` (the engine answers it when it can: with ``--channels`` or ``BILLFOLD_CHANNELS`` it
requeries the channel and credits what arrived), ``list`` (``--status``, ``--overdue``,
``--biller``), ``show``, ``assign``, ``resolve``, ``reject``, ``reopen`` and ``tat`` (a
biller's turnaround times). Tables have Chinese headers; ``--json`` prints codes. Errors
print ``error: <message>`` on stderr and exit 1 (bad options exit 2).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from billfold.adapters.cli.common import DbUrl, fail, open_engine
from billfold.adapters.cli.output import console
from billfold.adapters.cli.reconcile import WIDTH, load_channels
from billfold.labels import label

if TYPE_CHECKING:
    from billfold.engine import Engine

if TYPE_CHECKING:
    from billfold.settlement.complaint import Complaint
    from billfold.settlement.complaints import ComplaintDesk

__all__ = ["app"]

out = console(highlight=False, soft_wrap=True, width=WIDTH)

app = typer.Typer(help="Complaints (投诉/查询): open, work and follow them.", no_args_is_help=True)

By = Annotated[str, typer.Option("--by", help="who does it, for the audit")]
Json = Annotated[bool, typer.Option("--json", help="print JSON (codes, not labels)")]


def _desk(engine: Engine, channels: str | None = None) -> ComplaintDesk:
    from billfold.channels.collect import Collector
    from billfold.settlement.complaints import ComplaintDesk

    spec = channels or os.environ.get("BILLFOLD_CHANNELS")
    if not spec:
        return ComplaintDesk(engine)
    return ComplaintDesk(engine, Collector(engine, load_channels(spec, engine)).requery)


def _data(c: Complaint) -> dict[str, Any]:
    return {
        "complaint_no": c.complaint_no,
        "biller": c.biller_code,
        "kind": c.kind.value,
        "status": c.status.value,
        "source": c.source.value,
        "bill_no": c.bill_no,
        "order_no": c.order_no,
        "payment_id": c.payment_id,
        "channel_ref": c.channel_ref,
        "description": c.description,
        "opened_by": c.opened_by,
        "assigned_to": c.assigned_to,
        "answer": c.answer.value if c.answer else None,
        "resolution": c.resolution,
        "refund_no": c.refund_no,
        "due_at": c.due_at.isoformat(),
        "reopened": c.reopened,
    }


def _show(c: Complaint, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(_data(c), ensure_ascii=False))
        return
    answer = label("complaint_answer", c.answer) if c.answer else "-"
    out.print(
        f"{c.complaint_no} {label('complaint_kind', c.kind)} {label('complaint_status', c.status)}"
        f" 账单 {c.bill_no or '-'} 系统核查：{answer} 处理结果：{c.resolution or '-'}"
        f" 时限 {c.due_at:%Y-%m-%d %H:%M} UTC"
    )


@app.command("open")
def open_command(
    biller: Annotated[str, typer.Option(help="the biller's code")],
    kind: Annotated[
        str, typer.Option(help="paid_not_credited, charged_twice, wrong_amount or other")
    ],
    by: By,
    bill: Annotated[str | None, typer.Option(help="the bill number")] = None,
    order: Annotated[str | None, typer.Option(help="the order number")] = None,
    payment: Annotated[int | None, typer.Option(help="the payment id")] = None,
    ref: Annotated[str, typer.Option("--ref", help="the reference on the payer's receipt")] = "",
    description: Annotated[str, typer.Option(help="what the payer says")] = "",
    channels: Annotated[
        str | None, typer.Option(help="MODULE:FACTORY giving the channels to requery")
    ] = None,
    as_json: Json = False,
    database_url: DbUrl = None,
) -> None:
    """Open a complaint; the engine answers it by itself when it can."""
    from billfold.settlement.complaint import parse_kind
    from billfold.settlement.complaints import NewComplaint

    with open_engine(database_url) as engine:
        req = NewComplaint(
            biller,
            parse_kind(kind),
            by,
            bill_no=bill,
            order_no=order,
            payment_id=payment,
            channel_ref=ref,
            description=description,
        )
        _show(_desk(engine, channels).open(req), as_json)


@app.command("list")
def list_command(
    status: Annotated[
        str | None, typer.Option(help="open, assigned, resolved, rejected, reopened")
    ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="only those past their TAT")] = False,
    biller: Annotated[str | None, typer.Option(help="the biller's code")] = None,
    as_json: Json = False,
    database_url: DbUrl = None,
) -> None:
    """List complaints."""
    from rich.table import Table

    from billfold.settlement.complaint import ComplaintStatus
    from billfold.settlement.complaints import ComplaintDesk

    try:
        wanted = ComplaintStatus(status) if status else None
    except ValueError:
        fail(f"--status: {status!r}; use open, assigned, resolved, rejected or reopened")
    with open_engine(database_url) as engine:
        ids = [engine.biller(biller).id or 0] if biller else None
        found = ComplaintDesk(engine).complaints(biller_ids=ids, status=wanted, overdue=overdue)
        now = engine.clock.now()
    if as_json:
        typer.echo(json.dumps([_data(c) for c in found], ensure_ascii=False))
        return
    table = Table("投诉编号", "单位", "类型", "状态", "账单号", "经办人", "处理时限", "是否超时")
    for c in found:
        table.add_row(
            c.complaint_no,
            c.biller_code,
            label("complaint_kind", c.kind),
            label("complaint_status", c.status),
            c.bill_no or "-",
            c.assigned_to or "-",
            f"{c.due_at:%Y-%m-%d %H:%M}",
            "超时" if c.overdue(now) else "",
        )
    out.print(table)


@app.command("show")
def show_command(complaint_no: str, as_json: Json = False, database_url: DbUrl = None) -> None:
    """Show one complaint."""
    from billfold.settlement.complaints import ComplaintDesk

    with open_engine(database_url) as engine:
        _show(ComplaintDesk(engine).get(complaint_no), as_json)


@app.command("assign")
def assign_command(
    complaint_no: str,
    to: Annotated[str, typer.Option("--to", help="who takes it")],
    by: By,
    database_url: DbUrl = None,
) -> None:
    """Assign a complaint to a person."""
    from billfold.settlement.complaints import ComplaintDesk

    with open_engine(database_url) as engine:
        _show(ComplaintDesk(engine).assign(complaint_no, to=to, by=by), False)


@app.command("resolve")
def resolve_command(
    complaint_no: str,
    resolution: Annotated[str, typer.Option(help="how it was resolved")],
    by: By,
    database_url: DbUrl = None,
) -> None:
    """Resolve a complaint."""
    from billfold.settlement.complaints import ComplaintDesk

    with open_engine(database_url) as engine:
        _show(ComplaintDesk(engine).resolve(complaint_no, by=by, resolution=resolution), False)


@app.command("reject")
def reject_command(
    complaint_no: str,
    reason: Annotated[str, typer.Option(help="why it is rejected")],
    by: By,
    database_url: DbUrl = None,
) -> None:
    """Reject a complaint."""
    from billfold.settlement.complaints import ComplaintDesk

    with open_engine(database_url) as engine:
        _show(ComplaintDesk(engine).reject(complaint_no, by=by, reason=reason), False)


@app.command("reopen")
def reopen_command(
    complaint_no: str,
    reason: Annotated[str, typer.Option(help="why it is reopened")],
    by: By,
    database_url: DbUrl = None,
) -> None:
    """Reopen a resolved or rejected complaint (its TAT starts again)."""
    from billfold.settlement.complaints import ComplaintDesk

    with open_engine(database_url) as engine:
        _show(ComplaintDesk(engine).reopen(complaint_no, by=by, reason=reason), False)


@app.command("tat")
def tat_command(
    biller: Annotated[str, typer.Option(help="the biller's code")],
    kind: Annotated[str | None, typer.Option(help="set this kind's TAT (with --hours)")] = None,
    hours: Annotated[int | None, typer.Option(help="the new TAT in hours")] = None,
    by: Annotated[str, typer.Option("--by", help="who sets it")] = "",
    reason: Annotated[str, typer.Option(help="why")] = "",
    database_url: DbUrl = None,
) -> None:
    """Show a biller's turnaround times; with --kind and --hours, set one."""
    from rich.table import Table

    from billfold.settlement.complaint import parse_kind
    from billfold.settlement.complaints import ComplaintDesk

    if (kind is None) != (hours is None):
        fail("--kind and --hours go together")
    with open_engine(database_url) as engine:
        desk = ComplaintDesk(engine)
        if kind is not None and hours is not None:
            tats = desk.set_tat(biller, parse_kind(kind), hours, by=by, reason=reason)
        else:
            tats = desk.tats(biller)
    table = Table("投诉类型", "处理时限（小时）")
    for k, h in tats.items():
        table.add_row(label("complaint_kind", k), str(h))
    out.print(table)
