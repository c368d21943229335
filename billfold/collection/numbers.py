"""Order and refund numbers: what a payer, a channel and the back office quote."""

from __future__ import annotations

import secrets
from datetime import datetime

__all__ = ["new_number"]


def new_number(prefix: str, now: datetime) -> str:
    """``prefix`` + UTC date-time + 10 random hex digits (at most 32 characters)."""
    return f"{prefix}{now:%Y%m%d%H%M%S}{secrets.token_hex(5).upper()}"
