"""Masking of personal data for logs, exports and screens that do not need it whole."""

from __future__ import annotations

import re

__all__ = [
    "is_id_number",
    "luhn_valid",
    "mask_account",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "mask_value",
    "scrub_text",
]


def mask_name(name: str | None) -> str:
    """``张三丰`` → ``张**``; ``Li Lei`` → ``L*****``."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str | None) -> str:
    """``13812345678`` → ``138****5678``; short numbers keep only their last two digits."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) >= 7:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * max(0, len(digits) - 2) + digits[-2:]


def mask_id_number(id_number: str | None) -> str:
    """Resident ID ``110101199003071234`` → ``110101********1234``."""
    if not id_number:
        return ""
    value = id_number.strip()
    if len(value) <= 8:
        return "*" * (len(value) - 2) + value[-2:] if len(value) > 2 else "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_account(account: str | None) -> str:
    """Bank card / account number: keep the last four characters."""
    if not account:
        return ""
    value = account.replace(" ", "")
    if len(value) <= 4:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]


def mask_value(kind: str, value: str | None) -> str:
    """Mask ``value`` by the kind of personal data it is (name, phone, id_number, account)."""
    return {
        "name": mask_name,
        "phone": mask_phone,
        "id_number": mask_id_number,
        "account": mask_account,
    }.get(kind, mask_account)(value)


# -- free text ---------------------------------------------------------------------------------
# Personal data inside free text (a log message, an exception, SQL parameters in a traceback)
# is found by its shape. A number glued to letters is part of an identifier billfold made — an
# order number is ``BF`` + a 14-digit UTC time + 10 hex digits, so its digits can run to 18
# (``BF20260901123456`` + ``9680CB3D4F``) — and is left alone; only a resident ID number with a
# valid check digit and birth date is masked even there.

_ID_SHAPE = re.compile(r"(?<!\d)(\d{17}[\dXx])(?!\d)")
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_CARD = re.compile(r"(?<![0-9A-Za-z])\d{16,19}(?![0-9A-Za-z])")
_API_KEY = re.compile(r"\b(bf_[0-9a-f]{6,32})_[A-Za-z0-9_-]{16,}")
_PEM = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def is_id_number(text: str) -> bool:
    """True for an 18-character resident ID number (GB 11643) whose check digit and birth
    date are valid."""
    if len(text) != 18 or not text[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(text[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != text[17].upper():
        return False
    year, month, day = int(text[6:10]), int(text[10:12]), int(text[12:14])
    return 1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` pass the Luhn check (bank card numbers do)."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _id_match(match: re.Match[str]) -> str:
    value, text, start = match.group(1), match.string, match.start(1)
    glued = (start > 0 and text[start - 1].isalpha()) or (
        match.end(1) < len(text) and text[match.end(1)].isalpha()
    )
    if glued and not is_id_number(value):
        return value
    return mask_id_number(value)


#: What each number pattern needs at least: 11 digits in a row (a phone number; ID and card
#: numbers are longer). Text without them (most of what is logged) skips three searches.
_DIGIT_RUN = re.compile(r"\d{11}")


def scrub_text(text: str) -> str:
    """``text`` with ID, phone and card numbers masked and API key secrets and private keys
    removed, wherever they appear in it."""
    if "-----BEGIN" in text:
        text = _PEM.sub("[redacted private key]", text)
    if "bf_" in text:
        text = _API_KEY.sub(r"\1_[redacted]", text)
    if _DIGIT_RUN.search(text) is None:  # what the three patterns below could match
        return text
    text = _ID_SHAPE.sub(_id_match, text)
    text = _CARD.sub(lambda m: mask_account(m[0]) if luhn_valid(m[0]) else m[0], text)
    return _PHONE.sub(lambda m: mask_phone(m[0]), text)
