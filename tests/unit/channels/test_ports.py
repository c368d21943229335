"""The channels' ports stay in step with the SQL adapters, and the channels stay off them."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import pytest

import billfold.channels
from billfold.adapters.db.mandates import SqlMandates
from billfold.adapters.db.pos import SqlPos
from billfold.adapters.db.uow import SqlUnitOfWork
from billfold.channels.ports import ChannelsUnitOfWork, MandatesRepository, PosRepository

FORBIDDEN = ("billfold.adapters", "billfold.engine", "billfold.demo", "billfold.testing")


def _members(protocol: type) -> list[str]:
    return [
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    ]


def _shape(function: Any) -> list[tuple[str, Any, Any]]:
    parameters = list(inspect.signature(function).parameters.values())[1:]  # without self
    return [(p.name, p.kind, p.default is inspect.Parameter.empty) for p in parameters]


@pytest.mark.parametrize(
    ("protocol", "adapter"), [(PosRepository, SqlPos), (MandatesRepository, SqlMandates)]
)
def test_each_repository_method_of_the_port_has_the_adapters_parameters(
    protocol: type, adapter: type
) -> None:
    members = _members(protocol)
    assert members, "the port declares no methods"
    for name in members:
        assert hasattr(adapter, name), f"{adapter.__name__} lacks {name}"
        assert _shape(getattr(adapter, name)) == _shape(getattr(protocol, name)), name


def test_the_adapters_public_methods_are_all_in_the_port() -> None:
    for protocol, adapter in ((PosRepository, SqlPos), (MandatesRepository, SqlMandates)):
        public = {n for n, v in vars(adapter).items() if callable(v) and not n.startswith("_")}
        assert public <= set(_members(protocol)), adapter.__name__


def test_the_sql_unit_of_work_offers_every_repository_the_channels_use() -> None:
    for name in _members(ChannelsUnitOfWork):
        assert hasattr(SqlUnitOfWork, name), name


def _imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # TYPE_CHECKING too
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


def test_no_channel_module_imports_adapters_engine_demo_or_testing() -> None:
    folder = Path(billfold.channels.__file__).parent
    offenders = [
        f"{path.name}: {module}"
        for path in sorted(folder.glob("*.py"))
        for module in _imports(path)
        if module.startswith(FORBIDDEN)
    ]
    assert offenders == []
