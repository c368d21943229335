"""Alipay merchant bill CSV, as downloaded from the merchant portal or the bill API.

Two layouts are recognised by their header row:

* 业务明细 (business detail): ``支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,
  门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,…,
  退款批次号/请求号,服务费（元）,分润（元）,备注``. ``业务类型`` is 交易 or 退款; refund rows
  carry negative amounts and the merchant's refund request number.
* 账务明细 (account detail): ``账务流水号,业务流水号,商户订单号,商品名称,发生时间,对方账号,
  收入金额（+元）,支出金额（-元）,账户余额（元）,交易渠道,业务类型,备注``.

The file is GBK (UTF-8 is accepted too). Lines starting with ``#`` above and below the
table are comments (账号, 起始日期, 合计, 导出时间); the ``#账号：[…]`` value becomes
``merchant_id``. A trailing summary without ``#`` (a first cell such as 总交易单数 or 合计)
ends the table. Values may carry trailing tabs and spaces (Alipay's guard against
spreadsheets turning long numbers into exponents); they are stripped.

The ``#`` footer totals are checked against the lines read: ``#交易合计：2笔，商家实收共
120.00元`` and ``#退款合计：…`` (业务明细; 商家实收 of the 交易 and 退款 rows), ``#收入合计：
…笔，共…元`` and ``#支出合计：…`` (账务明细). A footer that does not match is an error on its
line; the check is skipped when a line of the file was already rejected.

Fees: Alipay shows the service fee as money leaving the merchant (``-0.06`` on a
payment, ``0.06`` back on a refund); ``fee_fen`` is charged-positive, so the sign flips.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from billfold.errors import InvariantViolated
from billfold.money import format_yuan
from billfold.settlement.encoding import ByteSource, iter_text_lines
from billfold.settlement.parsers._common import (
    FieldError,
    ParseOptions,
    csv_rows,
    fatal,
    local_time,
    yuan,
)
from billfold.settlement.statement import Direction, LineError, LineType, StatementLine

__all__ = ["parse"]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_ACCOUNT = re.compile(r"账号[:：]\s*\[([^\]]+)\]")
_SUMMARY_STARTS = ("总交易单数", "合计", "总计", "交易合计", "退款合计")

# 业务类型 → type, for both layouts.
_BUSINESS_TYPES = {
    "交易": LineType.PAYMENT,
    "在线支付": LineType.PAYMENT,
    "交易付款": LineType.PAYMENT,
    "退款": LineType.REFUND,
    "交易退款": LineType.REFUND,
    "撤销": LineType.REVERSAL,
    "冲正": LineType.REVERSAL,
    "服务费": LineType.FEE,
    "收费": LineType.FEE,
    "手续费": LineType.FEE,
    "提现": LineType.SETTLEMENT,
}


def _header_key(name: str) -> str:
    return name.strip(" \t").replace("（", "(").replace("）", ")")


def _clean(value: str) -> str:
    return value.strip(" \t")


Row = Callable[[str], str | None]
Converter = Callable[[Row, int, str, str | None, ParseOptions], StatementLine]


_FOOTER = re.compile(
    r"#?\s*(交易|退款|收入|支出)合计[:：]\s*(\d+)\s*笔[，,]\s*(?:商家实收(?:退款)?)?共\s*([-+]?[\d.]+)\s*元"
)


@dataclass(slots=True)
class _Totals:
    """What the comment lines say (the merchant account, the footers) and what the lines
    read add up to, per footer label."""

    merchant: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    sums: dict[str, int] = field(default_factory=dict)
    footers: list[tuple[int, str, int, str]] = field(default_factory=list)

    def add(self, label: str, fen: int) -> None:
        self.counts[label] = self.counts.get(label, 0) + 1
        self.sums[label] = self.sums.get(label, 0) + fen

    def check(self, file: str) -> Iterator[LineError]:
        for number, label, count, stated in self.footers:
            try:
                stated_fen = yuan(stated, f"{label}合计", allow_negative=True)
            except FieldError as exc:
                yield exc.at(file, number)
                continue
            got, total = self.counts.get(label, 0), self.sums.get(label, 0)
            # 支出 and 退款 footers are written with or without a minus sign
            if (got, abs(total)) != (count, abs(stated_fen)):
                yield LineError(
                    file,
                    number,
                    f"{label}合计",
                    f"the footer says {count} line(s) totalling {format_yuan(stated_fen)}, "
                    f"the lines read are {got} totalling {format_yuan(total)}",
                )


def parse(source: ByteSource, options: ParseOptions) -> Iterator[StatementLine | LineError]:
    """Yield the lines of an Alipay 业务明细 or 账务明细 CSV."""
    file = options.source_file
    totals = _Totals()
    header: list[str] | None = None
    display: dict[str, str] = {}
    convert: Converter | None = None
    failed = False
    lines = _table_lines(source, options, totals)
    for number, cells, raw in csv_rows(lines, delimiter=",", source_file=file):
        if header is None:
            display = {_header_key(c): _clean(c) for c in cells}
            header, convert = _header(cells, file, number)
            continue
        if cells and _clean(cells[0]).startswith(_SUMMARY_STARTS):
            break
        if convert is None:
            raise InvariantViolated("convert is missing")
        try:
            row = _row_reader(header, cells)
            line = convert(row, number, raw, totals.merchant, options)
            _count(totals, line, row)
        except FieldError as exc:
            failed = True
            yield LineError(file, number, display.get(exc.field, exc.field), exc.message)
            continue
        yield line
    for _ in lines:  # the footers below a summary that ended the table
        pass
    if not failed:
        yield from totals.check(file)
    if header is None:
        raise fatal(
            file,
            1,
            "header",
            "no Alipay header row found (expected 支付宝交易号,商户订单号,… or 账务流水号,…)",
        )


def _table_lines(
    source: ByteSource, options: ParseOptions, totals: _Totals
) -> Iterator[tuple[int, str]]:
    """The table's text lines; the comment lines around it are noted in ``totals``."""
    file = options.source_file
    for number, text in iter_text_lines(source, encoding=options.encoding, source_file=file):
        stripped = text.strip()
        if stripped.startswith("#") or (stripped.startswith("账号") and "[" in stripped):
            found = _ACCOUNT.search(stripped)
            if found and totals.merchant is None:
                totals.merchant = found.group(1).strip()
            footer = _FOOTER.match(stripped)
            if footer:
                label, count, stated = footer.groups()
                totals.footers.append((number, label, int(count), stated))
            continue
        if not stripped or set(stripped) <= {"-"}:
            continue
        yield number, text


