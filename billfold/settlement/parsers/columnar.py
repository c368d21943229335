"""A big WeChat Pay trade bill read column by column (polars), line for line as the parser reads it.

The streaming parser (:mod:`.wechatpay`) spends most of its time in Python on rows that are
all alike: a backtick before every value, a successful payment, plain amounts, an ASCII
transaction id. This reader takes such rows a column at a time with polars' vectorized
string kernels and hands every other row — a refund, a reversal, a quoted value, a value with
spaces around it, a bad amount, a time that is not a time, a blank row, anything at all that
is not that plain shape — to the parser's own :func:`~.wechatpay.read_row`. So every value
and every line error is the parser's, by construction:

* a row is taken here only if each value it uses matches a strict pattern under which the
  parser's conversion is a plain text operation (``12.34`` → 1234; ``-0.60000`` → -60; an
  ASCII id without spaces is itself); the patterns spell digits ``[0-9]``, never ``\\d``;
* times are read by the parser's own cached reader, once per distinct value (a bill has at
  most one per second), so zones and impossible dates are exactly the parser's;
* the encoding is decided by the rules of :mod:`billfold.settlement.encoding`; a file that
  would fail there (wrong encoding, UTF-16, no header row) or whose line ends are not plain
  ``\\n`` / ``\\r\\n`` is not read here at all: :func:`read` answers ``None`` and the caller
  parses the file with the streaming parser, which raises the exact error.

polars is an optional dependency (the ``fast`` extra); :func:`available` says whether it is
installed, and nothing here imports it before it is needed. The frame :func:`read` returns
has one row per statement line in file order, with the columns of :data:`COLUMNS`.
"""

from __future__ import annotations

import codecs
import importlib.util
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from billfold.settlement.encoding import normalize_encoding
from billfold.settlement.parsers import wechatpay
from billfold.settlement.parsers._common import ISO_SECONDS, ParseOptions, utc_or_none
from billfold.settlement.statement import LineError, StatementError, StatementLine

__all__ = ["COLUMNS", "FORMATS", "Columns", "available", "line_values", "read"]

#: polars' allocator (jemalloc) keeps the pages a process frees for ten seconds by default, so
#: the buffers a big bill's read and match let go still count in its resident memory at the
#: match's peak (1M × 1M on PostgreSQL: 971–1,110 MiB measured; 794–868 MiB with freed pages
#: returned after half a second, at the same CPU). The allocator reads this variable when
#: polars is first imported, which billfold does only after importing this module; an
#: operator's own value is kept, and an application that imported polars first keeps its
#: allocator's settings.
ALLOCATOR_ENV = "_RJEM_MALLOC_CONF"
ALLOCATOR_DEFAULT = "dirty_decay_ms:500,muzzy_decay_ms:0"
os.environ.setdefault(ALLOCATOR_ENV, ALLOCATOR_DEFAULT)

#: The formats read here; any other is parsed by its streaming parser.
FORMATS = ("wechatpay",)
#: The columns of the frame, one row per statement line.
COLUMNS = (
    "txn",
    "type",
    "status",
    "direction",
    "amount_fen",
    "fee_fen",
    "currency",
    "order_no",
    "refund_id",
    "occurred_at",
    "source_line",
    "merchant_id",
    "counterparty",
)
_SLICE = 100_000  # rows converted at a time (bounds the memory of the split values)
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_SEPARATOR = "\x1f"  # one column per line: a byte the file must not contain
_NON_ASCII = re.compile(rb"[\x80-\xff]")

# What a value must look like for the parser's conversion to be a plain text operation.
_ID = r"^[!-~]+$"  # printable ASCII, no space: strip() leaves it as it is
_ID_OR_EMPTY = r"^[!-~]*$"
_AMOUNT = r"^[0-9]{1,13}\.[0-9]{2}$"  # _common.yuan's plain shape
_FEE = r"^-?[0-9]{1,13}\.[0-9]{2}0*$"  # _common.yuan_padded's plain shape
_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"
_CURRENCY = r"^[A-Z]*$"  # upper() leaves it as it is


@dataclass(frozen=True, slots=True)
class Columns:
    """The statement's lines as a polars ``DataFrame`` (:data:`COLUMNS`, in file order) and
    the line errors, as the streaming parser would have quarantined them."""

    frame: Any
    errors: list[LineError]


def available() -> bool:
    """Whether polars is installed (``pip install 'billfold[fast]'``)."""
    return importlib.util.find_spec("polars") is not None


def line_values(line: StatementLine) -> tuple[Any, ...]:
    """A parsed line as one row of :data:`COLUMNS`."""
    return (
        line.channel_txn_id,
        str(line.type),
        str(line.status),
        str(line.direction) if line.direction else "CREDIT",
        line.amount_fen,
        line.fee_fen,
        line.currency,
        line.order_no or None,
        line.refund_id or None,
        line.occurred_at.isoformat(),
        line.source_line,
        line.merchant_id or None,
        line.counterparty or None,
    )


