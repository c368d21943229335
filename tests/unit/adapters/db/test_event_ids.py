"""Outbox event ids: UUIDs of version 7, so ids made one after the other sort in order (the
unique index grows at its end) and stay unique."""

from __future__ import annotations

import time
import uuid

from billfold.adapters.db.ledger import new_event_id


def test_event_ids_are_version_7_uuids_in_the_order_they_were_made() -> None:
    first = new_event_id()
    time.sleep(0.002)  # the next millisecond at least
    later = [new_event_id() for _ in range(5000)]
    parsed = uuid.UUID(first)
    assert str(parsed) == first and len(first) == 36
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert all(first < other for other in later)
    assert len(set(later)) == len(later)
    stamp = int(first.replace("-", "")[:12], 16)  # the first 48 bits: Unix milliseconds
    assert abs(stamp - time.time_ns() // 1_000_000) < 60_000
