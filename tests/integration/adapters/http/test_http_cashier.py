"""The payer pages over HTTP (httpx through the app, real database): rendering, escaping,
unknown billers / bills / orders / identifiers, routing by the scanner's app, and a result
page that never says 已支付 before the engine has confirmed the payment."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.adapters.http.app import create_app
from billfold.adapters.http.asgi_client import asgi_client
from billfold.adapters.http.cashier import channel_for
from billfold.adapters.http.cashier_sandbox import CashierSandbox, sandbox_app
from billfold.channels.qr import Flow
from billfold.clock import FixedClock
from billfold.collection.bill import Bill, BillItem, BillKind
from billfold.collection.payer import IdentifierKind, Payer
from billfold.errors import ConfigurationError
from billfold.merchants.channel_config import ChannelConfig
from billfold.testing.sandbox.alipay import SandboxAlipayApp
from billfold.testing.sandbox.gateway import Chaos
from billfold.testing.sandbox.wechatpay import SandboxWechatMerchant

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI"
)
ALIPAY_UA = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 AlipayClient/10.5.86.8000"
PHONE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36"
HOSTILE = "<script>alert('x')</script>"
#: Every notification twice, two seconds after the payer pays (on the test's clock).
LATE_TWICE = Chaos(
    min_delay=timedelta(seconds=2), max_delay=timedelta(seconds=2), duplicate_rate=1.0
)


def qr_config(merchant_id: str = "M-STALL-1") -> ChannelConfig:
    settings = {
        "merchant_name_en": "TEST STALL",
        "merchant_city_en": "HANGZHOU",
        "notify_key_env": f"TEST_QR_KEY_{merchant_id}",
        "open_min_fen": 100,
        "open_max_fen": 50_000,
    }
    return ChannelConfig("qr", merchant_id=merchant_id, settings=settings)


def seed(engine: Engine) -> None:
    engine.create_biller(Biller(code="stall", name="刘记水果摊", kind=BillerKind.MARKET_STALL))
    engine.set_channel_config("stall", qr_config(), actor="test", reason="onboarding")
    engine.create_biller(Biller(code="s1", name="第一实验中学", kind=BillerKind.SCHOOL))
    engine.set_channel_config("s1", qr_config("M-SCHOOL-1"), actor="test", reason="onboarding")
    engine.import_bills(
        "s1",
        "bill_no,payer_id,payer_name,items,period\n"
        "T1,2026001,张小明,tuition:学费=4500.00;books:教材费=380.00,2026秋\n".encode(),
    )


def orders_count(engine: Engine) -> int:
    with engine.uow() as uow:
        return int(uow.conn.execute(select(func.count()).select_from(t.orders)).scalar_one())


def request_id(page: httpx.Response) -> str:
    found = re.search(r'name="request_id" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def order_path(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def wait_for(client: httpx.Client, path: str, status: str) -> dict[str, object]:
    answer: dict[str, object] = {}
    for _ in range(100):
        answer = client.get(f"{path}/status").json()
        if answer["status"] == status:
            return answer
        time.sleep(0.05)
    raise AssertionError(f"order never became {status}: {answer}")


@pytest.fixture
def cashier(engine: Engine) -> Iterator[httpx.Client]:
    seed(engine)
    with asgi_client(sandbox_app(engine, chaos=LATE_TWICE)) as client:
        yield client


@pytest.fixture
def plain(engine: Engine) -> Iterator[httpx.Client]:
    """The app without a sandbox: no pay button, no simulated payer."""
    seed(engine)
    with asgi_client(create_app(engine, CashierSandbox(engine).channels)) as client:
        yield client


# -- rendering --------------------------------------------------------------------------------


def test_a_stall_code_opens_an_amount_page_for_phones_with_nothing_external(
    cashier: httpx.Client,
) -> None:
    page = cashier.get("/pay/b/stall", headers={"User-Agent": WECHAT_UA})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<meta name="viewport" content="width=device-width, initial-scale=1' in page.text
    assert '<html lang="zh-CN">' in page.text and "输入付款金额" in page.text
    assert "单笔 1.00–500.00 元" in page.text
    assert re.findall(r"(?:src|href)=\"(?:https?:)?//", page.text) == []
    assert "<link" not in page.text and "<script src" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    # WeChat scanned it: one way to pay, WeChat's
    assert re.findall(r'name="flow" value="([^"]+)"', page.text) == ["wechat_jsapi"]


def test_an_unknown_scanner_is_offered_every_way_the_biller_takes(cashier: httpx.Client) -> None:
    page = cashier.get("/pay/b/stall", headers={"User-Agent": PHONE_UA})
    flows = re.findall(r'name="flow" value="([^"]+)"', page.text)
    assert flows == ["wechat_jsapi", "alipay_wap", "unionpay", "bank_app"]
    assert "使用云闪付支付" in page.text


def test_a_school_code_asks_for_the_identifier_and_lists_the_payers_bills(
    cashier: httpx.Client,
) -> None:
    page = cashier.get("/pay/b/s1")
    assert page.status_code == 200 and 'name="identifier"' in page.text
    page = cashier.get("/pay/b/s1", params={"identifier": "2026001"})
    assert "学号 2026001 · 张**" in page.text and "张小明" not in page.text
    assert 'value="T1" checked' in page.text and "¥4880.00" in page.text


def test_hostile_names_and_queries_are_escaped(engine: Engine, cashier: httpx.Client) -> None:
    engine.create_biller(Biller(code="evil", name=HOSTILE, kind=BillerKind.SCHOOL))
    engine.set_channel_config("evil", qr_config("M-EVIL"), actor="test", reason="onboarding")
    bill = Bill(
        biller_id=0,
        bill_no="E1",
        payer_id=0,
        items=[BillItem("fee", '"><img src=x onerror=alert(1)>', 1000)],
        period="<b>2026</b>",
    )
    engine.add_bill("evil", Payer(IdentifierKind.STUDENT_NO, "666", "<i>坏人</i>"), bill)
    cashier.follow_redirects = True
    pages = [
        cashier.get("/pay/b/evil", params={"identifier": "666"}),
        cashier.get("/pay/b/evil/bills/E1"),
        cashier.get("/pay/lookup", params={"biller": "evil", "identifier": HOSTILE}),
        cashier.get("/pay/b/evil", params={"identifier": HOSTILE}),
    ]
    for page in pages:
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "<b>2026</b>" not in page.text and "<i>" not in page.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in pages[0].text
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in pages[1].text
    assert "“&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;”" in pages[2].text


# -- unknown things ---------------------------------------------------------------------------


def test_unknown_billers_bills_and_orders_answer_404_pages(cashier: httpx.Client) -> None:
    page = cashier.get("/pay/b/nobody")
    assert page.status_code == 404 and 'id="message">未找到该收款方<' in page.text
    page = cashier.get("/pay/b/s1/bills/NOPE")
    assert page.status_code == 404 and 'id="message">未找到该账单<' in page.text
    for path in ("/pay/o/BF000", "/pay/o/BF000/result"):
        page = cashier.get(path)
        assert page.status_code == 404 and 'id="message">未找到该订单<' in page.text
    status = cashier.get("/pay/o/BF000/status")
    assert status.status_code == 404
    assert status.json()["code"] == "not_found"
    assert status.json()["detail"] == "order 'BF000' does not exist"
    answer = cashier.post("/pay/b/nobody/orders", data={"request_id": "r1", "flow": "unionpay"})
    assert answer.status_code == 404


def test_looking_up_an_unknown_identifier_says_nothing_is_due(cashier: httpx.Client) -> None:
    page = cashier.get("/pay/b/s1", params={"identifier": "9999999"})
    assert page.status_code == 200
    assert 'id="message">未找到待缴账单<' in page.text
    assert "没有与“9999999”对应的待缴账单" in page.text
    page = cashier.get("/pay/b/s1", params={"identifier": "x" * 65})
    assert page.status_code == 422
    assert 'id="error">identifier: at most 64 characters<' in page.text


def test_lookup_asks_for_the_biller_first_and_searches_only_its_bills(
    cashier: httpx.Client,
) -> None:
    form = cashier.get("/pay/lookup")
    assert form.status_code == 200
    assert '<option value="s1">第一实验中学</option>' in form.text
    assert "刘记水果摊" not in form.text  # a stall has no bills to look up
    alone = cashier.get("/pay/lookup", params={"identifier": "2026001"})
    assert alone.status_code == 422 and 'id="error">请选择缴费单位<' in alone.text
    assert "第一实验中学</h2>" not in alone.text and "T1" not in alone.text  # no search ran
    chosen = cashier.get("/pay/lookup", params={"biller": "s1", "identifier": " 2026001 "})
    assert chosen.status_code == 303
    assert chosen.headers["location"] == "/pay/b/s1?identifier=2026001"
    page = cashier.get(chosen.headers["location"])
    assert page.status_code == 200 and "第一实验中学" in page.text
    assert 'action="/pay/b/s1/orders"' in page.text and 'value="T1" checked' in page.text


def test_a_paid_bill_page_says_so_and_offers_no_payment(
    engine: Engine, cashier: httpx.Client
) -> None:
    order = engine.create_order("s1", ["T1"])
    engine.confirm("counter", "R-1", order.order_no, order.total_fen)
    page = cashier.get("/pay/b/s1/bills/T1")
    assert page.status_code == 200 and 'id="message">该账单已缴清<' in page.text
    assert 'name="flow"' not in page.text


# -- paying -----------------------------------------------------------------------------------


def test_the_result_page_says_paid_only_after_the_engine_confirms(
    engine: Engine, clock: FixedClock, cashier: httpx.Client
) -> None:
    form = cashier.get("/pay/b/s1/bills/T1", headers={"User-Agent": WECHAT_UA})
    data = {"request_id": request_id(form), "flow": "wechat_jsapi", "bill_no": "T1"}
    path = order_path(
        cashier.post(
            "/pay/b/s1/orders", data=data, headers={"User-Agent": WECHAT_UA}, follow_redirects=False
        )
    )
    page = cashier.get(path)
    assert "¥4880.00" in page.text and "聚合码支付" in page.text and 'id="sandbox-pay"' in page.text
    result = cashier.get(f"{path}/result")
    assert 'data-status="paying"' in result.text and "已支付" not in result.text
    assert "<script nonce=" in result.text  # it polls
    paid = cashier.post(f"{path}/sandbox-pay", follow_redirects=False)
    assert paid.headers["location"] == f"{path}/result"
    # the payer has paid, but the notification has not arrived: not paid yet
    time.sleep(0.3)
    assert cashier.get(f"{path}/status").json()["paid"] is False
    result = cashier.get(f"{path}/result")
    assert "已支付" not in result.text and "等待支付结果" in result.text
    assert engine.bill("s1", "T1").paid_fen == 0
    clock.advance(timedelta(seconds=3))  # the notification (twice) falls due
    answer = wait_for(cashier, path, "paid")
    assert answer["paid"] is True and answer["label"] == "已支付" and answer["final"] is True
    result = cashier.get(f"{path}/result")
    assert 'data-status="paid">已支付<' in result.text and "<script" not in result.text
    assert engine.bill("s1", "T1").paid_fen == 488_000  # credited once, not twice
    assert engine.check_books() == []


def test_a_stall_payment_and_its_repeat_make_one_order(
    engine: Engine, clock: FixedClock, cashier: httpx.Client
) -> None:
    form = cashier.get("/pay/b/stall", headers={"User-Agent": PHONE_UA})
    data = {"request_id": request_id(form), "flow": "unionpay", "amount": "12.50"}
    first = order_path(cashier.post("/pay/b/stall/orders", data=data, follow_redirects=False))
    again = order_path(cashier.post("/pay/b/stall/orders", data=data, follow_redirects=False))
    assert first == again and orders_count(engine) == 1
    cashier.post(f"{first}/sandbox-pay")
    clock.advance(timedelta(seconds=3))
    assert wait_for(cashier, first, "paid")["amount"] == "12.50"


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("12.345", "amount: &#x27;12.345&#x27; has more than two decimals"),
        ("0.50", "amount: 0.50 is outside 1.00–500.00 for stall&#x27;s stall code"),
        ("", "amount: amount is empty"),
    ],
)
def test_a_bad_stall_amount_is_refused_on_the_page_and_makes_no_order(
    engine: Engine, cashier: httpx.Client, amount: str, message: str
) -> None:
    form = cashier.get("/pay/b/stall")
    data = {"request_id": request_id(form), "flow": "unionpay", "amount": amount}
    page = cashier.post("/pay/b/stall/orders", data=data)
    assert page.status_code == 422
    assert f'id="error">{message}<' in page.text
    assert orders_count(engine) == 0


def test_a_flow_the_biller_cannot_take_and_a_stale_form_are_refused(
    engine: Engine, cashier: httpx.Client
) -> None:
    page = cashier.post(
        "/pay/b/s1/orders",
        data={"request_id": "r-1", "flow": "alipay_wap", "bill_no": "T1"},
        headers={"User-Agent": WECHAT_UA},
    )
    assert page.status_code == 422
    assert "flow: alipay_wap cannot pay here (not a way this app pays)" in page.text
    page = cashier.post(
        "/pay/b/s1/orders", data={"request_id": "no spaces", "flow": "unionpay", "bill_no": "T1"}
    )
    assert page.status_code == 422
    assert "request_id: the page is out of date; open it again" in page.text
    page = cashier.post(
        "/pay/b/s1/orders", data={"request_id": "r-2", "flow": "unionpay", "bill_no": "T9"}
    )
    assert page.status_code == 404 and "bill &#x27;T9&#x27; does not exist" in page.text
    assert orders_count(engine) == 0


def test_a_sole_channel_biller_says_which_channel_it_takes(
    engine: Engine, cashier: httpx.Client
) -> None:
    engine.create_biller(Biller(code="c1", name="城南学院", kind=BillerKind.SCHOOL))
    engine.set_channel_config(
        "c1",
        ChannelConfig("mobile_banking", sole=True, merchant_id="BANK-C1"),
        actor="test",
        reason="sole channel",
    )
    engine.import_bills("c1", b"bill_no,payer_id,amount\nC1,2026101,100.00\n")
    page = cashier.get(
        "/pay/b/c1", params={"identifier": "2026101"}, headers={"User-Agent": WECHAT_UA}
    )
    assert 'name="flow"' not in page.text
    assert (
        "暂不能在此页面缴费：c1 collects only through mobile_banking (its designated sole "
        "channel); wechatpay is not accepted"
    ) in page.text


@pytest.mark.parametrize(("channel", "agent"), [("wechatpay", WECHAT_UA), ("alipay", ALIPAY_UA)])
def test_wallets_pay_through_their_own_channel_in_the_sandbox(
    engine: Engine, clock: FixedClock, channel: str, agent: str
) -> None:
    seed(engine)
    if channel == "wechatpay":
        config = SandboxWechatMerchant.generate("1230000109", "wxd678efh567hg6787").config()
    else:
        config = SandboxAlipayApp.generate("2021000117600001", "2088101117955611").config()
    engine.set_channel_config("s1", config, actor="test", reason="wallet")
    with asgi_client(sandbox_app(engine, chaos=LATE_TWICE)) as client:
        form = client.get("/pay/b/s1/bills/T1", headers={"User-Agent": agent})
        flow = re.findall(r'name="flow" value="([^"]+)"', form.text)
        data = {"request_id": request_id(form), "flow": flow[0], "bill_no": "T1"}
        path = order_path(
            client.post(
                "/pay/b/s1/orders", data=data, headers={"User-Agent": agent}, follow_redirects=False
            )
        )
        assert engine.order(path.rsplit("/", 1)[1]).channel == channel
        client.post(f"{path}/sandbox-pay")
        clock.advance(timedelta(seconds=3))
        wait_for(client, path, "paid")
    assert engine.bill("s1", "T1").paid_fen == 488_000


def test_without_the_sandbox_there_is_no_pay_button(plain: httpx.Client) -> None:
    form = plain.get("/pay/b/s1/bills/T1")
    data = {"request_id": request_id(form), "flow": "unionpay", "bill_no": "T1"}
    path = order_path(plain.post("/pay/b/s1/orders", data=data, follow_redirects=False))
    page = plain.get(path)
    assert page.status_code == 200 and "sandbox-pay" not in page.text
    assert "请在应用中确认付款" in page.text
    refused = plain.post(f"{path}/sandbox-pay")
    assert refused.status_code == 404 and 'id="message">沙箱未启用<' in refused.text
    assert plain.get(f"{path}/status").json()["status"] == "paying"


# -- choosing the channel (pure) --------------------------------------------------------------


def test_channel_for_prefers_the_wallets_own_channel_then_the_aggregator() -> None:
    wechat = ChannelConfig("wechatpay", merchant_id="1", app_id="wx")
    configs = [qr_config(), wechat]
    every = {"qr", "wechatpay", "alipay", "mobile_banking"}
    choose: Callable[..., tuple[str | None, str | None]] = channel_for
    assert choose(Flow.WECHAT, "b", configs, every, wallet_ids=True) == ("wechatpay", None)
    assert choose(Flow.WECHAT, "b", configs, every, wallet_ids=False) == ("qr", None)
    assert choose(Flow.ALIPAY, "b", configs, every, wallet_ids=True) == ("qr", None)
    assert choose(Flow.UNIONPAY, "b", [wechat], every, wallet_ids=True) == (
        None,
        "qr is not enabled for b",
    )
    assert choose(Flow.UNIONPAY, "b", [], every, wallet_ids=True) == (
        None,
        "qr is not configured for b",
    )
    assert choose(Flow.UNIONPAY, "b", configs, {"wechatpay"}, wallet_ids=True) == (
        None,
        "qr is not set up in this billfold",
    )


# -- open-amount bills (prepaid top-ups, deposits) --------------------------------------------

TOP_UP = "TU-202609-0101"


@pytest.fixture
def household(engine: Engine) -> Iterator[httpx.Client]:
    """A water household (户号 0101) with arrears (W1, 120.00) and a prepaid top-up it may pay
    50.00–2000.00 of; the sandbox app made after, so that it plays the water company's QR."""
    engine.create_biller(Biller(code="water", name="城东水务", kind=BillerKind.UTILITY))
    engine.set_channel_config("water", qr_config("M-WATER"), actor="test", reason="onboarding")
    payer = Payer(IdentifierKind.ACCOUNT_NO, "0101", "李四")
    arrears = Bill(biller_id=0, bill_no="W1", payer_id=0, items=[BillItem("water", "水费", 12_000)])
    engine.add_bill("water", payer, arrears)
    top_up = Bill(
        biller_id=0,
        bill_no=TOP_UP,
        payer_id=0,
        items=[BillItem("topup", "预存", 0)],
        kind=BillKind.OPEN,
        open_min_fen=5_000,
        open_max_fen=200_000,
        period="202609",
        description="预存费用",
    )
    engine.add_bill("water", payer, top_up)
    with asgi_client(sandbox_app(engine, chaos=LATE_TWICE)) as client:
        yield client


