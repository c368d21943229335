"""The payer's complaint pages: open one by bill number and receipt reference, the engine
requeries the channel and credits the lost payment at once, and the payer follows it by bill
and complaint number; Chinese pages, strict CSP, no script; bad input shows why and changes
nothing."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import queues
from billfold.channels.secrets import DictSecrets
from billfold.channels.wechatpay import WechatPayChannel
from billfold.testing.http import ApiClient
from billfold.testing.sandbox.gateway import SandboxGateway
from billfold.testing.sandbox.wechatpay import SandboxWechatMerchant, SandboxWechatPay

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@pytest.fixture(scope="module")
def merchant() -> SandboxWechatMerchant:
    return SandboxWechatMerchant.generate("1230000109", "wxd678efh567hg6787")


@pytest.fixture
def world(
    api_with: Callable[..., ApiClient], merchant: SandboxWechatMerchant
) -> tuple[ApiClient, SandboxGateway]:
    api = api_with({})  # seeded first (billers and bills), channels wired below
    engine = api.engine
    engine.set_channel_config("s1", merchant.config(), actor="ops", reason="onboarding")
    gateway = SandboxGateway(engine.clock, seed=7)
    channel = WechatPayChannel(
        DictSecrets(merchant.secrets()),
        engine,
        engine.clock,
        SandboxWechatPay(gateway, [merchant]),
        notify_url="https://p.example/n",
    )
    api.app.state.billfold.collector.channels["wechatpay"] = channel
    return api, gateway


def _counts(api: ApiClient) -> dict[str, int]:
    with api.engine.uow() as uow:
        return {
            table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.payments, t.journal_postings, queues.complaints)
        }


def test_a_payer_complains_the_lost_payment_is_credited_and_the_page_says_so(
    world: tuple[ApiClient, SandboxGateway],
) -> None:
    api, gateway = world
    order = api.engine.create_order("s1", ["T1"])
    api.app.state.billfold.collector.start(order.order_no, "wechatpay", payer_ref=OPENID)
    remote = gateway.pay("wechatpay", order.order_no)
    gateway.outbox.clear()  # the notification is lost
    bill_page = api.client.get("/pay/b/s1/bills/T1")
    assert 'href="/pay/b/s1/complaints?bill_no=T1"' in bill_page.text
    form = api.client.get("/pay/b/s1/complaints", params={"bill_no": "T1"})
    assert form.status_code == 200 and "已付款未销账" in form.text and 'value="T1"' in form.text
    csp = form.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'none'" in csp
    assert "<script" not in form.text and "http://" not in form.text.replace("http://www.w3", "")
    opened = api.client.post(
        "/pay/b/s1/complaints",
        data={"bill_no": "T1", "kind": "paid_not_credited", "channel_ref": remote.txn_id},
        follow_redirects=False,
    )
    assert opened.status_code == 303
    where = opened.headers["location"]
    assert re.fullmatch(r"/pay/b/s1/complaints/CP\w+\?bill_no=T1", where)
    shown = api.client.get(where)
    assert shown.status_code == 200
    assert 'data-status="resolved"' in shown.text and "已解决" in shown.text
    assert "已向支付渠道查询到款，已入账" in shown.text
    assert api.engine.bill("s1", "T1").stored_status.value == "paid"
    number = where.split("/")[-1].split("?")[0]
    follow = api.client.get(
        "/pay/b/s1/complaints/follow",
        params={"bill_no": "T1", "complaint_no": number},
        follow_redirects=True,
    )
    assert follow.status_code == 200 and "已解决" in follow.text  # redirected to the page
    api_view = api.client.get(f"/v1/complaints/{number}", headers=api.auth("s1"))
    assert api_view.json()["answer"] == "credited_on_requery"


def test_the_payer_page_refuses_bad_input_clearly_and_changes_nothing(
    world: tuple[ApiClient, SandboxGateway],
) -> None:
    api, _ = world
    before = _counts(api)
    bad_kind = api.client.post(
        "/pay/b/s1/complaints", data={"bill_no": "T1", "kind": "other", "channel_ref": "42"}
    )
    assert bad_kind.status_code == 400 and "请选择问题类型" in bad_kind.text
    no_ref = api.client.post(
        "/pay/b/s1/complaints", data={"bill_no": "T1", "kind": "wrong_amount", "channel_ref": ""}
    )
    assert no_ref.status_code == 400 and "请填写账单号和付款凭证号" in no_ref.text
    unknown = api.client.post(
        "/pay/b/s1/complaints",
        data={"bill_no": "<b>X</b>", "kind": "wrong_amount", "channel_ref": "42"},
    )
    assert unknown.status_code == 404 and "&lt;b&gt;X&lt;/b&gt;" in unknown.text
    assert api.client.get("/pay/b/zz/complaints").status_code == 404
    assert _counts(api) == before


def test_a_complaint_is_shown_only_with_its_own_bill_number(
    world: tuple[ApiClient, SandboxGateway],
) -> None:
    api, _ = world
    opened = api.client.post(
        "/pay/b/s1/complaints",
        data={"bill_no": "T2", "kind": "wrong_amount", "channel_ref": "4200001"},
        follow_redirects=False,
    )
    number = opened.headers["location"].split("/")[-1].split("?")[0]
    wrong = api.client.get(f"/pay/b/s1/complaints/{number}", params={"bill_no": "T1"})
    assert wrong.status_code == 404 and "未找到查询" in wrong.text
    other = api.client.get(f"/pay/b/w2/complaints/{number}", params={"bill_no": "T2"})
    assert other.status_code == 404
    mine = api.client.get(f"/pay/b/s1/complaints/{number}", params={"bill_no": "T2"})
    assert mine.status_code == 200 and "待处理" in mine.text and "金额不符" in mine.text
