"""EMV MPM payloads: the spec's own example, hand-made payloads and every rejection."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billfold.channels.emv import (
    MAX_AMOUNT_FEN,
    AdditionalData,
    DataObject,
    EmvPayload,
    Initiation,
    MerchantLanguage,
    TipIndicator,
    crc16_ccitt_false,
    decode,
    encode,
    parse_tlv,
    tlv,
)
from billfold.errors import InvalidInput

# The example payload of the EMV QRCPS Merchant-Presented Mode specification (CRC A13A).
SPEC_EXAMPLE = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678"
    "520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京"
    "540523.7253031565502016233030412340603***0708A60086670902ME91320016A011223344"
    "9988770708123456786304A13A"
)

# A minimal static code: one account template, MCC, currency, country, name, city.
MINIMAL_BODY = "00020101021126200008012345670104ABCD5204490053031565802CN5910CITY WATER6007BEIJING"


def with_crc(body: str) -> str:
    """Close a hand-written payload body with a correct tag 63."""
    text = body + "6304"
    return text + f"{crc16_ccitt_false(text.encode('utf-8')):04X}"


def replace_tag(body: str, tag: str, value: str) -> str:
    """Rewrite one root data object of MINIMAL_BODY-like text (value given raw)."""
    objects = parse_tlv(body)
    return "".join(
        f"{o.tag}{len(value) if o.tag == tag else len(o.value):02d}"
        f"{value if o.tag == tag else o.value}"
        for o in objects
    )


def payload(**changes: object) -> EmvPayload:
    base = EmvPayload(
        merchant_name="CITY WATER",
        merchant_city="BEIJING",
        merchant_category_code="4900",
        account_templates={"26": {"00": "01234567", "01": "ABCD"}},
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# -- the published vector ----------------------------------------------------------------------


def test_crc16_ccitt_false_matches_the_catalogue_check_value() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc16_ccitt_false(b"") == 0xFFFF


def test_spec_example_crc_is_computed_over_utf8_including_6304() -> None:
    body = SPEC_EXAMPLE[:-4]
    assert body.endswith("6304")
    assert crc16_ccitt_false(body.encode("utf-8")) == 0xA13A


def test_spec_example_decodes_field_by_field() -> None:
    p = decode(SPEC_EXAMPLE)
    assert p.initiation is Initiation.DYNAMIC and p.is_dynamic
    assert dict(p.account_templates) == {
        "29": {"00": "D15600000000", "05": "A93FO3230Q"},
        "31": {"00": "D15600000001", "03": "12345678"},
    }
    assert dict(p.network_accounts) == {}
    assert p.merchant_category_code == "4111"
    assert p.country == "CN"
    assert p.merchant_name == "BEST TRANSPORT"
    assert p.merchant_city == "BEIJING"
    assert p.language == MerchantLanguage(language="ZH", name="最佳运输", city="北京")
    assert p.amount_fen == 2372
    assert p.currency == "156"
    assert p.tip is TipIndicator.PROMPT
    assert p.convenience_fee_fen is None and p.convenience_fee_percentage is None
    assert p.additional_data == AdditionalData(
        store_label="1234",
        customer_label="***",
        terminal_label="A6008667",
        consumer_data_request="ME",
    )
    assert dict(p.unknown) == {"91": "0016A011223344998877070812345678"}
    assert p.tag_order == (
        "01",
        "29",
        "31",
        "52",
        "58",
        "59",
        "60",
        "64",
        "54",
        "53",
        "55",
        "62",
        "91",
    )


def test_spec_example_reencodes_byte_identical_with_the_same_crc() -> None:
    text = encode(decode(SPEC_EXAMPLE))
    assert text == SPEC_EXAMPLE
    assert text.endswith("6304A13A")


def test_chinese_language_template_lengths_count_characters_not_bytes() -> None:
    objects = parse_tlv(SPEC_EXAMPLE[:-8])
    template = next(o for o in objects if o.tag == "64")
    assert template.value == "0002ZH0104最佳运输0202北京"
    assert len(template.value) == 20  # declared length "20"; it is 32 bytes in UTF-8
    assert len(template.value.encode("utf-8")) == 32


# -- TLV helpers -------------------------------------------------------------------------------


def test_tlv_writes_id_two_digit_length_and_value() -> None:
    assert tlv("59", "BEST TRANSPORT") == "5914BEST TRANSPORT"
    assert tlv("01", "北京") == "0102北京"


@pytest.mark.parametrize(
    ("tag", "value", "message"),
    [
        ("5", "X", "ID must be two digits, got '5'"),
        ("5A", "X", "ID must be two digits, got '5A'"),
        ("59", "", "tag 59: value is 0 characters; a data object holds 1 to 99"),
        ("80", "X" * 100, "tag 80: value is 100 characters; a data object holds 1 to 99"),
    ],
)
def test_tlv_refuses_bad_id_or_length(tag: str, value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        tlv(tag, value)


def test_parse_tlv_reports_positions() -> None:
    assert parse_tlv("0002015802CN", base=10) == [
        DataObject("00", "01", 10),
        DataObject("58", "CN", 16),
    ]


# -- encoding ----------------------------------------------------------------------------------


def test_encode_writes_tags_in_ascending_order_with_00_first_and_crc_last() -> None:
    assert encode(payload()) == with_crc(MINIMAL_BODY)
    assert decode(with_crc(MINIMAL_BODY)) == payload()


def test_encode_writes_amount_with_two_decimals_from_fen() -> None:
    text = encode(payload(initiation=Initiation.DYNAMIC, amount_fen=1234))
    assert "010212" in text and "540512.34" in text
    assert decode(text).amount_fen == 1234


def test_chinese_merchant_name_goes_in_the_language_template() -> None:
    p = payload(language=MerchantLanguage(language="ZH", name="海淀区自来水公司", city="北京"))
    text = encode(p)
    assert "64240002ZH0108海淀区自来水公司0202北京" in text
    crc = crc16_ccitt_false(text[:-4].encode("utf-8"))
    assert text[-4:] == f"{crc:04X}"
    assert decode(text) == p


def test_static_payload_with_a_fixed_amount_and_dynamic_without_one_are_both_valid() -> None:
    static = payload(initiation=Initiation.STATIC, amount_fen=500)
    dynamic = payload(initiation=Initiation.DYNAMIC, amount_fen=None)
    assert decode(encode(static)) == static
    assert decode(encode(dynamic)) == dynamic


def test_unknown_and_extra_sub_tags_are_preserved() -> None:
    p = payload(
        network_accounts={"15": "6200001234567890"},
        additional_data=AdditionalData(bill_number="JF2024001", extra={"50": "0004ABCD"}),
        language=MerchantLanguage(language="ZH", name="水务", extra={"05": "X"}),
        unknown={"70": "RFU VALUE", "85": "0006com.cn"},
    )
    text = encode(p)
    assert "1516620000123456789026" in text
    assert decode(text) == p


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"merchant_name": "N" * 26}, r"tag 59 \(merchant name\): .* is 26 characters, at most 25"),
        ({"merchant_city": "C" * 16}, r"tag 60 \(merchant city\): .* is 16 characters, at most 15"),
        ({"merchant_name": "海淀水务"}, r"tag 59 .*printable ASCII.*tag 64"),
        ({"merchant_name": ""}, r"tag 59 \(merchant name\) must be a non-empty string"),
        ({"merchant_category_code": "49A0"}, r"tag 52 .* must be 4 digits"),
        ({"currency": "CNY"}, r"tag 53 .* must be 3 digits \(e.g. '156'\), found 'CNY'"),
        ({"country": "cn"}, r"tag 58 \(country code\) must be two capital letters"),
        ({"postal_code": "10008000000"}, r"tag 61 \(postal code\): .* at most 10"),
        ({"amount_fen": 0}, r"tag 54 \(transaction amount\) must be between 1 and"),
        ({"amount_fen": -100}, r"tag 54 \(transaction amount\) must be between 1 and"),
        ({"amount_fen": MAX_AMOUNT_FEN + 1}, r"tag 54 .* must be between 1 and 999999999999"),
        ({"amount_fen": 12.5}, r"tag 54 \(transaction amount\) must be integer fen, got float"),
        ({"amount_fen": True}, r"tag 54 \(transaction amount\) must be integer fen, got bool"),
        ({"initiation": "13"}, r"tag 01 must be one of '11', '12', found '13'"),
        ({"tip": TipIndicator.FIXED_FEE}, r"tag 56 .* must be present exactly when tag 55 is '02'"),
        ({"convenience_fee_fen": 100}, r"tag 56 .* must be present exactly when tag 55 is '02'"),
        ({"tip": TipIndicator.PERCENTAGE_FEE}, r"tag 57 .* exactly when tag 55 is '03'"),
        (
            {"tip": TipIndicator.PERCENTAGE_FEE, "convenience_fee_percentage": "5%"},
            r"tag 57 .*'5%' must be digits",
        ),
        (
            {"tip": TipIndicator.PERCENTAGE_FEE, "convenience_fee_percentage": "0.00"},
            r"tag 57 .* must be between 00.01 and 99.99",
        ),
        ({"account_templates": {}}, r"needs merchant account information \(tags 02-51\)"),
        ({"account_templates": {"26": {"01": "X"}}}, r"tag 26 .*sub-tag 00 .* is missing"),
        ({"account_templates": {"26": {"00": "G" * 33}}}, r"tag 26.00 .* at most 32"),
        ({"account_templates": {"12": {"00": "G"}}}, r"tag 12 .*templates use tags 26-51"),
        ({"network_accounts": {"30": "X"}}, r"tag '30' is not allowed here"),
        ({"unknown": {"59": "X"}}, r"unknown tags: tag '59' is not allowed here"),
        ({"tag_order": ("59", "59")}, r"tag_order .* distinct IDs other than 00 and 63"),
        ({"tag_order": ("63",)}, r"tag_order .* distinct IDs other than 00 and 63"),
    ],
)
def test_building_an_invalid_payload_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        payload(**changes)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: AdditionalData(bill_number="B" * 26), r"tag 62.01 \(bill number\).* at most 25"),
        (lambda: AdditionalData(terminal_label="终端"), r"tag 62.07 .*printable ASCII"),
        (lambda: AdditionalData(consumer_data_request="AX"), r"tag 62.09 .*'A' \(address\)"),
        (lambda: AdditionalData(consumer_data_request="AA"), r"tag 62.09 .*each at most once"),
        (lambda: AdditionalData(), r"tag 62 \(additional data\): give at least one field"),
        (lambda: AdditionalData(extra={"05": "X"}), r"tag 62 .*tag '05' is not allowed here"),
        (
            lambda: AdditionalData(
                bill_number="B" * 25,
                store_label="S" * 25,
                reference_label="R" * 25,
                terminal_label="T" * 25,
            ),
            r"tag 62 \(additional data\): encoded value is 116 characters, at most 99 fit",
        ),
        (lambda: MerchantLanguage(language="ZHO", name="水务"), r"tag 64.00 .* two letters"),
        (lambda: MerchantLanguage(language="ZH", name="水" * 26), r"tag 64.01 .* at most 25"),
        (lambda: MerchantLanguage(language="ZH", name="水", city="京" * 16), r"64.02 .*at most 15"),
    ],
)
def test_building_invalid_templates_is_refused(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build()


def test_encoding_more_than_512_characters_is_refused() -> None:
    big = payload(unknown={f"{tag}": "U" * 99 for tag in range(80, 86)})
    with pytest.raises(InvalidInput, match=r"EMV payload is 708 characters, at most 512 allowed"):
        encode(big)


# -- decoding rejections -----------------------------------------------------------------------


def test_bad_crc_names_expected_and_found() -> None:
    broken = SPEC_EXAMPLE[:-4] + "0000"
    with pytest.raises(
        InvalidInput, match=r"tag 63 \(CRC\) at position 240: expected A13A, found 0000"
    ):
        decode(broken)


def test_a_changed_character_is_caught_by_the_crc() -> None:
    broken = SPEC_EXAMPLE.replace("BEST TRANSPORT", "BEST TRANSPORX")
    with pytest.raises(InvalidInput, match=r"expected [0-9A-F]{4}, found A13A"):
        decode(broken)


def test_lowercase_crc_hex_is_accepted() -> None:
    assert decode(SPEC_EXAMPLE[:-4] + "a13a").amount_fen == 2372


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"must start with '000201' \(payload format indicator 01\), found ''"),
        ("0102110002015802CN", r"must start with '000201'.*found '010211'"),
        ("000202015802CN", r"must start with '000201'.*found '000202'"),
        ("000201010", r"payload position 6: truncated data object '010': an ID and a length"),
        ("0002015920AB", r"position 8: tag 59 declares length 20 but only 2 characters remain"),
        ("00020159XXAB", r"position 8: length 'XX' of tag 59 is not two digits"),
        ("0002015 04ABCD", r"position 6: ID '5 ' is not two digits"),
        ("0002015900", r"position 8: tag 59 has length 00"),
        ("0002015802CN", r"has no CRC \(tag 63\)"),
        ("00020163041234", r"expected .*, found 1234"),
        ("0002016304ZZZZ", r"tag 63 \(CRC\) at position 6 must be 4 hex digits, found 'ZZZZ'"),
        ("00020163041234" + "5802CN", r"tag 63 \(CRC\) at position 6 must be the last .* tag 58"),
        (
            "0002015802CN5802CN63041234",
            r"position 12: tag 58 appears twice \(first at position 6\)",
        ),
    ],
)
def test_structural_defects_are_refused_with_position(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        decode(text)


def test_lone_surrogate_characters_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"position 6: character '\\udcff' is not valid"):
        decode("000201\udcff")


def test_non_string_input_is_refused() -> None:
    with pytest.raises(InvalidInput, match="must be a string, got bytes"):
        decode(SPEC_EXAMPLE.encode())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("12.345", r"tag 54 \(transaction amount\): '12.345' has more than 2 decimals"),
        ("1,00", r"tag 54 .*'1,00' is not an EMV amount: only digits and at most one '.'"),
        ("-1", r"tag 54 .*'-1' is not an EMV amount"),
        (".5", r"tag 54 .*'.5' is not an EMV amount.*with digits before it"),
        ("1.2.3", r"tag 54 .*'1.2.3' is not an EMV amount"),
        ("3 705", r"tag 54 .*'3 705' is not an EMV amount"),
        ("1e3", r"tag 54 .*'1e3' is not an EMV amount"),
        ("０１", r"tag 54 .*is not an EMV amount"),
        ("0", r"tag 54 .*'0' is zero"),
        ("0.00", r"tag 54 .*'0.00' is zero"),
        ("123456789012.5", r"tag 54 .*'123456789012.5' is longer than 13 characters"),
    ],
)
def test_malformed_amounts_are_refused(amount: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        decode(with_crc(MINIMAL_BODY + tlv("54", amount)))


@pytest.mark.parametrize(
    ("amount", "fen"),
    [("98.73", 9873), ("98", 9800), ("98.", 9800), ("0.01", 1), ("007.5", 750)],
)
def test_amounts_in_every_form_the_spec_allows_are_read_as_fen(amount: str, fen: int) -> None:
    assert decode(with_crc(MINIMAL_BODY + tlv("54", amount))).amount_fen == fen


@pytest.mark.parametrize(
    ("tag", "value", "message"),
    [
        ("53", "CNY", r"tag 53 \(transaction currency, ISO 4217 numeric\) must be 3 digits"),
        ("53", "15", r"tag 53 .* must be 3 digits \(e.g. '156'\), found '15'"),
        ("52", "49000", r"tag 52 \(merchant category code\) must be 4 digits"),
        ("01", "13", r"tag 01 must be one of '11', '12', found '13'"),
        ("59", "最佳运输", r"tag 59 \(merchant name\): '最佳运输' must use the EMV common"),
        ("58", "CHN", r"tag 58 \(country code\) must be two capital letters"),
    ],
)
def test_bad_root_values_are_refused(tag: str, value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        decode(with_crc(replace_tag(MINIMAL_BODY, tag, value)))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("550204", r"tag 55 must be one of '01', '02', '03', found '04'"),
        ("550202", r"tag 56 .* must be present exactly when tag 55 is '02'"),
        ("5604100.", r"tag 56 .* must be present exactly when tag 55 is '02'"),
        ("550202560312,", r"tag 56 \(convenience fee fixed\): '12,' is not an EMV amount"),
        ("5502035703100", r"tag 57 .*'100' must be between 00.01 and 99.99"),
        ("62080102AB01", r"tag 62 \(additional data\) position 92: truncated data object"),
        ("62120102AB0102CD", r"position 92: tag 01 appears twice \(first at position 86\)"),
        ("62050109A", r"tag 62 .* position 88: tag 01 declares length 9 but only 1 char"),
        ("6406" + "0102水务", r"tag 64 \(language template\) has no sub-tag 00"),
        ("64060002ZH", r"tag 64 \(language template\) has no sub-tag 01"),
        (
            "27080100ABCD",
            r"tag 27 \(merchant account information\) position 88: tag 01 has length 00",
        ),
        ("27080102ABCD", r"tag 27 .*position 92: truncated data object 'CD'"),
        ("27060102AB", r"tag 27 .*sub-tag 00 \(globally unique identifier\) is missing"),
    ],
)
def test_bad_template_and_fee_objects_are_refused(extra: str, message: str) -> None:
    assert len(MINIMAL_BODY) == 82  # so the extra object's value starts at position 86
    with pytest.raises(InvalidInput, match=message):
        decode(with_crc(MINIMAL_BODY + extra))


@pytest.mark.parametrize(
    ("tag", "title"),
    [
        ("52", "merchant category code"),
        ("53", "transaction currency"),
        ("58", "country code"),
        ("59", "merchant name"),
        ("60", "merchant city"),
    ],
)
def test_missing_mandatory_tags_are_named(tag: str, title: str) -> None:
    body = "".join(tlv(o.tag, o.value) for o in parse_tlv(MINIMAL_BODY) if o.tag != tag)
    with pytest.raises(InvalidInput, match=rf"EMV payload has no tag {tag} \({title}\)"):
        decode(with_crc(body))


def test_payload_without_merchant_account_is_refused() -> None:
    body = "".join(tlv(o.tag, o.value) for o in parse_tlv(MINIMAL_BODY) if o.tag != "26")
    with pytest.raises(InvalidInput, match=r"needs merchant account information \(tags 02-51\)"):
        decode(with_crc(body))


# -- properties --------------------------------------------------------------------------------

ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
UNICODE = st.characters(codec="utf-8")  # any character but lone surrogates


def ans(max_size: int) -> st.SearchStrategy[str]:
    return st.text(ASCII, min_size=1, max_size=max_size)


def text_s(max_size: int) -> st.SearchStrategy[str]:
    return st.text(UNICODE, min_size=1, max_size=max_size)


def two_digit(first: int, last: int) -> st.SearchStrategy[str]:
    return st.integers(first, last).map(lambda n: f"{n:02d}")


templates = st.dictionaries(
    two_digit(26, 51),
    st.tuples(ans(32), st.dictionaries(two_digit(1, 99), ans(12), max_size=2)).map(
        lambda pair: {"00": pair[0], **pair[1]}
    ),
    min_size=1,
    max_size=1,
)
additional = st.none() | st.tuples(
    st.none() | ans(25),
    st.none() | ans(25),
    st.none() | ans(25),
    st.none() | st.sampled_from(["A", "M", "ME", "EMA"]),
).filter(lambda fields: any(fields)).map(
    lambda fields: AdditionalData(
        bill_number=fields[0],
        reference_label=fields[1],
        terminal_label=fields[2],
        consumer_data_request=fields[3],
    )
)
language = st.none() | st.builds(
    MerchantLanguage,
    language=st.sampled_from(["ZH", "EN", "zh"]),
    name=text_s(25),
    city=st.none() | text_s(15),
)
fees = st.sampled_from(["none", "prompt", "fixed", "percentage"]).flatmap(
    lambda kind: {
        "none": st.just({}),
        "prompt": st.just({"tip": TipIndicator.PROMPT}),
        "fixed": st.integers(1, 10**8).map(
            lambda fen: {"tip": TipIndicator.FIXED_FEE, "convenience_fee_fen": fen}
        ),
        "percentage": st.integers(1, 9999).map(
            lambda n: {
                "tip": TipIndicator.PERCENTAGE_FEE,
                "convenience_fee_percentage": f"{n // 100}.{n % 100:02d}",
            }
        ),
    }[kind]
)
payloads = st.builds(
    lambda fee_fields, **kw: EmvPayload(**kw, **fee_fields),
    fees,
    merchant_name=ans(25),
    merchant_city=ans(15),
    merchant_category_code=st.from_regex(r"\A[0-9]{4}\Z"),
    account_templates=templates,
    network_accounts=st.dictionaries(two_digit(2, 25), ans(20), max_size=1),
    initiation=st.sampled_from([None, Initiation.STATIC, Initiation.DYNAMIC]),
    amount_fen=st.none() | st.integers(1, MAX_AMOUNT_FEN),
    currency=st.sampled_from(["156", "344", "840"]),
    country=st.sampled_from(["CN", "HK", "US"]),
    postal_code=st.none() | ans(10),
    additional_data=additional,
    language=language,
    unknown=st.dictionaries(two_digit(65, 99), text_s(30), max_size=1),
)


@settings(max_examples=300)
@given(payloads)
def test_encode_decode_encode_round_trips(p: EmvPayload) -> None:
    text = encode(p)
    again = decode(text)
    assert again == p
    assert encode(again) == text


@given(payloads, st.data())
def test_any_root_order_is_kept_byte_for_byte(p: EmvPayload, data: st.DataObject) -> None:
    order = data.draw(st.permutations(list(p.root_values())))
    text = encode(dataclasses.replace(p, tag_order=tuple(order)))
    assert decode(text).tag_order == tuple(order)
    assert encode(decode(text)) == text


@given(st.integers(0, len(SPEC_EXAMPLE) - 1), st.sampled_from("0123456789ABCDEFXYZ .*"))
def test_any_single_character_change_is_refused(index: int, replacement: str) -> None:
    original = SPEC_EXAMPLE[index]
    if replacement.upper() == original.upper():
        return
    with pytest.raises(InvalidInput):
        decode(SPEC_EXAMPLE[:index] + replacement + SPEC_EXAMPLE[index + 1 :])


@given(st.text(max_size=80))
def test_arbitrary_text_raises_only_invalid_input(junk: str) -> None:
    for text in (junk, "000201" + junk, with_crc("000201" + junk)):
        with contextlib.suppress(InvalidInput):
            decode(text)
