"""Every table of the schema: what needs the whole ``metadata`` (Alembic's autogenerate,
``create_all``, the tests comparing the migrations with the models) imports this module.

A command imports only the table modules its repositories use (see the package's
docstring); a new table module is listed here, or the migrations-vs-models test fails.
"""

from __future__ import annotations

from billfold.adapters.db.schema import (  # noqa: F401
    access,
    api,
    chain,
    console,
    core,
    gov,
    jobs,
    journal_guard,
    mandates,
    pos,
    presale,
    queues,
    ratelimit,
    reminders,
    settlement,
)
from billfold.adapters.db.schema.base import metadata

__all__ = ["metadata"]
