"""The webhook outbox dispatcher on SQLite and PostgreSQL, against a fake transport."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pytest
import structlog
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine, FixedClock
from billfold.adapters.db import schema as t
from billfold.adapters.db.connect import make_engine
from billfold.adapters.outbox import dispatcher as outbox
from billfold.errors import Conflict, InvalidInput, NotFound
from billfold.testing.webhooks import FakeTransport

SECRET = "s1-webhook-secret-0123456789"
OTHER_SECRET = "s2-webhook-secret-9876543210"
HOOK = "https://s1.example/hooks"
POLICY = outbox.RetryPolicy(jitter=0.0)


class DispatcherKilled(KeyboardInterrupt):
    """What a SIGKILL looks like from inside: nothing after this line runs."""


def _biller(engine: Engine, code: str = "s1") -> None:
    engine.create_biller(Biller(code=code, name=f"学校 {code}", kind=BillerKind.SCHOOL))


def _events(engine: Engine, code: str, *types: str) -> list[str]:
    """Write events exactly as a use case does: through the unit of work's outbox."""
    with engine.uow() as uow:
        biller = uow.billers.get_by_code(code)
        assert biller is not None
        ids = [
            uow.outbox.add(kind, biller.id, {"n": n}, engine.clock.now())
            for n, kind in enumerate(types)
        ]
        uow.commit()
    return ids


def _deliveries(engine: Engine) -> list[outbox.Delivery]:
    return outbox.list_deliveries(engine, limit=1000)


def _only(engine: Engine) -> outbox.Delivery:
    [delivery] = _deliveries(engine)
    return delivery


def _run(
    engine: Engine,
    transport: outbox.WebhookTransport,
    clock: FixedClock,
    *,
    batch: int = 100,
    policy: outbox.RetryPolicy = POLICY,
) -> outbox.DispatchStats:
    return outbox.run_once(engine, transport, clock, batch, policy=policy)


# -- signing and the happy path -----------------------------------------------------------------


def test_a_confirmed_payment_reaches_the_endpoint_signed_and_verifiable(
    engine: Engine, clock: FixedClock
) -> None:
    _biller(engine)
    outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    engine.import_bills("s1", b"bill_no,payer_id,amount\nT1,2024001,10.00\n")
    order = engine.create_order("s1", ["T1"])
    engine.confirm("counter", "C1", order.order_no, 1000)
    transport = FakeTransport()

    stats = outbox.run_once(engine, transport, clock, policy=POLICY)

    assert (stats.deliveries_created, stats.delivered) == (2, 2)
    with engine.uow() as uow:
        stored = dict(
            uow.conn.execute(select(t.outbox_events.c.event_id, t.outbox_events.c.payload)).all()
        )
    for sent in transport.sent:
        verified = outbox.verify_webhook(SECRET, sent.headers, sent.body, clock.now())
        assert sent.url == HOOK
        assert sent.body == stored[verified.event_id].encode()
        assert sent.headers["X-Billfold-Event-Id"] == verified.event_id
        assert sent.headers["X-Billfold-Timestamp"] == str(int(clock.now().timestamp()))
        assert sent.headers["Content-Type"] == "application/json"
    assert sorted(s.headers["X-Billfold-Event-Type"] for s in transport.sent) == [
        "bill.paid",
        "payment.confirmed",
    ]
    assert {d.status for d in _deliveries(engine)} == {"delivered"}
    assert {d.delivered_at for d in _deliveries(engine)} == {clock.now()}


def test_a_webhook_signed_with_another_secret_does_not_verify(
    engine: Engine, clock: FixedClock
) -> None:
    _biller(engine)
    outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    _events(engine, "s1", "bill.paid")
    transport = FakeTransport()
    _run(engine, transport, clock)
    [sent] = transport.sent
    with pytest.raises(outbox.WebhookRejected, match="wrong secret"):
        outbox.verify_webhook(OTHER_SECRET, sent.headers, sent.body, clock.now())


