"""``POST /v1/notify/{channel}``: a channel's payment notification, verified by the channel
and confirmed through the engine's one exactly-once path, answered the way the channel
expects (``channel.reply``). A repeat of a notification is answered as accepted again.
Values the database cannot take (a NUL, an amount past the bound) are refused first
(:mod:`.notify_guard`), and a value that still fails in the database is answered as refused
too: its transaction rolled back, so nothing changed."""

from __future__ import annotations

import time

import anyio
import structlog
from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import DataError

from billfold.adapters.http.auth import api_state
from billfold.adapters.http.metrics import CONFIRM_SECONDS, NOTIFICATIONS
from billfold.adapters.http.notify_guard import refuse_unclean_body, refuse_unstorable_event
from billfold.channels.base import Channel
from billfold.channels.collect import Collector
from billfold.channels.verification import NotificationRejected
from billfold.collection.confirming import ConfirmResult
from billfold.errors import BillfoldError, NotFound, SignatureInvalid

__all__ = ["router"]

router = APIRouter(prefix="/v1/notify", tags=["channel notifications"])
log = structlog.get_logger("billfold.http")


def _notify(
    collector: Collector, adapter: Channel, headers: dict[str, str], body: bytes
) -> ConfirmResult | None:
    """``Collector.notify`` with the edge's checks before and after the channel parses."""
    refuse_unclean_body(body)
    event = adapter.parse_notification(headers, body)
    refuse_unstorable_event(event)
    return collector.apply(event)


@router.post(
    "/{channel}",
    summary="A channel's asynchronous notification (signed by the channel, no API key)",
    response_class=Response,
    responses={
        200: {"description": "Accepted, in the channel's own format"},
        204: {"description": "Accepted (channels that expect no body)"},
        400: {"description": "Refused, in the channel's own format"},
    },
)
async def notify(channel: str, request: Request) -> Response:
    return await receive_notification(request)


#: The route that answers notifications: the same path as :func:`notify` (which documents it
#: in the OpenAPI document and is never reached while this route comes first), as a plain
#: Starlette route — a notification has nothing for FastAPI to resolve (no dependencies, no
#: body model, no response model), and resolving that nothing cost more CPU than verifying
#: the signature. :func:`~billfold.adapters.http.app.create_app` adds it before every router.
PATH = "/v1/notify/{channel}"

#: Notifications verified and confirmed at once by one worker process, each in a thread of
#: its own. The rest wait their turn in the event loop: more threads than this only made
#: the worker's threads contend for the GIL and its database connections wait on each
#: other's locks (one biller's confirmations queue on its journal chain head), for more CPU
#: per notification and no more notifications per second.
NOTIFY_THREADS = 4


def _threads(request: Request) -> anyio.CapacityLimiter:
    """The app's limiter of notification threads, made in its event loop on first use."""
    state = request.app.state
    limiter: anyio.CapacityLimiter | None = getattr(state, "notify_threads", None)
    if limiter is None:
        limiter = state.notify_threads = anyio.CapacityLimiter(NOTIFY_THREADS)
    return limiter


async def receive_notification(request: Request) -> Response:
    """Verify and confirm one notification; answer in the channel's own format."""
    channel = request.path_params["channel"]
    collector = api_state(request).collector
    adapter = collector.channels.get(channel)
    if adapter is None:
        raise NotFound(f"channel {channel!r} is not set up here")
    body = await request.body()
    headers = {key: value for key, value in request.headers.items()}
    began = time.perf_counter()
    outcome = "failed"
    try:
        result = await anyio.to_thread.run_sync(
            _notify, collector, adapter, headers, body, limiter=_threads(request)
        )
        CONFIRM_SECONDS.labels(channel).observe(time.perf_counter() - began)
        outcome = "duplicate" if result is not None and result.duplicate else "accepted"
        reply = adapter.reply(True)
        if result is None:  # a payment's is logged by the engine ("payment confirmed"/"repeated")
            log.info("notification accepted", channel=channel)
    except SignatureInvalid as exc:
        reason = exc.reason if isinstance(exc, NotificationRejected) else exc.code
        log.warning("notification rejected", channel=channel, reason=reason, detail=exc.message)
        outcome = "rejected"
        reply = adapter.reply(False, exc.message)
    except BillfoldError as exc:
        log.warning("notification refused", channel=channel, code=exc.code, detail=exc.message)
        outcome = "refused"
        reply = adapter.reply(False, exc.message)
    except DataError:  # a value the database refused: rolled back, nothing changed
        log.warning("notification refused", channel=channel, code="unstorable_value")
        outcome = "refused"
        reply = adapter.reply(False, "a value in the notification cannot be stored")
    except Exception:  # the channel retries; never answer "accepted" for what was not done
        log.exception("notification failed", channel=channel)
        reply = adapter.reply(False, "internal error")
    NOTIFICATIONS.labels(channel, outcome).inc()
    return Response(reply.body, status_code=reply.status_code, media_type=reply.content_type)
