"""The bursar's reports for a term: arrears by grade and class, paid/unpaid lists per class,
and the day's collections — as :class:`~billfold.settlement.exports.Sheet` values, written as
CSV (UTF-8 with a BOM) and one XLSX with a bar chart of the collection rate per class.

Pure: the rows come in as values (:class:`StudentBill`, :class:`DayPayment`).
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path

from billfold.labels import label
from billfold.masking import mask_name, mask_phone
from billfold.settlement.daybook import DayPayment
from billfold.settlement.exports import Sheet, write_csv
from billfold.settlement.workbook import RatioChart, write_workbook

__all__ = [
    "Closed",
    "StudentBill",
    "arrears_sheet",
    "class_list_sheet",
    "collection_rates",
    "daily_sheet",
    "natural_key",
    "write_bursar_reports",
]

_NUMBER = re.compile(r"(\d+|[〇零一二两三四五六七八九十]+)")
_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "两": 2}


def _chinese_number(text: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十三 → 23; digits alone (一〇) read positionally."""
    if "十" not in text:
        value = 0
        for char in text:
            value = value * 10 + _DIGITS[char]
        return value
    tens, _, ones = text.partition("十")
    return (_chinese_number(tens) if tens else 1) * 10 + (_chinese_number(ones) if ones else 0)


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key reading the numbers in a grade or class name by value, in Arabic or Chinese
    numerals: 2班 before 10班, 七年级 before 八年级 before 九年级, 高二 before 高十二."""
    key: list[tuple[int, int, str]] = []
    for index, part in enumerate(_NUMBER.split(text)):
        if not part:
            continue
        if index % 2:
            value = int(part) if part.isdigit() else _chinese_number(part)
            key.append((0, value, part))
        else:
            key.append((1, 0, part))
    return tuple(key)


class Closed(StrEnum):
    """Why a student's bill of the term is closed, as the class list shows it."""

    WITHDRAWN = "已退学"  # the student left: Campus.withdraw refunded and cancelled the bill
    REMOVED = "已移出名单"  # a roster import cancelled it: no longer on the roster, nothing paid
    CANCELLED = "已取消"  # cancelled by hand for another reason


@dataclass(frozen=True, slots=True)
class StudentBill:
    """One student's bill of the term as the bursar sees it."""

    grade: str
    class_name: str
    student_no: str
    name: str
    bill_no: str
    principal_fen: int
    waived_fen: int
    paid_fen: int  # net of refunds
    refunded_fen: int
    outstanding_fen: int
    closed: Closed | None = None  # the bill was cancelled, and why
    phone: str | None = None  # the guardian's (parent's) phone, as the roster gives it
    due_date: date | None = None
    overdue_days: int = 0  # days past the due date while something is still owed

    @property
    def withdrawn(self) -> bool:
        return self.closed is Closed.WITHDRAWN

    @property
    def due_fen(self) -> int:
        return 0 if self.closed else self.principal_fen - self.waived_fen

    @property
    def arrears_fen(self) -> int:
        return 0 if self.closed else self.outstanding_fen

    @property
    def state(self) -> str:
        if self.closed:
            return self.closed.value
        if self.outstanding_fen == 0:
            return "已缴清"
        return "部分缴费" if self.paid_fen else "未缴费"


def _classes(bills: Iterable[StudentBill]) -> dict[tuple[str, str], list[StudentBill]]:
    grouped: dict[tuple[str, str], list[StudentBill]] = defaultdict(list)
    for bill in bills:
        grouped[(bill.grade, bill.class_name)].append(bill)
    return dict(sorted(grouped.items(), key=lambda kv: _class_key(*kv[0])))


def _class_key(grade: str, class_name: str) -> tuple[object, ...]:
    return (natural_key(grade), grade, natural_key(class_name), class_name)


def _rate(paid: int, due: int) -> float:
    return paid / due if due else 1.0


def collection_rates(bills: Iterable[StudentBill]) -> list[tuple[str, float]]:
    """收缴率 per class: collected / (billed − waived); students whose bill is closed
    (withdrawn, off the roster, cancelled) are left out."""
    rates: list[tuple[str, float]] = []
    for (grade, class_name), rows in _classes(bills).items():
        live = [b for b in rows if not b.closed]
        if live:
            due = sum(b.due_fen for b in live)
            rates.append((f"{grade}{class_name}", _rate(sum(b.paid_fen for b in live), due)))
    return rates


