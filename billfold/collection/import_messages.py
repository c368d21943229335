"""A bill file's line errors as a clerk reads them: the line number, the field's Chinese name
and the message in Chinese.

The importer's errors are ``line N: field: message`` texts (``str(LineError)``, as
:class:`~billfold.errors.ImportFailed` carries them, in English for logs and the API). Here
each known message is matched by its shape and said again in Chinese; a message of a shape
not known here keeps its words after "无法读取：" rather than being lost. Field names are
shown through ``label("bill_field", field)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from billfold.labels import label

__all__ = ["ShownLineError", "shown_line_error"]

_LINE = re.compile(r"line (?P<line>\d+): (?P<field>[^:]+): (?P<message>.*)", re.S)
_V = r"(?P<v>'.*'|\".*\")"

#: (the English message's shape, the Chinese text with its parts) — first match wins.
_SAID: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.S), chinese)
    for pattern, chinese in (
        (r"is empty|amount is empty|a value is required", "不能为空"),
        (_V + r" is not an amount like '12\.34'.*", "{v} 不是有效金额（应如 12.34）"),
        (_V + r" has more than two decimals", "{v} 超过两位小数"),
        (_V + r" is negative", "{v} 不能为负数"),
        (_V + r" is over the largest amount, (?P<max>.+)", "{v} 超过最大金额 {max}"),
        (_V + r" is not a date like 2026-09-01", "{v} 不是有效日期（应如 2026-09-01）"),
        (_V + r" is not yes/no", "{v} 应为“是”或“否”"),
        (
            _V + r" is not one of fixed, open, fine",
            "{v} 应为 fixed（定额）、open（不定额）或 fine（罚款）",
        ),
        (
            _V + r" is not like code:名称=12\.34",
            "{v} 应写成 代码:名称=金额，如 tuition:学费=4500.00",
        ),
        (
            _V + r" is in scientific notation.*",
            "{v} 是科学计数法：表格软件把长数字变成了近似值，数字已丢失；"
            "请把该列设为文本后重新导出",
        ),
        (r"(?P<no>.+) repeats line (?P<n>\d+)", "账单号 {no} 与第 {n} 行重复"),
        (
            r"(?P<no>.+) already exists with different content.*",
            "账单 {no} 已存在且内容不同；请作废或修改原账单，不要重复导入",
        ),
        (r"expected (?P<a>\d+) fields, found (?P<b>\d+)", "应有 {a} 列，实际 {b} 列"),
        (r"unknown column\(s\) ignored: (?P<c>.+)", "已忽略无法识别的列：{c}"),
        (r"unknown column\(s\): (?P<c>.+)", "无法识别的列：{c}"),
        (r"missing column\(s\): (?P<c>.+)", "缺少列：{c}"),
        (r"the file is empty", "文件为空"),
        (
            r"an open-amount bill takes min_amount/max_amount, not amount",
            "不定额账单请填写最低金额和最高金额，不填金额",
        ),
    )
)


@dataclass(frozen=True, slots=True)
class ShownLineError:
    line: int  # 0 when the error names no line
    field: str  # the field's Chinese name
    message: str  # in Chinese


def shown_line_error(text: str) -> ShownLineError:
    """``"line 3: amount: 'abc' is not an amount like '12.34'"`` →
    ``ShownLineError(3, "金额", "'abc' 不是有效金额（应如 12.34）")``."""
    found = _LINE.fullmatch(text.strip())
    if found is None:
        return ShownLineError(0, "", _chinese(text.strip()))
    field = found["field"].strip()
    head, _, rest = field.partition(" ")  # "items tuition": the item's amount
    name = label("bill_field", head) + (f" {rest}" if rest else "")
    return ShownLineError(int(found["line"]), name, _chinese(found["message"].strip()))


def _chinese(message: str) -> str:
    for pattern, chinese in _SAID:
        matched = pattern.fullmatch(message)
        if matched is not None:
            return chinese.format(**matched.groupdict())
    return f"无法读取：{message}"
