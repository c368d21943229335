"""An optional Idempotency-Key for POSTs that move no money but are worth retrying safely
(starting a payment, signing a mandate): with the header, a repeat returns the first answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

__all__ = ["OptionalIdempotencyKey"]

OptionalIdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=64,
        pattern=r"^[\x21-\x7e]+$",
        description="Optional: a repeat with the same key returns the first answer",
    ),
]
