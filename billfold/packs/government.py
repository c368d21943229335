"""Government fees and fines, end to end: an office's fee catalogue, bills priced from it,
fines looked up by decision number with the statutory penalty as of now, and one receipt per
payment.

Use cases over the engine's unit of work, like :class:`~billfold.settlement.reconciler.
Reconciler`; the rules themselves are pure (:mod:`billfold.merchants.fee_catalogue`,
:mod:`billfold.collection.fines`, :mod:`billfold.collection.receipt`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date

import structlog

from billfold.channels.pdf_render import receipt_page, render_pdf
from billfold.collection.bill import Bill, BillItem, BillKind
from billfold.collection.fines import FINE_PENALTY_RULE, FineQuote, quote_fine, validate_decision_no
from billfold.collection.importer import add_bill
from billfold.collection.payer import IdentifierKind, Payer
from billfold.collection.payment import PaymentStatus
from billfold.collection.receipt import (
    Receipt,
    ReceiptLine,
    masked_payer,
    receipt_no,
    token_receipt_no,
)
from billfold.errors import Conflict, InvalidInput, InvariantViolated, NotFound
from billfold.merchants.biller import Biller
from billfold.merchants.fee_catalogue import FeeItem, amount_on, current_items
from billfold.merchants.services import require_biller
from billfold.money import format_yuan
from billfold.packs import host as core
from billfold.packs.host import Host, pk

__all__ = ["Government", "receipt_verify_url"]

log = structlog.get_logger("billfold.government")


def receipt_verify_url(base_url: str, receipt: Receipt) -> str:
    """The receipt's verification page (``/pay/r/{token}``) under ``base_url``; a receipt
    issued before verification tokens has none (:class:`~billfold.errors.Conflict`)."""
    if not receipt.verifiable:
        raise Conflict(
            f"receipt {receipt.receipt_no} was issued before receipts carried a verification "
            "code; it has no verification page"
        )
    return core.payer_url(base_url, f"/pay/r/{receipt.verify_token()}")


class Government:
    """The government-fees desk over its host's unit of work (an Engine, or any runtime)."""

    def __init__(self, host: Host) -> None:
        self.host = host

    # -- the fee catalogue ---------------------------------------------------------------
    def set_fee(self, office: str, item: FeeItem, *, actor: str, reason: str = "") -> bool:
        """Add a catalogue entry (audited). The same entry again changes nothing (``False``);
        a different amount or name for an item and date already listed is refused."""
        now = self.host.clock.now()
        with self.host.uow() as uow:
            biller = require_biller(uow, office)
            repo = uow.gov
            same_day = [
                e
                for e in repo.fee_items(pk(biller))
                if e.item_code == item.item_code and e.effective_from == item.effective_from
            ]
            if same_day:
                if same_day[0] == item:
                    return False
                raise Conflict(
                    f"fee item {item.item_code} already costs "
                    f"{format_yuan(same_day[0].amount_fen)} from {item.effective_from}; "
                    "add an entry with a later effective date instead"
                )
            repo.add_fee_item(pk(biller), item, now)
            uow.audit.append(
                actor=actor,
                action="gov.fee_item",
                target_type="biller",
                target_id=f"{office}/{item.item_code}",
                reason=reason,
                before=None,
                after={
                    "name": item.name,
                    "amount": format_yuan(item.amount_fen),
                    "effective_from": item.effective_from.isoformat(),
                },
                now=now,
            )
            uow.commit()
            return True

    def catalogue(self, office: str, day: date | None = None) -> list[FeeItem]:
        """The items in force on ``day`` (default: the office's business date today)."""
        with self.host.uow() as uow:
            biller = require_biller(uow, office)
            entries = uow.gov.fee_items(pk(biller))
        return current_items(entries, day or self._today(biller))

    def fee(self, office: str, item_code: str, day: date | None = None) -> FeeItem:
        with self.host.uow() as uow:
            biller = require_biller(uow, office)
            entries = uow.gov.fee_items(pk(biller))
        return amount_on(entries, item_code, day or self._today(biller))

    def issue_fee_bill(
        self,
        office: str,
        bill_no: str,
        payer: Payer,
        item_codes: Sequence[str],
        *,
        description: str | None = None,
    ) -> Bill:
        """A bill for catalogue items at today's standard amounts. Issuing the same bill
        number again returns the stored bill unchanged."""
        if not item_codes:
            raise InvalidInput("items: name at least one catalogue item")
        existing = self._existing(office, bill_no)
        if existing is not None:
            return existing
        biller = core.biller(self.host, office)
        today = self._today(biller)
        with self.host.uow() as uow:
            entries = uow.gov.fee_items(pk(biller))
        items = []
        for position, code in enumerate(item_codes, start=1):
            entry = amount_on(entries, code, today)
            items.append(BillItem(entry.item_code, entry.name, entry.amount_fen, priority=position))
        bill = Bill(0, bill_no, 0, items, due_date=today, description=description)
        return add_bill(self.host.uow(), self.host.clock, office, payer, bill)

    # -- fines ---------------------------------------------------------------------------
    def add_fine(
        self,
        office: str,
        decision_no: str,
        *,
        party: str,
        fine_fen: int,
        deadline: date,
        description: str = "罚款",
        phone: str | None = None,
    ) -> Bill:
        """A fine (罚款) as a bill numbered by its decision; the statutory penalty applies
        after ``deadline``. The same decision again returns the stored bill."""
        decision_no = validate_decision_no(decision_no)
        if fine_fen <= 0:
            raise InvalidInput(f"fine: amount must be more than 0.00, not {format_yuan(fine_fen)}")
        existing = self._existing(office, decision_no)
        if existing is not None:
            return existing
        payer = Payer(IdentifierKind.DECISION_NO, decision_no, name=party, phone=phone)
        bill = Bill(
            0,
            decision_no,
            0,
            [BillItem("fine", description, fine_fen)],
            kind=BillKind.FINE,
            due_date=deadline,
            late_fee_rule=FINE_PENALTY_RULE,
            decision_no=decision_no,
            description=description,
        )
        return add_bill(self.host.uow(), self.host.clock, office, payer, bill)

    def lookup_fine(self, decision_no: str) -> tuple[Biller, Bill, FineQuote]:
        """The unpaid fine with this decision number and what it costs now (fine + 加处罚款)."""
        value = decision_no.strip()
        with self.host.uow() as uow:
            bills = [b for b in uow.bills.by_decision_no(value) if b.kind is BillKind.FINE]
            owners = {b.biller_id: uow.billers.get(b.biller_id) for b in bills}
        if not bills:
            raise NotFound(f"no fine with decision number {value!r}")
        payable = [b for b in bills if b.payable]
        if not payable:
            raise Conflict(f"the fine of decision {value} is paid already; nothing is owed")
        bill = payable[0]
        biller = owners[bill.biller_id]
        if not (biller is not None and bill.due_date is not None):
            raise InvariantViolated("expected biller is not None and bill.due_date is not None")
        quote = quote_fine(
            value, bill.outstanding_fen, bill.due_date, self.host.clock.now(), biller.timezone
        )
        return biller, bill, quote

    # -- receipts ------------------------------------------------------------------------
    def issue_receipt(self, payment_id: int) -> Receipt:
        """The receipt of a credited payment; the same payment always gets the same one."""
        now = self.host.clock.now()
        with self.host.uow() as uow:
            repo = uow.gov
            stored = repo.receipt_body(payment_id=payment_id)
            if stored is not None:
                return Receipt.from_json(stored)
            payment = uow.payments.get(payment_id)
            if payment is None:
                raise NotFound(f"payment {payment_id} does not exist")
            if payment.status is not PaymentStatus.CREDITED or payment.order_id is None:
                raise Conflict(
                    f"payment {payment_id} is {payment.status.value}; "
                    "only a credited payment gets a receipt"
                )
            order = uow.orders.get(payment.order_id)
            biller = uow.billers.get(payment.biller_id or 0)
            if not (order is not None and biller is not None):
                raise InvariantViolated("expected order is not None and biller is not None")
            bills = {b.id: b for b in uow.bills.for_order(payment.order_id)}
            first = bills[order.lines[0].bill_id]
            payer = uow.payers.get(first.payer_id)
            lines = []
            for line in order.lines:
                bill = bills[line.bill_id]
                name = "加处罚款" if line.is_late_fee else bill.item(line.item_code).name
                lines.append(ReceiptLine(line.item_code, name, line.amount_fen))
            receipt = Receipt(
                receipt_no=receipt_no(payment.paid_at, payment.id, biller.timezone),
                office_code=biller.code,
                office_name=biller.name,
                payer_name=masked_payer(payer.name if payer else None),
                bill_no=first.bill_no,
                decision_no=first.decision_no,
                channel=payment.channel,
                channel_txn_id=payment.channel_txn_id,
                paid_at=payment.paid_at,
                lines=tuple(lines),
                timezone=biller.timezone,
                verify_key=secrets.token_urlsafe(24),
            )
            repo.add_receipt(receipt.receipt_no, payment.id, pk(biller), receipt.to_record(), now)
            kept = repo.receipt_body(payment_id=payment_id)
            uow.commit()
        if kept is None:
            raise InvariantViolated("kept is missing")
        log.info("receipt issued", receipt_no=receipt.receipt_no, payment_id=payment_id)
        return Receipt.from_json(kept)

    def receipt(self, number: str) -> Receipt:
        with self.host.uow() as uow:
            body = uow.gov.receipt_body(receipt_no=number)
        if body is None:
            raise NotFound(f"receipt {number!r} does not exist")
        return Receipt.from_json(body)

    def receipt_pdf(self, number: str, *, base_url: str) -> bytes:
        """The receipt as a one-page A5 PDF whose QR opens its verification page on the
        payer pages served at ``base_url`` (:func:`receipt_verify_url`)."""
        core.payer_url(base_url, "/")  # a bad address is refused before any lookup
        found = self.receipt(number)
        page = receipt_page(found, receipt_verify_url(base_url, found))
        return render_pdf([page], title=f"缴款凭证 {found.receipt_no}", created_at=found.paid_at)

    def verified_receipt(self, token: str) -> Receipt | None:
        """The receipt a verification token (the QR printed on it) stands for, or ``None``
        when the token is not one of an issued receipt's."""
        number = token_receipt_no(token)
        if number is None:
            return None
        with self.host.uow() as uow:
            body = uow.gov.receipt_body(receipt_no=number)
        if body is None:
            return None
        found = Receipt.from_json(body)
        return found if found.check_token(token) else None

    def receipts(self, office: str) -> list[Receipt]:
        with self.host.uow() as uow:
            biller = require_biller(uow, office)
            return [Receipt.from_json(b) for b in uow.gov.receipts(pk(biller))]

    # -- helpers -------------------------------------------------------------------------
    def _today(self, biller: Biller) -> date:
        return core.today(self.host, biller)

    def _existing(self, office: str, bill_no: str) -> Bill | None:
        return core.find_bill(self.host, office, bill_no)  # an unknown office is an error
