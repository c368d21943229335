"""A missing optional library is a one-line billfold error naming the extra to install.

The libraries are installed in the test environment, so each test hides one the way a
missing install looks to Python: ``sys.modules[name] = None`` makes ``import name`` raise
``ModuleNotFoundError`` naming it.
"""

from __future__ import annotations

import importlib.abc
import io
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

from billfold.errors import BillfoldError, ConfigurationError
from billfold.extras import EXTRAS, MissingExtra, requires_extra

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def hide(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make ``import name`` (and its submodules) fail as if it were not installed."""
    for loaded in [m for m in sys.modules if m.split(".")[0] in names]:
        monkeypatch.delitem(sys.modules, loaded)
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def test_a_missing_module_of_the_extra_becomes_one_line_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hide(monkeypatch, "qrcode")
    with pytest.raises(MissingExtra) as caught, requires_extra("qr"):
        import qrcode  # noqa: F401
    error = caught.value
    assert str(error) == "this needs the 'qr' extra: pip install 'billfold[qr]'"
    assert (error.extra, error.code) == ("qr", "missing_extra")
    assert isinstance(error, ConfigurationError) and isinstance(error, BillfoldError)
    assert error.__cause__ is None and error.__suppress_context__


def test_a_missing_submodule_counts_as_its_package() -> None:
    with pytest.raises(MissingExtra, match="'xlsx' extra"), requires_extra("xlsx"):
        raise ModuleNotFoundError("No module named 'openpyxl.chart'", name="openpyxl.chart")


def test_a_module_of_another_extra_or_of_billfold_is_not_disguised() -> None:
    with pytest.raises(ModuleNotFoundError) as caught, requires_extra("qr"):
        import billfold.no_such_module  # type: ignore[import-not-found]  # noqa: F401
    assert caught.value.name == "billfold.no_such_module"
    with pytest.raises(ModuleNotFoundError), requires_extra("qr"):
        raise ModuleNotFoundError("No module named 'openpyxl'", name="openpyxl")


def test_every_extra_named_in_code_is_declared_in_pyproject() -> None:
    declared = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    extras = declared["optional-dependencies"]
    assert set(EXTRAS) <= set(extras)
    core = " ".join(declared["dependencies"]).lower()
    for modules in EXTRAS.values():  # nothing an extra brings is also a core dependency
        assert not any(m.lower() in core for m in modules), modules


def test_qr_rendering_without_the_qr_extra_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from billfold.channels import qr_render

    hide(monkeypatch, "qrcode", "PIL")
    for render in (qr_render.render_png, qr_render.render_svg):
        with pytest.raises(MissingExtra, match=r"pip install 'billfold\[qr\]'"):
            render("000201")
    with pytest.raises(MissingExtra, match="'qr' extra"):
        qr_render.render_counter_sign("000201", "第一实验中学")


def test_xlsx_exports_without_the_xlsx_extra_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from billfold.settlement.exports import Sheet, write_xlsx
    from billfold.settlement.workbook import write_workbook

    hide(monkeypatch, "openpyxl")
    sheet = Sheet(title="t", columns=(("a", "text"),), rows=[("x",)])
    out = io.BytesIO()
    with pytest.raises(MissingExtra, match="'xlsx' extra"):
        write_xlsx(sheet, out)
    with pytest.raises(MissingExtra, match="'xlsx' extra"):
        write_workbook([sheet], out)
    assert out.getvalue() == b""


def test_a_postgresql_url_without_psycopg_names_the_postgres_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from billfold.adapters.db.connect import make_engine

    hide(monkeypatch, "psycopg")
    with pytest.raises(MissingExtra, match=r"pip install 'billfold\[postgres\]'"):
        make_engine("postgresql://postgres@127.0.0.1:5432/test")
    make_engine("sqlite://").dispose()  # SQLite needs no extra


class _NoLibpq(importlib.abc.MetaPathFinder):
    """psycopg as installed on a machine without libpq: importing it fails (not "not found")."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        if fullname == "psycopg":
            raise ImportError("no pq wrapper available")


def test_psycopg_without_libpq_points_at_the_binary_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from billfold.adapters.db.connect import make_engine

    for loaded in [m for m in sys.modules if m.split(".")[0] == "psycopg"]:
        monkeypatch.delitem(sys.modules, loaded)
    monkeypatch.setattr(sys, "meta_path", [_NoLibpq(), *sys.meta_path])
    with pytest.raises(ConfigurationError) as caught:
        make_engine("postgresql://postgres@127.0.0.1:5432/test")
    assert not isinstance(caught.value, MissingExtra)
    assert "libpq" in caught.value.message and "billfold[postgres-binary]" in caught.value.message
