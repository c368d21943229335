"""A utility's arrears file into bills, top-ups and the collection file, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from billfold.demo.campus_utility import GAS_ARREARS, GAS_LAYOUT, GAS_OUT
from billfold.engine import Engine
from billfold.errors import ImportFailed, InvalidInput
from billfold.merchants.biller import Biller, BillerKind
from billfold.packs.utility import collection_file_for, import_arrears, offer_topup


@pytest.fixture
def gas(engine: Engine) -> str:
    engine.create_biller(Biller(code="g1", name="城北燃气", kind=BillerKind.UTILITY))
    return "g1"


def _imports(engine: Engine) -> int:
    return sum(1 for a in engine.audit_log("biller", "g1") if a["action"] == "import_bills")


def test_arrears_become_bills_per_account_with_the_layouts_late_fee(
    engine: Engine, gas: str
) -> None:
    report = import_arrears(engine, gas, GAS_ARREARS.encode(), GAS_LAYOUT, file_name="gas.csv")
    assert (report.created, report.unchanged) == (4, 0)
    bill = engine.bill(gas, "G202607-5501")
    assert (bill.principal_fen, bill.due_date, bill.period) == (12_860, date(2026, 8, 20), "202607")
    assert bill.late_fee_rule.describe() == "daily:5bps:cap=30%"
    assert bill.late_fee_fen(date(2026, 9, 1)) == 77  # 128.60 × 0.05% × 12 days
    [(_, payer, _), _] = engine.bills_for("5501", gas)
    assert (payer.kind.value, payer.name) == ("account_no", "钱先生")
    # the same file again: nothing imported, nothing recorded
    again = import_arrears(engine, gas, GAS_ARREARS.encode(), GAS_LAYOUT, file_name="gas.csv")
    assert (again.created, again.unchanged, _imports(engine)) == (0, 4, 1)


def test_a_changed_amount_for_a_known_bill_is_refused_and_nothing_is_imported(
    engine: Engine, gas: str
) -> None:
    import_arrears(engine, gas, GAS_ARREARS.encode(), GAS_LAYOUT)
    changed = (
        GAS_ARREARS.replace("96.40", "99.40") + "G202608-5509,5509,新户,202608,10.00,2026-09-20\n"
    )
    with pytest.raises(ImportFailed) as exc:
        import_arrears(engine, gas, changed.encode(), GAS_LAYOUT, file_name="gas2.csv")
    assert exc.value.errors == [
        "line 3: bill_no: G202608-5501 already exists with different content; "
        "cancel or change it instead of importing it again"
    ]
    assert engine.bills_for("5509", gas) == [] and _imports(engine) == 1


def test_a_top_up_is_an_open_amount_within_its_bounds(engine: Engine, gas: str) -> None:
    bill = offer_topup(engine, gas, "5504", "202609", min_fen=5_000, max_fen=200_000)
    assert (bill.kind.value, bill.open_min_fen, bill.open_max_fen) == ("open", 5_000, 200_000)
    assert offer_topup(engine, gas, "5504", "202609", min_fen=5_000, max_fen=200_000).id == bill.id
    with pytest.raises(InvalidInput) as exc:
        offer_topup(engine, gas, "5504", "202609", min_fen=1_000, max_fen=200_000)
    assert exc.value.message == "top-up TU-202609-5504 is offered with 50.00–2000.00 already"
    with pytest.raises(InvalidInput) as low:
        engine.create_order(gas, [bill.bill_no], amount_fen=4_999)
    assert low.value.message == "amount: 49.99 is outside 50.00–2000.00 for bill TU-202609-5504"
    order = engine.create_order(gas, [bill.bill_no], amount_fen=30_000)
    engine.confirm("counter", "C-1", order.order_no, 30_000)
    assert engine.bill(gas, bill.bill_no).paid_fen == 30_000


def test_the_collection_file_is_the_same_bytes_every_time(engine: Engine, gas: str) -> None:
    import_arrears(engine, gas, GAS_ARREARS.encode(), GAS_LAYOUT)
    order = engine.create_order(gas, ["G202607-5501", "G202608-5501"])
    engine.confirm("counter", "C-9", order.order_no, order.total_fen)
    first = collection_file_for(engine, gas, date(2026, 9, 1), GAS_OUT)
    assert first == collection_file_for(engine, gas, date(2026, 9, 1), GAS_OUT)
    lines = first.decode().splitlines()
    assert lines[1:4] == [
        "1,5501,G202607-5501,128.60,0.77,129.37,柜台,C-9,2026-09-01 10:00:00",
        "2,5501,G202608-5501,96.40,0.00,96.40,柜台,C-9,2026-09-01 10:00:00",
        "合计,2,225.77",
    ]
    with pytest.raises(InvalidInput) as exc:
        engine.create_biller(Biller(code="s9", name="学校", kind=BillerKind.SCHOOL))
        collection_file_for(engine, "s9", date(2026, 9, 1), GAS_OUT)
    assert exc.value.message == "biller: s9 is a school, not a utility"
