"""``billfold presale``: presale-fund supervision (预售资金监管) from the command line.

* ``billfold presale project-add DEVELOPER PROJECT BUREAU_CODE --name --bank --account --by``
* ``billfold presale milestones BUREAU_CODE --stage foundation:基础工程完成:30 … --by …``
* ``billfold presale reach BUREAU_CODE STAGE --date 2026-08-15 --by …``
* ``billfold presale contract-add BUREAU_CODE CONTRACT_NO --unit … --price … --buyer …``
* ``billfold presale sync`` — book contract payments, reversals and refunds into the escrow
  ledger;
* ``billfold presale assign HELD_ID --contract … --by … --reason …`` — move held money
  (``HELD_ID`` is ``CHANNEL/REF``, as the alert names it) onto a contract of its project;
* ``billfold presale push --url URL`` — push what is due to the housing bureau (the signing
  secret from ``BILLFOLD_BUREAU_SECRET``, or the variable ``--secret-env`` names);
* ``billfold presale pushes [--project CODE] [--status dead]`` / ``requeue PUSH_ID``;
* ``billfold presale release BUREAU_CODE AMOUNT --request-id … --by … --reason …`` (a
  supervisor approves it: ``billfold approvals approve``);
* ``billfold presale balance BUREAU_CODE`` / ``report BUREAU_CODE --date … --out-dir …``.

Exit codes: 0 done, 1 refused (the message says why), 2 usage errors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from billfold.adapters.cli.approvals import cli_identity, print_proposal
from billfold.adapters.cli.common import day_option, fail, open_engine, yuan_option
from billfold.adapters.cli.output import console
from billfold.adapters.cli.reconcile import WIDTH, DbUrl
from billfold.errors import InvalidInput
from billfold.labels import label
from billfold.money import format_yuan

if TYPE_CHECKING:
    from billfold.merchants.presale import Milestone

__all__ = ["app"]

app = typer.Typer(help="Presale-fund supervision: projects, contracts, escrow, bureau pushes.")
out = console(highlight=False, soft_wrap=True, width=WIDTH)
By = Annotated[str, typer.Option(help="Who does it (audited)")]


def _stage(text: str) -> Milestone:
    from billfold.merchants.presale import Milestone

    parts = text.split(":")
    if len(parts) != 3:
        fail(f"--stage: {text!r} is not CODE:NAME:PERCENT, e.g. foundation:基础工程完成:30")
    try:
        share = yuan_option(parts[2], "--stage percent")  # "30" or "27.5": hundredths = bps
        return Milestone(parts[0], parts[1], share)
    except InvalidInput as exc:
        fail(exc.message)


@app.command("project-add")
def project_add(
    developer: str,
    project_code: str,
    bureau_code: str,
    name: Annotated[str, typer.Option(help="The project's name")],
    bank: Annotated[str, typer.Option(help="The supervised account's bank")],
    account: Annotated[str, typer.Option(help="The supervised escrow account number")],
    by: By,
    database_url: DbUrl = None,
) -> None:
    """Put a developer's project under supervision."""
    from billfold.merchants.presale import Project
    from billfold.packs.presale import PresaleDesk

    with open_engine(database_url) as engine:
        project = Project(developer, project_code, bureau_code, name, bank, account)
        PresaleDesk(engine).add_project(project, actor=by)
    out.print(f"project {bureau_code} ({developer}/{project_code}) supervised")


@app.command("milestones")
def milestones(
    bureau_code: str,
    stage: Annotated[list[str], typer.Option(help="CODE:NAME:PERCENT, in construction order")],
    by: By,
    database_url: DbUrl = None,
) -> None:
    """Set the project's release plan: the cumulative share releasable at each stage."""
    from billfold.packs.presale import PresaleDesk

    stages = [_stage(text) for text in stage]
    with open_engine(database_url) as engine:
        PresaleDesk(engine).set_milestones(bureau_code, stages, actor=by)
    out.print(f"project {bureau_code}: {len(stages)} stage(s)")


@app.command("reach")
def reach(
    bureau_code: str,
    stage: str,
    on: Annotated[str, typer.Option("--date", help="The day the bureau accepted the stage")],
    by: By,
    database_url: DbUrl = None,
) -> None:
    """Record that construction reached a stage."""
    from billfold.packs.presale import PresaleDesk

    with open_engine(database_url) as engine:
        PresaleDesk(engine).reach(bureau_code, stage, day_option(on, "--date"), actor=by)
    out.print(f"project {bureau_code}: stage {stage} reached on {on}")


@app.command("contract-add")
def contract_add(
    bureau_code: str,
    contract_no: str,
    unit: Annotated[str, typer.Option(help="The unit (房号)")],
    price: Annotated[str, typer.Option(help="Total price in yuan")],
    buyer: Annotated[str, typer.Option(help="The buyer's name (masked in reports)")],
    database_url: DbUrl = None,
) -> None:
    """Register a buyer's contract; its payments go through the project's POS or QR."""
    from billfold.merchants.presale import Contract
    from billfold.packs.presale import PresaleDesk

    with open_engine(database_url) as engine:
        contract = Contract(contract_no, unit, yuan_option(price, "--price"), buyer)
        PresaleDesk(engine).add_contract(bureau_code, contract)
    out.print(f"contract {contract_no} ({unit}, {buyer[:1]}**): {price}")


@app.command("sync")
def sync(database_url: DbUrl = None) -> None:
    """Book contract payments, reversals and refunds not booked yet (safe to run any time)."""
    from billfold.packs.presale import PresaleDesk

    with open_engine(database_url) as engine:
        report = PresaleDesk(engine).sync()
    refunds = f", {report.refunds} refund(s)" if report.refunds else ""
    out.print(f"booked {report.payments} payment(s), {report.reversals} reversal(s){refunds}")


