"""``billfold qr``: write and read aggregated-QR (EMV MPM) payloads.

``billfold qr encode`` prints a payload (and optionally writes PNG, SVG and a printable
counter sign); ``billfold qr decode PAYLOAD [--json]`` prints its fields and how it
departs from the spec (:mod:`billfold.channels.emv_reading`). Errors go to stderr as
``error: <message>`` with exit status 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from billfold.errors import BillfoldError
from billfold.money import format_yuan, parse_yuan

if TYPE_CHECKING:
    from billfold.channels import emv

__all__ = ["app", "payload_fields"]

#: billfold.channels.qr.DEFAULT_GUID, for the help (that module loads the channel's crypto).
DEFAULT_GUID = "CN.BILLFOLD.QR"

app = typer.Typer(help="Aggregated QR codes (EMV MPM): encode and decode payloads.")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _write(path: Path, data: bytes | str, what: str) -> None:
    try:
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {what} {str(path)!r}: {exc.strerror or exc}")


@app.command("encode")
def encode(
    merchant_name: Annotated[
        str, typer.Option("--merchant-name", help="Tag 59: ASCII, at most 25 characters.")
    ],
    merchant_city: Annotated[
        str, typer.Option("--merchant-city", help="Tag 60: ASCII, at most 15 characters.")
    ],
    mcc: Annotated[str, typer.Option("--mcc", help="Tag 52: merchant category code, 4 digits.")],
    account_guid: Annotated[
        str,
        typer.Option(
            "--account-guid", help=f"Tag 26.00: the acquirer's GUID/AID (e.g. {DEFAULT_GUID})."
        ),
    ],
    merchant_id: Annotated[str, typer.Option("--merchant-id", help="Tag 26.01: merchant id.")],
    amount: Annotated[
        str | None, typer.Option("--amount", help="Tag 54, e.g. 12.34 (makes a dynamic code).")
    ] = None,
    bill_no: Annotated[str | None, typer.Option("--bill-no", help="Tag 62.01.")] = None,
    reference: Annotated[str | None, typer.Option("--reference", help="Tag 62.05.")] = None,
    name_zh: Annotated[
        str | None, typer.Option("--name-zh", help="Tag 64: the merchant's Chinese name.")
    ] = None,
    city_zh: Annotated[
        str | None, typer.Option("--city-zh", help="Tag 64.02: the city in Chinese.")
    ] = None,
    dynamic: Annotated[
        bool, typer.Option("--dynamic", help="Initiation 12 even without an amount.")
    ] = False,
    png: Annotated[Path | None, typer.Option("--png", help="Write the QR code as PNG.")] = None,
    svg: Annotated[Path | None, typer.Option("--svg", help="Write the QR code as SVG.")] = None,
    sign: Annotated[
        Path | None, typer.Option("--sign", help="Write a printable counter sign (PNG).")
    ] = None,
) -> None:
    """Print an EMV MPM payload; static unless --amount or --dynamic is given."""
    from billfold.channels import emv
    from billfold.channels.qr_render import render_counter_sign, render_png, render_svg

    try:
        amount_fen = None if amount is None else parse_yuan(amount, field="--amount")
        additional = None
        if bill_no is not None or reference is not None:
            additional = emv.AdditionalData(bill_number=bill_no, reference_label=reference)
        language = None if name_zh is None else emv.MerchantLanguage("ZH", name_zh, city_zh)
        if city_zh is not None and name_zh is None:
            _fail("--city-zh needs --name-zh (both go in tag 64)")
        initiation = (
            emv.Initiation.DYNAMIC if dynamic or amount_fen is not None else emv.Initiation.STATIC
        )
        payload = emv.encode(
            emv.EmvPayload(
                merchant_name=merchant_name,
                merchant_city=merchant_city,
                merchant_category_code=mcc,
                account_templates={"26": {"00": account_guid, "01": merchant_id}},
                initiation=initiation,
                amount_fen=amount_fen,
                additional_data=additional,
                language=language,
            )
        )
        if png is not None:
            _write(png, render_png(payload), "--png file")
        if svg is not None:
            _write(svg, render_svg(payload), "--svg file")
        if sign is not None:
            sign_png = render_counter_sign(payload, name_zh or merchant_name, amount_fen=amount_fen)
            _write(sign, sign_png, "--sign file")
    except BillfoldError as exc:
        _fail(exc.message)
    typer.echo(payload)


def payload_fields(payload: emv.EmvPayload, text: str) -> dict[str, Any]:
    """The fields of a decoded payload as plain JSON values."""
    additional = payload.additional_data
    language = payload.language
    return {
        "payload_format_indicator": "01",
        "initiation": None if payload.initiation is None else payload.initiation.name.lower(),
        "network_accounts": dict(payload.network_accounts),
        "account_templates": {tag: dict(v) for tag, v in payload.account_templates.items()},
        "merchant_category_code": payload.merchant_category_code,
        "currency": payload.currency,
        "amount": None if payload.amount_fen is None else format_yuan(payload.amount_fen),
        "amount_fen": payload.amount_fen,
        "tip": None if payload.tip is None else payload.tip.name.lower(),
        "convenience_fee_fen": payload.convenience_fee_fen,
        "convenience_fee_percentage": payload.convenience_fee_percentage,
        "country": payload.country,
        "merchant_name": payload.merchant_name,
        "merchant_city": payload.merchant_city,
        "postal_code": payload.postal_code,
        "additional_data": None
        if additional is None
        else {
            **{
                name: getattr(additional, name)
                for name in additional.__slots__
                if name != "extra" and getattr(additional, name) is not None
            },
            **dict(additional.extra),
        },
        "language": None
        if language is None
        else {
            "language": language.language,
            "name": language.name,
            "city": language.city,
            **dict(language.extra),
        },
        "unknown": dict(payload.unknown),
        "crc": text[-4:].upper(),
    }


def _lines(fields: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in fields.items():
        label = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += _lines(value, f"{label}.")
        elif value is not None:
            rows.append((label, str(value)))
    return rows


@app.command("decode")
def decode(
    payload: Annotated[str, typer.Argument(help="The payload text, or - to read stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the fields as JSON.")] = False,
) -> None:
    """Read a payload with a valid CRC; print its fields and any deviations from the spec."""
    from billfold.channels.emv_reading import read_payload

    text = sys.stdin.read().rstrip("\r\n") if payload == "-" else payload
    try:
        reading = read_payload(text)
    except BillfoldError as exc:
        _fail(exc.message)
    fields = {**reading.fields, "deviations": reading.deviations}
    if as_json:
        typer.echo(json.dumps(fields, ensure_ascii=False, indent=2))
        return
    rows = _lines(reading.fields)
    rows += [("deviation", text) for text in reading.deviations]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        typer.echo(f"{label.ljust(width)}  {value}")