def pay_form(
    client: httpx.Client, chosen: list[str], amount: str = ""
) -> dict[str, str | list[str]]:
    """The household's form as a payer submits it: the bills ticked, the top-up's amount."""
    page = client.get("/pay/b/water", params={"identifier": "0101"})
    return {
        "request_id": request_id(page),
        "flow": "unionpay",
        "bill_no": chosen,
        "open_bill": TOP_UP,
        "open_amount": amount,
    }


def pay_in_sandbox(client: httpx.Client, clock: FixedClock, path: str) -> dict[str, object]:
    client.post(f"{path}/sandbox-pay")
    clock.advance(timedelta(seconds=3))
    return wait_for(client, path, "paid")


@pytest.mark.parametrize("where", ["/pay/lookup", "/pay/b/water"])
def test_an_open_amount_bill_is_listed_unticked_with_an_amount_field_and_its_bounds(
    household: httpx.Client, where: str
) -> None:
    page = household.get(where, params={"biller": "water", "identifier": "0101"})
    if where == "/pay/lookup":  # it sends the payer on to the biller's page
        assert page.status_code == 303
        page = household.get(page.headers["location"])
    assert page.status_code == 200
    assert 'value="W1" checked' in page.text
    assert f'name="bill_no" value="{TOP_UP}">' in page.text  # not ticked
    assert f'<input type="hidden" name="open_bill" value="{TOP_UP}">' in page.text
    assert re.findall(r'<input class="open-amount" name="open_amount" type="text"', page.text)
    assert '<span class="bounds">金额 50.00–2000.00 元</span>，单独支付' in page.text
    # the total is the arrears alone: the top-up's maximum is not a sum owed
    assert 'id="total">¥120.00<' in page.text and "¥2000.00" not in page.text
    assert "（不含自填金额的账单）" in page.text


