"""A synchronous ``httpx.Client`` over the ASGI app, in process, with no server and no
``starlette.testclient``: requests go through ``httpx.ASGITransport`` on an event loop that
runs in a background thread (an anyio blocking portal). For tests of the HTTP API, and for
code that embeds billfold and wants to call its API without a socket."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import anyio.from_thread
import httpx
from anyio.from_thread import BlockingPortal
from starlette.types import ASGIApp

__all__ = ["asgi_client"]


class _PortalTransport(httpx.BaseTransport):
    def __init__(self, app: ASGIApp, portal: BlockingPortal, peer: tuple[str, int]) -> None:
        # the app's own handlers answer errors with 500 problem+json; never raise to the caller
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=peer)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # the body as bytes, which the async transport can stream as well
        return self._portal.call(self._send, request)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        answer = await self._asgi.handle_async_request(request)
        body = await answer.aread()
        return httpx.Response(
            answer.status_code, headers=answer.headers, content=body, request=request
        )


@contextmanager
def asgi_client(
    app: ASGIApp,
    base_url: str = "http://testserver",
    *,
    peer: tuple[str, int] = ("127.0.0.1", 123),
) -> Iterator[httpx.Client]:
    """``with asgi_client(create_app(engine)) as client: client.get("/v1/billers", …)``;
    the app sees requests come from ``peer`` (address, port)."""
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        httpx.Client(transport=_PortalTransport(app, portal, peer), base_url=base_url) as client,
    ):
        yield client
