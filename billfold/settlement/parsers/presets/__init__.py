"""Ready-made column mappings for Chinese banks' online-banking statement exports.

Each preset is a JSON file next to this module, in the mapping format of
:mod:`billfold.settlement.parsers.mapping` plus a ``title`` and ``notes`` for people. A
bank changes its export now and then: when a preset no longer fits, copy it
(``billfold statement presets --show NAME``), adjust the column names and pass the copy
with ``--mapping``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from billfold.errors import InvalidInput

__all__ = ["load_preset", "preset_names"]


def preset_names() -> list[str]:
    """The names of the shipped presets, sorted."""
    folder = resources.files(__package__)
    return sorted(
        p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")
    )


def load_preset(name: str) -> dict[str, Any]:
    """The mapping of preset ``name``; :class:`InvalidInput` names the known ones."""
    if name not in preset_names():
        raise InvalidInput(f"preset: unknown preset {name!r}; known: {', '.join(preset_names())}")
    text = resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
