import contextlib
import threading
from datetime import UTC, datetime, timedelta

from billfold.channels.base import Decline, RemoteState
from billfold.clock import FixedClock
from billfold.testing.sandbox.gateway import Chaos, RemoteOrder, SandboxGateway


def builder(remote: RemoteOrder, at: datetime) -> tuple[dict[str, str], bytes]:
    return {
        "x-sent": at.isoformat()
    }, f"{remote.order_no}:{remote.txn_id}:{remote.paid_fen}".encode()


def run(seed: int, chaos: Chaos, n: int = 200) -> tuple[list[bytes], list[bytes], SandboxGateway]:
    clock = FixedClock(datetime(2026, 9, 1, tzinfo=UTC))
    gateway = SandboxGateway(clock, chaos, seed=seed)
    gateway.register("test", builder)
    for i in range(n):
        gateway.open("test", f"O{i}", 100 + i)
        gateway.pay("test", f"O{i}")
    clock.advance(hours=1)
    return [d.body for d in gateway.due()], [d.body for d in gateway.dropped], gateway


def test_the_same_seed_replays_exactly() -> None:
    assert run(7, Chaos.rough())[:2] == run(7, Chaos.rough())[:2]
    assert run(7, Chaos.rough())[0] != run(8, Chaos.rough())[0]


def test_rough_chaos_duplicates_drops_and_reorders() -> None:
    delivered, dropped, gateway = run(
        11, Chaos(duplicate_rate=0.3, drop_rate=0.1, max_delay=timedelta(minutes=2))
    )
    paid = [r for r in gateway.orders.values() if r.state is RemoteState.PAID]
    assert len(paid) == 200
    assert len(delivered) > len(set(delivered))  # some arrive twice
    assert dropped  # some never arrive
    order_of_payment = [r.order_no for r in paid]
    arrival = [b.decode().split(":")[0] for b in dict.fromkeys(delivered)]
    assert arrival != [o for o in order_of_payment if o in arrival]  # out of order


def test_nothing_arrives_before_its_time() -> None:
    clock = FixedClock(datetime(2026, 9, 1, tzinfo=UTC))
    gateway = SandboxGateway(
        clock, Chaos(min_delay=timedelta(seconds=30), max_delay=timedelta(seconds=30))
    )
    gateway.register("test", builder)
    gateway.open("test", "O1", 100)
    gateway.pay("test", "O1")
    assert gateway.due() == []
    clock.advance(seconds=30)
    assert len(gateway.due()) == 1
    assert gateway.due() == []


def test_a_dropped_notification_is_still_known_to_query() -> None:
    clock = FixedClock()
    gateway = SandboxGateway(clock, Chaos(drop_rate=1.0))
    gateway.register("test", builder)
    gateway.open("test", "O1", 500)
    gateway.pay("test", "O1")
    clock.advance(minutes=5)
    assert gateway.due() == []
    remote = gateway.query("test", "O1")
    assert remote is not None and remote.state is RemoteState.PAID and remote.txn_id


def test_failures_closing_and_refunds() -> None:
    clock = FixedClock()
    gateway = SandboxGateway(clock, Chaos(fail_rate=1.0))
    gateway.open("test", "O1", 500)
    assert gateway.pay("test", "O1").state is RemoteState.FAILED
    calm = SandboxGateway(clock)
    calm.open("test", "O2", 500)
    assert calm.close("test", "O2") and calm.query("test", "O2").state is RemoteState.CLOSED  # type: ignore[union-attr]
    calm.open("test", "O3", 500)
    calm.pay("test", "O3")
    assert not calm.close("test", "O3")
    first, decline = calm.refund("test", "O3", "RF1", 200)
    assert decline is None and calm.refund("test", "O3", "RF1", 200) == (first, None)
    assert calm.refund("test", "O3", "RF2", 301) == (None, Decline.REJECTED)
    assert calm.refund("test", "NOPE", "RF3", 1) == (None, Decline.NOT_FOUND)


def test_remote_ids_follow_our_numbers_so_two_gateways_never_collide() -> None:
    first, second = SandboxGateway(FixedClock()), SandboxGateway(FixedClock())
    first.open("test", "O1", 100)
    second.open("test", "O2", 100)
    second.open("test", "O1", 100)
    a = first.pay("test", "O1").txn_id
    assert a != second.pay("test", "O2").txn_id
    assert a == second.pay("test", "O1").txn_id  # the same order is the same payment


class _Meeting(dict[tuple[str, str], Decline]):
    """``refund_refusals`` whose look-up, inside the refund's check-then-write, waits (up to a
    second) for a second caller: without the gateway's lock both callers get past the
    "already refunded?" check before either writes."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier = threading.Barrier(2, timeout=1)

    def get(self, key: tuple[str, str], default: Decline | None = None) -> Decline | None:  # type: ignore[override]
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait()
        return super().get(key, default)


def test_the_same_refund_asked_twice_at_once_is_made_once() -> None:
    # found by the refund duty run at once on two threads (tests/integration/jobs) under load
    clock = FixedClock(datetime(2026, 9, 1, tzinfo=UTC))
    gateway = SandboxGateway(clock)
    gateway.open("test", "O1", 500)
    gateway.pay("test", "O1")
    gateway.refund_refusals = _Meeting()
    answers: list[tuple[str | None, Decline | None]] = []
    threads = [
        threading.Thread(target=lambda: answers.append(gateway.refund("test", "O1", "RF1", 200)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    remote = gateway.orders[("test", "O1")]
    assert [r.refund_no for r in remote.refunds] == ["RF1"]
    assert answers[0] == answers[1] and answers[0][1] is None
