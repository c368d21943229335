"""The bank leg: each channel's credit on the collection account's statement matched to the
net its statement promised, and what arrived posted (Dr bank, Dr channel fees, Cr clearing).
Debits paying refunds sent by bank transfer confirm those refunds paid (matched by the refund
number in their reference, see :mod:`billfold.settlement.refund_transfer_file`).

A corrected bank statement takes back what the run it replaces posted and posts afresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from billfold.clock import DEFAULT_TZ
from billfold.collection.journal import JournalEntry, Posting, clearing
from billfold.collection.ports import Runtime
from billfold.collection.refund_transferring import TransferConfirmation, confirm_on
from billfold.errors import InvalidInput, InvariantViolated
from billfold.settlement.banking import (
    DEFAULT_ROUTES,
    BankMatch,
    MatchStatus,
    Promise,
    Route,
    match_credits,
    settlement_entry,
)
from billfold.settlement.channel_run import BANK_FORMATS, existing_run
from billfold.settlement.discrepancy import BANK, CHANNEL_FEES, Discrepancy
from billfold.settlement.parsers import OnError, parse
from billfold.settlement.ports import SettlementUnitOfWork
from billfold.settlement.reconcile import unreadable
from billfold.settlement.refund_transfer_file import match_transfer_debits
from billfold.settlement.run import ReconRun, RunKind
from billfold.settlement.run_record import (
    AUTO,
    RunFigures,
    RunHeader,
    RunResult,
    record_replacement,
    run_values,
)
from billfold.settlement.source import Source, chunks, fingerprint
from billfold.settlement.statement import Direction, LineStatus, LineType, StatementLine
from billfold.settlement.totals import StatementTotals

__all__ = ["BankStatement", "reconcile_bank"]


@dataclass(frozen=True, slots=True)
class BankStatement:
    """One bank statement to reconcile (see :meth:`Reconciler.reconcile_bank`)."""

    source: Source
    format: str
    business_date: date
    routes: Sequence[Route] = DEFAULT_ROUTES
    file_name: str | None = None
    encoding: str | None = None
    on_error: OnError = "reject"
    actor: str = AUTO
    reason: str = ""


def reconcile_bank(runtime: Runtime[SettlementUnitOfWork], statement: BankStatement) -> RunResult:
    """Match each channel's credit to the net its statement promised; post what arrived."""
    if statement.format not in BANK_FORMATS:
        raise InvalidInput(
            f"format: {statement.format} is not a bank statement (camt053, camt054, mt940)"
        )
    sha, default_name = fingerprint(statement.source)
    name = statement.file_name or default_name
    reader = parse(
        chunks(statement.source),
        statement.format,
        source_file=name,
        on_error=statement.on_error,
        encoding=statement.encoding,
    )
    lines = list(reader)
    accounts = sorted({line.merchant_id for line in lines if line.merchant_id})
    account = accounts[0] if len(accounts) == 1 else ""
    day = statement.business_date
    head = RunHeader(
        RunKind.BANK, "bank", account, day, statement.format, name, sha, DEFAULT_TZ, False
    )
    now = runtime.clock.now()
    with runtime.uow() as uow:
        recon = uow.recon
        recon.lock_slot(RunKind.BANK, "bank", account, day)
        current = recon.current_run(RunKind.BANK, "bank", account, day)
        if current is not None and current.file_sha256 == sha:
            uow.rollback()
            return existing_run(runtime, current)
        promises = recon.open_promises(day, exclude_bank_run=current.id if current else None)
        matches, found = match_credits(lines, promises, statement.routes, tz=DEFAULT_TZ)
        found.extend(unreadable(error, "bank") for error in reader.errors)
        figures = _figures(lines, matches, promises, len(reader.errors), found)
        revision = recon.next_revision(RunKind.BANK, "bank", account, day)
        run_id = recon.insert_run(run_values(head, revision, figures, statement.actor, now))
        recon.insert_bank_settlements([_settlement_row(run_id, m) for m in matches])
        entries = [e for e in (settlement_entry(m) for m in matches) if e is not None]
        if current is not None:
            entries.extend(_undo_settlements(recon.bank_settlements(current.id)))
            record_replacement(uow, current, run_id, statement.actor, statement.reason, now)
        if entries:
            uow.journal.post(entries, now)
        recon.insert_discrepancies(run_id, found, now, AUTO)
        _confirm_transfers(uow, lines, name, statement.actor, now)
        run: ReconRun | None = recon.run(run_id)
        stored = recon.discrepancies(run_id=run_id)
        uow.commit()
    if run is None:
        raise InvariantViolated("run is missing")
    return RunResult(run, True, stored, current)


