"""Pushing the escrow ledger to the housing bureau (a fake one that verifies signatures and
sequence): down for an hour of fake-clock time, then back — every push delivered exactly once,
in order per project, receipt numbers stored; failures, timeouts and double answers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from billfold.adapters.outbox.bureau_push import (
    BureauLink,
    HttpxBureauTransport,
    push_due,
    pushes,
    requeue,
)
from billfold.adapters.outbox.retry import RetryPolicy
from billfold.clock import FixedClock
from billfold.demo.gov_presale import (
    BUREAU_CODE,
    CONTRACTS,
    DEVELOPER,
    PROJECT,
    PROJECT_TERMINAL,
    Sandbox,
    setup_presale,
)
from billfold.engine import Engine
from billfold.errors import Conflict, NotFound
from billfold.merchants.biller import Biller, BillerKind, SubUnit, SubUnitKind
from billfold.merchants.presale import Contract, Project
from billfold.packs.presale import PresaleDesk
from billfold.testing.fake_bureau import FakeBureau

SECRET = "bureau-test-secret-0001"
LINK = BureauLink("https://bureau.invalid/push", SECRET)
OTHER = "JG2026-0099"


def second_project(engine: Engine, desk: PresaleDesk) -> None:
    engine.create_biller(
        Biller(
            "dev2",
            "新月置业",
            BillerKind.HOUSING_DEVELOPER,
            sub_units=(SubUnit("XY-1", "新月府", SubUnitKind.PROJECT),),
        )
    )
    desk.add_project(Project("dev2", "XY-1", OTHER, "新月府", "示范银行", "62229999"), actor="t")
    desk.add_contract(OTHER, Contract("HT-XY-1", "1-101", 100_000_000, "赵云"))


def test_an_hour_down_then_back_every_push_once_in_order_with_receipts(
    engine: Engine, clock: FixedClock
) -> None:
    desk = setup_presale(engine)
    second_project(engine, desk)
    sandbox = Sandbox(engine)
    ljy = sandbox.terminal(PROJECT_TERMINAL, DEVELOPER, PROJECT)
    xy = sandbox.terminal("P0000099", "dev2", "XY-1")
    bureau = FakeBureau(SECRET, clock, mode="timeout")

    def pay_and_push(step: int) -> None:
        if step == 0:
            ljy.sale(10_000_000, bill_ref=CONTRACTS[0].contract_no)
            xy.sale(20_000_000, bill_ref="HT-XY-1")
        if step == 20:
            sandbox.pay_qr(DEVELOPER, [CONTRACTS[1].contract_no], "qr-during-outage", 3_000_000)
            desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-1", 500, paid_at=clock.now())
        if step == 40:
            ljy.sale(4_000_000, bill_ref=CONTRACTS[2].contract_no)
            xy.sale(5_000_000, bill_ref="HT-XY-1")
        desk.sync()
        push_due(engine, LINK, bureau)

    for minute in range(60):  # the bureau is down for an hour
        pay_and_push(minute)
        clock.advance(minutes=1)
    assert bureau.taken == []
    waiting = pushes(engine)
    assert len(waiting) == 6 and all(p.status == "pending" for p in waiting)
    sent_while_down = bureau.requests
    assert sent_while_down < 20  # only each project's head, with backoff

    bureau.mode = "ok"
    for _ in range(90):
        push_due(engine, LINK, bureau)
        clock.advance(minutes=1)
    done = pushes(engine)
    assert [p.status for p in done] == ["acked"] * 6
    for code, count in ((BUREAU_CODE, 4), (OTHER, 2)):
        taken = [x for x in bureau.taken if x.bureau_code == code]
        assert [x.seq for x in taken] == list(range(1, count + 1))
    assert len({x.push_id for x in bureau.taken}) == len(bureau.taken) == 6
    receipts = {x.push_id: x.receipt_no for x in bureau.taken}
    assert {p.push_id: p.receipt_no for p in done} == receipts
    assert done[0].attempts > 1 and done[0].last_error is None
    assert [x.kind for x in bureau.taken if x.bureau_code == BUREAU_CODE] == [
        "payment",
        "held",  # booked when it arrived, before the QR payment's sync
        "payment",
        "payment",
    ]


def test_an_answer_lost_on_the_way_back_is_asked_again_and_kept_once(
    engine: Engine, clock: FixedClock
) -> None:
    desk = setup_presale(engine)
    Sandbox(engine).terminal(PROJECT_TERMINAL, DEVELOPER, PROJECT).sale(
        1_000_000, bill_ref=CONTRACTS[0].contract_no
    )
    desk.sync()
    bureau = FakeBureau(SECRET, clock, mode="answer_twice")
    first = push_due(engine, LINK, bureau)
    assert (first.acked, first.retried) == (0, 1)
    (pending,) = pushes(engine)
    assert pending.last_error == "TimeoutError: the bureau's answer was lost on the way back"
    clock.advance(minutes=1)
    assert push_due(engine, LINK, bureau).acked == 1
    (taken,) = bureau.taken
    (acked,) = pushes(engine)
    assert bureau.answers[taken.push_id] == 2
    assert acked.receipt_no == taken.receipt_no and acked.status == "acked"


def test_a_dead_push_blocks_its_project_until_requeued(engine: Engine, clock: FixedClock) -> None:
    desk = setup_presale(engine)
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-1", 100, paid_at=clock.now())
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-2", 200, paid_at=clock.now())
    bureau = FakeBureau(SECRET, clock, mode="fail")
    policy = RetryPolicy(max_attempts=2)
    push_due(engine, LINK, bureau, policy=policy)
    clock.advance(minutes=5)
    stats = push_due(engine, LINK, bureau, policy=policy)
    assert (stats.dead, stats.blocked) == (1, 1)
    head, second = pushes(engine)
    assert (head.status, head.last_error, second.status) == ("dead", "HTTP 503", "pending")
    clock.advance(hours=2)
    assert push_due(engine, LINK, bureau, policy=policy).blocked == 1
    assert bureau.requests == 2  # the second push never overtook the dead one
    with pytest.raises(Conflict) as not_dead:
        requeue(engine, second.push_id, actor="ops", reason="retry")
    assert not_dead.value.message == (
        f"push {second.push_id} is pending, not dead; only dead pushes requeue"
    )
    with pytest.raises(NotFound) as missing:
        requeue(engine, "JG-NOPE", actor="ops", reason="retry")
    assert missing.value.message == "push 'JG-NOPE' does not exist"
    bureau.mode = "ok"
    requeue(engine, head.push_id, actor="ops", reason="bureau back")
    assert push_due(engine, LINK, bureau, policy=policy).acked == 2
    assert [x.seq for x in bureau.taken] == [1, 2]


def test_a_push_signed_with_the_wrong_secret_is_refused_by_the_bureau(
    engine: Engine, clock: FixedClock
) -> None:
    desk = setup_presale(engine)
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-1", 100, paid_at=clock.now())
    bureau = FakeBureau(SECRET, clock)
    push_due(engine, BureauLink(LINK.url, "not-the-bureau-secret"), bureau)
    (push,) = pushes(engine)
    assert (push.status, push.last_error, bureau.taken) == ("pending", "HTTP 401", [])


def test_pushes_go_over_real_http_to_the_fake_bureau_server(
    engine: Engine, clock: FixedClock
) -> None:
    desk = setup_presale(engine)
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-1", 100, paid_at=clock.now())
    desk.reach(BUREAU_CODE, "foundation", date(2026, 8, 15), actor="bureau")
    bureau = FakeBureau(SECRET, clock)
    with bureau.serve() as server, HttpxBureauTransport(timeout=5.0) as transport:
        stats = push_due(engine, BureauLink(server.url, SECRET), transport)
    assert stats.acked == 1
    (push,) = pushes(engine, BUREAU_CODE)
    assert push.receipt_no == bureau.taken[0].receipt_no == "HZJG00000001"
    assert push.acked_at == clock.now() and push.next_attempt_at <= clock.now() + timedelta(
        minutes=5
    )
