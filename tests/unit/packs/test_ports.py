"""The SQL repositories satisfy the packs' ports: every method a Protocol names exists on the
SQL class with the same parameters (mypy checks the types where ``SqlUnitOfWork`` is used as
a ``PacksUnitOfWork``; this keeps the names and parameters in step at run time too)."""

from __future__ import annotations

import inspect

import pytest
from sqlalchemy import create_engine

from billfold.adapters.db.daybook import SqlDaybook
from billfold.adapters.db.gov import SqlGov
from billfold.adapters.db.presale import SqlPresale
from billfold.adapters.db.uow import SqlUnitOfWork
from billfold.packs.ports import (
    DaybookRepository,
    GovRepository,
    PacksUnitOfWork,
    PresaleRepository,
)

PAIRS = [(DaybookRepository, SqlDaybook), (GovRepository, SqlGov), (PresaleRepository, SqlPresale)]


def _methods(protocol: type) -> list[str]:
    return [
        name
        for name, value in vars(protocol).items()
        if callable(value) and not name.startswith("_")
    ]


@pytest.mark.parametrize(("port", "adapter"), PAIRS, ids=lambda x: x.__name__)
def test_each_sql_repository_has_every_method_of_its_port_with_the_same_parameters(
    port: type, adapter: type
) -> None:
    assert _methods(port), f"{port.__name__} names no methods"
    for name in _methods(port):
        wanted = inspect.signature(getattr(port, name))
        found = getattr(adapter, name, None)
        assert found is not None, f"{adapter.__name__} lacks {name}"
        have = inspect.signature(found)
        assert list(have.parameters) == list(wanted.parameters), name
        for param in wanted.parameters.values():
            assert have.parameters[param.name].kind == param.kind, f"{name}({param.name})"


def test_the_sql_unit_of_work_is_a_packs_unit_of_work_with_lazy_pack_repositories() -> None:
    engine = create_engine("sqlite://")
    uow: PacksUnitOfWork = SqlUnitOfWork(engine)  # mypy: the structural check
    with uow:
        assert isinstance(uow.daybook, SqlDaybook)
        assert isinstance(uow.gov, SqlGov)
        assert isinstance(uow.presale, SqlPresale)
        assert uow.presale is uow.presale  # made once per block
    engine.dispose()
