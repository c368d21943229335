"""Alipay RSA2: verifying asynchronous notifications (异步通知验签) and signing parameters.

Built to Alipay's public documentation (自行实现验签):

* A notification is an ``application/x-www-form-urlencoded`` POST whose ``charset``
  parameter names the encoding of its values (``utf-8`` or ``gbk``).
* The signed content is every parameter except ``sign`` and ``sign_type``, with empty values
  dropped, sorted by key in ASCII order, joined as ``key=value`` with ``&``. Values are the
  URL-decoded raw values, not re-encoded; the content is encoded in the form's charset.
* RSA2 is SHA256withRSA (PKCS#1 v1.5); ``sign`` is the base64 signature.

Amounts (``total_amount``, ``receipt_amount``, ...) are yuan strings like ``"12.34"`` and are
only ever read with :func:`billfold.money.parse_yuan`.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from enum import StrEnum
from urllib.parse import unquote_to_bytes, urlencode

from cryptography.hazmat.primitives.asymmetric import rsa

from billfold.channels.verification import (
    Mismatch,
    NotificationRejected,
    decode_base64_signature,
    rsa_sha256_sign,
    rsa_sha256_verify,
)
from billfold.errors import InvalidAmount, InvalidInput
from billfold.money import parse_yuan

__all__ = [
    "AlipayReason",
    "AlipayTradeStatus",
    "Mismatch",
    "NotificationRejected",
    "check_trade",
    "parse_form",
    "sign_content",
    "sign_params",
    "signed_notification_form",
    "trade_status",
    "verify_notification",
]

_UNSIGNED = frozenset({"sign", "sign_type"})
SIGN_TYPE = "RSA2"


class AlipayReason(StrEnum):
    """Stable codes for why an Alipay notification was rejected."""

    MISSING_SIGN = "missing_sign"
    UNSUPPORTED_SIGN_TYPE = "unsupported_sign_type"
    UNSUPPORTED_CHARSET = "unsupported_charset"
    MALFORMED_SIGNATURE = "malformed_signature"
    SIGNATURE_MISMATCH = "signature_mismatch"


class AlipayTradeStatus(StrEnum):
    """``trade_status`` of a trade notification (交易状态)."""

    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
    TRADE_CLOSED = "TRADE_CLOSED"
    TRADE_SUCCESS = "TRADE_SUCCESS"
    TRADE_FINISHED = "TRADE_FINISHED"

    @property
    def is_paid(self) -> bool:
        return self in (AlipayTradeStatus.TRADE_SUCCESS, AlipayTradeStatus.TRADE_FINISHED)


def _known_charset(name: str) -> str:
    try:
        codecs.lookup(name)
    except LookupError:
        raise InvalidInput(f"charset: {name!r} is not a known character encoding") from None
    return name


def _split_form(raw: bytes) -> list[tuple[bytes, bytes]]:
    pairs: list[tuple[bytes, bytes]] = []
    for chunk in raw.strip().split(b"&"):
        if chunk:
            name, _, value = chunk.partition(b"=")
            pairs.append((_unquote_plus(name), _unquote_plus(value)))
    return pairs


def _unquote_plus(data: bytes) -> bytes:
    return unquote_to_bytes(data.replace(b"+", b" "))


def parse_form(body: bytes | str, *, charset: str | None = None) -> dict[str, str]:
    """Parse a URL-encoded notification body into raw (decoded) values.

    The encoding is ``charset`` when given, else the form's own ``charset`` parameter, else
    UTF-8. A ``str`` body is taken as its UTF-8 bytes. Duplicate parameters and bytes that are
    not valid in the encoding are refused with :class:`InvalidInput` naming the parameter.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    pairs = _split_form(raw)
    declared = next((v for k, v in pairs if k == b"charset"), b"")
    encoding = _known_charset(charset or declared.decode("ascii", errors="replace") or "utf-8")
    params: dict[str, str] = {}
    for name_bytes, value_bytes in pairs:
        try:
            name = name_bytes.decode(encoding)
            value = value_bytes.decode(encoding)
        except UnicodeDecodeError:
            shown = name_bytes.decode(encoding, errors="replace")
            raise InvalidInput(f"parameter {shown!r}: not valid {encoding}") from None
        if name in params:
            raise InvalidInput(f"parameter {name!r}: appears more than once")
        params[name] = value
    return params


