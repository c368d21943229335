"""Maker-checker on SQLite and PostgreSQL: a proposal changes nothing until someone else
approves it; approving runs its action once, in the approval's own transaction (a failing
action leaves the proposal open); the maker may not decide their own; two checkers racing
find one winner; every step is audited."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from billfold import Biller, BillerKind, Engine, SettlementAccount
from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import access
from billfold.collection.approval import Approval, ApprovalState
from billfold.errors import InvalidInput, InvalidTransition, NotFound, SelfApproval
from billfold.maker_checker import CHECKERS, KINDS, Kind, MakerChecker, register_kind
from billfold.settlement.batch import BatchStatus
from billfold.settlement.settler import Profile, Settler

BILLS = b"bill_no,payer_id,amount\nT1,2024001,10.00\nT2,2024002,25.50\n"


@pytest.fixture
def batch_no(engine: Engine) -> str:
    account = SettlementAccount("工商银行", "水司", "6222020200112233")
    engine.create_biller(
        Biller(code="w2", name="水司", kind=BillerKind.UTILITY, settlement_account=account)
    )
    engine.import_bills("w2", BILLS)
    order = engine.create_order("w2", ["T1"])
    engine.confirm("counter", "W2-TXN", order.order_no, 1000)
    settler = Settler(engine)
    settler.set_profile("w2", Profile(settle_unreconciled=True), actor="ops", reason="T+0")
    return settler.draft("w2", engine.today("w2"), by="ops").batch_no


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def audit_actions(engine: Engine) -> list[str]:
    return [e["action"] for e in engine.audit_log("approval")]


def test_a_settlement_approval_waits_for_a_second_person(engine: Engine, batch_no: str) -> None:
    desk = MakerChecker(engine)
    assert desk.required("settlement.approve", "w2")
    proposed = desk.propose(
        "settlement.approve", {"batch_no": batch_no, "by": "张三"}, maker="key:a",
        reason="day's batch", biller_code="w2",
    )  # fmt: skip
    assert proposed.state is ApprovalState.PROPOSED
    assert Settler(engine).batch(batch_no).status is BatchStatus.DRAFT
    done = desk.approve(proposed.id, checker="key:b")
    assert (done.state, done.checker) == (ApprovalState.APPROVED, "key:b")
    assert done.result == {"batch_no": batch_no, "status": "approved"}
    batch = Settler(engine).batch(batch_no)
    assert batch.status is BatchStatus.APPROVED and batch.approved_by == "张三, checked by key:b"
    assert audit_actions(engine) == ["approval.propose", "approval.approve"]


def test_the_maker_cannot_approve_or_reject_their_own(engine: Engine, batch_no: str) -> None:
    desk = MakerChecker(engine)
    proposed = desk.propose("settlement.approve", {"batch_no": batch_no}, maker="key:a")
    for decide in (
        lambda: desk.approve(proposed.id, checker="key:a"),
        lambda: desk.reject(proposed.id, checker="key:a", reason="mine"),
    ):
        with pytest.raises(SelfApproval) as refused:
            decide()
        assert refused.value.message == (
            f"approval {proposed.id}: key:a proposed it and may not decide it; a second person must"
        )
    assert desk.get(proposed.id).state is ApprovalState.PROPOSED
    assert Settler(engine).batch(batch_no).status is BatchStatus.DRAFT
    assert audit_actions(engine) == ["approval.propose"]


def test_a_rejected_proposal_never_runs_and_cannot_be_approved_later(
    engine: Engine, batch_no: str
) -> None:
    desk = MakerChecker(engine)
    proposed = desk.propose("settlement.approve", {"batch_no": batch_no}, maker="key:a")
    with pytest.raises(InvalidInput, match="reason: say why"):
        desk.reject(proposed.id, checker="key:b", reason=" ")
    rejected = desk.reject(proposed.id, checker="key:b", reason="figures look wrong")
    assert (rejected.state, rejected.decision_reason) == (
        ApprovalState.REJECTED, "figures look wrong",
    )  # fmt: skip
    with pytest.raises(InvalidTransition, match=f"approval {proposed.id} is already rejected"):
        desk.approve(proposed.id, checker="key:c")
    assert Settler(engine).batch(batch_no).status is BatchStatus.DRAFT
    assert audit_actions(engine) == ["approval.propose", "approval.reject"]


def test_a_failing_action_leaves_the_proposal_open_and_nothing_changed(
    engine: Engine, batch_no: str
) -> None:
    desk = MakerChecker(engine)
    proposed = desk.propose("settlement.approve", {"batch_no": "ST-NOPE"}, maker="key:a")
    with pytest.raises(NotFound):
        desk.approve(proposed.id, checker="key:b")
    assert desk.get(proposed.id).state is ApprovalState.PROPOSED
    assert audit_actions(engine) == ["approval.propose"]


def test_unknown_approvals_kinds_and_policies_are_refused_clearly(engine: Engine) -> None:
    desk = MakerChecker(engine)
    with pytest.raises(NotFound, match="approval 99 does not exist"):
        desk.approve(99, checker="key:b")
    with pytest.raises(InvalidInput, match="kind: 'settle' is not one of"):
        desk.propose("settle", {}, maker="key:a")
    with pytest.raises(InvalidInput, match="maker: say who"):
        desk.propose("refund", {}, maker=" ")
    assert count(engine, access.pending_approvals) == 0


def test_a_refund_needs_a_checker_only_above_the_billers_threshold(
    engine: Engine, batch_no: str
) -> None:
    desk = MakerChecker(engine)
    assert not desk.required("refund", "w2", 1_000_000)  # off until a threshold is set
    with pytest.raises(InvalidInput, match="threshold: refund needs the amount"):
        desk.set_policy("w2", "refund", required=True, actor="admin", reason="policy")
    with pytest.raises(InvalidInput, match="threshold: payment.reverse has no threshold"):
        desk.set_policy(
            "w2", "payment.reverse", required=True, threshold_fen=1, actor="a", reason="r"
        )
    desk.set_policy("w2", "refund", required=True, threshold_fen=500, actor="admin", reason="风控")
    assert not desk.required("refund", "w2", 500)
    assert desk.required("refund", "w2", 501)
    desk.set_policy("w2", "settlement.approve", required=False, actor="admin", reason="小商户")
    assert not desk.required("settlement.approve", "w2")
    (last, *_) = reversed(engine.audit_log("biller", "w2"))
    assert (last["action"], last["actor"], last["reason"]) == (
        "approval.policy", "admin", "小商户",
    )  # fmt: skip


def test_two_checkers_racing_find_one_winner_and_the_action_runs_once(engine: Engine) -> None:
    ran: list[int] = []

    def run(joined: Engine, approval: Approval) -> Mapping[str, Any]:
        with joined.uow() as uow:  # a write inside the approval's own transaction
            uow.audit.append(
                actor="test", action="test.ran", target_type="test", target_id=str(approval.id),
                reason="", before=None, after=None, now=joined.clock.now(),
            )  # fmt: skip
            uow.commit()
        ran.append(approval.id)
        return {"ran": True}

    register_kind(Kind("test.once", CHECKERS, True, run))
    try:
        desk = MakerChecker(engine)
        proposed = desk.propose("test.once", {}, maker="key:a")
        barrier = threading.Barrier(2)
        outcomes: list[object] = [None, None]

        def checker(index: int) -> None:
            barrier.wait(timeout=30)
            try:
                outcomes[index] = desk.approve(proposed.id, checker=f"key:c{index}")
            except Exception as exc:  # judged below
                outcomes[index] = exc

        threads = [threading.Thread(target=checker, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        KINDS.pop("test.once")
    won = [o for o in outcomes if isinstance(o, Approval)]
    lost = [o for o in outcomes if not isinstance(o, Approval)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert isinstance(lost[0], InvalidTransition), lost
    assert "is already approved by key:c" in lost[0].message
    assert count(engine, t.audit_log, t.audit_log.c.action == "test.ran") == 1
    assert ran == [proposed.id]


def test_the_database_refuses_a_checker_who_is_the_maker_or_no_checker(engine: Engine) -> None:
    proposed = MakerChecker(engine).propose("refund", {}, maker="key:a")
    now = engine.clock.now()
    for values in (
        {"state": "approved", "checker": "key:a", "decided_at": now},
        {"state": "approved", "checker": None, "decided_at": now},
        {"state": "done", "checker": "key:b", "decided_at": now},
    ):
        with pytest.raises(IntegrityError), engine.db.begin() as conn:
            conn.execute(
                access.pending_approvals.update()
                .where(access.pending_approvals.c.id == proposed.id)
                .values(**values)
            )
    assert MakerChecker(engine).get(proposed.id).state is ApprovalState.PROPOSED
