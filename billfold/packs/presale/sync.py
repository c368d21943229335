"""The sync: every credited payment of a contract (and the reversal of one booked before) and
every succeeded refund of a booked payment, booked into its project's escrow book with its
push, in one transaction. The payments table is the source, so a crash between a credit and
its booking loses nothing: the next sync finds it.

A payment made by assigning held money (:func:`billfold.packs.presale.held.assign_held`) is
booked by the assignment (``assign``), never again as a ``payment``. A refund cannot be
refused — the channel has paid it out — so one that leaves less in the account than was
released is booked all the same, and alerted (``presale.alert``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from billfold.collection.payment import PaymentStatus
from billfold.merchants.presale import Project
from billfold.merchants.services import require_biller
from billfold.money import format_yuan
from billfold.packs.host import Host
from billfold.packs.ports import PacksUnitOfWork, PresaleRepository
from billfold.packs.presale.book import book, project_pk
from billfold.settlement.escrow import ContractPayment, ContractRefund, EntryKind, totals

__all__ = ["SyncReport", "book_refund", "sync"]

log = structlog.get_logger("billfold.presale")


@dataclass(frozen=True, slots=True)
class SyncReport:
    payments: int = 0
    reversals: int = 0
    refunds: int = 0


def sync(host: Host) -> SyncReport:
    """Book every contract payment, reversal and refund not booked yet, with its push."""
    now = host.clock.now()
    payments = reversals = refunds = 0
    with host.uow() as uow:
        repo = uow.presale
        projects = {p.id: p for p in repo.projects()}
        for row in repo.contract_payments():
            kind = _to_book(repo, row)
            if kind is None:
                continue
            made = _book_payment(uow, projects[row.project_pk], row, kind, now)
            payments += made and kind is EntryKind.PAYMENT
            reversals += made and kind is EntryKind.REVERSAL
        for refund in repo.contract_refunds():
            if repo.has_entry(EntryKind.REFUND, refund.channel, refund.refund_no):
                continue
            if not _booked_in(repo, refund.channel, refund.channel_txn_id):
                continue  # never booked (reversed before a sync): nothing of it is here
            refunds += book_refund(uow, projects[refund.project_pk], refund, now)
        uow.commit()
    report = SyncReport(payments, reversals, refunds)
    if payments or reversals or refunds:
        log.info("escrow synced", payments=payments, reversals=reversals, refunds=refunds)
    return report


def _booked_in(repo: PresaleRepository, channel: str, txn: str) -> bool:
    """Is the payment's money in the book (as a payment, or as held money assigned)?"""
    return repo.has_entry(EntryKind.PAYMENT, channel, txn) or repo.has_entry(
        EntryKind.ASSIGN, channel, txn
    )


def _to_book(repo: PresaleRepository, row: ContractPayment) -> EntryKind | None:
    """What the payment still needs booked: its payment, its reversal, or nothing."""
    held = repo.has_entry(EntryKind.HELD, row.channel, row.channel_txn_id)
    if held and row.status != PaymentStatus.REVERSED.value:
        return None  # held money assigned to the contract: the assignment booked it
    booked = _booked_in(repo, row.channel, row.channel_txn_id)
    if row.status == PaymentStatus.CREDITED.value:
        return None if booked else EntryKind.PAYMENT
    if booked and not repo.has_entry(EntryKind.REVERSAL, row.channel, row.channel_txn_id):
        return EntryKind.REVERSAL
    return None


def _book_payment(
    uow: PacksUnitOfWork,
    project: Project,
    row: ContractPayment,
    kind: EntryKind,
    now: datetime,
) -> bool:
    paid = kind is EntryKind.PAYMENT
    made = book(
        uow,
        project,
        kind,
        row.channel,
        row.channel_txn_id,
        row.amount_fen,
        row.paid_at if paid else now,
        contract_no=row.contract_no,
        payment_id=row.payment_id,
        note="购房款" if paid else "冲正/撤销",
        now=now,
    )
    return made is not None


def book_refund(uow: PacksUnitOfWork, project: Project, row: ContractRefund, now: datetime) -> int:
    """Book one succeeded refund (1), or nothing when another sync booked it (0); alert
    when it leaves the balance below 0."""
    made = book(
        uow,
        project,
        EntryKind.REFUND,
        row.channel,
        row.refund_no,
        row.amount_fen,
        row.completed_at,
        contract_no=row.contract_no,
        payment_id=row.payment_id,
        note=f"退款 原交易 {row.channel}/{row.channel_txn_id}",
        now=now,
    )
    if made is None:
        return 0
    ledger = totals(uow.presale.entries(project_pk(project)))
    if ledger.balance_fen < 0:
        why = (
            f"refund {row.refund_no} of {format_yuan(row.amount_fen)} on contract "
            f"{row.contract_no} leaves {format_yuan(ledger.net_received_fen)} received against "
            f"{format_yuan(ledger.released_fen)} released: the balance is "
            f"{format_yuan(ledger.balance_fen)}"
        )
        alert = {
            "bureau_code": project.bureau_code,
            "escrow_account": project.escrow_account_no,
            "channel": row.channel,
            "ref": row.refund_no,
            "contract_no": row.contract_no,
            "amount": format_yuan(row.amount_fen),
            "amount_fen": row.amount_fen,
            "balance_fen": ledger.balance_fen,
            "reason": why,
        }
        uow.outbox.add("presale.alert", require_biller(uow, project.developer).id, alert, now)
        log.warning(
            "escrow overdrawn by a refund",
            bureau_code=project.bureau_code,
            refund_no=row.refund_no,
            balance_fen=ledger.balance_fen,
        )
    return 1
