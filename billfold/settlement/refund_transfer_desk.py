"""The back office's desk for refunds paid back by bank transfer (library API).

``RefundTransferDesk(engine)`` works on any ``Runtime`` whose unit of work has the
bank-transfer refunds' repository (an :class:`~billfold.engine.Engine` is one)::

    desk.record_payee("RF…", PayeeAccount("张三", "6222020200112233445", "工商银行北京分行"),
                      by="clerk-li")
    desk.approve("RF…", checker="supervisor-wang")   # maker-checker: never the maker
    made = desk.file(by="clerk-li")                  # the CSV for the bank, journalled
    desk.confirm("RF…", TransferConfirmation("clerk-li", "网银回单 20261206-0031"))

The bank leg of reconciliation confirms transfers by itself when the statement shows them.
"""

from __future__ import annotations

from collections.abc import Sequence

from billfold.collection.ports import RefundTransferUnitOfWork, Runtime
from billfold.collection.refund_transfer import PayeeAccount, RefundTransfer, TransferStage
from billfold.collection.refund_transferring import (
    TransferConfirmation,
    approve_transfer,
    confirm_transfer,
    load_transfer,
    record_payee,
)
from billfold.settlement.refund_transfer_file import TransferFile, file_transfers, transfer_file

__all__ = ["RefundTransferDesk"]


class RefundTransferDesk:
    def __init__(self, runtime: Runtime[RefundTransferUnitOfWork]) -> None:
        self.runtime = runtime

    def get(self, refund_no: str) -> RefundTransfer:
        with self.runtime.uow() as uow:
            return load_transfer(uow, refund_no)

    def transfers(
        self,
        *,
        stage: TransferStage | None = None,
        biller_ids: Sequence[int] | None = None,
    ) -> list[RefundTransfer]:
        with self.runtime.uow() as uow:
            found = uow.refund_transfers.listing(biller_ids)
        return [t for t in found if stage is None or t.stage is stage]

    def record_payee(
        self, refund_no: str, payee: PayeeAccount, *, by: str, reason: str = "payee recorded"
    ) -> RefundTransfer:
        return record_payee(
            self.runtime.uow(), self.runtime.clock, refund_no, payee, by=by, reason=reason
        )

    def approve(self, refund_no: str, *, checker: str, reason: str = "approved") -> RefundTransfer:
        """The maker-checker step: route this through a generic approval queue if you have one."""
        return approve_transfer(
            self.runtime.uow(), self.runtime.clock, refund_no, checker=checker, reason=reason
        )

    def file(
        self,
        *,
        by: str,
        refund_nos: Sequence[str] | None = None,
        encoding: str = "utf-8-sig",
    ) -> TransferFile:
        return file_transfers(self.runtime, by=by, refund_nos=refund_nos, encoding=encoding)

    def file_again(self, file_no: str, *, encoding: str = "utf-8-sig") -> TransferFile:
        return transfer_file(self.runtime, file_no, encoding=encoding)

    def confirm(self, refund_no: str, how: TransferConfirmation) -> RefundTransfer:
        return confirm_transfer(self.runtime.uow(), self.runtime.clock, refund_no, how)
