"""How a webhook leaves the building: the transport Protocol and its httpx implementation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import httpx

from billfold.adapters.outbox.httpx_owner import HttpxClientOwner

__all__ = ["HttpxTransport", "WebhookTransport"]


class WebhookTransport(Protocol):
    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
        """POST ``body`` to ``url`` and return the HTTP status code.

        Raise any :class:`Exception` when no status was received (refused, timed out, TLS);
        the dispatcher records it as a failed attempt. Never follow redirects: a 3xx is the
        receiver's answer and counts as a failure.
        """
        ...


class HttpxTransport(HttpxClientOwner):
    """Webhooks over httpx with bounded waits. The response body is never read.

    ``timeout`` bounds each network step (connect, write, each read); the whole request can
    take somewhat longer, which is why the retry lease is minutes, not seconds.
    """

    def __init__(self, timeout: float = 10.0, *, client: httpx.Client | None = None) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        super().__init__(
            client
            or httpx.Client(
                timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                follow_redirects=False,
                headers={"User-Agent": "billfold-webhooks"},
            )
        )

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
        with self._client.stream("POST", url, headers=dict(headers), content=body) as response:
            return response.status_code
