from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from billfold.settlement.parsers import parse, parse_all
from billfold.settlement.statement import (
    Direction,
    LineError,
    LineStatus,
    LineType,
    StatementError,
)

NS02 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
NS08 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"

SETTLEMENT_02 = """
    <Ntry>
      <NtryRef>1</NtryRef>
      <Amt Ccy="CNY">12000.50</Amt>
      <CdtDbtInd>CRDT</CdtDbtInd>
      <Sts>BOOK</Sts>
      <BookgDt><Dt>2024-01-31</Dt></BookgDt>
      <ValDt><Dt>2024-01-31</Dt></ValDt>
      <AcctSvcrRef>BK20240131000001</AcctSvcrRef>
      <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
      <NtryDtls><TxDtls>
        <Refs><InstrId>INSTR-1</InstrId><EndToEndId>SETTLE-20240130</EndToEndId><TxId>TX1</TxId></Refs>
        <RltdPties><Dbtr><Nm>支付宝（中国）网络技术有限公司</Nm></Dbtr></RltdPties>
        <RmtInf><Ustrd>ALIPAY SETTLEMENT</Ustrd><Ustrd>20240130</Ustrd></RmtInf>
      </TxDtls></NtryDtls>
    </Ntry>"""

FEE_02 = """
    <Ntry>
      <Amt Ccy="CNY">5.00</Amt>
      <CdtDbtInd>DBIT</CdtDbtInd>
      <Sts>BOOK</Sts>
      <BookgDt><Dt>2024-01-31</Dt></BookgDt>
      <AcctSvcrRef>BK20240131000002</AcctSvcrRef>
      <BkTxCd><Domn><Cd>ACMT</Cd><Fmly><Cd>MDOP</Cd><SubFmlyCd>CHRG</SubFmlyCd></Fmly></Domn></BkTxCd>
      <Chrgs><Amt Ccy="CNY">5.00</Amt></Chrgs>
      <AddtlNtryInf>ACCOUNT FEE</AddtlNtryInf>
    </Ntry>"""


def camt053(*entries: str, ns: str = NS02) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{ns}">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>MSG1</MsgId><CreDtTm>2024-02-01T06:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>STMT-20240131</Id>
      <CreDtTm>2024-02-01T06:00:00</CreDtTm>
      <Acct><Id><Othr><Id>110000123456789</Id></Othr></Id><Ccy>CNY</Ccy></Acct>
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">0</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-01-31</Dt></Dt></Bal>{"".join(entries)}
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""


def _parse(text: str, fmt: str = "camt053", **kw: Any) -> Any:
    return parse_all([text.encode()], fmt, source_file="stmt.xml", **kw)


def test_camt053_v02_entries() -> None:
    lines, errors = _parse(camt053(SETTLEMENT_02, FEE_02))
    assert errors == []
    settlement, fee = lines
    assert settlement.channel == "bank"
    assert settlement.type is LineType.SETTLEMENT
    assert settlement.direction is Direction.CREDIT
    assert settlement.status is LineStatus.SUCCESS
    assert settlement.amount_fen == 1200050
    assert settlement.currency == "CNY"
    assert settlement.channel_txn_id == "BK20240131000001"
    assert settlement.order_no == "SETTLE-20240130"
    assert settlement.counterparty == "支付宝（中国）网络技术有限公司"
    assert settlement.description == "ALIPAY SETTLEMENT 20240130"
    assert settlement.merchant_id == "110000123456789"
    assert settlement.occurred_at == datetime(2024, 1, 30, 16, 0, tzinfo=UTC)
    assert settlement.source_line == 1
    assert fee.type is LineType.FEE
    assert fee.direction is Direction.DEBIT
    assert fee.fee_fen == 500
    assert fee.description == "ACCOUNT FEE"
    assert fee.source_line == 2


def test_camt053_v08_status_code_datetime_and_party() -> None:
    entry = """
    <Ntry>
      <Amt Ccy="CNY">88.80</Amt><CdtDbtInd>CRDT</CdtDbtInd>
      <Sts><Cd>PDNG</Cd></Sts>
      <BookgDt><DtTm>2024-01-31T10:15:00+08:00</DtTm></BookgDt>
      <NtryDtls><TxDtls>
        <Refs><EndToEndId>NOTPROVIDED</EndToEndId><TxId>WX-SETTLE-9</TxId></Refs>
        <RltdPties><Dbtr><Pty><Nm>财付通支付科技有限公司</Nm></Pty></Dbtr></RltdPties>
      </TxDtls></NtryDtls>
    </Ntry>"""
    lines, _ = _parse(camt053(entry, ns=NS08), channel="icbc")
    (line,) = lines
    assert line.channel == "icbc"
    assert line.status is LineStatus.PENDING
    assert line.occurred_at == datetime(2024, 1, 31, 2, 15, tzinfo=UTC)
    assert line.channel_txn_id == "WX-SETTLE-9"
    assert line.order_no is None
    assert line.counterparty == "财付通支付科技有限公司"


