"""The EMV MPM wire format: data objects, the walk over them, the CRC seal, the tag table.

Shared by the strict decoder (:mod:`billfold.channels.emv`) and the liberal reader
(:mod:`billfold.channels.emv_reading`): both walk the same data objects, check the same CRC
and name tags from the same table, so there is one implementation of each.

A data object is an ID (2 digits), a length (2 decimal digits, 01-99) and a value. Lengths
count characters (Python code points), not bytes; the CRC is CRC-16/CCITT-FALSE over the
UTF-8 bytes of everything up to and including "6304".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from billfold.errors import InvalidInput

__all__ = [
    "ADDITIONAL_FIELDS",
    "MANDATORY_TAGS",
    "DataObject",
    "Initiation",
    "TipIndicator",
    "check_crc",
    "crc16_ccitt_false",
    "parse_tlv",
    "tag_range",
    "tlv",
]

TWO_DIGITS = re.compile(r"[0-9]{2}")
AMOUNT = re.compile(r"([0-9]+)(?:\.([0-9]*))?")  # digits with at most one "."
ANS = re.compile(r"[\x20-\x7e]*")  # the EMV common character set: printable ASCII


class Initiation(StrEnum):
    """Point of initiation method (ID "01")."""

    STATIC = "11"  # the same code is shown for many transactions
    DYNAMIC = "12"  # a new code is shown for each transaction


class TipIndicator(StrEnum):
    """Tip or convenience indicator (ID "55")."""

    PROMPT = "01"  # the app asks the payer for a tip
    FIXED_FEE = "02"  # a fixed convenience fee follows in ID "56"
    PERCENTAGE_FEE = "03"  # a percentage convenience fee follows in ID "57"


def tag_range(first: int, last: int) -> list[str]:
    """The IDs ``first``..``last`` as two-digit strings."""
    return [f"{n:02d}" for n in range(first, last + 1)]


# Root tags a payload must carry, with their titles.
MANDATORY_TAGS = (
    ("52", "merchant category code"),
    ("53", "transaction currency"),
    ("58", "country code"),
    ("59", "merchant name"),
    ("60", "merchant city"),
)
NETWORK_TAGS = tag_range(2, 25)  # merchant account information, primitive (card networks)
TEMPLATE_TAGS = tag_range(26, 51)  # merchant account information templates
UNKNOWN_TAGS = tag_range(65, 99)  # RFU and unreserved templates
# Sub-IDs of the additional data template (ID "62"): (sub-ID, field name, title, max length).
ADDITIONAL_FIELDS = (
    ("01", "bill_number", "bill number", 25),
    ("02", "mobile_number", "mobile number", 25),
    ("03", "store_label", "store label", 25),
    ("04", "loyalty_number", "loyalty number", 25),
    ("05", "reference_label", "reference label", 25),
    ("06", "customer_label", "customer label", 25),
    ("07", "terminal_label", "terminal label", 25),
    ("08", "purpose", "purpose of transaction", 25),
    ("09", "consumer_data_request", "additional consumer data request", 3),
)


@dataclass(frozen=True, slots=True)
class DataObject:
    """One ID/length/value triple; ``position`` is where its ID starts in the decoded text."""

    tag: str
    value: str
    position: int = 0


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no xor-out."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def tlv(tag: str, value: str) -> str:
    """Write one data object: ``tlv("59", "BEST TRANSPORT")`` -> ``"5914BEST TRANSPORT"``."""
    if not TWO_DIGITS.fullmatch(tag):
        raise InvalidInput(f"EMV data object ID must be two digits, got {tag!r}")
    if not 1 <= len(value) <= 99:
        raise InvalidInput(
            f"tag {tag}: value is {len(value)} characters; a data object holds 1 to 99"
        )
    return f"{tag}{len(value):02d}{value}"


def parse_tlv(text: str, *, where: str = "payload", base: int = 0) -> list[DataObject]:
    """Split ``text`` into data objects; errors name ``where`` and the position (+ ``base``)."""
    objects: list[DataObject] = []
    seen: dict[str, int] = {}
    i = 0
    while i < len(text):
        pos = base + i
        if len(text) - i < 4:
            raise InvalidInput(
                f"{where} position {pos}: truncated data object {text[i:]!r}: "
                "an ID and a length need 4 characters"
            )
        tag, length_text = text[i : i + 2], text[i + 2 : i + 4]
        if not TWO_DIGITS.fullmatch(tag):
            raise InvalidInput(f"{where} position {pos}: ID {tag!r} is not two digits")
        if not TWO_DIGITS.fullmatch(length_text):
            raise InvalidInput(
                f"{where} position {pos + 2}: length {length_text!r} of tag {tag} is not two digits"
            )
        length = int(length_text)
        if length == 0:
            raise InvalidInput(f"{where} position {pos + 2}: tag {tag} has length 00")
        if i + 4 + length > len(text):
            raise InvalidInput(
                f"{where} position {pos + 2}: tag {tag} declares length {length} but only "
                f"{len(text) - i - 4} characters remain"
            )
        if tag in seen:
            raise InvalidInput(
                f"{where} position {pos}: tag {tag} appears twice (first at position {seen[tag]})"
            )
        seen[tag] = pos
        objects.append(DataObject(tag, text[i + 4 : i + 4 + length], pos))
        i += 4 + length
    return objects


def check_crc(text: str, objects: list[DataObject]) -> None:
    """Tag 63 must be the last data object and hold the CRC of everything before its value."""
    crc_objects = [obj for obj in objects if obj.tag == "63"]
    if not crc_objects:
        raise InvalidInput("EMV payload has no CRC (tag 63) at the end")
    crc = crc_objects[0]
    if crc is not objects[-1]:
        after = objects[objects.index(crc) + 1]
        raise InvalidInput(
            f"tag 63 (CRC) at position {crc.position} must be the last data object, "
            f"but tag {after.tag} follows at position {after.position}"
        )
    if not re.fullmatch(r"[0-9A-Fa-f]{4}", crc.value):
        raise InvalidInput(
            f"tag 63 (CRC) at position {crc.position} must be 4 hex digits, found {crc.value!r}"
        )
    expected = f"{crc16_ccitt_false(text[: crc.position + 4].encode('utf-8')):04X}"
    if crc.value.upper() != expected:
        raise InvalidInput(
            f"tag 63 (CRC) at position {crc.position}: expected {expected}, found {crc.value}"
        )