def arrears_sheet(bills: Iterable[StudentBill]) -> Sheet:
    sheet = Sheet(
        "欠费统计",
        [
            ("年级", "text"),
            ("班级", "text"),
            ("学生数", "count"),
            ("应收金额", "money"),
            ("减免金额", "money"),
            ("已收金额", "money"),
            ("欠费金额", "money"),
            ("欠费人数", "count"),
            ("收缴率", "text"),
        ],
    )
    for (grade, class_name), rows in _classes(bills).items():
        live = [b for b in rows if not b.closed]
        if not live:
            continue
        paid = sum(b.paid_fen for b in live)
        due = sum(b.due_fen for b in live)
        sheet.rows.append(
            (
                grade,
                class_name,
                len(live),
                sum(b.principal_fen for b in live),
                sum(b.waived_fen for b in live),
                paid,
                sum(b.arrears_fen for b in live),
                sum(1 for b in live if b.arrears_fen),
                f"{_rate(paid, due):.1%}",
            )
        )
    return sheet


def class_list_sheet(bills: Iterable[StudentBill], *, mask: bool = True) -> Sheet:
    """Paid and unpaid students per class (unpaid first within a class), with the parent's
    phone (masked unless ``mask`` is off), the due date and the days overdue."""
    sheet = Sheet(
        "缴费名单",
        [
            ("年级", "text"),
            ("班级", "text"),
            ("学号", "text"),
            ("姓名", "text"),
            ("账单号", "text"),
            ("状态", "text"),
            ("应收金额", "money"),
            ("减免金额", "money"),
            ("已收金额", "money"),
            ("已退金额", "money"),
            ("欠费金额", "money"),
            ("家长电话", "text"),
            ("缴费截止日", "text"),
            ("逾期天数", "count"),
        ],
    )
    order = {"未缴费": 0, "部分缴费": 1, "已缴清": 2} | {c.value: 3 for c in Closed}
    for (grade, class_name), rows in _classes(bills).items():
        for b in sorted(rows, key=lambda r: (order[r.state], r.student_no)):
            sheet.rows.append(
                (
                    grade,
                    class_name,
                    b.student_no,
                    mask_name(b.name) if mask else b.name,
                    b.bill_no,
                    b.state,
                    b.principal_fen,
                    b.waived_fen,
                    b.paid_fen,
                    b.refunded_fen,
                    b.arrears_fen,
                    (mask_phone(b.phone) if mask else b.phone) or "",
                    b.due_date.isoformat() if b.due_date else "",
                    b.overdue_days if b.arrears_fen else 0,
                )
            )
    return sheet


def daily_sheet(day: date, payments: Sequence[DayPayment]) -> Sheet:
    """The day's collections by class and channel."""
    sheet = Sheet(
        "当日收款",
        [
            ("日期", "text"),
            ("年级", "text"),
            ("班级", "text"),
            ("渠道", "text"),
            ("笔数", "count"),
            ("收款金额", "money"),
        ],
    )
    totals: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for payment in payments:
        for line in payment.lines:
            grade, _, class_name = (line.sub_unit or "/").partition("/")
            entry = totals[(grade, class_name, payment.channel)]
            entry[0] += 1
            entry[1] += line.amount_fen
    ordered = sorted(totals.items(), key=lambda kv: (*_class_key(*kv[0][:2]), kv[0][2]))
    for (grade, class_name, channel), (count, amount) in ordered:
        sheet.rows.append(
            (day.isoformat(), grade, class_name, label("channel", channel), count, amount)
        )
    return sheet


def write_bursar_reports(
    bills: Sequence[StudentBill],
    payments: Sequence[DayPayment],
    day: date,
    out_dir: Path,
    prefix: str,
    *,
    mask: bool = True,
) -> list[Path]:
    """``<prefix>-arrears.csv``, ``-class-lists.csv``, ``-daily-<day>.csv`` and one
    ``<prefix>-bursar-<day>.xlsx`` with the three sheets and the collection-rate chart."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sheets = [arrears_sheet(bills), class_list_sheet(bills, mask=mask), daily_sheet(day, payments)]
    names = [f"{prefix}-arrears.csv", f"{prefix}-class-lists.csv", f"{prefix}-daily-{day}.csv"]
    written: list[Path] = []
    for sheet, name in zip(sheets, names, strict=True):
        buffer = io.BytesIO()
        write_csv(sheet, buffer)
        written.append(out_dir / name)
        written[-1].write_bytes(buffer.getvalue())
    chart = RatioChart("收缴率", "班级", "收缴率", collection_rates(bills))
    book = out_dir / f"{prefix}-bursar-{day}.xlsx"
    with book.open("wb") as out:
        write_workbook(sheets, out, chart=chart)
    written.append(book)
    return written