def read(data: bytes, options: ParseOptions) -> Columns | None:
    """The whole statement ``data`` read column by column, or ``None`` when this reader does
    not take the file (format, polars missing, encoding or layout trouble: see the module
    docs) and the streaming parser must read it."""
    if options.format not in FORMATS or options.column_map or not available():
        return None
    text = _utf8(data, options.encoding)
    del data  # the caller passes the file's bytes on and keeps no reference
    if text is None:
        return None
    import polars as pl

    try:
        lines = pl.read_csv(
            io.BytesIO(text),
            has_header=False,
            separator=_SEPARATOR,
            quote_char=None,
            new_columns=["line"],
            schema={"line": pl.String},
            infer_schema=False,
        ).with_row_index("n", offset=1)
    except pl.exceptions.ComputeError:  # not valid UTF-8: the parser names the line
        return None
    del text
    return _wechatpay(lines, options)


def _utf8(data: bytes, stated_name: str | None) -> bytes | None:
    """``data`` as UTF-8 without a byte order mark, decided as
    :func:`billfold.settlement.encoding.iter_text_lines` decides; ``None`` when that would
    fail or the line ends are not plain."""
    try:
        stated = normalize_encoding(stated_name) if stated_name is not None else None
    except StatementError:
        return None
    if data.startswith(_UTF16_BOMS):
        return None
    decided = stated
    if data.startswith(_UTF8_BOM):
        if stated == "gb18030":
            return None
        data, decided = data[len(_UTF8_BOM) :], "utf-8"
        if data.startswith(_UTF8_BOM):
            return None  # a second mark: the parser keeps it as text, polars would not
    if decided is None:
        found = _NON_ASCII.search(data)
        decided = "utf-8" if found is None else _first_decides(data, found.start())
    if decided == "gb18030":
        try:
            data = data.decode("gb18030").encode("utf-8")
        except UnicodeDecodeError:
            return None
    if _SEPARATOR.encode() in data or b"\x00" in data:
        return None
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return None  # polars ends a line at a lone \r; the parser does not
    return data


def _first_decides(data: bytes, at: int) -> str:
    """The encoding the first line that is not plain ASCII decides."""
    start = data.rfind(b"\n", 0, at) + 1
    end = data.find(b"\n", at)
    line = data[start : end if end >= 0 else len(data)]
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def _wechatpay(lines: Any, options: ParseOptions) -> Columns | None:
    import polars as pl

    file = options.source_file
    layout: wechatpay.Layout | None = None
    first = 0
    for first, text in enumerate(lines.get_column("line").head(1000)):  # the header row
        if text is None or not text or text.isspace():
            continue
        try:
            layout = wechatpay.header_layout(text, first + 1, file)
        except StatementError:
            return None
        break
    if layout is None:
        return None  # empty, or blank for a thousand rows: the parser says so
    body = lines.slice(first + 1)
    ends = body.select(pl.col("line").str.starts_with(wechatpay.SUMMARY_HEADER).arg_true())
    if ends.height:
        body = body.head(int(ends.item(0, 0)))
    frames: list[Any] = []
    errors: list[LineError] = []
    for start in range(0, body.height, _SLICE):
        frame, slow = _fast_rows(body.slice(start, _SLICE), layout, options)
        frames.append(frame)
        rows, found = _slow_rows(slow, layout, options)
        errors.extend(found)
        if rows:
            frames.append(pl.DataFrame(rows, schema=_schema(), orient="row"))
    if not frames:
        return Columns(pl.DataFrame(schema=_schema()), errors)
    whole = pl.concat(frames, how="vertical").sort("source_line")
    return Columns(whole, errors)


def _schema() -> dict[str, Any]:
    import polars as pl

    ints = {"amount_fen", "fee_fen", "source_line"}
    return {name: pl.Int64 if name in ints else pl.String for name in COLUMNS}


