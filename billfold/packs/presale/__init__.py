"""Presale-fund supervision (预售资金监管), end to end over a host's unit of work.

* **Projects and contracts.** A developer (a biller of kind ``housing_developer``) has one
  sub-unit per project; ``add_project`` records the bureau's project code and
  the supervised escrow account. A buyer's contract is a bill numbered by the contract, in
  the project's sub-unit, so the POS channel's project binding (a presale terminal takes
  only its project's bills) and the QR channel's orders apply to it unchanged.
* **The escrow ledger.** ``sync`` books every credited payment of a
  contract — and the reversal of one booked before — as a numbered entry of its project
  (``seq`` 1, 2, 3 … without gaps), each with its push to the housing bureau, in one
  transaction. The payments table is the source, so a crash between the credit and the
  booking loses nothing: the next sync finds it. A succeeded refund of a booked payment is
  booked the same way, as money out (``refund``, once per refund number); one that takes the
  balance below what was released already is booked all the same — the money has left
  through the channel — and alerted (``presale.alert``). Money into the account that names
  no contract is ``receive_unmatched``: held, alerted, pushed; once the
  buyer is known, ``assign_held`` moves it onto the contract (``assign``).
* **Releases** to the developer are checked against the milestones and the balance
  (:func:`billfold.settlement.escrow.check_release`); a refused one changes nothing.
* **The journal.** Every entry of the book is a balanced journal entry on the project's
  escrow accounts (:mod:`billfold.settlement.escrow`); the book and its reports read their
  amounts from the journal. Assigning held money pays the contract's bill through the
  confirmation path, like any payment.
* **Pushes** are delivered by the outbox adapter (``adapters/outbox/bureau_push.py``).

Modules: :mod:`.projects`, :mod:`.book` (one entry: journal, number, push), :mod:`.sync`,
:mod:`.held`, :mod:`.release`, :mod:`.reports`; :class:`PresaleDesk` answers them all.
"""

from __future__ import annotations

from billfold.packs.presale.book import held_id_of
from billfold.packs.presale.desk import PresaleDesk
from billfold.packs.presale.release import ReleaseRefused
from billfold.packs.presale.sync import SyncReport

__all__ = ["PresaleDesk", "ReleaseRefused", "SyncReport", "held_id_of"]
