"""A fake card terminal, shipped for tests of code that embeds billfold's POS channel.

:class:`FakeTerminal` numbers its messages like a real terminal (six-digit batch and trace
numbers, traces running on across batches), keeps its own batch, and can lose a request or
its answer the way a terminal link does — after which it owes a reversal (冲正), exactly as
a real terminal would send on its next connection.
"""

from __future__ import annotations

from billfold.channels.pos import PosAnswer, PosChannel, Refund, Reversal, Sale, Void
from billfold.channels.pos_batch import BatchClose, BatchLine, BatchTotals, PosKind

__all__ = ["FakeTerminal"]


class FakeTerminal:
    def __init__(
        self,
        host: PosChannel,
        terminal_id: str,
        *,
        batch: int = 1,
        card: str = "622202******7890",
    ) -> None:
        self.host = host
        self.terminal_id = terminal_id
        self.batch = batch
        self.card = card
        self.trace = 0
        #: The terminal's own record of its open batch: (trace, kind) → amount in fen.
        self.lines: dict[tuple[str, PosKind], int] = {}
        #: A sale whose answer never came: the terminal must reverse it.
        self.unanswered: Sale | None = None

    @property
    def batch_no(self) -> str:
        return f"{self.batch:06d}"

    def _next_trace(self) -> str:
        self.trace = self.trace % 999_999 + 1
        return f"{self.trace:06d}"

    def sale(
        self,
        amount_fen: int,
        *,
        order_no: str | None = None,
        bill_ref: str | None = None,
        lose: str | None = None,
    ) -> PosAnswer | None:
        """A card sale. ``lose="request"``: it never reaches billfold; ``lose="answer"``:
        billfold handles it but the terminal times out. Either way ``None`` comes back and
        :attr:`unanswered` holds the sale, to be reversed."""
        sale = Sale(
            self.terminal_id,
            self.batch_no,
            self._next_trace(),
            amount_fen,
            order_no=order_no,
            bill_ref=bill_ref,
            card_masked=self.card,
        )
        if lose not in (None, "request", "answer"):
            raise ValueError("lose: 'request', 'answer' or None")
        if lose == "request":
            self.unanswered = sale
            return None
        answer = self.host.sale(sale)
        if lose == "answer":
            self.unanswered = sale
            return None
        if answer.approved:
            self.lines[(sale.trace_no, PosKind.SALE)] = amount_fen
        return answer

    def reverse_unanswered(self) -> PosAnswer:
        """Send the reversal (冲正) the terminal owes for its unanswered sale."""
        sale = self.unanswered
        if sale is None:
            raise ValueError("this terminal owes no reversal")
        answer = self.host.reverse(
            Reversal(sale.terminal_id, sale.batch_no, sale.trace_no, sale.amount_fen, sale.order_no)
        )
        if answer.approved:
            self.unanswered = None
            self.lines.pop((sale.trace_no, PosKind.SALE), None)
        return answer

    def void(self, trace_no: str, amount_fen: int | None = None) -> PosAnswer:
        """Void (撤销) a sale of the open batch, by its trace number (for its amount)."""
        amount = amount_fen or self.lines.get((trace_no, PosKind.SALE))
        if amount is None:
            raise ValueError(f"no sale {trace_no} in this batch; give the amount")
        void = Void(self.terminal_id, self.batch_no, self._next_trace(), trace_no, amount)
        answer = self.host.void(void)
        if answer.approved:
            self.lines[(void.trace_no, PosKind.VOID)] = amount
        return answer

    def refund(
        self,
        original_batch_no: str,
        original_trace_no: str,
        amount_fen: int,
        *,
        original_terminal_id: str | None = None,
    ) -> PosAnswer:
        """Refund (退货) a settled sale, in part or in full."""
        refund = Refund(
            self.terminal_id,
            self.batch_no,
            self._next_trace(),
            original_batch_no,
            original_trace_no,
            amount_fen,
            original_terminal_id,
        )
        answer = self.host.refund_sale(refund)
        if answer.approved:
            self.lines[(refund.trace_no, PosKind.REFUND)] = amount_fen
        return answer

    def settle(self) -> BatchClose:
        """Batch close (批结算) with totals and the batch upload; then the next batch."""
        lines = [BatchLine(trace, kind, amount) for (trace, kind), amount in self.lines.items()]
        result = self.host.close_batch(
            self.terminal_id, self.batch_no, BatchTotals.of(lines), lines
        )
        self.batch += 1
        self.lines = {}
        return result
