"""Held money: money into a supervised account that names no contract of the project is held
(booked, alerted, pushed — never dropped, never a buyer's); once the buyer is known it is
assigned to the contract, which pays the buyer's bill through the confirmation path."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import structlog

from billfold.collection.confirming import confirm_payment
from billfold.collection.order import Order
from billfold.collection.ordering import NewOrder, create_order
from billfold.collection.payment import Confirmation, PaymentRecord
from billfold.errors import Conflict, InvalidInput, InvariantViolated, NotFound
from billfold.merchants.presale import Project
from billfold.merchants.services import require_biller
from billfold.money import format_yuan
from billfold.packs.host import Host
from billfold.packs.presale.book import book, held_id_of, require_project
from billfold.settlement.escrow import EntryKind, EscrowEntry

__all__ = ["assign_held", "receive_unmatched"]

log = structlog.get_logger("billfold.presale")


def receive_unmatched(
    host: Host,
    bureau_code: str,
    channel: str,
    ref: str,
    amount_fen: int,
    *,
    paid_at: datetime,
    contract_no: str | None = None,
    payer: str = "",
) -> EscrowEntry:
    """Money into the supervised account that names no contract of the project (or an
    unknown one): held, alerted and pushed. The same transaction again returns the entry
    booked the first time."""
    if amount_fen <= 0:
        raise InvalidInput(f"amount: must be more than 0.00, not {format_yuan(amount_fen)}")
    if not ref.strip() or len(ref) > 64:
        raise InvalidInput("ref: the transaction reference is 1-64 characters")
    now = host.clock.now()
    with host.uow() as uow:
        repo = uow.presale
        project = require_project(repo, bureau_code, lock=True)
        if contract_no is not None and repo.contract_project(contract_no) == project.id:
            raise Conflict(f"contract {contract_no} exists; pay it through the project's POS or QR")
        known = repo.entry(EntryKind.HELD, channel, ref)
        if known is not None:
            if known[0] == project.id:
                return known[1]
            raise Conflict(f"ref: {channel}/{ref} is held in another project already")
        why = f"no contract {contract_no} in project {bureau_code}" if contract_no else None
        why = why or "no contract named"
        note = _held_note(bureau_code, contract_no, payer)
        held = book(
            uow,
            project,
            EntryKind.HELD,
            channel,
            ref,
            amount_fen,
            paid_at,
            contract_no=None,
            payment_id=None,
            note=note,
            now=now,
        )
        if held is None:
            raise InvariantViolated(
                "held is missing"
            )  # the project row was locked before the check above
        developer = require_biller(uow, project.developer).id
        uow.outbox.add("presale.alert", developer, _held_alert(project, held, why), now)
        uow.commit()
    log.warning("escrow payment held", bureau_code=bureau_code, ref=ref, reason=why)
    return held


def _held_note(bureau_code: str, contract_no: str | None, payer: str) -> str:
    """Why the money is held, as the supervisor reads it in the daily report (Chinese)."""
    why = f"项目 {bureau_code} 无合同 {contract_no}" if contract_no else "未注明合同"
    return f"{why}；付款方 {payer}" if payer else why


def _held_alert(project: Project, held: EscrowEntry, why: str) -> dict[str, object]:
    return {
        "bureau_code": project.bureau_code,
        "escrow_account": project.escrow_account_no,
        "held_id": held_id_of(held),
        "channel": held.channel,
        "ref": held.ref,
        "amount": format_yuan(held.amount_fen),
        "amount_fen": held.amount_fen,
        "reason": why,
    }


@dataclass(frozen=True, slots=True)
class _Assignment:
    project: Project
    held: EscrowEntry
    bill_id: int


def _check_assignment(host: Host, held_id: str, contract_no: str) -> _Assignment:
    """The held money and the contract it may go to; refused when either is unknown, the
    money is assigned already or the contract is of another project."""
    channel, _, ref = held_id.partition("/")
    with host.uow() as uow:
        repo = uow.presale
        found = repo.entry(EntryKind.HELD, channel, ref) if ref else None
        if found is None:
            raise NotFound(f"held_id: no money is held as {held_id!r}")
        project_key, held = found
        project = next(p for p in repo.projects() if p.id == project_key)
        done = repo.entry(EntryKind.ASSIGN, channel, ref)
        if done is not None:
            raise Conflict(
                f"held_id: {held_id} was assigned to contract {done[1].contract_no} already"
            )
        owner, bill_id = repo.contract_project(contract_no), repo.contract_bill(contract_no)
        if owner is None or bill_id is None:
            raise NotFound(f"contract_no: no contract {contract_no!r}")
        if owner != project_key:
            raise Conflict(
                f"contract_no: contract {contract_no} is not of project "
                f"{project.bureau_code}, where {held_id} is held"
            )
    return _Assignment(project, held, bill_id)


def _credit_contract(host: Host, job: _Assignment, contract_no: str) -> PaymentRecord:
    """Pay the contract's bill with the held money through the one exactly-once path: an
    order for the held amount (keyed by the held money, so a rerun finds it) confirmed as
    the held transaction (unique per channel and reference, so a rerun credits nothing)."""
    held = job.held
    order: Order = create_order(
        host.uow(),
        host.clock,
        NewOrder(
            biller_code=job.project.developer,
            bill_nos=(contract_no,),
            amount_fen=held.amount_fen,
            channel=held.channel,
            idempotency_key=_order_key(held),
        ),
    )
    if [line.bill_id for line in order.lines] != [job.bill_id]:
        raise Conflict(f"held_id: {held_id_of(held)} is being assigned to another contract")
    confirmation = Confirmation(
        held.channel, held.ref, order.order_no, held.amount_fen, held.occurred_at
    )
    result = confirm_payment(host.uow(), host.clock, confirmation)
    if result.payment.order_id != order.id or not result.credited:
        raise Conflict(
            f"held_id: {held_id_of(held)} could not pay contract {contract_no}: the payment "
            f"is {result.payment.status.value} ({result.payment.reason or 'another order'})"
        )
    return result.payment


def _order_key(held: EscrowEntry) -> str:
    """The assignment order's idempotency key (≤ 64 characters): one order per held money."""
    digest = hashlib.sha256(held_id_of(held).encode("utf-8")).hexdigest()
    return f"escrow-assign:{digest[:40]}"


