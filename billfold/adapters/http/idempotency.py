"""Idempotency-Key on POSTs that move money: a repeat gets the first answer, from the database.

The key is **claimed before the work runs**: a row per (API key, Idempotency-Key) holding the
request's fingerprint is committed first (the unique key decides the one winner), then the
work runs and its answer is written into that row. So whatever the timing:

* the same key with a different request is refused (422 ``idempotency_key_reused``) — the
  work of one body can never answer another body;
* the same request while the first is still running gets 409 ``idempotency_key_in_progress``
  with ``Retry-After`` (it is safe to retry);
* a repeat after the answer was stored gets that answer again (``Idempotent-Replayed``).

Only successful answers are kept: when the work is refused, the claim is released so a
request refused for a reason that goes away can be retried with its key. A claim left by a
process that died mid-request is taken over by the same request after ``STALE_CLAIM`` (the
engine's own idempotency — order key, refund request id — still lets only one move money).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from billfold.adapters.db.schema.api import api_idempotency
from billfold.adapters.http.keys import Principal
from billfold.adapters.http.problems import ApiProblem
from billfold.engine import Engine

__all__ = ["STALE_CLAIM", "IdempotencyKey", "engine_key", "replay_or_run"]

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

CLAIMED = 0  # status_code of a claimed key whose work has not answered yet
STALE_CLAIM = timedelta(minutes=5)
_T = api_idempotency


def engine_key(principal: Principal, key: str) -> str:
    """The key handed to the engine's own idempotency (≤ 64 characters, per API key)."""
    return "api-" + hashlib.sha256(f"{principal.key_id}\n{key}".encode()).hexdigest()[:40]


def _fingerprint(method: str, path: str, payload: Any) -> str:
    text = json.dumps([method, path, payload], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _mine(principal: Principal, key: str) -> Any:
    return (_T.c.principal == principal.key_id) & (_T.c.idempotency_key == key)


def _stored(engine: Engine, principal: Principal, key: str) -> Any:
    with engine.db.connect() as conn:
        return conn.execute(select(_T).where(_mine(principal, key))).first()


def _claim(engine: Engine, principal: Principal, key: str, fingerprint: str) -> Any:
    """Claim ``key`` for this request; None when claimed, else the row that holds it."""
    now = engine.clock.now()
    try:
        with engine.db.begin() as conn:
            conn.execute(
                insert(_T).values(
                    principal=principal.key_id,
                    idempotency_key=key,
                    fingerprint=fingerprint,
                    status_code=CLAIMED,
                    body="",
                    created_at=now,
                )
            )
        return None
    except IntegrityError:
        row = _stored(engine, principal, key)
    if row is None:  # released between our insert and our read: the key is free again
        return _claim(engine, principal, key, fingerprint)
    stale = row.status_code == CLAIMED and row.created_at <= now - STALE_CLAIM
    if stale and row.fingerprint == fingerprint:
        with engine.db.begin() as conn:  # only one taker wins the conditional update
            taken = conn.execute(
                update(_T)
                .where(_mine(principal, key), _T.c.created_at == row.created_at)
                .where(_T.c.status_code == CLAIMED)
                .values(created_at=now)
            ).rowcount
        if taken == 1:
            return None
    return row


def _answer_held(row: Any, fingerprint: str, key: str) -> JSONResponse:
    if row.fingerprint != fingerprint:
        raise ApiProblem(
            422,
            "idempotency_key_reused",
            f"Idempotency-Key {key!r} was used before for a different request",
        )
    if row.status_code == CLAIMED:
        raise ApiProblem(
            409,
            "idempotency_key_in_progress",
            f"a request with Idempotency-Key {key!r} is still being processed; retry shortly",
            headers={"Retry-After": "1"},
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
    """Return the stored answer for ``key``, or claim it, ``run()`` and store the answer."""
    fingerprint = _fingerprint(*request)
    held = _claim(engine, principal, key, fingerprint)
    if held is not None:
        return _answer_held(held, fingerprint, key)
    try:
        status, body = run()
    except BaseException:
        with engine.db.begin() as conn:  # refused or failed: the key may be used again
            conn.execute(delete(_T).where(_mine(principal, key), _T.c.status_code == CLAIMED))
        raise
    text = json.dumps(body, ensure_ascii=False, default=str)
    with engine.db.begin() as conn:
        conn.execute(
            update(_T)
            .where(_mine(principal, key), _T.c.fingerprint == fingerprint)
            .values(status_code=status, body=text)
        )
    return JSONResponse(json.loads(text), status_code=status)
