"""The public lookup cannot be used to enumerate payers: a biller's second factor, one
answer for "not found" and "not yours", and a rate per client address."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from test_http_cashier import seed

from billfold import Engine
from billfold.adapters.http.app import create_app
from billfold.adapters.http.asgi_client import asgi_client
from billfold.adapters.http.cashier_sandbox import CashierSandbox
from billfold.adapters.http.metrics import RATE_LIMIT_REFUSALS
from billfold.adapters.http.ratelimit import RateLimit
from billfold.merchants.biller import LookupCheck


def _client(engine: Engine, limit: RateLimit, peer: str = "203.0.113.7") -> Iterator[httpx.Client]:
    app = create_app(engine, CashierSandbox(engine).channels, lookup_rate_limit=limit)
    with asgi_client(app, peer=(peer, 40000)) as client:
        yield client


@pytest.fixture
def pages(engine: Engine) -> Iterator[httpx.Client]:
    seed(engine)
    engine.set_lookup_check("s1", LookupCheck.NAME_LAST_CHAR, actor="ops", reason="防枚举")
    yield from _client(engine, RateLimit(per_second=1000, burst=1000))


def _shape(page: httpx.Response, identifier: str) -> tuple[int, str]:
    """The page as a prober sees it, with what it typed and the page's nonce taken out."""
    text = page.text.replace(identifier, "ID")
    return page.status_code, re.sub(r"nonce-[A-Za-z0-9_-]+|nonce=\"[^\"]+\"", "", text)


def test_bills_are_listed_only_to_who_gives_the_last_character_of_the_payers_name(
    pages: httpx.Client,
) -> None:
    found = pages.get("/pay/b/s1", params={"identifier": "2026001", "check": "明"})
    assert found.status_code == 200 and 'value="T1" checked' in found.text
    whole = pages.get("/pay/b/s1", params={"identifier": "2026001", "check": "张小明"})
    assert 'value="T1" checked' in whole.text  # the whole name is more than was asked
    form = pages.get("/pay/b/s1")
    assert '<label for="check">缴费人姓名的最后一个字</label>' in form.text


def test_a_wrong_name_and_an_unknown_number_get_the_same_answer(pages: httpx.Client) -> None:
    wrong = pages.get("/pay/b/s1", params={"identifier": "2026001", "check": "红"})
    unknown = pages.get("/pay/b/s1", params={"identifier": "2026999", "check": "红"})
    assert _shape(wrong, "2026001") == _shape(unknown, "2026999")
    assert wrong.status_code == 200 and 'id="message">未找到待缴账单<' in wrong.text
    assert "T1" not in wrong.text and "张" not in wrong.text


def test_a_missing_second_factor_is_refused_alike_whether_the_number_exists_or_not(
    pages: httpx.Client,
) -> None:
    known = pages.get("/pay/b/s1", params={"identifier": "2026001"})
    unknown = pages.get("/pay/b/s1", params={"identifier": "2026999"})
    assert _shape(known, "2026001") == _shape(unknown, "2026999")
    assert known.status_code == 422
    assert 'id="error">请填写缴费人姓名的最后一个字<' in known.text and "T1" not in known.text
    long = pages.get("/pay/b/s1", params={"identifier": "2026001", "check": "明" * 33})
    assert long.status_code == 422 and 'id="error">check: at most 32 characters<' in long.text


def test_the_lookup_page_passes_the_second_factor_on_to_the_billers_page(
    pages: httpx.Client,
) -> None:
    answer = pages.get(
        "/pay/lookup", params={"biller": "s1", "identifier": "2026001", "check": "明"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/pay/b/s1?identifier=2026001&check=%E6%98%8E"
    assert 'value="T1" checked' in pages.get(answer.headers["location"]).text


def test_searches_beyond_a_client_addresss_rate_are_refused_429_in_chinese(
    engine: Engine,
) -> None:
    seed(engine)
    refused_before = RATE_LIMIT_REFUSALS.labels("lookup")._value.get()
    limit = RateLimit(per_second=0.01, burst=2)
    for client in _client(engine, limit):
        answers = [client.get("/pay/b/s1", params={"identifier": "2026001"}) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert 'id="message">查询过于频繁<' in answers[2].text
        assert answers[2].headers["Retry-After"] == "100"
        assert client.get("/pay/b/s1").status_code == 200  # the empty form is no search
        assert client.get("/pay/b/s1/bills/T1").status_code == 429  # nor may bills be guessed
    for other in _client(engine, limit, peer="198.51.100.9"):  # another address, its own rate
        assert other.get("/pay/b/s1", params={"identifier": "2026001"}).status_code == 200
    assert RATE_LIMIT_REFUSALS.labels("lookup")._value.get() - refused_before == 2
