"""The supervisor's view of a project, on SQLite and PostgreSQL: the escrow balance, each
contract's money, each milestone with what it allows and the room left to release; and the
pushes to the bureau with what was sent and the bureau's receipt numbers."""

from __future__ import annotations

from datetime import date

import pytest

from billfold.adapters.outbox.bureau_push import BureauLink, push_due, pushes
from billfold.demo.gov_presale import BUREAU_CODE, CONTRACTS, DEVELOPER, setup_presale
from billfold.engine import Engine
from billfold.errors import NotFound
from billfold.packs.presale import PresaleDesk
from billfold.testing.fake_bureau import FakeBureau

A, B, C = (c.contract_no for c in CONTRACTS)
SECRET = "bureau-secret-for-tests"


@pytest.fixture
def desk(engine: Engine) -> PresaleDesk:
    return setup_presale(engine)


def pay(engine: Engine, contract_no: str, amount_fen: int, txn: str) -> None:
    order = engine.create_order(DEVELOPER, [contract_no], amount_fen=amount_fen)
    assert engine.confirm("pos", txn, order.order_no, amount_fen).credited


def test_the_view_shows_balance_contracts_stage_limits_and_releases(
    desk: PresaleDesk, engine: Engine
) -> None:
    pay(engine, A, 10_000_000, "T1:000009:000001")
    pay(engine, B, 4_000_000, "T1:000009:000002")
    desk.sync()
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-V", 700, paid_at=engine.clock.now())
    desk.release(BUREAU_CODE, 1_000_000, request_id="R-V1", by="dev", reason="基础工程款")
    view = desk.view(BUREAU_CODE)
    book = view.totals
    assert (book.received_fen, book.released_fen, book.balance_fen, book.held_fen) == (
        14_000_000, 1_000_000, 13_000_000, 700,
    )  # fmt: skip
    # foundation (30%) is reached: 30% of 140000.00 = 42000.00, 10000.00 of it released
    assert view.room.stage is not None and view.room.stage.stage == "foundation"
    assert (view.room.limit_fen, view.room.room_fen) == (4_200_000, 3_200_000)
    first = view.stages[0]
    assert (first.milestone.stage, first.reached, first.limit_fen) == (
        "foundation", True, 4_200_000,
    )  # fmt: skip
    assert not any(s.reached for s in view.stages[1:])
    contracts = {c.contract_no: c for c in view.contracts}
    assert contracts[A].net_fen == 10_000_000
    assert contracts[A].outstanding_fen == contracts[A].total_fen - 10_000_000
    assert contracts[C].net_fen == 0 and "**" in contracts[A].buyer_masked
    assert [(r.ref, r.amount_fen, r.note) for r in view.releases] == [
        ("R-V1", 1_000_000, "基础工程款")
    ]


def test_the_room_is_what_a_release_may_still_take_and_no_more(
    desk: PresaleDesk, engine: Engine
) -> None:
    from billfold.packs.presale import ReleaseRefused

    pay(engine, A, 10_000_000, "T1:000009:000003")
    desk.sync()
    room = desk.view(BUREAU_CODE).room.room_fen
    with pytest.raises(ReleaseRefused):
        desk.release(BUREAU_CODE, room + 1, request_id="R-over", by="dev", reason="超额")
    desk.release(BUREAU_CODE, room, request_id="R-all", by="dev", reason="全额")
    assert desk.view(BUREAU_CODE).room.room_fen == 0


def test_an_unknown_project_has_no_view(desk: PresaleDesk) -> None:
    with pytest.raises(NotFound) as refused:
        desk.view("JG-NONE")
    assert refused.value.message == "no supervised project with bureau code 'JG-NONE'"


def test_pushes_show_what_was_sent_and_the_bureaus_receipt_numbers(
    desk: PresaleDesk, engine: Engine
) -> None:
    pay(engine, A, 10_000_000, "T1:000009:000004")
    desk.sync()
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-P", 500, paid_at=engine.clock.now())
    waiting = pushes(engine, BUREAU_CODE)
    assert [(p.status, p.receipt_no) for p in waiting] == [("pending", None)] * 2
    bureau = FakeBureau(SECRET, engine.clock)
    push_due(engine, BureauLink("http://bureau.invalid/push", SECRET), bureau)
    sent = pushes(engine, BUREAU_CODE)
    assert [p.status for p in sent] == ["acked", "acked"]
    assert [p.receipt_no for p in sent] == [t.receipt_no for t in bureau.taken]
    first, second = (p.sent for p in sent)
    assert (first["kind"], first["contract_no"], first["amount_fen"], first["channel"]) == (
        "payment", A, 10_000_000, "pos",
    )  # fmt: skip
    assert (second["kind"], second["txn_id"], second["amount"]) == ("held", "TRF-P", "5.00")
    assert first["business_date"] == date(2026, 9, 1).isoformat()
