"""camt.053/054 as banks send them: every version, exact extra decimals, offsets, batches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from billfold.settlement.parsers import parse_all
from billfold.settlement.statement import Direction, LineError, LineType, StatementError


def document(entries: str, *, kind: str = "053", version: str = "02") -> str:
    message, container = {
        "053": ("BkToCstmrStmt", "Stmt"),
        "054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn"),
    }[kind]
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.{version}">
 <{message}>
  <GrpHdr><MsgId>M1</MsgId><CreDtTm>2024-02-01T06:00:00+08:00</CreDtTm></GrpHdr>
  <{container}>
   <Id>S1</Id>
   <CreDtTm>2024-02-01T06:00:00+08:00</CreDtTm>
   <Acct><Id><IBAN>CN0000000000000000001</IBAN></Id></Acct>
   {entries}
  </{container}>
 </{message}>
</Document>
"""


def entry(
    amount: str = "8.850",
    *,
    dates: str = "<BookgDt><Dt>2024-01-31+08:00</Dt></BookgDt>",
    indicator: str = "CRDT",
    details: str = "",
    extra: str = "",
) -> str:
    return (
        f'<Ntry><Amt Ccy="CNY">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>{extra}'
        f"<Sts><Cd>BOOK</Cd></Sts>{dates}<AcctSvcrRef>E1</AcctSvcrRef>"
        f"{details}</Ntry>"
    )


def _parse(text: str, fmt: str = "camt053", **kw: Any) -> Any:
    return parse_all([text.encode()], fmt, source_file="camt.xml", **kw)


@pytest.mark.parametrize("version", ["02", "03", "04", "05", "06", "07", "08"])
@pytest.mark.parametrize("kind", ["053", "054"])
def test_every_version_from_02_to_08_is_read(kind: str, version: str) -> None:
    lines, errors = _parse(document(entry(), kind=kind, version=version), f"camt{kind}")
    assert errors == []
    (line,) = lines
    assert line.amount_fen == 885
    assert line.merchant_id == "CN0000000000000000001"


def test_five_fraction_digits_are_exact_fen_or_refused() -> None:
    lines, _ = _parse(document(entry("1234.56000")))
    assert lines[0].amount_fen == 123456
    with pytest.raises(StatementError) as caught:
        _parse(document(entry("8.855")))
    assert caught.value.errors == [
        LineError(
            "camt.xml", 1, "Ntry/Amt", "'8.855' is not a whole number of fen; it is not rounded"
        )
    ]


def test_a_date_with_an_offset_starts_the_day_in_that_offset() -> None:
    lines, _ = _parse(document(entry(dates="<BookgDt><Dt>2024-01-31-05:00</Dt></BookgDt>")))
    assert lines[0].occurred_at == datetime(2024, 1, 31, 5, 0, tzinfo=UTC)
    lines, _ = _parse(document(entry()))
    assert lines[0].occurred_at == datetime(2024, 1, 30, 16, 0, tzinfo=UTC)


def test_a_date_time_with_z_or_an_offset_is_read() -> None:
    for stamp in ("2024-01-31T02:15:00Z", "2024-01-31T10:15:00.000+08:00"):
        lines, _ = _parse(document(entry(dates=f"<ValDt><DtTm>{stamp}</DtTm></ValDt>")))
        assert lines[0].occurred_at == datetime(2024, 1, 31, 2, 15, tzinfo=UTC)


def test_an_entry_without_dates_takes_the_statement_creation_time_and_says_so() -> None:
    lines, errors = _parse(document(entry(dates="")))
    assert errors == []
    assert lines[0].occurred_at == datetime(2024, 1, 31, 22, 0, tzinfo=UTC)
    assert lines[0].deviations == (
        "no booking or value date; the creation time of the statement (CreDtTm) is used",
    )


def _tx(ref: str, amount: str, *, v02: bool) -> str:
    amt = (
        f'<AmtDtls><TxAmt><Amt Ccy="CNY">{amount}</Amt></TxAmt></AmtDtls>'
        if v02
        else f'<Amt Ccy="CNY">{amount}</Amt>'
    )
    return (
        f"<TxDtls><Refs><TxId>{ref}</TxId><EndToEndId>ORDER-{ref}</EndToEndId></Refs>{amt}"
        f"<RmtInf><Ustrd>学费 {ref}</Ustrd></RmtInf></TxDtls>"
    )


@pytest.mark.parametrize(("version", "v02"), [("02", True), ("08", False)])
def test_a_batch_entry_becomes_one_line_per_transaction(version: str, v02: bool) -> None:
    details = f"<NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch>{_tx('T1', '100.00', v02=v02)}{_tx('T2', '20.50', v02=v02)}</NtryDtls>"
    lines, errors = _parse(document(entry("120.50", details=details), version=version))
    assert errors == []
    assert [(x.channel_txn_id, x.order_no, x.amount_fen, x.source_line) for x in lines] == [
        ("T1", "ORDER-T1", 10000, 1),
        ("T2", "ORDER-T2", 2050, 1),
    ]
    assert lines[1].description == "学费 T2"


def test_a_batch_whose_transactions_do_not_add_up_is_refused() -> None:
    details = (
        f"<NtryDtls>{_tx('T1', '100.00', v02=False)}{_tx('T2', '20.00', v02=False)}</NtryDtls>"
    )
    with pytest.raises(StatementError) as caught:
        _parse(document(entry("120.50", details=details)))
    assert str(caught.value) == (
        "camt.xml:1: Ntry/NtryDtls/TxDtls: the 2 transactions add up to 120.00, "
        "the entry's amount is 120.50"
    )


def test_a_batch_without_transaction_amounts_stays_one_line_and_is_flagged() -> None:
    bare = "<TxDtls><Refs><TxId>{}</TxId></Refs></TxDtls>"
    details = f"<NtryDtls>{bare.format('T1')}{bare.format('T2')}</NtryDtls>"
    lines, _ = _parse(document(entry("120.50", details=details)))
    (line,) = lines
    assert line.amount_fen == 12050
    assert line.deviations == (
        "batch of 2 transactions without their own amounts; read as one line of the total",
    )


def test_a_reversal_keeps_the_direction_of_its_booking() -> None:
    text = document(entry("50.00", extra="<RvslInd>true</RvslInd>", indicator="DBIT"))
    (line,), _ = _parse(text)
    assert (line.type, line.direction) == (LineType.REVERSAL, Direction.DEBIT)
    text = document(entry("5.00", extra="<RvslInd>true</RvslInd>", indicator="CRDT"))
    (line,), _ = _parse(text)
    assert (line.type, line.direction) == (LineType.REVERSAL, Direction.CREDIT)
