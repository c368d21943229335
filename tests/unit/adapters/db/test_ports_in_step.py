"""Every port (a Protocol in a domain package) and the SQL class behind it stay in step: each
member the Protocol names, the SQL class has, with the same parameters (names, kinds,
defaults). mypy proves the same statically where an Engine is handed to a desk; this test
says which member drifted, by name. What the domain packages may import is import-linter's
job (`make lint`), not this test's."""

from __future__ import annotations

import inspect
from typing import Any, Generic, Protocol

import pytest
from sqlalchemy import create_engine

from billfold.adapters.db.billers import SqlBillers, SqlPayers
from billfold.adapters.db.bills import SqlBills
from billfold.adapters.db.channels import SqlChannels
from billfold.adapters.db.complaints import SqlComplaints
from billfold.adapters.db.daybook import SqlDaybook
from billfold.adapters.db.gov import SqlGov
from billfold.adapters.db.journal_chain import SqlChains
from billfold.adapters.db.ledger import SqlAudit, SqlJournal, SqlOutbox
from billfold.adapters.db.listing import SqlLists
from billfold.adapters.db.mandates import SqlMandates
from billfold.adapters.db.orders import SqlOrders, SqlPayments, SqlRefunds
from billfold.adapters.db.pos import SqlPos
from billfold.adapters.db.presale import SqlPresale
from billfold.adapters.db.recon import SqlRecon
from billfold.adapters.db.refund_transfers import SqlRefundTransfers
from billfold.adapters.db.settlement import SqlSettlement
from billfold.adapters.db.statement_ingest import SqlStatements
from billfold.adapters.db.timeline import SqlTimeline
from billfold.adapters.db.uow import SqlSavepoint, SqlUnitOfWork
from billfold.channels import ports as channel_ports
from billfold.collection import ports as collection_ports
from billfold.packs import ports as pack_ports
from billfold.settlement import ports as settlement_ports

PAIRS: list[tuple[type, type]] = [
    (collection_ports.BillersRepository, SqlBillers),
    (collection_ports.PayersRepository, SqlPayers),
    (collection_ports.BillsRepository, SqlBills),
    (collection_ports.OrdersRepository, SqlOrders),
    (collection_ports.PaymentsRepository, SqlPayments),
    (collection_ports.RefundsRepository, SqlRefunds),
    (collection_ports.JournalRepository, SqlJournal),
    (collection_ports.OutboxRepository, SqlOutbox),
    (collection_ports.AuditRepository, SqlAudit),
    (collection_ports.ChannelsRepository, SqlChannels),
    (collection_ports.UnitOfWork, SqlUnitOfWork),
    (collection_ports.ListsRepository, SqlLists),
    (collection_ports.ListsUnitOfWork, SqlUnitOfWork),
    (collection_ports.TimelineRepository, SqlTimeline),
    (collection_ports.TimelineUnitOfWork, SqlUnitOfWork),
    (collection_ports.RefundTransfersRepository, SqlRefundTransfers),
    (collection_ports.RefundTransferUnitOfWork, SqlUnitOfWork),
    (collection_ports.ChainsRepository, SqlChains),
    (collection_ports.JournalUnitOfWork, SqlUnitOfWork),
    (channel_ports.PosRepository, SqlPos),
    (channel_ports.MandatesRepository, SqlMandates),
    (channel_ports.ChannelsUnitOfWork, SqlUnitOfWork),
    (settlement_ports.ReconRepository, SqlRecon),
    (settlement_ports.SettlementRepository, SqlSettlement),
    (settlement_ports.StatementStaging, SqlStatements),
    (settlement_ports.SettlementUnitOfWork, SqlUnitOfWork),
    (settlement_ports.SettlementUnitOfWork, SqlSavepoint),
    (settlement_ports.ComplaintsRepository, SqlComplaints),
    (settlement_ports.ComplaintsUnitOfWork, SqlUnitOfWork),
    (pack_ports.DaybookRepository, SqlDaybook),
    (pack_ports.GovRepository, SqlGov),
    (pack_ports.PresaleRepository, SqlPresale),
    (pack_ports.PacksUnitOfWork, SqlUnitOfWork),
]


def _members(protocol: type) -> list[str]:
    """The members a Protocol (and the Protocols it extends) declares."""
    names: set[str] = set()
    for klass in protocol.__mro__:
        if klass in (Protocol, Generic, object) or not getattr(klass, "_is_protocol", False):
            continue
        names.update(
            n for n in vars(klass) if not n.startswith("_") or n in ("__enter__", "__exit__")
        )
    return sorted(names)


def _shape(function: Any) -> list[tuple[str, Any, Any]]:
    params = list(inspect.signature(function).parameters.values())[1:]  # without self
    return [(p.name, p.kind, p.default) for p in params]


@pytest.mark.parametrize(("protocol", "sql"), PAIRS, ids=lambda c: c.__name__)
def test_the_sql_class_has_every_member_of_its_port_with_the_same_parameters(
    protocol: type, sql: type
) -> None:
    members = _members(protocol)
    assert members, protocol
    for name in members:
        wanted = inspect.getattr_static(protocol, name)
        declared = any(name in getattr(k, "__annotations__", {}) for k in sql.__mro__)
        assert hasattr(sql, name) or declared, f"{sql.__name__} lacks {name}"
        if isinstance(wanted, property):
            continue  # a repository: attribute, property or cached property alike
        assert _shape(getattr(sql, name)) == _shape(wanted), f"{sql.__name__}.{name} drifted"


def test_a_drifted_signature_is_named() -> None:
    class Port(Protocol):
        def find(self, key: str, *, lock: bool = False) -> None: ...

    class Drifted:
        def find(self, key: str, lock: bool = False) -> None: ...

    with pytest.raises(AssertionError, match=r"Drifted.find drifted"):
        test_the_sql_class_has_every_member_of_its_port_with_the_same_parameters(Port, Drifted)


def test_the_desks_repositories_are_made_on_first_use_and_forgotten_with_the_block() -> None:
    uow = SqlUnitOfWork(create_engine("sqlite://"))
    lazy = ("recon", "settlement", "statements", "presale", "gov", "daybook", "mandates", "pos")
    with uow:
        assert not set(lazy) & set(vars(uow))
        made = [getattr(uow, name) for name in lazy]
        assert set(lazy) <= set(vars(uow))
    assert len(made) == len(lazy)
    assert not set(lazy) & set(vars(uow))


def test_the_core_repositories_are_made_on_first_use_fresh_in_each_block() -> None:
    uow = SqlUnitOfWork(create_engine("sqlite://"))
    core = ("billers", "payers", "bills", "orders", "payments", "refunds", "journal", "outbox")
    with uow:
        assert not set(core) & set(vars(uow))
        first = uow.billers
        assert uow.billers is first and set(vars(uow)) & set(core) == {"billers"}
        uow.commit()  # no outbox made: nothing to flush
        assert "outbox" not in vars(uow)
    assert not set(core) & set(vars(uow))
    with pytest.raises(RuntimeError, match="outside its 'with' block"):
        _ = uow.payments
    with pytest.raises(AttributeError):
        _ = uow.no_such_repository  # type: ignore[attr-defined]
    with uow:
        assert uow.billers is not first and isinstance(uow.billers, SqlBillers)
        made = [getattr(uow, name) for name in core]
        uow.rollback()
    assert len(made) == len(core)