def test_a_household_pays_the_top_up_alone_for_the_amount_it_states(
    engine: Engine, clock: FixedClock, household: httpx.Client
) -> None:
    data = pay_form(household, [TOP_UP], " 300.00 ")
    path = order_path(household.post("/pay/b/water/orders", data=data, follow_redirects=False))
    assert "¥300.00" in household.get(path).text
    assert pay_in_sandbox(household, clock, path)["amount"] == "300.00"
    assert engine.bill("water", TOP_UP).paid_fen == 30_000
    assert engine.bill("water", "W1").paid_fen == 0
    assert engine.check_books() == []


def test_a_household_pays_the_arrears_then_the_top_up(
    engine: Engine, clock: FixedClock, household: httpx.Client
) -> None:
    data = pay_form(household, ["W1"])  # the top-up left unticked, its field empty
    first = order_path(household.post("/pay/b/water/orders", data=data, follow_redirects=False))
    assert pay_in_sandbox(household, clock, first)["amount"] == "120.00"
    page = household.get("/pay/b/water", params={"identifier": "0101"})
    assert 'value="W1"' not in page.text and f'value="{TOP_UP}"' in page.text
    data = pay_form(household, [TOP_UP], "50.00")
    second = order_path(household.post("/pay/b/water/orders", data=data, follow_redirects=False))
    assert second != first
    assert pay_in_sandbox(household, clock, second)["amount"] == "50.00"
    assert engine.bill("water", "W1").paid_fen == 12_000
    assert engine.bill("water", TOP_UP).paid_fen == 5_000
    assert orders_count(engine) == 2 and engine.check_books() == []


