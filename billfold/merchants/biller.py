"""Billers: who money is collected for, and the rules they set."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billfold.clock import DEFAULT_TZ
from billfold.errors import InvalidInput
from billfold.masking import mask_account
from billfold.merchants.fees import FeeRule

__all__ = [
    "Biller",
    "BillerKind",
    "BillerStatus",
    "FeeContext",
    "Limits",
    "LookupCheck",
    "SettlementAccount",
    "SubUnit",
    "SubUnitKind",
    "validate_biller_code",
]


class BillerKind(StrEnum):
    SCHOOL = "school"
    UTILITY = "utility"
    GOVERNMENT = "government"
    PROPERTY = "property"
    HOSPITAL = "hospital"
    HOUSING_DEVELOPER = "housing_developer"
    MARKET_STALL = "market_stall"
    SCENIC_SPOT = "scenic_spot"


class BillerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class LookupCheck(StrEnum):
    """What a payer must give, besides the identifier, for the public pages to list bills.

    Sequential 户号 and 学号 can be enumerated; a biller that fears it asks for its payer's
    name, or only its last character (what payers type on a phone)."""

    NONE = "none"
    NAME_LAST_CHAR = "name_last_char"
    NAME = "name"

    def passes(self, payer_name: str | None, given: str) -> bool:
        """Whether ``given`` is what this check asks of a payer named ``payer_name`` (blanks
        ignored; a payer with no name on file never passes a check that asks for one)."""
        if self is LookupCheck.NONE:
            return True
        name, answer = "".join((payer_name or "").split()), "".join(given.split())
        if not name or not answer:
            return False
        if self is LookupCheck.NAME_LAST_CHAR:  # the whole name says more than was asked
            return answer in (name[-1], name)
        return answer == name


class SubUnitKind(StrEnum):
    CAMPUS = "campus"
    GRADE = "grade"
    CLASS = "class"
    DISTRICT = "district"
    OFFICE = "office"
    PROJECT = "project"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class SettlementAccount:
    bank_name: str
    account_name: str
    account_no: str

    @property
    def masked_account_no(self) -> str:
        return mask_account(self.account_no)


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-biller limits in fen; ``None`` means no limit.

    ``daily_fen`` and ``monthly_fen`` bound what is ordered (and may still be paid) on one
    business date / in one calendar month of business dates, in the biller's timezone."""

    single_payment_fen: int | None = None
    daily_fen: int | None = None
    monthly_fen: int | None = None

    def __post_init__(self) -> None:
        for name in ("single_payment_fen", "daily_fen", "monthly_fen"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidInput(f"{name}: a limit must be a positive amount, got {value}")


@dataclass(frozen=True, slots=True)
class SubUnit:
    code: str
    name: str
    kind: SubUnitKind = SubUnitKind.OTHER
    parent_code: str | None = None


def validate_biller_code(code: str) -> str:
    value = code.strip()
    if not value or len(value) > 32 or not all(c.isalnum() or c in "-_" for c in value):
        raise InvalidInput(
            f"code: {code!r} must be 1-32 letters, digits, '-' or '_' (it appears in account names)"
        )
    return value


def validate_timezone(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"timezone: {tz!r} is not a known IANA timezone") from None
    return tz


@dataclass(frozen=True, slots=True)
class FeeContext:
    """What confirming a payment needs to know of its biller: code, timezone, the fee rule."""

    code: str
    timezone: str
    rule: FeeRule | None


@dataclass(frozen=True, slots=True)
class Biller:
    code: str
    name: str
    kind: BillerKind
    timezone: str = DEFAULT_TZ
    status: BillerStatus = BillerStatus.ACTIVE
    settlement_account: SettlementAccount | None = None
    limits: Limits = field(default_factory=Limits)
    fee_rules: tuple[FeeRule, ...] = ()
    sub_units: tuple[SubUnit, ...] = ()
    lookup_check: LookupCheck = LookupCheck.NONE
    id: int | None = None

    def __post_init__(self) -> None:
        validate_biller_code(self.code)
        validate_timezone(self.timezone)
        if not self.name.strip():
            raise InvalidInput("name: a biller needs a name")

    @property
    def accepts_orders(self) -> bool:
        return self.status is BillerStatus.ACTIVE

    def fee_rule(self, channel: str) -> FeeRule | None:
        for rule in self.fee_rules:
            if rule.channel == channel:
                return rule
        return None

    def fee_for(self, channel: str, amount_fen: int) -> int:
        rule = self.fee_rule(channel)
        return rule.fee_for(amount_fen) if rule else 0
