"""Payment receipts (缴款凭证) of government offices: a value with a unique number, written as
JSON and as a printable HTML page. Pure: the number is given by the caller (the database
decides it is unique); every text written into the page is escaped.

A receipt printed with a QR code can be checked by whoever holds it: the QR opens the
receipt's verification page on the payer pages (``/pay/r/{token}``). The token is the
receipt number and an HMAC-SHA256 of the number, the amount and the time paid, keyed with a
random secret kept in the receipt's own record (``verify_key``, never shown) — so a token
cannot be guessed from a receipt number, and a receipt whose amount was altered no longer
matches its token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from billfold.clock import DEFAULT_TZ
from billfold.labels import label
from billfold.masking import mask_name
from billfold.money import format_yuan, yuan_in_capitals

__all__ = ["Receipt", "ReceiptLine", "receipt_no", "token_receipt_no"]

_TOKEN = re.compile(r"(R[0-9]{18,24})\.([A-Za-z0-9_-]{22})", re.ASCII)


def token_receipt_no(token: str) -> str | None:
    """The receipt number a verification token names, or ``None`` if it is not one."""
    found = _TOKEN.fullmatch(token) if isinstance(token, str) else None
    return found.group(1) if found else None


def receipt_no(day: datetime, payment_id: int, tz: str = DEFAULT_TZ) -> str:
    """``R`` + the business date + the payment id: one payment, one receipt number."""
    return f"R{day.astimezone(ZoneInfo(tz)):%Y%m%d}{payment_id:010d}"


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    code: str
    name: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class Receipt:
    receipt_no: str
    office_code: str
    office_name: str
    payer_name: str  # masked at issue
    bill_no: str
    decision_no: str | None
    channel: str
    channel_txn_id: str
    paid_at: datetime
    lines: tuple[ReceiptLine, ...]
    timezone: str = DEFAULT_TZ
    verify_key: str = ""  # the secret of the verification token; receipts before it have none

    @property
    def total_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)

    @property
    def channel_label(self) -> str:
        return label("channel", self.channel)

    @property
    def verifiable(self) -> bool:
        return bool(self.verify_key)

    def _mac(self) -> str:
        message = f"{self.receipt_no}|{self.total_fen}|{self.paid_at.isoformat()}".encode()
        digest = hmac.new(self.verify_key.encode(), message, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def verify_token(self) -> str:
        """The token of the verification page's address (``/pay/r/{token}``)."""
        if not self.verify_key:
            raise ValueError(f"receipt {self.receipt_no} was issued without a verification key")
        return f"{self.receipt_no}.{self._mac()}"

    def check_token(self, token: str) -> bool:
        """Whether ``token`` is this receipt's verification token (compared in constant time)."""
        if not self.verify_key or token_receipt_no(token) != self.receipt_no:
            return False
        return hmac.compare_digest(token.encode(), self.verify_token().encode())

    def to_dict(self) -> dict[str, Any]:
        """The receipt as JSON shows it: codes, amounts as yuan strings; no secret."""
        data = asdict(self)
        data.pop("verify_key")
        data["paid_at"] = self.paid_at.astimezone(ZoneInfo(self.timezone)).isoformat()
        data["lines"] = [
            {**asdict(line), "amount": format_yuan(line.amount_fen)} for line in self.lines
        ]
        data["total_fen"] = self.total_fen
        data["total"] = format_yuan(self.total_fen)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    def to_record(self) -> str:
        """What the database keeps: :meth:`to_json` and the verification key."""
        return json.dumps(
            {**self.to_dict(), "verify_key": self.verify_key}, ensure_ascii=False, sort_keys=True
        )

    @classmethod
    def from_json(cls, text: str) -> Receipt:
        data = json.loads(text)
        return cls(
            receipt_no=data["receipt_no"],
            office_code=data["office_code"],
            office_name=data["office_name"],
            payer_name=data["payer_name"],
            bill_no=data["bill_no"],
            decision_no=data["decision_no"],
            channel=data["channel"],
            channel_txn_id=data["channel_txn_id"],
            paid_at=datetime.fromisoformat(data["paid_at"]),
            lines=tuple(
                ReceiptLine(x["code"], x["name"], int(x["amount_fen"])) for x in data["lines"]
            ),
            timezone=data["timezone"],
            verify_key=str(data.get("verify_key", "")),
        )

    def facts(self) -> list[tuple[str, str]]:
        """The receipt's facts as printed (label, value), in order."""
        local = self.paid_at.astimezone(ZoneInfo(self.timezone))
        facts = [
            ("收据编号", self.receipt_no),
            ("收款单位", self.office_name),
            ("缴款人", self.payer_name or "—"),
            ("缴款单号", self.bill_no),
        ]
        if self.decision_no:
            facts.append(("决定书编号", self.decision_no))
        facts += [
            ("缴款渠道", self.channel_label),
            ("交易流水号", self.channel_txn_id),
            ("缴款时间", f"{local:%Y-%m-%d %H:%M:%S}"),
        ]
        return facts

    def to_html(self, *, qr_svg: str = "", verify_url: str = "") -> str:
        """A printable A5 page; every value escaped. ``qr_svg`` is the verification page's
        QR code as SVG markup (made by the caller from ``verify_url``), printed with it."""
        e = html.escape
        rows = "\n".join(
            f'<tr><td>{e(line.name)}</td><td class="amt">{format_yuan(line.amount_fen)}</td></tr>'
            for line in self.lines
        )
        facts = "\n".join(
            f'<tr><th scope="row">{e(k)}</th><td>{e(v)}</td></tr>' for k, v in self.facts()
        )
        verify = ""
        if qr_svg:
            verify = (
                f'<div class="verify"><div class="qr">{qr_svg}</div>'
                "<p>扫码核验凭证真伪</p>"
                f'<p class="url">{e(verify_url)}</p></div>\n'
            )
        return (
            '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>缴款凭证 {e(self.receipt_no)}</title>"
            "<style>@page{size:A5;margin:12mm}"
            'body{font-family:"Noto Sans CJK SC","Noto Sans SC","PingFang SC",'
            '"Microsoft YaHei",sans-serif;max-width:148mm;margin:0 auto;color:#000}'
            "h1{font-size:18px;text-align:center;margin:0 0 12px}"
            "table{width:100%;border-collapse:collapse;margin:0 0 12px}"
            "table.facts th{width:7em;text-align:left;font-weight:bold;vertical-align:top;"
            "padding:2px 8px 2px 0;white-space:nowrap}"
            "table.facts td{padding:2px 0;word-break:break-all}"
            "table.items th,table.items td{border:1px solid #000;padding:4px;text-align:left}"
            "table.items .amt{text-align:right;white-space:nowrap}"
            ".verify{text-align:center}.verify .qr svg{width:36mm;height:36mm}"
            ".verify p{margin:2px 0;font-size:12px}.verify .url{word-break:break-all}"
            "</style></head><body>\n"
            f"<h1>{e(self.office_name)} 缴款凭证</h1>\n"
            f'<table class="facts">\n{facts}\n</table>\n'
            '<table class="items">\n<tr><th>项目</th><th class="amt">金额（元）</th></tr>\n'
            f"{rows}\n"
            '<tr><td>合计（小写）</td><td class="amt" id="total">'
            f"¥{format_yuan(self.total_fen)}</td></tr>\n"
            '<tr><td colspan="2" id="capitals">合计（大写） '
            f"{yuan_in_capitals(self.total_fen)}</td></tr>\n"
            f"</table>\n{verify}</body></html>\n"
        )


def masked_payer(name: str | None) -> str:
    return mask_name(name) if name else ""