def test_a_second_pass_sends_nothing_again(engine: Engine, clock: FixedClock) -> None:
    _biller(engine)
    outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    _events(engine, "s1", "bill.paid", "refund.created")
    transport = FakeTransport()
    _run(engine, transport, clock)
    clock.advance(hours=2)
    again = _run(engine, transport, clock)
    assert len(transport.sent) == 2
    assert again == outbox.DispatchStats()


# -- fan-out and filtering ----------------------------------------------------------------------


def test_each_endpoint_gets_only_its_billers_events_of_the_types_it_asked_for(
    engine: Engine, clock: FixedClock
) -> None:
    _biller(engine, "s1")
    _biller(engine, "s2")
    outbox.add_endpoint(engine, "s1", "https://a.example/", SECRET, ["payment.*"])
    outbox.add_endpoint(engine, "s1", "https://b.example/", SECRET, "bill.paid, refund.created")
    outbox.add_endpoint(engine, "s2", "https://c.example/", OTHER_SECRET)
    _events(engine, "s1", "payment.confirmed", "bill.paid", "bill.partially_paid", "payment.held")
    _events(engine, "s2", "order.expired")
    transport = FakeTransport()

    stats = _run(engine, transport, clock)

    assert sorted((s.url, s.headers["X-Billfold-Event-Type"]) for s in transport.sent) == [
        ("https://a.example/", "payment.confirmed"),
        ("https://a.example/", "payment.held"),
        ("https://b.example/", "bill.paid"),
        ("https://c.example/", "order.expired"),
    ]
    assert stats == outbox.DispatchStats(events_fanned_out=5, deliveries_created=4, delivered=4)


def test_events_nobody_listens_to_are_fanned_out_once_with_no_deliveries(
    engine: Engine, clock: FixedClock
) -> None:
    _biller(engine)
    _events(engine, "s1", "bill.paid", "bill.waived")
    with engine.uow() as uow:
        uow.outbox.add("system.note", None, {}, clock.now())
        uow.commit()
    first = _run(engine, FakeTransport(), clock)
    second = _run(engine, FakeTransport(), clock)
    assert (first.events_fanned_out, first.deliveries_created) == (3, 0)
    assert second.events_fanned_out == 0


def test_an_endpoint_added_later_does_not_receive_older_events(
    engine: Engine, clock: FixedClock
) -> None:
    _biller(engine)
    _events(engine, "s1", "bill.paid")
    _run(engine, FakeTransport(), clock)
    outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    [new] = _events(engine, "s1", "bill.paid")
    transport = FakeTransport()
    _run(engine, transport, clock)
    assert transport.event_ids() == [new]


def test_fan_out_works_through_many_small_batches(engine: Engine, clock: FixedClock) -> None:
    _biller(engine)
    outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    ids = _events(engine, "s1", *["bill.paid"] * 7)
    transport = FakeTransport()
    passes = 0
    while _run(engine, transport, clock, batch=3).busy:
        passes += 1
    assert sorted(transport.event_ids()) == sorted(ids)
    assert passes == 3


# -- retries, backoff and dead letters ----------------------------------------------------------


def test_failures_are_retried_with_exponential_backoff_on_the_injected_clock(
    engine: Engine, clock: FixedClock
) -> None:
    _biller(engine)
    outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    [event_id] = _events(engine, "s1", "bill.paid")
    transport = FakeTransport()
    transport.respond(HOOK, 500, ConnectionRefusedError("connection refused"), 503, 204)
    start = clock.now()

    _run(engine, transport, clock)
    first = _only(engine)
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "HTTP 500")
    assert first.next_attempt_at == start + timedelta(seconds=30)

    clock.advance(seconds=29)
    assert not _run(engine, transport, clock).busy
    clock.advance(seconds=1)
    _run(engine, transport, clock)
    second = _only(engine)
    assert second.last_error == "ConnectionRefusedError: connection refused"
    assert second.next_attempt_at == clock.now() + timedelta(seconds=60)

    clock.advance(seconds=59)
    assert not _run(engine, transport, clock).busy
    clock.advance(seconds=1)
    _run(engine, transport, clock)
    assert _only(engine).next_attempt_at == clock.now() + timedelta(seconds=120)

    clock.advance(seconds=120)
    _run(engine, transport, clock)
    done = _only(engine)
    assert (done.status, done.attempts, done.last_error) == ("delivered", 4, None)
    assert done.delivered_at == start + timedelta(seconds=210)
    assert transport.event_ids() == [event_id] * 4
    stamps = [
        int(s.headers["X-Billfold-Timestamp"]) - int(start.timestamp()) for s in transport.sent
    ]
    assert stamps == [0, 30, 90, 210]


