"""Maker-checker as a state machine (hypothesis, on a real SQLite database): whatever people
propose, approve and reject, in any order and under any names, a proposal is decided at most
once, never by its maker, and its action has run exactly once for each approved proposal and
never for another."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from migrated_memory import migrated_memory_engine  # type: ignore[import-not-found]
from sqlalchemy import func, select

from billfold.adapters.db import schema as t
from billfold.clock import FixedClock
from billfold.collection.approval import Approval, ApprovalState
from billfold.engine import Engine
from billfold.errors import BillfoldError, InvalidTransition, SelfApproval
from billfold.maker_checker import CHECKERS, KINDS, Kind, MakerChecker, register_kind

PEOPLE = st.sampled_from(["key:a", "key:b", "cli:c"])


def _run(joined: Engine, approval: Approval) -> Mapping[str, Any]:
    with joined.uow() as uow:
        uow.audit.append(
            actor="test", action="test.ran", target_type="test", target_id=str(approval.id),
            reason="", before=None, after=None, now=joined.clock.now(),
        )  # fmt: skip
        uow.commit()
    return {}


class Desk(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = migrated_memory_engine(FixedClock(datetime(2026, 9, 1, tzinfo=UTC)))
        self.desk = MakerChecker(self.engine)
        self.makers: dict[int, str] = {}
        self.decided: dict[int, ApprovalState] = {}

    @rule(maker=PEOPLE)
    def propose(self, maker: str) -> None:
        found = self.desk.propose("test.states", {}, maker=maker)
        self.makers[found.id] = maker

    @rule(data=st.data(), checker=PEOPLE, approve=st.booleans())
    def decide(self, data: st.DataObject, checker: str, approve: bool) -> None:
        if not self.makers:
            return
        approval_id = data.draw(st.sampled_from(sorted(self.makers)))
        try:
            if approve:
                self.desk.approve(approval_id, checker=checker)
            else:
                self.desk.reject(approval_id, checker=checker, reason="no")
        except SelfApproval:
            assert self.makers[approval_id] == checker
            return
        except InvalidTransition:
            assert approval_id in self.decided
            return
        except BillfoldError as exc:  # pragma: no cover - any other refusal is a bug
            raise AssertionError(exc.message) from exc
        assert approval_id not in self.decided and self.makers[approval_id] != checker
        self.decided[approval_id] = ApprovalState.APPROVED if approve else ApprovalState.REJECTED

    @invariant()
    def each_approved_proposal_ran_once_and_no_other(self) -> None:
        with self.engine.db.connect() as conn:
            ran = conn.execute(
                select(t.audit_log.c.target_id, func.count())
                .where(t.audit_log.c.action == "test.ran")
                .group_by(t.audit_log.c.target_id)
            ).all()
        approved = {i for i, s in self.decided.items() if s is ApprovalState.APPROVED}
        assert {int(i): n for i, n in ran} == dict.fromkeys(approved, 1)
        for a in self.desk.list():
            assert a.state is self.decided.get(a.id, ApprovalState.PROPOSED)
            assert a.checker != a.maker

    def teardown(self) -> None:
        self.engine.close()


def test_proposals_are_decided_once_never_by_their_maker() -> None:
    register_kind(Kind("test.states", CHECKERS, True, _run))
    try:
        run_state_machine_as_test(
            Desk, settings=settings(max_examples=20, stateful_step_count=12, deadline=None)
        )
    finally:
        KINDS.pop("test.states")
