"""Reading EMV payloads liberally: any valid-CRC payload is read, deviations are listed."""

from __future__ import annotations

import pytest

from billfold.channels import emv
from billfold.channels.emv_reading import read_payload, require_payable
from billfold.errors import InvalidInput


def build(*objects: tuple[str, str], indicator: str = "01") -> str:
    """A payload from (tag, value) pairs, with tag 00 first and a correct CRC last."""
    body = emv.tlv("00", indicator) + "".join(emv.tlv(t, v) for t, v in objects) + "6304"
    return body + f"{emv.crc16_ccitt_false(body.encode()):04X}"


ACCOUNT = ("26", emv.tlv("00", "com.example.pay") + emv.tlv("01", "M100"))
CONFORMING = (
    ("01", "11"), ACCOUNT, ("52", "4900"), ("53", "156"), ("58", "CN"),
    ("59", "CITY WATER"), ("60", "BEIJING"),
)  # fmt: skip


def test_a_conforming_payload_has_no_deviations() -> None:
    reading = read_payload(build(*CONFORMING))
    assert reading.conforms
    assert reading.fields["merchant_name"] == "CITY WATER"
    assert reading.fields["account_templates"] == {"26": {"00": "com.example.pay", "01": "M100"}}


def test_a_payload_without_52_59_and_60_is_read_with_deviations() -> None:
    text = build(("01", "12"), ACCOUNT, ("53", "156"), ("54", "30.00"), ("58", "CN"))
    with pytest.raises(InvalidInput):
        emv.decode(text)  # billfold would never accept or write it
    reading = read_payload(text)
    assert reading.fields["amount_fen"] == 3000
    assert reading.fields["merchant_name"] is None
    assert reading.deviations == [
        "tag 52 (merchant category code) is missing",
        "tag 59 (merchant name) is missing",
        "tag 60 (merchant city) is missing",
    ]


def test_format_indicator_02_zero_amount_and_a_long_city() -> None:
    objects = [*CONFORMING[:-1], ("60", "SAN FRANCISCO BAY AREA"), ("54", "0.00")]
    reading = read_payload(build(*objects, indicator="02"))
    assert reading.fields["payload_format_indicator"] == "02"
    assert reading.fields["amount_fen"] == 0
    assert reading.fields["merchant_city"] == "SAN FRANCISCO BAY AREA"
    assert reading.deviations == [
        "tag 00 (payload format indicator) is '02'; the spec defines '01'",
        "tag 54 (transaction amount) is zero; the spec says to leave it out",
        "tag 60 (merchant city) is 22 characters, at most 15",
    ]


def test_a_foreign_currency_decodes_and_is_refused_only_for_paying() -> None:
    objects = [o if o[0] != "53" else ("53", "840") for o in CONFORMING]
    text = build(*objects, ("54", "12.5"))
    assert emv.decode(text).currency == "840"
    reading = read_payload(text)
    assert (reading.fields["currency"], reading.fields["amount_fen"]) == ("840", 1250)
    assert reading.conforms
    with pytest.raises(InvalidInput) as caught:
        require_payable(text)
    assert caught.value.message == (
        "tag 53 (transaction currency) is 840; billfold takes payments in CNY (156) only"
    )
    assert require_payable(build(*CONFORMING)).merchant_name == "CITY WATER"


def test_an_amount_with_extra_decimals_is_read_only_when_exact() -> None:
    exact = read_payload(build(*CONFORMING, ("54", "12.300")))
    assert exact.fields["amount_fen"] == 1230
    assert exact.deviations == ["tag 54 (transaction amount) '12.300' has more than 2 decimals"]
    inexact = read_payload(build(*CONFORMING, ("54", "12.345")))
    assert inexact.fields["amount_fen"] is None
    assert inexact.deviations == [
        "tag 54 (transaction amount) '12.345' is not a whole number of fen; it is not read"
    ]


def test_a_template_that_is_not_tlv_is_kept_raw_and_flagged() -> None:
    reading = read_payload(build(*CONFORMING, ("62", "INVOICE 7")))
    assert reading.fields["additional_data"] == "INVOICE 7"
    assert reading.deviations[0].startswith("tag 62 (additional data) position ")
    assert reading.deviations[0].endswith("; kept as raw text")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (build(*CONFORMING)[:-4] + "0000", "expected "),
        (build(*CONFORMING)[:-8], "EMV payload has no CRC (tag 63) at the end"),
        ("0002010102", "tag 01 declares length 2 but only 0 characters remain"),
    ],
)
def test_a_bad_crc_or_broken_structure_is_still_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_payload(text)
