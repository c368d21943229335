"""Government fees and fines on SQLite and PostgreSQL: the catalogue priced by date, fines
found by decision number with the statutory penalty as of the clock, one receipt per payment."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from billfold.clock import FixedClock
from billfold.collection.payer import IdentifierKind, Payer
from billfold.demo.gov_presale import EXIT_ENTRY, TRAFFIC, setup_government
from billfold.engine import Engine
from billfold.errors import Conflict, NotFound
from billfold.merchants.fee_catalogue import FeeItem
from billfold.packs.government import Government

LATE = "杭公交决字〔2026〕第330100001号"  # 200.00, deadline 2026-08-20
ON_TIME = "杭公交决字〔2026〕第330100002号"  # 50.00, deadline 2026-09-15


@pytest.fixture
def gov(engine: Engine) -> Government:
    return setup_government(engine)


def test_a_bill_is_priced_at_the_catalogue_entry_in_force_that_day(
    gov: Government, engine: Engine, clock: FixedClock
) -> None:
    assert gov.fee(EXIT_ENTRY, "passport", date(2026, 5, 31)).amount_fen == 20_000
    assert [(i.item_code, i.amount_fen) for i in gov.catalogue(EXIT_ENTRY)] == [
        ("eep-hk", 6_000),
        ("hukou-card", 800),
        ("passport", 12_000),
    ]
    bill = engine.bill(EXIT_ENTRY, "EE-2026-000321")
    assert [(i.code, i.name, i.amount_fen) for i in bill.items] == [
        ("passport", "普通护照", 12_000),
        ("eep-hk", "往来港澳通行证", 6_000),
    ]
    gov.set_fee(EXIT_ENTRY, FeeItem("passport", "普通护照", 9_000, date(2027, 1, 1)), actor="t")
    clock.set(datetime(2027, 1, 1, 1, 0, tzinfo=UTC))
    later = gov.issue_fee_bill(
        EXIT_ENTRY, "EE-2027-000001", Payer(IdentifierKind.OTHER, "A1", name="何"), ["passport"]
    )
    assert later.principal_fen == 9_000


def test_the_same_entry_again_changes_nothing_and_a_different_one_is_refused(
    gov: Government, engine: Engine
) -> None:
    same = FeeItem("passport", "普通护照", 12_000, date(2026, 6, 1))
    assert gov.set_fee(EXIT_ENTRY, same, actor="t") is False
    audit_before = len(engine.audit_log())
    with pytest.raises(Conflict) as clash:
        gov.set_fee(EXIT_ENTRY, FeeItem("passport", "普通护照", 1, date(2026, 6, 1)), actor="t")
    assert clash.value.message == (
        "fee item passport already costs 120.00 from 2026-06-01; "
        "add an entry with a later effective date instead"
    )
    assert gov.fee(EXIT_ENTRY, "passport").amount_fen == 12_000
    assert len(engine.audit_log()) == audit_before


def test_a_fine_is_found_by_decision_number_with_the_penalty_as_of_the_clock(
    gov: Government, engine: Engine
) -> None:
    biller, bill, quote = gov.lookup_fine(LATE)
    assert biller.code == TRAFFIC and bill.bill_no == LATE
    assert (quote.days_overdue, quote.penalty_fen, quote.total_fen) == (12, 7_200, 27_200)
    order = engine.create_order(TRAFFIC, [LATE])
    assert order.total_fen == quote.total_fen  # the core charges what the desk quoted
    _, _, in_time = gov.lookup_fine(ON_TIME)
    assert (in_time.penalty_fen, in_time.total_fen) == (0, 5_000)


@pytest.mark.parametrize(
    ("instant", "penalty_fen"),
    [
        (datetime(2026, 9, 15, 15, 59, 59, tzinfo=UTC), 0),  # 23:59:59 on the deadline
        (datetime(2026, 9, 15, 16, 0, 0, tzinfo=UTC), 150),  # 00:00 the next day: 3%
        (datetime(2026, 9, 15, 22, 0, 0, tzinfo=UTC), 150),  # UTC still the 15th
    ],
)
def test_the_deadline_is_judged_in_shanghai_on_the_injected_clock(
    gov: Government, clock: FixedClock, instant: datetime, penalty_fen: int
) -> None:
    clock.set(instant)
    assert gov.lookup_fine(ON_TIME)[2].penalty_fen == penalty_fen


def test_an_unknown_decision_number_is_not_found_and_changes_nothing(
    gov: Government, engine: Engine
) -> None:
    balance = engine.trial_balance()
    with pytest.raises(NotFound) as missing:
        gov.lookup_fine("杭公交决字〔2026〕第999号")
    assert missing.value.message == "no fine with decision number '杭公交决字〔2026〕第999号'"
    assert engine.trial_balance() == balance and len(engine.bills_for(ON_TIME)) == 1


def test_each_payment_gets_one_receipt_number_as_json_and_escaped_html(
    gov: Government, engine: Engine
) -> None:
    order = engine.create_order(TRAFFIC, [LATE])
    paid = engine.confirm("counter", "CTR-F-1", order.order_no, order.total_fen)
    first = gov.issue_receipt(paid.payment.id)
    again = gov.issue_receipt(paid.payment.id)
    assert first == again == gov.receipt(first.receipt_no)
    assert first.receipt_no == f"R20260901{paid.payment.id:010d}"
    assert [(x.name, x.amount_fen) for x in first.lines] == [("加处罚款", 7_200), ("罚款", 20_000)]
    assert first.payer_name == "钱**" and first.total_fen == 27_200
    assert '"decision_no": "杭公交决字〔2026〕第330100001号"' in first.to_json()
    page = first.to_html()
    assert "<h1>杭州市公安局交通警察支队 缴款凭证</h1>" in page
    assert '<td>合计</td><td class="amt">272.00</td>' in page
    other = engine.create_order(TRAFFIC, [ON_TIME])
    paid2 = engine.confirm("counter", "CTR-F-2", other.order_no, other.total_fen)
    assert gov.issue_receipt(paid2.payment.id).receipt_no != first.receipt_no
    assert len(gov.receipts(TRAFFIC)) == 2


def test_receipt_html_escapes_what_it_prints(engine: Engine) -> None:
    from dataclasses import replace

    gov = setup_government(engine)
    order = engine.create_order(TRAFFIC, [ON_TIME])
    paid = engine.confirm("counter", "CTR-<b>", order.order_no, order.total_fen)
    receipt = replace(gov.issue_receipt(paid.payment.id), office_name="交警<script>&")
    page = receipt.to_html()
    assert "<script>" not in page and "交警&lt;script&gt;&amp;" in page
    assert "CTR-&lt;b&gt;" in page


def test_a_payment_not_credited_gets_no_receipt(gov: Government, engine: Engine) -> None:
    order = engine.create_order(TRAFFIC, [ON_TIME])
    held = engine.confirm("counter", "CTR-F-9", order.order_no, order.total_fen - 1)
    with pytest.raises(Conflict) as refused:
        gov.issue_receipt(held.payment.id)
    assert refused.value.message == (
        f"payment {held.payment.id} is held; only a credited payment gets a receipt"
    )
    assert gov.receipts(TRAFFIC) == []
    with pytest.raises(NotFound) as missing:
        gov.receipt("R000")
    assert missing.value.message == "receipt 'R000' does not exist"
