"""Pushing the escrow ledger to the housing bureau's supervision system, in real time.

Each escrow entry is written with its push row in the same transaction
(:mod:`billfold.packs.presale`): the outbox pattern, so a push is never lost. This
dispatcher sends them as signed JSON ``POST`` requests — the envelope and headers of
billfold's webhooks (:mod:`billfold.adapters.outbox.signing`: ``X-Billfold-Event-Id`` is our
push id, on which the bureau deduplicates) — with the outbox's :class:`RetryPolicy`
(exponential backoff, a lease while in flight, dead after ``max_attempts``).

**In order per project.** Only the first unacknowledged push of a project (lowest ``seq``)
is ever sent; the next waits until the bureau has acknowledged it. A dead push blocks its
project (later ones wait, nothing is skipped) until :func:`requeue` sends it again.

**Receipts.** The bureau answers 2xx with ``{"receipt_no": "..."}``; the number is stored
with the push. A push sent twice (an answer lost, a lease run out) carries the same id, and
the bureau answers it with the receipt number it gave the first time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx
import structlog

from billfold.adapters.db.presale import SqlPresale
from billfold.adapters.outbox.httpx_owner import HttpxClientOwner
from billfold.adapters.outbox.retry import RetryPolicy
from billfold.adapters.outbox.signing import signed_headers
from billfold.engine import Engine
from billfold.errors import Conflict, NotFound

__all__ = [
    "BUREAU_POLICY",
    "BureauAnswer",
    "BureauLink",
    "BureauTransport",
    "HttpxBureauTransport",
    "PushStats",
    "Pushed",
    "push_due",
    "pushes",
    "requeue",
]

log = structlog.get_logger("billfold.bureau")

#: The bureau is retried for longer than a webhook: 16 attempts, at most an hour apart
#: (about nine hours in all) before a push is dead-lettered.
BUREAU_POLICY = RetryPolicy(max_attempts=16)


@dataclass(frozen=True, slots=True)
class BureauAnswer:
    status: int
    body: bytes = b""


class BureauTransport(Protocol):
    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> BureauAnswer:
        """POST and return the answer; raise when none came (refused, timed out)."""
        ...


@dataclass(frozen=True, slots=True)
class BureauLink:
    """Where the bureau listens and the secret both sides sign with (never logged)."""

    url: str
    secret: str = field(repr=False)


class HttpxBureauTransport(HttpxClientOwner):
    def __init__(self, timeout: float = 10.0) -> None:
        super().__init__(httpx.Client(timeout=timeout, follow_redirects=False))

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> BureauAnswer:
        response = self._client.post(url, headers=dict(headers), content=body)
        return BureauAnswer(response.status_code, response.content[:4096])


@dataclass
class PushStats:
    acked: int = 0
    retried: int = 0
    dead: int = 0
    blocked: int = 0  # projects waiting behind a dead push


@dataclass(frozen=True, slots=True)
class Pushed:
    push_id: str
    bureau_code: str
    seq: int
    status: str
    attempts: int
    receipt_no: str | None
    last_error: str | None
    next_attempt_at: datetime
    acked_at: datetime | None
    payload: str = ""  # what was (or will be) sent: the JSON body, as stored

    @property
    def sent(self) -> dict[str, Any]:
        """The pushed entry (``data`` of the envelope): kind, contract, channel, amount …"""
        try:
            data = json.loads(self.payload).get("data")
        except (ValueError, AttributeError):
            return {}
        return data if isinstance(data, dict) else {}


def push_due(
    engine: Engine,
    link: BureauLink,
    transport: BureauTransport,
    *,
    policy: RetryPolicy | None = None,
    limit: int = 1000,
) -> PushStats:
    """Send what is due, head of each project first, until nothing more is due now."""
    policy = policy or BUREAU_POLICY
    stats = PushStats()
    for _ in range(limit):
        now = engine.clock.now()
        with engine.uow() as uow:
            repo = SqlPresale(uow.conn)
            heads = repo.heads()
            stats.blocked = sum(1 for h in heads if h.status == "dead")
            due = [h for h in heads if h.status == "pending" and h.next_attempt_at <= now]
            job = None
            for head in due:
                if repo.claim(head.id, head.attempts, now + policy.lease):
                    job = head
                    break
            uow.commit()
        if job is None:
            return stats
        attempt = int(job.attempts) + 1
        error, receipt = _send(link, transport, job.push_id, job.payload, now)
        _record(engine, policy, job.id, job.push_id, attempt, error, receipt, stats)
    return stats


def _send(
    link: BureauLink, transport: BureauTransport, ident: str, payload: str, now: datetime
) -> tuple[str | None, str | None]:
    body = payload.encode("utf-8")
    event_type = json.loads(payload)["type"]
    headers = signed_headers(link.secret, ident, event_type, now, body)
    try:
        answer = transport.post(link.url, headers, body)
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}".replace(link.secret, "***")
        return " ".join(text.split())[:300], None
    if not 200 <= answer.status < 300:
        return f"HTTP {answer.status}", None
    try:
        receipt = json.loads(answer.body.decode("utf-8"))["receipt_no"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return f"HTTP {answer.status} without a receipt_no", None
    if not isinstance(receipt, str) or not 0 < len(receipt) <= 64:
        return f"HTTP {answer.status} with an unusable receipt_no", None
    return None, receipt


def _record(
    engine: Engine,
    policy: RetryPolicy,
    push_pk: int,
    ident: str,
    attempt: int,
    error: str | None,
    receipt: str | None,
    stats: PushStats,
) -> None:
    now = engine.clock.now()
    values: dict[str, Any]
    if error is None:
        values = {"status": "acked", "receipt_no": receipt, "acked_at": now, "last_error": None}
    elif policy.gives_up(attempt):
        values = {"status": "dead", "last_error": error}
    else:
        values = {"next_attempt_at": now + policy.delay(attempt, push_pk), "last_error": error}
    with engine.uow() as uow:
        changed = SqlPresale(uow.conn).record(push_pk, attempt, values, acked=error is None)
        uow.commit()
    if not changed:
        log.warning("bureau.stale_result", push_id=ident, attempt=attempt)
    elif error is None:
        stats.acked += 1
        log.info("bureau.acked", push_id=ident, receipt_no=receipt, attempt=attempt)
    elif values.get("status") == "dead":
        stats.dead += 1
        log.error("bureau.dead", push_id=ident, error=error, attempt=attempt)
    else:
        stats.retried += 1
        log.warning("bureau.failed", push_id=ident, error=error, attempt=attempt)


def pushes(
    engine: Engine, bureau_code: str | None = None, status: str | None = None
) -> list[Pushed]:
    with engine.uow() as uow:
        repo = SqlPresale(uow.conn)
        project_pk = None
        if bureau_code is not None:
            project = repo.project(bureau_code)
            if project is None:
                raise NotFound(f"no supervised project with bureau code {bureau_code!r}")
            project_pk = project.id
        rows = repo.pushes(project_pk, status)
    return [
        Pushed(
            r.push_id,
            r.bureau_code,
            int(r.seq),
            r.status,
            int(r.attempts),
            r.receipt_no,
            r.last_error,
            r.next_attempt_at,
            r.acked_at,
            r.payload,
        )
        for r in rows
    ]


def requeue(engine: Engine, ident: str, *, actor: str, reason: str) -> None:
    """Send a dead push again (pending, due now, attempts reset); audited."""
    now = engine.clock.now()
    with engine.uow() as uow:
        repo = SqlPresale(uow.conn)
        if not repo.requeue(ident, now):
            found = [r for r in repo.pushes() if r.push_id == ident]
            if not found:
                raise NotFound(f"push {ident!r} does not exist")
            raise Conflict(f"push {ident} is {found[0].status}, not dead; only dead pushes requeue")
        uow.audit.append(
            actor=actor,
            action="presale.push_requeued",
            target_type="bureau_push",
            target_id=ident,
            reason=reason,
            before={"status": "dead"},
            after={"status": "pending"},
            now=now,
        )
        uow.commit()
