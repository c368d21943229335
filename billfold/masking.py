"""Masking of personal data for logs, exports and screens that do not need it whole."""

from __future__ import annotations

__all__ = ["mask_account", "mask_id_number", "mask_name", "mask_phone", "mask_value"]


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
