"""The console's framework on pages: a list paged by keyset cursors with Chinese headers, a
bad filter or a forged cursor answered with a page (not a traceback), a biller's user kept
to their biller (another biller's object is 404, as if it did not exist), and the navigation
showing each role its pages only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

import pytest
from console_world import World, console_world  # type: ignore[import-not-found]
from fastapi import Request, Response

from billfold import Engine
from billfold.adapters.http.console.guard import BillerInPath, Reason, pages, role
from billfold.adapters.http.console.sessions import ConsoleUser
from billfold.adapters.http.console.web import done
from billfold.merchants.roles import Role


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    with console_world(engine) as made:
        yield made


def test_the_audit_log_pages_by_cursor_without_repeating_a_row(world: World) -> None:
    for n in range(7):
        world.engine.waive(
            "s1", "T1", 100, reason=f"助学 {n}", granted_by="王老师", request_id=f"W{n}"
        )
    me = world.login("supervisor")
    first = world.request("GET", "/console/audit?limit=4&target_type=bill", me)
    assert first.status_code == 200
    assert '<th scope="col">操作人</th>' in first.text and '<th scope="col">原因</th>' in first.text
    following = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert following
    second = world.request("GET", following.group(1).replace("&amp;", "&"), me)
    assert second.status_code == 200 and "第一页" in second.text
    reasons = re.findall(r"助学 \d", first.text) + re.findall(r"助学 \d", second.text)
    assert sorted(reasons) == [f"助学 {n}" for n in range(7)]


def test_a_bad_filter_or_forged_cursor_is_a_page_naming_it(world: World) -> None:
    me = world.login("admin")
    answer = world.request("GET", "/console/audit?colour=red", me)
    assert answer.status_code == 400 and "colour" in answer.text and 'id="error"' in answer.text
    forged = world.request("GET", "/console/audit?cursor=abc.def", me)
    assert forged.status_code == 400 and "content-security-policy" in forged.headers


def test_each_role_sees_only_its_pages_in_the_navigation(world: World) -> None:
    admin = world.request("GET", "/console/", world.login("admin")).text
    bursar = world.request("GET", "/console/", world.login("bursar")).text
    assert 'href="/console/admin/keys"' in admin and 'href="/console/audit"' in admin
    assert 'href="/console/admin/keys"' not in bursar and 'href="/console/audit"' not in bursar
    refused = world.request("GET", "/console/audit", world.login("bursar"))
    assert refused.status_code == 403 and "系统管理员或主管" in refused.text
    scoped = world.request("GET", "/console/audit", world.login("admin-s1"))
    assert scoped.status_code == 403 and "后台用户" in scoped.text


def test_a_billers_user_gets_404_for_another_billers_object_and_nothing_changes(
    world: World,
) -> None:
    touched: list[str] = []
    extra = pages()

    @extra.post("/test/billers/{code}/touch")
    def touch(
        request: Request,
        user: Annotated[ConsoleUser, role(Role.BURSAR)],
        biller: BillerInPath,
        reason: Reason,
    ) -> Response:
        touched.append(biller.code)
        return done(request, user, "/console/", f"touched {biller.code}")

    world.app.include_router(extra)
    me = world.login("bursar-s1")
    for code in ("s2", "nope"):
        answer = world.request("POST", f"/console/test/billers/{code}/touch", me,
                               {"csrf_token": me.csrf, "reason": "r"})  # fmt: skip
        assert answer.status_code == 404 and f"商户 {code} 不存在" in answer.text
    empty = world.request("POST", "/console/test/billers/s1/touch", me, {"csrf_token": me.csrf})
    assert empty.status_code == 400 and "请填写原因" in empty.text
    assert touched == []
    mine = world.request("POST", "/console/test/billers/s1/touch", me,
                         {"csrf_token": me.csrf, "reason": "r"})  # fmt: skip
    assert mine.status_code == 303 and touched == ["s1"]
    home = world.request("GET", "/console/", me)
    assert 'id="flash">touched s1<' in home.text  # shown once
    assert 'id="flash"' not in world.request("GET", "/console/", me).text
    everyone = world.login("bursar")  # a back-office bursar sees every biller
    answer = world.request("POST", "/console/test/billers/s2/touch", everyone,
                           {"csrf_token": everyone.csrf, "reason": "r"})  # fmt: skip
    assert answer.status_code == 303 and touched == ["s1", "s2"]


def test_each_home_shows_todays_figures_of_its_own_billers_as_svg(world: World) -> None:
    engine = world.engine
    engine.confirm("counter", "C-1", engine.create_order("s1", ["T1"]).order_no, 10_000)
    engine.confirm("wechatpay", "WX-1", engine.create_order("s2", ["T2"]).order_no, 5_000)
    mine = world.request("GET", "/console/", world.login("bursar-s1")).text
    assert "¥100.00" in mine and "柜台" in mine and "微信支付" not in mine
    assert "各班级/单位缴费率" in mine and "<svg" in mine and "<script" not in mine
    assert "在途资金" not in mine  # back-office money: not a biller's
    office = world.request("GET", "/console/", world.login("reconciler")).text
    assert "¥150.00" in office and "柜台" in office and "微信支付" in office
    assert "在途资金（按账龄）" in office and "待处理差错" in office


def test_a_billers_page_shows_channel_secrets_only_as_where_they_are_kept(world: World) -> None:
    from billfold.merchants.channel_config import ChannelConfig

    settings = {"notify_key_env": "S1_WX_KEY", "api_v3_key": "0123456789abcdef", "city": "杭州"}
    config = ChannelConfig("wechatpay", merchant_id="1900000109", settings=settings)
    world.engine.set_channel_config("s1", config, actor="t", reason="t")
    page = world.request("GET", "/console/billers/s1", world.login("admin")).text
    assert "环境变量 S1_WX_KEY" in page and "api_v3_key: （已隐藏）" in page
    assert "0123456789abcdef" not in page and "微信支付" in page and "city: 杭州" in page
    scoped = world.login("viewer-s1")
    assert world.request("GET", "/console/billers/s1", scoped).status_code == 200
    other = world.request("GET", "/console/billers/s2", scoped)
    assert other.status_code == 404 and "商户 s2 不存在" in other.text


def test_a_limit_change_waits_for_a_second_person(world: World) -> None:
    from billfold.maker_checker import MakerChecker

    me = world.login("admin")
    answer = world.request("POST", "/console/admin/billers/s1/limits", me,
                           {"csrf_token": me.csrf, "daily": "5000.00", "reason": "开学高峰"})  # fmt: skip
    assert answer.status_code == 303
    assert "已提交复核" in world.request("GET", "/console/billers/s1", me).text
    assert world.engine.biller("s1").limits.daily_fen is None  # not yet
    (proposal,) = MakerChecker(world.engine).list()
    assert proposal.maker == "user:admin" and proposal.payload["daily_fen"] == 500_000
    bad = world.request("POST", "/console/admin/billers/s1/limits", me,
                        {"csrf_token": me.csrf, "daily": "12.345", "reason": "x"})  # fmt: skip
    assert bad.status_code == 400 and "日限额" in bad.text
    assert len(MakerChecker(world.engine).list()) == 1


def test_a_new_webhook_secret_is_shown_once(world: World) -> None:
    me = world.login("admin")
    answer = world.request("POST", "/console/admin/billers/s2/webhooks", me,
                           {"csrf_token": me.csrf, "url": "https://erp.example/h", "reason": "接入"})  # fmt: skip
    secret = re.search(r'id="secret">([^<]+)<', answer.text)
    assert answer.status_code == 200 and secret
    assert secret.group(1) not in world.request("GET", "/console/billers/s2", me).text


def test_a_user_with_a_short_password_is_not_created(world: World) -> None:
    me = world.login("admin")
    data = {"csrf_token": me.csrf, "username": "short.pw", "display_name": "短", "roles": "viewer",
            "password": "short", "reason": "入职"}  # fmt: skip
    answer = world.request("POST", "/console/admin/users", me, data)
    assert answer.status_code == 400 and "密码至少 12 位" in answer.text
    assert "short.pw" not in world.request("GET", "/console/admin/users", me).text
    none = world.request(
        "POST", "/console/admin/users", me, {**data, "roles": [], "password": "x" * 12}
    )
    assert none.status_code == 400 and "至少选择一个角色" in none.text


def test_an_upload_form_is_checked_for_its_token_like_any_other(world: World) -> None:
    me = world.login("bursar")
    cookie = {"Cookie": f"bf_console={me.cookie}"}
    files = {"file": ("bills.csv", b"bill_no,payer_id,amount\n")}
    world.client.cookies.clear()
    refused = world.client.post(
        "/console/logout", files=files, data={"csrf_token": "forged" * 8}, headers=cookie
    )
    assert refused.status_code == 403 and world.request("GET", "/console/", me).status_code == 200
    world.client.cookies.clear()
    taken = world.client.post(
        "/console/logout", files=files, data={"csrf_token": me.csrf}, headers=cookie
    )
    assert taken.status_code == 303 and world.request("GET", "/console/", me).status_code == 303


def test_an_admin_sets_a_fee_rule_and_a_bad_rate_changes_nothing(world: World) -> None:
    me = world.login("admin")
    form = {"csrf_token": me.csrf, "channel": "alipay", "kind": "bps", "rate": "0.6",
            "min": "0.10", "max": "", "reason": "签约费率"}  # fmt: skip
    assert world.request("POST", "/console/admin/billers/s1/fees", me, form).status_code == 303
    (rule,) = world.engine.biller("s1").fee_rules
    assert (rule.channel, rule.bps, rule.min_fen, rule.max_fen) == ("alipay", 60, 10, None)
    page = world.request("GET", "/console/billers/s1", me).text
    assert "已设置支付宝的手续费规则" in page and "0.60%" in page
    for rate in ("0.605", "101", "abc"):
        bad = world.request("POST", "/console/admin/billers/s1/fees", me, {**form, "rate": rate})
        assert bad.status_code == 400 and "费率" in bad.text, rate
    assert world.engine.biller("s1").fee_rules == (rule,)
