"""The hash chain's pure parts: the canonical form, chain checks, dates and seals."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from billfold.collection.chain import (
    GENESIS,
    BreakKind,
    ChainedEntry,
    ChainHead,
    ChainPosting,
    canonical,
    chain_entries,
    check_chain,
    entry_hash,
    make_seal,
)
from billfold.collection.journal import JournalEntry, Posting

DAY = date(2026, 9, 1)
AT = datetime(2026, 9, 1, 2, 0, 0, 123456, tzinfo=UTC)


def _entries(count: int, chain: str = "s1") -> list[ChainedEntry]:
    raw = [
        (
            100 + n,
            JournalEntry.build(
                "payment",
                [Posting("clearing:wechat", 1000 + n), Posting("payable:s1", -(1000 + n), 7)],
                memo=f"W{n} 学费",
            ),
            (
                ChainPosting("clearing:wechat", 1000 + n, "CNY"),
                ChainPosting("payable:s1", -(1000 + n), "CNY", 7),
            ),
        )
        for n in range(count)
    ]
    chained, _head = chain_entries(
        ChainHead(chain), raw, day=DAY, occurred_at=AT, payment_id=5, refund_id=None
    )
    return chained


def test_the_canonical_form_is_rfc8785_json_of_the_documented_fields() -> None:
    first = _entries(1)[0]
    expected = (
        '{"business_date":"2026-09-01","chain":"s1","id":100,"kind":"payment",'
        '"memo":"W0 学费","occurred_at":"2026-09-01T02:00:00.123456Z","payment_id":5,'
        '"postings":[{"account":"clearing:wechat","amount_fen":1000,"bill_id":null,'
        '"currency":"CNY"},{"account":"payable:s1","amount_fen":-1000,"bill_id":7,'
        '"currency":"CNY"}],"prev_hash":"' + GENESIS + '","refund_id":null,"seq":1,"v":1}'
    ).encode()
    assert canonical(first) == expected
    assert first.hash == entry_hash(first) == hashlib.sha256(expected).hexdigest()


def test_each_entry_links_to_the_one_before() -> None:
    entries = _entries(3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert [e.prev_hash for e in entries] == [GENESIS, entries[0].hash, entries[1].hash]
    head = ChainHead("s1", 3, entries[-1].hash, DAY)
    assert check_chain("s1", entries, head=head) == (3, None)


def test_an_altered_amount_is_named_at_its_entry() -> None:
    entries = _entries(3)
    posting = replace(entries[1].postings[0], amount_fen=1)
    entries[1] = replace(entries[1], postings=(posting, entries[1].postings[1]))
    _count, found = check_chain("s1", entries)
    assert found is not None and found.kind is BreakKind.ALTERED
    assert found.message == "s1 #2 (entry 101) altered: its content does not give its hash"


def test_a_removed_entry_is_named_by_its_number() -> None:
    entries = _entries(3)
    _count, found = check_chain("s1", [entries[0], entries[2]])
    assert found is not None and found.kind is BreakKind.REMOVED and found.seq == 2
    assert found.message == "s1 #2 removed: the chain goes from #1 to s1 #3 (entry 102)"


def test_a_removed_tail_is_found_against_the_head() -> None:
    entries = _entries(3)
    head = ChainHead("s1", 3, entries[-1].hash, DAY)
    _count, found = check_chain("s1", entries[:2], head=head)
    assert found is not None and found.kind is BreakKind.REMOVED
    assert found.message == "s1 #3 removed: the chain head is at #3"


def test_an_entry_beyond_the_head_is_inserted() -> None:
    entries = _entries(3)
    head = ChainHead("s1", 2, entries[1].hash, DAY)
    _count, found = check_chain("s1", entries, head=head)
    assert found is not None and found.kind is BreakKind.INSERTED and found.entry_id == 102


def test_a_replaced_entry_with_a_fresh_hash_breaks_its_successors_link() -> None:
    entries = _entries(3)
    forged = replace(entries[1], memo="forged")
    entries[1] = replace(forged, hash=entry_hash(forged))
    _count, found = check_chain("s1", entries)
    assert found is not None and found.entry_id == 102 and "link" in found.message


def test_business_dates_never_go_backwards_nor_onto_a_sealed_day() -> None:
    head = ChainHead("s1", 5, GENESIS, last_date=date(2026, 9, 3), sealed_through=None)
    assert head.next_date(date(2026, 9, 2)) == date(2026, 9, 3)
    assert head.next_date(date(2026, 9, 4)) == date(2026, 9, 4)
    sealed = replace(head, sealed_through=date(2026, 9, 4))
    assert sealed.next_date(date(2026, 9, 4)) == date(2026, 9, 5)


def test_a_seal_totals_the_day_per_account_and_an_empty_day_keeps_the_chain_state() -> None:
    entries = _entries(2)
    seal = make_seal("s1", DAY, entries, (0, GENESIS))
    assert (seal.entry_count, seal.last_seq, seal.last_hash) == (2, 2, entries[1].hash)
    assert seal.totals == (("clearing:wechat", "CNY", 2001), ("payable:s1", "CNY", -2001))
    empty = make_seal("s1", date(2026, 9, 2), [], (2, entries[1].hash))
    assert (empty.entry_count, empty.last_seq, empty.totals) == (0, 2, ())
    assert empty.digest != seal.digest and len(seal.digest) == 64


@given(
    st.integers(min_value=0, max_value=4),
    st.integers(min_value=1, max_value=10**12),
)
def test_any_changed_amount_is_found_at_the_entry_changed(index: int, amount: int) -> None:
    entries = _entries(5)
    old = entries[index].postings[0]
    if old.amount_fen == amount:
        amount += 1
    entries[index] = replace(
        entries[index], postings=(replace(old, amount_fen=amount), entries[index].postings[1])
    )
    _count, found = check_chain("s1", entries)
    assert found is not None and found.seq == index + 1 and found.kind is BreakKind.ALTERED


_text = st.text(max_size=30)  # any characters: quotes, backslashes, control, astral
_small = st.one_of(st.none(), st.integers(min_value=1, max_value=2**53))


@given(
    chain=_text,
    kind=_text,
    memo=_text,
    account=_text,
    currency=_text,
    amount=st.integers(min_value=-(2**53), max_value=2**53),
    ids=st.tuples(_small, _small, _small),
    seq=st.integers(min_value=1, max_value=2**53),
)
def test_the_fast_canonical_form_is_exactly_sorted_compact_json(
    chain: str,
    kind: str,
    memo: str,
    account: str,
    currency: str,
    amount: int,
    ids: tuple[int | None, int | None, int | None],
    seq: int,
) -> None:
    entry = ChainedEntry(
        id=seq + 7,
        chain=chain,
        seq=seq,
        kind=kind,
        memo=memo,
        payment_id=ids[0],
        refund_id=ids[1],
        business_date=DAY,
        occurred_at=AT,
        postings=(ChainPosting(account, amount, currency, ids[2]), ChainPosting("x", 1, "CNY")),
        prev_hash=GENESIS,
    )
    slow = json.dumps(entry.content(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert canonical(entry) == slow.encode()
