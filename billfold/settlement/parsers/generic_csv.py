"""A CSV statement whose layout the user describes with a column mapping.

The mapping (a dict, e.g. loaded from JSON) names, for each of our fields, the header
of the column that holds it, plus a few settings::

    {
      "columns": {"channel_txn_id": "流水号", "order_no": "订单号", "amount": "金额",
                  "occurred_at": "交易时间", "type": "类型", "fee": "手续费"},
      "amount_unit": "yuan",                 # or "fen" (whole numbers)
      "time_format": "%Y-%m-%d %H:%M:%S",    # strptime; %z makes the zone explicit
      "type_map": {"支付": "PAYMENT", "退款": "REFUND"},
      "status_map": {"成功": "SUCCESS", "失败": "FAILED"},
      "delimiter": ",",
      "skip_lines": 0,                       # lines above the header row
      "comment_prefix": "#"                  # such lines are skipped anywhere
    }

Column names may also be given at the top level instead of under ``columns``.
Required columns: ``channel_txn_id``, ``amount``, ``occurred_at``. Values are stripped of
spaces and tabs, and of one leading backtick (the spreadsheet-guard some banks add).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from billfold.errors import ConfigurationError
from billfold.settlement.encoding import ByteSource, iter_text_lines
from billfold.settlement.parsers._common import (
    FieldError,
    ParseOptions,
    csv_rows,
    fatal,
    local_time,
    yuan,
)
from billfold.settlement.statement import (
    Direction,
    LineError,
    LineStatus,
    LineType,
    StatementLine,
)

__all__ = ["CsvMapping", "parse"]

E = TypeVar("E", LineType, LineStatus, Direction)

FIELDS = (
    "channel_txn_id",
    "amount",
    "occurred_at",
    "order_no",
    "fee",
    "currency",
    "type",
    "status",
    "direction",
    "merchant_id",
    "refund_id",
    "counterparty",
    "description",
)
REQUIRED = ("channel_txn_id", "amount", "occurred_at")
SETTINGS = (
    "columns",
    "amount_unit",
    "time_format",
    "type_map",
    "status_map",
    "direction_map",
    "default_type",
    "default_status",
    "delimiter",
    "skip_lines",
    "comment_prefix",
)


def _str_map(raw: Any, key: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ConfigurationError(f"mapping: {key} must map strings to strings")
    return {k.strip(): v.strip() for k, v in raw.items()}


def _enum_map(raw: Any, key: str, enum: type[E]) -> dict[str, E]:
    result: dict[str, E] = {}
    for theirs, ours in _str_map(raw, key).items():
        try:
            result[theirs] = enum(ours.upper())
        except ValueError:
            allowed = ", ".join(e.value for e in enum)
            raise ConfigurationError(
                f"mapping: {key}[{theirs!r}] is {ours!r}; expected one of {allowed}"
            ) from None
    return result


@dataclass(frozen=True, slots=True)
class CsvMapping:
    """A validated generic CSV configuration (see the module docstring)."""

    columns: dict[str, str]
    amount_unit: str = "yuan"
    time_format: str = "%Y-%m-%d %H:%M:%S"
    type_map: dict[str, LineType] = field(default_factory=dict)
    status_map: dict[str, LineStatus] = field(default_factory=dict)
    direction_map: dict[str, Direction] = field(default_factory=dict)
    default_type: LineType = LineType.PAYMENT
    default_status: LineStatus = LineStatus.SUCCESS
    delimiter: str = ","
    skip_lines: int = 0
    comment_prefix: str | None = None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> CsvMapping:
        """Validate a user's mapping; raises :class:`ConfigurationError` naming the key."""
        if not isinstance(raw, Mapping):
            raise ConfigurationError("mapping: expected a JSON object")
        unknown = [k for k in raw if k not in FIELDS and k not in SETTINGS]
        if unknown:
            raise ConfigurationError(
                f"mapping: unknown key {unknown[0]!r}; fields are {', '.join(FIELDS)}"
            )
        columns = _str_map(raw.get("columns"), "columns")
        columns.update(_str_map({k: v for k, v in raw.items() if k in FIELDS}, "columns"))
        bad = [k for k in columns if k not in FIELDS]
        if bad:
            raise ConfigurationError(f"mapping: columns has unknown field {bad[0]!r}")
        missing = [k for k in REQUIRED if not columns.get(k)]
        if missing:
            raise ConfigurationError(f"mapping: columns.{missing[0]} is required")
        unit = raw.get("amount_unit", "yuan")
        if unit not in ("yuan", "fen"):
            raise ConfigurationError(f"mapping: amount_unit must be 'yuan' or 'fen', got {unit!r}")
        delimiter = raw.get("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise ConfigurationError("mapping: delimiter must be one character")
        skip = raw.get("skip_lines", 0)
        if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
            raise ConfigurationError("mapping: skip_lines must be a whole number >= 0")
        time_format = raw.get("time_format", "%Y-%m-%d %H:%M:%S")
        comment = raw.get("comment_prefix")
        if not isinstance(time_format, str) or not (comment is None or isinstance(comment, str)):
            raise ConfigurationError("mapping: time_format and comment_prefix must be strings")
        defaults = _enum_map(
            {"default_type": raw.get("default_type", "PAYMENT")}, "default_type", LineType
        )
        status_default = _enum_map(
            {"default_status": raw.get("default_status", "SUCCESS")}, "default_status", LineStatus
        )
        return cls(
            columns=columns,
            amount_unit=unit,
            time_format=time_format,
            type_map=_enum_map(raw.get("type_map"), "type_map", LineType),
            status_map=_enum_map(raw.get("status_map"), "status_map", LineStatus),
            direction_map=_enum_map(raw.get("direction_map"), "direction_map", Direction),
            default_type=defaults["default_type"],
            default_status=status_default["default_status"],
            delimiter=delimiter,
            skip_lines=skip,
            comment_prefix=comment or None,
        )


def _clean(value: str) -> str:
    value = value.strip(" \t")
    return value[1:].strip(" \t") if value.startswith("`") else value


def parse(source: ByteSource, options: ParseOptions) -> Iterator[StatementLine | LineError]:
    """Yield the lines of a mapped CSV file (see the module docstring)."""
    if options.column_map is None:
        raise ConfigurationError("generic-csv needs a column mapping (--mapping MAPPING.json)")
    mapping = (
        options.column_map
        if isinstance(options.column_map, CsvMapping)
        else CsvMapping.from_mapping(options.column_map)
    )
    file = options.source_file
    lines = iter_text_lines(source, encoding=options.encoding, source_file=file)

    def wanted() -> Iterator[tuple[int, str]]:
        for number, text in lines:
            if number <= mapping.skip_lines:
                continue
            if mapping.comment_prefix and text.lstrip().startswith(mapping.comment_prefix):
                continue
            yield number, text

    rows = csv_rows(wanted(), delimiter=mapping.delimiter, source_file=file)
    index: dict[str, int] | None = None
    header: list[str] = []
    for number, cells, raw in rows:
        if not any(c.strip() for c in cells):
            continue
        if index is None:
            header = [_clean(c) for c in cells]
            index = _locate(header, mapping, file, number)
            continue
        try:
            yield _line(cells, raw, number, header, index, mapping, options)
        except FieldError as exc:
            yield exc.at(file, number)
    if index is None:
        raise fatal(file, max(mapping.skip_lines, 1), "header", "no header row found")


def _locate(header: list[str], mapping: CsvMapping, file: str, number: int) -> dict[str, int]:
    index: dict[str, int] = {}
    for ours, theirs in mapping.columns.items():
        if theirs not in header:
            raise fatal(file, number, theirs, f"column for {ours} not found in the header row")
        index[ours] = header.index(theirs)
    return index


def _line(
    cells: list[str],
    raw: str,
    number: int,
    header: list[str],
    index: dict[str, int],
    mapping: CsvMapping,
    options: ParseOptions,
) -> StatementLine:
    if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
        raise FieldError("columns", f"the line has {len(cells)} values, the header {len(header)}")

    def get(ours: str) -> str | None:
        position = index.get(ours)
        if position is None:
            return None
        if position >= len(cells):
            raise FieldError(
                header[position],
                f"missing: the line has {len(cells)} values, the header {len(header)}",
            )
        return _clean(cells[position]) or None

    def required(ours: str) -> str:
        value = get(ours)
        if value is None:
            raise FieldError(header[index[ours]], "value is empty")
        return value

    def amount(ours: str, *, allow_negative: bool) -> int:
        text = required(ours)
        column = header[index[ours]]
        if mapping.amount_unit == "yuan":
            return yuan(text, column, allow_negative=allow_negative)
        digits = text[1:] if allow_negative and text.startswith("-") else text
        if not digits.isdigit():
            raise FieldError(column, f"{text!r} is not a whole number of fen")
        return int(text)

    txn_id = required("channel_txn_id")
    amount_fen = amount("amount", allow_negative=False)
    fee_fen = amount("fee", allow_negative=True) if get("fee") is not None else 0
    occurred_at = local_time(
        required("occurred_at"), mapping.time_format, options.tz, header[index["occurred_at"]]
    )
    line_type = _coded(header, index, "type", get("type"), mapping.type_map, LineType)
    status = _coded(header, index, "status", get("status"), mapping.status_map, LineStatus)
    direction = _coded(
        header, index, "direction", get("direction"), mapping.direction_map, Direction
    )
    currency = (get("currency") or "CNY").upper()
    if len(currency) != 3 or not currency.isalpha():
        raise FieldError(header[index["currency"]], f"{currency!r} is not a currency code")
    return StatementLine(
        channel=options.channel,
        channel_txn_id=txn_id,
        order_no=get("order_no"),
        amount_fen=amount_fen,
        fee_fen=fee_fen,
        currency=currency,
        occurred_at=occurred_at,
        type=line_type or mapping.default_type,
        status=status or mapping.default_status,
        direction=direction,
        merchant_id=get("merchant_id"),
        refund_id=get("refund_id"),
        counterparty=get("counterparty"),
        description=get("description"),
        source_file=options.source_file,
        source_line=number,
        raw=raw,
    )


def _coded(
    header: list[str],
    index: dict[str, int],
    ours: str,
    value: str | None,
    table: dict[str, E],
    enum: type[E],
) -> E | None:
    if value is None:
        return None
    if value in table:
        return table[value]
    try:
        return enum(value.upper())
    except ValueError:
        pass
    allowed = ", ".join(sorted(table)) or ", ".join(e.value for e in enum)
    raise FieldError(header[index[ours]], f"unknown value {value!r}; expected one of {allowed}")
