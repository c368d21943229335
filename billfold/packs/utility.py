"""Utilities (water, electricity, gas): the arrears file in, prepaid top-ups, and the daily
collection file back out — over the host's unit of work. Layouts and files:
:mod:`billfold.settlement.utility_files` (pure)."""

from __future__ import annotations

from datetime import date

import structlog

from billfold.collection.bill import Bill, BillItem, BillKind
from billfold.collection.bill_csv import BillDraft, read_bill_csv
from billfold.collection.importer import ImportMode, ImportReport, add_bill, import_bills
from billfold.collection.payer import IdentifierKind, Payer
from billfold.errors import InvalidInput, InvariantViolated
from billfold.merchants.biller import Biller, BillerKind
from billfold.money import format_yuan
from billfold.packs import host as core
from billfold.packs.host import Host
from billfold.settlement.utility_files import (
    Layout,
    arrears_bill_csv,
    collection_file,
    parse_arrears,
)

__all__ = ["collection_file_for", "import_arrears", "offer_topup"]

log = structlog.get_logger("billfold.utility")


def _utility(host: Host, code: str) -> Biller:
    biller = core.biller(host, code)
    if biller.kind is not BillerKind.UTILITY:
        raise InvalidInput(f"biller: {code} is a {biller.kind.value}, not a utility")
    return biller


def import_arrears(
    host: Host, utility: str, data: bytes, layout: Layout, *, file_name: str = "arrears"
) -> ImportReport:
    """Bills per 户号 from the utility's arrears file. A bad line rejects the whole file
    (every line named) and nothing is imported; the same file again creates nothing."""
    biller = _utility(host, utility)
    if biller.id is None:
        raise InvariantViolated("biller.id is missing")
    rows = parse_arrears(data, layout, file_name=file_name)
    text = arrears_bill_csv(rows, layout)
    drafts = [
        d
        for d in read_bill_csv(text, biller.id, IdentifierKind.ACCOUNT_NO)
        if isinstance(d, BillDraft)
    ]
    with host.uow() as uow:
        stored = uow.bills.content_hashes(biller.id, [d.bill.bill_no for d in drafts])
    if len(drafts) == len(rows) and all(
        stored.get(d.bill.bill_no) == d.content_hash for d in drafts
    ):
        # the very same file again: nothing to import, nothing to record
        return ImportReport(file_name, ImportMode.ALL_OR_NOTHING, unchanged=len(drafts))
    report = import_bills(
        host.uow(), host.clock, utility, text.encode("utf-8"), file_name=file_name, encoding="utf-8"
    )
    log.info("arrears imported", biller=utility, file=file_name, created=report.created)
    return report


def offer_topup(
    host: Host,
    utility: str,
    account_no: str,
    period: str,
    *,
    min_fen: int,
    max_fen: int,
    name: str | None = None,
) -> Bill:
    """A prepaid top-up (预存) for ``account_no``: an open-amount bill the payer finds by 户号
    and pays any amount within ``min_fen``–``max_fen``. Offering it again returns it."""
    _utility(host, utility)
    bill_no = f"TU-{period}-{account_no}"
    found = core.find_bill(host, utility, bill_no)
    if found is not None:
        if (found.open_min_fen, found.open_max_fen) != (min_fen, max_fen):
            raise InvalidInput(
                f"top-up {bill_no} is offered with {format_yuan(found.open_min_fen or 0)}–"
                f"{format_yuan(found.open_max_fen or 0)} already"
            )
        return found
    bill = Bill(
        biller_id=0,
        bill_no=bill_no,
        payer_id=0,
        items=[BillItem(code="topup", name="预存", amount_fen=0)],
        kind=BillKind.OPEN,
        open_min_fen=min_fen,
        open_max_fen=max_fen,
        period=period,
        description="预存费用",
    )
    payer = Payer(IdentifierKind.ACCOUNT_NO, account_no, name)
    return add_bill(host.uow(), host.clock, utility, payer, bill)


def collection_file_for(host: Host, utility: str, day: date, layout: Layout) -> bytes:
    """The collection file of business date ``day`` in the utility's layout."""
    biller = _utility(host, utility)
    if biller.id is None:
        raise InvariantViolated("biller.id is missing")
    with host.uow() as uow:
        payments = uow.daybook.day_payments(biller.id, day)
    data = collection_file(day, payments, layout, tz=biller.timezone)
    log.info("collection file written", biller=utility, day=day.isoformat(), bytes=len(data))
    return data
