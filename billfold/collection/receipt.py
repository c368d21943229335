"""Payment receipts (缴款凭证) of government offices: a value with a unique number, written as
JSON and as a printable HTML page. Pure: the number is given by the caller (the database
decides it is unique); every text written into the page is escaped."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from billfold.clock import DEFAULT_TZ
from billfold.masking import mask_name
from billfold.money import format_yuan

__all__ = ["Receipt", "ReceiptLine", "receipt_no"]


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

    @property
    def total_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["paid_at"] = self.paid_at.astimezone(ZoneInfo(self.timezone)).isoformat()
        data["lines"] = [
            {**asdict(line), "amount": format_yuan(line.amount_fen)} for line in self.lines
        ]
        data["total_fen"] = self.total_fen
        data["total"] = format_yuan(self.total_fen)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

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
        )

    def to_html(self) -> str:
        """A printable A5 page; every value escaped."""
        e = html.escape
        local = self.paid_at.astimezone(ZoneInfo(self.timezone))
        rows = "\n".join(
            f'<tr><td>{e(line.name)}</td><td class="amt">{format_yuan(line.amount_fen)}</td></tr>'
            for line in self.lines
        )
        facts = [
            ("收据编号", self.receipt_no),
            ("收款单位", self.office_name),
            ("缴款人", self.payer_name),
            ("缴款单号", self.bill_no),
        ]
        if self.decision_no:
            facts.append(("决定书编号", self.decision_no))
        facts += [
            ("缴款渠道", self.channel),
            ("交易流水号", self.channel_txn_id),
            ("缴款时间", f"{local:%Y-%m-%d %H:%M:%S}"),
        ]
        dl = "\n".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts)
        return (
            '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>缴款凭证 {e(self.receipt_no)}</title>"
            "<style>@page{size:A5;margin:12mm}body{font-family:sans-serif}"
            "dt{float:left;width:7em;font-weight:bold}dd{margin-left:8em}"
            "table{width:100%;border-collapse:collapse}td{border:1px solid #000;padding:4px}"
            ".amt{text-align:right}</style></head><body>\n"
            f"<h1>{e(self.office_name)} 缴款凭证</h1>\n<dl>\n{dl}\n</dl>\n"
            f"<table>\n<tr><th>项目</th><th>金额（元）</th></tr>\n{rows}\n"
            f'<tr><td>合计</td><td class="amt">{format_yuan(self.total_fen)}</td></tr>\n'
            "</table>\n</body></html>\n"
        )


def masked_payer(name: str | None) -> str:
    return mask_name(name) if name else ""
