"""What channel notification verifiers share: the rejection error, mismatch records, RSA keys.

A verifier either returns the verified content or raises :class:`NotificationRejected`
(a :class:`~billfold.errors.SignatureInvalid`) whose ``reason`` is a stable short code and
whose message says exactly what was wrong. Comparing a verified notification with what the
engine expected (merchant, order number, amount) yields :class:`Mismatch` values, not errors.

SHA256withRSA here is always RSASSA-PKCS1-v1_5 over SHA-256 with a base64 signature, the
scheme both WeChat Pay API v3 and Alipay RSA2 use.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from billfold.errors import ConfigurationError, SignatureInvalid

__all__ = [
    "Mismatch",
    "NotificationRejected",
    "certificate_serial",
    "decode_base64_signature",
    "load_private_key",
    "load_public_key",
    "rsa_sha256_sign",
    "rsa_sha256_verify",
]


class NotificationRejected(SignatureInvalid):
    """A channel notification failed verification; ``reason`` is a stable short code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = str(reason)


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A verified notification disagrees with what the engine expected for ``field``.

    ``got`` is ``None`` when the notification does not carry the field at all.
    """

    field: str
    expected: str | int
    got: str | int | None

    def __str__(self) -> str:
        return f"{self.field}: expected {self.expected!r}, got {self.got!r}"


def _pem_bytes(data: bytes | str) -> bytes:
    return data.encode("ascii", errors="replace") if isinstance(data, str) else data


def load_public_key(data: bytes | str) -> rsa.RSAPublicKey:
    """Load an RSA public key from PEM text holding a public key or an X.509 certificate.

    Also accepts the bare base64 body of a public key (how Alipay's console shows it).
    Raises :class:`ConfigurationError` saying what the text was not.
    """
    raw = _pem_bytes(data).strip()
    key: object
    try:
        if b"-----BEGIN CERTIFICATE-----" in raw:
            key = x509.load_pem_x509_certificate(raw).public_key()
        elif raw.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(raw)
        else:
            der = base64.b64decode(b"".join(raw.split()), validate=True)
            key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ConfigurationError(
            f"not a PEM public key, X.509 certificate or base64 public key: {exc}"
        ) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigurationError(f"expected an RSA public key, got {type(key).__name__}")
    return key


def load_private_key(data: bytes | str, password: bytes | None = None) -> rsa.RSAPrivateKey:
    """Load an RSA private key from PEM (PKCS#8 or PKCS#1), or from bare base64 PKCS#8."""
    raw = _pem_bytes(data).strip()
    key: object
    try:
        if raw.startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(raw, password=password)
        else:
            der = base64.b64decode(b"".join(raw.split()), validate=True)
            key = serialization.load_der_private_key(der, password=password)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ConfigurationError(f"not a PEM or base64 RSA private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(f"expected an RSA private key, got {type(key).__name__}")
    return key


def certificate_serial(pem: bytes | str) -> str:
    """The serial number of a PEM certificate as WeChat Pay writes it: upper-case hex."""
    try:
        cert = x509.load_pem_x509_certificate(_pem_bytes(pem).strip())
    except ValueError as exc:
        raise ConfigurationError(f"not a PEM X.509 certificate: {exc}") from None
    return format(cert.serial_number, "X")


def rsa_sha256_sign(message: bytes, private_key: rsa.RSAPrivateKey) -> str:
    """Base64 of the SHA256withRSA (PKCS#1 v1.5) signature of ``message``."""
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def rsa_sha256_verify(message: bytes, signature: bytes, public_key: rsa.RSAPublicKey) -> bool:
    """True when ``signature`` (raw bytes) is a valid SHA256withRSA signature of ``message``."""
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def decode_base64_signature(text: str) -> bytes | None:
    """Strict base64 decoding of a signature; ``None`` when it is not base64 at all."""
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
