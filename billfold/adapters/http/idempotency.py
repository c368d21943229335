"""Idempotency-Key on POSTs that move money: a repeat gets the first answer, from the database.

Answers are stored per (API key, Idempotency-Key) with a fingerprint of the request; the same
key with a different request is refused (422). Only successful answers are stored, so a
request refused for a reason that goes away can be retried with its key. Concurrent first
attempts are safe because the engine's own idempotency (order key, refund request id) lets
only one of them move money; the loser of the insert race returns the stored winner.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from billfold.adapters.db.schema.api import api_idempotency
from billfold.adapters.http.keys import Principal
from billfold.adapters.http.problems import ApiProblem
from billfold.engine import Engine

__all__ = ["IdempotencyKey", "engine_key", "replay_or_run"]

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=64,
        pattern=r"^[\x21-\x7e]+$",
        description="Required: a repeat with the same key returns the first answer",
    ),
]


def engine_key(principal: Principal, key: str) -> str:
    """The key handed to the engine's own idempotency (≤ 64 characters, per API key)."""
    return "api-" + hashlib.sha256(f"{principal.key_id}\n{key}".encode()).hexdigest()[:40]


def _fingerprint(method: str, path: str, payload: Any) -> str:
    text = json.dumps([method, path, payload], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _stored(engine: Engine, principal: Principal, key: str) -> Any:
    query = select(api_idempotency).where(
        api_idempotency.c.principal == principal.key_id,
        api_idempotency.c.idempotency_key == key,
    )
    with engine.db.connect() as conn:
        return conn.execute(query).first()


def _replay(row: Any, fingerprint: str, key: str) -> JSONResponse:
    if row.fingerprint != fingerprint:
        raise ApiProblem(
            422,
            "idempotency_key_reused",
            f"Idempotency-Key {key!r} was used before for a different request",
        )
    return JSONResponse(
        json.loads(row.body), status_code=row.status_code, headers={"Idempotent-Replayed": "true"}
    )


def replay_or_run(
    engine: Engine,
    principal: Principal,
    key: str,
    request: tuple[str, str, Any],
    run: Callable[[], tuple[int, Any]],
) -> JSONResponse:
    """Return the stored answer for ``key``, or ``run()`` and store its answer."""
    fingerprint = _fingerprint(*request)
    row = _stored(engine, principal, key)
    if row is not None:
        return _replay(row, fingerprint, key)
    status, body = run()
    text = json.dumps(body, ensure_ascii=False, default=str)
    try:
        with engine.db.begin() as conn:
            conn.execute(
                insert(api_idempotency).values(
                    principal=principal.key_id,
                    idempotency_key=key,
                    fingerprint=fingerprint,
                    status_code=status,
                    body=text,
                    created_at=engine.clock.now(),
                )
            )
    except IntegrityError:  # a concurrent first attempt stored its answer first
        winner = _stored(engine, principal, key)
        if winner is not None:
            return _replay(winner, fingerprint, key)
        raise
    return JSONResponse(json.loads(text), status_code=status)
