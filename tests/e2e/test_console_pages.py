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
