"""The order a POS sale pays: an existing order, or one made for a bill reference.

A sale names an order, or a bill (an order is then created with the sale as its idempotency
key, so a repeated sale finds the same order). Either way the bills must be the terminal's
biller's and, on a project terminal (presale-fund supervision), of its project.
"""

from __future__ import annotations

from collections.abc import Sequence

from billfold.channels.ports import ChannelHost
from billfold.channels.pos_batch import CHANNEL, Terminal
from billfold.channels.pos_messages import PosDecline, Sale
from billfold.collection.bill import Bill
from billfold.collection.order import Order
from billfold.errors import BillfoldError, InvalidInput, InvariantViolated, NotFound
from billfold.merchants.biller import Biller
from billfold.money import format_yuan

__all__ = ["SaleOrder", "order_for"]

#: The order's number (when known) and, if the sale may not pay it, why.
SaleOrder = tuple[str | None, tuple[PosDecline, str] | None]


def order_for(host: ChannelHost, terminal: Terminal, biller: Biller, sale: Sale) -> SaleOrder:
    """The order a sale pays, checked against the terminal; or why it may not."""
    order: Order | None = None
    try:
        if sale.order_no is not None:
            order = host.order(sale.order_no)
            if order.biller_id != terminal.biller_id:
                return order.order_no, (
                    PosDecline.WRONG_BILLER,
                    f"order {order.order_no} is not for {biller.code}",
                )
            bill_nos = [line.bill_no for line in order.lines]
        else:
            if sale.bill_ref is None:
                raise InvariantViolated("sale.bill_ref is missing")
            bill_nos = [sale.bill_ref]
        bills = [host.bill(biller.code, no) for no in sorted(set(bill_nos))]
    except NotFound as exc:
        return sale.order_no, (PosDecline.NOT_FOUND, exc.message)
    outside = _outside_project(terminal, bills)
    if outside is not None:
        return sale.order_no, (PosDecline.WRONG_PROJECT, outside)
    if order is not None:
        return order.order_no, _payable(host, order, sale)
    return _new_order(host, biller, bill_nos, sale)


def _outside_project(terminal: Terminal, bills: Sequence[Bill]) -> str | None:
    """Why a project terminal may not take these bills (``None``: it may)."""
    for bill in bills:
        if terminal.sub_unit is not None and bill.sub_unit != terminal.sub_unit:
            return (
                f"terminal {terminal.terminal_id} takes payments for project "
                f"{terminal.sub_unit} only; bill {bill.bill_no} belongs to "
                + (f"project {bill.sub_unit}" if bill.sub_unit else "no project")
            )
    return None


def _payable(host: ChannelHost, order: Order, sale: Sale) -> tuple[PosDecline, str] | None:
    """Why an existing order cannot take this sale (``None``: it can)."""
    if order.total_fen != sale.amount_fen:
        return (
            PosDecline.AMOUNT_MISMATCH,
            f"order {order.order_no} is for {format_yuan(order.total_fen)}, "
            f"not {format_yuan(sale.amount_fen)}",
        )
    if not order.payable or order.is_expired_at(host.clock.now()):
        return (
            PosDecline.NOT_PAYABLE,
            f"order {order.order_no} is {order.status.value}; it takes no payment",
        )
    return None


def _new_order(host: ChannelHost, biller: Biller, bill_nos: list[str], sale: Sale) -> SaleOrder:
    """An order for the sale's bill, made once per sale (its idempotency key)."""
    try:
        created = host.create_order(
            biller.code,
            bill_nos,
            amount_fen=sale.amount_fen,
            channel=CHANNEL,
            idempotency_key=sale.txn_id,
        )
    except InvalidInput as exc:
        return None, (PosDecline.AMOUNT_MISMATCH, exc.message)
    except BillfoldError as exc:
        return None, (PosDecline.NOT_PAYABLE, exc.message)
    return created.order_no, None