def _header(cells: list[str], file: str, number: int) -> tuple[list[str] | None, Converter | None]:
    """The header's keys and the converter of its kind of file; ``None``s for a title line."""
    keys = [_header_key(c) for c in cells]
    if "支付宝交易号" in keys and "商户订单号" in keys:
        _require(keys, _BUSINESS_REQUIRED, file, number)
        return keys, _business_row
    if "账务流水号" in keys:
        _require(keys, _ACCOUNT_REQUIRED, file, number)
        return keys, _account_row
    return None, None


def _count(totals: _Totals, line: StatementLine, row: Row) -> None:
    """Add a line to the footer label it is counted under, if any."""
    if row("账务流水号") is not None or row("收入金额(+元)") is not None:
        if line.direction is Direction.CREDIT:
            totals.add("收入", line.amount_fen)
        else:
            totals.add("支出", -line.amount_fen)
        return
    business = {LineType.PAYMENT: "交易", LineType.REFUND: "退款"}.get(line.type)
    if business is not None:
        net = row("商家实收(元)") or row("订单金额(元)") or "0"
        totals.add(business, yuan(net, "商家实收(元)", allow_negative=True))


def _require(header: list[str], names: tuple[str, ...], file: str, number: int) -> None:
    for name in names:
        if name not in header:
            shown = name.replace("(", "（").replace(")", "）")
            raise fatal(file, number, shown, "column missing from the header row")


