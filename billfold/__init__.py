"""billfold — an embeddable payments and bill-collection engine.

The public surface is re-exported here; everything else is machinery. :class:`Engine` (and
with it SQLAlchemy, the schema and every repository) is imported on first use of
``billfold.Engine``, so that importing a light module — the command line's ``--help``, a
domain value — does not load the database layer.
"""

from typing import TYPE_CHECKING, Any

from billfold.clock import Clock, FixedClock, SystemClock
from billfold.collection.bill import Bill, BillItem, BillKind, BillStatus
from billfold.collection.latefee import LateFeeRule
from billfold.collection.order import Order, OrderStatus
from billfold.collection.payer import IdentifierKind, Payer
from billfold.collection.payment import Confirmation, PaymentRecord, PaymentStatus
from billfold.collection.refund import RefundRecord, RefundStatus
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

if TYPE_CHECKING:
    from billfold.engine import Engine

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
    if name == "Engine":
        from billfold.engine import Engine

        return Engine
    raise AttributeError(f"module 'billfold' has no attribute {name!r}")
