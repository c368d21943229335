"""Government fees and fines on SQLite and PostgreSQL: the catalogue priced by date, fines
found by decision number with the statutory penalty as of the clock, one receipt per payment."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest

from billfold.clock import FixedClock
from billfold.collection.payer import IdentifierKind, Payer
from billfold.demo.gov_presale import EXIT_ENTRY, TRAFFIC, setup_government
from billfold.engine import Engine
from billfold.errors import Conflict, NotFound
from billfold.merchants.fee_catalogue import FeeItem
from billfold.packs.government import Government, receipt_verify_url

LATE = "杭公交决字〔2026〕第330100001号"  # 200.00, deadline 2026-08-20
ON_TIME = "杭公交决字〔2026〕第330100002号"  # 50.00, deadline 2026-09-15


@pytest.fixture
def gov(engine: Engine) -> Government:
    return setup_government(engine)


def test_a_bill_is_priced_at_the_catalogue_entry_in_force_that_day(
    gov: Government, engine: Engine, clock: FixedClock
) -> None:
    assert gov.fee(EXIT_ENTRY, "passport", date(2026, 5, 31)).amount_fen == 20_000
    assert [(i.item_code, i.amount_fen) for i in gov.catalogue(EXIT_ENTRY)] == [
        ("eep-hk", 6_000),
        ("hukou-card", 800),
        ("passport", 12_000),
    ]
    bill = engine.bill(EXIT_ENTRY, "EE-2026-000321")
    assert [(i.code, i.name, i.amount_fen) for i in bill.items] == [
        ("passport", "普通护照", 12_000),
        ("eep-hk", "往来港澳通行证", 6_000),
    ]
    gov.set_fee(EXIT_ENTRY, FeeItem("passport", "普通护照", 9_000, date(2027, 1, 1)), actor="t")
    clock.set(datetime(2027, 1, 1, 1, 0, tzinfo=UTC))
    later = gov.issue_fee_bill(
        EXIT_ENTRY, "EE-2027-000001", Payer(IdentifierKind.OTHER, "A1", name="何"), ["passport"]
    )
    assert later.principal_fen == 9_000


def test_the_same_entry_again_changes_nothing_and_a_different_one_is_refused(
    gov: Government, engine: Engine
) -> None:
    same = FeeItem("passport", "普通护照", 12_000, date(2026, 6, 1))
    assert gov.set_fee(EXIT_ENTRY, same, actor="t") is False
    audit_before = len(engine.audit_log())
    with pytest.raises(Conflict) as clash:
        gov.set_fee(EXIT_ENTRY, FeeItem("passport", "普通护照", 1, date(2026, 6, 1)), actor="t")
    assert clash.value.message == (
        "fee item passport already costs 120.00 from 2026-06-01; "
        "add an entry with a later effective date instead"
    )
    assert gov.fee(EXIT_ENTRY, "passport").amount_fen == 12_000
    assert len(engine.audit_log()) == audit_before


def test_a_fine_is_found_by_decision_number_with_the_penalty_as_of_the_clock(
    gov: Government, engine: Engine
) -> None:
    biller, bill, quote = gov.lookup_fine(LATE)
    assert biller.code == TRAFFIC and bill.bill_no == LATE
    assert (quote.days_overdue, quote.penalty_fen, quote.total_fen) == (12, 7_200, 27_200)
    order = engine.create_order(TRAFFIC, [LATE])
    assert order.total_fen == quote.total_fen  # the core charges what the desk quoted
    _, _, in_time = gov.lookup_fine(ON_TIME)
    assert (in_time.penalty_fen, in_time.total_fen) == (0, 5_000)


@pytest.mark.parametrize(
    ("instant", "penalty_fen"),
    [
        (datetime(2026, 9, 15, 15, 59, 59, tzinfo=UTC), 0),  # 23:59:59 on the deadline
        (datetime(2026, 9, 15, 16, 0, 0, tzinfo=UTC), 150),  # 00:00 the next day: 3%
        (datetime(2026, 9, 15, 22, 0, 0, tzinfo=UTC), 150),  # UTC still the 15th
    ],
)
def test_the_deadline_is_judged_in_shanghai_on_the_injected_clock(
    gov: Government, clock: FixedClock, instant: datetime, penalty_fen: int
) -> None:
    clock.set(instant)
    assert gov.lookup_fine(ON_TIME)[2].penalty_fen == penalty_fen


def test_an_unknown_decision_number_is_not_found_and_changes_nothing(
    gov: Government, engine: Engine
) -> None:
    balance = engine.trial_balance()
    with pytest.raises(NotFound) as missing:
        gov.lookup_fine("杭公交决字〔2026〕第999号")
    assert missing.value.message == "no fine with decision number '杭公交决字〔2026〕第999号'"
    assert engine.trial_balance() == balance and len(engine.bills_for(ON_TIME)) == 1


def test_each_payment_gets_one_receipt_number_as_json_and_escaped_html(
    gov: Government, engine: Engine
) -> None:
    order = engine.create_order(TRAFFIC, [LATE])
    paid = engine.confirm("counter", "CTR-F-1", order.order_no, order.total_fen)
    first = gov.issue_receipt(paid.payment.id)
    again = gov.issue_receipt(paid.payment.id)
    assert first == again == gov.receipt(first.receipt_no)
    assert first.receipt_no == f"R20260901{paid.payment.id:010d}"
    assert [(x.name, x.amount_fen) for x in first.lines] == [("加处罚款", 7_200), ("罚款", 20_000)]
    assert first.payer_name == "钱**" and first.total_fen == 27_200
    assert '"decision_no": "杭公交决字〔2026〕第330100001号"' in first.to_json()
    page = first.to_html()
    assert "<h1>杭州市公安局交通警察支队 缴款凭证</h1>" in page
    assert '<td>合计（小写）</td><td class="amt" id="total">¥272.00</td>' in page
    assert '<td colspan="2" id="capitals">合计（大写） 贰佰柒拾贰元整</td>' in page
    assert '<th scope="row">缴款渠道</th><td>柜台</td>' in page  # the channel in Chinese
    assert "verify_key" not in first.to_json()  # the token's secret stays in the database
    other = engine.create_order(TRAFFIC, [ON_TIME])
    paid2 = engine.confirm("counter", "CTR-F-2", other.order_no, other.total_fen)
    assert gov.issue_receipt(paid2.payment.id).receipt_no != first.receipt_no
    assert len(gov.receipts(TRAFFIC)) == 2


def test_receipt_html_escapes_what_it_prints(engine: Engine) -> None:
    from dataclasses import replace

    gov = setup_government(engine)
    order = engine.create_order(TRAFFIC, [ON_TIME])
    paid = engine.confirm("counter", "CTR-<b>", order.order_no, order.total_fen)
    receipt = replace(gov.issue_receipt(paid.payment.id), office_name="交警<script>&")
    page = receipt.to_html()
    assert "<script>" not in page and "交警&lt;script&gt;&amp;" in page
    assert "CTR-&lt;b&gt;" in page


def test_a_payment_not_credited_gets_no_receipt(gov: Government, engine: Engine) -> None:
    order = engine.create_order(TRAFFIC, [ON_TIME])
    held = engine.confirm("counter", "CTR-F-9", order.order_no, order.total_fen - 1)
    with pytest.raises(Conflict) as refused:
        gov.issue_receipt(held.payment.id)
    assert refused.value.message == (
        f"payment {held.payment.id} is held; only a credited payment gets a receipt"
    )
    assert gov.receipts(TRAFFIC) == []
    with pytest.raises(NotFound) as missing:
        gov.receipt("R000")
    assert missing.value.message == "receipt 'R000' does not exist"


class _Rows(HTMLParser):
    """The cells of each table row of a page, per table class."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = ""
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("class") or ""
            self.tables[self._table] = []
        elif tag == "tr":
            self.tables[self._table].append([])
        elif tag in ("th", "td"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_the_receipt_page_keeps_each_fact_on_its_own_row_even_when_one_is_empty(
    gov: Government, engine: Engine
) -> None:
    """The page used floated labels: an empty value (a payer with no name) let the next
    labels float beside each other, a staircase. Facts are now rows of a table."""
    from dataclasses import replace

    order = engine.create_order(TRAFFIC, [LATE])
    paid = engine.confirm("counter", "CTR-F-3", order.order_no, order.total_fen)
    receipt = replace(gov.issue_receipt(paid.payment.id), payer_name="")
    page = receipt.to_html()
    assert "float" not in page
    rows = _Rows()
    rows.feed(page)
    assert rows.tables["facts"] == [
        ["收据编号", receipt.receipt_no],
        ["收款单位", "杭州市公安局交通警察支队"],
        ["缴款人", "—"],
        ["缴款单号", receipt.bill_no],
        ["决定书编号", LATE],
        ["缴款渠道", "柜台"],
        ["交易流水号", "CTR-F-3"],
        ["缴款时间", "2026-09-01 10:00:00"],
    ]
    assert rows.tables["items"][-2:] == [
        ["合计（小写）", "¥272.00"],
        ["合计（大写） 贰佰柒拾贰元整"],
    ]


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "".join("".join(p.extract_text().replace("\x00", "").split()) for p in reader.pages)


def test_a_receipt_pdf_prints_the_amount_in_capitals_and_a_qr_of_its_verification_page(
    gov: Government, engine: Engine
) -> None:
    order = engine.create_order(TRAFFIC, [LATE])
    paid = engine.confirm("counter", "CTR-F-4", order.order_no, order.total_fen)
    receipt = gov.issue_receipt(paid.payment.id)
    data = gov.receipt_pdf(receipt.receipt_no, base_url="https://pay.example.gov.cn/")
    assert data.startswith(b"%PDF-") and data.count(b"/Type /Page\n") == 1
    text = _pdf_text(data)
    url = f"https://pay.example.gov.cn/pay/r/{receipt.verify_token()}"
    for part in ("杭州市公安局交通警察支队缴款凭证", f"收据编号{receipt.receipt_no}",
                 "缴款人钱**", "缴款渠道柜台", "交易流水号CTR-F-4", "加处罚款72.00",
                 "罚款200.00", "合计（小写）¥272.00", "合计（大写）贰佰柒拾贰元整",
                 "扫码核验凭证真伪", url):  # fmt: skip
        assert part in text, part
    assert receipt_verify_url("https://pay.example.gov.cn", receipt) == url


def test_only_the_receipts_own_token_verifies_it(gov: Government, engine: Engine) -> None:
    from dataclasses import replace

    order = engine.create_order(TRAFFIC, [LATE])
    paid = engine.confirm("counter", "CTR-F-5", order.order_no, order.total_fen)
    receipt = gov.issue_receipt(paid.payment.id)
    token = receipt.verify_token()
    assert gov.verified_receipt(token) == receipt
    number, _, mac = token.partition(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    for bad in (number, f"{number}.{flipped}", f"R20260901{paid.payment.id + 1:010d}.{mac}",
                "", "../etc", token + "x"):  # fmt: skip
        assert gov.verified_receipt(bad) is None, bad
    # an altered amount no longer matches the token printed on the receipt
    altered = replace(receipt, lines=receipt.lines[:1])
    assert not altered.check_token(token)
    # a receipt issued before verification codes has no verification page
    with pytest.raises(Conflict) as old:
        receipt_verify_url("https://pay.example.gov.cn", replace(receipt, verify_key=""))
    assert old.value.message == (
        f"receipt {receipt.receipt_no} was issued before receipts carried a verification "
        "code; it has no verification page"
    )


def test_the_verification_page_says_the_receipt_is_genuine_and_serves_its_pdf(
    gov: Government, engine: Engine
) -> None:
    from billfold.adapters.http.app import create_app
    from billfold.adapters.http.asgi_client import asgi_client

    order = engine.create_order(TRAFFIC, [LATE])
    paid = engine.confirm("counter", "CTR-F-6", order.order_no, order.total_fen)
    receipt = gov.issue_receipt(paid.payment.id)
    token = receipt.verify_token()
    with asgi_client(create_app(engine)) as client:
        page = client.get(f"/pay/r/{token}")
        assert page.status_code == 200
        assert "凭证真实有效" in page.text and receipt.receipt_no in page.text
        assert "钱**" in page.text and "钱多多" not in page.text
        assert "大写：贰佰柒拾贰元整" in page.text and "柜台" in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        pdf = client.get(f"/pay/r/{token}/pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert f"/pay/r/{token}" in _pdf_text(pdf.content)
        for bad in (receipt.receipt_no, f"{receipt.receipt_no}.{'A' * 22}"):
            refused = client.get(f"/pay/r/{bad}")
            assert refused.status_code == 404 and "无法核验该凭证" in refused.text
            assert receipt.receipt_no not in refused.text
            assert client.get(f"/pay/r/{bad}/pdf").status_code == 404
