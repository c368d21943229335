"""Complaints on SQLite and PostgreSQL: the engine answers "paid but not credited" by
requerying the channel and crediting through the exactly-once confirmation, finds the second
payment of "charged twice", and leaves the rest to people within the biller's TAT."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import queues
from billfold.channels.collect import Collector
from billfold.channels.secrets import DictSecrets
from billfold.channels.wechatpay import WechatPayChannel
from billfold.clock import FixedClock
from billfold.collection.payment import PaymentStatus
from billfold.errors import InvalidInput, InvalidTransition, NotFound
from billfold.settlement.complaint import Answer, ComplaintKind, ComplaintSource, ComplaintStatus
from billfold.settlement.complaints import ComplaintDesk, NewComplaint
from billfold.testing.sandbox.gateway import SandboxGateway
from billfold.testing.sandbox.wechatpay import SandboxWechatMerchant, SandboxWechatPay

BILLS = b"bill_no,payer_id,amount\nT1,2024001,10.00\nT2,2024002,25.50\n"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@pytest.fixture(scope="module")
def merchant() -> SandboxWechatMerchant:
    return SandboxWechatMerchant.generate("1230000109", "wxd678efh567hg6787")


@dataclass
class Office:
    engine: Engine
    clock: FixedClock
    gateway: SandboxGateway
    collector: Collector
    desk: ComplaintDesk

    def paid_but_lost(self, bill_no: str = "T1") -> str:
        """The payer paid; the channel's notification never arrived."""
        order = self.engine.create_order("s1", [bill_no])
        self.collector.start(order.order_no, "wechatpay", payer_ref=OPENID)
        remote = self.gateway.pay("wechatpay", order.order_no)
        self.gateway.outbox.clear()
        assert remote.txn_id is not None
        return remote.txn_id

    def counts(self) -> dict[str, object]:
        with self.engine.uow() as uow:
            rows = {
                table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (t.payments, t.journal_postings, queues.complaints, t.audit_log)
            }
            states = uow.conn.execute(select(queues.complaints.c.status)).scalars().all()
        return {**rows, "states": sorted(states), "balance": self.engine.trial_balance()}


@pytest.fixture
def office(engine: Engine, clock: FixedClock, merchant: SandboxWechatMerchant) -> Office:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.create_biller(Biller(code="w2", name="自来水公司", kind=BillerKind.UTILITY))
    engine.import_bills("s1", BILLS)
    engine.import_bills("w2", BILLS)
    engine.set_channel_config("s1", merchant.config(), actor="ops", reason="onboarding")
    gateway = SandboxGateway(clock, seed=7)
    sandbox = SandboxWechatPay(gateway, [merchant])
    channel = WechatPayChannel(
        DictSecrets(merchant.secrets()), engine, clock, sandbox, notify_url="https://p.example/n"
    )
    collector = Collector(engine, {"wechatpay": channel})
    return Office(engine, clock, gateway, collector, ComplaintDesk(engine, collector.requery))


def unpaid(bill_no: str = "T1", **kw: object) -> NewComplaint:
    fields: dict[str, object] = {
        "biller_code": "s1",
        "kind": ComplaintKind.PAID_NOT_CREDITED,
        "opened_by": "payer",
        "source": ComplaintSource.PAYER,
        "bill_no": bill_no,
        "channel_ref": "4200002026090112345678",
        "description": "已支付但账单显示未缴",
    }
    fields.update(kw)
    return NewComplaint(**fields)  # type: ignore[arg-type]


def test_a_lost_notification_is_found_by_requery_credited_once_and_the_complaint_resolves(
    office: Office,
) -> None:
    txn = office.paid_but_lost()
    assert office.engine.bill("s1", "T1").stored_status.value == "open"
    done = office.desk.open(unpaid())
    assert done.status is ComplaintStatus.RESOLVED
    assert done.answer is Answer.CREDITED_ON_REQUERY and done.payment_id is not None
    assert done.resolution == "渠道查询确认已支付，款项已入账"
    assert office.engine.bill("s1", "T1").stored_status.value == "paid"
    with office.engine.uow() as uow:
        payment = uow.payments.find("wechatpay", txn)
    assert payment is not None and payment.status is PaymentStatus.CREDITED
    assert office.engine.check_books() == []
    before = office.counts()
    again = office.desk.open(unpaid())  # the payer complains again: nothing is credited twice
    assert again.answer is Answer.ALREADY_CREDITED and again.status is ComplaintStatus.RESOLVED
    after = office.counts()
    assert after["payments"] == before["payments"] and after["balance"] == before["balance"]
    actions = [a["action"] for a in office.engine.audit_log("complaint", done.complaint_no)]
    assert actions == ["complaint_open", "complaint_resolved"]


def test_nothing_at_the_channel_leaves_the_complaint_open_for_a_person(office: Office) -> None:
    order = office.engine.create_order("s1", ["T2"])
    office.collector.start(order.order_no, "wechatpay", payer_ref=OPENID)
    found = office.desk.open(unpaid("T2"))
    assert found.status is ComplaintStatus.OPEN and found.answer is Answer.NOT_PAID_AT_CHANNEL
    assert found.due_at == office.clock.now() + timedelta(hours=24)