def _fast_rows(body: Any, layout: wechatpay.Layout, options: ParseOptions) -> tuple[Any, Any]:
    """The rows of ``body`` read here, as a frame of :data:`COLUMNS`; and the others
    (``n``, ``line``) for the parser."""
    import polars as pl

    line = pl.col("line")
    values = line.str.slice(1).str.split(",`")

    def value(name: str) -> Any:
        position = layout.columns.get(name)
        return pl.lit("") if position is None else pl.col("v").list.get(position, null_on_oob=True)

    cells = body.select(
        "n",
        "line",
        values.alias("v"),
        (
            line.str.starts_with("`")
            & ~line.str.contains('"`', literal=True)
            & (values.list.len() == layout.width)
        )
        .fill_null(False)
        .alias("shaped"),
    )
    picked = cells.select(
        "n",
        "line",
        "shaped",
        value("交易状态").alias("state"),
        value("微信订单号").alias("txn"),
        value("商户订单号").alias("order_no"),
        value("交易时间").alias("when"),
        value("货币种类").alias("currency"),
        value("手续费").alias("fee"),
        value("特约商户号").alias("sub_mch"),
        value("商户号").alias("mch"),
        value("用户标识").alias("user"),
        *(value(name).alias(f"amount{i}") for i, (name, _) in enumerate(layout.amounts)),
    )
    amount, amount_ok = _amount_expr(len(layout.amounts))
    col = pl.col
    ok = (
        col("shaped")
        & (col("state") == "SUCCESS")
        & col("txn").str.contains(_ID)
        & col("order_no").str.contains(_ID_OR_EMPTY)
        & col("sub_mch").str.contains(_ID_OR_EMPTY)
        & col("mch").str.contains(_ID_OR_EMPTY)
        & col("user").str.contains(_ID_OR_EMPTY)
        & col("currency").str.contains(_CURRENCY)
        & ((col("fee") == "") | col("fee").str.contains(_FEE))
        & col("when").str.contains(_TIME)
        & amount_ok
    ).fill_null(False)
    picked = picked.with_columns(ok.alias("ok"))
    times = picked.filter("ok").get_column("when").unique().to_list()
    utc = {}
    for when in times:
        moment = utc_or_none(when, ISO_SECONDS, options.tz)
        if moment is not None:
            utc[when] = moment.isoformat()
    picked = picked.with_columns(
        col("when")
        .replace_strict(list(utc), list(utc.values()), default=None, return_dtype=pl.String)
        .alias("occurred_at")
    ).with_columns((col("ok") & col("occurred_at").is_not_null()).alias("ok"))
    fee = (
        pl.when(col("fee") == "")
        .then(pl.lit(0, pl.Int64))
        .otherwise(
            col("fee")
            .str.extract(r"^(-?[0-9]{1,13}\.[0-9]{2})", 1)
            .str.replace(".", "", literal=True)
            .cast(pl.Int64)
        )
    )
    fast = picked.filter("ok").select(
        col("txn"),
        pl.lit("PAYMENT").alias("type"),
        pl.lit("SUCCESS").alias("status"),
        pl.lit("CREDIT").alias("direction"),
        amount.alias("amount_fen"),
        fee.alias("fee_fen"),
        pl.when(col("currency") == "")
        .then(pl.lit("CNY"))
        .otherwise(col("currency"))
        .alias("currency"),
        pl.when(col("order_no") != "").then(col("order_no")).alias("order_no"),
        pl.lit(None, pl.String).alias("refund_id"),
        col("occurred_at"),
        col("n").cast(pl.Int64).alias("source_line"),
        pl.when(~col("sub_mch").is_in(["", "0"]))
        .then(col("sub_mch"))
        .when(col("mch") != "")
        .then(col("mch"))
        .alias("merchant_id"),
        pl.when(col("user") != "").then(col("user")).alias("counterparty"),
    )
    return fast, picked.filter(~col("ok")).select("n", "line")


def _amount_expr(count: int) -> tuple[Any, Any]:
    """The amount and whether it is plain: the first amount column that is not empty
    (订单金额, else 应结订单金额), as :func:`.wechatpay._amount` takes it."""
    import polars as pl

    def fen(name: str) -> Any:
        return pl.col(name).str.replace(".", "", literal=True).cast(pl.Int64)

    amount: Any = pl.lit(None, pl.Int64)
    ok: Any = pl.lit(False)
    for i in reversed(range(count)):  # built from the last column back to the first
        name = f"amount{i}"
        plain = pl.col(name).str.contains(_AMOUNT)
        amount = pl.when(plain).then(fen(name)).when(pl.col(name) == "").then(amount)
        ok = plain | ((pl.col(name) == "") & ok)
    return amount, ok


def _slow_rows(
    slow: Any, layout: wechatpay.Layout, options: ParseOptions
) -> tuple[list[tuple[Any, ...]], list[LineError]]:
    """The rows not taken above, read by the parser itself."""
    rows: list[tuple[Any, ...]] = []
    errors: list[LineError] = []
    for number, text in _pairs(slow):
        item = wechatpay.read_row(text, number, layout, options)
        if isinstance(item, LineError):
            errors.append(item)
        elif item is not None:
            rows.append(line_values(item))
    return rows, errors


def _pairs(slow: Any) -> Iterator[tuple[int, str]]:
    for number, text in slow.iter_rows():
        yield int(number), text or ""
