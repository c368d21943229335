"""SQL for maker-checker: proposals (``pending_approvals``) and billers' policies
(``approval_policies``). Deciding is one conditional UPDATE, so two checkers racing on
PostgreSQL find one winner: the second waits for the first's row lock, then matches nothing."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from billfold.adapters.db.schema.access import approval_policies, pending_approvals
from billfold.collection.approval import Approval, ApprovalState, Policy

__all__ = ["SqlApprovals"]

_T = pending_approvals
_P = approval_policies


class SqlApprovals:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        *,
        kind: str,
        biller_id: int | None,
        payload: dict[str, Any],
        maker: str,
        reason: str,
        now: datetime,
    ) -> Approval:
        new_id = self.conn.execute(
            _T.insert()
            .values(
                kind=kind,
                biller_id=biller_id,
                payload=json.dumps(payload, ensure_ascii=False, sort_keys=True),
                maker=maker,
                reason=reason,
                created_at=now,
                state=ApprovalState.PROPOSED.value,
            )
            .returning(_T.c.id)
        ).scalar_one()
        return Approval(
            new_id, kind, biller_id, payload, maker, reason, now, ApprovalState.PROPOSED
        )

    def get(self, approval_id: int) -> Approval | None:
        row = self.conn.execute(select(_T).where(_T.c.id == approval_id)).first()
        return _approval(row) if row is not None else None

    def decide(
        self,
        approval_id: int,
        state: ApprovalState,
        *,
        checker: str,
        reason: str,
        now: datetime,
    ) -> bool:
        done = self.conn.execute(
            _T.update()
            .where(_T.c.id == approval_id, _T.c.state == ApprovalState.PROPOSED.value)
            .values(state=state.value, checker=checker, decided_at=now, decision_reason=reason)
        )
        return done.rowcount == 1

    def record_result(self, approval_id: int, result: dict[str, Any]) -> None:
        text = json.dumps(result, ensure_ascii=False, sort_keys=True, default=str)
        self.conn.execute(_T.update().where(_T.c.id == approval_id).values(result=text))

    def list(
        self, *, state: ApprovalState | None = None, biller_id: int | None = None
    ) -> list[Approval]:
        query = select(_T).order_by(_T.c.id)
        if state is not None:
            query = query.where(_T.c.state == state.value)
        if biller_id is not None:
            query = query.where(_T.c.biller_id == biller_id)
        return [_approval(r) for r in self.conn.execute(query)]

    def policy(self, biller_id: int, kind: str) -> Policy | None:
        row = self.conn.execute(
            select(_P).where(_P.c.biller_id == biller_id, _P.c.kind == kind)
        ).first()
        return Policy(row.kind, bool(row.required), row.threshold_fen) if row else None

    def set_policy(
        self, biller_id: int, policy: Policy, *, actor: str, now: datetime
    ) -> Policy | None:
        """Store ``policy``; the one it replaces (``None``: the default applied)."""
        before = self.policy(biller_id, policy.kind)
        values = {
            "required": policy.required,
            "threshold_fen": policy.threshold_fen,
            "updated_at": now,
            "updated_by": actor,
        }
        if before is None:
            self.conn.execute(_P.insert().values(biller_id=biller_id, kind=policy.kind, **values))
        else:
            self.conn.execute(
                _P.update()
                .where(_P.c.biller_id == biller_id, _P.c.kind == policy.kind)
                .values(**values)
            )
        return before


def _approval(row: Row[Any]) -> Approval:
    return Approval(
        id=row.id,
        kind=row.kind,
        biller_id=row.biller_id,
        payload=json.loads(row.payload),
        maker=row.maker,
        reason=row.reason,
        created_at=row.created_at,
        state=ApprovalState(row.state),
        checker=row.checker,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
        result=json.loads(row.result) if row.result else None,
    )
