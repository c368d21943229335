"""Report downloads over HTTP: CSV in UTF-8 with a BOM and XLSX with a totals row; a
biller's key gets only its own rows, the cross-biller reconciliation report and unmasked
personal data need a back-office key."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from openpyxl import load_workbook
from ops_world import WX_MCH, Api, open_api, wx_line, wx_statement  # type: ignore[import-not-found]

from billfold import Engine
from billfold.merchants.channel_config import ChannelConfig
from billfold.settlement.settler import Profile, Settler

DAY = "2026-09-01"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    """Both billers paid through WeChat Pay, a statement showing s1's payment only (so w2
    has an open discrepancy), and a drafted batch for each biller."""
    with open_api(engine) as world:
        for code in ("s1", "w2"):  # one merchant account serves both: its statement covers both
            engine.set_channel_config(
                code, ChannelConfig("wechatpay", merchant_id=WX_MCH), actor="t", reason="setup"
            )
        order_no, _ = world.paid_order("s1", "T2", "wechatpay", "W1")
        world.paid_order("w2", "T2", "wechatpay", "W2")
        world.client.post(
            "/v1/reconciliation/runs",
            files={"file": ("wx.csv", wx_statement(wx_line("W1", order_no, 2550)))},
            data={"format": "wechatpay", "date": DAY},
            headers=world.auth("office", "run"),
        ).raise_for_status()
        for code in ("s1", "w2"):
            Settler(engine).set_profile(
                code, Profile(settle_unreconciled=True), actor="ops", reason="T+0"
            )
            Settler(engine).draft(code, engine.today(code), by="clerk")
        yield world


def _rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")
    return [line.split(",") for line in content.decode("utf-8-sig").splitlines()]


def test_the_settlement_report_for_a_biller_is_its_own_rows_in_csv(api: Api) -> None:
    answer = api.client.get("/v1/exports/settlements", headers=api.auth("s1-read"))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        'attachment; filename="settlements-s1-all.csv"'
    )
    header, *rows = _rows(answer.content)
    assert header[:4] == ["结算批次号", "商户", "业务日期", "状态"]
    assert [(r[1], r[3], r[5], r[9], r[12]) for r in rows] == [
        ("s1", "草稿", "25.50", "25.50", "一中 ************2233 25.50")
    ]
    other = api.client.get(
        "/v1/exports/settlements", params={"biller": "w2"}, headers=api.auth("s1")
    )
    assert other.status_code == 404 and other.json()["detail"] == "biller 'w2' does not exist"


def test_the_back_office_gets_every_biller_in_xlsx_with_totals(api: Api) -> None:
    answer = api.client.get(
        "/v1/exports/settlements", params={"format": "xlsx"}, headers=api.auth("office")
    )
    assert answer.status_code == 200 and answer.headers["content-type"] == XLSX
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None and sheet.title == "结算报告"
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert sorted(row[1] for row in values[1:-1]) == ["s1", "w2"]
    assert values[-1][0] == "合计" and float(values[-1][9]) == 51.0


def test_the_discrepancy_list_for_a_biller_has_only_its_own(api: Api) -> None:
    mine = _rows(api.client.get("/v1/exports/discrepancies", headers=api.auth("s1")).content)
    assert len(mine) == 1  # the header: s1's payment matched
    theirs = _rows(api.client.get("/v1/exports/discrepancies", headers=api.auth("w2")).content)
    assert [(r[2], r[3]) for r in theirs[1:]] == [("短款（系统有渠道无）", "待处理")]
    office = api.client.get(
        "/v1/exports/discrepancies",
        params={"status": "open", "format": "xlsx"},
        headers=api.auth("office"),
    )
    sheet = load_workbook(io.BytesIO(office.content)).active
    assert sheet is not None and sheet.max_row == 3  # header, w2's discrepancy, totals


def test_unmasked_personal_data_needs_a_back_office_key(api: Api) -> None:
    for path in ("/v1/exports/discrepancies", "/v1/exports/settlements"):
        answer = api.client.get(path, params={"unmasked": "true"}, headers=api.auth("s1"))
        assert answer.status_code == 403, path
        assert answer.json()["detail"] == "unmasked personal data needs a back-office key"
    full = api.client.get(
        "/v1/exports/settlements", params={"unmasked": "true"}, headers=api.auth("office")
    )
    assert "一中 6222020200112233 25.50" in full.content.decode("utf-8-sig")


def test_the_reconciliation_report_is_the_back_offices(api: Api) -> None:
    refused = api.client.get("/v1/exports/reconciliation", headers=api.auth("s1"))
    assert refused.status_code == 403 and refused.json()["code"] == "back_office_only"
    answer = api.client.get(
        "/v1/exports/reconciliation", params={"date": DAY}, headers=api.auth("office-read")
    )
    assert answer.headers["content-disposition"] == ('attachment; filename="recon-2026-09-01.csv"')
    header, *rows = _rows(answer.content)
    assert header[0] == "业务日期" and [(r[2], r[8], r[9], r[18]) for r in rows] == [
        ("微信支付", "1", "25.50", "1")
    ]


def test_an_unknown_format_is_refused_naming_the_field(api: Api) -> None:
    answer = api.client.get(
        "/v1/exports/settlements", params={"format": "pdf"}, headers=api.auth("office")
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == "format: Input should be 'csv' or 'xlsx'"