def sign_content(params: Mapping[str, str]) -> str:
    """The string Alipay signs: sorted ``key=value`` pairs joined with ``&``.

    ``sign`` and ``sign_type`` are left out, and so is every parameter whose value is empty.
    """
    kept = sorted(
        (key, value) for key, value in params.items() if key and value and key not in _UNSIGNED
    )
    return "&".join(f"{key}={value}" for key, value in kept)


def _content_bytes(params: Mapping[str, str]) -> bytes:
    encoding = params.get("charset") or "utf-8"
    try:
        return sign_content(params).encode(_known_charset(encoding))
    except (InvalidInput, UnicodeEncodeError) as exc:
        raise NotificationRejected(
            AlipayReason.UNSUPPORTED_CHARSET,
            f"the parameters cannot be encoded as charset {encoding!r}: {exc}",
        ) from None


def sign_params(params: Mapping[str, str], private_key: rsa.RSAPrivateKey) -> str:
    """Base64 RSA2 signature of ``params`` (in their ``charset``, UTF-8 when absent)."""
    return rsa_sha256_sign(_content_bytes(params), private_key)


def verify_notification(
    params: Mapping[str, str], alipay_public_key: rsa.RSAPublicKey
) -> dict[str, str]:
    """Verify an Alipay RSA2 notification; returns its parameters when the signature holds.

    Raises :class:`NotificationRejected` (a ``SignatureInvalid``) with a ``reason`` code.
    """
    sign = params.get("sign", "")
    if not sign:
        raise NotificationRejected(AlipayReason.MISSING_SIGN, "missing sign")
    sign_type = params.get("sign_type", "")
    if sign_type != SIGN_TYPE:
        shown = repr(sign_type) if sign_type else "missing"
        raise NotificationRejected(
            AlipayReason.UNSUPPORTED_SIGN_TYPE,
            f"sign_type is {shown}; only RSA2 (SHA256withRSA) is accepted",
        )
    content = _content_bytes(params)
    signature = decode_base64_signature(sign)
    if signature is None:
        raise NotificationRejected(AlipayReason.MALFORMED_SIGNATURE, "sign is not base64")
    if not rsa_sha256_verify(content, signature, alipay_public_key):
        raise NotificationRejected(
            AlipayReason.SIGNATURE_MISMATCH,
            "signature does not match the parameters for the configured Alipay public key",
        )
    return dict(params)


def check_trade(
    params: Mapping[str, str],
    *,
    app_id: str,
    seller_id: str,
    out_trade_no: str,
    total_fen: int,
) -> list[Mismatch]:
    """Compare a verified trade notification with what was ordered; empty when all match."""
    mismatches: list[Mismatch] = []
    expected_text = (("app_id", app_id), ("seller_id", seller_id), ("out_trade_no", out_trade_no))
    for field, expected in expected_text:
        got = params.get(field)
        if got != expected:
            mismatches.append(Mismatch(field, expected, got))
    raw_total = params.get("total_amount")
    if raw_total is None:
        mismatches.append(Mismatch("total_amount", total_fen, None))
    else:
        try:
            total: int | str = parse_yuan(raw_total, field="total_amount")
        except InvalidAmount:
            total = raw_total
        if total != total_fen:
            mismatches.append(Mismatch("total_amount", total_fen, total))
    return mismatches


def trade_status(params: Mapping[str, str]) -> AlipayTradeStatus:
    """The notification's ``trade_status``; an unknown or missing one is invalid input."""
    raw = params.get("trade_status", "")
    try:
        return AlipayTradeStatus(raw)
    except ValueError:
        known = ", ".join(status.value for status in AlipayTradeStatus)
        raise InvalidInput(f"trade_status: {raw!r} is not one of {known}") from None


def signed_notification_form(
    params: Mapping[str, str], private_key: rsa.RSAPrivateKey, *, charset: str = "utf-8"
) -> bytes:
    """A notification body signed like Alipay signs it (for tests of notification endpoints).

    Adds ``charset`` (unless present), ``sign_type=RSA2`` and ``sign``; values are
    URL-encoded in the charset.
    """
    signed = {**params}
    signed.setdefault("charset", charset)
    signed["sign_type"] = SIGN_TYPE
    signed["sign"] = sign_params(signed, private_key)
    return urlencode(signed, encoding=signed["charset"]).encode("ascii")
