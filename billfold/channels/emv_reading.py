"""Reading any EMV MPM payload liberally: what it says, and where it departs from the spec.

:func:`billfold.channels.emv.decode` is strict: it builds an :class:`EmvPayload`, which is
what billfold itself would write, and refuses everything else. That is right where billfold
builds a payload or takes a payment, and wrong for a clerk who scans a national scheme's
sticker and wants to know what is in it. :func:`read_payload` needs only what makes the
text trustworthy: well-formed data objects (ID, two-digit length, value; no ID twice) and
tag 63 last with a matching CRC. Anything else the spec asks for — tag 00 first with
"01", tags 52/53/58/59/60 present, lengths and character sets, an amount that is not
zero — is reported as a *deviation* and reading goes on. An amount is read only when it is
exact (``"12.30"``, ``"12.300"``); one that is not a whole number of fen is reported and
left unread, never rounded.

:func:`require_payable` is the strict door for paying: the payload must pass
:func:`emv.decode` and be in CNY.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from billfold.channels.emv import EmvPayload, decode
from billfold.channels.emv_format import (
    ADDITIONAL_FIELDS,
    AMOUNT,
    ANS,
    MANDATORY_TAGS,
    Initiation,
    TipIndicator,
    check_crc,
    parse_tlv,
)
from billfold.errors import InvalidInput
from billfold.money import format_yuan

__all__ = ["EmvReading", "read_payload", "require_payable"]

_INITIATION = {member.value: member.name.lower() for member in Initiation}
_TIP = {member.value: member.name.lower() for member in TipIndicator}
_ADDITIONAL = {sub: name for sub, name, _, _ in ADDITIONAL_FIELDS}
_MAX_LENGTH = {"59": ("merchant name", 25), "60": ("merchant city", 15), "61": ("postal code", 10)}
CNY = "156"


@dataclass(frozen=True, slots=True)
class EmvReading:
    """What a payload says (``fields``, JSON-ready) and how it departs from the spec."""

    fields: dict[str, Any]
    deviations: list[str] = field(default_factory=list)

    @property
    def conforms(self) -> bool:
        return not self.deviations


def read_payload(text: str) -> EmvReading:
    """Read ``text`` liberally; raises :class:`InvalidInput` only for a broken structure or CRC."""
    if not isinstance(text, str):
        raise InvalidInput(f"EMV payload must be a string, got {type(text).__name__}")
    objects = parse_tlv(text)
    check_crc(text, objects)
    deviations: list[str] = []
    root = objects[:-1]
    if not root or root[0].tag != "00":
        deviations.append("tag 00 (payload format indicator) is not the first data object")
    found = {obj.tag: obj.value for obj in root}
    indicator = found.get("00")
    if indicator is not None and indicator != "01":
        deviations.append(
            f"tag 00 (payload format indicator) is {indicator!r}; the spec defines '01'"
        )
    for tag, title in MANDATORY_TAGS:
        if tag not in found:
            deviations.append(f"tag {tag} ({title}) is missing")
    fields = _fields(found, text, deviations)
    if not deviations:
        try:
            decode(text)
        except InvalidInput as exc:  # a rule checked only by the strict decoder
            deviations.append(exc.message)
    return EmvReading(fields, deviations)


def require_payable(text: str) -> EmvPayload:
    """The strict payload behind a payment: it must pass :func:`emv.decode` and be CNY."""
    payload = decode(text)
    if payload.currency != CNY:
        raise InvalidInput(
            f"tag 53 (transaction currency) is {payload.currency}; billfold takes payments "
            f"in CNY ({CNY}) only"
        )
    return payload


def _fields(found: dict[str, str], text: str, deviations: list[str]) -> dict[str, Any]:
    initiation = found.get("01")
    if initiation is not None and initiation not in _INITIATION:
        deviations.append(f"tag 01 (point of initiation) is {initiation!r}, not '11' or '12'")
    amount_fen = _amount(found.get("54"), "54", "transaction amount", deviations)
    for tag, (title, limit) in _MAX_LENGTH.items():
        value = found.get(tag)
        if value is not None and len(value) > limit:
            deviations.append(f"tag {tag} ({title}) is {len(value)} characters, at most {limit}")
        if value is not None and not ANS.fullmatch(value):
            deviations.append(f"tag {tag} ({title}) is not printable ASCII")
    for tag, title in (("52", "merchant category code"), ("53", "transaction currency")):
        value = found.get(tag)
        size = 4 if tag == "52" else 3
        if value is not None and not (len(value) == size and value.isdigit()):
            deviations.append(f"tag {tag} ({title}) {value!r} is not {size} digits")
    tip = found.get("55")
    return {
        "payload_format_indicator": found.get("00"),
        "initiation": None if initiation is None else _INITIATION.get(initiation, initiation),
        "network_accounts": {t: v for t, v in found.items() if "02" <= t <= "25"},
        "account_templates": {
            t: _template(t, v, "merchant account information", deviations)
            for t, v in found.items()
            if "26" <= t <= "51"
        },
        "merchant_category_code": found.get("52"),
        "currency": found.get("53"),
        "amount": None if amount_fen is None else format_yuan(amount_fen),
        "amount_fen": amount_fen,
        "tip": None if tip is None else _TIP.get(tip, tip),
        "convenience_fee_fen": _amount(found.get("56"), "56", "convenience fee", deviations),
        "convenience_fee_percentage": found.get("57"),
        "country": found.get("58"),
        "merchant_name": found.get("59"),
        "merchant_city": found.get("60"),
        "postal_code": found.get("61"),
        "additional_data": _additional(found.get("62"), deviations),
        "language": _language(found.get("64"), deviations),
        "unknown": {t: v for t, v in found.items() if t >= "65"},
        "crc": text[-4:].upper(),
    }


def _amount(text: str | None, tag: str, title: str, deviations: list[str]) -> int | None:
    """Fen when ``text`` is an exact amount; otherwise a deviation and ``None``."""
    if text is None:
        return None
    label = f"tag {tag} ({title})"
    match = AMOUNT.fullmatch(text)
    if match is None:
        deviations.append(f"{label} {text!r} is not an amount; it is not read")
        return None
    whole, decimals = match.group(1), match.group(2) or ""
    if decimals[2:].strip("0"):
        deviations.append(f"{label} {text!r} is not a whole number of fen; it is not read")
        return None
    if len(decimals) > 2:
        deviations.append(f"{label} {text!r} has more than 2 decimals")
    if len(text) > 13:
        deviations.append(f"{label} {text!r} is longer than 13 characters")
    fen = int(whole) * 100 + int(decimals[:2].ljust(2, "0"))
    if fen == 0:
        deviations.append(f"{label} is zero; the spec says to leave it out")
    return fen


def _template(tag: str, value: str, title: str, deviations: list[str]) -> dict[str, str] | str:
    try:
        subs = {obj.tag: obj.value for obj in parse_tlv(value, where=f"tag {tag} ({title})")}
    except InvalidInput as exc:
        deviations.append(f"{exc.message}; kept as raw text")
        return value
    if "26" <= tag <= "51" and "00" not in subs:
        deviations.append(f"tag {tag} ({title}) has no sub-tag 00 (globally unique identifier)")
    return subs


def _additional(value: str | None, deviations: list[str]) -> dict[str, str] | str | None:
    if value is None:
        return None
    subs = _template("62", value, "additional data", deviations)
    if isinstance(subs, str):
        return subs
    for sub, text in subs.items():
        if sub in _ADDITIONAL and sub != "09" and len(text) > 25:
            deviations.append(f"tag 62.{sub} ({_ADDITIONAL[sub]}) is longer than 25 characters")
    return {_ADDITIONAL.get(sub, sub): text for sub, text in subs.items()}


def _language(value: str | None, deviations: list[str]) -> dict[str, str] | str | None:
    if value is None:
        return None
    subs = _template("64", value, "language template", deviations)
    if isinstance(subs, str):
        return subs
    names = {"00": "language", "01": "name", "02": "city"}
    for sub in ("00", "01"):
        if sub not in subs:
            deviations.append(f"tag 64 (language template) has no sub-tag {sub} ({names[sub]})")
    return {names.get(sub, sub): text for sub, text in subs.items()}
