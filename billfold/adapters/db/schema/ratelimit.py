"""The HTTP API's shared rate limits: one token bucket per API key, in the database.

Every API worker takes tokens from the same row with one conditional ``UPDATE``, so a key's
limit holds however many processes serve it. Tokens are counted in thousandths and time in
integer Unix microseconds so that the refill is integer arithmetic inside that one
statement, identical on SQLite and PostgreSQL. Migration 0007 creates the table.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table

from billfold.adapters.db.schema.base import _id, metadata
from billfold.adapters.db.schema.checks import add_checks

__all__ = ["api_rate_limits"]

api_rate_limits = Table(
    "api_rate_limits",
    metadata,
    _id(),
    Column("key_id", String(16), nullable=False, unique=True),  # the API key's public id
    Column("tokens_milli", BigInteger, nullable=False),  # tokens left x 1000, at refilled_us
    Column("refilled_us", BigInteger, nullable=False),  # Unix time in microseconds
)

add_checks(api_rate_limits)
