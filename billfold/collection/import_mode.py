"""How a bill import treats a file with bad lines (:mod:`billfold.collection.importer`): a
module of its own, so that the schema's CHECK constraints read the modes without importing
the importer."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ImportMode"]


class ImportMode(StrEnum):
    ALL_OR_NOTHING = "all-or-nothing"
    VALID_LINES = "valid-lines"