def test_a_delivery_is_dead_after_max_attempts_and_then_left_alone(
    engine: Engine, clock: FixedClock
) -> None:
    _biller(engine)
    outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    _events(engine, "s1", "bill.paid")
    transport = FakeTransport(default_status=500)
    policy = outbox.RetryPolicy(jitter=0.0, max_attempts=3)

    outcomes = []
    for _ in range(3):
        outcomes.append(_run(engine, transport, clock, policy=policy))
        clock.advance(hours=1)
    clock.advance(days=3)
    _run(engine, transport, clock, policy=policy)

    assert [(s.retried, s.dead) for s in outcomes] == [(1, 0), (1, 0), (0, 1)]
    assert len(transport.sent) == 3
    [dead] = outbox.list_dead(engine)
    assert (dead.status, dead.attempts, dead.last_error) == ("dead", 3, "HTTP 500")
    assert (dead.biller_code, dead.event_type, dead.url) == ("s1", "bill.paid", HOOK)


def test_a_requeued_dead_delivery_is_sent_again_with_the_same_event_id(
    engine: Engine, clock: FixedClock
) -> None:
    _biller(engine)
    outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    [event_id] = _events(engine, "s1", "bill.paid")
    transport = FakeTransport(default_status=410)
    _run(engine, transport, clock, policy=outbox.RetryPolicy(max_attempts=1))
    [dead] = outbox.list_dead(engine)

    requeued = outbox.requeue_dead(engine, dead.id, actor="ops", reason="receiver fixed")
    transport.default_status = 200
    _run(engine, transport, clock)

    assert requeued.status == "pending" and requeued.attempts == 0
    assert transport.event_ids() == [event_id, event_id]
    assert _only(engine).status == "delivered"
    assert outbox.list_dead(engine) == []
    [audit] = engine.audit_log("webhook_delivery", str(dead.id))
    assert (audit["actor"], audit["reason"]) == ("ops", "receiver fixed")


def test_only_dead_deliveries_can_be_requeued(engine: Engine, clock: FixedClock) -> None:
    _biller(engine)
    outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    _events(engine, "s1", "bill.paid")
    _run(engine, FakeTransport(), clock)
    delivery = _only(engine)
    with pytest.raises(Conflict, match=f"delivery {delivery.id} is delivered, not dead"):
        outbox.requeue_dead(engine, delivery.id)
    with pytest.raises(NotFound, match="webhook delivery 999 does not exist"):
        outbox.requeue_dead(engine, 999)


def test_listing_deliveries_refuses_an_unknown_status(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="status: 'failed' is not one of pending, delivered"):
        outbox.list_deliveries(engine, status="failed")


def test_errors_and_logs_never_hold_the_secret_or_the_body(
    engine: Engine, clock: FixedClock
) -> None:
    _biller(engine)
    outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    _events(engine, "s1", "bill.paid")
    transport = FakeTransport()
    transport.respond(HOOK, OSError(f"proxy said: bad key {SECRET} " + "x" * 400))
    with structlog.testing.capture_logs() as logs:
        _run(engine, transport, clock)
    error = _only(engine).last_error
    assert error is not None and SECRET not in error and "***" in error
    assert len(error) == 200
    [failed] = [entry for entry in logs if entry["event"] == "webhook.failed"]
    assert failed["host"] == "s1.example" and failed["attempt"] == 1
    text = repr(logs)
    assert SECRET not in text
    assert '"data"' not in text and transport.sent[0].body.decode() not in text


