"""The campus pack's kinds, in a module of their own: the command line's options take them,
and ``billfold campus --help`` should not import the pack (PDF, QR, the tuition reports)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["GrantKind", "NoticeFormat"]


class GrantKind(StrEnum):
    SCHOLARSHIP = "scholarship"  # 奖学金
    HARDSHIP = "hardship"  # 困难减免

    @property
    def label(self) -> str:
        return "奖学金" if self is GrantKind.SCHOLARSHIP else "困难减免"


class NoticeFormat(StrEnum):
    PDF = "pdf"  # one PDF, a page per student
    ZIP = "zip"  # a ZIP of PNG notices, one per student
