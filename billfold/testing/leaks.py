"""Finding personal data and secrets that escaped masking in text someone will read (logs).

``find_leaks(text)`` lists what it finds: resident ID numbers (18 characters, valid check
digit and birth date), mobile phone numbers (``1[3-9]`` + 9 digits), bank card numbers
(16–19 digits passing Luhn), billfold API key secrets (``bf_<key id>_<secret>``), PEM
private keys, and any of the ``secrets`` given (channel keys, webhook secrets). A number
glued to letters or digits is part of something else (an order number, a hex id) and is not
reported. Tests of an embedding application can grep their own logs with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from billfold.masking import is_id_number, luhn_valid

__all__ = ["find_leaks"]

_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
_CARD = re.compile(r"(?<![0-9A-Za-z])\d{16,19}(?![0-9A-Za-z])")
_API_SECRET = re.compile(r"\bbf_[0-9a-f]{6,32}_(?!\[redacted\])[A-Za-z0-9_-]{16,}")
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def find_leaks(text: str, secrets: Iterable[str] = ()) -> list[str]:
    """Every unmasked ID, phone or card number, API key secret, private key or given secret
    in ``text``, as ``kind: value`` (empty when nothing leaked)."""
    found = [f"id_number: {m[0]}" for m in _ID.finditer(text) if is_id_number(m[0])]
    found += [f"phone: {m[0]}" for m in _PHONE.finditer(text)]
    found += [f"card: {m[0]}" for m in _CARD.finditer(text) if luhn_valid(m[0])]
    found += [f"api_key: {m[0]}" for m in _API_SECRET.finditer(text)]
    found += ["private_key" for _ in _PEM.finditer(text)]
    found += [f"secret: {s[:4]}…" for s in secrets if len(s) >= 8 and s in text]
    return found