@pytest.mark.parametrize(
    ("chosen", "amount", "message"),
    [
        ([TOP_UP], "", f"amount: bill {TOP_UP} is open-amount; the payer states the amount"),
        ([TOP_UP], "20.00", f"amount: 20.00 is outside 50.00–2000.00 for bill {TOP_UP}"),
        ([TOP_UP], "2000.01", f"amount: 2000.01 is outside 50.00–2000.00 for bill {TOP_UP}"),
        ([TOP_UP], "1.234", "amount: &#x27;1.234&#x27; has more than two decimals"),
        ([TOP_UP], "一百", "amount: &#x27;一百&#x27; is not an amount like &#x27;12.34&#x27;"),
        (["W1", TOP_UP], "100.00", "bills: an open-amount bill is paid on its own order"),
    ],
)
def test_a_bad_top_up_is_refused_on_the_page_with_the_engines_reason_and_makes_no_order(
    engine: Engine, household: httpx.Client, chosen: list[str], amount: str, message: str
) -> None:
    page = household.post("/pay/b/water/orders", data=pay_form(household, chosen, amount))
    assert page.status_code == 422
    assert 'id="message">无法发起缴费<' in page.text
    assert f'id="detail">{message}<' in page.text
    assert orders_count(engine) == 0


def test_amount_fields_out_of_step_with_their_bills_are_refused(
    engine: Engine, household: httpx.Client
) -> None:
    data = pay_form(household, [TOP_UP], "100.00")
    data["open_bill"] = [TOP_UP, "W1"]
    page = household.post("/pay/b/water/orders", data=data)
    assert page.status_code == 422
    assert 'id="detail">amount: the page is out of date; open it again<' in page.text
    assert orders_count(engine) == 0


