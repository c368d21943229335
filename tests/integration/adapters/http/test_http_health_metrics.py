"""/healthz, /readyz and /metrics; an unhandled error logged once, with its request id and
its exception as structured fields, masked."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, text
from test_http_notify import DOUBLES, OPENID, wechatpay

from billfold import Biller, BillerKind, Engine
from billfold.adapters.http.app import create_app
from billfold.adapters.http.asgi_client import asgi_client
from billfold.adapters.http.ratelimit import RateLimit
from billfold.adapters.outbox import dispatcher as outbox
from billfold.channels.collect import Collector
from billfold.clock import FixedClock
from billfold.testing.http import ApiClient
from billfold.testing.leaks import find_leaks
from billfold.testing.sandbox.gateway import SandboxGateway
from billfold.testing.sandbox.wechatpay import SandboxWechatMerchant
from billfold.testing.webhooks import FakeTransport

MONEY_TABLES = ("payments", "journal", "bills", "orders", "refunds", "escrow")
ID_NUMBER, PHONE = "11010519491231002X", "13812345678"


@pytest.fixture(scope="module")
def merchant() -> SandboxWechatMerchant:
    return SandboxWechatMerchant.generate("1230000109", "wxd678efh567hg6787")


def scrape(api: ApiClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = api.client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def test_healthz_and_readyz_answer_without_a_key_and_take_nothing_from_any_rate(
    slow_api: ApiClient,
) -> None:
    for _ in range(5):  # the key's burst is 2: these never touch it
        assert slow_api.client.get("/healthz").json() == {"status": "ok"}
        ready = slow_api.client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "ready",
            "checks": {"database": "ok", "migrations": "ok", "worker": "none"},
        }
    assert slow_api.client.get("/v1/billers", headers=slow_api.auth("s1")).status_code == 200
    assert slow_api.client.get("/v1/billers", headers=slow_api.auth("s1")).status_code == 200


def test_readyz_reads_no_money_table(api: ApiClient) -> None:
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.lower())

    event.listen(api.engine.db, "before_cursor_execute", seen)
    try:
        assert api.client.get("/readyz").status_code == 200
    finally:
        event.remove(api.engine.db, "before_cursor_execute", seen)
    assert statements  # it did ask the database
    assert [s for s in statements if any(t in s for t in MONEY_TABLES)] == []


@pytest.fixture
def unmigrated(tmp_path: Path) -> Iterator[ApiClient]:
    engine = Engine.from_url(f"sqlite:///{tmp_path / 'empty.db'}", clock=FixedClock())
    app = create_app(engine)
    with asgi_client(app) as client:
        yield ApiClient(client, app, engine, {})
    engine.close()


def test_readyz_is_503_on_a_database_not_migrated_and_says_which_check(
    unmigrated: ApiClient,
) -> None:
    answer = unmigrated.client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {
        "status": "unready",
        "checks": {"database": "ok", "migrations": "not_at_head"},
    }
    assert unmigrated.client.get("/healthz").status_code == 200  # alive all the same


def test_readyz_is_503_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    engine = Engine.from_url(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    with asgi_client(create_app(engine)) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "unready", "checks": {"database": "unreachable"}}


def test_metrics_move_after_notifications_a_delivery_and_a_refusal(
    api_with: Callable[..., ApiClient], clock: FixedClock, merchant: SandboxWechatMerchant
) -> None:
    api = api_with(rate_limit=RateLimit(per_second=0.5, burst=1))
    before = scrape(api)
    gateway = SandboxGateway(clock, DOUBLES, seed=7)
    channel = wechatpay(api, clock, gateway, merchant)
    api.engine.set_channel_config("s1", merchant.config(), actor="ops", reason="onboarding")
    outbox.add_endpoint(api.engine, "s1", "https://erp.example/hooks", "whsec-0123456789abcdef")
    order = api.engine.create_order("s1", ["T1"])
    Collector(api.engine, {"wechatpay": channel}).start(
        order.order_no, "wechatpay", payer_ref=OPENID
    )
    gateway.pay("wechatpay", order.order_no)
    first, again = gateway.due()
    for delivery in (first, again):
        api.client.post(
            "/v1/notify/wechatpay", content=delivery.body, headers=dict(delivery.headers)
        )
    tampered = first.body.replace(b'"resource"', b'"resource" ', 1)
    api.client.post("/v1/notify/wechatpay", content=tampered, headers=dict(first.headers))
    waiting = scrape(api)
    assert value(waiting, "billfold_outbox_backlog", kind="events") >= 1
    assert value(waiting, "billfold_outbox_oldest_age_seconds") == 0.0  # the clock stood still
    outbox.run_once(api.engine, FakeTransport(), clock)
    assert api.client.get("/v1/billers", headers=api.auth("s1")).status_code == 200
    assert api.client.get("/v1/billers", headers=api.auth("s1")).status_code == 429
    after = scrape(api)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("billfold_notifications_total", channel="wechatpay", outcome="accepted") == 1
    assert moved("billfold_notifications_total", channel="wechatpay", outcome="duplicate") == 1
    assert moved("billfold_notifications_total", channel="wechatpay", outcome="rejected") == 1
    assert moved("billfold_confirm_seconds_count", channel="wechatpay") == 2
    assert moved("billfold_rate_limit_refusals_total", limit="api_key") == 1
    assert value(after, "billfold_webhook_deliveries", status="delivered") >= 1
    assert value(after, "billfold_outbox_backlog", kind="events") == 0
    assert value(after, "billfold_outbox_backlog", kind="deliveries") == 0
    assert value(after, "billfold_dead_letters", kind="webhook") == 0
    assert ("billfold_jobs", (("state", "todo"),)) not in after  # no procrastinate table here


def _failing_router(engine: Engine) -> APIRouter:
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        with engine.db.connect() as conn:  # SQL whose parameters hold an ID and a phone
            conn.execute(
                text("SELECT * FROM no_such_payers WHERE id_number = :id AND phone = :phone"),
                {"id": ID_NUMBER, "phone": PHONE},
            )

    return router


def test_a_server_error_is_answered_500_and_logged_once_with_its_request_id_masked(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    app = create_app(engine)
    app.include_router(_failing_router(engine))
    capsys.readouterr()
    with asgi_client(app) as client:
        answer = client.get("/boom", headers={"X-Request-ID": "req-boom"})
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "internal_error"
    assert answer.json()["request_id"] == "req-boom"
    written = capsys.readouterr().err
    lines = [json.loads(line) for line in written.splitlines()]
    errors = [line for line in lines if line["event"] == "unhandled error"]
    assert len(errors) == 1
    error = errors[0]
    assert error["request_id"] == "req-boom" and error["level"] == "error"
    assert error["exception"]["type"] in (
        "sqlalchemy.exc.OperationalError",  # SQLite
        "sqlalchemy.exc.ProgrammingError",  # PostgreSQL
    )
    assert "no_such_payers" in error["exception"]["message"]
    assert "110105********002X" in error["exception"]["message"]
    assert "138****5678" in error["exception"]["traceback"]
    assert all(line.get("request_id") == "req-boom" for line in lines)
    assert find_leaks(written) == []
    assert ID_NUMBER not in written and PHONE not in written
