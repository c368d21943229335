"""The /v1 lists and back-office actions over HTTP: filters and cursors, 400 for an unknown
filter or a bad cursor (naming it), bill changes, order cancels, mandates suspended and
resumed — each audited, each bad input refused with nothing changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.adapters.http.app import create_app
from billfold.adapters.http.asgi_client import asgi_client
from billfold.adapters.http.keys import Scope, create_key
from billfold.channels.autodebit_mandates import MandateBook

BILLS = "bill_no,payer_id,payer_name,amount\nT1,2024001,张三,10.00\nT2,2024002,李四,25.50\nT3,2024003,王五,7.00\n".encode()


@pytest.fixture
def client(engine: Engine) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", BILLS)
    keys = {
        "office": create_key(engine, None, Scope.WRITE).secret,
        "s1": create_key(engine, "s1", Scope.WRITE).secret,
    }
    with asgi_client(create_app(engine)) as c:
        yield c, {k: f"Bearer {v}" for k, v in keys.items()}


def _state(engine: Engine) -> Any:
    with engine.uow() as uow:
        return [
            sorted(map(tuple, uow.conn.execute(select(table)).all()), key=repr)
            for table in (t.bills, t.bill_items, t.orders, t.audit_log)
        ]


def test_pages_follow_next_cursor_to_the_end(client: tuple[httpx.Client, dict[str, str]]) -> None:
    c, keys = client
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2, "sort": "bill_no"}
    while True:
        answer = c.get("/v1/bills", params=params, headers={"Authorization": keys["s1"]})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen += [row["bill_no"] for row in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == ["T1", "T2", "T3"]
    first = c.get("/v1/bills", params={"sort": "bill_no"}, headers={"Authorization": keys["s1"]})
    assert first.json()["items"][0]["payer_name"] == "张三"  # JSON keeps the data and codes
    assert first.json()["items"][0]["status"] == "open"


@pytest.mark.parametrize(
    ("path", "params", "code", "detail"),
    [
        (
            "/v1/bills",
            {"colour": "red"},
            "bad_query",
            "unknown filter 'colour' for bills; known: biller",
        ),
        ("/v1/payments", {"amount_min": "abc"}, "bad_query", "filter amount_min"),
        (
            "/v1/refunds",
            {"status": "done"},
            "bad_query",
            "filter status: 'done' is not one of pending",
        ),
        ("/v1/orders", {"sort": "price"}, "bad_query", "sort: 'price'"),
        ("/v1/bills", {"cursor": "eyJ9.AAAA"}, "bad_cursor", "cursor: damaged or not issued"),
        ("/v1/bills", {"limit": "9999"}, "bad_query", "limit: 9999 is not between 1 and 500"),
        ("/v1/audit", {"biller": "s1"}, "bad_query", "unknown filter 'biller' for audit"),
    ],
)
def test_a_bad_filter_or_cursor_answers_400_naming_it(
    engine: Engine,
    client: tuple[httpx.Client, dict[str, str]],
    path: str,
    params: dict[str, str],
    code: str,
    detail: str,
) -> None:
    c, keys = client
    before = _state(engine)
    answer = c.get(path, params=params, headers={"Authorization": keys["office"]})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code and detail in answer.json()["detail"]
    assert _state(engine) == before


def test_a_cursor_of_another_caller_is_refused(client: tuple[httpx.Client, dict[str, str]]) -> None:
    c, keys = client
    page = c.get("/v1/bills", params={"limit": 1}, headers={"Authorization": keys["office"]}).json()
    other = c.get(
        "/v1/bills",
        params={"limit": 1, "cursor": page["next_cursor"]},
        headers={"Authorization": keys["s1"]},
    )
    assert other.status_code == 400 and other.json()["code"] == "bad_cursor"


def test_a_bill_is_changed_audited_and_a_bad_amount_changes_nothing(
    engine: Engine, client: tuple[httpx.Client, dict[str, str]]
) -> None:
    c, keys = client
    headers = {"Authorization": keys["s1"]}
    before = _state(engine)
    bad = c.post(
        "/v1/billers/s1/bills/T1/change", json={"reason": "x", "amount": "1.234"}, headers=headers
    )
    assert bad.status_code == 422 and "amount" in bad.json()["detail"]
    empty = c.post("/v1/billers/s1/bills/T1/change", json={"reason": "x"}, headers=headers)
    assert empty.status_code == 422 and "nothing to change" in empty.json()["detail"]
    assert _state(engine) == before
    done = c.post(
        "/v1/billers/s1/bills/T1/change",
        json={"reason": "调整", "operator": "王老师", "amount": "12.00", "due_date": "2026-10-01"},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    assert done.json()["principal"] == "12.00" and done.json()["due_date"] == "2026-10-01"
    audit = c.get(
        "/v1/audit", params={"action": "change"}, headers={"Authorization": keys["office"]}
    )
    (entry,) = audit.json()["items"]
    assert entry["target_id"] == "s1/T1" and entry["actor"].startswith("王老师 (api key")


def test_an_order_is_cancelled_over_http_once(
    engine: Engine, client: tuple[httpx.Client, dict[str, str]]
) -> None:
    c, keys = client
    headers = {"Authorization": keys["s1"]}
    order = engine.create_order("s1", ["T2"])
    done = c.post(
        f"/v1/orders/{order.order_no}/cancel", json={"reason": "家长要求"}, headers=headers
    )
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    again = c.post(f"/v1/orders/{order.order_no}/cancel", json={"reason": "again"}, headers=headers)
    assert again.status_code == 409 and "is cancelled" in again.json()["detail"]
    listed = c.get("/v1/orders", params={"status": "cancelled"}, headers=headers).json()
    assert [o["order_no"] for o in listed["items"]] == [order.order_no]


def test_a_mandate_is_suspended_and_resumed_over_http(
    engine: Engine, client: tuple[httpx.Client, dict[str, str]]
) -> None:
    c, keys = client
    headers = {"Authorization": keys["s1"]}
    book = MandateBook(engine)
    mandate = book.sign(
        "s1", "2024001", "6222020200445566", per_debit_limit_fen=10000,
        monthly_limit_fen=30000, actor="ops",
    )  # fmt: skip
    book.activate(mandate.mandate_no, actor="bank", agreement_no="AG1")
    path = f"/v1/mandates/{mandate.mandate_no}"
    suspended = c.post(f"{path}/suspend", json={"reason": "家长暂停"}, headers=headers)
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    twice = c.post(f"{path}/resume", json={"reason": "恢复"}, headers=headers)
    assert twice.status_code == 200 and twice.json()["status"] == "active"
    again = c.post(f"{path}/resume", json={"reason": "恢复"}, headers=headers)
    assert again.status_code == 409 and "not suspended" in again.json()["detail"]
    actions = [e["action"] for e in engine.audit_log("mandate", mandate.mandate_no)]
    assert "suspended" in " ".join(actions) and "resumed" in " ".join(actions)


def test_a_list_downloads_with_chinese_headers_masked_unless_audited_unmasked(
    engine: Engine, client: tuple[httpx.Client, dict[str, str]]
) -> None:
    c, keys = client
    office = {"Authorization": keys["office"]}
    csv = c.get("/v1/exports/bills", params={"sort": "bill_no"}, headers=office)
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf")
    text = csv.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("账单号,商户,所属单位") and "张*" in text
    assert "张三" not in text and "未缴" in text
    before = _state(engine)
    no_reason = c.get("/v1/exports/bills", params={"unmasked": "true"}, headers=office)
    assert no_reason.status_code == 422 and "a reason and who asks are required" in no_reason.text
    bad = c.get("/v1/exports/bills", params={"format": "pdf"}, headers=office)
    assert bad.status_code == 400 and "format: 'pdf'" in bad.json()["detail"]
    assert _state(engine) == before
    full = c.get(
        "/v1/exports/bills",
        params={"unmasked": "true", "reason": "催缴", "operator": "王老师", "format": "xlsx"},
        headers=office,
    )
    assert full.status_code == 200 and full.content.startswith(b"PK")
    (entry,) = engine.find("audit", {"action": "export_unmasked"}).rows
    assert entry["reason"] == "催缴" and entry["actor"].startswith("王老师")