def test_charged_twice_finds_the_second_payment_and_its_queued_refund(office: Office) -> None:
    first = office.engine.create_order("s1", ["T1"])
    office.collector.start(first.order_no, "wechatpay", payer_ref=OPENID)
    office.clock.advance(timedelta(hours=1))
    office.engine.expire_orders()
    second = office.engine.create_order("s1", ["T1"])
    office.collector.start(second.order_no, "wechatpay", payer_ref=OPENID)
    office.gateway.pay("wechatpay", second.order_no)
    office.gateway.pay("wechatpay", first.order_no)  # the old QR paid too
    for d in office.gateway.due():
        office.collector.notify(d.channel, d.headers, d.body)
    found = office.desk.open(
        NewComplaint("s1", ComplaintKind.CHARGED_TWICE, "clerk-li", bill_no="T1")
    )
    assert found.answer is Answer.DUPLICATE_REFUND_QUEUED and found.refund_no
    assert found.status is ComplaintStatus.RESOLVED
    assert office.engine.check_books() == []


def test_assign_resolve_reopen_reject_each_audited_and_the_tat_restarts(office: Office) -> None:
    c = office.desk.open(
        NewComplaint("s1", ComplaintKind.WRONG_AMOUNT, "clerk-li", bill_no="T2"), answer=True
    )
    assert c.status is ComplaintStatus.OPEN and c.answer is None
    c = office.desk.assign(c.complaint_no, to="clerk-zhao", by="supervisor-wang")
    assert (c.status, c.assigned_to) == (ComplaintStatus.ASSIGNED, "clerk-zhao")
    c = office.desk.resolve(c.complaint_no, by="clerk-zhao", resolution="已核实金额无误")
    assert c.status is ComplaintStatus.RESOLVED and c.closed_at is not None
    office.clock.advance(timedelta(days=10))
    c = office.desk.reopen(c.complaint_no, by="payer", reason="仍有疑问")
    assert c.status is ComplaintStatus.REOPENED and c.reopened == 1 and c.closed_at is None
    assert c.due_at == office.clock.now() + timedelta(hours=72)
    c = office.desk.reject(c.complaint_no, by="supervisor-wang", reason="重复投诉")
    actions = [a["action"] for a in office.engine.audit_log("complaint", c.complaint_no)]
    assert actions == [
        "complaint_open",
        "complaint_assigned",
        "complaint_resolved",
        "complaint_reopened",
        "complaint_rejected",
    ]


def test_overdue_complaints_are_listed_with_the_billers_own_tat(office: Office) -> None:
    office.desk.set_tat("s1", ComplaintKind.OTHER, 2, by="admin", reason="合同约定")
    assert office.desk.tats("s1")[ComplaintKind.OTHER] == 2
    assert office.desk.tats("w2")[ComplaintKind.OTHER] == 120
    quick = office.desk.open(NewComplaint("s1", ComplaintKind.OTHER, "clerk", bill_no="T2"))
    slow = office.desk.open(NewComplaint("w2", ComplaintKind.OTHER, "clerk", bill_no="T2"))
    office.clock.advance(timedelta(hours=3))
    overdue = office.desk.complaints(overdue=True)
    assert [c.complaint_no for c in overdue] == [quick.complaint_no]
    assert overdue[0].overdue(office.clock.now()) and not slow.overdue(office.clock.now())
    office.desk.resolve(quick.complaint_no, by="clerk", resolution="已答复")
    assert office.desk.complaints(overdue=True) == []


@pytest.mark.parametrize(
    ("req", "error", "message"),
    [
        (
            lambda: NewComplaint("s1", ComplaintKind.OTHER, "clerk"),
            InvalidInput,
            "complaint: name the bill, order or payment it is about",
        ),
        (lambda: unpaid(channel_ref=""), InvalidInput, "a payer's complaint needs the bill"),
        (lambda: unpaid(channel_ref="4200 0000"), InvalidInput, "channel_ref: up to 64"),
        (lambda: unpaid("NOPE"), NotFound, "bill 'NOPE' does not exist for biller s1"),
        (lambda: unpaid(biller_code="zz"), NotFound, "biller 'zz' does not exist"),
        (
            lambda: NewComplaint("w2", ComplaintKind.OTHER, "c", payment_id=1),
            NotFound,
            "payment 1 does not exist for biller w2",
        ),
    ],
)
def test_a_bad_complaint_is_refused_with_a_clear_error_and_nothing_changes(
    office: Office, req: object, error: type[Exception], message: str
) -> None:
    office.paid_but_lost()
    before = office.counts()
    with pytest.raises(error, match=message):
        office.desk.open(req())  # type: ignore[operator]
    assert office.counts() == before


def test_illegal_moves_are_refused_and_change_nothing(office: Office) -> None:
    c = office.desk.open(NewComplaint("s1", ComplaintKind.OTHER, "clerk", bill_no="T2"))
    before = office.counts()
    with pytest.raises(
        InvalidTransition, match=f"complaint {c.complaint_no} is open; it cannot become reopened"
    ):
        office.desk.reopen(c.complaint_no, by="x", reason="y")
    with pytest.raises(InvalidInput, match="resolution: say how"):
        office.desk.resolve(c.complaint_no, by="x", resolution=" ")
    with pytest.raises(InvalidInput, match="hours: 0 is not between"):
        office.desk.set_tat("s1", ComplaintKind.OTHER, 0, by="admin", reason="r")
    with pytest.raises(NotFound, match="no complaint"):
        office.desk.for_payer("s1", "T1", c.complaint_no)  # another bill's number
    assert office.counts() == before
