"""Payers, identified the way each biller knows them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from billfold.errors import InvalidInput
from billfold.masking import mask_id_number, mask_name, mask_phone

__all__ = ["IdentifierKind", "Payer"]


class IdentifierKind(StrEnum):
    STUDENT_NO = "student_no"  # 学号
    ACCOUNT_NO = "account_no"  # 户号
    DECISION_NO = "decision_no"  # 决定书编号
    PHONE = "phone"
    CONTRACT_NO = "contract_no"  # 合同号
    ID_NUMBER = "id_number"  # 身份证号
    OTHER = "other"

    @classmethod
    def parse(cls, value: str, *, field: str = "payer_kind") -> IdentifierKind:
        try:
            return cls(value.strip().lower())
        except ValueError:
            known = ", ".join(k.value for k in cls)
            raise InvalidInput(f"{field}: {value!r} is not one of {known}") from None


@dataclass(frozen=True, slots=True)
class Payer:
    kind: IdentifierKind
    identifier: str
    name: str | None = None
    phone: str | None = None
    id_number: str | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if not self.identifier.strip():
            raise InvalidInput("payer_id: a payer needs an identifier")
        if len(self.identifier) > 64:
            raise InvalidInput("payer_id: identifiers are at most 64 characters")

    def masked(self) -> dict[str, str]:
        """What a screen or export shows when it does not need the personal data whole."""
        shown = self.identifier
        if self.kind is IdentifierKind.PHONE:
            shown = mask_phone(self.identifier)
        elif self.kind is IdentifierKind.ID_NUMBER:
            shown = mask_id_number(self.identifier)
        return {
            "kind": self.kind.value,
            "identifier": shown,
            "name": mask_name(self.name),
            "phone": mask_phone(self.phone),
            "id_number": mask_id_number(self.id_number),
        }
