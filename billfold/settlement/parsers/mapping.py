"""The column mapping of the generic statement reader: which column holds what, validated.

A mapping is a JSON object; the format is documented with examples in docs/settlement.md
("Bank statement exports"). It names, for each of our fields, the header of the column
that holds it, plus a few settings::

    {
      "title": "某银行 企业网银 账户明细",       # for people; ignored by the reader
      "columns": {"channel_txn_id": "流水号", "order_no": "订单号", "amount": "金额",
                  "occurred_at": "交易时间", "type": "类型", "fee": "手续费"},
      "amount_unit": "yuan",                 # or "fen" (whole numbers)
      "thousands_separator": ",",            # "1,234.56" in amount columns (default: none)
      "time_format": "%Y-%m-%d %H:%M:%S",    # strptime; %z makes the zone explicit
      "type_map": {"支付": "PAYMENT", "退款": "REFUND"},
      "status_map": {"成功": "SUCCESS", "失败": "FAILED"},
      "delimiter": ",",
      "skip_lines": 0,                       # lines above the header row
      "header_search": 0,                    # or N: the header is the first of the first N
                                             # rows that holds every mapped column
      "stop_at": ["合计"],                    # a row starting with one of these ends the table
      "comment_prefix": "#"                  # such lines are skipped anywhere
    }

Column names may also be given at the top level instead of under ``columns``. Required:
``channel_txn_id``, ``occurred_at`` and either ``amount`` or both ``credit_amount`` and
``debit_amount`` (a bank export's 贷方发生额/借方发生额: exactly one of them holds the
amount, and it gives the direction). ``occurred_at`` may name a list of columns, joined
with a space before ``time_format`` reads them (a date column and a time column).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from billfold.errors import ConfigurationError
from billfold.settlement.statement import Direction, LineStatus, LineType

__all__ = ["FIELDS", "CsvMapping"]

E = TypeVar("E", LineType, LineStatus, Direction)

FIELDS = (
    "channel_txn_id",
    "amount",
    "credit_amount",
    "debit_amount",
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
SETTINGS = (
    "columns",
    "amount_unit",
    "thousands_separator",
    "time_format",
    "type_map",
    "status_map",
    "direction_map",
    "default_type",
    "default_status",
    "delimiter",
    "skip_lines",
    "header_search",
    "stop_at",
    "comment_prefix",
)
#: Keys for people (a preset's name and notes); the reader ignores them.
DESCRIPTIVE = ("title", "description_zh", "notes")


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


def _columns(raw: Mapping[str, Any]) -> tuple[dict[str, str], tuple[str, ...]]:
    """The column of each field, and the columns ``occurred_at`` is joined from."""
    given = dict(raw.get("columns") or {})
    given.update({k: v for k, v in raw.items() if k in FIELDS})
    when = given.pop("occurred_at", None)
    if isinstance(when, list) and when and all(isinstance(w, str) and w.strip() for w in when):
        joined = tuple(w.strip() for w in when)
    elif isinstance(when, str) and when.strip():
        joined = (when.strip(),)
    elif when is None:
        raise ConfigurationError("mapping: columns.occurred_at is required")
    else:
        raise ConfigurationError("mapping: columns.occurred_at must be a name or a list of names")
    columns = _str_map(given, "columns")
    bad = [k for k in columns if k not in FIELDS]
    if bad:
        raise ConfigurationError(f"mapping: columns has unknown field {bad[0]!r}")
    if not columns.get("channel_txn_id"):
        raise ConfigurationError("mapping: columns.channel_txn_id is required")
    split = [k for k in ("credit_amount", "debit_amount") if columns.get(k)]
    if columns.get("amount") and split:
        raise ConfigurationError("mapping: give amount or credit_amount/debit_amount, not both")
    if not columns.get("amount") and len(split) != 2:
        raise ConfigurationError(
            "mapping: columns.amount is required (or both credit_amount and debit_amount)"
        )
    columns["occurred_at"] = joined[0]
    return columns, joined


def _whole(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"mapping: {key} must be a whole number >= 0")
    return value


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
    time_columns: tuple[str, ...] = ()
    thousands_separator: str = ""
    header_search: int = 0
    stop_at: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> CsvMapping:
        """Validate a user's mapping; raises :class:`ConfigurationError` naming the key."""
        if not isinstance(raw, Mapping):
            raise ConfigurationError("mapping: expected a JSON object")
        unknown = [k for k in raw if k not in FIELDS + SETTINGS + DESCRIPTIVE]
        if unknown:
            raise ConfigurationError(
                f"mapping: unknown key {unknown[0]!r}; fields are {', '.join(FIELDS)}"
            )
        columns, time_columns = _columns(raw)
        unit = raw.get("amount_unit", "yuan")
        if unit not in ("yuan", "fen"):
            raise ConfigurationError(f"mapping: amount_unit must be 'yuan' or 'fen', got {unit!r}")
        delimiter = raw.get("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise ConfigurationError("mapping: delimiter must be one character")
        separator = raw.get("thousands_separator", "")
        if separator not in ("", ",", " ", "'"):
            raise ConfigurationError("mapping: thousands_separator must be '', ',', ' ' or \"'\"")
        stop_at = raw.get("stop_at", [])
        if not isinstance(stop_at, list) or not all(isinstance(x, str) and x for x in stop_at):
            raise ConfigurationError("mapping: stop_at must be a list of non-empty strings")
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
            skip_lines=_whole(raw, "skip_lines"),
            comment_prefix=comment or None,
            time_columns=time_columns,
            thousands_separator=separator,
            header_search=_whole(raw, "header_search"),
            stop_at=tuple(stop_at),
        )

    def wanted_columns(self) -> set[str]:
        return set(self.columns.values()) | set(self.time_columns)
