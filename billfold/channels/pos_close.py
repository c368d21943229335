"""批结算, a POS batch close: the terminal's totals and lines against billfold's own records.

The batch is closed either way (the terminal has moved on to its next batch); a mismatch is
recorded with the batch and announced in a ``pos.batch_closed`` event. Closing a closed
batch again changes nothing and answers the comparison again. The comparison itself is pure
(:mod:`billfold.channels.pos_batch`); this module reads both sides and records the close.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from billfold.channels.ports import ChannelHost, ChannelsUnitOfWork, PosRepository
from billfold.channels.pos_batch import (
    Batch,
    BatchClose,
    BatchLine,
    BatchStatus,
    BatchTotals,
    Terminal,
    billfold_lines,
    check_lines,
    compare_lines,
    txn_id,
    validate_number,
    validate_terminal_id,
)
from billfold.channels.pos_terminals import registered
from billfold.clock import business_date
from billfold.errors import InvalidInput, InvariantViolated

__all__ = ["close_batch"]


def close_batch(
    host: ChannelHost,
    terminal_id: str,
    batch_no: str,
    totals: BatchTotals,
    lines: Sequence[BatchLine],
) -> BatchClose:
    """Compare the terminal's upload with billfold's records and close the batch."""
    uploaded = _checked_upload(terminal_id, batch_no, totals, lines)
    now = host.clock.now()
    with host.uow() as uow:
        terminal = registered(uow.pos, terminal_id)
        batch = _batch(uow, terminal, batch_no, now)
        ours = _billfold_side(uow.pos, terminal, batch_no)
        result = BatchClose(
            terminal_id,
            batch_no,
            totals,
            BatchTotals.of(ours),
            compare_lines(uploaded, ours),
            already_closed=batch.status is BatchStatus.CLOSED,
        )
        report = _report(result)
        text = json.dumps(report, ensure_ascii=False, sort_keys=True)
        if uow.pos.close_batch(batch.id, result.agreed, text, now):
            uow.outbox.add("pos.batch_closed", terminal.biller_id, report, now)
        uow.commit()
        return result


def _checked_upload(
    terminal_id: str, batch_no: str, totals: BatchTotals, lines: Sequence[BatchLine]
) -> list[BatchLine]:
    """The terminal's lines, refused (naming the field) unless its totals add up from them."""
    validate_terminal_id(terminal_id)
    validate_number(batch_no, "batch_no")
    uploaded = check_lines(lines)
    if BatchTotals.of(uploaded) != totals:
        raise InvalidInput(
            f"totals: the terminal's totals ({totals}) do not add up from its own lines "
            f"({BatchTotals.of(uploaded)})"
        )
    return uploaded


def _batch(uow: ChannelsUnitOfWork, terminal: Terminal, batch_no: str, now: datetime) -> Batch:
    """The batch, locked; opened now if the terminal never sent a message in it."""
    found = uow.pos.batch(terminal.id, batch_no, lock=True)
    if found is not None:
        return found
    biller = uow.billers.get(terminal.biller_id)
    if biller is None:
        raise InvariantViolated("biller is missing")
    return uow.pos.open_batch(terminal.id, batch_no, business_date(now, biller.timezone), now)


def _billfold_side(repo: PosRepository, terminal: Terminal, batch_no: str) -> list[BatchLine]:
    """The batch as the core's payments and refunds record it (``terminal:batch:trace``)."""
    prefix = txn_id(terminal.terminal_id, batch_no, "")
    return billfold_lines(
        repo.batch_sales(prefix),
        repo.batch_voids(terminal.id, batch_no),
        repo.batch_refunds(prefix),
    )


def _report(result: BatchClose) -> dict[str, Any]:
    return {
        "terminal_id": result.terminal_id,
        "batch_no": result.batch_no,
        "agreed": result.agreed,
        "terminal": asdict(result.terminal),
        "billfold": asdict(result.billfold),
        "differing_traces": result.differing_traces,
        "differences": [str(d) for d in result.differences],
    }
