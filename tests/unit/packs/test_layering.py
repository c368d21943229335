"""Issue 10 for the scenario desks: nothing in ``billfold.packs`` imports the adapters, the
engine, the demo or the test doubles — not directly, not through another billfold module,
not even under ``TYPE_CHECKING``."""

from __future__ import annotations

import ast
from pathlib import Path

import billfold

ROOT = Path(billfold.__file__).parent
FORBIDDEN = ("billfold.adapters", "billfold.engine", "billfold.demo", "billfold.testing")


def _file_of(module: str) -> Path | None:
    parts = module.split(".")[1:]
    package = ROOT.joinpath(*parts) / "__init__.py"
    plain = ROOT.joinpath(*parts).with_suffix(".py") if parts else package
    return plain if plain.exists() else package if package.exists() else None


def _imports(module: str) -> set[str]:
    path = _file_of(module)
    if path is None:
        return set()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("billfold"))
        elif (
            isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("billfold")
        ):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in found if _file_of(m) is not None and m != "billfold"}


def _reach(start: str) -> dict[str, str]:
    """Every billfold module ``start`` imports, directly or not, with who imports it."""
    seen: dict[str, str] = {}
    todo = [start]
    while todo:
        current = todo.pop()
        for name in _imports(current):
            if name not in seen:
                seen[name] = current
                todo.append(name)
    return seen


def test_no_pack_module_reaches_the_adapters_engine_demo_or_testing() -> None:
    packs = sorted(
        ".".join(p.relative_to(ROOT / "packs").with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "packs").rglob("*.py")
        if p.name != "__init__.py" or p.parent != ROOT / "packs"
    )
    assert {"campus", "government", "presale", "presale.held", "utility", "ports"} <= set(packs)
    bad = [
        f"billfold.packs.{name} -> ... {by} -> {module}"
        for name in packs
        for module, by in _reach(f"billfold.packs.{name}").items()
        if module.startswith(FORBIDDEN)
    ]
    assert bad == []
