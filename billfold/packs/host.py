"""What every desk asks of its host: the ``Runtime[PacksUnitOfWork]`` it is given, and the
few reads of the core the desks share (a biller, a bill, a biller's business date).

Writes go through the core's use cases (:mod:`billfold.collection` use-case modules,
:mod:`billfold.collection.importer`) with a fresh unit of work from the runtime.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

from billfold.clock import business_date
from billfold.collection.bill import Bill
from billfold.collection.ports import Runtime
from billfold.errors import InvalidInput, InvariantViolated, NotFound
from billfold.merchants.biller import Biller
from billfold.merchants.services import require_biller
from billfold.packs.ports import PacksUnitOfWork

__all__ = ["Host", "biller", "find_bill", "payer_url", "pk", "today"]

_BASE_URL_EXAMPLE = "e.g. https://pay.example.edu.cn"


def payer_url(base_url: str, path: str) -> str:
    """``path`` (``/pay/…``) on the payer pages served at ``base_url``: what a printed QR
    opens. A missing or malformed address is refused, saying what is wanted."""
    base = base_url.strip()
    if not base:
        raise InvalidInput(
            f"base_url: the payer pages' address is needed for the QR, {_BASE_URL_EXAMPLE}"
        )
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InvalidInput(
            f"base_url: {base!r} must be an http:// or https:// address without a query, "
            f"{_BASE_URL_EXAMPLE}"
        )
    return f"{base.rstrip('/')}{path}"


#: What a scenario desk is given: an Engine, or any host with ``.uow()`` and ``.clock``.
Host = Runtime[PacksUnitOfWork]


def biller(host: Host, code: str) -> Biller:
    """The stored biller ``code``, or :class:`NotFound` naming it."""
    with host.uow() as uow:
        return require_biller(uow, code)


def find_bill(host: Host, biller_code: str, bill_no: str) -> Bill | None:
    """The biller's bill ``bill_no`` or ``None``; an unknown biller is :class:`NotFound`."""
    with host.uow() as uow:
        owner = require_biller(uow, biller_code)
        return uow.bills.get_by_no(pk(owner), bill_no)


def bill(host: Host, biller_code: str, bill_no: str) -> Bill:
    found = find_bill(host, biller_code, bill_no)
    if found is None:
        raise NotFound(f"bill {bill_no!r} does not exist for biller {biller_code}")
    return found


def today(host: Host, owner: Biller) -> date:
    """The biller's business date now."""
    return business_date(host.clock.now(), owner.timezone)


def pk(owner: Biller) -> int:
    if owner.id is None:
        raise InvariantViolated("owner.id is missing")
    return owner.id
