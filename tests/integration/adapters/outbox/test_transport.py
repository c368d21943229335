"""The httpx webhook transport against real sockets on 127.0.0.1."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from billfold.adapters.outbox.transport import HttpxTransport
from billfold.testing.webhooks import RecordingReceiver

HEADERS = {"Content-Type": "application/json", "X-Billfold-Event-Id": "evt-1"}
BODY = '{"id":"evt-1","data":{"payer":"张三"}}'.encode()


@pytest.mark.parametrize("status", [200, 204, 302, 500])
def test_the_receivers_status_comes_back_and_redirects_are_not_followed(status: int) -> None:
    with RecordingReceiver(status=status) as receiver, HttpxTransport(timeout=5) as transport:
        assert transport.send(receiver.url + "hooks?x=1", HEADERS, BODY) == status
    [got] = receiver.received
    assert got.url == receiver.url + "hooks?x=1"
    assert got.body == BODY
    assert got.header("x-billfold-event-id") == "evt-1"
    assert got.header("content-type") == "application/json"


def test_a_refused_connection_raises() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with HttpxTransport(timeout=2) as transport, pytest.raises(httpx.ConnectError):
        transport.send(f"http://127.0.0.1:{port}/", HEADERS, BODY)


def test_a_receiver_that_never_answers_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the handshake completes; nobody ever reads or answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        started = time.monotonic()
        with HttpxTransport(timeout=0.3) as transport, pytest.raises(httpx.TimeoutException):
            transport.send(url, HEADERS, BODY)
    assert time.monotonic() - started < 5


def test_a_non_positive_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="timeout must be positive"):
        HttpxTransport(timeout=0)
