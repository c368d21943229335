"""``billfold settle``: settlement batches per biller per business date.

* ``billfold settle draft --biller s1 --date 2026-09-01 --by clerk`` (again: redraft)
* ``billfold settle approve BATCH --by boss`` → ``pay BATCH --by cashier --out payout.csv``
  → ``confirm BATCH --by cashier``; ``discard BATCH`` throws a draft away
* ``billfold settle list`` / ``show BATCH`` / ``payout BATCH --out FILE``
* ``billfold settle profile s1 --split '6222…|食堂|农业银行|30%'``
  ``--split '6222…|一中|工商银行|rest' --by ops --reason …``

A split part is ``ACCOUNT|NAME|BANK|SHARE[|MEMO]``; SHARE is ``30%`` (a percentage), ``12.50``
(a fixed amount in yuan) or ``rest``.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from billfold.adapters.cli.approvals import cli_identity, print_proposal
from billfold.adapters.cli.output import console
from billfold.adapters.cli.reconcile import WIDTH, DbUrl, fail, open_engine, parse_day
from billfold.errors import BillfoldError, InvalidInput, InvariantViolated
from billfold.labels import label
from billfold.money import format_yuan, parse_yuan

if TYPE_CHECKING:
    from billfold.settlement.batch import SettlementBatch
    from billfold.settlement.splits import SplitRule

__all__ = ["app", "parse_split"]

app = typer.Typer(help="Settlement batches: what each biller is paid, and the payout file.")
out = console(highlight=False, soft_wrap=True, width=WIDTH)


def parse_split(text: str) -> SplitRule:
    """``ACCOUNT|NAME|BANK|SHARE[|MEMO]`` → a split rule."""
    from billfold.settlement.splits import SplitKind, SplitRule

    parts = [p.strip() for p in text.split("|")]
    if len(parts) not in (4, 5):
        raise InvalidInput(f"--split: {text!r} is not ACCOUNT|NAME|BANK|SHARE[|MEMO]")
    account, name, bank, share = parts[:4]
    memo = parts[4] if len(parts) == 5 else ""
    if share.lower() == "rest":
        return SplitRule(account, name, bank, SplitKind.REST, 0, memo)
    if share.endswith("%"):
        try:
            bps = Decimal(share[:-1]) * 100
        except InvalidOperation:
            raise InvalidInput(f"--split: {share!r} is not a percentage like 30%") from None
        if bps != bps.to_integral_value():
            raise InvalidInput(f"--split: {share!r} has more than two decimals")
        return SplitRule(account, name, bank, SplitKind.PERCENT, int(bps), memo)
    return SplitRule(
        account, name, bank, SplitKind.FIXED, parse_yuan(share, field="--split amount"), memo
    )


def _describe(batch: SettlementBatch) -> dict[str, Any]:
    t = batch.totals
    return {
        "batch_no": batch.batch_no,
        "biller": batch.biller_code,
        "business_date": batch.business_date.isoformat(),
        "status": batch.status.value,
        "payments": t.payment_count,
        "gross": format_yuan(t.gross_fen),
        "refunds": t.refund_count,
        "refund_amount": format_yuan(t.refund_fen),
        "fees": format_yuan(t.fee_fen),
        "net": format_yuan(batch.net_fen),
        "held_back": t.held_back_count,
        "held_back_amount": format_yuan(t.held_back_fen),
        "parts": [
            {"account_name": p.rule.account_name, "amount": format_yuan(p.amount_fen)}
            for p in batch.parts
        ],
    }


def _print(batch: SettlementBatch, as_json: bool = False) -> None:
    info = _describe(batch)
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    out.print(
        f"{info['batch_no']} {info['biller']} {info['business_date']} [{info['status']}]: "
        f"gross {info['gross']} ({info['payments']}), refunds {info['refund_amount']} "
        f"({info['refunds']}), fees {info['fees']}, net {info['net']}"
    )
    if batch.totals.held_back_count:
        out.print(
            f"  held back until reconciled: {info['held_back']} payments "
            f"({info['held_back_amount']})"
        )
    for part in batch.parts:
        out.print(f"  → {part.rule.account_name}: {format_yuan(part.amount_fen)}")


@app.command("draft")
def draft_command(
    biller: Annotated[str, typer.Option(help="the biller's code")],
    day: Annotated[str, typer.Option("--date", help="business date")],
    by: Annotated[str, typer.Option(help="who drafts it")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    database_url: DbUrl = None,
) -> None:
    """Draft (or redraft) a biller's batch for a business date."""
    from billfold.settlement.settler import Settler

    business = parse_day(day)
    if business is None:
        raise InvariantViolated("business is missing")
    try:
        batch = Settler(open_engine(database_url)).draft(biller, business, by=by)
    except BillfoldError as exc:
        fail(exc.message)
    _print(batch, as_json)


