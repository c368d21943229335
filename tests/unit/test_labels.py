"""Every code of the domain that people read has a Chinese label in the one table."""

from __future__ import annotations

from enum import Enum

import pytest

from billfold.adapters.outbox.reminders.api import RemindOutcome
from billfold.channels.base import Decline, EventKind, RemoteState
from billfold.channels.counter import Tender
from billfold.channels.pos_batch import BatchStatus as PosBatchStatus
from billfold.channels.pos_batch import PosKind, TerminalStatus
from billfold.channels.wallet_routing import Flow, Wallet
from billfold.collection.bill import BillKind, BillStatus, StoredStatus
from billfold.collection.importer import ImportMode
from billfold.collection.latefee import LateFeeKind
from billfold.collection.lists import LISTS
from billfold.collection.mandate import DebitStatus, MandateStatus, Refusal
from billfold.collection.order import OrderStatus
from billfold.collection.payer import IdentifierKind
from billfold.collection.payment import PaymentStatus, SuspenseReason
from billfold.collection.refund import RefundKind, RefundStatus
from billfold.collection.refund_transfer import TransferReason, TransferStage
from billfold.collection.reminder import ReminderChannel, ReminderKind, ReminderStatus
from billfold.labels import LABELS, label
from billfold.merchants.biller import BillerKind, BillerStatus, SubUnitKind
from billfold.merchants.fees import FeeKind
from billfold.packs.campus import GrantKind
from billfold.settlement.advice import ChannelWord
from billfold.settlement.banking import MatchStatus
from billfold.settlement.batch import BatchStatus, ItemKind
from billfold.settlement.complaint import Answer, ComplaintKind, ComplaintSource, ComplaintStatus
from billfold.settlement.discrepancy import Action, Code, DiscrepancyStatus
from billfold.settlement.escrow import EntryKind
from billfold.settlement.run import RunKind, RunStatus
from billfold.settlement.splits import Remainder, SplitKind
from billfold.settlement.statement import Direction, LineStatus, LineType

ENUMS: dict[str, list[type[Enum]]] = {
    "bill_status": [BillStatus, StoredStatus],
    "bill_kind": [BillKind],
    "order_status": [OrderStatus],
    "payment_status": [PaymentStatus],
    "suspense_reason": [SuspenseReason],
    "refund_status": [RefundStatus],
    "refund_kind": [RefundKind],
    "identifier_kind": [IdentifierKind],
    "late_fee_kind": [LateFeeKind],
    "mandate_status": [MandateStatus],
    "debit_status": [DebitStatus],
    "mandate_refusal": [Refusal],
    "biller_kind": [BillerKind],
    "biller_status": [BillerStatus],
    "sub_unit_kind": [SubUnitKind],
    "fee_kind": [FeeKind],
    "grant_kind": [GrantKind],
    "discrepancy_code": [Code],
    "discrepancy_status": [DiscrepancyStatus],
    "discrepancy_action": [Action],
    "batch_status": [BatchStatus],
    "batch_item_kind": [ItemKind],
    "escrow_entry_kind": [EntryKind],
    "run_kind": [RunKind],
    "run_status": [RunStatus],
    "match_status": [MatchStatus],
    "split_kind": [SplitKind],
    "split_remainder": [Remainder],
    "channel_word": [ChannelWord],
    "line_type": [LineType],
    "line_status": [LineStatus],
    "direction": [Direction],
    "event_kind": [EventKind],
    "remote_state": [RemoteState],
    "decline": [Decline],
    "tender": [Tender],
    "pos_kind": [PosKind],
    "terminal_status": [TerminalStatus],
    "pos_batch_status": [PosBatchStatus],
    "wallet": [Wallet],
    "flow": [Flow],
    "import_mode": [ImportMode],
    "complaint_kind": [ComplaintKind],
    "complaint_status": [ComplaintStatus],
    "complaint_answer": [Answer],
    "complaint_source": [ComplaintSource],
    "transfer_reason": [TransferReason],
    "transfer_stage": [TransferStage],
    "reminder_kind": [ReminderKind],
    "reminder_channel": [ReminderChannel],
    "reminder_status": [ReminderStatus],
    "remind_outcome": [RemindOutcome],
}


@pytest.mark.parametrize("kind", sorted(ENUMS))
def test_every_value_of_the_domains_enums_has_a_chinese_label(kind: str) -> None:
    for enum in ENUMS[kind]:
        missing = [m.value for m in enum if m.value not in LABELS[kind]]
        assert not missing, f"{enum.__name__}: no {kind} label for {missing}"
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in LABELS[kind].values())


def test_every_code_column_of_every_list_names_a_kind_of_label_with_its_choices() -> None:
    for spec in LISTS.values():
        for column in spec.columns:
            if column.label:
                assert column.label in LABELS, (spec.name, column.key)
        for f in spec.filters:
            status = next((c for c in spec.columns if c.key == f.name and c.label), None)
            if status is not None and f.choices:
                unlabelled = set(f.choices) - set(LABELS[status.label or ""]) - {"none"}
                assert not unlabelled, (spec.name, f.name, unlabelled)


def test_a_code_without_a_label_shows_as_itself_and_none_as_empty() -> None:
    assert label("bill_status", BillStatus.OVERDUE) == "已逾期"
    assert label("discrepancy_status", "open") == "待处理"
    assert label("channel", "brand_new") == "brand_new"
    assert label("channel", None) == ""


def test_the_cashiers_channel_labels_are_the_tables() -> None:
    from billfold.adapters.http.cashier_views import CHANNEL_LABELS

    assert dict(CHANNEL_LABELS) == dict(LABELS["channel"])


def test_every_bureau_push_status_the_database_allows_has_a_label() -> None:
    from billfold.adapters.db.schema.checks import PUSH_STATUSES

    assert set(PUSH_STATUSES) == set(LABELS["push_status"])
