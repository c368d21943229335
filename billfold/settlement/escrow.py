"""The escrow ledger of a supervised presale project, as pure values and rules.

Money into the supervised account is a ``payment`` against a buyer's contract (undone by a
``reversal``), or ``held`` when it names no contract (kept, alerted, never counted as a
buyer's) until an ``assign`` moves it onto a contract; money out is a ``refund`` to a buyer
(through the channel the buyer paid by) or a ``release`` to the developer. A release is
allowed up to the cumulative share of the money received (less refunds) that the highest
reached construction stage allows, and never beyond the balance.

Every entry of the book is a balanced entry of the double-entry journal
(:func:`journal_entry`) on the project's three accounts (sign convention of
:mod:`billfold.collection.journal`: debit > 0):

* ``escrow:<bureau code>`` — the money in the supervised account (asset);
* ``escrow_buyers:<bureau code>`` — buyers' money in it not yet released (liability); each
  posting carries the contract's bill id;
* ``escrow_held:<bureau code>`` — money in it that names no contract yet (liability).

A payment or assigned held money credits ``escrow_buyers``; a reversal, refund or release
debits it; held money credits ``escrow_held`` until assigned. The stored book reads its
amounts back from the journal, so the reports and the journal cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from billfold.collection.journal import JournalEntry, Posting
from billfold.merchants.presale import Milestone
from billfold.money import format_yuan

if TYPE_CHECKING:  # the sheets' module (CSV, XLSX) is imported when a sheet is made
    from billfold.settlement.exports import Cell, Sheet

__all__ = [
    "ContractPayment",
    "ContractRefund",
    "EntryKind",
    "EscrowEntry",
    "EscrowTotals",
    "ReleaseRefusal",
    "ReleaseRoom",
    "check_release",
    "contract_sheet",
    "escrow",
    "escrow_buyers",
    "escrow_held",
    "journal_entry",
    "reached_stage",
    "release_room",
    "summary_sheet",
    "totals",
]


class EntryKind(StrEnum):
    PAYMENT = "payment"
    REVERSAL = "reversal"
    HELD = "held"
    RELEASE = "release"
    REFUND = "refund"  # a succeeded refund of a booked contract payment: money out to the buyer
    ASSIGN = "assign"  # held money moved onto a contract of the project: held -> received


@dataclass(frozen=True, slots=True)
class EscrowEntry:
    seq: int
    kind: EntryKind
    channel: str
    ref: str
    contract_no: str | None
    amount_fen: int  # always positive; the kind gives the direction
    business_date: date
    occurred_at: datetime
    note: str = ""
    payment_id: int | None = None


def escrow(bureau_code: str) -> str:
    return f"escrow:{bureau_code}"


def escrow_buyers(bureau_code: str) -> str:
    return f"escrow_buyers:{bureau_code}"


def escrow_held(bureau_code: str) -> str:
    return f"escrow_held:{bureau_code}"


def journal_memo(bureau_code: str, entry: EscrowEntry) -> str:
    """The journal memo of a book entry: unique per project and number (≤ 200 characters)."""
    return f"escrow {bureau_code} #{entry.seq:08d} {entry.kind.value} {entry.channel}/{entry.ref}"


def journal_entry(bureau_code: str, entry: EscrowEntry, bill_id: int | None) -> JournalEntry:
    """The balanced journal entry of a book entry; ``bill_id`` is the contract's bill (None
    for held money and releases, which belong to no contract)."""
    cash, buyers, held = escrow(bureau_code), escrow_buyers(bureau_code), escrow_held(bureau_code)
    amount = entry.amount_fen
    debit, credit = {
        EntryKind.PAYMENT: (cash, buyers),
        EntryKind.REVERSAL: (buyers, cash),
        EntryKind.REFUND: (buyers, cash),
        EntryKind.RELEASE: (buyers, cash),
        EntryKind.HELD: (cash, held),
        EntryKind.ASSIGN: (held, buyers),
    }[entry.kind]
    postings = [
        Posting(debit, amount, bill_id if debit == buyers else None),
        Posting(credit, -amount, bill_id if credit == buyers else None),
    ]
    return JournalEntry.build(
        f"escrow_{entry.kind.value}", postings, journal_memo(bureau_code, entry)
    )


@dataclass(frozen=True, slots=True)
class ContractPayment:
    """A credited or reversed payment of a contract's bill, as the sync books it."""

    payment_id: int
    channel: str
    channel_txn_id: str
    amount_fen: int
    paid_at: datetime
    status: str
    contract_no: str
    project_pk: int