@app.command("assign")
def assign(
    held_id: str,
    contract: Annotated[str, typer.Option(help="The contract the held money belongs to")],
    by: By,
    reason: Annotated[str, typer.Option(help="Why it belongs to the contract")],
    database_url: DbUrl = None,
) -> None:
    """Move money held without a contract (CHANNEL/REF) onto a contract of its project."""
    from billfold.packs.presale import PresaleDesk

    with open_engine(database_url) as engine:
        entry = PresaleDesk(engine).assign_held(held_id, contract, by, reason)
    out.print(
        f"held {held_id} ({format_yuan(entry.amount_fen)}) assigned to contract "
        f"{contract} (entry {entry.seq})"
    )


@app.command("push")
def push(
    url: Annotated[str, typer.Option(help="The bureau's push endpoint")],
    secret_env: Annotated[str, typer.Option(help="Variable holding the signing secret")] = (
        "BILLFOLD_BUREAU_SECRET"
    ),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for an answer")] = 10.0,
    database_url: DbUrl = None,
) -> None:
    """Send every push that is due, in order per project."""
    from billfold.adapters.outbox.bureau_push import BureauLink, HttpxBureauTransport, push_due

    secret = os.environ.get(secret_env, "")
    if not secret:
        fail(f"--secret-env: {secret_env} is not set; it must hold the bureau's signing secret")
    with open_engine(database_url) as engine, HttpxBureauTransport(timeout) as transport:
        stats = push_due(engine, BureauLink(url, secret), transport)
    out.print(
        f"acked {stats.acked}, retrying {stats.retried}, dead {stats.dead}, "
        f"projects blocked {stats.blocked}"
    )


@app.command("pushes")
def list_pushes(
    project: Annotated[str | None, typer.Option(help="Bureau code")] = None,
    status: Annotated[str | None, typer.Option(help="pending, acked or dead")] = None,
    database_url: DbUrl = None,
) -> None:
    """Pushes to the bureau with their attempts and receipt numbers."""
    from rich.table import Table

    from billfold.adapters.outbox.bureau_push import pushes

    with open_engine(database_url) as engine:
        found = pushes(engine, project, status)
    table = Table("推送编号", "状态", "推送次数", "回执号", "最近错误", title="向监管部门的推送")
    for p in found:
        table.add_row(
            p.push_id,
            label("push_status", p.status),
            str(p.attempts),
            p.receipt_no or "",
            p.last_error or "",
        )
    out.print(table)


@app.command("requeue")
def requeue_push(
    push_id: str,
    by: By,
    reason: Annotated[str, typer.Option(help="Why it is sent again")],
    database_url: DbUrl = None,
) -> None:
    """Send a dead push again (its project's later pushes follow it)."""
    from billfold.adapters.outbox.bureau_push import requeue

    with open_engine(database_url) as engine:
        requeue(engine, push_id, actor=by, reason=reason)
    out.print(f"push {push_id} requeued")


@app.command("release")
def release(
    bureau_code: str,
    amount: str,
    request_id: Annotated[str, typer.Option(help="Makes a repeat harmless")],
    by: By,
    reason: Annotated[str, typer.Option(help="What the money is for")],
    database_url: DbUrl = None,
) -> None:
    """Release money to the developer, within the reached stage's limit. With maker-checker
    on for ``escrow.release`` (the default) this proposes the release and a supervisor
    approves it (`billfold approvals approve`); the stage's limit is checked then."""
    from billfold.maker_checker import MakerChecker
    from billfold.packs.presale import PresaleDesk

    fen = yuan_option(amount, "amount")
    with open_engine(database_url) as engine:
        desk = PresaleDesk(engine)
        payload = {
            "bureau_code": bureau_code, "amount_fen": fen, "request_id": request_id,
            "reason": reason, "by": by,
        }  # fmt: skip
        proposal = MakerChecker(engine).gate(
            "escrow.release", payload, maker=cli_identity(by), reason=reason,
            biller_code=desk.project(bureau_code).developer,
        )  # fmt: skip
        if proposal is not None:
            print_proposal(proposal)
            return
        entry = desk.release(bureau_code, fen, request_id=request_id, by=by, reason=reason)
    out.print(f"released {format_yuan(entry.amount_fen)} (entry {entry.seq}) from {bureau_code}")


@app.command("balance")
def balance(bureau_code: str, database_url: DbUrl = None) -> None:
    """Received, released, balance and held money of a project."""
    from billfold.packs.presale import PresaleDesk

    with open_engine(database_url) as engine:
        book = PresaleDesk(engine).balance(bureau_code)
    out.print(
        f"{bureau_code}: received {format_yuan(book.received_fen)}, released "
        f"{format_yuan(book.released_fen)}, balance {format_yuan(book.balance_fen)}, "
        f"held {format_yuan(book.held_fen)}"
        + (f", refunded {format_yuan(book.refunded_fen)}" if book.refunded_fen else "")
    )


@app.command("report")
def report(
    bureau_code: str,
    on: Annotated[str, typer.Option("--date", help="The business day")],
    out_dir: Annotated[Path, typer.Option(help="Where the files go")] = Path("."),
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx")] = "csv",
    database_url: DbUrl = None,
) -> None:
    """The daily escrow report of a project: per contract, and the summary."""
    from billfold.packs.presale import PresaleDesk

    with open_engine(database_url) as engine:
        files = PresaleDesk(engine).daily_report(
            bureau_code, day_option(on, "--date"), out_dir, fmt
        )
    for path in files:
        out.print(str(path))
