"""BackgroundHttpServer: serves from a thread inside ``with`` and frees its port on exit."""

from __future__ import annotations

import socket

import httpx

from billfold.testing.local_http import BackgroundHttpServer, QuietHandler


class _Echo(QuietHandler):
    def do_GET(self) -> None:
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_answers_inside_the_block_and_refuses_connections_after_it() -> None:
    server = BackgroundHttpServer(_Echo)
    assert server.base_url == f"http://127.0.0.1:{server.port}/"
    with server as entered:
        assert entered is server
        answer = httpx.get(server.base_url + "ping", timeout=5)
        assert (answer.status_code, answer.text) == (200, "/ping")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", server.port)) != 0