@dataclass(frozen=True, slots=True)
class ContractRefund:
    """A succeeded refund of a contract payment, with the payment's channel transaction."""

    refund_id: int
    refund_no: str
    amount_fen: int
    completed_at: datetime
    payment_id: int
    channel: str
    channel_txn_id: str
    contract_no: str
    project_pk: int


@dataclass(frozen=True, slots=True)
class EscrowTotals:
    received_fen: int  # payments less reversals, plus held money assigned to contracts
    held_fen: int  # held, less what was assigned since
    released_fen: int
    refunded_fen: int = 0

    @property
    def net_received_fen(self) -> int:
        """Buyers' money that came in and stayed: what the release limit is a share of."""
        return self.received_fen - self.refunded_fen

    @property
    def balance_fen(self) -> int:
        """Buyers' money still in the account (held money is not the buyers' yet). Below 0
        only when a refund went out after more had been released than stayed."""
        return self.received_fen - self.refunded_fen - self.released_fen


def totals(entries: Iterable[EscrowEntry], through: date | None = None) -> EscrowTotals:
    received = held = released = refunded = 0
    for e in entries:
        if through is not None and e.business_date > through:
            continue
        if e.kind is EntryKind.PAYMENT:
            received += e.amount_fen
        elif e.kind is EntryKind.REVERSAL:
            received -= e.amount_fen
        elif e.kind is EntryKind.HELD:
            held += e.amount_fen
        elif e.kind is EntryKind.ASSIGN:
            held -= e.amount_fen
            received += e.amount_fen
        elif e.kind is EntryKind.REFUND:
            refunded += e.amount_fen
        else:
            released += e.amount_fen
    return EscrowTotals(received, held, released, refunded)


def reached_stage(stages: Sequence[Milestone], on: date) -> Milestone | None:
    """The furthest stage reached on or before ``on``."""
    reached = [m for m in stages if m.reached_on is not None and m.reached_on <= on]
    return max(reached, key=lambda m: m.cumulative_bps) if reached else None


@dataclass(frozen=True, slots=True)
class ReleaseRefusal:
    code: str  # no_stage, over_limit, over_balance, not_positive
    message: str


@dataclass(frozen=True, slots=True)
class ReleaseRoom:
    """What the reached stage lets the developer have: ``limit_fen`` in all (the stage's
    share of the money received less refunds), ``room_fen`` more after what was released."""

    stage: Milestone | None
    base_fen: int
    limit_fen: int
    room_fen: int


def release_room(book: EscrowTotals, stages: Sequence[Milestone], on: date) -> ReleaseRoom:
    stage = reached_stage(stages, on)
    base = book.net_received_fen
    if stage is None:
        return ReleaseRoom(None, base, 0, 0)
    limit = max(0, base) * stage.cumulative_bps // 10_000
    return ReleaseRoom(stage, base, limit, max(0, limit - book.released_fen))


def check_release(
    amount_fen: int, book: EscrowTotals, stages: Sequence[Milestone], on: date
) -> ReleaseRefusal | None:
    """Why a release of ``amount_fen`` may not be made on ``on``; ``None`` if it may."""
    asked = format_yuan(amount_fen)
    if amount_fen <= 0:
        return ReleaseRefusal("not_positive", f"release of {asked} refused: must be more than 0.00")
    room = release_room(book, stages, on)
    stage = room.stage
    if stage is None:
        return ReleaseRefusal(
            "no_stage", f"release of {asked} refused: no construction milestone is reached yet"
        )
    if amount_fen > room.room_fen:
        share = f"{stage.cumulative_bps / 100:g}%"
        return ReleaseRefusal(
            "over_limit",
            f"release of {asked} refused: stage {stage.stage} ({stage.name}) allows {share} of "
            f"{format_yuan(room.base_fen)} received = {format_yuan(room.limit_fen)} in all; "
            f"{format_yuan(book.released_fen)} already released, at most "
            f"{format_yuan(room.room_fen)} more",
        )
    if amount_fen > book.balance_fen:  # defensive: the stage limit never exceeds it
        return ReleaseRefusal(
            "over_balance",
            f"release of {asked} refused: the escrow balance is {format_yuan(book.balance_fen)}",
        )
    return None


@dataclass(frozen=True, slots=True)
class ContractRow:
    contract_no: str
    unit_no: str
    buyer_masked: str
    total_fen: int


def _assigned_through(entries: Sequence[EscrowEntry], day: date) -> dict[tuple[str, str], str]:
    """Held money assigned to a contract by the end of ``day``: (channel, ref) -> contract."""
    return {
        (e.channel, e.ref): e.contract_no or ""
        for e in entries
        if e.kind is EntryKind.ASSIGN and e.business_date <= day
    }


