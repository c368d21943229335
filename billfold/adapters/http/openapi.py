"""The OpenAPI document, as checked into ``docs/openapi.json``.

Regenerate with ``python -m billfold.adapters.http.openapi > docs/openapi.json``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from billfold.adapters.db.connect import make_engine
from billfold.adapters.http.app import create_app
from billfold.engine import Engine

__all__ = ["document", "render"]


def document() -> dict[str, Any]:
    """The API's OpenAPI document (building it touches no database)."""
    engine = Engine(make_engine("sqlite://"))
    try:
        return create_app(engine).openapi()
    finally:
        engine.close()


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
