"""WeChat Pay trade bill (交易账单), ALL type, as the bill download API returns it.

The file is a header row, detail rows, a summary header and one summary row::

    交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,
    交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,
    充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
    `2024-01-16 22:43:59,`wx…,`1900000109,`0,`,`4200…,`ORDER1,`o…,`NATIVE,`SUCCESS,…
    总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
    `2,`100.00,`0.00,`0.00,`0.60000,`100.00,`0.00

Every detail value is prefixed with a backtick; rows are split on ``,``` so a comma
inside 商品名称 or 商户数据包 stays in its value. A row that went through a spreadsheet or
CSV writer may quote such a value around its backtick (``"`水费,1月"``); such a row is read
as CSV and the backtick is taken off each value. Older bills wrote times with full-width
colons (``22：43：59``) and had 24 columns (子商户号, 总金额, 代金券或立减优惠金额, no
订单金额/申请退款金额/费率备注); both are read. Columns are found by name, so the
SUCCESS and REFUND bill types and the older column names (子商户号, 微信支付订单号,
总金额) work too.

``交易状态`` SUCCESS rows are payments (amount: 订单金额, else 应结订单金额), REFUND rows
refunds (amount: 申请退款金额, else 退款金额; status from 退款状态; the channel id is
微信退款单号 and ``refund_id`` our 商户退款单号), REVOKED rows reversals. 手续费 is printed
with five decimals (``0.60000``) and is negative on refunds, where the fee is returned.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from operator import itemgetter

from billfold.settlement.encoding import ByteSource, iter_text_lines
from billfold.settlement.parsers._common import (
    ISO_SECONDS,
    FieldError,
    ParseOptions,
    fatal,
    local_time,
    yuan,
    yuan_padded,
)
from billfold.settlement.statement import LineError, LineStatus, LineType, StatementLine

__all__ = ["SUMMARY_HEADER", "Layout", "header_layout", "parse", "read_row"]

TIME_FORMAT = ISO_SECONDS
SUMMARY_HEADER = "总交易单数"
_ALTERNATIVES = {
    "特约商户号": ("特约商户号", "子商户号"),
    "微信订单号": ("微信订单号", "微信支付订单号"),
    "应结订单金额": ("应结订单金额", "总金额"),
}
_REQUIRED = ("交易时间", "微信订单号", "商户订单号", "交易状态")
_TRADE_STATES = {
    "SUCCESS": LineType.PAYMENT,
    "REFUND": LineType.REFUND,
    "REVOKED": LineType.REVERSAL,
}
_REFUND_STATES = {
    "SUCCESS": LineStatus.SUCCESS,
    "PROCESSING": LineStatus.PENDING,
    "REFUNDCLOSE": LineStatus.FAILED,
    "CHANGE": LineStatus.FAILED,
    "FAIL": LineStatus.FAILED,
}


def parse(source: ByteSource, options: ParseOptions) -> Iterator[StatementLine | LineError]:
    """Yield the lines of a WeChat Pay trade bill."""
    file = options.source_file
    layout: Layout | None = None
    for number, text in iter_text_lines(source, encoding=options.encoding, source_file=file):
        if layout is None:
            if not text or text.isspace():
                continue
            layout = header_layout(text, number, file)
            continue
        if text.startswith(SUMMARY_HEADER):
            return  # the summary header and its one row end the file
        item = read_row(text, number, layout, options)
        if item is not None:
            yield item
    if layout is None:
        raise fatal(file, 1, "header", "the file is empty")


def header_layout(text: str, number: int, file: str) -> Layout:
    """The layout the header row ``text`` describes; a file error if it is not one."""
    names = [name.strip() for name in text.split(",")]
    if "交易时间" not in names:
        raise fatal(
            file,
            number,
            "header",
            "not a WeChat Pay trade bill: the first row must be the header "
            "(交易时间,公众账号ID,商户号,…)",
        )
    return Layout(_locate(names, file, number), len(names))


def read_row(
    text: str, number: int, layout: Layout, options: ParseOptions
) -> StatementLine | LineError | None:
    """One row below the header: a line, a line error, or ``None`` for a blank row."""
    if not text or text.isspace():
        return None
    if not text.startswith("`"):
        return LineError(
            options.source_file, number, "line", "a detail row starts with a backtick (`)"
        )
    values = _values(text)
    try:
        return _line(values, layout, number, text, options)
    except FieldError as exc:
        return exc.at(options.source_file, number)


def _values(text: str) -> list[str]:
    """The values of a detail row, each without its backtick."""
    if '"`' not in text:
        values = text.split(",`")
        values[0] = values[0][1:]  # the first value's backtick
        return values
    cells = next(csv.reader([text]))
    return [cell[1:] if cell.startswith("`") else cell for cell in cells]


def _locate(names: list[str], file: str, number: int) -> dict[str, int]:
    columns: dict[str, int] = {}
    for position, name in enumerate(names):
        canonical = next((k for k, alts in _ALTERNATIVES.items() if name in alts), name)
        columns.setdefault(canonical, position)
    for name in _REQUIRED:
        if name not in columns:
            raise fatal(file, number, name, "column missing from the header row")
    if "订单金额" not in columns and "应结订单金额" not in columns:
        raise fatal(file, number, "订单金额", "column missing from the header row")
    return columns


#: The columns every row is read for, in the order :class:`Layout` picks them.
_PICKED = ("交易状态", "微信订单号", "商户订单号", "交易时间", "货币种类", "手续费", "特约商户号")
_PICKED_TAIL = ("商户号", "用户标识", "商品名称")


class Layout:
    """Where the header put the columns this parser reads. A column the bill lacks points
    one past the last value, where :func:`_line` appends an empty one."""

    __slots__ = ("amounts", "columns", "pick", "refund", "refund_amounts", "width")

    def __init__(self, columns: dict[str, int], width: int) -> None:
        self.columns = columns
        self.width = width
        self.pick = itemgetter(*(columns.get(name, width) for name in _PICKED + _PICKED_TAIL))
        self.refund = itemgetter(
            *(columns.get(name, width) for name in ("退款状态", "商户退款单号", "微信退款单号"))
        )
        self.amounts = _present(columns, "订单金额", "应结订单金额")
        self.refund_amounts = _present(columns, "申请退款金额", "退款金额")


def _present(columns: dict[str, int], *names: str) -> tuple[tuple[str, int], ...]:
    return tuple((name, columns[name]) for name in names if name in columns)


def _amount(values: list[str], columns: tuple[tuple[str, int], ...], first: str) -> int:
    for name, position in columns:
        value = values[position].strip()
        if value:
            return yuan(value, name)
    raise FieldError(first, "value is empty")


def _line(
    values: list[str], layout: Layout, number: int, raw: str, options: ParseOptions
) -> StatementLine:
    _check_width(values, layout)
    values.append("")  # what a column missing from the header reads as
    state, txn_id, order_no, when, currency, fee, sub_mch, mch, user, goods = [
        value.strip() for value in layout.pick(values)
    ]
    if not state:
        raise FieldError("交易状态", "value is empty")
    line_type = _TRADE_STATES.get(state)
    if line_type is None:
        raise FieldError("交易状态", f"unknown trade state {state!r}; expected SUCCESS or REFUND")
    if not txn_id:
        raise FieldError("微信订单号", "value is empty")
    status, refund_id = LineStatus.SUCCESS, None
    if line_type is LineType.REFUND:
        amount_fen = _amount(values, layout.refund_amounts, "申请退款金额")
        status, refund_id, refund_txn = _refund(values, layout)
        txn_id = refund_txn or txn_id
    else:
        amount_fen = _amount(values, layout.amounts, "订单金额")
    fee_fen = yuan_padded(fee, "手续费", allow_negative=True) if fee else 0
    if not when:
        raise FieldError("交易时间", "value is empty")
    return StatementLine(
        channel=options.channel,
        channel_txn_id=txn_id,
        order_no=order_no or None,
        amount_fen=amount_fen,
        fee_fen=fee_fen,
        currency=currency.upper() if currency else "CNY",
        occurred_at=local_time(when.replace("：", ":"), TIME_FORMAT, options.tz, "交易时间"),
        type=line_type,
        status=status,
        merchant_id=_nonzero(sub_mch) or mch or None,
        refund_id=refund_id,
        counterparty=user or None,
        description=goods or None,
        source_file=options.source_file,
        source_line=number,
        raw=raw,
    )


def _check_width(values: list[str], layout: Layout) -> None:
    width = layout.width
    if len(values) > width:
        raise FieldError("line", f"the line has {len(values)} values, the header {width}")
    if len(values) < width:
        names = {position: name for name, position in layout.columns.items()}
        missing = names.get(len(values), f"column {len(values) + 1}")
        raise FieldError(missing, f"missing: the line has {len(values)} values, the header {width}")


def _refund(values: list[str], layout: Layout) -> tuple[LineStatus, str | None, str | None]:
    """A refund line's status, refund number and refund transaction ID."""
    refund_state, refund_no, refund_txn = [value.strip() for value in layout.refund(values)]
    if not refund_state:
        raise FieldError("退款状态", "value is empty")
    if refund_state not in _REFUND_STATES:
        raise FieldError("退款状态", f"unknown refund state {refund_state!r}")
    return _REFUND_STATES[refund_state], _nonzero(refund_no), _nonzero(refund_txn)


def _nonzero(value: str | None) -> str | None:
    """WeChat writes ``0`` in id columns that do not apply (no refund, no sub-merchant)."""
    return None if value in (None, "", "0") else value
