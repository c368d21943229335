"""Billers, their sub-units, fee schedules, settlement accounts and limits."""

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

__all__ = [
    "Biller",
    "BillerKind",
    "BillerStatus",
    "FeeKind",
    "FeeRule",
    "Limits",
    "SettlementAccount",
    "SubUnit",
    "SubUnitKind",
]
