"""Bank transfer files for refunds the channels could not pay back, and their confirmation
from the bank statement.

:func:`file_transfers` puts every approved bank-transfer refund into one CSV the bank takes
(the settlement payout file's columns, UTF-8 with a BOM or GBK as the payout file, account
numbers whole because the bank needs them, and a last ``合计`` line with the count and the
total as control totals), moves each refund to *in transfer* and journals it (refunds payable
→ refund transfers in transit), all in one transaction. :func:`match_transfer_debits` pairs
the collection account's debit lines with the transfers by their reference (the refund
number, written in the file's 业务参考号) and amount; the bank leg of reconciliation
(:mod:`billfold.settlement.bank_run`) confirms what it pairs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from billfold.collection.numbers import new_number
from billfold.collection.ports import RefundTransferUnitOfWork, Runtime
from billfold.collection.refund import RefundStatus
from billfold.collection.refund_transfer import RefundTransfer, filed_entry
from billfold.errors import InvalidInput, InvalidTransition, NotFound
from billfold.money import format_yuan
from billfold.settlement.batch import PAYOUT_HEADER
from billfold.settlement.statement import Direction, LineStatus, StatementLine

__all__ = ["TransferFile", "file_transfers", "match_transfer_debits", "transfer_file"]

ENCODINGS = ("utf-8-sig", "gbk")


@dataclass(frozen=True, slots=True)
class TransferFile:
    file_no: str
    count: int
    total_fen: int
    content: bytes
    refund_nos: tuple[str, ...]


def _check_encoding(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise InvalidInput(f"encoding: {encoding!r}; use utf-8-sig or gbk")


def file_transfers(
    runtime: Runtime[RefundTransferUnitOfWork],
    *,
    by: str,
    refund_nos: Sequence[str] | None = None,
    encoding: str = "utf-8-sig",
) -> TransferFile:
    """Put the approved bank-transfer refunds (all, or ``refund_nos``) into a new file."""
    _check_encoding(encoding)
    if not by.strip():
        raise InvalidInput("by: say who sends the transfer file to the bank")
    now = runtime.clock.now()
    with runtime.uow() as uow:
        ready = uow.refund_transfers.ready(refund_nos)
        if refund_nos is not None:
            missing = sorted(set(refund_nos) - {t.refund_no for t in ready})
            if missing:
                raise InvalidTransition(
                    f"refund {missing[0]} is not an approved bank transfer waiting for a file"
                )
        if not ready:
            raise InvalidTransition("no approved bank-transfer refund is waiting for a file")
        file_no = new_number("RT", now)
        for transfer in ready:
            moved = uow.refunds.transition(
                transfer.refund_id, [RefundStatus.NEEDS_TRANSFER], RefundStatus.IN_TRANSFER
            )
            if not moved or not uow.refund_transfers.mark_filed(transfer.refund_id, file_no, now):
                raise InvalidTransition(
                    f"refund {transfer.refund_no} changed meanwhile; build the file again"
                )
            uow.journal.post(
                [filed_entry(transfer, file_no)],
                now,
                payment_id=transfer.payment_id,
                refund_id=transfer.refund_id,
            )
        total = sum(t.amount_fen for t in ready)
        uow.audit.append(
            actor=by.strip()[:100],
            action="refund_transfer_file",
            target_type="refund_transfer_file",
            target_id=file_no,
            reason="bank transfer file for refunds",
            before=None,
            after={"count": len(ready), "total": format_yuan(total)},
            now=now,
        )
        filed = uow.refund_transfers.in_file(file_no)
        uow.commit()
    return _file(file_no, filed, encoding)


def transfer_file(
    runtime: Runtime[RefundTransferUnitOfWork], file_no: str, *, encoding: str = "utf-8-sig"
) -> TransferFile:
    """Write a transfer file again, as it went to the bank."""
    _check_encoding(encoding)
    with runtime.uow() as uow:
        filed = uow.refund_transfers.in_file(file_no)
    if not filed:
        raise NotFound(f"transfer file {file_no!r} does not exist")
    return _file(file_no, filed, encoding)


def _file(file_no: str, transfers: Sequence[RefundTransfer], encoding: str) -> TransferFile:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(PAYOUT_HEADER)
    for number, transfer in enumerate(transfers, start=1):
        payee = transfer.payee
        if payee is None:  # the database refuses filing without an approved payee
            raise InvalidTransition(f"refund {transfer.refund_no} has no payee")
        writer.writerow(
            (
                str(number),
                payee.account_no,
                payee.name,
                payee.bank_name,
                format_yuan(transfer.amount_fen),
                f"退款 {transfer.refund_no}",
                transfer.refund_no,
            )
        )
    total = sum(t.amount_fen for t in transfers)
    writer.writerow(("合计", "", "", "", format_yuan(total), f"{len(transfers)}笔", file_no))
    try:
        content = out.getvalue().encode(encoding)
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"encoding: cannot write the transfer file as {encoding}: {exc}"
        ) from None
    return TransferFile(
        file_no, len(transfers), total, content, tuple(t.refund_no for t in transfers)
    )


def match_transfer_debits(
    lines: Sequence[StatementLine], transfers: Sequence[RefundTransfer]
) -> list[tuple[StatementLine, RefundTransfer]]:
    """Pair booked debit lines with transfers in a file: the refund number appears in the
    line's references or remittance text, and the amounts are equal. Each pairs once."""
    open_ = {t.refund_no: t for t in transfers}
    pairs: list[tuple[StatementLine, RefundTransfer]] = []
    for line in lines:
        if line.direction is not Direction.DEBIT or line.status is not LineStatus.SUCCESS:
            continue
        text = " ".join(
            p for p in (line.channel_txn_id, line.order_no, line.description, line.refund_id) if p
        )
        for refund_no, transfer in list(open_.items()):
            if refund_no in text and transfer.amount_fen == line.amount_fen:
                pairs.append((line, transfer))
                del open_[refund_no]
                break
    return pairs
