"""The supervisor's two escrow files — the daily detail and its summary — agree: every
money column the two share sums the same, on every day, whatever happened before it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from billfold.settlement.escrow import (
    ContractRow,
    EntryKind,
    EscrowEntry,
    contract_sheet,
    summary_sheet,
)
from billfold.settlement.exports import Sheet

D1, D2, D3 = date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3)
CONTRACTS = [
    ContractRow("HT-1", "1-101", "陈**", 300_000_00),
    ContractRow("HT-2", "1-102", "李**", 200_000_00),
]


def entry(
    seq: int, kind: EntryKind, ref: str, contract: str | None, fen: int, day: date
) -> EscrowEntry:
    at = datetime(day.year, day.month, day.day, 2, tzinfo=UTC)
    channel = "bank" if kind in (EntryKind.HELD, EntryKind.ASSIGN) else "pos"
    if kind is EntryKind.RELEASE:
        channel = "release"
    return EscrowEntry(seq, kind, channel, ref, contract, fen, day, at, note="n")


# held on day 1 and assigned on day 2; another held on day 2 and never assigned; a release on
# day 1 and day 2; a refund on day 2; a reversal on day 3
BOOK = [
    entry(1, EntryKind.PAYMENT, "P1", "HT-1", 90_000_00, D1),
    entry(2, EntryKind.HELD, "TRF-1", None, 5_000_00, D1),
    entry(3, EntryKind.RELEASE, "R1", None, 10_000_00, D1),
    entry(4, EntryKind.ASSIGN, "TRF-1", "HT-2", 5_000_00, D2),
    entry(5, EntryKind.HELD, "TRF-2", None, 700, D2),
    entry(6, EntryKind.PAYMENT, "P2", "HT-2", 60_000_00, D2),
    entry(7, EntryKind.REFUND, "RF1", "HT-1", 1_000_00, D2),
    entry(8, EntryKind.RELEASE, "R2", None, 2_000_00, D2),
    entry(9, EntryKind.REVERSAL, "P2", "HT-2", 60_000_00, D3),
]


def columns(sheet: Sheet) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for index, (name, kind) in enumerate(sheet.columns):
        if kind == "money":
            found[name] = [int(row[index] or 0) for row in sheet.rows]
    return found


def check_agree(day: date, book: list[EscrowEntry]) -> dict[str, int]:
    detail = columns(contract_sheet(day, CONTRACTS, book))
    summary = {k: v[0] for k, v in columns(summary_sheet(day, "JG-1", "P", "ACC", book)).items()}
    shared = set(detail) & set(summary)
    assert {
        "当日入账",
        "当日拨付",
        "当日退款",
        "当日暂挂",
        "暂挂金额",
        "累计入账",
        "累计拨付",
    } <= shared
    for name in shared:
        assert sum(detail[name]) == summary[name], (day, name)
    assert summary["期末余额"] == summary["累计入账"] - summary["累计拨付"]
    assert summary["期末余额"] == (
        summary["期初余额"] + summary["当日入账"] - summary["当日拨付"] - summary["当日退款"]
    )
    return summary


def test_on_a_day_after_held_money_came_in_the_detail_shows_what_the_summary_holds() -> None:
    # before: the summary said 暂挂金额 50.00 the day after, the detail had no held money at all
    summary = check_agree(D1 + timedelta(days=0), BOOK[:3])
    later = check_agree(D2, BOOK[:3])
    assert later["暂挂金额"] == summary["暂挂金额"] == 5_000_00
    held_rows = [r for r in contract_sheet(D2, CONTRACTS, BOOK[:3]).rows if r[0] == "暂挂"]
    assert [(r[1], r[9], r[10]) for r in held_rows] == [("TRF-1", 0, 5_000_00)]


def test_the_detail_adds_up_to_the_summarys_closing_balance_on_every_day() -> None:
    # before: the detail's 累计入账 (all received) had nothing to set the releases against
    for day in (D1, D2, D3):
        check_agree(day, BOOK)
    closing = check_agree(D3, BOOK)
    assert closing["期末余额"] == 90_000_00 + 5_000_00 - 1_000_00 - 12_000_00


def test_held_money_assigned_later_is_shown_as_assigned_on_that_day_and_gone_after() -> None:
    on_d2 = [r for r in contract_sheet(D2, CONTRACTS, BOOK).rows if r[0] == "暂挂"]
    assert [(r[1], r[9], r[10]) for r in on_d2] == [("TRF-1", 0, 0), ("TRF-2", 700, 700)]
    assert "已归集至合同 HT-2" in str(on_d2[0][3])
    on_d3 = [r for r in contract_sheet(D3, CONTRACTS, BOOK).rows if r[0] == "暂挂"]
    assert [r[1] for r in on_d3] == ["TRF-2"]


def test_every_release_up_to_the_day_is_listed_with_its_days_part() -> None:
    rows = [r for r in contract_sheet(D2, CONTRACTS, BOOK).rows if r[0] == "拨付"]
    assert [(r[1], r[6], r[11]) for r in rows] == [("R1", 0, 10_000_00), ("R2", 2_000_00, 2_000_00)]


KINDS = st.sampled_from(
    [EntryKind.PAYMENT, EntryKind.HELD, EntryKind.RELEASE, EntryKind.REFUND, EntryKind.ASSIGN]
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            KINDS, st.integers(1, 10_000_00), st.integers(0, 3), st.sampled_from(["HT-1", "HT-2"])
        ),
        max_size=12,
    )
)
def test_any_book_gives_two_files_that_agree(moves: list[tuple[EntryKind, int, int, str]]) -> None:
    book: list[EscrowEntry] = []
    unassigned: list[EscrowEntry] = []
    for seq, (kind, fen, offset, contract) in enumerate(moves, start=1):
        day = D1 + timedelta(days=offset)
        if kind is EntryKind.ASSIGN:
            if not unassigned:
                continue
            held = unassigned.pop(0)
            day = max(day, held.business_date)
            book.append(entry(seq, kind, held.ref, contract, held.amount_fen, day))
            continue
        made = entry(
            seq,
            kind,
            f"X{seq}",
            None if kind in (EntryKind.HELD, EntryKind.RELEASE) else contract,
            fen,
            day,
        )
        book.append(made)
        if kind is EntryKind.HELD:
            unassigned.append(made)
    for offset in range(5):
        check_agree(D1 + timedelta(days=offset), book)