def _row_reader(header: list[str], cells: list[str]) -> Row:
    """Check the row's width against the header, then look values up by column name."""
    counts = f"the line has {len(cells)} values, the header {len(header)}"
    if len(cells) < len(header):
        raise FieldError(header[len(cells)], f"missing: {counts}")
    if any(_clean(c) for c in cells[len(header) :]):
        raise FieldError("line", f"{counts} (a comma inside a value?)")

    def get(name: str) -> str | None:
        if name not in header:
            return None
        return _clean(cells[header.index(name)]) or None

    return get


def _required(row: Row, name: str) -> str:
    value = row(name)
    if value is None:
        raise FieldError(name, "value is empty")
    return value


def _business_type(row: Row) -> LineType:
    text = _required(row, "业务类型")
    return _BUSINESS_TYPES.get(text, LineType.OTHER)


_BUSINESS_REQUIRED = ("支付宝交易号", "商户订单号", "业务类型", "完成时间", "订单金额(元)")


def _business_row(
    row: Row, number: int, raw: str, merchant: str | None, options: ParseOptions
) -> StatementLine:
    line_type = _business_type(row)
    amount = yuan(_required(row, "订单金额(元)"), "订单金额(元)", allow_negative=True)
    if line_type is LineType.REFUND and amount > 0:
        raise FieldError("订单金额(元)", "a refund row must carry a negative amount")
    if line_type is LineType.PAYMENT and amount < 0:
        raise FieldError("订单金额(元)", f"{row('订单金额(元)')!r} is negative")
    fee_text = row("服务费(元)")
    fee = -yuan(fee_text, "服务费(元)", allow_negative=True) if fee_text else 0
    finished = row("完成时间") or _required(row, "创建时间")
    return StatementLine(
        channel=options.channel,
        channel_txn_id=_required(row, "支付宝交易号"),
        order_no=row("商户订单号"),
        amount_fen=abs(amount),
        fee_fen=fee,
        occurred_at=local_time(finished, TIME_FORMAT, options.tz, "完成时间"),
        type=line_type,
        direction=Direction.DEBIT if amount < 0 else Direction.CREDIT,
        merchant_id=merchant,
        refund_id=row("退款批次号/请求号") if line_type is LineType.REFUND else None,
        counterparty=row("对方账户"),
        description=row("商品名称") or row("备注"),
        source_file=options.source_file,
        source_line=number,
        raw=raw,
    )


_ACCOUNT_REQUIRED = ("业务流水号", "发生时间", "收入金额(+元)", "支出金额(-元)", "业务类型")


def _account_row(
    row: Row, number: int, raw: str, merchant: str | None, options: ParseOptions
) -> StatementLine:
    income = yuan(row("收入金额(+元)") or "0", "收入金额(+元)")
    expense = abs(yuan(row("支出金额(-元)") or "0", "支出金额(-元)", allow_negative=True))
    if income and expense:
        raise FieldError("支出金额(-元)", "a line has either an income or an expense, not both")
    line_type = _business_type(row)
    return StatementLine(
        channel=options.channel,
        channel_txn_id=_required(row, "业务流水号"),
        order_no=row("商户订单号"),
        amount_fen=income or expense,
        occurred_at=local_time(_required(row, "发生时间"), TIME_FORMAT, options.tz, "发生时间"),
        type=line_type,
        direction=Direction.DEBIT if expense else Direction.CREDIT,
        merchant_id=merchant,
        counterparty=row("对方账号"),
        description=row("商品名称") or row("备注"),
        source_file=options.source_file,
        source_line=number,
        raw=raw,
    )
