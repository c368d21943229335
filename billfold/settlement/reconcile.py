"""Reconciliation rules: pure functions from statement lines and engine records to findings.

The bulk matching (a join on the channel's transaction id, in the database or, for a
statement read column by column, in polars) hands these rules only what did not match
cleanly: the lines sharing one transaction id with the
engine's record of it, or an engine record no line mentions. The rules collect every
discrepancy they see; they never stop at the first.

A clean match — one successful payment line, an engine payment holding the same amount in
the same currency on the run's business date, and (when the statement carries fees) the
fee of the biller's fee schedule — yields no discrepancy. ``tests`` prove that the clean
predicate the database uses is a case of these rules.

The rules live by concept — :mod:`~billfold.settlement.payment_rules`,
:mod:`~billfold.settlement.refund_rules`, :mod:`~billfold.settlement.totals` — over the
records of :mod:`~billfold.settlement.engine_records` and the vocabulary of
:mod:`~billfold.settlement.findings`; this module is their one front door.
"""

from __future__ import annotations

from billfold.settlement.engine_records import HOLDING, EnginePayment, EngineRefund
from billfold.settlement.findings import RunContext, Verdict, unreadable
from billfold.settlement.payment_rules import classify_payment, engine_only_payment
from billfold.settlement.refund_rules import classify_refund, engine_only_refund
from billfold.settlement.statement import LineType
from billfold.settlement.totals import StatementTotals, statement_totals

__all__ = [
    "HOLDING",
    "EnginePayment",
    "EngineRefund",
    "RunContext",
    "StatementTotals",
    "Verdict",
    "classify_payment",
    "classify_refund",
    "engine_only_payment",
    "engine_only_refund",
    "payment_group",
    "statement_totals",
    "unreadable",
]

_PAYMENT_GROUP = (LineType.PAYMENT, LineType.REVERSAL)


def payment_group(line_type: LineType) -> bool:
    """Payment and reversal lines are matched to engine payments by transaction id."""
    return line_type in _PAYMENT_GROUP