def test_camt054_notification() -> None:
    text = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.04">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr><MsgId>N1</MsgId><CreDtTm>2024-01-31T10:00:00</CreDtTm></GrpHdr>
    <Ntfctn>
      <Id>NTF-1</Id>
      <Acct><Id><IBAN>CN0000000000000000001</IBAN></Id></Acct>
      <Ntry>
        <Amt Ccy="CNY">30.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><RvslInd>true</RvslInd>
        <Sts>BOOK</Sts><ValDt><Dt>2024-01-31</Dt></ValDt><AcctSvcrRef>R-1</AcctSvcrRef>
      </Ntry>
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>"""
    (line,), _ = _parse(text, "camt054")
    assert line.type is LineType.REVERSAL
    assert line.direction is Direction.DEBIT
    assert line.merchant_id == "CN0000000000000000001"
    assert line.occurred_at == datetime(2024, 1, 30, 16, 0, tzinfo=UTC)


def test_gbk_declared_xml_is_read() -> None:
    text = camt053(SETTLEMENT_02).replace('encoding="UTF-8"', 'encoding="GBK"')
    (line,), _ = parse_all([text.encode("gbk")], "camt053")
    assert line.counterparty == "支付宝（中国）网络技术有限公司"


def test_broken_gbk_xml_is_refused() -> None:
    text = camt053(SETTLEMENT_02).replace('encoding="UTF-8"', 'encoding="GBK"')
    data = text.encode("gbk").replace("支付宝".encode("gbk"), b"\x81\x20")
    with pytest.raises(StatementError, match=r"^stmt.xml:1: encoding: not valid GBK/GB18030 at"):
        parse_all([data], "camt053", source_file="stmt.xml")


def test_wrong_camt_kind_is_refused() -> None:
    with pytest.raises(StatementError) as caught:
        _parse(camt053(SETTLEMENT_02), "camt054")
    assert str(caught.value) == (
        "stmt.xml:1: BkToCstmrDbtCdtNtfctn: expected a camt.054 document "
        "(BkToCstmrDbtCdtNtfctn) but found BkToCstmrStmt"
    )


def test_dtd_and_entities_are_refused() -> None:
    text = (
        '<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY x "boom">]>\n'
        f'<Document xmlns="{NS02}"><BkToCstmrStmt/></Document>'
    )
    with pytest.raises(StatementError, match=r"^stmt.xml:1: xml: refused: DTDForbidden"):
        _parse(text)


def test_malformed_xml_names_its_line() -> None:
    text = camt053(SETTLEMENT_02).replace("</Stmt>", "</Stmnt>")
    with pytest.raises(StatementError, match=r"^stmt.xml:26: xml: malformed XML: mismatched tag"):
        _parse(text)


def test_not_a_document_is_refused() -> None:
    with pytest.raises(StatementError, match="stmt.xml:1: Document: not an ISO 20022 document"):
        _parse("<html><body/></html>")


BAD = [
    (
        "12000.50",
        "12000.505",
        "Ntry/Amt",
        "'12000.505' is not a whole number of fen; it is not rounded",
    ),
    (
        "12000.50",
        "12000.123456",
        "Ntry/Amt",
        "'12000.123456' is not an amount with at most 5 decimals",
    ),
    ("12000.50", "-1.00", "Ntry/Amt", "'-1.00' is negative"),
    ("<CdtDbtInd>CRDT", "<CdtDbtInd>CR", "Ntry/CdtDbtInd", "'CR' is not CRDT or DBIT"),
    ("<Sts>BOOK", "<Sts>DONE", "Ntry/Sts", "unknown status 'DONE'; expected BOOK or PDNG"),
    (
        "<BookgDt><Dt>2024-01-31",
        "<BookgDt><Dt>2024-01-32",
        "Ntry/BookgDt/Dt",
        "'2024-01-32' is not a date like 2024-01-31",
    ),
    (' Ccy="CNY">12000.50', ">12000.50", "Ntry/Amt", "the Ccy attribute is missing"),
]


@pytest.mark.parametrize(("old", "new", "field", "message"), BAD)
def test_bad_entry_is_rejected_naming_its_ordinal_and_element(
    old: str, new: str, field: str, message: str
) -> None:
    with pytest.raises(StatementError) as caught:
        _parse(camt053(FEE_02, SETTLEMENT_02.replace(old, new, 1)))
    assert caught.value.errors == [LineError("stmt.xml", 2, field, message)]


def test_missing_dates_without_a_statement_creation_time_are_reported() -> None:
    entry = SETTLEMENT_02.replace("<BookgDt><Dt>2024-01-31</Dt></BookgDt>", "").replace(
        "<ValDt><Dt>2024-01-31</Dt></ValDt>", ""
    )
    text = camt053(entry).replace("<CreDtTm>2024-02-01T06:00:00</CreDtTm>\n      <Acct>", "<Acct>")
    with pytest.raises(StatementError) as caught:
        _parse(text)
    assert str(caught.value) == (
        "stmt.xml:1: Ntry/BookgDt: neither a booking date nor a value date is given"
    )


def test_quarantine_skips_the_bad_entry() -> None:
    bad = SETTLEMENT_02.replace("12000.50", "1.001")
    lines, errors = _parse(camt053(bad, FEE_02), on_error="quarantine")
    assert [line.source_line for line in lines] == [2]
    assert errors == [
        LineError(
            "stmt.xml", 1, "Ntry/Amt", "'1.001' is not a whole number of fen; it is not rounded"
        )
    ]


def test_two_hundred_thousand_entries_are_read_lazily() -> None:
    pulled = 0
    head, tail = camt053("@@").split("@@")

    def source() -> Iterator[bytes]:
        nonlocal pulled
        yield head.encode()
        for _ in range(200_000):
            pulled += 1
            yield SETTLEMENT_02.encode()
        yield tail.encode()

    reader = parse(source(), "camt053")
    assert next(reader).amount_fen == 1200050
    assert pulled < 100
