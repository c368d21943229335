"""The pure reconciliation rules: every outcome, sources on every finding, and the clean
match the database counts without fetching is a case the rules call matched."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.collection.journal import is_balanced
from billfold.errors import InvalidInput
from billfold.settlement.discrepancy import (
    RECON_DIFFERENCES,
    Action,
    Code,
    Discrepancy,
    DiscrepancyStatus,
    allowed_actions,
    check_action,
    write_off_entry,
)
from billfold.settlement.reconcile import (
    EnginePayment,
    EngineRefund,
    RunContext,
    classify_payment,
    classify_refund,
    engine_only_payment,
    statement_totals,
    unreadable,
)
from billfold.settlement.statement import LineError, LineStatus, LineType, StatementLine

DAY = date(2026, 9, 1)
CTX = RunContext("wechatpay", DAY, check_fees=True)
AT = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)


def line(
    txn: str = "W1",
    fen: int = 1000,
    *,
    fee: int = 6,
    kind: LineType = LineType.PAYMENT,
    status: LineStatus = LineStatus.SUCCESS,
    at: int = 2,
    order_no: str | None = "BF1",
    refund_id: str | None = None,
    currency: str = "CNY",
) -> StatementLine:
    return StatementLine(
        channel="wechatpay",
        channel_txn_id=txn,
        amount_fen=fen,
        occurred_at=AT,
        type=kind,
        source_file="wx.csv",
        source_line=at,
        order_no=order_no,
        fee_fen=fee,
        status=status,
        refund_id=refund_id,
        currency=currency,
    )


def payment(
    fen: int = 1000, *, fee: int = 6, status: str = "credited", day: date = DAY
) -> EnginePayment:
    return EnginePayment(7, "W1", "BF1", fen, fee, status, day, "CNY", 1)


def refund(fen: int = 300, *, fee: int = 2, status: str = "succeeded") -> EngineRefund:
    return EngineRefund(9, "RF1", 7, "W1", fen, fee, status, "WXRF1", 1)


def codes(found: list[Discrepancy]) -> list[tuple[Code, str]]:
    return [(d.code, d.source) for d in found]


def test_a_clean_match_has_no_discrepancy() -> None:
    verdict = classify_payment([line()], payment(), CTX)
    assert verdict.matched and verdict.matched_fen == 1000 and verdict.discrepancies == []


def test_a_payment_the_engine_never_heard_of_is_credited_automatically() -> None:
    (found,) = classify_payment([line()], None, CTX).discrepancies
    assert found.code is Code.CHANNEL_ONLY and found.auto_action is Action.CREDIT
    assert found.source == "wx.csv:2" and found.difference_fen == 1000
    assert found.message == (
        "the channel took 10.00 for order BF1 in transaction W1; the engine has no such "
        "payment (长款: the notification was lost?)"
    )


def test_without_an_order_number_a_late_payment_waits_for_a_person() -> None:
    (found,) = classify_payment([line(order_no=None)], None, CTX).discrepancies
    assert found.code is Code.CHANNEL_ONLY and found.auto_action is None
    assert "order (none given)" in found.message


def test_amount_and_currency_mismatches() -> None:
    (amount,) = classify_payment([line(fen=900)], payment(), CTX).discrepancies
    assert (amount.code, amount.difference_fen) == (Code.AMOUNT_MISMATCH, -100)
    (currency,) = classify_payment([line(currency="HKD")], payment(), CTX).discrepancies
    assert currency.code is Code.AMOUNT_MISMATCH and currency.difference_fen == 0
    assert currency.message == "the channel says W1 paid 10.00 HKD; the engine has 10.00 CNY"


def test_status_mismatches_both_ways() -> None:
    (reversed_,) = classify_payment([line()], payment(status="reversed"), CTX).discrepancies
    assert reversed_.code is Code.STATUS_MISMATCH and reversed_.difference_fen == 1000
    assert reversed_.message == "the channel says W1 paid 10.00; the engine has it reversed"
    failed = line(status=LineStatus.FAILED)
    (credited,) = classify_payment([failed], payment(), CTX).discrepancies
    assert credited.message == "the channel says W1 is FAILED; the engine has it credited (10.00)"
    assert credited.difference_fen == -1000


def test_a_payment_and_its_reversal_agree_with_a_reversed_engine_payment() -> None:
    lines = [line(), line(kind=LineType.REVERSAL, at=3)]
    verdict = classify_payment(lines, payment(status="reversed"), CTX)
    assert verdict.matched and verdict.discrepancies == []
    (still,) = classify_payment(lines, payment(), CTX).discrepancies
    assert still.code is Code.STATUS_MISMATCH and still.source == "wx.csv:3"


def test_a_failed_attempt_the_engine_never_saw_is_no_discrepancy() -> None:
    verdict = classify_payment([line(status=LineStatus.FAILED)], None, CTX)
    assert not verdict.matched and verdict.discrepancies == []


def test_duplicates_fees_and_other_days_are_all_reported_together() -> None:
    lines = [line(fee=9), line(fee=9, at=5)]
    found = classify_payment(lines, payment(day=date(2026, 9, 2)), CTX).discrepancies
    assert codes(found) == [
        (Code.DUPLICATE_LINE, "wx.csv:5"),
        (Code.FEE_MISMATCH, "wx.csv:2"),
        (Code.CROSS_DAY, "wx.csv:2"),
    ]
    assert found[0].message == "payment W1 is listed again (first at line 2)"
    assert found[2].closed and not found[1].closed
    no_fees = RunContext("wechatpay", DAY, check_fees=False)
    assert classify_payment([line(fee=9)], payment(), no_fees).discrepancies == []


def test_engine_only_payment_reads_as_a_shortage() -> None:
    found = engine_only_payment(payment(), CTX)
    assert found.code is Code.ENGINE_ONLY and found.source == "engine"
    assert found.message == (
        "the engine has W1 for order BF1, 10.00 credited; the channel's statement for "
        "2026-09-01 does not show it (短款)"
    )


def test_refund_outcomes() -> None:
    done = line("WXRF1", 300, fee=-2, kind=LineType.REFUND, refund_id="RF1", at=4)
    assert classify_refund([done], refund(), CTX).matched
    (pending,) = classify_refund([done], refund(status="pending"), CTX).discrepancies
    assert pending.code is Code.STATUS_MISMATCH
    assert pending.auto_action is Action.COMPLETE_REFUND
    (unknown,) = classify_refund([done], None, CTX).discrepancies
    assert (unknown.code, unknown.difference_fen) == (Code.CHANNEL_ONLY, -300)
    (short,) = classify_refund([done], refund(fen=400), CTX).discrepancies
    assert (short.code, short.difference_fen) == (Code.AMOUNT_MISMATCH, 100)
    failed = line("WXRF1", 300, kind=LineType.REFUND, refund_id="RF1", status=LineStatus.FAILED)
    (paid,) = classify_refund([failed], refund(), CTX).discrepancies
    assert paid.message == (
        "the channel says refund RF1 failed; the engine recorded it as paid out"
    )
    (fee,) = classify_refund([done], refund(fee=3), CTX).discrepancies
    assert fee.code is Code.FEE_MISMATCH


def test_an_unreadable_line_keeps_its_source_and_the_parsers_words() -> None:
    found = unreadable(LineError("wx.csv", 9, "订单金额", "'x' is not an amount"), "wechatpay")
    assert str(found) == "wx.csv:9: unreadable_line: 订单金额: 'x' is not an amount"


def test_statement_totals_give_the_net_the_channel_promises() -> None:
    totals = statement_totals(
        [
            ("PAYMENT", "SUCCESS", "CREDIT", 3, 30000, 180),
            ("PAYMENT", "FAILED", "CREDIT", 1, 500, 0),
            ("REFUND", "SUCCESS", "DEBIT", 1, 2000, -12),
            ("FEE", "SUCCESS", "DEBIT", 1, 50, 0),
            ("SETTLEMENT", "SUCCESS", "DEBIT", 1, 99999, 0),
        ]
    )
    assert (totals.line_count, totals.payment_count, totals.refund_fen) == (7, 3, 2000)
    assert totals.fee_fen == 180 - 12 + 50
    assert totals.net_fen == 30000 - 2000 - (180 - 12 + 50)


def test_resolutions_must_fit_the_discrepancy() -> None:
    found = Discrepancy(Code.DUPLICATE_LINE, "x", "wechatpay", id=4)
    assert allowed_actions(Code.DUPLICATE_LINE) == (Action.ACCEPT,)
    with pytest.raises(InvalidInput) as wrong:
        check_action(found, Action.CREDIT, "clerk", "why")
    assert wrong.value.message == (
        "action: credit does not resolve a duplicate_line discrepancy; use accept"
    )
    nothing = Discrepancy(Code.ENGINE_ONLY, "x", "wechatpay", id=5)
    with pytest.raises(InvalidInput, match="has no difference to write off; accept it"):
        check_action(nothing, Action.WRITE_OFF, "clerk", "why")
    closed = nothing.with_status(DiscrepancyStatus.SUPERSEDED)
    with pytest.raises(InvalidInput, match="is superseded; only open ones can be resolved"):
        check_action(closed, Action.ACCEPT, "clerk", "why")


@given(st.integers(min_value=-(10**12), max_value=10**12).filter(lambda n: n != 0))
def test_a_write_off_always_balances(difference: int) -> None:
    found = Discrepancy(Code.AMOUNT_MISMATCH, "x", "wechatpay", difference_fen=difference, id=1)
    entry = write_off_entry(found, "clearing:wechatpay")
    assert is_balanced(entry.postings)
    assert {p.account for p in entry.postings} == {"clearing:wechatpay", RECON_DIFFERENCES}


clean_lines = st.builds(
    line,
    txn=st.text("ABCDEFGH0123456789", min_size=1, max_size=20),
    fen=st.integers(min_value=1, max_value=10**10),
    fee=st.integers(min_value=0, max_value=10**6),
    at=st.integers(min_value=1, max_value=10**6),
)


@given(clean_lines, st.sampled_from(["credited", "held", "suspense"]), st.booleans())
def test_what_the_database_counts_as_clean_the_rules_call_matched(
    clean: StatementLine, status: str, fees: bool
) -> None:
    """The SQL predicate: one successful payment line; a payment holding the same amount in
    the same currency on the run's date; the same fee when fees are checked."""
    engine = EnginePayment(
        1, clean.channel_txn_id, "BF", clean.amount_fen, clean.fee_fen, status, DAY
    )
    verdict = classify_payment([clean], engine, RunContext("wechatpay", DAY, fees))
    assert verdict.matched and verdict.matched_fen == clean.amount_fen
    assert verdict.discrepancies == []


@given(
    st.lists(
        st.builds(
            line,
            fen=st.integers(min_value=1, max_value=10**6),
            kind=st.sampled_from([LineType.PAYMENT, LineType.REVERSAL]),
            status=st.sampled_from(list(LineStatus)),
            at=st.integers(min_value=1, max_value=1000),
        ),
        min_size=1,
        max_size=4,
    ),
    st.none()
    | st.builds(
        payment,
        fen=st.integers(1, 10**6),
        status=st.sampled_from(["credited", "held", "suspense", "reversed"]),
    ),
)
def test_every_finding_from_lines_names_a_line_of_the_file(
    lines: list[StatementLine], engine: EnginePayment | None
) -> None:
    sources = {ln.source_line for ln in lines}
    for found in classify_payment(lines, engine, CTX).discrepancies:
        assert found.source_file == "wx.csv" and found.source_line in sources
        assert found.message