# -- crashes ------------------------------------------------------------------------------------


class KillAfterSending(FakeTransport):
    """Sends (the receiver got it), then the process dies before billfold hears back."""

    def __init__(self, kill_on: int) -> None:
        super().__init__()
        self.kill_on = kill_on

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
        status = super().send(url, headers, body)
        if len(self.sent) == self.kill_on:
            raise DispatcherKilled
        return status


def test_a_dispatcher_killed_mid_batch_loses_nothing_and_resends_with_the_same_event_id(
    engine: Engine, clock: FixedClock
) -> None:
    _biller(engine)
    outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    first, second, third = _events(engine, "s1", "bill.paid", "bill.paid", "bill.paid")
    transport = KillAfterSending(kill_on=2)

    with pytest.raises(DispatcherKilled):
        _run(engine, transport, clock)
    assert transport.event_ids() == [first, second]

    transport.kill_on = 0
    _run(engine, transport, clock)  # the rerun goes on with the rest at once
    assert transport.event_ids() == [first, second, third]
    in_flight = [d for d in _deliveries(engine) if d.status == "pending"]
    assert [(d.event_id, d.attempts) for d in in_flight] == [(second, 1)]
    assert in_flight[0].next_attempt_at == clock.now() + POLICY.lease

    clock.advance(POLICY.lease)
    _run(engine, transport, clock)
    assert transport.event_ids() == [first, second, third, second]
    assert {d.status for d in _deliveries(engine)} == {"delivered"}
    resent = [s for s in transport.sent if s.event_id == second]
    assert resent[0].body == resent[1].body


def test_a_delivery_that_keeps_killing_the_dispatcher_ends_dead(
    engine: Engine, clock: FixedClock
) -> None:
    _biller(engine)
    outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    _events(engine, "s1", "bill.paid")
    policy = outbox.RetryPolicy(jitter=0.0, max_attempts=2)
    for _ in range(2):
        with pytest.raises(DispatcherKilled):
            _run(engine, KillAfterSending(kill_on=1), clock, policy=policy)
        clock.advance(policy.lease)
    stats = _run(engine, FakeTransport(), clock, policy=policy)
    assert stats.dead == 1
    [dead] = outbox.list_dead(engine)
    assert dead.last_error is not None
    assert dead.last_error.startswith("no attempt left: 2 of 2 made and the last never reported")