def _confirm_transfers(
    uow: SettlementUnitOfWork,
    lines: Sequence[StatementLine],
    name: str,
    actor: str,
    now: datetime,
) -> None:
    """Refunds sent by bank transfer that the statement shows leaving: confirmed paid."""
    transfers = uow.refund_transfers.in_transfer()
    for line, transfer in match_transfer_debits(lines, transfers) if transfers else ():
        how = TransferConfirmation(
            actor, f"bank statement {name} line {line.source_line}", line.channel_txn_id or name
        )
        confirm_on(uow, transfer.refund_no, how, now)


def _figures(
    lines: Sequence[StatementLine],
    matches: Sequence[BankMatch],
    promises: Sequence[Promise],
    quarantined: int,
    found: Sequence[Discrepancy],
) -> RunFigures:
    settled = [m for m in matches if m.status is MatchStatus.SETTLED]
    return RunFigures(
        _bank_totals(lines),
        quarantined,
        len(settled),
        sum(m.line.amount_fen for m in settled),
        len(promises),
        sum(p.net_fen for p in promises),
        len(found),
    )


def _bank_totals(lines: Sequence[StatementLine]) -> StatementTotals:
    booked = [ln for ln in lines if ln.status is LineStatus.SUCCESS]
    credits = [ln for ln in booked if ln.direction is Direction.CREDIT]
    debits = [ln for ln in booked if ln.direction is not Direction.CREDIT]
    fees = sum(ln.amount_fen for ln in debits if ln.type is LineType.FEE)
    credit_fen = sum(ln.amount_fen for ln in credits)
    debit_fen = sum(ln.amount_fen for ln in debits)
    return StatementTotals(
        line_count=len(lines),
        payment_count=len(credits),
        payment_fen=credit_fen,
        refund_count=len(debits),
        refund_fen=debit_fen,
        fee_fen=fees,
        net_fen=credit_fen - debit_fen,
    )


def _settlement_row(run_id: int, match: BankMatch) -> dict[str, Any]:
    promise = match.promise
    return {
        "bank_run_id": run_id,
        "channel_run_id": promise.run_id if promise else None,
        "channel": match.channel,
        "settles_date": promise.business_date if promise else None,
        "status": match.status.value,
        "expected_fen": promise.net_fen if promise else None,
        "received_fen": match.line.amount_fen,
        "fee_fen": promise.fee_fen if promise else 0,
        "bank_ref": match.line.channel_txn_id[:64],
        "source_file": match.line.source_file[:255],
        "source_line": match.line.source_line,
        "booked_at": match.line.occurred_at,
    }


def _undo_settlements(rows: Sequence[dict[str, Any]]) -> list[JournalEntry]:
    """Take back what a superseded bank run posted (its replacement posts afresh)."""
    undo: list[JournalEntry] = []
    for row in rows:
        if row["channel_run_id"] is None or row["channel"] is None:
            continue
        received, fees = int(row["received_fen"]), int(row["fee_fen"])
        undo.append(
            JournalEntry.build(
                "channel_settlement_undone",
                [
                    Posting(BANK, -received),
                    Posting(CHANNEL_FEES, -fees),
                    Posting(clearing(row["channel"]), received + fees),
                ],
                memo=f"{row['channel']} settlement {row['bank_ref']} replaced by a corrected "
                "statement",
            )
        )
    return undo
