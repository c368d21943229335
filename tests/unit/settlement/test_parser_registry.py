from __future__ import annotations

import io

import pytest

from billfold.errors import InvalidInput
from billfold.settlement.parsers import PARSERS, StatementReader, parse
from billfold.settlement.statement import LineError, StatementError

MT940 = b":20:R\n:25:A\n:28C:1/1\n:60F:C240130CNY0,\n:61:240131C1,NTRFNONREF\n:62F:C240131CNY1,00\n"


def test_every_cli_format_is_registered() -> None:
    assert set(PARSERS) == {"generic-csv", "alipay", "wechatpay", "camt053", "camt054", "mt940"}


def test_unknown_format_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(
        InvalidInput, match=r"format: unknown statement format 'ofx'; known: alipay"
    ):
        parse([b""], "ofx")


def test_unknown_on_error_mode_is_refused() -> None:
    with pytest.raises(InvalidInput, match="on_error: must be 'reject' or 'quarantine'"):
        parse([b""], "mt940", on_error="ignore")  # type: ignore[arg-type]


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InvalidInput, match="tz: unknown time zone 'Mars/Olympus'"):
        parse([b""], "mt940", tz="Mars/Olympus")


def test_source_file_defaults_to_the_stream_name() -> None:
    stream = io.BytesIO(MT940)
    stream.name = "/data/icbc-20240131.sta"
    (line,) = parse(stream, "mt940")
    assert line.source_file == "/data/icbc-20240131.sta"
    assert line.channel == "bank"


def test_reader_rejects_on_the_first_line_error() -> None:
    error = LineError("f", 3, "x", "bad")
    reader = StatementReader(iter([error]), "reject")
    with pytest.raises(StatementError) as caught:
        next(reader)
    assert caught.value.errors == [error]


def test_reader_quarantines_and_counts() -> None:
    error = LineError("f", 3, "x", "bad")
    reader = StatementReader(iter([error, error]), "quarantine")
    assert list(reader) == []
    assert reader.errors == [error, error]
    assert reader.line_count == 0
