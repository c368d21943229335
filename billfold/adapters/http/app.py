"""The HTTP service: ``create_app(engine, channels)`` builds the FastAPI application.

Routes live in one module per resource; every error is problem+json (``problems``); keys,
scopes and tenancy are dependencies (``auth``); request ids and the body-size limit are
middleware; POSTs that move money take an Idempotency-Key (``idempotency``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fastapi import FastAPI

import billfold
from billfold.adapters.http import (
    access,
    api_docs,
    approvals,
    billers,
    bills,
    cashier,
    cashier_complaints,
    cashier_lookup,
    cashier_receipts,
    complaints,
    console,
    exports,
    health,
    held_credits,
    lists,
    mandates,
    notify,
    orders,
    paying,
    payments,
    reconciliation,
    refund_transfers,
    reversals,
    settlements,
)
from billfold.adapters.http.auth import ApiState
from billfold.adapters.http.middleware import BodyLimit, CleanText, RequestContext
from billfold.adapters.http.problems import install_problem_handlers
from billfold.adapters.http.ratelimit import RateLimit, TokenBuckets
from billfold.channels.base import Channel
from billfold.channels.collect import Collector
from billfold.channels.wallet_routing import WalletRouter
from billfold.clock import Clock
from billfold.engine import Engine

__all__ = ["DEFAULT_MAX_BODY", "create_app"]

DEFAULT_MAX_BODY = 8 * 1024 * 1024  # a large school's bill CSV fits; anything else is tiny

DESCRIPTION = """billfold's HTTP API for billers and the back office.

Authenticate with `Authorization: Bearer bf_…` (an API key per biller, or a back-office key).
Money is a yuan string with at most two decimals (`"12.34"`). Errors are RFC 9457
`application/problem+json` with a stable `code`. POSTs that move money (orders, refunds,
reversals, credits of held payments, reconciliation uploads and resolutions, settlement
approve/pay/confirm) require an `Idempotency-Key` header, and payment starts and new mandates
accept one; a repeat returns the first answer."""


def create_app(
    engine: Engine,
    channels: Mapping[str, Channel] | None = None,
    *,
    clock: Clock | None = None,
    rate_limit: RateLimit | None = None,
    lookup_rate_limit: RateLimit = cashier_lookup.DEFAULT_LOOKUP_LIMIT,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    shared_rate_limit: bool = False,
    bank_app_markers: Iterable[str] = (),
    worker_max_age: float = health.DEFAULT_WORKER_MAX_AGE,
    console_rules: console.SessionRules | None = None,
) -> FastAPI:
    """The API over ``engine``; ``channels`` receive notifications at /v1/notify/{name}.

    ``lookup_rate_limit`` bounds the payer pages' searches per client address.
    ``shared_rate_limit`` keeps each key's (and address's) bucket in the database, so the
    limit holds across several worker processes; otherwise buckets live in this process.
    ``bank_app_markers`` are User-Agent tokens of the banks' own apps (3+ characters each,
    matched case-insensitively): a payer page opened in such an app pays through mobile
    banking when the biller takes it. Raises :class:`~billfold.errors.ConfigurationError`
    for a bad one.
    ``/readyz`` answers 503 when the newest ``billfold worker`` heartbeat is older than
    ``worker_max_age`` seconds (where workers report heartbeats).
    ``console_rules`` set the console's session timeouts and lockout (defaults otherwise)."""
    markers = tuple(bank_app_markers)
    WalletRouter(markers)  # refuses a marker too short to mean one app
    app = FastAPI(
        title="billfold",
        version=billfold.__version__,
        description=DESCRIPTION,
        docs_url=None,  # /docs and /redoc are api_docs', with the assets served here
        redoc_url=None,
    )
    shared = engine if shared_rate_limit else None
    app.state.billfold = ApiState(
        engine=engine,
        collector=Collector(engine, channels or {}),
        clock=clock or engine.clock,
        buckets=TokenBuckets(rate_limit or RateLimit(), clock or engine.clock, shared),
        lookups=TokenBuckets(lookup_rate_limit, clock or engine.clock, shared),
    )
    app.state.bank_app_markers = markers  # read by the payer pages (cashier)
    app.state.worker_max_age = worker_max_age  # read by /readyz
    install_problem_handlers(app)
    # first: channels' notifications, the hot path, matched before any router is searched
    app.router.add_route(
        notify.PATH, notify.receive_notification, methods=["POST"], include_in_schema=False
    )
    for module in (billers, bills, orders, payments, lists, notify):
        app.include_router(module.router)
    for ops in (paying, reversals, held_credits, mandates, reconciliation, settlements, exports):
        app.include_router(ops.router)
    for office in (approvals, access):
        app.include_router(office.router)
    for queue in (refund_transfers, complaints):
        app.include_router(queue.router)
    app.include_router(cashier_lookup.router)  # /pay/lookup: choose the biller first
    app.include_router(cashier.router)  # the payer pages (/pay/…), not in the OpenAPI document
    app.include_router(cashier_complaints.router)  # the payer's complaints (/pay/b/…/complaints)
    app.include_router(cashier_receipts.router)  # a receipt's verification page (/pay/r/…)
    app.include_router(api_docs.router)  # /docs, /redoc and their assets, offline
    app.include_router(health.router)  # /healthz, /readyz, /metrics: the operator's, no key
    console.mount(app, engine, clock or engine.clock, console_rules)  # /console: people log in
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(CleanText)
    app.add_middleware(RequestContext)  # outermost: every answer carries the request id
    return app