# -- the bank's own app -----------------------------------------------------------------------

BANK_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36 "
    "ExampleBank/7.1.0"
)


def bank_biller(engine: Engine) -> None:
    """A college that takes the aggregated QR and mobile banking."""
    engine.create_biller(Biller(code="c2", name="城西学院", kind=BillerKind.SCHOOL))
    engine.set_channel_config("c2", qr_config("M-C2"), actor="test", reason="onboarding")
    bank = ChannelConfig(
        "mobile_banking", merchant_id="BANK-C2", settings={"bank_public_key_env": "TEST_BANK_C2"}
    )
    engine.set_channel_config("c2", bank, actor="test", reason="onboarding")
    engine.import_bills("c2", b"bill_no,payer_id,amount\nC2,2026201,300.00\n")


def test_a_configured_bank_app_pays_through_mobile_banking(
    engine: Engine, clock: FixedClock
) -> None:
    bank_biller(engine)
    app = sandbox_app(engine, chaos=LATE_TWICE, bank_app_markers=["examplebank/"])
    with asgi_client(app) as client:
        form = client.get("/pay/b/c2/bills/C2", headers={"User-Agent": BANK_UA})
        assert re.findall(r'name="flow" value="([^"]+)"', form.text) == ["bank_app"]
        assert "使用手机银行支付" in form.text
        data = {"request_id": request_id(form), "flow": "bank_app", "bill_no": "C2"}
        answer = client.post(
            "/pay/b/c2/orders", data=data, headers={"User-Agent": BANK_UA}, follow_redirects=False
        )
        path = order_path(answer)
        assert engine.order(path.rsplit("/", 1)[1]).channel == "mobile_banking"
        assert "手机银行" in client.get(path).text
        client.post(f"{path}/sandbox-pay")
        clock.advance(timedelta(seconds=3))
        wait_for(client, path, "paid")
    assert engine.bill("c2", "C2").paid_fen == 30_000


