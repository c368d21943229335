"""The ``pos`` channel: card terminals at the counter, including presale-fund supervision
terminals bound to one supervised project.

A terminal is registered to a biller, optionally bound to one sub-unit (the project code of
a housing development). Its messages — sale, void, reversal, refund — arrive as values and
are answered as values (:class:`PosAnswer`, declines with a code and an ISO 8583-style
response code). Each message is kept with its answer, so a repeat gets the same answer
and changes nothing.

* **sale** (消费): for an order, or for a bill reference (an order is created with the sale
  as its idempotency key); confirmed through the core's exactly-once path as
  ``pos / terminal:batch:trace``. A project terminal only takes bills of its project.
* **void** (撤销): the same business day (biller's timezone) and before the batch is closed;
  the sale is reversed in the core. After the close it is refused, pointing to a refund.
* **reversal** (冲正): the terminal got no answer and undoes its request. Idempotent, and safe
  when the sale never arrived: the core keeps a marker, so a late sale credits nothing.
* **refund** (退货): of a sale whose batch was closed (settled); a core refund, paid out by
  the acquirer with the terminal's message, so it is completed at once.
* **batch close** (批结算): the terminal's totals and lines against the core's own payments
  and refunds; a mismatch is a :class:`~billfold.channels.pos_batch.BatchClose` listing the
  differing trace numbers (and a ``pos.batch_closed`` outbox event).

The terminal link (ISO 8583 over the acquirer's network, its MACs and keys) is outside
billfold: the acquirer-side integration authenticates terminals and hands billfold values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from billfold.channels.base import (
    ChannelEvent,
    CollectRequest,
    CollectStart,
    Decline,
    NotificationReply,
    RefundAnswer,
    RemoteState,
    StatusAnswer,
)
from billfold.channels.ports import ChannelHost
from billfold.channels.pos_batch import (
    APPROVED,
    CHANNEL,
    BatchClose,
    BatchLine,
    BatchStatus,
    BatchTotals,
    PosKind,
    PosRecord,
    Terminal,
    TerminalStatus,
    txn_id,
)
from billfold.channels.pos_close import close_batch
from billfold.channels.pos_messages import (
    Message,
    PosAnswer,
    PosDecline,
    Refund,
    Reversal,
    Sale,
    Void,
    kind_of,
)
from billfold.channels.pos_orders import order_for
from billfold.channels.pos_terminals import PosTerminals
from billfold.channels.verification import NotificationRejected
from billfold.clock import business_date
from billfold.collection.payment import PaymentRecord, PaymentStatus
from billfold.errors import BillfoldError, InvalidInput, InvariantViolated
from billfold.merchants.biller import Biller
from billfold.merchants.channel_config import channel_refusal
from billfold.money import format_yuan

__all__ = [
    "CHANNEL",
    "PosAnswer",
    "PosChannel",
    "PosDecline",
    "Refund",
    "Reversal",
    "Sale",
    "Void",
]


@dataclass(frozen=True, slots=True)
class _Admitted:
    terminal: Terminal
    biller: Biller


class PosChannel:
    """Terminals, their messages and their batches, in front of one billfold engine."""

    name = CHANNEL

    def __init__(self, engine: ChannelHost) -> None:
        self.engine = engine
        self.terminals = PosTerminals(engine)

    # -- the terminal registry (billfold.channels.pos_terminals) -------------------------
    def register_terminal(
        self, terminal_id: str, biller_code: str, *, sub_unit: str | None = None, actor: str
    ) -> Terminal:
        """Register a terminal; ``sub_unit`` binds it to one project of the biller."""
        return self.terminals.register(terminal_id, biller_code, sub_unit=sub_unit, actor=actor)

    def set_terminal_status(
        self, terminal_id: str, status: TerminalStatus, *, actor: str, reason: str
    ) -> Terminal:
        return self.terminals.set_status(terminal_id, status, actor=actor, reason=reason)

    def terminal(self, terminal_id: str) -> Terminal:
        return self.terminals.get(terminal_id)

    # -- terminal messages -------------------------------------------------------------
    def sale(self, sale: Sale) -> PosAnswer:
        admitted = self._admit(sale, PosKind.SALE, PosDecline.BATCH_CLOSED)
        if isinstance(admitted, PosAnswer):
            return admitted
        terminal, biller = admitted.terminal, admitted.biller
        settled = self._settled_sale(terminal, biller, sale)
        if settled is not None:
            return settled
        order_no, decline = order_for(self.engine, terminal, biller, sale)
        if decline is not None:
            return self._answer(terminal, sale, decline[0], decline[1], order_no=order_no)
        if order_no is None:
            raise InvariantViolated("order_no is missing")
        return self._take(terminal, sale, order_no)

    def _settled_sale(self, terminal: Terminal, biller: Biller, sale: Sale) -> PosAnswer | None:
        """The answer when the sale's fate is already known: the biller refuses the channel,
        the sale was credited (its answer was lost) or reversed before it arrived."""
        with self.engine.uow() as uow:
            configs = uow.channels.configs(biller.id or 0)
            earlier = uow.payments.find(CHANNEL, sale.txn_id)
        refusal = channel_refusal(biller.code, configs, CHANNEL)
        if refusal:
            return self._answer(terminal, sale, PosDecline.CHANNEL_REFUSED, refusal)
        if earlier is not None and earlier.status is PaymentStatus.CREDITED:  # answer lost
            return self._answer(
                terminal, sale, None, "approved", order_no=earlier.order_no, payment_id=earlier.id
            )
        if earlier is not None and earlier.status is PaymentStatus.REVERSED:
            return self._answer(terminal, sale, PosDecline.REVERSED, self._reversed(sale))
        return None

    def _take(self, terminal: Terminal, sale: Sale, order_no: str) -> PosAnswer:
        """Confirm the sale through the core's exactly-once path; undo it if declined."""
        event = {
            "terminal_id": sale.terminal_id,
            "batch_no": sale.batch_no,
            "trace_no": sale.trace_no,
            "project": terminal.sub_unit,
            "card": sale.card_masked,
            "order_no": order_no,
            "amount": format_yuan(sale.amount_fen),
            "amount_fen": sale.amount_fen,
        }
        result = self.engine.confirm(
            CHANNEL, sale.txn_id, order_no, sale.amount_fen, on_credit=(("pos.sale", event),)
        )
        payment = result.payment
        if payment.status is PaymentStatus.REVERSED:  # the reversal overtook the sale
            return self._answer(terminal, sale, PosDecline.REVERSED, self._reversed(sale))
        if not result.credited:  # decline at the terminal; undo what the core took in
            self.engine.reverse(
                CHANNEL, sale.txn_id, reason=f"declined: {payment.reason}", requested_by=CHANNEL
            )
            return self._answer(
                terminal,
                sale,
                PosDecline.REFUSED,
                f"order {order_no} cannot take this payment ({payment.reason})",
                order_no=order_no,
                payment_id=payment.id,
            )
        return self._answer(
            terminal, sale, None, "approved", order_no=order_no, payment_id=payment.id
        )

    def void(self, void: Void) -> PosAnswer:
        admitted = self._admit(void, PosKind.VOID, PosDecline.USE_REFUND)
        if isinstance(admitted, PosAnswer):
            return admitted
        terminal, biller = admitted.terminal, admitted.biller
        original = txn_id(void.terminal_id, void.batch_no, void.original_trace_no)
        with self.engine.uow() as uow:
            payment = uow.payments.find(CHANNEL, original)
            voided = uow.pos.void_of(terminal.id, void.batch_no, original)
        refused = self._void_refusal(void, biller, payment, voided)
        if refused is None:
            if payment is None:
                raise InvariantViolated("payment is missing")
            try:
                self.engine.reverse(
                    CHANNEL,
                    original,
                    reason=f"void (撤销) by trace {void.trace_no}",
                    requested_by=f"pos:{void.terminal_id}",
                )
            except BillfoldError as exc:
                refused = (PosDecline.REFUSED, exc.message)
        if refused is not None:
            return self._answer(terminal, void, *refused, original_txn=original)
        if payment is None:
            raise InvariantViolated("payment is missing")
        return self._answer(
            terminal,
            void,
            None,
            "approved",
            original_txn=original,
            order_no=payment.order_no,
            payment_id=payment.id,
        )

    def _void_refusal(
        self,
        void: Void,
        biller: Biller,
        payment: PaymentRecord | None,
        voided: PosRecord | None,
    ) -> tuple[PosDecline, str] | None:
        """Why the sale may not be voided: voided already, unknown, not today, or not whole."""
        if voided is not None:
            return (
                PosDecline.REFUSED,
                f"sale {void.original_trace_no} was voided by trace {voided.trace_no}",
            )
        if payment is None or payment.status is not PaymentStatus.CREDITED:
            return (
                PosDecline.NOT_FOUND,
                f"no approved sale {void.original_trace_no} in "
                f"batch {void.batch_no} of terminal {void.terminal_id}",
            )
        sold_on = business_date(payment.paid_at, biller.timezone)
        if sold_on != business_date(self.engine.clock.now(), biller.timezone):
            return (
                PosDecline.USE_REFUND,
                f"sale {void.original_trace_no} was made on "
                f"{sold_on}; only same-day sales can be voided — refund it instead",
            )
        if void.amount_fen != payment.amount_fen:
            return (
                PosDecline.AMOUNT_MISMATCH,
                f"a void is for the whole sale: "
                f"{format_yuan(payment.amount_fen)}, not {format_yuan(void.amount_fen)}",
            )
        return None

    def reverse(self, reversal: Reversal) -> PosAnswer:
        """冲正 of a sale: idempotent, and safe when the sale never arrived."""
        admitted = self._admit(reversal, PosKind.REVERSAL, PosDecline.BATCH_CLOSED)
        if isinstance(admitted, PosAnswer):
            return admitted
        txn = txn_id(reversal.terminal_id, reversal.batch_no, reversal.trace_no)
        try:
            payment = self.engine.reverse(
                CHANNEL,
                txn,
                reason="reversal (冲正): the terminal got no answer",
                requested_by=f"pos:{reversal.terminal_id}",
                order_no=reversal.order_no or "",
            )
        except BillfoldError as exc:
            return self._answer(admitted.terminal, reversal, PosDecline.REFUSED, exc.message)
        message = "approved" if payment.amount_fen else "approved; nothing had been taken"
        return self._answer(
            admitted.terminal, reversal, None, message, original_txn=txn, payment_id=payment.id
        )

    def refund_sale(self, refund: Refund) -> PosAnswer:
        """退货 of a settled sale (its batch closed), in part or in full."""
        admitted = self._admit(refund, PosKind.REFUND, PosDecline.BATCH_CLOSED)
        if isinstance(admitted, PosAnswer):
            return admitted
        terminal = admitted.terminal
        original = refund.original_txn
        with self.engine.uow() as uow:
            repo = uow.pos
            owner = repo.terminal(refund.original_terminal_id or refund.terminal_id)
            batch = repo.batch(owner.id, refund.original_batch_no) if owner else None
            payment = uow.payments.find(CHANNEL, original)

        def no(decline: PosDecline, message: str) -> PosAnswer:
            return self._answer(terminal, refund, decline, message, original_txn=original)

        if owner is not None and owner.biller_id != terminal.biller_id:
            return no(PosDecline.WRONG_BILLER, f"sale {original} was taken for another biller")
        if batch is None or payment is None or payment.status is not PaymentStatus.CREDITED:
            return no(PosDecline.NOT_FOUND, f"no approved sale {original} to refund")
        if batch.status is BatchStatus.OPEN:
            return no(
                PosDecline.USE_VOID,
                f"batch {refund.original_batch_no} is not settled "
                "yet; void the sale the same day, or refund it after the batch is closed",
            )
        try:
            made = self.engine.refund(
                payment.id,
                refund.amount_fen,
                request_id=_txn(refund),
                reason=f"POS refund (退货) trace {refund.trace_no}",
                requested_by=f"pos:{refund.terminal_id}",
            )
            self.engine.complete_refund(made.refund_no, channel_refund_id=_txn(refund))
        except InvalidInput as exc:
            return no(PosDecline.AMOUNT_MISMATCH, exc.message)
        except BillfoldError as exc:
            return no(PosDecline.REFUSED, exc.message)
        return self._answer(
            terminal,
            refund,
            None,
            "approved",
            original_txn=original,
            order_no=payment.order_no,
            payment_id=payment.id,
            refund_no=made.refund_no,
        )

    # -- batch close (billfold.channels.pos_close) --------------------------------------
    def close_batch(
        self,
        terminal_id: str,
        batch_no: str,
        totals: BatchTotals,
        lines: Sequence[BatchLine],
    ) -> BatchClose:
        """批结算: compare the terminal's totals and lines with billfold's, close the batch
        (closed either way; a mismatch is recorded and announced)."""
        return close_batch(self.engine, terminal_id, batch_no, totals, lines)

    # -- the Channel interface -----------------------------------------------------------
    def start(self, request: CollectRequest) -> CollectStart:
        """Show the order on a terminal: the payer presents a card for its amount."""
        data = {"amount": format_yuan(request.amount_fen), "terminal_id": request.payer_ref}
        return CollectStart(CHANNEL, request.order_no, "present_card", data)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelEvent:
        raise NotificationRejected(
            "unsupported",
            "pos: terminals report through PosChannel.sale/void/reverse/refund_sale, "
            "not through HTTP notifications",
        )

    def query(self, order_no: str) -> StatusAnswer:
        """A terminal cannot be asked; what it reported is all there is."""
        return StatusAnswer(RemoteState.NOT_FOUND)

    def refund(
        self, refund_no: str, order_no: str, channel_txn_id: str, amount_fen: int, total_fen: int
    ) -> RefundAnswer:
        return RefundAnswer(
            False,
            decline=Decline.REJECTED,
            message="a card payment is refunded at a terminal of the biller (退货), "
            "or by the acquirer's back office",
        )

    def close(self, order_no: str) -> bool:
        return True  # nothing is open at the far end until a card is presented

    def reply(self, accepted: bool, message: str = "") -> NotificationReply:
        body = {"code": "00" if accepted else "96", "message": message}
        return NotificationReply(200, "application/json", json.dumps(body).encode())

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _reversed(sale: Sale) -> str:
        return f"sale {sale.trace_no} was reversed (冲正) before it arrived; nothing was taken"

    def _admit(self, msg: Message, kind: PosKind, closed: PosDecline) -> _Admitted | PosAnswer:
        """The terminal and its biller; or the stored answer to a repeat; or a decline."""
        now = self.engine.clock.now()
        with self.engine.uow() as uow:
            repo = uow.pos
            terminal = repo.terminal(msg.terminal_id)
            if terminal is None:
                return PosAnswer(
                    kind,
                    msg.terminal_id,
                    msg.batch_no,
                    msg.trace_no,
                    False,
                    PosDecline.UNKNOWN_TERMINAL,
                    f"terminal {msg.terminal_id} is not registered",
                )
            seen = repo.message(terminal.id, msg.batch_no, msg.trace_no, kind)
            biller = uow.billers.get(terminal.biller_id)
            if biller is None:
                raise InvariantViolated("biller is missing")
            batch = repo.batch(terminal.id, msg.batch_no)
            if batch is None and terminal.status is TerminalStatus.ACTIVE:
                batch = repo.open_batch(
                    terminal.id, msg.batch_no, business_date(now, biller.timezone), now
                )
            uow.commit()
        if seen is not None:
            return _from_record(msg, seen)
        if terminal.status is not TerminalStatus.ACTIVE:
            return self._answer(
                terminal,
                msg,
                PosDecline.TERMINAL_DISABLED,
                f"terminal {msg.terminal_id} is {terminal.status.value}",
            )
        if batch is not None and batch.status is BatchStatus.CLOSED:
            text = f"batch {msg.batch_no} of terminal {msg.terminal_id} is closed"
            if closed is PosDecline.USE_REFUND:
                text += "; a settled sale cannot be voided — refund it (退货) instead"
            return self._answer(terminal, msg, closed, text)
        return _Admitted(terminal, biller)

    def _answer(
        self,
        terminal: Terminal,
        msg: Message,
        decline: PosDecline | None,
        message: str,
        *,
        order_no: str | None = None,
        payment_id: int | None = None,
        refund_no: str | None = None,
        original_txn: str | None = None,
    ) -> PosAnswer:
        """Keep the message with its answer and return the answer kept (the first one)."""
        kind = kind_of(msg)
        with self.engine.uow() as uow:
            repo = uow.pos
            repo.record(
                {
                    "terminal_pk": terminal.id,
                    "batch_no": msg.batch_no,
                    "trace_no": msg.trace_no,
                    "kind": kind.value,
                    "original_txn": original_txn,
                    "order_no": order_no,
                    "amount_fen": msg.amount_fen,
                    "card_masked": msg.card_masked if isinstance(msg, Sale) else None,
                    "outcome": decline.value if decline else APPROVED,
                    "message": message[:300],
                    "payment_id": payment_id,
                    "refund_no": refund_no,
                    "received_at": self.engine.clock.now(),
                }
            )
            kept = repo.message(terminal.id, msg.batch_no, msg.trace_no, kind)
            uow.commit()
        if kept is None:
            raise InvariantViolated("kept is missing")
        return _from_record(msg, kept)


def _txn(msg: Message) -> str:
    return txn_id(msg.terminal_id, msg.batch_no, msg.trace_no)


def _from_record(msg: Message, record: PosRecord) -> PosAnswer:
    approved = record.outcome == APPROVED
    return PosAnswer(
        record.kind,
        msg.terminal_id,
        msg.batch_no,
        record.trace_no,
        approved,
        None if approved else PosDecline(record.outcome),
        record.message,
        record.order_no,
        record.payment_id,
        record.refund_no,
    )
