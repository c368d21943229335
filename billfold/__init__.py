"""billfold — an embeddable payments and bill-collection engine.

The public surface is re-exported here; everything else is machinery. Each name is imported
on first use (``billfold.Bill``, ``from billfold import Engine``): :class:`Engine` brings
SQLAlchemy, the schema and every repository, the domain values their dataclasses, and
importing a light module — the command line's ``--help``, one domain value — loads neither.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from billfold.clock import Clock, FixedClock, SystemClock
    from billfold.collection.bill import Bill, BillItem, BillKind, BillStatus
    from billfold.collection.latefee import LateFeeRule
    from billfold.collection.order import Order, OrderStatus
    from billfold.collection.payer import IdentifierKind, Payer
    from billfold.collection.payment import Confirmation, PaymentRecord, PaymentStatus
    from billfold.collection.refund import RefundRecord, RefundStatus
    from billfold.engine import Engine
    from billfold.errors import BillfoldError
    from billfold.merchants.biller import (
        Biller,
        BillerKind,
        BillerStatus,
        Limits,
        SettlementAccount,
        SubUnit,
        SubUnitKind,
    )
    from billfold.merchants.fees import FeeKind, FeeRule
    from billfold.money import Money, format_yuan, parse_yuan

#: Where each public name lives; imported on first use (``billfold.Bill``,
#: ``from billfold import Bill``), so that ``import billfold.text`` imports billfold.text only.
_EXPORTS = {
    **dict.fromkeys(("Clock", "FixedClock", "SystemClock"), "billfold.clock"),
    **dict.fromkeys(("Bill", "BillItem", "BillKind", "BillStatus"), "billfold.collection.bill"),
    "LateFeeRule": "billfold.collection.latefee",
    **dict.fromkeys(("Order", "OrderStatus"), "billfold.collection.order"),
    **dict.fromkeys(("IdentifierKind", "Payer"), "billfold.collection.payer"),
    **dict.fromkeys(
        ("Confirmation", "PaymentRecord", "PaymentStatus"), "billfold.collection.payment"
    ),
    **dict.fromkeys(("RefundRecord", "RefundStatus"), "billfold.collection.refund"),
    "Engine": "billfold.engine",
    "BillfoldError": "billfold.errors",
    **dict.fromkeys(
        (
            "Biller",
            "BillerKind",
            "BillerStatus",
            "Limits",
            "SettlementAccount",
            "SubUnit",
            "SubUnitKind",
        ),
        "billfold.merchants.biller",
    ),
    **dict.fromkeys(("FeeKind", "FeeRule"), "billfold.merchants.fees"),
    **dict.fromkeys(("Money", "format_yuan", "parse_yuan"), "billfold.money"),
}

__version__ = "0.1.0"

__all__ = [
    "Bill",
    "BillItem",
    "BillKind",
    "BillStatus",
    "Biller",
    "BillerKind",
    "BillerStatus",
    "BillfoldError",
    "Clock",
    "Confirmation",
    "Engine",
    "FeeKind",
    "FeeRule",
    "FixedClock",
    "IdentifierKind",
    "LateFeeRule",
    "Limits",
    "Money",
    "Order",
    "OrderStatus",
    "Payer",
    "PaymentRecord",
    "PaymentStatus",
    "RefundRecord",
    "RefundStatus",
    "SettlementAccount",
    "SubUnit",
    "SubUnitKind",
    "SystemClock",
    "format_yuan",
    "parse_yuan",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'billfold' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # the next look-up does not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
