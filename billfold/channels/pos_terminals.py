"""The POS terminal registry: which terminals exist, whose they are, whether they may trade.

A terminal is registered to a biller, optionally bound to one sub-unit (the project code of
a housing development); disabling it makes its next messages declined. Every change is
audited with who and why.
"""

from __future__ import annotations

from datetime import datetime

from billfold.channels.ports import ChannelHost, ChannelsUnitOfWork, PosRepository
from billfold.channels.pos_batch import Terminal, TerminalStatus, validate_terminal_id
from billfold.errors import InvalidInput, NotFound

__all__ = ["PosTerminals", "registered"]


def registered(repo: PosRepository, terminal_id: str) -> Terminal:
    """The registered terminal, or :class:`NotFound`."""
    terminal = repo.terminal(terminal_id)
    if terminal is None:
        raise NotFound(f"terminal {terminal_id!r} is not registered")
    return terminal


class PosTerminals:
    """Registering terminals and switching them on and off, one transaction each."""

    def __init__(self, host: ChannelHost) -> None:
        self.host = host

    def register(
        self, terminal_id: str, biller_code: str, *, sub_unit: str | None = None, actor: str
    ) -> Terminal:
        """Register a terminal; ``sub_unit`` binds it to one project of the biller."""
        validate_terminal_id(terminal_id)
        now = self.host.clock.now()
        with self.host.uow() as uow:
            biller = uow.billers.get_by_code(biller_code)
            if biller is None or biller.id is None:
                raise NotFound(f"biller {biller_code!r} does not exist")
            if sub_unit is not None and sub_unit not in {u.code for u in biller.sub_units}:
                raise InvalidInput(f"sub_unit: {biller_code} has no sub-unit {sub_unit!r}")
            if uow.pos.terminal(terminal_id) is not None:
                raise InvalidInput(f"terminal_id: terminal {terminal_id} is already registered")
            terminal = uow.pos.add_terminal(terminal_id, biller.id, sub_unit, now)
            _audit(uow, terminal_id, actor, "pos.register", "registered", None, now)
            uow.commit()
            return terminal

    def set_status(
        self, terminal_id: str, status: TerminalStatus, *, actor: str, reason: str
    ) -> Terminal:
        now = self.host.clock.now()
        with self.host.uow() as uow:
            terminal = registered(uow.pos, terminal_id)
            uow.pos.set_status(terminal.id, status, now)
            _audit(uow, terminal_id, actor, "pos.status", reason, terminal.status, now)
            uow.commit()
            return registered(uow.pos, terminal_id)

    def get(self, terminal_id: str) -> Terminal:
        with self.host.uow() as uow:
            return registered(uow.pos, terminal_id)


def _audit(
    uow: ChannelsUnitOfWork,
    terminal_id: str,
    actor: str,
    action: str,
    reason: str,
    before: TerminalStatus | None,
    now: datetime,
) -> None:
    after = registered(uow.pos, terminal_id)
    uow.audit.append(
        actor=actor,
        action=action,
        target_type="pos_terminal",
        target_id=terminal_id,
        reason=reason,
        before={"status": before.value} if before else None,
        after={"status": after.status.value, "sub_unit": after.sub_unit},
        now=now,
    )