def _step(batch_no: str, step: str, by: str, reason: str | None, url: str | None) -> None:
    from billfold.settlement.settler import Settler

    settler = Settler(open_engine(url))
    try:
        kwargs: dict[str, Any] = {"by": by}
        if reason:
            kwargs["reason"] = reason
        batch = getattr(settler, step)(batch_no, **kwargs)
    except BillfoldError as exc:
        fail(exc.message)
    _print(batch)


@app.command("approve")
def approve_command(
    batch: str,
    by: Annotated[str, typer.Option(help="who approves")],
    reason: Annotated[str | None, typer.Option(help="note")] = None,
    database_url: DbUrl = None,
) -> None:
    """draft → approved (Dr payable / Cr settlement payable); when the biller's maker-checker
    policy wants it, this proposes the approval and a second person approves it
    (`billfold approvals approve`)."""
    from billfold.maker_checker import MakerChecker
    from billfold.settlement.batch import BatchStatus
    from billfold.settlement.settler import Settler

    engine = open_engine(database_url)
    try:
        found = Settler(engine).batch(batch)
        proposal = None
        if found.status is BatchStatus.DRAFT:  # else the settler answers (a repeat) or refuses
            proposal = MakerChecker(engine).gate(
                "settlement.approve", {"batch_no": found.batch_no, "by": by},
                maker=cli_identity(by), reason=reason or "", biller_code=found.biller_code,
            )  # fmt: skip
    except BillfoldError as exc:
        fail(exc.message)
    if proposal is not None:
        print_proposal(proposal)
        return
    _step(batch, "approve", by, reason, database_url)


@app.command("pay")
def pay_command(
    batch: str,
    by: Annotated[str, typer.Option(help="who sends the payout")],
    out_file: Annotated[Path, typer.Option("--out", help="payout CSV for the bank")],
    encoding: Annotated[str, typer.Option(help="utf-8-sig (default) or gbk")] = "utf-8-sig",
    database_url: DbUrl = None,
) -> None:
    """approved → paid: write the payout file, then mark the batch paid."""
    from billfold.settlement.settler import Settler

    settler = Settler(open_engine(database_url))
    try:
        out_file.write_bytes(settler.payout_file(batch, encoding=encoding))
        done = settler.pay(batch, by=by)
    except BillfoldError as exc:
        fail(exc.message)
    _print(done)
    out.print(f"payout file: {out_file}")


@app.command("confirm")
def confirm_command(
    batch: str,
    by: Annotated[str, typer.Option(help="who confirms the bank paid")],
    database_url: DbUrl = None,
) -> None:
    """paid → confirmed (the bank debited the collection account)."""
    _step(batch, "confirm", by, None, database_url)


@app.command("discard")
def discard_command(
    batch: str,
    by: Annotated[str, typer.Option(help="who discards it")],
    reason: Annotated[str, typer.Option(help="why")],
    database_url: DbUrl = None,
) -> None:
    """Throw a draft away; its money waits for the next batch."""
    from billfold.settlement.settler import Settler

    try:
        Settler(open_engine(database_url)).discard(batch, by=by, reason=reason)
    except BillfoldError as exc:
        fail(exc.message)
    out.print(f"batch {batch} discarded")