@pytest.mark.parametrize("newer", [200, 500])
def test_a_late_failure_from_an_expired_lease_does_not_overwrite_a_newer_attempt(
    engine: Engine, clock: FixedClock, newer: int
) -> None:
    _biller(engine)
    outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    _events(engine, "s1", "bill.paid")
    inner = FakeTransport(default_status=newer)

    class Slow(FakeTransport):
        def send(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
            super().send(url, headers, body)
            clock.advance(POLICY.lease + timedelta(seconds=1))  # the lease runs out meanwhile
            _run(engine, inner, clock)  # and another dispatcher makes attempt 2
            return 504

    stats = _run(engine, Slow(), clock)

    assert stats.stale == 1
    assert len(inner.sent) == 1
    after = _only(engine)
    if newer == 200:
        assert (after.status, after.attempts, after.last_error) == ("delivered", 2, None)
    else:
        assert (after.status, after.attempts, after.last_error) == ("pending", 2, "HTTP 500")
        assert after.next_attempt_at == clock.now() + POLICY.delay(2, after.id)


# -- endpoints ----------------------------------------------------------------------------------


def test_deliveries_wait_while_their_endpoint_is_deactivated(
    engine: Engine, clock: FixedClock
) -> None:
    _biller(engine)
    endpoint = outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    [event_id] = _events(engine, "s1", "bill.paid")
    transport = FakeTransport()
    outbox.fan_out(engine.db, clock)
    outbox.deactivate_endpoint(engine, endpoint.id, actor="ops", reason="maintenance")
    clock.advance(days=2)
    _run(engine, transport, clock)
    assert transport.sent == [] and _only(engine).attempts == 0

    outbox.reactivate_endpoint(engine, endpoint.id)
    _run(engine, transport, clock)
    assert transport.event_ids() == [event_id]
    actions = [a["action"] for a in engine.audit_log("webhook_endpoint", str(endpoint.id))]
    assert actions == [
        "webhook_endpoint.added",
        "webhook_endpoint.deactivated",
        "webhook_endpoint.reactivated",
    ]


def test_events_written_while_an_endpoint_is_off_are_delivered_after_it_is_back_on(
    engine: Engine, clock: FixedClock
) -> None:
    _biller(engine)
    endpoint = outbox.add_endpoint(engine, "s1", HOOK, SECRET, "bill.*")
    outbox.deactivate_endpoint(engine, endpoint.id, actor="ops", reason="maintenance")
    written = _events(engine, "s1", "bill.paid", "payment.confirmed", "bill.partially_paid")
    transport = FakeTransport()
    _run(engine, transport, clock)
    assert transport.sent == []
    waiting = _deliveries(engine)
    assert [(d.status, d.attempts) for d in waiting] == [("pending", 0), ("pending", 0)]

    outbox.reactivate_endpoint(engine, endpoint.id, actor="ops", reason="back")
    clock.advance(days=3)
    _run(engine, transport, clock)
    assert sorted(transport.event_ids()) == sorted([written[0], written[2]])
    assert {d.status for d in _deliveries(engine)} == {"delivered"}


def test_endpoints_are_listed_per_biller_without_showing_the_secret(engine: Engine) -> None:
    _biller(engine, "s1")
    _biller(engine, "s2")
    a = outbox.add_endpoint(engine, "s1", HOOK, SECRET, "payment.*")
    b = outbox.add_endpoint(engine, "s2", "http://10.0.0.5:8080/cb", OTHER_SECRET)
    outbox.deactivate_endpoint(engine, b.id)
    assert outbox.list_endpoints(engine) == [a]
    assert outbox.list_endpoints(engine, "s2", include_inactive=True)[0].active is False
    assert (a.biller_code, a.url, a.event_types) == ("s1", HOOK, ("payment.*",))
    assert SECRET not in repr(a)
    assert SECRET not in json.dumps(engine.audit_log("webhook_endpoint"), default=str)


def test_an_endpoint_added_inside_a_unit_of_work_commits_with_it(engine: Engine) -> None:
    _biller(engine)
    with engine.uow() as uow:
        outbox.add_endpoint(uow, "s1", HOOK, SECRET)
    assert outbox.list_endpoints(engine) == []  # left without commit: rolled back
    with engine.uow() as uow:
        added = outbox.add_endpoint(uow, "s1", HOOK, SECRET)
        uow.commit()
    assert outbox.list_endpoints(engine) == [added]


@pytest.mark.parametrize(
    ("url", "secret", "events", "message"),
    [
        ("ftp://s1.example/x", SECRET, "*", "url: 'ftp://s1.example/x' is not an http:// or"),
        ("https:///path", SECRET, "*", "is not an http:// or https:// URL with a host"),
        ("https://u:p@s1.example/", SECRET, "*", "url: must not carry a user name or password"),
        (HOOK, "short", "*", "secret: must be 16 to 128 printable ASCII characters"),
        (HOOK, "with spaces inside it", "*", "secret: must be 16 to 128 printable ASCII"),
        (HOOK, SECRET, "Bill.Paid", "event_types: 'Bill.Paid' is not an event type pattern"),
    ],
)
def test_bad_endpoint_registrations_are_refused_and_change_nothing(
    engine: Engine, url: str, secret: str, events: str, message: str
) -> None:
    _biller(engine)
    with pytest.raises(InvalidInput, match=message.replace("*", r"\*")) as info:
        outbox.add_endpoint(engine, "s1", url, secret, events)
    assert secret not in info.value.message or secret == SECRET
    assert outbox.list_endpoints(engine, include_inactive=True) == []


def test_endpoints_need_an_existing_biller_and_a_url_not_already_registered(
    engine: Engine,
) -> None:
    with pytest.raises(NotFound, match="biller 'nope' does not exist"):
        outbox.add_endpoint(engine, "nope", HOOK, SECRET)
    _biller(engine)
    first = outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    with pytest.raises(Conflict, match=f"already has active endpoint {first.id} for this url"):
        outbox.add_endpoint(engine, "s1", HOOK, OTHER_SECRET)
    with pytest.raises(NotFound, match="webhook endpoint 404 does not exist"):
        outbox.deactivate_endpoint(engine, 404)


# -- the loop -----------------------------------------------------------------------------------


def test_run_forever_keeps_delivering_until_its_stop_flag_is_set(
    engine: Engine, clock: FixedClock
) -> None:
    _biller(engine)
    outbox.add_endpoint(engine, "s1", HOOK, SECRET)
    ids = _events(engine, "s1", "bill.paid", "bill.paid", "bill.paid")
    stop = threading.Event()

    class StopWhenAllArrived(FakeTransport):
        def send(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
            status = super().send(url, headers, body)
            if len(self.sent) == len(ids):
                stop.set()
            return status

    transport = StopWhenAllArrived()
    stats = outbox.run_forever(engine, transport, clock, interval=0.01, batch=1, stop=stop)
    assert sorted(transport.event_ids()) == sorted(ids)
    assert stats.delivered == 3 and stats.events_fanned_out == 3


def test_run_forever_outlives_an_unreachable_database_and_logs_it(tmp_path: Path) -> None:
    missing = make_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    with structlog.testing.capture_logs() as logs:
        stats = outbox.run_forever(missing, FakeTransport(), FixedClock(), interval=0.05, stop=stop)
    timer.join()
    errors = [entry for entry in logs if entry["event"] == "outbox.database_error"]
    assert stats == outbox.DispatchStats()
    assert len(errors) >= 2  # it kept trying
    assert errors[0]["error"] == "OperationalError"
    assert "unable to open database file" in errors[0]["detail"]


# -- many dispatchers ---------------------------------------------------------------------------


def test_two_dispatchers_deliver_each_of_200_deliveries_exactly_once(
    engine: Engine, clock: FixedClock
) -> None:
    if engine.db.dialect.name != "postgresql":
        pytest.skip("SQLite serves one process; concurrent dispatchers need PostgreSQL")
    _biller(engine)
    outbox.add_endpoint(engine, "s1", "https://a.example/", SECRET)
    outbox.add_endpoint(engine, "s1", "https://b.example/", SECRET)
    ids = _events(engine, "s1", *["bill.paid"] * 100)

    class Slowish(FakeTransport):
        def send(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
            time.sleep(0.002)
            return super().send(url, headers, body)

    transport = Slowish()
    stop = threading.Event()
    start = threading.Barrier(2)
    totals: list[outbox.DispatchStats] = []

    def dispatcher() -> None:
        start.wait()
        totals.append(
            outbox.run_forever(engine, transport, clock, interval=0.01, batch=10, stop=stop)
        )

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len({(s.url, s.event_id) for s in transport.sent}) < 200:
        time.sleep(0.05)
    time.sleep(0.2)  # a duplicate would show up now
    stop.set()
    for thread in threads:
        thread.join(30)

    sent = Counter((s.url, s.event_id) for s in transport.sent)
    assert len(sent) == 200 and set(sent.values()) == {1}
    assert {event_id for _, event_id in sent} == set(ids)
    assert sum(s.delivered for s in totals) == 200
    with engine.uow() as uow:
        statuses = uow.conn.execute(
            select(t.outbox_deliveries.c.status, func.count()).group_by(
                t.outbox_deliveries.c.status
            )
        ).all()
    assert [tuple(row) for row in statuses] == [("delivered", 200)]
