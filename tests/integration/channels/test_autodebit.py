"""Auto-debit (签约代扣) end to end against the sandbox bank, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.adapters.db.mandates import SqlMandates
from billfold.channels.autodebit import AutoDebit, DebitPolicy
from billfold.channels.base import Decline
from billfold.clock import FixedClock
from billfold.collection.mandate import DebitStatus, Mandate, MandateStatus, RetrySchedule
from billfold.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from billfold.merchants.channel_config import ChannelConfig
from billfold.testing.sandbox.autodebit import SandboxBank
from billfold.testing.sandbox.gateway import SandboxGateway

# The clock starts at 2026-09-01 10:00 Asia/Shanghai. W1 is due 2026-09-03: its debit is
# planned for 2026-09-03 00:00 Shanghai (2026-09-02 16:00 UTC), its notice 24 h earlier.
BILLS = b"""bill_no,payer_id,amount,due_date
W1,H001,120.50,2026-09-03
W2,H001,80.00,2026-09-20
G1,H002,60.00,2026-09-03
"""
NOTICE_AT = datetime(2026, 9, 1, 16, 0, tzinfo=UTC)
DEBIT_AT = datetime(2026, 9, 2, 16, 0, tzinfo=UTC)


@pytest.fixture
def water(engine: Engine) -> Engine:
    engine.create_biller(Biller(code="w1", name="自来水公司", kind=BillerKind.UTILITY))
    engine.import_bills("w1", BILLS)
    return engine


@pytest.fixture
def bank(clock: FixedClock) -> SandboxBank:
    return SandboxBank(SandboxGateway(clock))


def signed(
    engine: Engine, bank: SandboxBank, payer: str = "H001", policy: DebitPolicy | None = None
) -> tuple[AutoDebit, Mandate]:
    auto = AutoDebit(engine, bank, policy)
    mandate = auto.sign(
        "w1",
        payer,
        "6222 0212 3456 7890",
        per_debit_limit_fen=50_000,
        monthly_limit_fen=100_000,
        actor="teller",
    )
    return auto, auto.activate(mandate.mandate_no, agreement_no="AGR-1", actor="bank")


def events(engine: Engine, prefix: str = "mandate.") -> list[tuple[str, dict[str, Any]]]:
    with engine.uow() as uow:
        rows = uow.conn.execute(
            select(t.outbox_events.c.event_type, t.outbox_events.c.payload)
            .where(t.outbox_events.c.event_type.like(prefix + "%"))
            .order_by(t.outbox_events.c.id)
        ).all()
    return [(row.event_type, json.loads(row.payload)["data"]) for row in rows]


def event_types(engine: Engine) -> list[str]:
    return [
        kind for kind, _ in events(engine) if kind not in ("mandate.signed", "mandate.activated")
    ]


def test_a_debit_is_noticed_24h_ahead_then_debited_and_credited_once(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    auto, mandate = signed(water, bank)
    assert mandate.status is MandateStatus.ACTIVE and mandate.account_masked.endswith("7890")
    assert "6222" not in mandate.account_masked

    assert auto.run_once().noticed == 0  # W1's notice is not due yet
    clock.set(NOTICE_AT - timedelta(seconds=1))
    assert auto.run_once().noticed == 0
    clock.set(NOTICE_AT)
    report = auto.run_once()
    assert (report.noticed, report.debited) == (1, 0)
    [notice] = [d for k, d in events(water) if k == "mandate.pre_debit_notice"]
    assert notice["bill_no"] == "W1" and notice["amount"] == "120.50"
    assert notice["payer_id"] == "H001" and notice["debit_at"] == DEBIT_AT.isoformat()
    assert notice["debit_date"] == "2026-09-03" and notice["account"] == "************7890"
    assert auto.run_once().noticed == 0  # noticed once only

    clock.set(DEBIT_AT - timedelta(seconds=1))
    assert auto.run_once().debited == 0 and bank.requests == []
    clock.set(DEBIT_AT)
    assert auto.run_once().debited == 1
    assert auto.run_once().debited == 0
    assert [r.amount_fen for r in bank.requests] == [12_050]
    assert water.bill("w1", "W1").paid_fen == 12_050
    [debit] = auto.debits(mandate.mandate_no)
    assert debit.status is DebitStatus.SUCCEEDED and debit.debited_on == date(2026, 9, 3)
    assert water.payment(1).channel == "autodebit"
    assert water.check_books() == []
    assert event_types(water) == ["mandate.pre_debit_notice", "mandate.debit_succeeded"]


def test_the_notice_lead_is_configurable(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    auto, mandate = signed(water, bank, policy=DebitPolicy(notice_lead=timedelta(hours=12)))
    clock.set(NOTICE_AT)
    assert auto.run_once().noticed == 0
    clock.set(DEBIT_AT - timedelta(hours=12))
    assert auto.run_once().noticed == 1
    assert auto.debits(mandate.mandate_no)[0].next_attempt_at == DEBIT_AT


def test_a_bill_found_late_is_debited_no_sooner_than_the_lead_after_its_notice(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    clock.set(DEBIT_AT + timedelta(hours=5))  # W1 is due already when the mandate starts
    auto, mandate = signed(water, bank)
    assert auto.run_once().noticed == 1 and bank.requests == []
    [debit] = auto.debits(mandate.mandate_no)
    assert debit.next_attempt_at == clock.now() + timedelta(hours=24)
    clock.advance(hours=23, minutes=59)
    assert auto.run_once().debited == 0
    clock.advance(minutes=1)
    assert auto.run_once().debited == 1


def test_insufficient_funds_is_retried_with_backoff_until_it_succeeds(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    auto, mandate = signed(water, bank)
    bank.script(mandate.mandate_no, Decline.INSUFFICIENT_FUNDS, Decline.INSUFFICIENT_FUNDS)
    clock.set(NOTICE_AT)
    auto.run_once()
    clock.set(DEBIT_AT)
    assert auto.run_once().retrying == 1
    [debit] = auto.debits(mandate.mandate_no)
    assert debit.status is DebitStatus.RETRY_WAIT and debit.attempts == 1
    assert debit.next_attempt_at == DEBIT_AT + timedelta(days=1)
    assert "insufficient funds" in (debit.reason or "")
    clock.advance(days=1)
    assert auto.run_once().retrying == 1
    assert auto.debits(mandate.mandate_no)[0].next_attempt_at == clock.now() + timedelta(days=2)
    clock.advance(days=1)
    assert auto.run_once().debited == 0  # backoff: not yet
    clock.advance(days=1)
    assert auto.run_once().debited == 1
    assert [r.request_id[-2:] for r in bank.requests] == ["-1", "-2", "-3"]
    assert water.bill("w1", "W1").paid_fen == 12_050
    assert water.check_books() == []
    assert event_types(water).count("mandate.debit_retry_scheduled") == 2


def test_insufficient_funds_gives_up_after_the_maximum_with_an_event(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    policy = DebitPolicy(retry=RetrySchedule(base=timedelta(hours=1), max_attempts=2))
    auto, mandate = signed(water, bank, policy=policy)
    bank.script(mandate.mandate_no, *[Decline.INSUFFICIENT_FUNDS] * 5)
    clock.set(NOTICE_AT)
    auto.run_once()
    clock.set(DEBIT_AT)
    auto.run_once()
    clock.advance(hours=1)
    report = auto.run_once()
    assert (report.failed, report.retrying) == (1, 0)
    clock.advance(days=10)
    assert auto.run_once().failed == 0 and len(bank.requests) == 2
    [debit] = auto.debits(mandate.mandate_no)
    assert debit.status is DebitStatus.FAILED
    assert debit.reason == "余额不足 insufficient funds; gave up after 2 attempts"
    failed = [data for kind, data in events(water) if kind == "mandate.debit_failed"]
    assert [f["reason"] for f in failed] == [debit.reason]
    assert water.bill("w1", "W1").paid_fen == 0 and water.check_books() == []


def test_a_closed_account_fails_the_debit_and_suspends_the_mandate(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    auto, mandate = signed(water, bank)
    bank.script(mandate.mandate_no, Decline.ACCOUNT_CLOSED)
    clock.set(NOTICE_AT)
    auto.run_once()
    clock.set(DEBIT_AT)
    assert auto.run_once().failed == 1
    assert auto.mandate(mandate.mandate_no).status is MandateStatus.SUSPENDED
    assert event_types(water)[-2:] == ["mandate.debit_failed", "mandate.suspended"]


def test_revocation_cancels_a_noticed_debit_and_the_bank_is_never_asked(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    auto, mandate = signed(water, bank)
    clock.set(NOTICE_AT)
    auto.run_once()
    revoked = auto.revoke(mandate.mandate_no, actor="payer", reason="moved house")
    assert revoked.status is MandateStatus.REVOKED
    clock.set(DEBIT_AT + timedelta(days=3))
    report = auto.run_once()
    assert (report.debited, report.noticed) == (0, 0) and bank.requests == []
    [debit] = auto.debits(mandate.mandate_no)
    assert debit.status is DebitStatus.CANCELLED
    assert debit.reason == "mandate revoked: moved house"
    assert event_types(water)[-2:] == ["mandate.debit_cancelled", "mandate.revoked"]
    with pytest.raises(InvalidTransition, match="is revoked; it cannot become suspended"):
        auto.suspend(mandate.mandate_no, actor="x", reason="y")
    audit = water.audit_log("mandate", mandate.mandate_no)
    assert [a["action"] for a in audit] == ["mandate.sign", "mandate.activated", "mandate.revoked"]


def test_a_run_behind_an_uncommitted_revocation_debits_nothing(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    auto, mandate = signed(water, bank)
    clock.set(NOTICE_AT)
    auto.run_once()
    clock.set(DEBIT_AT)
    done: list[Any] = []
    with water.uow() as uow:  # a revocation in flight: the mandate is locked, not committed
        repo = SqlMandates(uow.conn)
        locked = repo.get_by_no(mandate.mandate_no, lock=True)
        assert locked is not None
        runner = threading.Thread(target=lambda: done.append(auto.run_once()))
        runner.start()
        runner.join(0.5)
        assert runner.is_alive()  # waiting for the mandate (PostgreSQL) or the database
        locked.revoke("payer called the hotline")
        assert repo.save_state(locked, MandateStatus.ACTIVE, clock.now())
        uow.commit()
    runner.join(10)
    assert done and done[0].debited == 0 and bank.requests == []
    assert auto.debits(mandate.mandate_no)[0].attempts == 0  # never claimed


def test_two_runs_at_once_debit_each_bill_once(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    auto, _ = signed(water, bank)
    signed(water, bank, payer="H002")
    clock.set(NOTICE_AT)
    auto.run_once()
    clock.set(DEBIT_AT)
    reports: list[Any] = []
    runs = [threading.Thread(target=lambda: reports.append(auto.run_once())) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(20)
    assert sum(r.debited for r in reports) == 2
    assert sorted(r.amount_fen for r in bank.requests) == [6000, 12_050]
    assert water.check_books() == []


def test_a_lost_bank_answer_is_asked_about_after_the_lease_and_credited_once(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    auto, mandate = signed(water, bank)
    clock.set(NOTICE_AT)
    auto.run_once()
    clock.set(DEBIT_AT)
    bank.lose_answers = 1
    assert auto.run_once().in_doubt == 1
    assert auto.debits(mandate.mandate_no)[0].status is DebitStatus.SUBMITTING
    assert auto.run_once().debited == 0  # the lease still runs
    clock.advance(minutes=5)
    assert auto.run_once().debited == 1
    assert len(bank.requests) == 1 and len(bank.debited) == 1
    assert water.bill("w1", "W1").paid_fen == 12_050 and water.check_books() == []


def test_an_unreachable_bank_leaves_the_debit_to_be_sent_after_the_lease(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    auto, mandate = signed(water, bank)
    clock.set(NOTICE_AT)
    auto.run_once()
    clock.set(DEBIT_AT)
    bank.unreachable = 1
    assert auto.run_once().in_doubt == 1 and bank.requests == []
    clock.advance(minutes=5)
    assert auto.run_once().debited == 1
    [request] = bank.requests
    assert request.request_id.endswith("-1")  # the same attempt, not a new one
    assert auto.debits(mandate.mandate_no)[0].attempts == 1


def test_limits_refuse_a_debit_per_debit_at_notice_time_and_per_month_at_debit_time(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    auto = AutoDebit(water, bank)
    small = auto.sign(
        "w1",
        "H001",
        "6222021234567890",
        per_debit_limit_fen=10_000,
        monthly_limit_fen=15_000,
        actor="t",
    )
    auto.activate(small.mandate_no, agreement_no="AGR-9", actor="bank")
    water.import_bills("w1", b"bill_no,payer_id,amount,due_date\nW3,H001,70.00,2026-09-03\n")
    clock.set(NOTICE_AT)
    report = auto.run_once()
    assert (report.noticed, report.refused) == (1, 1)  # W1 (120.50) is over 100.00 a debit
    refused = [d for k, d in events(water) if k == "mandate.debit_refused"]
    assert refused[0]["bill_no"] == "W1" and refused[0]["code"] == "over_per_debit_limit"
    clock.set(DEBIT_AT)
    assert auto.run_once().debited == 1  # W3: 70.00
    water.import_bills("w1", b"bill_no,payer_id,amount,due_date\nW4,H001,90.00,2026-09-10\n")
    clock.set(datetime(2026, 9, 9, 16, tzinfo=UTC))
    auto.run_once()
    clock.advance(hours=24)
    report = auto.run_once()
    assert (report.debited, report.refused) == (0, 1)
    last = [d for k, d in events(water) if k == "mandate.debit_refused"][-1]
    assert last["bill_no"] == "W4" and last["code"] == "over_monthly_limit"
    assert "already debited in 2026-09" in last["reason"]


def test_a_bill_paid_another_way_before_its_debit_is_not_debited(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    auto, mandate = signed(water, bank)
    clock.set(NOTICE_AT)
    auto.run_once()
    order = water.create_order("w1", ["W1"])
    water.confirm("counter", "C1", order.order_no, 12_050)
    clock.set(DEBIT_AT)
    assert auto.run_once().cancelled == 1 and bank.requests == []
    assert auto.debits(mandate.mandate_no)[0].reason == "bill W1 is no longer owed"


def test_a_suspended_mandate_waits_and_is_noticed_again_when_resumed(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    auto, mandate = signed(water, bank)
    clock.set(NOTICE_AT)
    auto.run_once()
    auto.suspend(mandate.mandate_no, actor="payer", reason="travelling")
    clock.set(DEBIT_AT)
    assert auto.run_once().debited == 0 and bank.requests == []
    clock.advance(days=2)
    auto.resume(mandate.mandate_no, actor="payer", reason="back home")
    assert auto.run_once().debited == 0  # a fresh notice, and its full lead
    assert event_types(water).count("mandate.pre_debit_notice") == 2
    clock.advance(hours=24)
    assert auto.run_once().debited == 1


def test_a_mandate_expires_after_its_validity_and_its_debits_are_cancelled(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    auto = AutoDebit(water, bank)
    mandate = auto.sign(
        "w1",
        "H001",
        "6222021234567890",
        per_debit_limit_fen=50_000,
        monthly_limit_fen=50_000,
        valid_until=date(2026, 9, 2),
        actor="t",
    )
    auto.activate(mandate.mandate_no, agreement_no="AGR-2", actor="bank")
    clock.set(NOTICE_AT)
    report = auto.run_once()  # W1's debit would fall on 09-03, after the validity
    assert (report.noticed, report.refused) == (0, 1)
    clock.set(datetime(2026, 9, 2, 15, 59, tzinfo=UTC))  # 09-02 23:59 in Shanghai
    assert auto.run_once().expired == 0
    clock.advance(minutes=1)
    assert auto.run_once().expired == 1
    assert auto.mandate(mandate.mandate_no).status is MandateStatus.EXPIRED


def test_signing_mistakes_are_refused_with_the_reason(water: Engine, bank: SandboxBank) -> None:
    auto = AutoDebit(water, bank)

    def sign(**kw: Any) -> Mandate:
        args: dict[str, Any] = {
            "biller_code": "w1",
            "payer_id": "H001",
            "account_no": "6222021234567890",
            "per_debit_limit_fen": 100,
            "monthly_limit_fen": 1000,
            "actor": "t",
        }
        return auto.sign(**(args | kw))

    with pytest.raises(NotFound, match="biller 'nope' does not exist"):
        sign(biller_code="nope")
    with pytest.raises(NotFound, match="payer 'H999' is not known to biller w1"):
        sign(payer_id="H999")
    with pytest.raises(InvalidInput, match="account: a bank account or card number is 8-32"):
        sign(account_no="62-22")
    with pytest.raises(InvalidInput, match="per_debit_limit: 10.00 is more than the monthly"):
        sign(per_debit_limit_fen=1000, monthly_limit_fen=999)
    first = sign()
    with pytest.raises(Conflict, match=f"already has mandate {first.mandate_no} \\(pending\\)"):
        sign()
    with pytest.raises(InvalidTransition, match="is pending, not suspended"):
        auto.resume(first.mandate_no, actor="t", reason="r")
    with pytest.raises(InvalidInput, match="revoke: a reason is required"):
        auto.revoke(first.mandate_no, actor="t", reason=" ")
    with pytest.raises(NotFound, match="mandate 'MD0' does not exist"):
        auto.revoke("MD0", actor="t", reason="r")
    water.set_channel_config(
        "w1", ChannelConfig("mobile_banking", sole=True), actor="ops", reason="bank contract"
    )
    with pytest.raises(Conflict, match="w1 collects only through mobile_banking"):
        sign(payer_id="H002")


def test_a_debit_never_takes_more_than_its_notice_said(
    water: Engine, bank: SandboxBank, clock: FixedClock
) -> None:
    water.import_bills(
        "w1", b"bill_no,payer_id,amount,due_date,late_fee\nW5,H003,100.00,2026-08-25,daily:10bps\n"
    )
    auto, mandate = signed(water, bank, payer="H003")
    bank.script(mandate.mandate_no, Decline.INSUFFICIENT_FUNDS)
    assert auto.run_once().noticed == 1  # overdue: debit in 24 h, late fee of that day in
    clock.advance(hours=24)
    assert auto.run_once().retrying == 1
    clock.advance(days=1)  # the late fee grew: a new notice first, and a full lead
    report = auto.run_once()
    assert (report.noticed, report.debited) == (1, 0)
    clock.advance(hours=24)
    assert auto.run_once().debited == 1
    notices = [d["amount"] for k, d in events(water) if k == "mandate.pre_debit_notice"]
    assert notices == ["100.80", "101.00"]
    assert [r.amount_fen for r in bank.requests] == [10_080, 10_100]
    assert water.check_books() == []
