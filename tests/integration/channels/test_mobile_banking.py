"""Mobile banking bill pay: lookup, fetch-then-pay, the bank's signed confirmation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.channels.collect import ChannelRefused, Collector
from billfold.channels.mobile_banking import (
    LookupCode,
    MobileBankingChannel,
    PayCode,
    build_confirmation,
    lookup,
    pay,
)
from billfold.channels.qr import QrChannel
from billfold.channels.secrets import DictSecrets, EnvSecrets
from billfold.channels.verification import NotificationRejected
from billfold.clock import FixedClock
from billfold.collection.order import OrderStatus
from billfold.collection.payment import PaymentStatus
from billfold.merchants.channel_config import ChannelConfig
from billfold.testing.sandbox.gateway import Chaos, SandboxGateway
from billfold.testing.sandbox.mobile_banking import SandboxBank
from billfold.testing.sandbox.qr import SandboxAcquirer

WATER_BILLS = """bill_no,payer_id,payer_name,amount,due_date,late_fee
W1,3301000123,张三丰,100.00,2026-08-22,daily:5bps
W2,3301000123,张三丰,30.00,2026-09-30,
""".encode()
SCHOOL_BILLS = "bill_no,payer_id,payer_name,amount\nT1,2024001,李小明,4880.00\n".encode()
FINES = b"bill_no,payer_id,amount,kind,decision_no\nF1,3301000123,200.00,fine,3301042026000123\n"
STALL_BILLS = b"bill_no,payer_id,amount\nS1,3301000123,5.00\n"


@pytest.fixture(scope="module")
def bank_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def forged_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


@dataclass
class Bank:
    engine: Engine
    clock: FixedClock
    gateway: SandboxGateway
    collector: Collector
    key: rsa.RSAPrivateKey

    def deliver(self) -> list[Any]:
        return [self.collector.notify(d.channel, d.headers, d.body) for d in self.gateway.due()]


def bank(
    engine: Engine, clock: FixedClock, key: rsa.RSAPrivateKey, tmp_path: Path, chaos: Chaos
) -> Bank:
    pem_file = tmp_path / "bank_public.pem"
    pem_file.write_text(public_pem(key), encoding="ascii")
    billers = [
        ("wat1", "杭州水务", BillerKind.UTILITY, WATER_BILLS),
        ("sch1", "杭州一中", BillerKind.SCHOOL, SCHOOL_BILLS),
        ("gov1", "杭州交警", BillerKind.GOVERNMENT, FINES),
        ("stall1", "刘记水果摊", BillerKind.MARKET_STALL, STALL_BILLS),
    ]
    for code, name, kind, bills in billers:
        engine.create_biller(Biller(code=code, name=name, kind=kind))
        engine.import_bills(code, bills)
    configs = {
        "wat1": ChannelConfig(
            "mobile_banking",
            merchant_id="BANK-WAT1",
            settings={"bank_public_key_file": str(pem_file)},
        ),
        "sch1": ChannelConfig(
            "mobile_banking",
            sole=True,
            merchant_id="BANK-SCH1",
            settings={"bank_public_key_env": "BANK_PUBLIC_PEM"},
        ),
        "gov1": ChannelConfig(
            "mobile_banking",
            merchant_id="BANK-GOV1",
            settings={"bank_public_key_env": "BANK_PUBLIC_PEM"},
        ),
        "stall1": ChannelConfig("qr", sole=True, merchant_id="M100001"),
    }
    for code, config in configs.items():
        engine.set_channel_config(code, config, actor="ops", reason="onboard")
    gateway = SandboxGateway(clock, chaos, seed=11)
    secrets = EnvSecrets({"BANK_PUBLIC_PEM": public_pem(key)})  # and the real file system
    mobile = MobileBankingChannel.for_engine(engine, SandboxBank(gateway, key), secrets)
    qr = QrChannel.for_engine(engine, SandboxAcquirer(gateway, {}), DictSecrets({}), render=False)
    collector = Collector(engine, {"mobile_banking": mobile, "qr": qr})
    return Bank(engine, clock, gateway, collector, key)


@pytest.fixture
def calm(engine: Engine, clock: FixedClock, bank_key: rsa.RSAPrivateKey, tmp_path: Path) -> Bank:
    return bank(engine, clock, bank_key, tmp_path, Chaos.calm())


def counts(engine: Engine) -> dict[str, int]:
    with engine.uow() as uow:
        return {
            table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.payments, t.journal_postings, t.outbox_events, t.orders, t.bills)
        }


# -- lookup --------------------------------------------------------------------------------------


def test_an_unknown_identifier_is_answered_cleanly(calm: Bank) -> None:
    answer = lookup(calm.engine, "9999999999")
    assert (answer.code, answer.found, answer.bills) == (LookupCode.NOT_FOUND, False, ())
    assert answer.message == "no payer or bill is known by 9999999999"
    assert answer.as_dict()["code"] == "not_found"


BAD_LOOKUPS = [
    ("", None, LookupCode.INVALID_IDENTIFIER, "identifier: 1-64 characters required"),
    ("x" * 65, None, LookupCode.INVALID_IDENTIFIER, "identifier: 1-64 characters required"),
    ("3301000123", "nope", LookupCode.UNKNOWN_BILLER, "biller 'nope' does not exist"),
]


def test_a_bad_lookup_is_answered_with_a_code_not_an_exception(calm: Bank) -> None:
    for identifier, biller, code, message in BAD_LOOKUPS:
        answer = lookup(calm.engine, identifier, biller)
        assert (answer.code, answer.bills) == (code, ()), identifier
        assert answer.message.startswith(message), identifier


def test_lookup_shows_the_late_fee_as_of_now(calm: Bank) -> None:
    answer = lookup(calm.engine, "3301000123", "wat1")
    assert answer.code is LookupCode.FOUND
    w1, w2 = answer.bills
    assert (w1.bill_no, w1.status, w1.principal_fen, w1.late_fee_fen, w1.amount_due_fen) == (
        "W1",
        "overdue",
        10_000,
        50,  # 10 days overdue at 5 bps a day
        10_050,
    )
    assert (w2.bill_no, w2.late_fee_fen, w2.amount_due_fen) == ("W2", 0, 3_000)
    assert answer.total_due_fen == 13_050
    calm.clock.advance(days=1)
    assert lookup(calm.engine, "3301000123", "wat1").bills[0].late_fee_fen == 55


def test_lookup_masks_the_payers_name(calm: Bank) -> None:
    bill = lookup(calm.engine, "3301000123", "wat1").bills[0]
    assert bill.payer_name == "张**" and bill.payer_identifier == "3301000123"
    assert "张三丰" not in json.dumps(lookup(calm.engine, "3301000123").as_dict())


def test_a_fine_is_found_by_its_decision_number(calm: Bank) -> None:
    [fine] = lookup(calm.engine, "3301042026000123").bills
    assert (fine.biller_code, fine.bill_no, fine.amount_due_fen) == ("gov1", "F1", 20_000)


def test_one_identifier_finds_the_bills_of_every_biller_that_takes_the_bank(calm: Bank) -> None:
    answer = lookup(calm.engine, "3301000123")
    assert sorted(b.bill_no for b in answer.bills) == ["F1", "W1", "W2"]  # not the stall's S1


def test_bills_of_a_biller_that_does_not_take_mobile_banking_are_not_offered(calm: Bank) -> None:
    answer = lookup(calm.engine, "3301000123", "stall1")
    assert answer.code is LookupCode.NOT_OFFERED
    assert answer.message == (
        "stall1 collects only through qr (its designated sole channel); "
        "mobile_banking is not accepted"
    )


# -- fetch then pay -------------------------------------------------------------------------------


def test_fetch_then_pay_credits_the_bills_once(calm: Bank) -> None:
    due = lookup(calm.engine, "3301000123", "wat1").bills[0].amount_due_fen
    answer = pay(calm.collector, "wat1", ["W1"], "BK20260901000001", due)
    assert answer.code is PayCode.ACCEPTED and answer.amount_fen == 10_050
    assert answer.order_no is not None
    assert calm.engine.order(answer.order_no).status is OrderStatus.PAYING
    calm.gateway.pay("mobile_banking", answer.order_no)
    [delivery] = calm.gateway.due()
    first = calm.collector.notify(delivery.channel, delivery.headers, delivery.body)
    again = calm.collector.notify(delivery.channel, delivery.headers, delivery.body)
    assert first is not None and first.credited
    assert first.payment.channel_txn_id == "BK20260901000001"
    assert again is not None and again.duplicate
    bill = calm.engine.bill("wat1", "W1")
    assert (bill.paid_fen, bill.late_fee_paid_fen) == (10_000, 50)
    assert lookup(calm.engine, "3301000123", "wat1").total_due_fen == 3_000
    assert calm.engine.check_books() == []


def test_lookup_after_everything_is_paid_says_nothing_is_due(calm: Bank) -> None:
    answer = pay(calm.collector, "sch1", ["T1"], "BK-T1", 488_000)
    assert answer.order_no is not None
    calm.gateway.pay("mobile_banking", answer.order_no)
    calm.deliver()
    after = lookup(calm.engine, "2024001")
    assert (after.code, after.message) == (LookupCode.NOTHING_DUE, "nothing is due for 2024001")


def test_a_repeated_pay_request_answers_the_same_order(calm: Bank) -> None:
    first = pay(calm.collector, "sch1", ["T1"], "BK-T1", 488_000)
    again = pay(calm.collector, "sch1", ["T1"], "BK-T1", 488_000)
    assert again.code is PayCode.ACCEPTED and again.order_no == first.order_no
    assert first.order_no is not None
    calm.gateway.pay("mobile_banking", first.order_no)
    calm.deliver()
    done = pay(calm.collector, "sch1", ["T1"], "BK-T1", 488_000)
    assert (done.code, done.order_no) == (PayCode.PAID, first.order_no)


def test_paying_what_was_due_before_the_late_fee_grew_is_declined(calm: Bank) -> None:
    calm.clock.advance(days=1)
    before = counts(calm.engine)
    answer = pay(calm.collector, "wat1", ["W1"], "BK-OLD", 10_050)
    assert answer.code is PayCode.INVALID
    assert answer.message == (
        "amount: bill W1 must be paid in full (100.55); it does not take part payments"
    )
    assert counts(calm.engine) == before


UNPAYABLE = [
    (
        "wat1",
        ["W9"],
        "BK-1",
        100,
        PayCode.NOT_FOUND,
        "bill 'W9' does not exist for biller wat1",
    ),
    ("nope", ["W1"], "BK-1", 100, PayCode.NOT_FOUND, "biller 'nope' does not exist"),
    (
        "wat1",
        ["W1"],
        "BK 1",
        10_050,
        PayCode.INVALID,
        "bank_txn_id: 1-48 letters, digits, '.', '-' or '_' required",
    ),
    ("wat1", ["W1"], "BK-1", 0, PayCode.INVALID, "amount: must be positive integer fen, got 0"),
    (
        "stall1",
        ["S1"],
        "BK-1",
        500,
        PayCode.REFUSED,
        "stall1 collects only through qr (its designated sole channel); "
        "mobile_banking is not accepted",
    ),
]


def test_a_pay_request_that_cannot_be_paid_is_declined_and_changes_nothing(calm: Bank) -> None:
    before = counts(calm.engine)
    for biller, bills, txn, amount, code, message in UNPAYABLE:
        answer = pay(calm.collector, biller, bills, txn, amount)
        assert (answer.code, answer.message) == (code, message)
    assert counts(calm.engine) == before


def test_a_bank_transaction_reused_for_other_bills_is_a_conflict(calm: Bank) -> None:
    first = pay(calm.collector, "wat1", ["W2"], "BK-SAME", 3_000)
    clash = pay(calm.collector, "wat1", ["W1"], "BK-SAME", 10_050)
    assert clash.code is PayCode.CONFLICT
    assert clash.message == (
        f"bank transaction BK-SAME was used before for order {first.order_no} (W2, 30.00)"
    )


# -- the bank's confirmation ---------------------------------------------------------------------


def confirmation(
    bank: Bank, order_no: str, key: rsa.RSAPrivateKey | None = None, **change: Any
) -> tuple[dict[str, str], bytes]:
    values: dict[str, Any] = {
        "merchant_id": "BANK-WAT1",
        "order_no": order_no,
        "bank_txn_id": "BK-C1",
        "amount_fen": 10_050,
        "paid_at": bank.clock.now(),
        "sent_at": bank.clock.now(),
    }
    values.update(change)
    return build_confirmation(key or bank.key, **values)


def test_a_confirmation_that_fails_verification_changes_nothing(
    calm: Bank, forged_key: rsa.RSAPrivateKey
) -> None:
    answer = pay(calm.collector, "wat1", ["W1"], "BK-C1", 10_050)
    assert answer.order_no is not None
    order_no = answer.order_no
    headers, body = confirmation(calm, order_no)
    tampered = body.replace(b'"bank_txn_id":"BK-C1"', b'"bank_txn_id":"BK-C2"')
    an_hour_ago = calm.clock.now() - timedelta(hours=1)
    cases = {
        "tampered": ((headers, tampered), "bad_signature"),
        "forged": (confirmation(calm, order_no, forged_key), "bad_signature"),
        "stale": (confirmation(calm, order_no, sent_at=an_hour_ago), "stale_timestamp"),
        "wrong merchant": (
            confirmation(calm, order_no, merchant_id="BANK-GOV1"),
            "merchant_mismatch",
        ),
    }
    before = counts(calm.engine)
    for case, ((case_headers, case_body), reason) in cases.items():
        with pytest.raises(NotificationRejected) as caught:
            calm.collector.notify("mobile_banking", case_headers, case_body)
        assert caught.value.reason == reason, case
    assert counts(calm.engine) == before
    assert calm.engine.order(order_no).status is OrderStatus.PAYING


def test_a_forged_confirmation_says_which_key_it_failed(
    calm: Bank, forged_key: rsa.RSAPrivateKey
) -> None:
    answer = pay(calm.collector, "wat1", ["W1"], "BK-C1", 10_050)
    assert answer.order_no is not None
    with pytest.raises(NotificationRejected) as caught:
        calm.collector.notify("mobile_banking", *confirmation(calm, answer.order_no, forged_key))
    assert caught.value.message == (
        "X-Bank-Signature does not verify with the bank key of merchant BANK-WAT1 "
        "(tampered, or signed with another key)"
    )


def test_a_confirmation_for_a_different_amount_is_held(calm: Bank) -> None:
    answer = pay(calm.collector, "wat1", ["W1"], "BK-C1", 10_050)
    assert answer.order_no is not None
    result = calm.collector.notify(
        "mobile_banking", *confirmation(calm, answer.order_no, amount_fen=10_000)
    )
    assert result is not None and result.status is PaymentStatus.HELD
    assert calm.engine.bill("wat1", "W1").paid_fen == 0


def test_a_dropped_confirmation_is_recovered_by_requery(
    engine: Engine, clock: FixedClock, bank_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    lossy = bank(engine, clock, bank_key, tmp_path, Chaos(drop_rate=1.0, min_delay=timedelta(0)))
    answer = pay(lossy.collector, "wat1", ["W1"], "BK-LOST", 10_050)
    assert answer.order_no is not None
    lossy.gateway.pay("mobile_banking", answer.order_no)
    assert lossy.deliver() == []
    result = lossy.collector.requery(answer.order_no)
    assert result is not None and result.credited
    assert result.payment.channel_txn_id == "BK-LOST"
    assert engine.check_books() == []


# -- the designated sole channel, refunds ----------------------------------------------------------


def test_a_school_whose_sole_channel_is_mobile_banking_refuses_qr(calm: Bank) -> None:
    order = calm.engine.create_order("sch1", ["T1"])
    with pytest.raises(ChannelRefused) as caught:
        calm.collector.start(order.order_no, "qr")
    assert caught.value.message == (
        "sch1 collects only through mobile_banking (its designated sole channel); "
        "qr is not accepted"
    )
    assert calm.engine.order(order.order_no).status is OrderStatus.CREATED
    assert calm.collector.start(order.order_no, "mobile_banking").action == "open_bank_app"


def test_a_refund_is_paid_back_through_the_bank(calm: Bank) -> None:
    answer = pay(calm.collector, "sch1", ["T1"], "BK-T1", 488_000)
    assert answer.order_no is not None
    calm.gateway.pay("mobile_banking", answer.order_no)
    [result] = calm.deliver()
    calm.engine.refund(
        result.payment.id, 88_000, request_id="r1", reason="scholarship", requested_by="bursar"
    )
    [payout] = calm.collector.pay_out_refunds()
    assert payout.succeeded
    assert calm.engine.check_books() == []