def _held_rows(day: date, entries: Sequence[EscrowEntry]) -> list[tuple[Cell, ...]]:
    """Held money that came in that day, is still held at its end, or was assigned that day:
    当日暂挂 is what came in that day, 暂挂金额 what is still held at the end of it."""
    assigned = _assigned_through(entries, day)
    assigned_today = {
        (e.channel, e.ref) for e in entries if e.kind is EntryKind.ASSIGN and e.business_date == day
    }
    rows: list[tuple[Cell, ...]] = []
    for e in entries:
        key = (e.channel, e.ref)
        if e.kind is not EntryKind.HELD or e.business_date > day:
            continue
        if e.business_date != day and key in assigned and key not in assigned_today:
            continue  # assigned on an earlier day: in that contract's figures since
        came_in = e.amount_fen if e.business_date == day else 0
        still = 0 if key in assigned else e.amount_fen
        note = f"{e.note}（已归集至合同 {assigned[key]}）" if key in assigned else e.note
        rows.append(("暂挂", e.ref, "", note, 0, 0, 0, 0, 0, came_in, still, 0))
    return rows


def contract_sheet(
    day: date, contracts: Sequence[ContractRow], entries: Sequence[EscrowEntry]
) -> Sheet:
    """Per contract: price, received that day (payments less reversals, plus held money
    assigned to it), received in all net of refunds, refunded that day; then held money (no
    contract: 当日暂挂 what came in that day, 暂挂金额 what is still held — it is nobody's
    yet, so never 入账) and every release up to the day (当日拨付 that day's, 累计拨付 all).

    Each money column sums to the summary's column of the same name
    (:func:`summary_sheet`), so 期末余额 = 累计入账 − 累计拨付 can be read off either file."""
    rows: list[tuple[Cell, ...]] = []
    for c in contracts:
        mine = [e for e in entries if e.contract_no == c.contract_no]
        today = totals(e for e in mine if e.business_date == day)
        cumulative = totals(mine, through=day).net_received_fen
        rows.append(
            (
                "合同",
                c.contract_no,
                c.unit_no,
                c.buyer_masked,
                c.total_fen,
                today.received_fen,
                0,
                cumulative,
                today.refunded_fen,
                0,
                0,
                0,
            )
        )
    rows += _held_rows(day, entries)
    for e in entries:
        if e.kind is EntryKind.RELEASE and e.business_date <= day:
            today_fen = e.amount_fen if e.business_date == day else 0
            rows.append(("拨付", e.ref, "", e.note, 0, 0, today_fen, 0, 0, 0, 0, e.amount_fen))
    from billfold.settlement.exports import Sheet

    return Sheet(
        f"监管账户日报 {day}",
        [
            ("类型", "text"),
            ("合同编号/流水", "text"),
            ("房号", "text"),
            ("购房人/说明", "text"),
            ("合同总价", "money"),
            ("当日入账", "money"),
            ("当日拨付", "money"),
            ("累计入账", "money"),
            ("当日退款", "money"),
            ("当日暂挂", "money"),
            ("暂挂金额", "money"),
            ("累计拨付", "money"),
        ],
        rows,
    )


def summary_sheet(
    day: date, bureau_code: str, project: str, account: str, entries: Sequence[EscrowEntry]
) -> Sheet:
    """One line: opening balance, received, released, closing balance, held, refunded
    (closing = opening + received - released - refunded), then — added later, so last —
    received in all net of refunds, released in all (closing = the one less the other) and
    the held money that came in that day. Every column the detail (:func:`contract_sheet`)
    has too is the sum of the detail's."""
    before = [e for e in entries if e.business_date < day]
    on = [e for e in entries if e.business_date == day]
    opening, moved = totals(before), totals(on)
    closing = totals(entries, through=day)
    came_in = sum(e.amount_fen for e in on if e.kind is EntryKind.HELD)
    row: tuple[Cell, ...] = (
        day.isoformat(),
        bureau_code,
        project,
        account,
        opening.balance_fen,
        moved.received_fen,
        moved.released_fen,
        closing.balance_fen,
        closing.held_fen,
        moved.refunded_fen,
        closing.net_received_fen,
        closing.released_fen,
        came_in,
    )
    from billfold.settlement.exports import Sheet

    return Sheet(
        f"监管账户汇总 {day}",
        [
            ("业务日期", "text"),
            ("监管编号", "text"),
            ("项目", "text"),
            ("监管账户", "text"),
            ("期初余额", "money"),
            ("当日入账", "money"),
            ("当日拨付", "money"),
            ("期末余额", "money"),
            ("暂挂金额", "money"),
            ("当日退款", "money"),
            ("累计入账", "money"),
            ("累计拨付", "money"),
            ("当日暂挂", "money"),
        ],
        [row],
    )
