"""WeChat Pay trade bill (交易账单), ALL type, as the bill download API returns it.

The file is a header row, detail rows, a summary header and one summary row::

    交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,
    交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,
    充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
    `2024-01-16 22:43:59,`wx…,`1900000109,`0,`,`4200…,`ORDER1,`o…,`NATIVE,`SUCCESS,…
    总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
    `2,`100.00,`0.00,`0.00,`0.60000,`100.00,`0.00

Every detail value is prefixed with a backtick; rows are split on ``,``` so a comma
inside 商品名称 or 商户数据包 stays in its value. Columns are found by name, so the
SUCCESS and REFUND bill types and the older column names (子商户号, 微信支付订单号,
总金额) work too.

``交易状态`` SUCCESS rows are payments (amount: 订单金额, else 应结订单金额), REFUND rows
refunds (amount: 申请退款金额, else 退款金额; status from 退款状态; the channel id is
微信退款单号 and ``refund_id`` our 商户退款单号), REVOKED rows reversals. 手续费 is printed
with five decimals (``0.60000``) and is negative on refunds, where the fee is returned.
"""

from __future__ import annotations

from collections.abc import Iterator

from billfold.settlement.encoding import ByteSource, iter_text_lines
from billfold.settlement.parsers._common import (
    FieldError,
    ParseOptions,
    fatal,
    local_time,
    yuan,
    yuan_padded,
)
from billfold.settlement.statement import LineError, LineStatus, LineType, StatementLine

__all__ = ["parse"]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_SUMMARY_HEADER = "总交易单数"
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
    columns: dict[str, int] | None = None
    width = 0
    for number, text in iter_text_lines(source, encoding=options.encoding, source_file=file):
        if not text.strip():
            continue
        if columns is None:
            names = [name.strip() for name in text.split(",")]
            if "交易时间" not in names:
                raise fatal(
                    file,
                    number,
                    "header",
                    "not a WeChat Pay trade bill: the first row must be the header "
                    "(交易时间,公众账号ID,商户号,…)",
                )
            columns, width = _locate(names, file, number), len(names)
            continue
        if text.startswith(_SUMMARY_HEADER):
            return  # the summary header and its one row end the file
        if not text.startswith("`"):
            yield LineError(file, number, "line", "a detail row starts with a backtick (`)")
            continue
        values = [value.strip() for value in text[1:].split(",`")]
        try:
            yield _line(values, width, columns, number, text, options)
        except FieldError as exc:
            yield exc.at(file, number)
    if columns is None:
        raise fatal(file, 1, "header", "the file is empty")


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


def _line(
    values: list[str],
    width: int,
    columns: dict[str, int],
    number: int,
    raw: str,
    options: ParseOptions,
) -> StatementLine:
    if len(values) < width:
        names = {position: name for name, position in columns.items()}
        missing = names.get(len(values), f"column {len(values) + 1}")
        raise FieldError(missing, f"missing: the line has {len(values)} values, the header {width}")
    if len(values) > width:
        raise FieldError("line", f"the line has {len(values)} values, the header {width}")

    def get(name: str) -> str | None:
        position = columns.get(name)
        if position is None:
            return None
        return values[position] or None

    def required(name: str) -> str:
        value = get(name)
        if not value:
            raise FieldError(name, "value is empty")
        return value

    def amount(*names: str) -> int:
        for name in names:
            value = get(name)
            if value is not None:
                return yuan(value, name)
        raise FieldError(names[0], "value is empty")

    state = required("交易状态")
    line_type = _TRADE_STATES.get(state)
    if line_type is None:
        raise FieldError("交易状态", f"unknown trade state {state!r}; expected SUCCESS or REFUND")
    status = LineStatus.SUCCESS
    refund_id: str | None = None
    txn_id = required("微信订单号")
    if line_type is LineType.REFUND:
        amount_fen = amount("申请退款金额", "退款金额")
        refund_state = required("退款状态")
        if refund_state not in _REFUND_STATES:
            raise FieldError("退款状态", f"unknown refund state {refund_state!r}")
        status = _REFUND_STATES[refund_state]
        refund_id = _nonzero(get("商户退款单号"))
        txn_id = _nonzero(get("微信退款单号")) or txn_id
    else:
        amount_fen = amount("订单金额", "应结订单金额")
    fee_text = get("手续费")
    fee_fen = yuan_padded(fee_text, "手续费", allow_negative=True) if fee_text else 0
    return StatementLine(
        channel=options.channel,
        channel_txn_id=txn_id,
        order_no=get("商户订单号"),
        amount_fen=amount_fen,
        fee_fen=fee_fen,
        currency=(get("货币种类") or "CNY").upper(),
        occurred_at=local_time(required("交易时间"), TIME_FORMAT, options.tz, "交易时间"),
        type=line_type,
        status=status,
        merchant_id=_nonzero(get("特约商户号")) or get("商户号"),
        refund_id=refund_id,
        counterparty=get("用户标识"),
        description=get("商品名称"),
        source_file=options.source_file,
        source_line=number,
        raw=raw,
    )


def _nonzero(value: str | None) -> str | None:
    """WeChat writes ``0`` in id columns that do not apply (no refund, no sub-merchant)."""
    return None if value in (None, "", "0") else value
