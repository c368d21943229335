"""``billfold qr encode`` and ``billfold qr decode`` through the real command line app."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from billfold.adapters.cli.app import app
from billfold.channels import emv

runner = CliRunner()

BASE = [
    "qr",
    "encode",
    "--merchant-name",
    "LIU FRUIT STALL",
    "--merchant-city",
    "HANGZHOU",
    "--mcc",
    "5411",
    "--account-guid",
    "CN.BILLFOLD.QR",
    "--merchant-id",
    "M100001",
]
# The EMVCo MPM specification's own example payload (Annex A, "Best Transport", Beijing).
SPEC_EXAMPLE = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678"
    "520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京"
    "540523.7253031565502016233030412340603***0708A60086670902ME91320016A011223344"
    "9988770708123456786304A13A"
)


def run(*args: str) -> Result:
    return runner.invoke(app, list(args))


def test_encode_without_an_amount_prints_a_static_code() -> None:
    result = run(*BASE)
    assert result.exit_code == 0, result.stderr
    payload = emv.decode(result.stdout.strip())
    assert payload.initiation is emv.Initiation.STATIC and payload.amount_fen is None
    assert payload.account_templates["26"] == {"00": "CN.BILLFOLD.QR", "01": "M100001"}


def test_encode_with_an_amount_prints_a_dynamic_code_with_its_details() -> None:
    result = run(
        *BASE,
        "--amount",
        "12.34",
        "--bill-no",
        "P1",
        "--reference",
        "20260901020000A1B2C3D4E5",
        "--name-zh",
        "刘记水果摊",
    )
    assert result.exit_code == 0, result.stderr
    payload = emv.decode(result.stdout.strip())
    assert payload.initiation is emv.Initiation.DYNAMIC and payload.amount_fen == 1234
    assert payload.additional_data == emv.AdditionalData(
        bill_number="P1", reference_label="20260901020000A1B2C3D4E5"
    )
    assert payload.language == emv.MerchantLanguage("ZH", "刘记水果摊")


def test_encode_writes_png_svg_and_a_counter_sign(tmp_path: Path) -> None:
    png, svg, sign = tmp_path / "qr.png", tmp_path / "qr.svg", tmp_path / "sign.png"
    result = run(
        *BASE, "--name-zh", "刘记水果摊", "--png", str(png), "--svg", str(svg), "--sign", str(sign)
    )
    assert result.exit_code == 0, result.stderr
    assert png.read_bytes().startswith(b"\x89PNG") and sign.read_bytes().startswith(b"\x89PNG")
    assert "<svg" in svg.read_text(encoding="utf-8")


def test_encode_refuses_an_amount_with_three_decimals() -> None:
    result = run(*BASE, "--amount", "12.345")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == "error: --amount: '12.345' has more than two decimals\n"


def test_encode_refuses_a_chinese_merchant_name_in_tag_59() -> None:
    args = [*BASE]
    args[args.index("LIU FRUIT STALL")] = "刘记水果摊"
    result = run(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: tag 59 (merchant name): '刘记水果摊' must use the EMV")


def test_encode_refuses_a_chinese_city_without_a_chinese_name() -> None:
    result = run(*BASE, "--city-zh", "杭州")
    assert result.exit_code == 1
    assert result.stderr == "error: --city-zh needs --name-zh (both go in tag 64)\n"


def test_encode_reports_a_file_it_cannot_write(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "qr.png"
    result = run(*BASE, "--png", str(target))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot write --png file {str(target)!r}: ")


def test_decode_json_prints_every_field_of_the_spec_example() -> None:
    result = run("qr", "decode", SPEC_EXAMPLE, "--json")
    assert result.exit_code == 0, result.stderr
    fields = json.loads(result.stdout)
    assert fields["initiation"] == "dynamic"
    assert (fields["merchant_name"], fields["merchant_city"]) == ("BEST TRANSPORT", "BEIJING")
    assert (fields["amount"], fields["amount_fen"], fields["currency"]) == ("23.72", 2372, "156")
    assert fields["tip"] == "prompt"
    assert fields["language"] == {"language": "ZH", "name": "最佳运输", "city": "北京"}
    assert fields["additional_data"] == {
        "store_label": "1234",
        "customer_label": "***",
        "terminal_label": "A6008667",
        "consumer_data_request": "ME",
    }
    assert fields["account_templates"]["29"] == {"00": "D15600000000", "05": "A93FO3230Q"}
    assert fields["unknown"] == {"91": "0016A011223344998877070812345678"}
    assert fields["crc"] == "A13A"


def test_decode_prints_one_field_a_line() -> None:
    result = run("qr", "decode", SPEC_EXAMPLE)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = [re.split(r"\s{2,}", line, maxsplit=1) for line in lines]
    assert ["merchant_name", "BEST TRANSPORT"] in rows
    assert ["language.city", "北京"] in rows
    assert ["account_templates.31.03", "12345678"] in rows
    value_columns = {len(line) - len(row[1]) for line, row in zip(lines, rows, strict=True)}
    assert len(value_columns) == 1  # the values line up in one column


def test_decode_reads_the_payload_from_stdin() -> None:
    result = runner.invoke(app, ["qr", "decode", "-", "--json"], input=SPEC_EXAMPLE + "\n")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["amount"] == "23.72"


def test_decode_reports_a_bad_crc_on_stderr() -> None:
    result = run("qr", "decode", SPEC_EXAMPLE[:-4] + "0000")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == "error: tag 63 (CRC) at position 240: expected A13A, found 0000\n"


def test_decode_reports_a_truncated_payload_on_stderr() -> None:
    result = run("qr", "decode", "000201010211")
    assert result.exit_code == 1
    assert result.stderr == "error: EMV payload has no CRC (tag 63) at the end\n"


@settings(max_examples=25, deadline=None)
@given(
    fen=st.integers(min_value=1, max_value=10**11),
    bill=st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=25),
)
def test_what_encode_prints_decode_reads_back(fen: int, bill: str) -> None:
    amount = f"{fen // 100}.{fen % 100:02d}"
    encoded = run(*BASE, "--amount", amount, "--bill-no", bill)
    assert encoded.exit_code == 0, encoded.stderr
    decoded = run("qr", "decode", encoded.stdout.strip(), "--json")
    fields = json.loads(decoded.stdout)
    assert (fields["amount_fen"], fields["additional_data"]["bill_number"]) == (fen, bill)


def _liberal_payload() -> str:
    """A national-scheme style sticker: format 02, no tags 52/59/60, amount 0."""
    body = (
        emv.tlv("00", "02")
        + emv.tlv("01", "11")
        + emv.tlv("29", emv.tlv("00", "A000000677010111") + emv.tlv("01", "0066812345678"))
        + emv.tlv("53", "764")
        + emv.tlv("54", "0")
        + emv.tlv("58", "TH")
        + "6304"
    )
    return body + f"{emv.crc16_ccitt_false(body.encode()):04X}"


def test_decode_reads_a_nonconforming_payload_and_lists_its_deviations() -> None:
    result = run("qr", "decode", _liberal_payload(), "--json")
    assert result.exit_code == 0, result.stderr
    fields = json.loads(result.stdout)
    assert (fields["currency"], fields["amount_fen"], fields["country"]) == ("764", 0, "TH")
    assert fields["account_templates"]["29"]["01"] == "0066812345678"
    assert fields["deviations"] == [
        "tag 00 (payload format indicator) is '02'; the spec defines '01'",
        "tag 52 (merchant category code) is missing",
        "tag 59 (merchant name) is missing",
        "tag 60 (merchant city) is missing",
        "tag 54 (transaction amount) is zero; the spec says to leave it out",
    ]


def test_decode_prints_deviations_as_lines_for_people() -> None:
    result = run("qr", "decode", _liberal_payload())
    assert result.exit_code == 0, result.stderr
    rows = [re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.splitlines()]
    assert ["deviation", "tag 59 (merchant name) is missing"] in rows
    assert ["currency", "764"] in rows


def test_decode_of_the_spec_example_has_no_deviations() -> None:
    result = run("qr", "decode", SPEC_EXAMPLE, "--json")
    assert json.loads(result.stdout)["deviations"] == []