def assign_held(host: Host, held_id: str, contract_no: str, by: str, reason: str) -> EscrowEntry:
    """Move money held without a contract (``held_id`` is ``<channel>/<ref>``, as the alert
    names it) onto a contract of the same project, once: the buyer's bill is credited through
    the confirmation path, and an ``assign`` entry moves the money from held to the buyers'
    account, pushed to the bureau and audited. Refused, changing nothing, when the held money
    is unknown or assigned already, or the contract is unknown or of another project.

    The credit and the booking are two transactions; a crash between them is finished by
    running the assignment again (the credit is not repeated), and a sync meanwhile does not
    book the credited payment as a contract payment (it is held money)."""
    if not by.strip():
        raise InvalidInput("by: who assigns the held money is required")
    if not reason.strip():
        raise InvalidInput("reason: why the held money belongs to the contract is required")
    job = _check_assignment(host, held_id, contract_no)
    payment = _credit_contract(host, job, contract_no)
    now = host.clock.now()
    held = job.held
    with host.uow() as uow:
        made = book(
            uow,
            job.project,
            EntryKind.ASSIGN,
            held.channel,
            held.ref,
            held.amount_fen,
            now,
            contract_no=contract_no,
            payment_id=payment.id,
            note=reason,
            now=now,
        )
        if made is None:
            raise Conflict(f"held_id: {held_id} was assigned meanwhile")
        uow.audit.append(
            actor=by,
            action="presale.assign_held",
            target_type="escrow_entry",
            target_id=held_id,
            reason=reason,
            before={"contract_no": None, "held": format_yuan(held.amount_fen)},
            after={"contract_no": contract_no, "amount": format_yuan(held.amount_fen)},
            now=now,
        )
        uow.commit()
    log.info("escrow held money assigned", bureau_code=job.project.bureau_code, held=held_id)
    return made
