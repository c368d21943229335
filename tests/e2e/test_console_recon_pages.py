"""The reconciler's and supervisor's console pages in process (SQLite, and PostgreSQL when
set): each page in Chinese without codes, and every bad input answered with a page naming
it while nothing changes — a statement in an unknown format or none at all, an action that
does not fit the discrepancy, a maker approving their own proposal, a release over its
stage's limit, an approval decided twice, another biller's proposal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from console_recon import (  # type: ignore[import-not-found]
    LOST,
    held_payment,
    limits_proposal,
    open_discrepancy,
    transfer_awaiting_approval,
)
from console_world import Session, World, console_world  # type: ignore[import-not-found]
from sqlalchemy import func, select

from billfold import Engine
from billfold.adapters.db.schema import audit_log
from billfold.collection.approval import ApprovalState
from billfold.demo.gov_presale import BUREAU_CODE, CONTRACTS, DEVELOPER, setup_presale
from billfold.maker_checker import MakerChecker
from billfold.packs.presale import PresaleDesk
from billfold.settlement.complaint import ComplaintKind, ComplaintSource
from billfold.settlement.complaints import ComplaintDesk, NewComplaint
from billfold.settlement.discrepancy import DiscrepancyStatus
from billfold.settlement.reconciler import Reconciler


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    with console_world(engine) as made:
        yield made


def post(world: World, who: Session, url: str, data: dict[str, str]) -> object:
    return world.request("POST", url, who, {**data, "csrf_token": who.csrf})


def audits(engine: Engine) -> int:
    with engine.uow() as uow:
        return int(uow.conn.execute(select(func.count()).select_from(audit_log)).scalar())


def test_a_statement_in_an_unknown_format_or_none_at_all_is_refused_and_nothing_is_run(
    world: World,
) -> None:
    me = world.login("reconciler")
    before = audits(world.engine)
    form = {"format": "pdf", "date": "2026-09-01", "content": LOST, "reason": "对账"}
    answer = post(world, me, "/console/recon/runs", form)
    assert answer.status_code == 400 and "对账单格式 pdf 不受支持" in answer.text  # type: ignore[attr-defined]
    answer = post(world, me, "/console/recon/runs", {**form, "format": "wechatpay", "content": " "})
    assert answer.status_code == 400 and "请上传对账单文件" in answer.text  # type: ignore[attr-defined]
    answer = post(world, me, "/console/recon/runs", {**form, "format": "wechatpay", "reason": ""})
    assert answer.status_code == 400 and "请填写原因" in answer.text  # type: ignore[attr-defined]
    assert Reconciler(world.engine).runs() == [] and audits(world.engine) == before


def test_the_run_page_shows_the_outcome_in_chinese_and_the_same_file_again_changes_nothing(
    world: World,
) -> None:
    me = world.login("reconciler")
    form = {
        "format": "wechatpay", "date": "2026-09-01", "whole_channel": "true",
        "content": LOST, "reason": "对账",
    }  # fmt: skip
    first = post(world, me, "/console/recon/runs", form)
    assert first.status_code == 303  # type: ignore[attr-defined]
    page = world.request("GET", first.headers["location"], me)  # type: ignore[attr-defined]
    assert "已对账：批次 1" in page.text and "长款（渠道有系统无）" in page.text
    for code in ("channel_only", "wechatpay</td>", "open</td>"):
        assert code not in page.text
    again = post(world, me, "/console/recon/runs", form)
    shown = world.request("GET", again.headers["location"], me)  # type: ignore[attr-defined]
    assert "此文件已对过账，未做更改" in shown.text
    assert len(Reconciler(world.engine).runs()) == 1
    assert world.request("GET", "/console/recon/runs/99", me).status_code == 404


def test_an_action_that_does_not_fit_the_discrepancy_is_refused_and_changes_nothing(
    world: World,
) -> None:
    found = open_discrepancy(world.engine)
    me = world.login("reconciler")
    url = f"/console/recon/discrepancies/{found}/resolve"
    answer = post(world, me, url, {"action": "reverse", "reason": "冲正"})
    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert "操作未完成：action: reverse does not resolve a channel_only" in answer.text  # type: ignore[attr-defined]
    answer = post(world, me, url, {"action": "sideways", "reason": "x"})
    assert answer.status_code == 400 and "表单有误：action" in answer.text  # type: ignore[attr-defined]
    answer = post(
        world, me, "/console/recon/discrepancies/999/resolve", {"action": "accept", "reason": "x"}
    )
    assert answer.status_code == 404 and "差错 999 不存在" in answer.text  # type: ignore[attr-defined]
    answer = post(world, me, url, {"action": "write_off", "reason": "核销", "amount": "1.234"})
    assert answer.status_code == 422 and "amount" in answer.text  # type: ignore[attr-defined]
    assert Reconciler(world.engine).discrepancy(found).status is DiscrepancyStatus.OPEN
    assert MakerChecker(world.engine).list() == []


def test_the_maker_cannot_approve_their_own_write_off_and_a_second_person_can_once(
    world: World,
) -> None:
    found = open_discrepancy(world.engine)
    maker, checker = world.login("reconciler"), world.login("supervisor")
    url = f"/console/recon/discrepancies/{found}/resolve"
    proposed = post(world, maker, url, {"action": "write_off", "reason": "测试交易"})
    assert proposed.status_code == 303  # type: ignore[attr-defined]
    (proposal,) = MakerChecker(world.engine).list()
    queue = world.request("GET", "/console/approvals", maker)
    assert "差错核销" in queue.text and "本人发起，须由他人审核" in queue.text
    before = audits(world.engine)
    own = post(world, maker, f"/console/approvals/{proposal.id}/approve", {})
    assert own.status_code == 409 and "may not decide it; a second person must" in own.text  # type: ignore[attr-defined]
    assert MakerChecker(world.engine).get(proposal.id).state is ApprovalState.PROPOSED
    assert audits(world.engine) == before
    assert Reconciler(world.engine).discrepancy(found).status is DiscrepancyStatus.OPEN
    ok = post(world, checker, f"/console/approvals/{proposal.id}/approve", {"reason": "核实"})
    assert ok.status_code == 303  # type: ignore[attr-defined]
    assert Reconciler(world.engine).discrepancy(found).status is DiscrepancyStatus.RESOLVED
    twice = post(world, checker, f"/console/approvals/{proposal.id}/approve", {})
    assert twice.status_code == 409 and "is already approved" in twice.text  # type: ignore[attr-defined]
    assert world.engine.trial_balance()["recon_differences"] == -12_000  # booked once


def test_a_biller_user_sees_and_decides_only_their_billers_proposals(world: World) -> None:
    mine, theirs = limits_proposal(world.engine, "s1"), limits_proposal(world.engine, "s2")
    me = world.login("supervisor-s1")
    queue = world.request("GET", "/console/approvals", me)
    assert (
        f'id="approval-{mine.id}"' in queue.text and f'id="approval-{theirs.id}"' not in queue.text
    )
    answer = post(world, me, f"/console/approvals/{theirs.id}/reject", {"reason": "否"})
    assert answer.status_code == 404 and f"复核申请 {theirs.id} 不存在" in answer.text  # type: ignore[attr-defined]
    assert MakerChecker(world.engine).get(theirs.id).state is ApprovalState.PROPOSED


def _presale(world: World, amount_fen: int) -> int:
    desk = setup_presale(world.engine)
    order = world.engine.create_order(DEVELOPER, [CONTRACTS[0].contract_no], amount_fen=10_000_000)
    assert world.engine.confirm("pos", "T9:1:1", order.order_no, 10_000_000).credited
    desk.sync()
    payload = {
        "bureau_code": BUREAU_CODE, "amount_fen": amount_fen, "request_id": "REL-1",
        "reason": "工程款", "by": "赵会计",
    }  # fmt: skip
    made = MakerChecker(world.engine).propose(
        "escrow.release", payload, maker="user:dev", reason="工程款", biller_code=DEVELOPER
    )
    return made.id


def test_a_release_over_its_stage_limit_is_refused_on_approval_and_nothing_is_released(
    world: World,
) -> None:
    proposal = _presale(world, 3_000_001)  # 30% of 100000.00 is 30000.00
    me = world.login("supervisor")
    page = world.request("GET", f"/console/escrow/{BUREAU_CODE}", me)
    assert "尚可拨付 30000.00" in page.text and "30000.01" in page.text
    answer = post(world, me, f"/console/approvals/{proposal}/approve", {"back": "/console/escrow"})
    assert answer.status_code == 409  # type: ignore[attr-defined]
    assert "release of 30000.01 refused: stage foundation" in answer.text  # type: ignore[attr-defined]
    assert MakerChecker(world.engine).get(proposal).state is ApprovalState.PROPOSED
    assert PresaleDesk(world.engine).balance(BUREAU_CODE).released_fen == 0
    reconciler = world.login("reconciler")  # a release needs a supervisor
    answer = post(world, reconciler, f"/console/approvals/{proposal}/approve", {})
    assert answer.status_code == 403 and "主管角色" in answer.text  # type: ignore[attr-defined]
    assert world.request("GET", "/console/escrow/JG-NONE", me).status_code == 404
    assert world.request("GET", "/console/escrow", world.login("bursar")).status_code == 403


def test_the_back_link_after_an_approval_stays_in_the_console(world: World) -> None:
    proposal = _presale(world, 1_000_000)
    me = world.login("supervisor")
    answer = post(
        world, me, f"/console/approvals/{proposal}/approve", {"back": "https://evil.example/x"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/console/approvals"  # type: ignore[attr-defined]
    page = world.request("GET", f"/console/escrow/{BUREAU_CODE}", me)
    assert 'id="released">10000.00<' in page.text and "REL-1" in page.text
    assert (
        "待推送" in page.text
        and "release" not in page.text.split('id="pushes"')[1].split("</table>")[0]
    )


def test_the_queues_show_overdue_complaints_first_and_transfers_in_chinese(world: World) -> None:
    desk = ComplaintDesk(world.engine)
    for kind in (ComplaintKind.OTHER, ComplaintKind.PAID_NOT_CREDITED):
        desk.open(
            NewComplaint("s1", kind, "柜员", ComplaintSource.CLERK, "T1", None, None, "R", "")
        )
    world.engine.clock.advance(timedelta(hours=30))  # type: ignore[attr-defined]
    me = world.login("reconciler")
    page = world.request("GET", "/console/recon/complaints", me).text
    first, second = page.index("已付款未销账"), page.index("其他问题")
    assert first < second and "已超时" in page[first:second]  # 24 h TAT passed, 120 h not
    for path in ("/console/recon/refund-transfers", "/console/recon/suspense", "/console/recon"):
        shown = world.request("GET", path, me)
        assert shown.status_code == 200 and "<script" not in shown.text, path
    assert world.request("GET", "/console/recon", world.login("viewer")).status_code == 403


def test_held_money_is_credited_once_from_the_suspense_page_and_other_money_is_refused(
    world: World,
) -> None:
    held = held_payment(world.engine)
    me = world.login("reconciler")
    page = world.request("GET", "/console/recon/suspense", me).text
    assert f'id="credit-{held}"' in page and "待复核" in page and "金额不符" in page
    url = f"/console/recon/suspense/{held}/credit"
    answer = post(world, me, url, {"reason": "核实后入账"})
    assert answer.status_code == 303  # type: ignore[attr-defined]
    shown = world.request("GET", answer.headers["location"], me).text  # type: ignore[attr-defined]
    assert f"支付 {held} 已复核入账 100.00，多出的 20.00 已安排退款" in shown
    assert world.engine.bill("s1", "T1").paid_fen == 10_000
    again = world.request("GET", "/console/recon/suspense", me).text
    assert f'id="credit-{held}"' not in again
    answer = post(world, me, url, {"reason": "再来一次"})
    shown = world.request("GET", answer.headers["location"], me).text  # type: ignore[attr-defined]
    assert f"支付 {held} 此前已复核入账，未做更改" in shown
    assert world.engine.bill("s1", "T1").paid_fen == 10_000  # never twice
    answer = post(world, me, "/console/recon/suspense/999/credit", {"reason": "x"})
    assert answer.status_code == 404 and "支付 999 不存在" in answer.text  # type: ignore[attr-defined]
    order = world.engine.create_order("s1", ["T2"])
    credited = world.engine.confirm("wechatpay", "W-OK", order.order_no, 5_000).payment
    before = audits(world.engine)
    answer = post(world, me, f"/console/recon/suspense/{credited.id}/credit", {"reason": "x"})
    assert answer.status_code == 409  # type: ignore[attr-defined]
    assert "only a held payment can be credited after review" in answer.text  # type: ignore[attr-defined]
    assert audits(world.engine) == before


def test_a_transfer_is_approved_by_a_second_person_never_by_whoever_recorded_the_payee(
    world: World,
) -> None:
    me = world.login("reconciler")
    name = "对账员 (console reconciler)"  # the console user's audit name
    mine = transfer_awaiting_approval(world.engine, "s1", "T2", name)
    page = world.request("GET", "/console/recon/refund-transfers", me).text
    assert "本人登记，须由他人复核" in page and "待复核" in page and "张**" in page
    assert "6222020200112233445" not in page  # the payee masked
    before = audits(world.engine)
    answer = post(world, me, f"/console/recon/refund-transfers/{mine}/approve", {"reason": "x"})
    assert answer.status_code >= 400 and "操作未完成" in answer.text  # type: ignore[attr-defined]
    assert audits(world.engine) == before
    other = world.login("supervisor-s1")  # not a reconciler: refused by role
    answer = post(world, other, f"/console/recon/refund-transfers/{mine}/approve", {"reason": "x"})
    assert answer.status_code == 403  # type: ignore[attr-defined]
    answer = post(world, me, "/console/recon/refund-transfers/RF-NONE/approve", {"reason": "x"})
    assert answer.status_code == 404 and "退款 RF-NONE 没有转账记录" in answer.text  # type: ignore[attr-defined]
    theirs = transfer_awaiting_approval(world.engine, "s2", "T2", "clerk-li")
    answer = post(
        world, me, f"/console/recon/refund-transfers/{theirs}/approve", {"reason": "核对"}
    )
    shown = world.request("GET", answer.headers["location"], me).text  # type: ignore[attr-defined]
    assert f"退款 {theirs} 的转账已复核通过" in shown and "待出转账文件" in shown
