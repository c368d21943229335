"""Text that may be stored: no control characters, no lone surrogates.

PostgreSQL refuses NUL in text (and a lone UTF-16 surrogate cannot be encoded at all);
SQLite would store either silently. Identifiers, names and reasons are one line of text, so
every edge (API bodies, paths and queries, CLI options, channel notifications) refuses
Unicode categories Cc (C0, DEL, C1 — NUL, tab, newline …) and Cs with this one check.
"""

from __future__ import annotations

import unicodedata

__all__ = ["first_control_character"]

_REFUSED = frozenset({"Cc", "Cs"})


def first_control_character(text: str) -> str | None:
    """``"U+0000"`` for the first refused character in ``text``, or None when it is clean."""
    for ch in text:
        if (ch < " " or "\x7f" <= ch <= "\x9f" or "\ud800" <= ch <= "\udfff") and (
            unicodedata.category(ch) in _REFUSED
        ):
            return f"U+{ord(ch):04X}"
    return None
