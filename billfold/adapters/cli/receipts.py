"""``billfold receipts``: payment receipts (缴款凭证) to print or send.

* ``billfold receipts pdf RECEIPT_NO --base-url https://pay.example.gov.cn --out R.pdf`` —
  the receipt as an A5 PDF: office, payer (masked), bill and items, the amount in figures and
  in Chinese capitals, channel, transaction reference, and a QR opening the receipt's
  verification page on the payer pages served at ``--base-url``;
* ``billfold receipts html RECEIPT_NO --base-url … --out R.html`` — the same as a printable
  page (the QR drawn as SVG).

Receipts are issued per credited payment with ``billfold gov receipt PAYMENT_ID``.
Exit codes: 0 done, 1 refused (the message says why), 2 usage errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from billfold.adapters.cli.common import DbUrl, open_engine

__all__ = ["app"]

app = typer.Typer(help="Payment receipts as PDF or a printable page, with a verification QR.")

BaseUrl = Annotated[
    str,
    typer.Option(
        "--base-url",
        help="where the payer pages are served, e.g. https://pay.example.gov.cn (for the QR)",
    ),
]


@app.command("pdf")
def pdf(
    receipt_no: str,
    base_url: BaseUrl,
    out: Annotated[Path, typer.Option("--out", help="the PDF to write")],
    database_url: DbUrl = None,
) -> None:
    """The receipt as a one-page A5 PDF with its verification QR."""
    from billfold.packs.government import Government

    with open_engine(database_url) as engine:
        data = Government(engine).receipt_pdf(receipt_no, base_url=base_url)
    out.write_bytes(data)
    typer.echo(f"receipt {receipt_no} written to {out}")


@app.command("html")
def html(
    receipt_no: str,
    base_url: BaseUrl,
    out: Annotated[Path, typer.Option("--out", help="the HTML page to write")],
    database_url: DbUrl = None,
) -> None:
    """The receipt as a printable page with its verification QR."""
    from billfold.channels.qr_render import render_svg
    from billfold.packs.government import Government, receipt_verify_url

    with open_engine(database_url) as engine:
        receipt = Government(engine).receipt(receipt_no)
        url = receipt_verify_url(base_url, receipt)
        page = receipt.to_html(qr_svg=render_svg(url), verify_url=url)
    out.write_text(page, encoding="utf-8")
    typer.echo(f"receipt {receipt_no} written to {out}")