@app.command("payout")
def payout_command(
    batch: str,
    out_file: Annotated[Path, typer.Option("--out", help="payout CSV for the bank")],
    encoding: Annotated[str, typer.Option(help="utf-8-sig (default) or gbk")] = "utf-8-sig",
    database_url: DbUrl = None,
) -> None:
    """Write an approved batch's payout file again."""
    from billfold.settlement.settler import Settler

    try:
        out_file.write_bytes(
            Settler(open_engine(database_url)).payout_file(batch, encoding=encoding)
        )
    except BillfoldError as exc:
        fail(exc.message)
    out.print(f"payout file: {out_file}")


@app.command("list")
def list_command(
    day: Annotated[str | None, typer.Option("--date", help="business date")] = None,
    biller: Annotated[str | None, typer.Option(help="the biller's code")] = None,
    status: Annotated[str | None, typer.Option(help="draft, approved, paid, confirmed")] = None,
    database_url: DbUrl = None,
) -> None:
    """List settlement batches."""
    from rich.table import Table

    from billfold.settlement.batch import BatchStatus
    from billfold.settlement.settler import Settler

    try:
        wanted = BatchStatus(status) if status else None
        batches = Settler(open_engine(database_url)).batches(
            biller_code=biller, business_date=parse_day(day), status=wanted
        )
    except ValueError:
        fail(f"--status: {status!r}; use draft, approved, paid or confirmed", 2)
    except BillfoldError as exc:
        fail(exc.message)
    table = Table(
        "结算批次号", "商户", "业务日期", "状态", "收款金额", "退款金额", "手续费", "应付净额"
    )
    for b in batches:
        t = b.totals
        table.add_row(
            b.batch_no,
            b.biller_code,
            b.business_date.isoformat(),
            label("batch_status", b.status),
            format_yuan(t.gross_fen),
            format_yuan(t.refund_fen),
            format_yuan(t.fee_fen),
            format_yuan(b.net_fen),
        )
    out.print(table)


@app.command("show")
def show_command(
    batch: str,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    database_url: DbUrl = None,
) -> None:
    """Show one batch and its split."""
    from billfold.settlement.settler import Settler

    try:
        found = Settler(open_engine(database_url)).batch(batch)
    except BillfoldError as exc:
        fail(exc.message)
    _print(found, as_json)


@app.command("profile")
def profile_command(
    biller: str,
    by: Annotated[str, typer.Option(help="who changes it (audited)")],
    reason: Annotated[str, typer.Option(help="why")],
    unreconciled: Annotated[
        bool,
        typer.Option(
            "--settle-unreconciled/--reconciled-only", help="settle before reconciliation"
        ),
    ] = False,
    split: Annotated[
        list[str] | None, typer.Option(help="ACCOUNT|NAME|BANK|SHARE[|MEMO], repeatable")
    ] = None,
    remainder: Annotated[
        str | None, typer.Option(help="who gets rounding fen: rest, largest, first, last")
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """Set a biller's settlement profile: reconciled money only or not, and split rules."""
    from billfold.settlement.settler import Profile, Settler
    from billfold.settlement.splits import Remainder

    try:
        rule = Remainder(remainder) if remainder else None
    except ValueError:
        fail(f"--remainder: {remainder!r}; use rest, largest, first or last", 2)
    try:
        rules = [parse_split(s) for s in split or []]
        Settler(open_engine(database_url)).set_profile(
            biller, Profile(unreconciled, rules, rule), actor=by, reason=reason
        )
    except BillfoldError as exc:
        fail(exc.message)
    out.print(
        f"{biller}: {'settles before reconciliation' if unreconciled else 'reconciled money only'}"
        f", {len(rules) or 'no'} split parts"
    )
