"""The settlement ports and the SQL adapters stay in step: every member a Protocol names,
the SQL class has, with the same parameters (names, kinds, defaults). mypy proves the same
statically where the CLI and HTTP adapters hand an Engine to the desks; this test says
which member drifted, by name."""

from __future__ import annotations

import inspect
from typing import Any, Generic, Protocol

import pytest

from billfold.adapters.db.recon import SqlRecon
from billfold.adapters.db.settlement import SqlSettlement
from billfold.adapters.db.statement_ingest import SqlStatements
from billfold.adapters.db.uow import SqlSavepoint, SqlUnitOfWork
from billfold.settlement import ports

PAIRS = [
    (ports.ReconRepository, SqlRecon),
    (ports.SettlementRepository, SqlSettlement),
    (ports.StatementStaging, SqlStatements),
    (ports.SettlementUnitOfWork, SqlUnitOfWork),
    (ports.SettlementUnitOfWork, SqlSavepoint),
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


def test_the_unit_of_work_makes_the_settlement_repositories_on_first_use() -> None:
    lazy = {"recon", "settlement", "statements"}
    for name in lazy:
        assert name in vars(SqlUnitOfWork), name
    assert {"recon", "settlement", "statements", "savepoint"} <= set(
        _members(ports.SettlementUnitOfWork)
    )


def test_the_settlement_packages_never_import_the_adapters_or_the_engine() -> None:
    import ast
    from pathlib import Path

    import billfold.settlement as package

    root = Path(package.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                if name.startswith(
                    ("billfold.adapters", "billfold.engine", "billfold.demo", "billfold.testing")
                ):
                    offenders.append(f"{path.relative_to(root)}: {name}")
    assert offenders == []