def test_without_markers_a_bank_app_is_an_unknown_scanner_offered_every_way(
    engine: Engine, cashier: httpx.Client
) -> None:
    bank_biller(engine)
    form = cashier.get("/pay/b/c2/bills/C2", headers={"User-Agent": BANK_UA})
    flows = re.findall(r'name="flow" value="([^"]+)"', form.text)
    assert flows == ["wechat_jsapi", "alipay_wap", "unionpay", "bank_app"]
    # a marker for another bank does not claim this one's app
    with asgi_client(create_app(engine, bank_app_markers=["OtherBank"])) as other:
        form = other.get("/pay/b/c2/bills/C2", headers={"User-Agent": BANK_UA})
        assert 'name="flow" value="bank_app"' not in form.text  # no channels set up here
        assert "暂不能在此页面缴费" in form.text


@pytest.mark.parametrize("marker", ["ab", "  x "])
def test_create_app_refuses_a_bank_app_marker_too_short_to_name_one_app(
    engine: Engine, marker: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        create_app(engine, bank_app_markers=["ExampleBank/", marker])
    assert refused.value.message == (
        f"bank app User-Agent marker {marker!r} must be a string of 3+ characters"
    )


# -- the payer's truth when a bill was paid meanwhile -------------------------------------------


def test_a_stale_form_for_a_bill_paid_meanwhile_says_so_with_the_receipt_link(
    engine: Engine, cashier: httpx.Client
) -> None:
    form = cashier.get("/pay/b/s1/bills/T1", headers={"User-Agent": WECHAT_UA})
    paid = engine.create_order("s1", ["T1"])  # another tab, another app
    engine.confirm("counter", "R-other", paid.order_no, paid.total_fen)
    before = orders_count(engine)
    data = {"request_id": request_id(form), "flow": "wechat_jsapi", "bill_no": "T1"}
    answer = cashier.post("/pay/b/s1/orders", data=data, headers={"User-Agent": WECHAT_UA})
    assert answer.status_code == 409
    assert "该账单已缴清，无需重复缴费" in answer.text and "账单号 T1" in answer.text
    assert f'href="/pay/o/{paid.order_no}/result"' in answer.text and "查看缴费凭证" in answer.text
    assert "本订单未支付" not in answer.text
    assert orders_count(engine) == before


def test_money_sent_for_a_bill_paid_meanwhile_is_told_the_truth_on_the_result_page(
    engine: Engine, cashier: httpx.Client
) -> None:
    late = engine.create_order("s1", ["T1"])
    engine.start_payment(late.order_no, "counter")  # the payer is paying in one tab …
    paid = engine.create_order("s1", ["T1"])  # … and pays in another first
    engine.confirm("counter", "R-first", paid.order_no, paid.total_fen)
    result = engine.confirm("counter", "R-late", late.order_no, late.total_fen)
    assert result.payment.status.value == "suspense"
    page = cashier.get(f"/pay/o/{late.order_no}/result")
    assert "该账单已缴清，本次款项将原路退回" in page.text
    assert "支付失败" not in page.text and "请重新发起缴费" not in page.text
    status = cashier.get(f"/pay/o/{late.order_no}/status").json()
    assert status["paid"] is False and status["final"] is True
    assert status["hint"] == "该账单已缴清，本次款项将原路退回。"
